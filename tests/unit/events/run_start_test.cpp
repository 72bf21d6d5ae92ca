// Differential tests of the direct serialisation (run_start.hpp) against the
// nlohmann reference builders: same bytes (value, key, topic, headers) or
// both refuse, on every string of every GitHub fixture, on adversarial
// strings and on every 1- and 2-byte string plus random byte strings.
#include "conveyor/events/run_start.hpp"

#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "conveyor/events/cdevents.hpp"
#include "sample_run.hpp"
#include "schema_validation.hpp"

namespace conveyor::events {
namespace {

using nlohmann::json;
using test::full_slip;
using test::sample_run;
namespace fs = std::filesystem;

const std::string kSource = "/conveyor/webhook";
const std::string kTime = "2026-11-29T19:02:36.123Z";

// What the webhook published before the fast path, with the two times and
// the event id fixed as the fast path takes them.
KafkaRecord reference_queued(const RunContext& run, const std::string& prefix) {
  json e = pipelinerun_queued(run, kSource);
  e["context"]["id"] = run.run_id + ":queued";
  e["context"]["timestamp"] = kTime;
  return cdevent_record(e, run, prefix);
}

KafkaRecord reference_request(const RunContext& run, const std::vector<SlipEntry>& stages, const std::string& prefix) {
  KafkaRecord r = to_kafka(first_request(run, stages), prefix);
  for (auto& [name, value] : r.headers) {
    if (name == "ce_time") value = kTime;
  }
  return r;
}

void expect_same(const KafkaRecord& fast, const KafkaRecord& reference) {
  EXPECT_EQ(fast.topic, reference.topic);
  EXPECT_EQ(fast.key, reference.key);
  EXPECT_EQ(fast.value, reference.value);
  EXPECT_EQ(fast.headers, reference.headers);
}

// Both records of `run`, fast and reference; both must succeed or both throw.
void expect_both_records(const RunContext& run, const std::vector<SlipEntry>& stages = full_slip(),
                         const std::string& prefix = "conveyor") {
  bool reference_threw = false;
  KafkaRecord queued, request;
  try {
    queued = reference_queued(run, prefix);
    request = reference_request(run, stages, prefix);
  } catch (const json::exception&) {
    reference_threw = true;
  }
  const FirstRequest first(stages, prefix);
  if (reference_threw) {
    EXPECT_ANY_THROW({
      (void)pipelinerun_queued_record(run, kSource, run.run_id + ":queued", kTime, prefix);
      (void)first.record(run, kTime);
    });
    return;
  }
  expect_same(pipelinerun_queued_record(run, kSource, run.run_id + ":queued", kTime, prefix), queued);
  expect_same(first.record(run, kTime), request);
}

// Every string (member names and values) of a JSON document.
void collect_strings(const json& j, std::set<std::string>& out) {
  if (j.is_string()) out.insert(j.get<std::string>());
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      out.insert(k);
      collect_strings(v, out);
    }
  }
  if (j.is_array()) {
    for (const auto& v : j) collect_strings(v, out);
  }
}

// The escaper alone against dump(): same text, or both throw.
void expect_same_literal(const std::string& s) {
  std::string reference;
  bool reference_threw = false;
  try {
    reference = json(s).dump();
  } catch (const json::type_error&) {
    reference_threw = true;
  }
  std::string fast;
  if (reference_threw) {
    EXPECT_THROW(append_json_string(fast, s), std::invalid_argument) << ::testing::PrintToString(s);
    return;
  }
  append_json_string(fast, s);
  EXPECT_EQ(fast, reference) << ::testing::PrintToString(s);
}

std::vector<std::string> adversarial_strings() {
  std::vector<std::string> out = {
      "", "\"", "\\", "\"\\\"", "a\"b\\c", "$(rm -rf /) `id` ${IFS}", "'; DROP TABLE runs; --", "</script>",
      "line1\nline2\r\n\ttab", std::string("nul\0byte", 8), "\x7f del", "\b\f", "/slash/", "\\u0041",
      "caf\xc3\xa9", "\xe2\x82\xac euro", "\xf0\x9f\x9a\x80 rocket", "\xef\xbb\xbf bom", "\xef\xbf\xbf", "\xee\x80\x80",
      "\xf4\x8f\xbf\xbf",  // U+10FFFF
      // not UTF-8: nlohmann's dump() throws for each
      "\x80", "\xbf", "\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xe0\x9f\xbf", "\xed\xa0\x80", "\xed\xbf\xbf",
      "\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xff", "\xfe",
      "ok\xc3", "ok\xe2\x82", "ok\xf0\x9f\x9a", "\xc3(", "\xe2\x28\xa1", "tail \xc3\xa9\xc3",
  };
  for (int c = 0; c < 0x20; ++c) out.push_back("ctl" + std::string(1, static_cast<char>(c)) + "end");
  return out;
}

TEST(AppendJsonString, EveryOneAndTwoByteStringAsDump) {
  for (int a = 0; a < 256; ++a) {
    expect_same_literal(std::string(1, static_cast<char>(a)));
    for (int b = 0; b < 256; ++b) expect_same_literal(std::string{static_cast<char>(a), static_cast<char>(b)});
  }
}

TEST(AppendJsonString, AdversarialAndRandomStringsAsDump) {
  for (const auto& s : adversarial_strings()) expect_same_literal(s);
  // Random strings, biased to the bytes that matter (controls, quotes,
  // lead and continuation bytes), fixed seed so a failure repeats.
  std::mt19937 rng(20261129);
  const std::string interesting = std::string("\x00\x01\x1f \"\\/aZ\x7f", 10) + "\x80\xbf\xc0\xc2\xdf\xe0\xed\xef\xf0\xf4\xf5\xff";
  for (int i = 0; i < 200000; ++i) {
    std::string s(rng() % 7, '\0');
    for (auto& c : s) c = rng() % 2 ? interesting[rng() % interesting.size()] : static_cast<char>(rng() % 256);
    expect_same_literal(s);
    if (HasFailure()) return;
  }
}

TEST(RunStart, SampleRunAndSlipsAsReference) {
  expect_both_records(sample_run());
  expect_both_records(sample_run(), {full_slip().front()});
  expect_both_records(sample_run(), full_slip(), "conveyor-bench");
  // First stage deploy / verify: the partition key names the environment.
  auto slip = full_slip();
  expect_both_records(sample_run(), {slip.begin() + 4, slip.end()});
  expect_both_records(sample_run(), {slip.begin() + 5, slip.end()});
  RunContext deployed = sample_run();
  deployed.outputs = {{"deploy", {{"environment", "staging"}}}, {"version", {{"version", "1.2.3"}}}};
  expect_both_records(deployed, {slip.begin() + 5, slip.end()});
  // Settings that are not objects (a slip entry keeps them as they are).
  expect_both_records(sample_run(), {{"build", json::array({"a"})}, {"helm", "x"}, {"deploy", nullptr}});
  // Empty and odd values.
  RunContext odd = sample_run();
  odd.run_id = "not-a-uuid/with spaces";
  odd.traceparent.clear();
  odd.sha.clear();
  odd.ref.clear();
  odd.pipeline.clear();
  odd.pull_request = 2147483647;
  expect_both_records(odd);
  odd.run_id.clear();
  expect_both_records(odd);
}

TEST(RunStart, EveryFixtureStringInEveryRunFieldAsReference) {
  std::set<std::string> strings;
  const fs::path dir = fs::path(conveyor::testing::shared_dir()) / "fixtures" / "github";
  int files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    collect_strings(conveyor::testing::load_json(entry.path()), strings);
    ++files;
  }
  ASSERT_GE(files, 20);
  ASSERT_GE(strings.size(), 500u);
  for (const auto& s : adversarial_strings()) strings.insert(s);
  // Each string in turn in every run field the webhook fills from a
  // delivery or the configuration (the others stay the sample's).
  std::vector<std::string RunContext::*> fields = {
      &RunContext::run_id,      &RunContext::pipeline, &RunContext::repository, &RunContext::clone_url,
      &RunContext::trigger,     &RunContext::ref,      &RunContext::ref_kind,   &RunContext::ref_name,
      &RunContext::sha,         &RunContext::before_sha, &RunContext::delivery_id, &RunContext::sender,
      &RunContext::head_message, &RunContext::traceparent, &RunContext::queued_at,
  };
  std::size_t i = 0;
  for (const auto& s : strings) {
    RunContext run = sample_run();
    run.*fields[i++ % fields.size()] = s;
    run.head_message = s;
    expect_both_records(run);
    if (HasFailure()) return;
  }
}

TEST(RunStart, RecordsValidateAgainstTheirSchemas) {
  const fs::path schemas = fs::path(conveyor::testing::source_dir()) / "schemas" / "events";
  const fs::path cdevents = fs::path(conveyor::testing::shared_dir()) / "cdevents-v0.5.1" / "schemas";
  const RunContext run = sample_run();
  const auto queued = pipelinerun_queued_record(run, kSource, run.run_id + ":queued", kTime);
  const json event = json::parse(queued.value);
  EXPECT_TRUE(conveyor::testing::validate_file(cdevents / "pipelinerunqueued.json", event).empty());
  EXPECT_TRUE(conveyor::testing::validate_file(schemas / "cdevent-envelope.schema.json", event).empty());
  const auto request = FirstRequest(full_slip()).record(run, kTime);
  EXPECT_TRUE(conveyor::testing::validate_file(schemas / "stage-request.schema.json", json::parse(request.value)).empty());
  auto decoded = request_from_kafka(request);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->id, run.run_id + ":test");
  auto cd = cdevent_from_kafka(queued);
  ASSERT_TRUE(cd.ok()) << cd.error().message;
}

TEST(RunStart, FirstRequestNeedsAStage) {
  EXPECT_THROW(FirstRequest({}), std::invalid_argument);
  EXPECT_THROW(FirstRequest({{"test", {{"bad", "\xff"}}}}), std::invalid_argument);
}

}  // namespace
}  // namespace conveyor::events
