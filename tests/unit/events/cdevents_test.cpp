#include "conveyor/events/cdevents.hpp"

#include <algorithm>
#include <filesystem>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "sample_run.hpp"
#include "schema_validation.hpp"

namespace conveyor::events {
namespace {

using nlohmann::json;
using test::sample_run;

namespace fs = std::filesystem;

fs::path cdevents_schemas() { return fs::path(conveyor::testing::shared_dir()) / "cdevents-v0.5.1" / "schemas"; }
fs::path envelope_schema() {
  return fs::path(conveyor::testing::source_dir()) / "schemas" / "events" / "cdevent-envelope.schema.json";
}
fs::path conveyor_event_schema() {
  return fs::path(conveyor::testing::source_dir()) / "schemas" / "events" / "conveyor-event.schema.json";
}

// "dev.cdevents.pipelinerun.queued.0.3.0" -> schemas/pipelinerunqueued.json
fs::path official_schema_for(const std::string& type) {
  static const std::regex re(R"(^dev\.cdevents\.([a-z]+)\.([a-z]+)\.\d+\.\d+\.\d+$)");
  std::smatch m;
  if (!std::regex_match(type, m, re)) throw std::invalid_argument("not a CDEvents type: " + type);
  return cdevents_schemas() / (m[1].str() + m[2].str() + ".json");
}

std::string joined(const std::vector<std::string>& errors) {
  std::string out;
  for (const auto& e : errors) out += "  " + e + "\n";
  return out;
}

const std::regex kUuid("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
const std::regex kTimestamp(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$)");

TEST(CDEventTypes, ShortNamesMapToV051Versions) {
  EXPECT_EQ(cdevent_type("pipelinerun.queued").value(), "dev.cdevents.pipelinerun.queued.0.3.0");
  EXPECT_EQ(cdevent_type("change.created").value(), "dev.cdevents.change.created.0.4.0");
  EXPECT_EQ(cdevent_type("artifact.deleted").value(), "dev.cdevents.artifact.deleted.0.2.0");
  EXPECT_EQ(cdevent_type("ticket.closed").value(), "dev.cdevents.ticket.closed.0.2.0");
  for (const char* unknown : {"pipelinerun.exploded", "", "pipelinerun", "dev.cdevents.pipelinerun.queued.0.3.0",
                              "Pipelinerun.Queued", "version.tagged"}) {
    auto type = cdevent_type(unknown);
    ASSERT_FALSE(type.ok()) << unknown;
    EXPECT_EQ(type.error().code, Errc::not_found);
  }
}

// The hard-coded table is checked against the official schemas: one entry per
// schema, and each full type is the one its schema's context.type enum allows.
TEST(CDEventTypes, TableMatchesEveryOfficialSchema) {
  std::set<std::string> schema_files;
  for (const auto& entry : fs::directory_iterator(cdevents_schemas())) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") schema_files.insert(entry.path().filename());
  }
  ASSERT_EQ(schema_files.size(), 45u) << "the shared CDEvents v0.5.1 schemas are missing or changed";
  const auto& table = cdevent_type_versions();
  EXPECT_EQ(table.size(), schema_files.size());
  EXPECT_TRUE(std::is_sorted(table.begin(), table.end()));
  std::set<std::string> covered;
  for (const auto& [short_name, version] : table) {
    const std::string type = cdevent_type(std::string(short_name)).value();
    const fs::path schema_file = official_schema_for(type);
    ASSERT_TRUE(fs::exists(schema_file)) << schema_file;
    const json schema = conveyor::testing::load_json(schema_file);
    EXPECT_EQ(schema["properties"]["context"]["properties"]["type"]["enum"], json::array({type})) << short_name;
    // No schema requires subject.type, so make_cdevent never sets it.
    const json& subject_required = schema["properties"]["subject"]["required"];
    EXPECT_EQ(std::count(subject_required.begin(), subject_required.end(), "type"), 0) << short_name;
    covered.insert(schema_file.filename());
  }
  EXPECT_EQ(covered, schema_files);
}

TEST(CDEventTypes, Topic) {
  EXPECT_EQ(events_topic(), "conveyor.events");
  EXPECT_EQ(events_topic("ci"), "ci.events");
}

TEST(MakeCDEvent, ContextAndSubject) {
  const RunContext run = sample_run();
  const json e = make_cdevent("dev.cdevents.build.started.0.3.0", "/conveyor/image-builder", run,
                              Subject{"build-1", "", json::object()});
  const json& c = e["context"];
  EXPECT_EQ(c["specversion"], "0.5.1");
  EXPECT_TRUE(std::regex_match(c["id"].get<std::string>(), kUuid)) << c["id"];
  EXPECT_EQ(c["source"], "/conveyor/image-builder");
  EXPECT_EQ(c["type"], "dev.cdevents.build.started.0.3.0");
  EXPECT_TRUE(std::regex_match(c["timestamp"].get<std::string>(), kTimestamp)) << c["timestamp"];
  EXPECT_EQ(c["chainId"], run.run_id);
  EXPECT_EQ(e["subject"], (json{{"id", "build-1"}, {"source", "/conveyor/image-builder"}, {"content", json::object()}}));
  EXPECT_FALSE(e.contains("customData"));
  EXPECT_FALSE(e["subject"].contains("type"));
}

TEST(MakeCDEvent, EventIdsAreFreshAndSubjectSourceAndCustomDataAreKept) {
  const RunContext run = sample_run();
  const json a = make_cdevent("dev.cdevents.build.started.0.3.0", "/s", run, Subject{"x", "/other", {}},
                              json{{"attempt", 2}});
  const json b = make_cdevent("dev.cdevents.build.started.0.3.0", "/s", run, Subject{"x", "", {}});
  EXPECT_NE(a["context"]["id"], b["context"]["id"]);
  EXPECT_EQ(a["subject"]["source"], "/other");
  EXPECT_EQ(a["subject"]["content"], json::object());  // null content becomes {}
  EXPECT_EQ(a["customData"], (json{{"attempt", 2}}));
  EXPECT_EQ(a["customDataContentType"], "application/json");
  EXPECT_TRUE(conveyor::testing::validate_file(official_schema_for("dev.cdevents.build.started.0.3.0"), a).empty());
}

// One built event per helper (and per shape variant), each checked against
// its official schema and conveyor's envelope.
struct Built {
  std::string name;
  std::string short_type;
  std::function<json()> build;
};

std::vector<Built> built_events() {
  const std::string src = "/conveyor/test";
  const RunContext run = sample_run();
  const std::string task = run.run_id + ":test";
  const TestSuiteRun suite{run.run_id + ":test:unit", "server unit tests", "Server unit tests", "conveyor-test-runner"};
  const TestSuiteRun bare{run.run_id + ":test:e2e", "e2e", "", "ci"};
  const std::string image = oci_purl("registry.example.com/imprun/imprun-server",
                                     "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270", "1.4.0");
  return {
      {"pipelinerun_queued", "pipelinerun.queued", [=] { return pipelinerun_queued(run, "/conveyor/webhook"); }},
      {"pipelinerun_started", "pipelinerun.started", [=] { return pipelinerun_started(run, src); }},
      {"pipelinerun_finished_success", "pipelinerun.finished", [=] { return pipelinerun_finished(run, src, "success"); }},
      {"pipelinerun_finished_failure", "pipelinerun.finished",
       [=] { return pipelinerun_finished(run, src, "failure", "verify: 5xx rate 0.04 > 0.01"); }},
      {"pipelinerun_finished_cancel", "pipelinerun.finished", [=] { return pipelinerun_finished(run, src, "cancel"); }},
      {"pipelinerun_finished_error", "pipelinerun.finished", [=] { return pipelinerun_finished(run, src, "error", "x"); }},
      {"taskrun_started", "taskrun.started", [=] { return taskrun_started(run, src, "test", task); }},
      {"taskrun_finished", "taskrun.finished", [=] { return taskrun_finished(run, src, "test", task, "success"); }},
      {"taskrun_finished_errors", "taskrun.finished",
       [=] { return taskrun_finished(run, src, "test", task, "failure", "2 tests failed"); }},
      {"testsuiterun_started", "testsuiterun.started", [=] { return testsuiterun_started(run, src, suite); }},
      {"testsuiterun_started_bare", "testsuiterun.started", [=] { return testsuiterun_started(run, src, bare); }},
      {"testsuiterun_finished", "testsuiterun.finished",
       [=] { return testsuiterun_finished(run, src, suite, "success"); }},
      {"testsuiterun_finished_failed", "testsuiterun.finished",
       [=] { return testsuiterun_finished(run, src, suite, "failure", "3 of 120 failed", "high"); }},
      {"build_started", "build.started", [=] { return build_started(run, src, run.run_id + ":build:server"); }},
      {"build_finished", "build.finished",
       [=] { return build_finished(run, src, run.run_id + ":build:server", image); }},
      {"build_finished_failed", "build.finished",
       [=] { return build_finished(run, src, run.run_id + ":build:server", ""); }},
      {"artifact_packaged", "artifact.packaged", [=] { return artifact_packaged(run, src, image); }},
      {"artifact_published", "artifact.published", [=] { return artifact_published(run, src, image); }},
      {"artifact_published_user", "artifact.published", [=] { return artifact_published(run, src, image, "conveyor"); }},
      {"service_deployed", "service.deployed",
       [=] { return service_deployed(run, src, "imprun-system/imprun", "production", image); }},
      {"service_upgraded", "service.upgraded",
       [=] { return service_upgraded(run, src, "imprun-system/imprun", "production", image); }},
      {"service_rolledback", "service.rolledback",
       [=] { return service_rolledback(run, src, "imprun-system/imprun", "production", image); }},
      {"incident_detected", "incident.detected",
       [=] {
         return incident_detected(run, src, run.run_id + ":verify", "production", "liveness failed 5/5",
                                  "imprun-system/imprun", image);
       }},
      {"incident_detected_minimal", "incident.detected",
       [=] { return incident_detected(run, src, run.run_id + ":verify", "production", ""); }},
      {"change_merged", "change.merged",
       [=] { return change_merged(run, src, "3f786850e387550fdab836ed7e6dc881de23001b", "imprun/gitops"); }},
  };
}

void PrintTo(const Built& b, std::ostream* os) { *os << b.name; }

class HelperEvent : public ::testing::TestWithParam<Built> {};

TEST_P(HelperEvent, ValidatesAgainstOfficialSchemaAndEnvelope) {
  const Built& b = GetParam();
  const json event = b.build();
  const std::string type = cdevent_type(b.short_type).value();
  EXPECT_EQ(event["context"]["type"], type);
  EXPECT_EQ(event["context"]["chainId"], sample_run().run_id);
  const auto official = conveyor::testing::validate_file(official_schema_for(type), event);
  EXPECT_TRUE(official.empty()) << event.dump(2) << "\n" << joined(official);
  const auto envelope = conveyor::testing::validate_file(envelope_schema(), event);
  EXPECT_TRUE(envelope.empty()) << joined(envelope);
  // and it is not mistaken for a conveyor custom event
  EXPECT_FALSE(conveyor::testing::validate_file(conveyor_event_schema(), event).empty());
}

INSTANTIATE_TEST_SUITE_P(All, HelperEvent, ::testing::ValuesIn(built_events()),
                         [](const auto& info) { return info.param.name; });

TEST(HelperEvents, CoverEveryEventConveyorEmits) {
  std::set<std::string> types;
  for (const auto& b : built_events()) types.insert(b.short_type);
  for (const char* t : {"pipelinerun.queued", "pipelinerun.started", "pipelinerun.finished", "taskrun.started",
                        "taskrun.finished", "testsuiterun.started", "testsuiterun.finished", "build.started",
                        "build.finished", "artifact.packaged", "artifact.published", "change.merged",
                        "service.deployed", "service.upgraded", "service.rolledback", "incident.detected"}) {
    EXPECT_TRUE(types.count(t)) << t;
  }
}

TEST(HelperEvents, PipelineRunContent) {
  const RunContext run = sample_run();
  const json queued = pipelinerun_queued(run, "/conveyor/webhook");
  EXPECT_EQ(queued["subject"]["id"], run.run_id);
  EXPECT_EQ(queued["subject"]["source"], "/conveyor/webhook");
  EXPECT_EQ(queued["subject"]["content"], (json{{"pipelineName", "imprun"}, {"uri", "urn:uuid:" + run.run_id}}));
  const json ok = pipelinerun_finished(run, "/s", "success");
  EXPECT_EQ(ok["subject"]["content"]["outcome"], "success");
  EXPECT_FALSE(ok["subject"]["content"].contains("errors"));
  const json failed = pipelinerun_finished(run, "/s", "failure", "deploy timed out");
  EXPECT_EQ(failed["subject"]["content"]["errors"], "deploy timed out");
}

TEST(HelperEvents, ContentDetails) {
  const RunContext run = sample_run();
  const json task = taskrun_finished(run, "/s", "build", "r:build", "failure", "exit 1");
  EXPECT_EQ(task["subject"]["content"],
            (json{{"taskName", "build"}, {"pipelineRun", {{"id", run.run_id}}}, {"outcome", "failure"}, {"errors", "exit 1"}}));
  const json packaged = artifact_packaged(run, "/s", "pkg:oci/x@sha256%3Aab?repository_url=r/x");
  EXPECT_EQ(packaged["subject"]["content"]["change"],
            (json{{"id", run.sha}, {"source", "https://github.com/imprun/imprun.dev"}}));
  const json deployed = service_deployed(run, "/s", "ns/rel", "production", "pkg:oci/x");
  EXPECT_EQ(deployed["subject"]["content"], (json{{"environment", {{"id", "production"}}}, {"artifactId", "pkg:oci/x"}}));
  const json suite = testsuiterun_started(run, "/s", TestSuiteRun{"s1", "unit", "", "env"});
  EXPECT_EQ(suite["subject"]["content"]["trigger"]["type"], "pipeline");
  EXPECT_FALSE(suite["subject"]["content"]["testSuite"].contains("name"));
}

TEST(HelperEvents, RepositoryUrlNeverCarriesCredentials) {
  RunContext run = sample_run();
  run.clone_url = "https://x-access-token:s3cr3t@github.example.com/imprun/imprun.dev.git";
  const json packaged = artifact_packaged(run, "/s", "pkg:oci/x");
  EXPECT_EQ(packaged["subject"]["content"]["change"]["source"], "https://github.example.com/imprun/imprun.dev");
  EXPECT_EQ(packaged.dump().find("s3cr3t"), std::string::npos);
  run.clone_url = "git@github.com:imprun/imprun.dev.git";
  EXPECT_EQ(artifact_packaged(run, "/s", "pkg:oci/x")["subject"]["content"]["change"]["source"], "imprun/imprun.dev");
}

TEST(HelperEvents, InvalidArgumentsAreCallerBugs) {
  const RunContext run = sample_run();
  EXPECT_THROW(pipelinerun_finished(run, "/s", "succeeded"), std::invalid_argument);
  EXPECT_THROW(taskrun_finished(run, "/s", "t", "id", "ok"), std::invalid_argument);
  EXPECT_THROW(taskrun_started(run, "/s", "t", ""), std::invalid_argument);
  EXPECT_THROW(testsuiterun_started(run, "/s", TestSuiteRun{"id", "suite", "", ""}), std::invalid_argument);
  EXPECT_THROW(testsuiterun_finished(run, "/s", TestSuiteRun{"id", "suite", "", "env"}, "success", "", "urgent"),
               std::invalid_argument);
  EXPECT_THROW(service_deployed(run, "/s", "svc", "", "pkg:oci/x"), std::invalid_argument);
  EXPECT_THROW(service_rolledback(run, "/s", "svc", "prod", ""), std::invalid_argument);
  EXPECT_THROW(incident_detected(run, "/s", "i", "", "d"), std::invalid_argument);
  EXPECT_THROW(build_started(run, "/s", ""), std::invalid_argument);
  EXPECT_TRUE(is_outcome("cancel"));
  EXPECT_FALSE(is_outcome("Success"));
}

TEST(CustomEvents, ConveyorTypesUseTheSameShape) {
  const json e = make_cdevent("dev.conveyor.version.tagged.0.1.0", "/conveyor/version-tagger", sample_run(),
                              Subject{"v1.4.0", "", json{{"version", "1.4.0"}}});
  const auto custom = conveyor::testing::validate_file(conveyor_event_schema(), e);
  EXPECT_TRUE(custom.empty()) << joined(custom);
  const auto envelope = conveyor::testing::validate_file(envelope_schema(), e);
  EXPECT_TRUE(envelope.empty()) << joined(envelope);
}

TEST(Envelope, RequiresTheRunIdAsChainId) {
  RunContext no_run = sample_run();
  no_run.run_id.clear();
  const json e = pipelinerun_started(no_run, "/s");
  EXPECT_FALSE(e["context"].contains("chainId"));
  EXPECT_FALSE(conveyor::testing::validate_file(envelope_schema(), e).empty());
  json other = pipelinerun_started(sample_run(), "/s");
  other["context"]["specversion"] = "0.4.1";
  EXPECT_FALSE(conveyor::testing::validate_file(envelope_schema(), other).empty());
}

TEST(CDEventRecord, CloudEventAttributesMirrorTheContext) {
  const RunContext run = sample_run();
  const json event = service_deployed(run, "/conveyor/deployer", "imprun-system/imprun", "production", "pkg:oci/x");
  const KafkaRecord r = cdevent_record(event, run);
  EXPECT_EQ(r.topic, "conveyor.events");
  EXPECT_EQ(r.key, "imprun/imprun.dev");
  EXPECT_EQ(*r.header("ce_specversion"), "1.0");
  EXPECT_EQ(*r.header("ce_type"), event["context"]["type"]);
  EXPECT_EQ(*r.header("ce_id"), event["context"]["id"]);
  EXPECT_EQ(*r.header("ce_source"), "/conveyor/deployer");
  EXPECT_EQ(*r.header("ce_time"), event["context"]["timestamp"]);
  EXPECT_EQ(*r.header("ce_subject"), "imprun-system/imprun");
  EXPECT_EQ(*r.header("ce_partitionkey"), "imprun/imprun.dev");
  EXPECT_EQ(*r.header("ce_runid"), run.run_id);
  EXPECT_EQ(*r.header("ce_traceparent"), run.traceparent);
  EXPECT_EQ(*r.header("content-type"), "application/json");
  EXPECT_EQ(json::parse(r.value), event);
  EXPECT_EQ(cdevent_record(event, run, "ci").topic, "ci.events");

  RunContext untraced = run;
  untraced.traceparent.clear();
  EXPECT_EQ(cdevent_record(event, untraced).header("ce_traceparent"), nullptr);
}

TEST(CDEventRecord, CarriesWhereTheRunStandsInExtensions) {
  RunContext run = sample_run();
  const json queued = pipelinerun_queued(run, "/conveyor/webhook");
  const KafkaRecord early = cdevent_record(queued, run);
  EXPECT_EQ(*early.header("ce_pipeline"), "imprun");
  EXPECT_EQ(*early.header("ce_sha"), run.sha);
  EXPECT_EQ(*early.header("ce_ref"), "refs/heads/main");
  // Not known yet: no header at all rather than an empty one.
  EXPECT_EQ(early.header("ce_version"), nullptr);
  EXPECT_EQ(early.header("ce_environment"), nullptr);

  run.outputs["version"] = {{"version", "1.4.0"}, {"tag", "v1.4.0"}};
  run.outputs["deploy"] = {{"environment", "production"}};
  const KafkaRecord late = cdevent_record(pipelinerun_finished(run, "/conveyor/deployer", "success"), run);
  EXPECT_EQ(*late.header("ce_version"), "1.4.0");
  EXPECT_EQ(*late.header("ce_environment"), "production");
  auto decoded = from_kafka(late);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->extensions.at("pipeline"), "imprun");
  EXPECT_EQ(decoded->extensions.at("version"), "1.4.0");

  // Outputs of an unexpected shape are ignored, never an error.
  run.outputs["version"] = {{"version", 14}};
  run.outputs["deploy"] = "production";
  const KafkaRecord odd = cdevent_record(queued, run);
  EXPECT_EQ(odd.header("ce_version"), nullptr);
  EXPECT_EQ(odd.header("ce_environment"), nullptr);
}

TEST(CDEventRecord, DecodesBackAndChecksConsistency) {
  const RunContext run = sample_run();
  const json event = pipelinerun_queued(run, "/conveyor/webhook");
  const KafkaRecord r = cdevent_record(event, run);
  auto back = cdevent_from_kafka(r);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, event);

  KafkaRecord wrong_type = r;
  for (auto& h : wrong_type.headers) {
    if (h.first == "ce_type") h.second = "dev.cdevents.pipelinerun.started.0.3.0";
  }
  auto t = cdevent_from_kafka(wrong_type);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message.find("context.type"), std::string::npos);

  KafkaRecord wrong_id = r;
  for (auto& h : wrong_id.headers) {
    if (h.first == "ce_id") h.second = "not-the-id";
  }
  EXPECT_FALSE(cdevent_from_kafka(wrong_id).ok());

  KafkaRecord not_json = r;
  not_json.value = "[1,2]";
  EXPECT_FALSE(cdevent_from_kafka(not_json).ok());
}

TEST(Uris, RunUriAndOciPurl) {
  RunContext run = sample_run();
  EXPECT_EQ(run_uri(run), "urn:uuid:5f0c7a2e-8a51-4c1e-9b7d-2f1e3c4d5a6b");
  run.run_id = "run 1/2";
  EXPECT_EQ(run_uri(run), "urn:conveyor:run:run%201%2F2");
  EXPECT_EQ(oci_purl("registry.example.com/imprun/imprun-server", "sha256:abc123", "1.4.0"),
            "pkg:oci/imprun-server@sha256%3Aabc123?repository_url=registry.example.com/imprun/imprun-server&tag=1.4.0");
  EXPECT_EQ(oci_purl("127.0.0.1:5000/Team/App", "sha256:ff"),
            "pkg:oci/app@sha256%3Aff?repository_url=127.0.0.1%3A5000/Team/App");
  EXPECT_EQ(oci_purl("app", "", "latest"), "pkg:oci/app?repository_url=app&tag=latest");
}

}  // namespace
}  // namespace conveyor::events
