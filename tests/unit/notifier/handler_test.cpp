// services/notifier/handler.cpp: decoding, the event -> route mapping, the
// routing matrix, and sending once per route with dead letters per route.
#include "handler.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <set>

#include "conveyor/events/cdevents.hpp"
#include "fixtures.hpp"
#include "provider.hpp"
#include "sample.hpp"

namespace conveyor::notifier {
namespace {

using nlohmann::json;
using namespace test;

events::KafkaRecord custom(const std::string& type, const json& content, const std::string& id,
                           events::RunContext run = sample_run()) {
  return record_of(events::make_cdevent(type, kSource, run, events::Subject{run.run_id, "", content}), run, id);
}

events::KafkaRecord testsuite_finished(const std::string& outcome) {
  const events::TestSuiteRun suite{"run:test:unit", "unit", "unit tests", "conveyor-test-runner"};
  return record_of(events::testsuiterun_finished(sample_run(), "/conveyor/test-runner", suite, outcome, "2 failed"),
                   sample_run(), "evt-tests-" + outcome);
}

Event decoded(const events::KafkaRecord& r) {
  auto e = decode_event(r);
  EXPECT_TRUE(e.ok()) << (e.ok() ? "" : e.error().message);
  return e.ok() ? *e : Event{};
}

TEST(DecodeEvent, ReadsTheRunFromExtensionsAndTheRestFromTheCDEvent) {
  const Event e = decoded(finished("failure", "tests failed: 2 of 10"));
  EXPECT_EQ(e.id, "evt-finished");
  EXPECT_EQ(e.type, "dev.cdevents.pipelinerun.finished.0.3.0");
  EXPECT_EQ(e.family, "cdevents");
  EXPECT_EQ(e.name, "pipelinerun.finished");
  EXPECT_EQ(e.source, "/conveyor/deployer");
  EXPECT_EQ(e.time, "2026-11-29T19:02:36.123Z");
  EXPECT_EQ(e.run_id, sample_run().run_id);
  EXPECT_EQ(e.pipeline, "imprun");
  EXPECT_EQ(e.repository, "imprun/imprun.dev");
  EXPECT_EQ(e.sha, sample_run().sha);
  EXPECT_EQ(e.ref, "refs/heads/main");
  EXPECT_EQ(e.version, "1.4.0");
  EXPECT_EQ(e.environment, "production");
  EXPECT_EQ(e.outcome, "failure");
  EXPECT_EQ(e.detail, "tests failed: 2 of 10");
  EXPECT_EQ(json::parse(e.data)["context"]["id"], "evt-finished");
}

TEST(DecodeEvent, ServiceEventsNameTheirOwnEnvironment) {
  EXPECT_EQ(decoded(deployed("staging")).environment, "staging");
  // A test suite's environment is where tests ran, not a deploy target.
  EXPECT_EQ(decoded(testsuite_finished("success")).environment, "production");
}

TEST(DecodeEvent, FallsBackWhenTheProducerSetNoRunExtensions) {
  events::KafkaRecord r = finished("success");
  std::erase_if(r.headers, [](const auto& h) {
    return h.first == "ce_pipeline" || h.first == "ce_runid" || h.first == "ce_partitionkey";
  });
  const Event e = decoded(r);
  EXPECT_EQ(e.pipeline, "imprun");            // content.pipelineName
  EXPECT_EQ(e.run_id, sample_run().run_id);   // context.chainId
  EXPECT_EQ(e.repository, "imprun/imprun.dev");  // the record key
}

TEST(DecodeEvent, RefusesWhatIsNotACDEvent) {
  events::KafkaRecord r = finished("success");
  r.value = "not json";
  EXPECT_EQ(decode_event(r).error().code, Errc::invalid_argument);
}

// The mapping documented in handler.hpp, row by row.
TEST(Classify, EveryRouteWordHasItsEvents) {
  struct Row {
    events::KafkaRecord record;
    std::optional<Kind> kind;
    Status status = Status::success;
  };
  const events::RunContext run = sample_run();
  const std::vector<Row> rows = {
      {record_of(events::pipelinerun_started(run, kSource), run, "a"), Kind::started, Status::pending},
      {finished("success"), Kind::succeeded, Status::success},
      {finished("failure"), Kind::failed, Status::failure},
      {finished("error"), Kind::failed, Status::error},
      {finished("cancel"), std::nullopt},
      {testsuite_finished("success"), Kind::tested, Status::success},
      {testsuite_finished("failure"), Kind::tested, Status::failure},
      {custom("dev.conveyor.version.released.0.1.0", {{"version", "1.4.0"}}, "b"), Kind::released, Status::success},
      {record_of(events::artifact_published(run, kSource, "pkg:oci/x@sha256%3Aa"), run, "c"), Kind::built, Status::success},
      {deployed(), Kind::deployed, Status::success},
      {record_of(events::service_upgraded(run, kSource, "ns/app", "production", "pkg:oci/x"), run, "d"), Kind::deployed,
       Status::success},
      {record_of(events::taskrun_finished(run, kSource, "verify", "r:verify", "success"), run, "e"), Kind::verified,
       Status::success},
      {record_of(events::taskrun_finished(run, kSource, "verify", "r:verify", "failure", "5xx rate 3%"), run, "e2"),
       Kind::verified, Status::failure},
      {custom("dev.conveyor.service.verified.0.1.0", {{"environment", {{"id", "production"}}}}, "e3"), std::nullopt},
      {rolledback(), Kind::rolledback, Status::failure},
      {record_of(events::pipelinerun_queued(run, kSource), run, "f"), std::nullopt},
      {record_of(events::build_finished(run, kSource, "b1", "pkg:oci/x"), run, "g"), std::nullopt},
      {record_of(events::incident_detected(run, kSource, "i1", "production", "5xx above 1%"), run, "h"), std::nullopt},
      {record_of(events::taskrun_finished(run, kSource, "deploy", "r:deploy", "success"), run, "i"), std::nullopt},
  };
  for (const auto& row : rows) {
    const Event e = decoded(row.record);
    const auto c = classify(e);
    ASSERT_EQ(c.has_value(), row.kind.has_value()) << e.type;
    if (!c) continue;
    EXPECT_EQ(c->kind, *row.kind) << e.type;
    EXPECT_EQ(c->status, row.status) << e.type;
  }
}

TEST(Kinds, RoundTripTheSchemaWords) {
  for (const char* word : {"started", "succeeded", "failed", "tested", "released", "built", "deployed", "verified",
                           "rolledback"}) {
    auto kind = parse_kind(word);
    ASSERT_TRUE(kind) << word;
    EXPECT_EQ(to_string(*kind), word);
  }
  EXPECT_FALSE(parse_kind("queued"));
}

std::vector<Route> matrix_routes() {
  const json notify = json::array({
      {{"provider", "slack"}, {"url-secret", {{"env", "SLACK"}}}, {"on", {"deployed", "failed", "rolledback"}}},
      {{"provider", "discord"}, {"url", "http://d"}, {"on", {"started", "succeeded", "failed"}}, {"environments", {"staging"}}},
      {{"provider", "webhook"},
       {"url", "http://w"},
       {"on", {"started", "succeeded", "failed", "tested", "released", "built", "deployed", "verified", "rolledback"}},
       {"repositories", {"imprun/*"}}},
      {{"provider", "github-status"}, {"on", {"started", "succeeded", "failed", "tested"}}},
      {{"provider", "github-deployment"}, {"on", {"deployed", "rolledback", "verified"}}},
      {{"provider", "slack"}, {"url", "http://s2"}, {"on", {"deployed"}}, {"repositories", {"other/*"}}},
  });
  config::Pipeline other;
  other.name = "other";
  other.repository = "other/x";
  other.clone_url = "git@github.com:other/x.git";
  other.notify = json::array({{{"provider", "webhook"}, {"url", "http://o"}, {"on", {"failed", "deployed"}}}});
  return routes_of({imprun_pipeline(notify), other});
}

std::set<std::string> routed(const events::KafkaRecord& record, const std::vector<Route>& routes) {
  std::set<std::string> names;
  for (const auto& n : plan(decoded(record), routes)) names.insert(n.route);
  return names;
}

TEST(Plan, RoutingMatrix) {
  const auto routes = matrix_routes();
  const events::RunContext run = sample_run();
  events::RunContext staging = run;
  staging.outputs["deploy"]["environment"] = "staging";
  events::RunContext other = run;
  other.pipeline = "other";
  other.repository = "other/x";
  events::RunContext unversioned = run;
  unversioned.outputs = json::object();  // before deploy: the pipeline's deploy environment applies

  const std::string s = "imprun.notify[0]", d = "imprun.notify[1]", w = "imprun.notify[2]", gs = "imprun.notify[3]",
                    gd = "imprun.notify[4]", o = "other.notify[0]";
  struct Row {
    const char* what;
    events::KafkaRecord record;
    std::set<std::string> routes;
  };
  const std::vector<Row> rows = {
      {"started", record_of(events::pipelinerun_started(unversioned, kSource), unversioned, "1"), {w, gs}},
      {"succeeded", finished("success"), {w, gs}},
      {"failed", finished("failure"), {s, w, gs}},
      {"errored", finished("error"), {s, w, gs}},
      {"cancelled", finished("cancel"), {}},
      {"tested", testsuite_finished("failure"), {w, gs}},
      {"released", custom("dev.conveyor.version.released.0.1.0", {{"version", "1.4.0"}}, "2"), {w}},
      {"built", record_of(events::artifact_published(run, kSource, "pkg:oci/x@sha256%3Aa"), run, "3"), {w}},
      {"deployed", deployed(), {s, w, gd}},
      {"deployed to staging", deployed("staging"), {s, w, gd}},
      {"verified", record_of(events::taskrun_finished(run, kSource, "verify", "r:verify", "success"), run, "4"), {w, gd}},
      {"rolledback", rolledback(), {s, w, gd}},
      {"succeeded in staging", record_of(events::pipelinerun_finished(staging, kSource, "success"), staging, "5"),
       {d, w, gs}},
      {"queued", record_of(events::pipelinerun_queued(run, kSource), run, "6"), {}},
      {"other pipeline failed", record_of(events::pipelinerun_finished(other, kSource, "failure"), other, "7"), {o}},
  };
  for (const auto& row : rows) EXPECT_EQ(routed(row.record, routes), row.routes) << row.what;
}

TEST(Plan, FindsThePipelineByRepositoryWhenTheEventNamesNone) {
  const auto routes = matrix_routes();
  events::KafkaRecord r = deployed();
  std::erase_if(r.headers, [](const auto& h) { return h.first == "ce_pipeline"; });
  for (auto& [name, value] : r.headers) {
    if (name == "ce_partitionkey") value = "IMPRUN/imprun.dev";  // GitHub names are case-insensitive
  }
  EXPECT_EQ(routed(r, routes), (std::set<std::string>{"imprun.notify[0]", "imprun.notify[2]", "imprun.notify[4]"}));
}

TEST(Plan, GitHubRoutesNeedACommitAndDeploymentsAnEnvironment) {
  config::Pipeline p = imprun_pipeline(json::array({
      {{"provider", "github-status"}, {"on", {"succeeded"}}},
      {{"provider", "github-deployment"}, {"on", {"succeeded"}}},
  }));
  p.stage_settings = json::object();  // deploys nowhere
  const auto routes = routes_of({p});
  events::RunContext run = sample_run();
  run.outputs = json::object();
  EXPECT_EQ(routed(record_of(events::pipelinerun_finished(run, kSource, "success"), run, "x"), routes),
            std::set<std::string>{"imprun.notify[0]"});
  run.sha.clear();
  EXPECT_TRUE(routed(record_of(events::pipelinerun_finished(run, kSource, "success"), run, "y"), routes).empty());
}

TEST(Plan, NotificationCarriesTheRunAndALinkToTheCommit) {
  const auto routes = routes_of({imprun_pipeline(json::array({{{"provider", "webhook"}, {"url", "http://w"}, {"on", {"deployed"}}}}))});
  const auto notes = plan(decoded(deployed()), routes);
  ASSERT_EQ(notes.size(), 1u);
  const Notification& n = notes[0];
  EXPECT_EQ(n.key, routes[0].key + ":evt-deployed");
  EXPECT_EQ(n.route, "imprun.notify[0]");
  EXPECT_EQ(n.provider, "webhook");
  EXPECT_EQ(n.kind, Kind::deployed);
  EXPECT_EQ(n.status, Status::success);
  EXPECT_EQ(n.title, "imprun: 1.4.0 deployed to production");
  EXPECT_EQ(n.link, "https://github.com/imprun/imprun.dev/commit/" + sample_run().sha);
  EXPECT_EQ(n.environment, "production");
  EXPECT_EQ(n.version, "1.4.0");
  EXPECT_EQ(n.run_id, sample_run().run_id);
  EXPECT_EQ(n.cdevent, deployed().value);
}

TEST(Plan, TitlesSayWhatHappened) {
  const auto routes = routes_of({imprun_pipeline(json::array(
      {{{"provider", "webhook"}, {"url", "http://w"}, {"on", {"verified", "rolledback", "failed", "tested", "released"}}}}))});
  const events::RunContext run = sample_run();
  auto title = [&](const events::KafkaRecord& r) {
    const auto notes = plan(decoded(r), routes);
    return notes.size() == 1 ? notes[0].title + " | " + notes[0].detail : std::string("(none)");
  };
  EXPECT_EQ(title(record_of(events::taskrun_finished(run, kSource, "verify", "r:verify", "failure", "5xx rate 3%"), run, "1")),
            "imprun: production failed verification | 5xx rate 3%");
  EXPECT_EQ(title(record_of(events::taskrun_finished(run, kSource, "verify", "r:verify", "success"), run, "2")),
            "imprun: production verified | ");
  EXPECT_EQ(title(rolledback()), "imprun: production rolled back | ");
  EXPECT_EQ(title(finished("error", "kafka unavailable")), "imprun: run errored on main | kafka unavailable");
  EXPECT_EQ(title(testsuite_finished("failure")), "imprun: tests failed on main | 2 failed");
  EXPECT_EQ(title(custom("dev.conveyor.version.released.0.1.0", {{"version", "2.0.0"}}, "3")),
            "imprun: released 2.0.0 | ");  // the event's own version over the run's
  EXPECT_EQ(title(custom("dev.conveyor.version.released.0.1.0", json::object(), "4")), "imprun: released 1.4.0 | ");
}

TEST(Routes, KeysAreStableAcrossReorderingAndDifferForDifferentRoutes) {
  const json a = {{"provider", "slack"}, {"url", "http://a"}, {"on", {"failed"}}};
  const json b = {{"provider", "slack"}, {"url", "http://b"}, {"on", {"failed"}}};
  const auto ab = routes_of({imprun_pipeline(json::array({a, b}))});
  const auto ba = routes_of({imprun_pipeline(json::array({b, a}))});
  EXPECT_EQ(ab[0].key, ba[1].key);
  EXPECT_EQ(ab[1].key, ba[0].key);
  EXPECT_NE(ab[0].key, ab[1].key);
  EXPECT_EQ(ab[0].key.size(), 16u);
  EXPECT_EQ(ab[0].web_url, "https://github.com/imprun/imprun.dev");
  EXPECT_EQ(ab[0].default_environment, "production");
}

TEST(Routes, TheSchemaAcceptsRoutesAsDocumented) {
  const std::string yaml = R"(kafka: { brokers: "127.0.0.1:1" }
github: { api-url: "http://127.0.0.1:1", token: { env: GITHUB_TOKEN } }
pipelines:
  - name: imprun
    repository: imprun/imprun.dev
    deploy: { environment: production, helm: { release: imprun, chart: k8s/imprun } }
    notify:
      - { provider: slack, url-secret: { env: SLACK_WEBHOOK_URL }, on: [deployed, failed, rolledback] }
      - { provider: discord, url-secret: { env: DISCORD_WEBHOOK_URL }, on: [started, succeeded, failed], environments: [prod*] }
      - { provider: webhook, url: "https://hooks.example.com/conveyor", secret: { env: HOOK_SECRET }, on: [deployed], repositories: ["imprun/*"] }
      - { provider: github-status, on: [started, succeeded, failed] }
      - { provider: github-deployment, on: [deployed, verified, rolledback] }
)";
  auto loaded = config::parse(yaml, testing::source_dir() + "/schemas/conveyor.schema.json");
  ASSERT_TRUE(std::holds_alternative<config::Config>(loaded)) << std::get<config::LoadError>(loaded).to_string();
  const auto routes = routes_of(std::get<config::Config>(loaded).pipelines);
  ASSERT_EQ(routes.size(), 5u);
  EXPECT_EQ(routes[1].environments, std::vector<std::string>{"prod*"});
  EXPECT_EQ(routes[1].on, (std::set<Kind>{Kind::started, Kind::succeeded, Kind::failed}));
  EXPECT_EQ(routes[4].provider, "github-deployment");
}

// Dispatcher ------------------------------------------------------------------

class MemorySentLog final : public SentLog {
 public:
  Result<bool> was_sent(const std::string& key) override {
    if (broken) return make_error(Errc::unavailable, "redis down");
    std::lock_guard lock(mu);
    return keys.count(key) > 0;
  }
  Result<void> mark_sent(const std::string& key) override {
    std::lock_guard lock(mu);
    keys.insert(key);
    return {};
  }
  std::mutex mu;
  std::set<std::string> keys;
  bool broken = false;
};

class FakeProvider final : public Provider {
 public:
  Result<void> post(const Notification& n) override {
    posted.push_back(n);
    if (failure) return *failure;
    return {};
  }
  std::vector<Notification> posted;
  std::optional<Error> failure;
};

struct Fixture {
  explicit Fixture(json notify) : routes(routes_of({imprun_pipeline(std::move(notify))})) {
    for (const auto& r : routes) {
      if (!fakes.count(r.key)) fakes[r.key] = std::make_unique<FakeProvider>();
      providers[r.key] = fakes[r.key].get();
    }
  }
  FakeProvider& fake(std::size_t route) { return *fakes.at(routes.at(route).key); }
  Dispatcher dispatcher(std::function<bool()> stopping = [] { return false; }) {
    return Dispatcher(routes, providers, sent, "conveyor.dlq", std::move(stopping));
  }
  std::vector<Route> routes;
  std::map<std::string, std::unique_ptr<FakeProvider>> fakes;
  std::map<std::string, Provider*> providers;
  MemorySentLog sent;
};

json three_routes() {
  return json::array({
      {{"provider", "slack"}, {"url", "http://s"}, {"on", {"failed"}}},
      {{"provider", "discord"}, {"url", "http://d"}, {"on", {"failed"}}},
      {{"provider", "webhook"}, {"url", "http://w"}, {"on", {"failed"}}},
  });
}

TEST(Dispatcher, SendsEachRouteOnceEvenWhenTheEventComesAgain) {
  Fixture f(three_routes());
  const auto d = f.dispatcher();
  auto first = d.handle(finished("failure"));
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_TRUE(first->selected);
  ASSERT_EQ(first->routes.size(), 3u);
  for (const auto& r : first->routes) EXPECT_EQ(r.outcome, RouteResult::Outcome::sent) << r.route;
  EXPECT_TRUE(first->dead_letters.empty());

  auto again = d.handle(finished("failure"));  // redelivery: same event id
  ASSERT_TRUE(again.ok());
  for (const auto& r : again->routes) EXPECT_EQ(r.outcome, RouteResult::Outcome::duplicate) << r.route;
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(f.fake(i).posted.size(), 1u) << i;

  // Another event of the same run is another notification.
  ASSERT_TRUE(d.handle(finished("failure", "", "evt-other")).ok());
  EXPECT_EQ(f.fake(0).posted.size(), 2u);
}

TEST(Dispatcher, AFailingRouteIsDeadLetteredAloneAndTriedAgainOnlyItself) {
  Fixture f(three_routes());
  f.fake(1).failure = make_error(Errc::unavailable, "POST https://discord.com: HTTP 500 after 4 attempts");
  const auto d = f.dispatcher();
  const auto record = finished("failure");
  auto report = d.handle(record);
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->routes.size(), 3u);
  EXPECT_EQ(report->routes[0].outcome, RouteResult::Outcome::sent);
  EXPECT_EQ(report->routes[1].outcome, RouteResult::Outcome::failed);
  EXPECT_EQ(report->routes[1].error, "POST https://discord.com: HTTP 500 after 4 attempts");
  EXPECT_EQ(report->routes[2].outcome, RouteResult::Outcome::sent);

  ASSERT_EQ(report->dead_letters.size(), 1u);
  const auto& dlq = report->dead_letters[0];
  EXPECT_EQ(dlq.topic, "conveyor.dlq");
  EXPECT_EQ(dlq.key, record.key);
  EXPECT_EQ(dlq.value, record.value);
  EXPECT_EQ(*dlq.header("ce_id"), "evt-finished");
  EXPECT_EQ(*dlq.header("conveyor-error"), "POST https://discord.com: HTTP 500 after 4 attempts");
  EXPECT_EQ(*dlq.header("conveyor-error-code"), "unavailable");
  EXPECT_EQ(*dlq.header("conveyor-original-topic"), "conveyor.events");
  EXPECT_EQ(*dlq.header("conveyor-notify-route"), "imprun.notify[1]");
  EXPECT_EQ(*dlq.header("conveyor-notify-provider"), "discord");

  // Replaying the dead letter later sends the failed route only.
  f.fake(1).failure.reset();
  auto replay = d.handle(record);
  ASSERT_TRUE(replay.ok());
  EXPECT_EQ(f.fake(0).posted.size(), 1u);
  EXPECT_EQ(f.fake(1).posted.size(), 2u);
  EXPECT_EQ(f.fake(2).posted.size(), 1u);
  EXPECT_TRUE(replay->dead_letters.empty());
}

TEST(Dispatcher, IdenticalRoutesMakeOneNotification) {
  const json route = {{"provider", "slack"}, {"url", "http://s"}, {"on", {"failed"}}};
  Fixture f(json::array({route, route}));
  auto report = f.dispatcher().handle(finished("failure"));
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->routes.size(), 2u);
  EXPECT_EQ(report->routes[0].outcome, RouteResult::Outcome::sent);
  EXPECT_EQ(report->routes[1].outcome, RouteResult::Outcome::duplicate);
  EXPECT_EQ(f.fake(0).posted.size(), 1u);
}

TEST(Dispatcher, StoppingMidSendHandsTheEventBack) {
  Fixture f(three_routes());
  f.fake(1).failure = make_error(Errc::unavailable, "POST http://d: cancelled");
  auto report = f.dispatcher([] { return true; }).handle(finished("failure"));
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error().code, Errc::unavailable);
  // What went out before is recorded, so the redelivery does not repeat it.
  EXPECT_EQ(f.sent.keys.size(), 1u);
}

TEST(Dispatcher, AnUnreadableRecordIsRetriedAndAMalformedEventIsPermanent) {
  Fixture f(three_routes());
  f.sent.broken = true;
  auto report = f.dispatcher().handle(finished("failure"));
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error().code, Errc::unavailable);
  EXPECT_TRUE(f.fake(0).posted.empty());

  events::KafkaRecord bad = finished("failure");
  bad.value = "{}";
  EXPECT_EQ(f.dispatcher().handle(bad).error().code, Errc::invalid_argument);
}

TEST(Dispatcher, EventsNoRouteWantsAreIgnored) {
  Fixture f(three_routes());
  auto report = f.dispatcher().handle(deployed());
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->selected);
  EXPECT_TRUE(report->routes.empty());
}

}  // namespace
}  // namespace conveyor::notifier
