// The verification on simulated time: settle, retries, soak, Prometheus
// analysis (count / interval / failure-limit / on-empty), and what a verdict
// turns into (records through the stage runtime's outcome_records).
#include "handler.hpp"

#include <gtest/gtest.h>

#include "../events/sample_run.hpp"
#include "conveyor/events/cdevents.hpp"
#include "fakes.hpp"
#include "schema_validation.hpp"

namespace conveyor::health_verifier {
namespace {

using json = nlohmann::json;
using namespace test;

VerifySettings settings_of(const json& verify) {
  auto s = parse_settings(verify, events::test::sample_run());
  if (!s) throw std::runtime_error(s.error().message);
  return std::move(*s);
}

Result<HttpResponse> always_ok(const std::string&, milliseconds) { return ok(); }

Result<QueryResult> no_query(const std::string& q, milliseconds) {
  ADD_FAILURE() << "unexpected query " << q;
  return make_error(Errc::internal, "unexpected");
}

// --- HTTP checks -------------------------------------------------------------

TEST(Verify, HttpCheckAfterSettle) {
  FakeClock clock;
  ScriptedProbe probe(clock, always_ok);
  ScriptedPrometheus prom(clock, no_query);
  const auto v = verify(settings_of({{"settle", "30s"}, {"soak", 0}, {"http", {{{"url", "http://app/health"}}}}}),
                        probe, prom, clock);
  EXPECT_EQ(v.outcome, Verdict::Outcome::passed) << v.reason;
  ASSERT_EQ(probe.calls.size(), 1u);
  EXPECT_EQ(probe.calls[0].first, "http://app/health");
  EXPECT_EQ(probe.calls[0].second, 30s) << "the first probe waits for the settle time";
  EXPECT_EQ(probe.timeouts[0], 5s);
  EXPECT_EQ(v.checks.at(0)["result"], "passed");
  EXPECT_EQ(v.checks[0]["probes"], 1);
  EXPECT_FALSE(v.failed_at);
}

TEST(Verify, RetriesUntilThePeerAnswers) {
  FakeClock clock;
  int calls = 0;
  ScriptedProbe probe(clock, [&](const std::string&, milliseconds) -> Result<HttpResponse> {
    if (++calls <= 3) return make_error(Errc::unavailable, "GET http://app:80: connect failed: Connection refused");
    return ok();
  });
  ScriptedPrometheus prom(clock, no_query);
  const auto v = verify(settings_of({{"settle", 0},
                                     {"soak", 0},
                                     {"http", {{{"url", "http://app/health"}, {"retries", 5}, {"interval", "10s"}}}}}),
                        probe, prom, clock);
  EXPECT_EQ(v.outcome, Verdict::Outcome::passed) << v.reason;
  ASSERT_EQ(probe.calls.size(), 4u);
  // interval apart (after each probe's own 5 ms)
  EXPECT_EQ(probe.calls[1].second - probe.calls[0].second, 10s + 5ms);
  EXPECT_EQ(probe.calls[3].second - probe.calls[2].second, 10s + 5ms);
  EXPECT_EQ(v.checks[0]["failed_probes"], 3);
}

TEST(Verify, RetriesExhaustedFailsTheCheck) {
  FakeClock clock;
  ScriptedProbe probe(clock, [](const std::string&, milliseconds) -> Result<HttpResponse> { return status(503); });
  ScriptedPrometheus prom(clock, no_query);
  const auto v = verify(settings_of({{"settle", 0},
                                     {"soak", "2m"},
                                     {"http", {{{"url", "http://app/health"}, {"retries", 2}, {"interval", "10s"}}}},
                                     {"prometheus", {{{"url", "http://prom"}, {"query", "up"}}}}}),
                        probe, prom, clock);
  EXPECT_EQ(v.outcome, Verdict::Outcome::failed);
  EXPECT_EQ(probe.calls.size(), 3u) << "one attempt + 2 retries";
  EXPECT_EQ(v.reason, "http check http://app/health failed after 3 consecutive failed probes: status 503 is outside 200-299");
  EXPECT_EQ(v.failing_check["url"], "http://app/health");
  EXPECT_EQ(v.failing_check["result"], "failed");
  EXPECT_EQ(v.failing_check["recent"].size(), 3u);
  EXPECT_EQ(v.failing_check["recent"][2]["status"], 503);
  EXPECT_EQ(v.checks[1]["result"], "not-run") << "Prometheus starts only after the first pass";
  ASSERT_TRUE(v.failed_at);
  EXPECT_EQ(clock.now(), *v.failed_at) << "no time is spent after the failure";
}

TEST(Verify, RetriesZeroMeansOneAttempt) {
  FakeClock clock;
  ScriptedProbe probe(clock, [](const std::string&, milliseconds) -> Result<HttpResponse> {
    return make_error(Errc::timeout, "GET http://app:80: timed out after 5000 ms (read)");
  });
  ScriptedPrometheus prom(clock, no_query);
  const auto v = verify(settings_of({{"settle", 0}, {"http", {{{"url", "http://app/h"}, {"retries", 0}}}}}), probe,
                        prom, clock);
  EXPECT_EQ(v.outcome, Verdict::Outcome::failed);
  EXPECT_EQ(probe.calls.size(), 1u);
  EXPECT_NE(v.reason.find("timed out"), std::string::npos);
}

TEST(Verify, UnhealthyBodyFailsAJsonPointerCheck) {
  FakeClock clock;
  ScriptedProbe probe(clock, [](const std::string&, milliseconds) -> Result<HttpResponse> {
    return ok(R"({"status":"down","db":"unreachable"})");
  });
  ScriptedPrometheus prom(clock, no_query);
  const auto v = verify(settings_of({{"settle", 0},
                                     {"soak", 0},
                                     {"http",
                                      {{{"url", "http://app/health"},
                                        {"json-pointer", "/status"},
                                        {"expect", "up"},
                                        {"retries", 1}}}}}),
                        probe, prom, clock);
  EXPECT_EQ(v.outcome, Verdict::Outcome::failed);
  EXPECT_NE(v.reason.find(R"(json-pointer /status is "down", expected "up")"), std::string::npos) << v.reason;
  EXPECT_EQ(v.failing_check["recent"][0]["value"], "down");
  EXPECT_EQ(v.failing_check["recent"][0]["status"], 200);
  EXPECT_EQ(v.failing_check["expect"], "up");
}

TEST(Verify, StatusRangeFromSettings) {
  FakeClock clock;
  ScriptedProbe probe(clock, [](const std::string&, milliseconds) -> Result<HttpResponse> { return status(301); });
  ScriptedPrometheus prom(clock, no_query);
  EXPECT_EQ(verify(settings_of({{"settle", 0}, {"soak", 0}, {"http", {{{"url", "http://a"}, {"status", "200-399"}}}}}),
                   probe, prom, clock)
                .outcome,
            Verdict::Outcome::passed);
  EXPECT_EQ(verify(settings_of({{"settle", 0}, {"soak", 0}, {"http", {{{"url", "http://a"}, {"retries", 0}}}}}),
                   probe, prom, clock)
                .outcome,
            Verdict::Outcome::failed);
}

// --- soak --------------------------------------------------------------------

TEST(Verify, SoakCatchesALateFailure) {
  FakeClock clock;
  // Healthy at first, broken from 45 s on.
  ScriptedProbe probe(clock, [](const std::string&, milliseconds at) -> Result<HttpResponse> {
    return at < 45s ? ok() : status(500);
  });
  ScriptedPrometheus prom(clock, no_query);
  const auto v = verify(settings_of({{"settle", "5s"},
                                     {"soak", "2m"},
                                     {"http", {{{"url", "http://app/health"}, {"retries", 2}, {"interval", "10s"}}}}}),
                        probe, prom, clock);
  EXPECT_EQ(v.outcome, Verdict::Outcome::failed);
  ASSERT_TRUE(v.failed_at);
  // First failing probe at ~45-55 s, then two retries 10 s apart.
  EXPECT_GE(clock.elapsed(), 65s);
  EXPECT_LE(clock.elapsed(), 80s) << "fails fast, without waiting for the soak's end";
  EXPECT_NE(v.reason.find("status 500"), std::string::npos);
}

TEST(Verify, SoakKeepsProbingAndPassesWhenHealthy) {
  FakeClock clock;
  ScriptedProbe probe(clock, always_ok);
  ScriptedPrometheus prom(clock, no_query);
  const auto v = verify(settings_of({{"settle", 0},
                                     {"soak", "2m"},
                                     {"http", {{{"url", "http://app/health"}, {"interval", "10s"}}}}}),
                        probe, prom, clock);
  EXPECT_EQ(v.outcome, Verdict::Outcome::passed);
  // First pass + every 10 s for 2 minutes, the last one at the soak's end.
  EXPECT_GE(probe.calls.size(), 12u);
  EXPECT_LE(probe.calls.size(), 14u);
  EXPECT_GE(probe.calls.back().second, 2min);
  EXPECT_LE(probe.calls.back().second, 2min + 1s);
  EXPECT_EQ(v.checks[0]["probes"], static_cast<int>(probe.calls.size()));
  EXPECT_LE(v.checks[0]["recent"].size(), kMaxProbesRecorded);
}

TEST(Verify, AFailureAtTheSoaksEndIsFollowedToItsEnd) {
  // A blip on the last soak probe that recovers within the retries passes...
  {
    FakeClock clock;
    ScriptedProbe probe(clock, [](const std::string&, milliseconds at) -> Result<HttpResponse> {
      return at >= 58s && at < 62s ? status(502) : ok();
    });
    ScriptedPrometheus prom(clock, no_query);
    const auto v = verify(settings_of({{"settle", 0},
                                       {"soak", "1m"},
                                       {"http", {{{"url", "http://a"}, {"retries", 1}, {"interval", "10s"}}}}}),
                          probe, prom, clock);
    EXPECT_EQ(v.outcome, Verdict::Outcome::passed) << v.reason;
    EXPECT_GT(probe.calls.back().second, 1min) << "a retry after the soak's end";
  }
  // ...one that stays fails, although the soak is over.
  {
    FakeClock clock;
    ScriptedProbe probe(clock, [](const std::string&, milliseconds at) -> Result<HttpResponse> {
      return at >= 58s ? status(502) : ok();
    });
    ScriptedPrometheus prom(clock, no_query);
    const auto v = verify(settings_of({{"settle", 0},
                                       {"soak", "1m"},
                                       {"http", {{{"url", "http://a"}, {"retries", 1}, {"interval", "10s"}}}}}),
                          probe, prom, clock);
    EXPECT_EQ(v.outcome, Verdict::Outcome::failed);
  }
}

// --- Prometheus --------------------------------------------------------------

TEST(Verify, PrometheusCountAndIntervalAfterTheFirstPass) {
  FakeClock clock;
  ScriptedProbe probe(clock, always_ok);
  ScriptedPrometheus prom(clock, [](const std::string&, milliseconds) -> Result<QueryResult> {
    return vector_of({0.001});
  });
  const auto v = verify(settings_of({{"settle", "10s"},
                                     {"soak", 0},
                                     {"http", {{{"url", "http://app/health"}}}},
                                     {"prometheus",
                                      {{{"url", "http://prom:9090"},
                                        {"query", "error_ratio"},
                                        {"max", 0.01},
                                        {"count", 3},
                                        {"interval", "20s"}}}}}),
                        probe, prom, clock);
  EXPECT_EQ(v.outcome, Verdict::Outcome::passed) << v.reason;
  ASSERT_EQ(prom.calls.size(), 3u);
  EXPECT_EQ(prom.calls[0].first, "http://prom:9090 error_ratio");
  EXPECT_GE(prom.calls[0].second, probe.calls[0].second) << "after the HTTP checks passed";
  EXPECT_EQ(prom.calls[1].second - prom.calls[0].second, 20s) << "measurements are interval apart";
  EXPECT_EQ(prom.calls[2].second - prom.calls[1].second, 20s);
  const auto& report = v.checks.at(1);
  EXPECT_EQ(report["kind"], "prometheus");
  EXPECT_EQ(report["query"], "error_ratio");
  EXPECT_EQ(report["measured"], 3);
  EXPECT_EQ(report["result"], "passed");
  EXPECT_EQ(report["measurements"][2]["values"][0]["value"], 0.001);
}

TEST(Verify, FailureLimitIsExceededNotReached) {
  auto run_with = [](int limit, std::vector<double> series, size_t* calls) {
    FakeClock clock;
    ScriptedProbe probe(clock, always_ok);
    size_t i = 0;
    ScriptedPrometheus prom(clock, [&](const std::string&, milliseconds) -> Result<QueryResult> {
      return vector_of({series.at(i++)});
    });
    auto v = verify(settings_of({{"settle", 0},
                                 {"soak", 0},
                                 {"prometheus",
                                  {{{"url", "http://prom"},
                                    {"query", "q"},
                                    {"max", 1},
                                    {"count", static_cast<int>(series.size())},
                                    {"interval", "1s"},
                                    {"failure-limit", limit}}}}}),
                    probe, prom, clock);
    *calls = prom.calls.size();
    return v;
  };
  size_t calls = 0;
  // Two failures, limit 2: tolerated.
  auto v = run_with(2, {5, 0, 5, 0, 0}, &calls);
  EXPECT_EQ(v.outcome, Verdict::Outcome::passed) << v.reason;
  EXPECT_EQ(calls, 5u);
  EXPECT_EQ(v.checks[0]["failed"], 2);
  // Limit 1: the second failure fails the analysis at once.
  v = run_with(1, {5, 0, 5, 0, 0}, &calls);
  EXPECT_EQ(v.outcome, Verdict::Outcome::failed);
  EXPECT_EQ(calls, 3u) << "stops at the failure that exceeds the limit";
  EXPECT_NE(v.reason.find("2 of 3 measurements failed (failure-limit 1)"), std::string::npos) << v.reason;
  EXPECT_EQ(v.failing_check["measurements"][2]["phase"], "failed");
  EXPECT_EQ(v.failing_check["measurements"][2]["values"][0]["value"], 5.0);
  // Default limit 0: the first failure.
  v = run_with(0, {0, 5, 0}, &calls);
  EXPECT_EQ(v.outcome, Verdict::Outcome::failed);
  EXPECT_EQ(calls, 2u);
}

TEST(Verify, EmptyResultPerOnEmpty) {
  auto run_with = [](const char* on_empty) {
    FakeClock clock;
    ScriptedProbe probe(clock, always_ok);
    ScriptedPrometheus prom(clock, [](const std::string&, milliseconds) -> Result<QueryResult> {
      return vector_of({});
    });
    return verify(settings_of({{"settle", 0},
                               {"soak", 0},
                               {"prometheus",
                                {{{"url", "http://prom"}, {"query", "q"}, {"max", 1}, {"count", 2}, {"on-empty", on_empty}}}}}),
                  probe, prom, clock);
  };
  EXPECT_EQ(run_with("pass").outcome, Verdict::Outcome::passed);
  const auto failed = run_with("fail");
  EXPECT_EQ(failed.outcome, Verdict::Outcome::failed);
  EXPECT_NE(failed.reason.find("empty result (on-empty: fail)"), std::string::npos) << failed.reason;
  const auto inconclusive = run_with("inconclusive");
  EXPECT_EQ(inconclusive.outcome, Verdict::Outcome::inconclusive);
  EXPECT_EQ(inconclusive.checks[0]["result"], "inconclusive");
  EXPECT_EQ(inconclusive.checks[0]["inconclusive"], 2);
  EXPECT_NE(inconclusive.reason.find("inconclusive"), std::string::npos);
}

TEST(Verify, UnreachablePrometheusCountsAsFailure) {
  FakeClock clock;
  ScriptedProbe probe(clock, always_ok);
  int n = 0;
  ScriptedPrometheus prom(clock, [&](const std::string&, milliseconds) -> Result<QueryResult> {
    if (++n == 1) return make_error(Errc::unavailable, "GET http://prom:9090: connect failed: Connection refused");
    return vector_of({0.0});
  });
  // Tolerated once with failure-limit 1...
  auto v = verify(settings_of({{"settle", 0},
                               {"soak", 0},
                               {"prometheus", {{{"url", "http://prom:9090"}, {"query", "q"}, {"max", 1}, {"count", 3},
                                                {"failure-limit", 1}}}}}),
                  probe, prom, clock);
  EXPECT_EQ(v.outcome, Verdict::Outcome::passed) << v.reason;
  EXPECT_EQ(v.checks[0]["measurements"][0]["phase"], "error");
  // ...fails with the default limit, naming the error.
  n = 0;
  v = verify(settings_of({{"settle", 0}, {"soak", 0}, {"prometheus", {{{"url", "http://prom:9090"}, {"query", "q"}}}}}),
             probe, prom, clock);
  EXPECT_EQ(v.outcome, Verdict::Outcome::failed);
  EXPECT_NE(v.reason.find("Connection refused"), std::string::npos) << v.reason;
}

TEST(Verify, PrometheusAndSoakRunTogether) {
  FakeClock clock;
  ScriptedProbe probe(clock, always_ok);
  ScriptedPrometheus prom(clock, [](const std::string&, milliseconds at) -> Result<QueryResult> {
    return vector_of({at < 50s ? 0.0 : 0.5});  // the canary degrades
  });
  const auto v = verify(settings_of({{"settle", 0},
                                     {"soak", "2m"},
                                     {"http", {{{"url", "http://a"}, {"interval", "10s"}}}},
                                     {"prometheus", {{{"url", "http://p"}, {"query", "q"}, {"max", 0.1}, {"count", 10},
                                                      {"interval", "15s"}}}}}),
                        probe, prom, clock);
  EXPECT_EQ(v.outcome, Verdict::Outcome::failed);
  EXPECT_GT(probe.calls.size(), 3u) << "soak probes interleaved with measurements";
  EXPECT_LT(clock.elapsed(), 70s);
  EXPECT_EQ(v.checks[0]["result"], "incomplete");
  EXPECT_EQ(v.checks[1]["result"], "failed");
}

TEST(Verify, NothingConfiguredPasses) {
  FakeClock clock;
  ScriptedProbe probe(clock, always_ok);
  ScriptedPrometheus prom(clock, no_query);
  const auto v = verify(settings_of({{"settle", "1s"}}), probe, prom, clock);
  EXPECT_EQ(v.outcome, Verdict::Outcome::passed);
  EXPECT_TRUE(v.checks.empty());
}

// --- the handler: verdict -> records -------------------------------------------

events::StageRequest verify_request(const json& verify) {
  auto run = events::test::sample_run();
  run.outputs["deploy"] = {{"environment", "production"},
                           {"release", "imprun"},
                           {"revision", 7},
                           {"previous_revision", 6}};
  return events::first_request(run, {{"verify", verify}});
}

struct Harness {
  FakeClock clock;
  ScriptedProbe probe;
  ScriptedPrometheus prom;
  std::vector<json> published;
  stage::Publish publish = [this](const json& ev) -> Result<void> {
    published.push_back(ev);
    return {};
  };
  Dependencies deps{probe, prom, clock, "/conveyor/health-verifier", "conveyor"};

  Harness(ScriptedProbe::Script http, ScriptedPrometheus::Script q = no_query)
      : probe(clock, std::move(http)), prom(clock, std::move(q)) {}
};

std::vector<std::string> official_errors(const json& cdevent, const std::string& schema) {
  const std::string dir = testing::shared_dir() + "/cdevents-v0.5.1/schemas";
  return testing::validate(testing::load_json(dir + "/" + schema), cdevent, dir);
}

TEST(Handle, PassSucceedsAndReportsTheChecks) {
  Harness h(always_ok);
  const auto request = verify_request({{"settle", 0}, {"soak", 0}, {"http", {{{"url", "http://app/health"}}}}});
  auto result = handle(request, h.publish, h.deps);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->status, stage::StageResult::Status::succeeded);
  EXPECT_EQ(result->outputs["verdict"], "passed");
  EXPECT_TRUE(result->extra_records.empty());
  ASSERT_EQ(h.published.size(), 1u);
  EXPECT_EQ(h.published[0]["context"]["type"], "dev.cdevents.taskrun.started.0.3.0");
  EXPECT_EQ(h.published[0]["context"]["id"], request.id + ":taskrun.started");

  const auto records = stage::outcome_records(request, *result, "/conveyor/health-verifier", "conveyor");
  ASSERT_EQ(records.size(), 2u);
  auto finished_task = events::cdevent_from_kafka(records[0]);
  ASSERT_TRUE(finished_task.ok());
  EXPECT_EQ((*finished_task)["subject"]["content"]["outcome"], "success");
  EXPECT_EQ((*finished_task)["customData"]["checks"][0]["url"], "http://app/health");
  EXPECT_TRUE(official_errors(*finished_task, "taskrunfinished.json").empty());
  auto finished_run = events::cdevent_from_kafka(records[1]);
  ASSERT_TRUE(finished_run.ok());
  EXPECT_EQ((*finished_run)["context"]["type"], "dev.cdevents.pipelinerun.finished.0.3.0");
  EXPECT_EQ((*finished_run)["subject"]["content"]["outcome"], "success");
}

TEST(Handle, FailureRaisesAnIncidentAndRequestsARollback) {
  Harness h(always_ok, [](const std::string&, milliseconds) -> Result<QueryResult> { return vector_of({0.25}); });
  const auto request = verify_request(
      {{"settle", 0},
       {"soak", 0},
       {"http", {{{"url", "http://app/health"}}}},
       {"prometheus", {{{"url", "http://prom:9090"}, {"query", "error_ratio{sha=\"{{short-sha}}\"}"}, {"max", 0.01}}}}});
  auto result = handle(request, h.publish, h.deps);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->status, stage::StageResult::Status::failed);
  EXPECT_EQ(result->outputs["verdict"], "failed");
  EXPECT_NE(result->reason.find("verification failed: prometheus check 'error_ratio{sha=\"0d1a26e\"}'"),
            std::string::npos)
      << result->reason;

  const auto records = stage::outcome_records(request, *result, "/conveyor/health-verifier", "conveyor");
  // incident.detected, taskrun.finished, the rollback request, pipelinerun.finished
  ASSERT_EQ(records.size(), 4u);
  auto incident = events::cdevent_from_kafka(records[0]);
  ASSERT_TRUE(incident.ok());
  EXPECT_EQ((*incident)["context"]["type"], "dev.cdevents.incident.detected.0.3.0");
  EXPECT_EQ((*incident)["context"]["chainId"], request.run.run_id);
  EXPECT_EQ((*incident)["context"]["id"], request.id + ":incident.detected");
  EXPECT_EQ((*incident)["subject"]["content"]["environment"]["id"], "production");
  EXPECT_EQ((*incident)["subject"]["content"]["description"], result->reason);
  const auto errors = official_errors(*incident, "incidentdetected.json");
  EXPECT_TRUE(errors.empty()) << ::testing::PrintToString(errors);
  const json& custom = (*incident)["customData"];
  EXPECT_EQ(custom["check"]["kind"], "prometheus");
  EXPECT_EQ(custom["check"]["query"], "error_ratio{sha=\"0d1a26e\"}") << "the resolved query";
  EXPECT_EQ(custom["check"]["measurements"][0]["values"][0]["value"], 0.25) << "the measured value";
  EXPECT_EQ(custom["rollback"]["requested"], true);
  EXPECT_EQ(custom["rollback"]["request_id"], request.run.run_id + ":rollback");
  EXPECT_GE(custom["rollback"]["verdict_to_rollback_ms"].get<double>(), 0.0);
  EXPECT_EQ(custom["detected_at"].get<std::string>().size(), 24u) << "RFC 3339 with ms";

  auto task = events::cdevent_from_kafka(records[1]);
  ASSERT_TRUE(task.ok());
  EXPECT_EQ((*task)["subject"]["content"]["outcome"], "failure");
  EXPECT_TRUE(official_errors(*task, "taskrunfinished.json").empty());

  EXPECT_EQ(records[2].topic, "conveyor.stage.deploy");
  EXPECT_EQ(records[2].key, "imprun/imprun.dev@production");
  auto rb = events::request_from_kafka(records[2]);
  ASSERT_TRUE(rb.ok()) << rb.error().message;
  EXPECT_EQ(rb->id, request.run.run_id + ":rollback") << "not <run>:deploy, which the deploy's outcome owns";
  EXPECT_EQ(rb->stage, "deploy");
  EXPECT_TRUE(rb->slip.empty());
  EXPECT_EQ(rb->settings["action"], "rollback");
  EXPECT_EQ(rb->settings["environment"], "production");
  EXPECT_EQ(rb->settings["previous_revision"], 6) << "what the deployer recorded";
  EXPECT_EQ(rb->settings["reason"], result->reason);
  EXPECT_EQ(rb->run.run_id, request.run.run_id);
  const auto request_schema = testing::load_json(testing::source_dir() + "/schemas/events/stage-request.schema.json");
  EXPECT_TRUE(testing::validate(request_schema, events::to_json(*rb), testing::source_dir() + "/schemas/events").empty());

  auto finished = events::cdevent_from_kafka(records[3]);
  ASSERT_TRUE(finished.ok());
  EXPECT_EQ((*finished)["subject"]["content"]["outcome"], "failure");
}

TEST(Handle, OnFailureNoneRaisesTheIncidentOnly) {
  Harness h([](const std::string&, milliseconds) -> Result<HttpResponse> { return status(500); });
  const auto request = verify_request(
      {{"settle", 0}, {"on-failure", "none"}, {"http", {{{"url", "http://app/health"}, {"retries", 0}}}}});
  auto result = handle(request, h.publish, h.deps);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->status, stage::StageResult::Status::failed);
  EXPECT_TRUE(result->extra_records.empty());
  EXPECT_EQ(result->outputs["rollback"]["requested"], false);
  const auto records = stage::outcome_records(request, *result, "/conveyor/health-verifier", "conveyor");
  ASSERT_EQ(records.size(), 3u);
  for (const auto& r : records) EXPECT_EQ(r.topic, "conveyor.events");
  EXPECT_EQ((*events::cdevent_from_kafka(records[0]))["customData"]["check"]["recent"][0]["status"], 500);
}

TEST(Handle, InconclusiveFailsTheRunWithoutRollback) {
  Harness h(always_ok, [](const std::string&, milliseconds) -> Result<QueryResult> { return vector_of({}); });
  const auto request = verify_request(
      {{"settle", 0}, {"prometheus", {{{"url", "http://p"}, {"query", "q"}, {"on-empty", "inconclusive"}}}}});
  auto result = handle(request, h.publish, h.deps);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->status, stage::StageResult::Status::failed);
  EXPECT_EQ(result->outputs["verdict"], "inconclusive");
  EXPECT_TRUE(result->extra_records.empty());
  for (const auto& ev : result->cdevents) EXPECT_NE(ev["context"]["type"], "dev.cdevents.incident.detected.0.3.0");
}

TEST(Handle, BadSettingsFailWithoutRollbackOrProbes) {
  Harness h(always_ok);
  const auto request = verify_request({{"http", {{{"url", "http://a"}, {"status", "abc"}}}}});
  auto result = handle(request, h.publish, h.deps);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->status, stage::StageResult::Status::failed);
  EXPECT_NE(result->reason.find("verify.http[0].status"), std::string::npos) << result->reason;
  EXPECT_TRUE(result->extra_records.empty());
  EXPECT_TRUE(h.probe.calls.empty());
}

TEST(Handle, KafkaRefusingTheStartEventIsAnError) {
  Harness h(always_ok);
  h.publish = [](const json&) -> Result<void> { return make_error(Errc::unavailable, "broker down"); };
  auto result = handle(verify_request({{"settle", 0}}), h.publish, h.deps);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, Errc::unavailable);
  EXPECT_TRUE(h.probe.calls.empty());
}

TEST(Handle, VerdictToRollbackTimeIsMeasuredOnTheClock) {
  // The handler itself spends no (simulated) time between the failing probe
  // and the rollback request.
  Harness h([](const std::string&, milliseconds) -> Result<HttpResponse> { return status(500); });
  auto result = handle(verify_request({{"settle", 0}, {"http", {{{"url", "http://a"}, {"retries", 0}}}}}), h.publish,
                       h.deps);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->outputs["rollback"]["verdict_to_rollback_ms"], 0.0);
  EXPECT_EQ(result->outputs["detected_at"], "2027-01-15T08:00:00.005Z") << "wall time of the failing probe's answer";
}

}  // namespace
}  // namespace conveyor::health_verifier
