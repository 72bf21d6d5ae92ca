// The verify section as it arrives in a stage request: defaults, errors with
// key paths, templates.
#include "settings.hpp"

#include <gtest/gtest.h>

#include "../events/sample_run.hpp"
#include "schema_validation.hpp"

namespace conveyor::health_verifier {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

events::RunContext run_with_outputs() {
  auto run = events::test::sample_run();
  run.outputs["version"] = {{"version", "1.4.0"}};
  run.outputs["deploy"] = {{"environment", "production"}};
  return run;
}

TEST(Settings, Defaults) {
  auto s = parse_settings(json::object(), run_with_outputs());
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->settle, 30s);
  EXPECT_EQ(s->soak, 2min);
  EXPECT_TRUE(s->rollback);
  EXPECT_TRUE(s->http.empty());
  EXPECT_TRUE(parse_settings(nullptr, run_with_outputs()).ok());

  auto c = parse_settings(json::parse(R"({"http":[{"url":"http://app/health"}],
                                          "prometheus":[{"url":"http://prom:9090","query":"up"}]})"),
                          run_with_outputs());
  ASSERT_TRUE(c.ok()) << c.error().message;
  const HttpCheck& h = c->http.at(0);
  EXPECT_EQ(h.status.to_string(), "200-299");
  EXPECT_EQ(h.retries, 5);
  EXPECT_EQ(h.interval, 10s);
  EXPECT_EQ(h.timeout, 5s);
  EXPECT_FALSE(h.json_pointer);
  const PrometheusCheck& p = c->prometheus.at(0);
  EXPECT_EQ(p.count, 1);
  EXPECT_EQ(p.failure_limit, 0);
  EXPECT_EQ(p.on_empty, OnEmpty::fail);
  EXPECT_FALSE(p.min);
  EXPECT_FALSE(p.max);
}

TEST(Settings, EverythingSet) {
  auto s = parse_settings(json::parse(R"J({
      "settle": 0, "soak": "0s", "on-failure": "none",
      "http": [{"url": "http://app/health", "status": "200-399", "json-pointer": "/status", "expect": "up",
                "timeout": "500ms", "retries": 0, "interval": "1s"}],
      "prometheus": [{"url": "http://prom:9090", "query": "rate(x[1m])", "min": 0, "max": 0.5, "count": 3,
                      "interval": "2s", "failure-limit": 1, "on-empty": "inconclusive"}]})J"),
                          run_with_outputs());
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->settle, 0ms);
  EXPECT_EQ(s->soak, 0ms);
  EXPECT_FALSE(s->rollback);
  EXPECT_EQ(s->http[0].status.to_string(), "200-399");
  EXPECT_EQ(*s->http[0].json_pointer, "/status");
  EXPECT_EQ(*s->http[0].expect, "up");
  EXPECT_EQ(s->http[0].timeout, 500ms);
  EXPECT_EQ(s->http[0].retries, 0);
  EXPECT_EQ(s->prometheus[0].min.value(), 0.0);
  EXPECT_EQ(s->prometheus[0].max.value(), 0.5);
  EXPECT_EQ(s->prometheus[0].count, 3);
  EXPECT_EQ(s->prometheus[0].interval, 2s);
  EXPECT_EQ(s->prometheus[0].failure_limit, 1);
  EXPECT_EQ(s->prometheus[0].on_empty, OnEmpty::inconclusive);
}

TEST(Settings, ErrorsNameTheKeyPath) {
  const std::vector<std::pair<const char*, const char*>> cases = {
      {R"({"bogus": 1})", "verify.bogus"},
      {R"({"settle": "soon"})", "verify.settle"},
      {R"({"http": [{"url": "http://a"}, {"status": 200}]})", "verify.http[1].url"},
      {R"({"http": [{"url": "https://a/health"}]})", "verify.http[0].url"},
      {R"({"http": [{"url": "http://a", "status": "abc"}]})", "verify.http[0].status"},
      {R"({"http": [{"url": "http://a", "json-pointer": "status"}]})", "verify.http[0].json-pointer"},
      {R"({"http": [{"url": "http://a", "expect": "up"}]})", "verify.http[0].expect"},
      {R"({"http": [{"url": "http://a", "retries": -1}]})", "verify.http[0].retries"},
      {R"({"http": [{"url": "http://a", "timeout": 0}]})", "verify.http[0].timeout"},
      {R"({"prometheus": [{"url": "http://p"}]})", "verify.prometheus[0].query"},
      {R"({"prometheus": [{"url": "http://p", "query": "up", "min": 2, "max": 1}]})", "verify.prometheus[0]"},
      {R"({"prometheus": [{"url": "http://p", "query": "up", "count": 0}]})", "verify.prometheus[0].count"},
      {R"({"prometheus": [{"url": "http://p", "query": "up", "on-empty": "maybe"}]})", "verify.prometheus[0].on-empty"},
      {R"({"prometheus": [{"url": "http://p", "query": "up", "extra": 1}]})", "verify.prometheus[0].extra"},
      {R"({"on-failure": "panic"})", "verify.on-failure"},
  };
  for (const auto& [text, path] : cases) {
    auto s = parse_settings(json::parse(text), run_with_outputs());
    ASSERT_FALSE(s.ok()) << text;
    EXPECT_EQ(s.error().code, Errc::invalid_argument);
    EXPECT_EQ(s.error().message.rfind(std::string(path) + ":", 0), 0u) << text << " -> " << s.error().message;
  }
}

TEST(Templates, ResolveForTheRun) {
  const auto run = run_with_outputs();
  auto q = resolve_templates(R"(sum(rate(http_requests_total{version="{{version}}",env="{{ environment }}"}[1m])))", run);
  ASSERT_TRUE(q.ok()) << q.error().message;
  EXPECT_EQ(*q, R"(sum(rate(http_requests_total{version="1.4.0",env="production"}[1m])))");
  EXPECT_EQ(*resolve_templates("http://app/{{short-sha}}/{{sha}}", run),
            "http://app/0d1a26e/0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c");
  EXPECT_EQ(*resolve_templates("{{repository}} {{pipeline}} {{ref-name}} {{run-id}}", run),
            "imprun/imprun.dev imprun main 5f0c7a2e-8a51-4c1e-9b7d-2f1e3c4d5a6b");
  EXPECT_EQ(*resolve_templates("up{job=\"a\"}", run), "up{job=\"a\"}") << "PromQL braces are not placeholders";
  EXPECT_FALSE(resolve_templates("{{nope}}", run).ok());
  EXPECT_FALSE(resolve_templates("x{{version", run).ok());
  EXPECT_FALSE(resolve_templates("{{version}}", events::test::sample_run()).ok()) << "no version output";

  auto s = parse_settings(json::parse(R"({"prometheus":[{"url":"http://prom","query":"x{v=\"{{version}}\"}"}]})"), run);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->prometheus[0].query, "x{v=\"1.4.0\"}");
}

// schemas/conveyor.schema.json (definition verifyStage) accepts what the
// verifier understands and refuses what it refuses.
std::vector<std::string> schema_errors(const json& verify) {
  const auto schema = testing::load_json(testing::source_dir() + "/schemas/conveyor.schema.json");
  const json doc = {{"definitions", schema["definitions"]}, {"allOf", {{{"$ref", "#/definitions/verifyStage"}}}}};
  return testing::validate(doc, verify, testing::source_dir() + "/schemas");
}

TEST(Settings, TheSchemaAgrees) {
  for (const char* good : {
           R"({"settle": "30s", "soak": 0, "http": [{"url": "http://a/h", "status": 204}]})",
           R"({"http": [{"url": "http://a/h", "status": "200-399", "json-pointer": "/status", "expect": "up"}]})",
           R"({"http": [{"url": "http://a/h", "status": "2xx"}]})",
           R"({"prometheus": [{"url": "http://p:9090", "query": "up", "on-empty": "inconclusive", "count": 3}]})",
       }) {
    const auto verify = json::parse(good);
    EXPECT_TRUE(schema_errors(verify).empty()) << good << ::testing::PrintToString(schema_errors(verify));
    EXPECT_TRUE(parse_settings(verify, run_with_outputs()).ok()) << good;
  }
  for (const char* bad : {
           R"({"http": [{"url": "http://a/h", "status": "abc"}]})",
           R"({"http": [{"url": "http://a/h", "status": 700}]})",
           R"({"http": [{"url": "http://a/h", "status": "2xx-3xx"}]})",
           R"({"prometheus": [{"url": "http://p:9090", "query": "up", "on-empty": "maybe"}]})",
       }) {
    const auto verify = json::parse(bad);
    EXPECT_FALSE(schema_errors(verify).empty()) << bad;
    EXPECT_FALSE(parse_settings(verify, run_with_outputs()).ok()) << bad;
  }
}

}  // namespace
}  // namespace conveyor::health_verifier
