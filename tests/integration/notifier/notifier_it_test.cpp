// conveyor-notifier against the real Kafka broker and Redis started by
// scripts/test, with local HTTP servers standing in for Slack, Discord,
// GitHub and a webhook subscriber. Each test gets its own topics
// (<unique prefix>.events / .dlq) and servers; every wait has a deadline.
#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <sstream>

#include "conveyor/bus/producer.hpp"
#include "conveyor/bus/reader.hpp"
#include "conveyor/events/cdevents.hpp"
#include "conveyor/github/signature.hpp"
#include "conveyor/http/client.hpp"
#include "fixtures.hpp"
#include "kafka_admin.hpp"
#include "kafka_records.hpp"
#include "recording_server.hpp"
#include "service_process.hpp"

namespace conveyor::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::string kSha = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c";
const std::string kSlackPath = "/services/T000/B000/slacktoken123";
const std::string kDiscordPath = "/api/webhooks/1/discordtoken123";
const std::string kHookSecret = "it-hook-secret-never-logged";
const std::string kGitHubToken = "ghs_it_token_never_logged";
const std::string kStatusPath = "/repos/imprun/imprun.dev/statuses/" + kSha;
const std::string kDeploymentsPath = "/repos/imprun/imprun.dev/deployments";
const std::string kDeploymentStatusPath = kDeploymentsPath + "/42/statuses";
const char* kSource = "/conveyor/it";

using Requests = std::vector<http::Request>;

std::size_t count(const Requests& all, const std::string& path) {
  return static_cast<std::size_t>(std::count_if(all.begin(), all.end(), [&](const auto& r) { return r.path == path; }));
}

events::RunContext run_of(const std::string& pipeline, const std::string& repository) {
  events::RunContext run;
  run.run_id = events::new_uuid();
  run.pipeline = pipeline;
  run.repository = repository;
  run.clone_url = "https://github.com/" + repository + ".git";
  run.trigger = "push";
  run.ref = "refs/heads/main";
  run.ref_kind = "branch";
  run.ref_name = "main";
  run.sha = kSha;
  run.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  run.outputs["version"] = {{"version", "1.4.0"}};
  run.outputs["deploy"] = {{"environment", "production"}};
  return run;
}

class NotifierIT : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_dir("notifier-it");
    prefix_ = "conveyor-it.notifier." + events::new_uuid().substr(0, 8);
    create_topic_named(kafka_brokers(), prefix_ + ".events");
    create_topic_named(kafka_brokers(), prefix_ + ".dlq");

    slack_.on("POST", kSlackPath, {{200, "ok"}});
    discord_.on("POST", kDiscordPath, {{204, ""}});
    hooks_.on("POST", "/hooks/conveyor", {{202, ""}});
    hooks_.on("POST", "/always-500", {{500, "internal error"}});
    hooks_.on("POST", "/rate-limited", {{429, "slow down", {{"Retry-After", "3600"}}}});
    hooks_.on("POST", "/fast", {{200, "ok"}});
    hooks_.on("POST", "/slow", {{200, "ok", {}, "text/plain", 4s}});
    github_.on("POST", kStatusPath, {{201, R"js({"id": 1})js", {}, "application/json"}});
    github_.on("POST", kDeploymentsPath, {{201, R"js({"id": 42})js", {}, "application/json"}});
    github_.on("POST", kDeploymentStatusPath, {{201, R"js({"id": 7})js", {}, "application/json"}});
    for (auto* s : {&slack_, &discord_, &hooks_, &github_}) s->start();

    write_file(dir_ + "/conveyor.yaml", config_yaml());
    bus::ProducerOptions producer_options;
    producer_options.brokers = kafka_brokers();
    auto producer = bus::Producer::create(producer_options);
    ASSERT_TRUE(producer.ok()) << producer.error().message;
    producer_ = std::move(*producer);
    start_service();
  }

  std::string config_yaml() const {
    const std::string hooks = hooks_.url();
    return "kafka:\n  brokers: " + kafka_brokers() + "\n  topic-prefix: " + prefix_ +
           "\n  max-attempts: 3\n"
           "redis:\n  url: " + redis_url() + "\n"
           "admin:\n  listen: 127.0.0.1:0\n"
           "github:\n  api-url: " + github_.url() + "\n  token: { env: IT_GITHUB_TOKEN }\n"
           "pipelines:\n"
           "  - name: imprun\n"
           "    repository: imprun/imprun.dev\n"
           "    deploy: { environment: production, helm: { release: imprun, chart: k8s/imprun } }\n"
           "    notify:\n"
           "      - { provider: slack, url-secret: { env: IT_SLACK_URL }, on: [succeeded, failed, deployed, rolledback] }\n"
           "      - { provider: discord, url-secret: { env: IT_DISCORD_URL }, on: [succeeded, failed, rolledback] }\n"
           "      - { provider: webhook, url: \"" + hooks + "/hooks/conveyor\", secret: { env: IT_HOOK_SECRET },"
           " on: [succeeded, failed, deployed, rolledback, released] }\n"
           "      - { provider: github-status, on: [succeeded, failed] }\n"
           "      - { provider: github-deployment, on: [deployed, rolledback] }\n"
           "  - name: broken\n"
           "    repository: broken/app\n"
           "    version: { tag-prefix: v }\n"
           "    notify:\n"
           "      - { provider: webhook, url: \"" + hooks + "/always-500\", on: [failed] }\n"
           "      - { provider: webhook, url: \"" + hooks + "/rate-limited\", on: [failed] }\n"
           "      - { provider: slack, url-secret: { env: IT_SLACK_URL }, on: [failed] }\n"
           "  - name: slow\n"
           "    repository: slow/app\n"
           "    version: { tag-prefix: v }\n"
           "    notify:\n"
           "      - { provider: webhook, url: \"" + hooks + "/fast\", on: [failed] }\n"
           "      - { provider: webhook, url: \"" + hooks + "/slow\", on: [failed] }\n";
  }

  void start_service() {
    process_ = std::make_unique<ServiceProcess>(
        bin_dir() + "/conveyor-notifier", std::vector<std::string>{"--config", dir_ + "/conveyor.yaml"},
        dir_ + "/notifier-" + std::to_string(++starts_) + ".log",
        std::map<std::string, std::string>{{"IT_SLACK_URL", slack_.url(kSlackPath)},
                                           {"IT_DISCORD_URL", discord_.url(kDiscordPath)},
                                           {"IT_HOOK_SECRET", kHookSecret},
                                           {"IT_GITHUB_TOKEN", kGitHubToken}});
    admin_port_ = process_->port("admin_port");
  }

  events::KafkaRecord record(const json& cdevent, const events::RunContext& run) const {
    return events::cdevent_record(cdevent, run, prefix_);
  }

  void publish(const std::vector<events::KafkaRecord>& records) {
    auto ok = producer_->produce_all(records);
    ASSERT_TRUE(ok.ok()) << ok.error().message;
  }

  // The value of a counter sample on /metrics, 0 when absent.
  double metric(const std::string& sample) {
    auto r = http::request("GET", "http://127.0.0.1:" + std::to_string(admin_port_) + "/metrics", {}, "");
    if (!r.ok() || r->status != 200) return -1;
    std::istringstream lines(r->body);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind(sample + " ", 0) == 0) return std::stod(line.substr(sample.size() + 1));
    }
    return 0;
  }

  std::string all_logs() const {
    std::string out;
    for (int i = 1; i <= starts_; ++i) out += read_file(dir_ + "/notifier-" + std::to_string(i) + ".log");
    return out;
  }

  void TearDown() override {
    if (process_ && process_->running()) {
      process_->kill(SIGTERM);
      const auto code = process_->wait_exit(20s);
      EXPECT_EQ(code, std::optional<int>(0)) << process_->log();
    }
    // Secrets never reach a log line.
    const std::string logs = all_logs();
    for (const std::string& secret : {std::string("slacktoken123"), std::string("discordtoken123"), kHookSecret, kGitHubToken}) {
      EXPECT_EQ(logs.find(secret), std::string::npos) << secret;
    }
  }

  std::string dir_, prefix_;
  RecordingServer slack_, discord_, hooks_, github_;
  std::unique_ptr<bus::Producer> producer_;
  std::unique_ptr<ServiceProcess> process_;
  int admin_port_ = 0, starts_ = 0;
};

TEST_F(NotifierIT, EachProviderGetsExactlyItsNotifications) {
  const auto a = run_of("imprun", "imprun/imprun.dev");
  const auto b = run_of("imprun", "imprun/imprun.dev");
  const auto c = run_of("imprun", "imprun/imprun.dev");
  const std::vector<events::KafkaRecord> records = {
      record(events::pipelinerun_finished(a, kSource, "success"), a),
      record(events::pipelinerun_finished(b, kSource, "failure", "unit tests failed: <2> & *more*"), b),
      record(events::service_deployed(c, kSource, "imprun-system/imprun", "production", "pkg:oci/imprun@sha256%3Aa"), c),
      record(events::service_rolledback(c, kSource, "imprun-system/imprun", "production", "pkg:oci/imprun@sha256%3Aa"), c),
  };
  publish(records);
  // A marker only the webhook route takes: once it arrived, everything before
  // it on the partition was handled completely.
  const auto marker = record(events::make_cdevent("dev.conveyor.version.released.0.1.0", kSource, c,
                                                  events::Subject{c.run_id, "", {{"version", "1.4.0"}}}),
                             c);
  publish({marker});
  ASSERT_TRUE(hooks_.wait_for([](const Requests& r) { return count(r, "/hooks/conveyor") == 5; }, 60s))
      << process_->log();

  // Slack: succeeded, failed, deployed, rolledback; Block Kit, mrkdwn escaped.
  const auto slack = slack_.requests(kSlackPath);
  ASSERT_EQ(slack.size(), 4u);
  std::vector<std::string> sections;
  for (const auto& r : slack) {
    EXPECT_EQ(r.header("Content-Type"), "application/json; charset=utf-8");
    sections.push_back(json::parse(r.body)["blocks"][0]["text"]["text"].get<std::string>());
  }
  EXPECT_EQ(sections, (std::vector<std::string>{
                          ":white_check_mark: *imprun: run succeeded on main*",
                          ":x: *imprun: run failed on main*\nunit tests failed: &lt;2&gt; &amp; *more*",
                          ":white_check_mark: *imprun: 1.4.0 deployed to production*",
                          ":rewind: *imprun: production rolled back*",
                      }));
  EXPECT_EQ(json::parse(slack[2].body),
            json::parse(R"js({"text": "imprun: 1.4.0 deployed to production", "blocks": [
              {"type": "section", "text": {"type": "mrkdwn", "text": ":white_check_mark: *imprun: 1.4.0 deployed to production*"}},
              {"type": "section", "fields": [
                {"type": "mrkdwn", "text": "*Repository*\nimprun/imprun.dev"},
                {"type": "mrkdwn", "text": "*Pipeline*\nimprun"},
                {"type": "mrkdwn", "text": "*Run*\n)js" + c.run_id + R"js("},
                {"type": "mrkdwn", "text": "*Version*\n1.4.0"},
                {"type": "mrkdwn", "text": "*Environment*\nproduction"},
                {"type": "mrkdwn", "text": "*Commit*\n<https://github.com/imprun/imprun.dev/commit/)js" + kSha + R"js(|0d1a26e> (main)"}]}]})js"));

  // Discord: succeeded, failed, rolledback; colour by outcome, no mentions.
  const auto discord = discord_.requests(kDiscordPath);
  ASSERT_EQ(discord.size(), 3u);
  std::vector<std::pair<std::string, int>> embeds;
  for (const auto& r : discord) {
    const json body = json::parse(r.body);
    EXPECT_EQ(body["allowed_mentions"], json::parse(R"js({"parse": []})js"));
    embeds.emplace_back(body["embeds"][0]["title"].get<std::string>(), body["embeds"][0]["color"].get<int>());
  }
  EXPECT_EQ(embeds, (std::vector<std::pair<std::string, int>>{{"imprun: run succeeded on main", 0x2EA043},
                                                               {"imprun: run failed on main", 0xCF222E},
                                                               {"imprun: production rolled back", 0xCF222E}}));
  EXPECT_EQ(json::parse(discord[1].body)["embeds"][0]["description"], "unit tests failed: <2\\> & \\*more\\*");

  // Generic webhook: the CDEvents byte for byte, signed, in order.
  const auto hooks = hooks_.requests("/hooks/conveyor");
  const std::vector<std::string> words = {"succeeded", "failed", "deployed", "rolledback", "released"};
  for (std::size_t i = 0; i < hooks.size(); ++i) {
    const auto& sent = i < records.size() ? records[i] : marker;
    EXPECT_EQ(hooks[i].body, sent.value);
    EXPECT_TRUE(github::verify_signature(hooks[i].header("X-Conveyor-Signature-256"), hooks[i].body, {kHookSecret}));
    EXPECT_EQ(hooks[i].header("X-Conveyor-Event"), words[i]);
    EXPECT_EQ(hooks[i].header("ce-id"), *sent.header("ce_id"));
    EXPECT_EQ(hooks[i].header("ce-type"), *sent.header("ce_type"));
  }

  // GitHub commit statuses: the two finished runs.
  const auto statuses = github_.requests(kStatusPath);
  ASSERT_EQ(statuses.size(), 2u);
  for (const auto& r : statuses) {
    EXPECT_EQ(r.header("Authorization"), "Bearer " + kGitHubToken);
    EXPECT_EQ(r.header("Accept"), "application/vnd.github+json");
    EXPECT_EQ(r.header("X-GitHub-Api-Version"), "2022-11-28");
  }
  EXPECT_EQ(json::parse(statuses[0].body),
            json::parse(R"js({"state": "success", "target_url": "https://github.com/imprun/imprun.dev/commit/)js" + kSha +
                        R"js(", "description": "imprun: run succeeded on main", "context": "conveyor/imprun"})js"));
  EXPECT_EQ(json::parse(statuses[1].body)["state"], "failure");

  // GitHub deployments: one deployment for run c, then its two statuses.
  const auto created = github_.requests(kDeploymentsPath);
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(json::parse(created[0].body),
            json::parse(R"js({"ref": ")js" + kSha + R"js(", "environment": "production", "description": "imprun run )js" +
                        c.run_id + R"js(", "auto_merge": false, "required_contexts": [],
                        "payload": {"run_id": ")js" + c.run_id + R"js(", "pipeline": "imprun", "version": "1.4.0"}})js"));
  const auto deployment_statuses = github_.requests(kDeploymentStatusPath);
  ASSERT_EQ(deployment_statuses.size(), 2u);
  EXPECT_EQ(json::parse(deployment_statuses[0].body)["state"], "success");
  EXPECT_EQ(json::parse(deployment_statuses[1].body)["state"], "failure");
  EXPECT_EQ(deployment_statuses[1].header("Authorization"), "Bearer " + kGitHubToken);

  EXPECT_EQ(metric(R"js(conveyor_notifier_notifications_total{outcome="sent",provider="slack"})js"), 4);
  EXPECT_EQ(metric(R"js(conveyor_notifier_failures_total{provider="webhook"})js"), 0);
}

TEST_F(NotifierIT, AFailingRouteIsDeadLetteredInBoundedTimeWhileTheOthersGoOut) {
  auto dlq = bus::Reader::open({kafka_brokers(), prefix_ + ".dlq", /*from_beginning=*/true});
  ASSERT_TRUE(dlq.ok()) << dlq.error().message;
  const auto run = run_of("broken", "broken/app");
  const auto failed = record(events::pipelinerun_finished(run, kSource, "failure", "boom"), run);
  const auto start = std::chrono::steady_clock::now();
  publish({failed});

  std::vector<events::KafkaRecord> dead;
  ASSERT_TRUE(collect_until(**dlq, dead, [](const auto& v) { return v.size() >= 2; }, 60s)) << process_->log();
  const auto elapsed = std::chrono::steady_clock::now() - start;
  // 500 forever: 4 tries with 0.5 + 1 + 2 s of backoff; the 3600 s Retry-After is never waited for.
  EXPECT_LT(elapsed, 30s);
  EXPECT_EQ(count(hooks_.requests(), "/always-500"), 4u);
  EXPECT_EQ(count(hooks_.requests(), "/rate-limited"), 1u);
  // The route that works got its message.
  ASSERT_TRUE(slack_.wait_for([](const Requests& r) { return r.size() == 1; }, 10s));
  EXPECT_EQ(json::parse(slack_.requests()[0].body)["text"], "broken: run failed on main");

  std::map<std::string, events::KafkaRecord> by_route;
  for (const auto& r : dead) by_route[*r.header("conveyor-notify-route")] = r;
  ASSERT_EQ(by_route.size(), 2u);
  const auto& five_hundred = by_route.at("broken.notify[0]");
  EXPECT_EQ(five_hundred.value, failed.value);
  EXPECT_EQ(five_hundred.key, "broken/app");
  EXPECT_EQ(*five_hundred.header("conveyor-notify-provider"), "webhook");
  EXPECT_EQ(*five_hundred.header("conveyor-error-code"), "unavailable");
  EXPECT_EQ(*five_hundred.header("conveyor-original-topic"), prefix_ + ".events");
  EXPECT_NE(five_hundred.header("conveyor-error")->find("HTTP 500 after 4 attempts"), std::string::npos)
      << *five_hundred.header("conveyor-error");
  EXPECT_NE(by_route.at("broken.notify[1]").header("conveyor-error")->find("Retry-After 3600 s exceeds the cap"),
            std::string::npos);

  EXPECT_EQ(metric(R"js(conveyor_notifier_failures_total{provider="webhook"})js"), 2);
  EXPECT_EQ(metric(R"js(conveyor_notifier_notifications_total{outcome="sent",provider="slack"})js"), 1);
}

TEST_F(NotifierIT, RedeliveryAndRepublishingSendNothingTwice) {
  const auto run = run_of("slow", "slow/app");
  const auto failed = record(events::pipelinerun_finished(run, kSource, "failure"), run);
  publish({failed});
  // The fast route went out; the slow one is in flight (answered after 4 s).
  ASSERT_TRUE(hooks_.wait_for([](const Requests& r) { return count(r, "/fast") == 1 && count(r, "/slow") == 1; }, 60s))
      << process_->log();
  // Killed before the event was committed: the restarted service (same
  // consumer group) gets it again.
  process_->kill(SIGKILL);
  ASSERT_TRUE(process_->wait_exit(10s));
  start_service();
  ASSERT_TRUE(hooks_.wait_for([](const Requests& r) { return count(r, "/slow") == 2; }, 90s)) << process_->log();

  // The same event published again, then a marker on the same partition.
  const auto marker_run = run_of("slow", "slow/app");
  publish({failed, record(events::pipelinerun_finished(marker_run, kSource, "failure"), marker_run)});
  ASSERT_TRUE(hooks_.wait_for([](const Requests& r) { return count(r, "/fast") == 2 && count(r, "/slow") == 3; }, 60s))
      << process_->log();
  const auto fast = hooks_.requests("/fast");
  EXPECT_EQ(fast[0].body, failed.value);   // once, though handled three times
  EXPECT_NE(fast[1].body, failed.value);   // the marker
  const auto slow = hooks_.requests("/slow");
  EXPECT_EQ(slow[0].body, failed.value);   // cut short by the kill
  EXPECT_EQ(slow[1].body, failed.value);   // redelivered, sent, recorded
  EXPECT_NE(slow[2].body, failed.value);   // the marker: the republished event was not sent again
  EXPECT_EQ(slow[0].header("X-Conveyor-Delivery"), slow[1].header("X-Conveyor-Delivery"));  // receivers can dedupe
}

TEST_F(NotifierIT, ServesAdminEndpointsAndStopsCleanly) {
  const auto ready = http::request("GET", "http://127.0.0.1:" + std::to_string(admin_port_) + "/readyz", {}, "");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->status, 200) << ready->body;
  process_->kill(SIGTERM);
  EXPECT_EQ(process_->wait_exit(20s), std::optional<int>(0)) << process_->log();
}

}  // namespace
}  // namespace conveyor::testing
