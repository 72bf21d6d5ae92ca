#include "conveyor/events/run.hpp"

#include <functional>
#include <map>
#include <set>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "sample_run.hpp"
#include "schema_validation.hpp"

namespace conveyor::events {
namespace {

using nlohmann::json;
using test::full_slip;
using test::sample_run;

namespace fs = std::filesystem;

fs::path events_schemas() { return fs::path(conveyor::testing::source_dir()) / "schemas" / "events"; }

std::vector<std::string> validate_request(const json& body) {
  return conveyor::testing::validate_file(events_schemas() / "stage-request.schema.json", body);
}

std::vector<std::string> validate_run(const json& body) {
  return conveyor::testing::validate_file(events_schemas() / "run-context.schema.json", body);
}

std::string joined(const std::vector<std::string>& errors) {
  std::string out;
  for (const auto& e : errors) out += e + "\n";
  return out;
}

TEST(RunIds, RequestIdTopicAndPartitionKey) {
  EXPECT_EQ(request_id("5f0c", "build"), "5f0c:build");
  EXPECT_EQ(stage_topic("deploy"), "conveyor.stage.deploy");
  EXPECT_EQ(stage_topic("test", "ci"), "ci.stage.test");
  EXPECT_EQ(partition_key("imprun/imprun.dev"), "imprun/imprun.dev");
  EXPECT_EQ(partition_key("imprun/imprun.dev", "production"), "imprun/imprun.dev@production");
}

TEST(Slip, FirstRequestTakesTheFirstStageAndKeepsTheRest) {
  const auto stages = full_slip();
  const StageRequest r = first_request(sample_run(), stages);
  EXPECT_EQ(r.stage, "test");
  EXPECT_EQ(r.id, sample_run().run_id + ":test");
  EXPECT_EQ(r.settings, stages[0].settings);
  EXPECT_EQ(r.run.sha, sample_run().sha);
  ASSERT_EQ(r.slip.size(), 5u);
  EXPECT_EQ(r.slip.front().stage, "version");
  EXPECT_EQ(r.slip.back().stage, "verify");
  EXPECT_EQ(r.slip[3].settings, stages[4].settings);
}

TEST(Slip, FirstRequestOfASingleStageHasAnEmptySlip) {
  const StageRequest r = first_request(sample_run(), {{"test", json::object()}});
  EXPECT_EQ(r.stage, "test");
  EXPECT_TRUE(r.slip.empty());
}

TEST(Slip, FirstRequestWithoutStagesIsACallerBug) {
  EXPECT_THROW((void)first_request(sample_run(), {}), std::invalid_argument);
}

TEST(Slip, NextRequestMergesOutputsAndPopsTheSlip) {
  const StageRequest test = first_request(sample_run(), full_slip());
  auto version = next_request(test, json{{"junit", {{"passed", 12}, {"failed", 0}}}});
  ASSERT_TRUE(version.ok()) << version.error().message;
  EXPECT_EQ(version->stage, "version");
  EXPECT_EQ(version->id, sample_run().run_id + ":version");
  EXPECT_EQ(version->settings, full_slip()[1].settings);
  EXPECT_EQ(version->slip.size(), 4u);
  EXPECT_EQ(version->run.outputs["test"]["junit"]["passed"], 12);

  auto build = next_request(*version, json{{"version", "1.4.0"}, {"tag", "v1.4.0"}});
  ASSERT_TRUE(build.ok());
  EXPECT_EQ(build->stage, "build");
  EXPECT_EQ(build->run.outputs["version"]["version"], "1.4.0");
  EXPECT_EQ(build->run.outputs["test"]["junit"]["failed"], 0);  // earlier outputs are kept
  EXPECT_EQ(build->slip.size(), 3u);
}

TEST(Slip, NextRequestMergesIntoOutputsAlreadyRecordedForTheStage) {
  StageRequest done = first_request(sample_run(), full_slip());
  done.run.outputs["test"] = {{"attempt", 1}, {"keep", true}};
  auto next = next_request(done, json{{"attempt", 2}});
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->run.outputs["test"], (json{{"attempt", 2}, {"keep", true}}));
}

TEST(Slip, NextRequestAcceptsNullOutputs) {
  auto next = next_request(first_request(sample_run(), full_slip()), nullptr);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->run.outputs["test"], json::object());
}

TEST(Slip, NextRequestRejectsNonObjectOutputs) {
  auto next = next_request(first_request(sample_run(), full_slip()), json::array({1, 2}));
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.error().code, Errc::invalid_argument);
  EXPECT_NE(next.error().message.find("test"), std::string::npos);
}

TEST(Slip, WalkingTheWholeSlipVisitsEveryStageThenReportsCompletion) {
  StageRequest r = first_request(sample_run(), full_slip());
  std::vector<std::string> visited{r.stage};
  for (;;) {
    auto next = next_request(r, json{{"done", r.stage}});
    if (!next.ok()) {
      EXPECT_EQ(next.error().code, Errc::not_found);
      break;
    }
    r = std::move(next).value();
    visited.push_back(r.stage);
    ASSERT_LE(visited.size(), 6u);
  }
  EXPECT_EQ(visited, (std::vector<std::string>{"test", "version", "build", "helm", "deploy", "verify"}));
  EXPECT_EQ(r.run.outputs.size(), 5u);  // the last stage's outputs are not part of any request
  EXPECT_EQ(r.run.outputs["deploy"]["done"], "deploy");
}

TEST(PartitionKey, DeployAndVerifyIncludeTheEnvironment) {
  StageRequest r = first_request(sample_run(), full_slip());
  EXPECT_EQ(request_partition_key(r), "imprun/imprun.dev");  // test
  r.settings["environment"] = "production";                  // ignored outside deploy/verify
  EXPECT_EQ(request_partition_key(r), "imprun/imprun.dev");

  StageRequest deploy = r;
  deploy.stage = "deploy";
  deploy.settings = {{"environment", "production"}};
  EXPECT_EQ(request_partition_key(deploy), "imprun/imprun.dev@production");
  deploy.settings = json::object();
  EXPECT_EQ(request_partition_key(deploy), "imprun/imprun.dev");

  StageRequest verify = r;
  verify.stage = "verify";
  verify.settings = {{"environment", "staging"}};
  EXPECT_EQ(request_partition_key(verify), "imprun/imprun.dev@staging");
  verify.settings = {{"settle", "30s"}};
  verify.run.outputs["deploy"] = {{"environment", "production"}};
  EXPECT_EQ(request_partition_key(verify), "imprun/imprun.dev@production");
}

TEST(PartitionKey, FollowsTheSlipIntoDeployAndVerify) {
  StageRequest r = first_request(sample_run(), full_slip());
  std::map<std::string, std::string> keys;
  for (;;) {
    keys[r.stage] = to_kafka(r).key;
    json outputs = r.stage == "deploy" ? json{{"environment", "production"}, {"revision", 7}} : json::object();
    auto next = next_request(r, outputs);
    if (!next.ok()) break;
    r = std::move(next).value();
  }
  EXPECT_EQ(keys["test"], "imprun/imprun.dev");
  EXPECT_EQ(keys["helm"], "imprun/imprun.dev");
  EXPECT_EQ(keys["deploy"], "imprun/imprun.dev@production");
  EXPECT_EQ(keys["verify"], "imprun/imprun.dev@production");
}

TEST(RunJson, FieldNamesAreLowerSnakeCase) {
  const json j = to_json(sample_run());
  std::set<std::string> names;
  for (const auto& [k, v] : j.items()) names.insert(k);
  EXPECT_EQ(names, (std::set<std::string>{"run_id", "pipeline", "repository", "clone_url", "trigger", "ref", "ref_kind",
                                          "ref_name", "sha", "before_sha", "pull_request", "delivery_id", "sender",
                                          "head_message", "traceparent", "queued_at", "outputs"}));
  EXPECT_EQ(j["pull_request"], 0);
  EXPECT_EQ(j["head_message"], sample_run().head_message);
}

TEST(RunJson, RoundTrip) {
  RunContext run = sample_run();
  run.trigger = "pull_request";
  run.pull_request = 42;
  run.outputs = {{"version", {{"version", "2.0.0"}}}};
  auto back = run_from_json(to_json(run));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(to_json(*back), to_json(run));
  EXPECT_EQ(back->pull_request, 42);
  EXPECT_EQ(back->outputs["version"]["version"], "2.0.0");
}

TEST(RunJson, OptionalFieldsDefaultAndUnknownFieldsAreIgnored) {
  json j = to_json(sample_run());
  for (const char* optional : {"before_sha", "pull_request", "delivery_id", "sender", "head_message", "traceparent",
                               "queued_at", "outputs"}) {
    j.erase(optional);
  }
  j["from_the_future"] = true;
  auto run = run_from_json(j);
  ASSERT_TRUE(run.ok()) << run.error().message;
  EXPECT_EQ(run->pull_request, 0);
  EXPECT_EQ(run->traceparent, "");
  EXPECT_EQ(run->outputs, json::object());
  j["sender"] = nullptr;  // null optional = absent
  EXPECT_TRUE(run_from_json(j).ok());
}

class RunRequiredField : public ::testing::TestWithParam<std::string> {};

TEST_P(RunRequiredField, MissingIsNamedAndTheSchemaAgrees) {
  json j = to_json(sample_run());
  j.erase(GetParam());
  auto run = run_from_json(j);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.error().code, Errc::invalid_argument);
  EXPECT_NE(run.error().message.find("'" + GetParam() + "' is missing"), std::string::npos) << run.error().message;
  EXPECT_FALSE(validate_run(j).empty()) << "schema accepts a run without " << GetParam();
}

TEST_P(RunRequiredField, EmptyIsRejected) {
  json j = to_json(sample_run());
  j[GetParam()] = "";
  auto run = run_from_json(j);
  ASSERT_FALSE(run.ok());
  EXPECT_NE(run.error().message.find("'" + GetParam() + "'"), std::string::npos) << run.error().message;
  EXPECT_FALSE(validate_run(j).empty()) << "schema accepts an empty " << GetParam();
}

TEST_P(RunRequiredField, NestedInARequestThePathIsNamed) {
  json j = to_json(first_request(sample_run(), full_slip()));
  j["run"].erase(GetParam());
  auto r = request_from_json(j);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("'run." + GetParam() + "' is missing"), std::string::npos) << r.error().message;
  EXPECT_FALSE(validate_request(j).empty());
}

INSTANTIATE_TEST_SUITE_P(Fields, RunRequiredField,
                         ::testing::Values("run_id", "pipeline", "repository", "clone_url", "trigger", "ref", "ref_kind",
                                           "ref_name", "sha"));

struct BadValue {
  std::string field;
  json value;
  std::string expect;  // in the message
};

void PrintTo(const BadValue& b, std::ostream* os) { *os << b.field << " = " << b.value.dump(); }

class RunBadValue : public ::testing::TestWithParam<BadValue> {};

TEST_P(RunBadValue, IsRejectedWithTheFieldNameAndTheSchemaAgrees) {
  const BadValue& bad = GetParam();
  json j = to_json(sample_run());
  j[bad.field] = bad.value;
  auto run = run_from_json(j);
  ASSERT_FALSE(run.ok()) << bad.field << " = " << bad.value;
  EXPECT_EQ(run.error().code, Errc::invalid_argument);
  EXPECT_NE(run.error().message.find("'" + bad.field + "'"), std::string::npos) << run.error().message;
  EXPECT_NE(run.error().message.find(bad.expect), std::string::npos) << run.error().message;
  EXPECT_FALSE(validate_run(j).empty()) << "schema accepts " << bad.field << " = " << bad.value;
}

INSTANTIATE_TEST_SUITE_P(
    Values, RunBadValue,
    ::testing::Values(BadValue{"sha", 12345, "must be a string (got number)"},
                      BadValue{"sha", "abc123", "hex commit id"},
                      BadValue{"sha", "0D1A26E67D8F5EAF1F6BA5C57FC3C7D91AC0FD1C", "hex commit id"},
                      BadValue{"sha", nullptr, "must be a string (got null)"},
                      BadValue{"before_sha", "main", "hex commit id"},
                      BadValue{"repository", "no-slash", "owner/repo"},
                      BadValue{"repository", "a/b c", "owner/repo"},
                      BadValue{"pull_request", "42", "must be an integer (got string)"},
                      BadValue{"pull_request", -1, "between 0 and"},
                      BadValue{"pull_request", 1.5, "must be an integer"},
                      BadValue{"traceparent", "trace-me", "traceparent"},
                      BadValue{"queued_at", "yesterday", "RFC 3339"},
                      BadValue{"outputs", json::array(), "must be an object (got array)"},
                      BadValue{"head_message", json::object(), "must be a string (got object)"}),
    [](const auto& info) { return info.param.field + "_" + std::to_string(info.index); });

TEST(RunJson, OutputsOfAStageMustBeObjects) {
  json j = to_json(sample_run());
  j["outputs"] = {{"version", "1.0.0"}};
  auto run = run_from_json(j);
  ASSERT_FALSE(run.ok());
  EXPECT_NE(run.error().message.find("'outputs.version'"), std::string::npos) << run.error().message;
  EXPECT_FALSE(validate_run(j).empty());
}

TEST(RunJson, NotAnObject) {
  auto run = run_from_json(json::array());
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.error().code, Errc::invalid_argument);
  auto req = request_from_json("text");
  ASSERT_FALSE(req.ok());
  EXPECT_NE(req.error().message.find("must be an object (got string)"), std::string::npos);
}

TEST(RequestJson, RoundTripAndShape) {
  const StageRequest r = first_request(sample_run(), full_slip());
  const json j = to_json(r);
  std::set<std::string> names;
  for (const auto& [k, v] : j.items()) names.insert(k);
  EXPECT_EQ(names, (std::set<std::string>{"id", "stage", "settings", "run", "slip"}));
  EXPECT_EQ(j["slip"][0], (json{{"stage", "version"}, {"settings", {{"tag-prefix", "v"}}}}));
  auto back = request_from_json(j);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(to_json(*back), j);
}

TEST(RequestJson, SlipAndSettingsMayBeAbsent) {
  json j = to_json(first_request(sample_run(), {{"test", json::object()}}));
  j.erase("slip");
  j.erase("settings");
  auto r = request_from_json(j);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->slip.empty());
  EXPECT_EQ(r->settings, json::object());
}

TEST(RequestJson, ErrorsNameTheField) {
  const json good = to_json(first_request(sample_run(), full_slip()));
  struct Case {
    std::function<void(json&)> mutate;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {[](json& j) { j.erase("id"); }, "'id' is missing"},
      {[](json& j) { j.erase("stage"); }, "'stage' is missing"},
      {[](json& j) { j["stage"] = "Deploy Now"; }, "'stage' must be a stage name"},
      {[](json& j) { j["stage"] = 3; }, "'stage' must be a string (got number)"},
      {[](json& j) { j.erase("run"); }, "'run' is missing"},
      {[](json& j) { j["run"] = "x"; }, "'run' must be an object (got string)"},
      {[](json& j) { j["settings"] = json::array(); }, "'settings' must be an object (got array)"},
      {[](json& j) { j["slip"] = json::object(); }, "'slip' must be an array (got object)"},
      {[](json& j) { j["slip"][1].erase("stage"); }, "'slip[1].stage' is missing"},
      {[](json& j) { j["slip"][2] = 7; }, "'slip[2]' must be an object (got number)"},
      {[](json& j) { j["slip"][0]["settings"] = "x"; }, "'slip[0].settings' must be an object (got string)"},
      {[](json& j) { j["run"]["pull_request"] = "1"; }, "'run.pull_request' must be an integer"},
  };
  for (const auto& c : cases) {
    json j = good;
    c.mutate(j);
    auto r = request_from_json(j);
    ASSERT_FALSE(r.ok()) << c.expect;
    EXPECT_EQ(r.error().code, Errc::invalid_argument);
    EXPECT_NE(r.error().message.find(c.expect), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().message.rfind("stage request: ", 0), 0u) << r.error().message;
    EXPECT_FALSE(validate_request(j).empty()) << "schema accepts: " << c.expect;
  }
}

TEST(RequestKafka, CloudEventEncoding) {
  const StageRequest r = first_request(sample_run(), full_slip());
  const KafkaRecord rec = to_kafka(r);
  EXPECT_EQ(rec.topic, "conveyor.stage.test");
  EXPECT_EQ(rec.key, "imprun/imprun.dev");
  ASSERT_NE(rec.header("ce_type"), nullptr);
  EXPECT_EQ(*rec.header("ce_type"), "dev.conveyor.stage.requested.0.1.0");
  EXPECT_EQ(*rec.header("ce_specversion"), "1.0");
  EXPECT_EQ(*rec.header("ce_id"), r.id);
  EXPECT_EQ(*rec.header("ce_subject"), r.id);
  EXPECT_EQ(*rec.header("ce_source"), "/conveyor");
  EXPECT_EQ(*rec.header("ce_partitionkey"), rec.key);
  EXPECT_EQ(*rec.header("ce_runid"), r.run.run_id);
  EXPECT_EQ(*rec.header("ce_traceparent"), r.run.traceparent);
  EXPECT_EQ(*rec.header("content-type"), "application/json");
  ASSERT_NE(rec.header("ce_time"), nullptr);
  EXPECT_EQ(json::parse(rec.value), to_json(r));
  EXPECT_EQ(to_kafka(r, "ci").topic, "ci.stage.test");
}

TEST(RequestKafka, NoTraceparentHeaderWithoutOne) {
  RunContext run = sample_run();
  run.traceparent.clear();
  const KafkaRecord rec = to_kafka(first_request(run, full_slip()));
  EXPECT_EQ(rec.header("ce_traceparent"), nullptr);
}

TEST(RequestKafka, RoundTrip) {
  auto next = next_request(first_request(sample_run(), full_slip()), json{{"passed", true}});
  ASSERT_TRUE(next.ok());
  auto back = request_from_kafka(to_kafka(*next));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(to_json(*back), to_json(*next));
}

TEST(RequestKafka, RejectsOtherTypesBadBodiesAndMismatchedIds) {
  const KafkaRecord good = to_kafka(first_request(sample_run(), full_slip()));
  auto with_header = [&](const std::string& name, const std::string& value) {
    KafkaRecord r = good;
    for (auto& h : r.headers) {
      if (h.first == name) h.second = value;
    }
    return r;
  };
  auto other_type = request_from_kafka(with_header("ce_type", "dev.cdevents.pipelinerun.queued.0.3.0"));
  ASSERT_FALSE(other_type.ok());
  EXPECT_NE(other_type.error().message.find("not a stage request"), std::string::npos);

  auto other_id = request_from_kafka(with_header("ce_id", "someone-else:test"));
  ASSERT_FALSE(other_id.ok());
  EXPECT_NE(other_id.error().message.find("differs"), std::string::npos);

  auto xml = request_from_kafka(with_header("content-type", "application/xml"));
  ASSERT_FALSE(xml.ok());

  KafkaRecord garbage = good;
  garbage.value = "{not json";
  auto bad_json = request_from_kafka(garbage);
  ASSERT_FALSE(bad_json.ok());
  EXPECT_NE(bad_json.error().message.find("not valid JSON"), std::string::npos);

  KafkaRecord no_sha = good;
  json body = json::parse(no_sha.value);
  body["run"].erase("sha");
  no_sha.value = body.dump();
  auto missing = request_from_kafka(no_sha);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("'run.sha'"), std::string::npos);

  KafkaRecord no_id = good;
  std::erase_if(no_id.headers, [](const auto& h) { return h.first == "ce_id"; });
  EXPECT_FALSE(request_from_kafka(no_id).ok());
}

TEST(RequestSchema, EveryRequestOfARunValidates) {
  StageRequest r = first_request(sample_run(), full_slip());
  int validated = 0;
  for (;;) {
    const auto errors = validate_request(json::parse(to_kafka(r).value));
    EXPECT_TRUE(errors.empty()) << r.stage << ":\n" << joined(errors);
    ++validated;
    auto next = next_request(r, json{{"stage", r.stage}});
    if (!next.ok()) break;
    r = std::move(next).value();
  }
  EXPECT_EQ(validated, 6);
}

TEST(RequestSchema, RunWithOnlyRequiredFieldsValidates) {
  json j = to_json(sample_run());
  for (const char* optional : {"before_sha", "pull_request", "delivery_id", "sender", "head_message", "traceparent",
                               "queued_at", "outputs"}) {
    j.erase(optional);
  }
  EXPECT_TRUE(validate_run(j).empty()) << joined(validate_run(j));
  RunContext empty_optionals = sample_run();
  empty_optionals.before_sha.clear();
  empty_optionals.traceparent.clear();
  empty_optionals.queued_at.clear();
  EXPECT_TRUE(validate_run(to_json(empty_optionals)).empty()) << joined(validate_run(to_json(empty_optionals)));
}

TEST(RequestSchema, UnknownStagesAndFieldsAreRejected) {
  json j = to_json(first_request(sample_run(), full_slip()));
  j["stage"] = "lint";
  EXPECT_FALSE(validate_request(j).empty());
  j = to_json(first_request(sample_run(), full_slip()));
  j["extra"] = 1;
  EXPECT_FALSE(validate_request(j).empty());
  j = to_json(first_request(sample_run(), full_slip()));
  j["run"]["extra"] = 1;
  EXPECT_FALSE(validate_request(j).empty());
}

}  // namespace
}  // namespace conveyor::events
