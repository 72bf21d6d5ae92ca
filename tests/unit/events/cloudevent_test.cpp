#include "conveyor/events/cloudevent.hpp"

#include <chrono>
#include <regex>
#include <set>
#include <string>

#include <gtest/gtest.h>

namespace conveyor::events {
namespace {

CloudEvent sample_event() {
  CloudEvent e;
  e.id = "0b5c5a2e-1111-4222-8333-444455556666";
  e.source = "/conveyor/webhook";
  e.type = "dev.cdevents.pipelinerun.queued.0.3.0";
  e.subject = "run-1";
  e.time = "2026-11-29T19:02:36.123Z";
  e.data = R"({"hello":"world"})";
  e.extensions = {{"partitionkey", "imprun/imprun.dev"},
                  {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
                  {"runid", "run-1"}};
  return e;
}

std::vector<std::string> header_names(const KafkaRecord& r) {
  std::vector<std::string> names;
  for (const auto& [k, v] : r.headers) names.push_back(k);
  return names;
}

TEST(CloudEventKafka, BinaryModeHeadersKeyAndValue) {
  const KafkaRecord r = to_kafka(sample_event(), "conveyor.events");
  EXPECT_EQ(r.topic, "conveyor.events");
  EXPECT_EQ(r.key, "imprun/imprun.dev");
  EXPECT_EQ(r.value, R"({"hello":"world"})");
  // Core attributes first, then content-type, then extensions (sorted by name).
  EXPECT_EQ(header_names(r),
            (std::vector<std::string>{"ce_specversion", "ce_id", "ce_source", "ce_type", "ce_subject", "ce_time",
                                      "content-type", "ce_partitionkey", "ce_runid", "ce_traceparent"}));
  ASSERT_NE(r.header("ce_specversion"), nullptr);
  EXPECT_EQ(*r.header("ce_specversion"), "1.0");
  EXPECT_EQ(*r.header("ce_id"), "0b5c5a2e-1111-4222-8333-444455556666");
  EXPECT_EQ(*r.header("ce_source"), "/conveyor/webhook");
  EXPECT_EQ(*r.header("ce_type"), "dev.cdevents.pipelinerun.queued.0.3.0");
  EXPECT_EQ(*r.header("ce_subject"), "run-1");
  EXPECT_EQ(*r.header("ce_time"), "2026-11-29T19:02:36.123Z");
  EXPECT_EQ(*r.header("content-type"), "application/json");
  EXPECT_EQ(*r.header("ce_partitionkey"), "imprun/imprun.dev");
  EXPECT_EQ(*r.header("ce_traceparent"), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  EXPECT_EQ(r.header("ce_datacontenttype"), nullptr);  // binary mode uses content-type
  EXPECT_EQ(r.header("ce_data"), nullptr);
}

TEST(CloudEventKafka, OptionalAttributesAreOmittedWhenEmpty) {
  CloudEvent e = sample_event();
  e.subject.clear();
  e.time.clear();
  e.datacontenttype.clear();
  e.extensions.clear();
  const KafkaRecord r = to_kafka(e, "t");
  EXPECT_EQ(header_names(r), (std::vector<std::string>{"ce_specversion", "ce_id", "ce_source", "ce_type"}));
  EXPECT_EQ(r.key, "");
}

TEST(CloudEventKafka, ExtensionsNamedLikeCoreAttributesAreNotDuplicated) {
  CloudEvent e = sample_event();
  e.extensions["id"] = "other";
  e.extensions["type"] = "other";
  const KafkaRecord r = to_kafka(e, "t");
  int ids = 0, types = 0;
  for (const auto& [k, v] : r.headers) {
    ids += k == "ce_id";
    types += k == "ce_type";
  }
  EXPECT_EQ(ids, 1);
  EXPECT_EQ(types, 1);
  EXPECT_EQ(*r.header("ce_id"), e.id);
}

TEST(CloudEventKafka, RoundTrip) {
  const CloudEvent in = sample_event();
  auto out = from_kafka(to_kafka(in, "conveyor.events"));
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(out->specversion, in.specversion);
  EXPECT_EQ(out->id, in.id);
  EXPECT_EQ(out->source, in.source);
  EXPECT_EQ(out->type, in.type);
  EXPECT_EQ(out->subject, in.subject);
  EXPECT_EQ(out->time, in.time);
  EXPECT_EQ(out->datacontenttype, in.datacontenttype);
  EXPECT_EQ(out->data, in.data);
  EXPECT_EQ(out->extensions, in.extensions);
}

TEST(CloudEventKafka, RecordHeaderLookupReturnsFirstOrNull) {
  KafkaRecord r;
  r.headers = {{"a", "1"}, {"b", "2"}, {"a", "3"}};
  ASSERT_NE(r.header("a"), nullptr);
  EXPECT_EQ(*r.header("a"), "1");
  EXPECT_EQ(*r.header("b"), "2");
  EXPECT_EQ(r.header("A"), nullptr);  // names are case-sensitive
  EXPECT_EQ(r.header("c"), nullptr);
}

class FromKafkaMissing : public ::testing::TestWithParam<std::string> {};

TEST_P(FromKafkaMissing, RequiredAttributeIsReported) {
  KafkaRecord r = to_kafka(sample_event(), "t");
  const std::string header = "ce_" + GetParam();
  std::erase_if(r.headers, [&](const auto& h) { return h.first == header; });
  auto out = from_kafka(r);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().code, Errc::invalid_argument);
  EXPECT_NE(out.error().message.find("'" + GetParam() + "'"), std::string::npos) << out.error().message;
}

class FromKafkaEmpty : public ::testing::TestWithParam<std::string> {};

TEST_P(FromKafkaEmpty, RequiredAttributeMustNotBeEmpty) {
  KafkaRecord r = to_kafka(sample_event(), "t");
  for (auto& h : r.headers) {
    if (h.first == "ce_" + GetParam()) h.second.clear();
  }
  auto out = from_kafka(r);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().code, Errc::invalid_argument);
}

INSTANTIATE_TEST_SUITE_P(Attributes, FromKafkaMissing, ::testing::Values("specversion", "id", "source", "type"));
// (an empty specversion is an unsupported version: FromKafkaRejectsOtherSpecVersions)
INSTANTIATE_TEST_SUITE_P(Attributes, FromKafkaEmpty, ::testing::Values("id", "source", "type"));

TEST(CloudEventKafka, FromKafkaRejectsOtherSpecVersions) {
  for (const char* version : {"0.3", "2.0", ""}) {
    KafkaRecord r = to_kafka(sample_event(), "t");
    for (auto& h : r.headers) {
      if (h.first == "ce_specversion") h.second = version;
    }
    auto out = from_kafka(r);
    ASSERT_FALSE(out.ok()) << version;
    EXPECT_EQ(out.error().code, Errc::invalid_argument);
    EXPECT_NE(out.error().message.find("specversion"), std::string::npos);
  }
}

TEST(CloudEventKafka, FromKafkaValidatesTime) {
  for (const char* bad : {"yesterday", "2026-11-29 19:02:36Z", "2026-13-01T00:00:00Z", "2026-11-29T19:02:36",
                          "2026-11-29T25:00:00Z", "2026-11-29T19:02:36.Z"}) {
    CloudEvent e = sample_event();
    e.time = bad;
    auto out = from_kafka(to_kafka(e, "t"));
    ASSERT_FALSE(out.ok()) << bad;
    EXPECT_NE(out.error().message.find("time"), std::string::npos);
  }
  for (const char* good : {"2026-11-29T19:02:36Z", "2026-11-29T19:02:36.123456Z", "2026-11-29t19:02:36+05:30",
                           "2026-11-29T19:02:36.1-08:00"}) {
    CloudEvent e = sample_event();
    e.time = good;
    EXPECT_TRUE(from_kafka(to_kafka(e, "t")).ok()) << good;
  }
}

TEST(CloudEventKafka, FromKafkaIgnoresForeignHeadersAndAcceptsAnyContentTypeCase) {
  KafkaRecord r = to_kafka(sample_event(), "t");
  std::erase_if(r.headers, [](const auto& h) { return h.first == "content-type"; });
  r.headers.emplace_back("Content-Type", "application/json; charset=utf-8");
  r.headers.emplace_back("conveyor_error", "boom");
  r.headers.emplace_back("ce_", "nameless");
  auto out = from_kafka(r);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(out->datacontenttype, "application/json; charset=utf-8");
  EXPECT_EQ(out->extensions.size(), 3u);  // partitionkey, runid, traceparent only
  EXPECT_FALSE(out->extensions.count("conveyor_error"));
}

TEST(CloudEventKafka, FromKafkaWithoutContentTypeLeavesItEmpty) {
  CloudEvent e = sample_event();
  e.datacontenttype.clear();
  auto out = from_kafka(to_kafka(e, "t"));
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->datacontenttype, "");
}

TEST(CloudEventKafka, FromKafkaRecoversPartitionKeyFromRecordKey) {
  CloudEvent e = sample_event();
  e.extensions.erase("partitionkey");
  KafkaRecord r = to_kafka(e, "t");
  r.key = "owner/repo@production";
  auto out = from_kafka(r);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->extensions.at("partitionkey"), "owner/repo@production");
}

TEST(Uuid, IsVersion4Rfc4122AndUnique) {
  const std::regex v4("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) {
    const std::string id = new_uuid();
    ASSERT_TRUE(std::regex_match(id, v4)) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 2000u);
}

TEST(Rfc3339, NowIsUtcWithMillisecondsAndCurrent) {
  const auto before = std::chrono::system_clock::now();
  const std::string now = now_rfc3339();
  const auto after = std::chrono::system_clock::now();
  const std::regex format(R"(^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{3})Z$)");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(now, m, format)) << now;
  std::tm tm{};
  tm.tm_year = std::stoi(m[1]) - 1900;
  tm.tm_mon = std::stoi(m[2]) - 1;
  tm.tm_mday = std::stoi(m[3]);
  tm.tm_hour = std::stoi(m[4]);
  tm.tm_min = std::stoi(m[5]);
  tm.tm_sec = std::stoi(m[6]);
  const auto parsed = std::chrono::system_clock::from_time_t(timegm(&tm)) + std::chrono::milliseconds(std::stoi(m[7]));
  EXPECT_GE(parsed, std::chrono::time_point_cast<std::chrono::milliseconds>(before) - std::chrono::milliseconds(1));
  EXPECT_LE(parsed, after);
}

}  // namespace
}  // namespace conveyor::events
