// services/notifier/providers/*: the exact payload each provider builds from
// a sample event, and what a local HTTP server standing in for Slack,
// Discord, GitHub or a webhook receiver gets (method, path, headers, body).
#include <gtest/gtest.h>

#include <mutex>

#include "conveyor/github/signature.hpp"
#include "handler.hpp"
#include "provider.hpp"
#include "providers/discord.hpp"
#include "providers/github_deployment.hpp"
#include "providers/github_status.hpp"
#include "providers/slack.hpp"
#include "providers/webhook.hpp"
#include "recording_server.hpp"
#include "sample.hpp"
#include "text.hpp"

namespace conveyor::notifier {
namespace {

using nlohmann::json;
using namespace test;
using testing::RecordingServer;

const std::string kSha = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c";
const std::string kRun = "5f0c7a2e-8a51-4c1e-9b7d-2f1e3c4d5a6b";
const std::string kCommitUrl = "https://github.com/imprun/imprun.dev/commit/" + kSha;

// The one notification `record` makes for a route of `provider` on `word`.
Notification notification(const events::KafkaRecord& record, const std::string& provider, const std::string& word) {
  json route = {{"provider", provider}, {"on", {word}}};
  if (provider != "github-status" && provider != "github-deployment") route["url"] = "http://unused";
  const auto routes = routes_of({imprun_pipeline(json::array({route}))});
  auto event = decode_event(record);
  EXPECT_TRUE(event.ok());
  auto notes = plan(*event, routes);
  EXPECT_EQ(notes.size(), 1u);
  return notes.empty() ? Notification{} : notes[0];
}

// A client that does not wait between tries (the policy has its own tests).
webclient::Client quick_client(std::vector<std::string> secrets = {}, int attempts = 1) {
  webclient::Options o;
  o.retry.max_attempts = attempts;
  o.retry.initial_backoff = std::chrono::milliseconds(1);
  o.secrets = std::move(secrets);
  return webclient::Client(o);
}

// Slack -----------------------------------------------------------------------

TEST(Slack, DeployedPayload) {
  const json expected = json::parse(R"js({
    "text": "imprun: 1.4.0 deployed to production",
    "blocks": [
      {"type": "section", "text": {"type": "mrkdwn", "text": ":white_check_mark: *imprun: 1.4.0 deployed to production*"}},
      {"type": "section", "fields": [
        {"type": "mrkdwn", "text": "*Repository*\nimprun/imprun.dev"},
        {"type": "mrkdwn", "text": "*Pipeline*\nimprun"},
        {"type": "mrkdwn", "text": "*Run*\n5f0c7a2e-8a51-4c1e-9b7d-2f1e3c4d5a6b"},
        {"type": "mrkdwn", "text": "*Version*\n1.4.0"},
        {"type": "mrkdwn", "text": "*Environment*\nproduction"},
        {"type": "mrkdwn", "text": "*Commit*\n<https://github.com/imprun/imprun.dev/commit/0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c|0d1a26e> (main)"}
      ]}
    ]
  })js");
  EXPECT_EQ(SlackProvider::payload(notification(deployed(), "slack", "deployed")), expected);
}

TEST(Slack, FailureDetailIsEscapedAndCutToTheSectionLimit) {
  const std::string errors = "build <failed> & <!channel> " + std::string(5000, 'x');
  const json p = SlackProvider::payload(notification(finished("failure", errors), "slack", "failed"));
  const std::string section = p["blocks"][0]["text"]["text"];
  EXPECT_EQ(section.rfind(":x: *imprun: run failed on main*\nbuild &lt;failed&gt; &amp; &lt;!channel&gt; xxx", 0), 0u)
      << section.substr(0, 120);
  EXPECT_EQ(text::length(section), kSlackMaxSectionText);
  EXPECT_EQ(section.substr(section.size() - 3), text::kEllipsis);
  EXPECT_LE(p["blocks"].size(), kSlackMaxBlocks);
  EXPECT_LE(p["blocks"][1]["fields"].size(), kSlackMaxFields);
}

TEST(Slack, LongFieldsStayWithinTheFieldLimitAndValidUtf8) {
  Notification n = notification(deployed(), "slack", "deployed");
  n.environment = std::string(1999, 'e') + "\xE2\x82\xAC\xE2\x82\xAC";  // € at the cut
  const json p = SlackProvider::payload(n);
  for (const auto& f : p["blocks"][1]["fields"]) {
    const std::string t = f["text"];
    EXPECT_LE(text::length(t), kSlackMaxFieldText);
    EXPECT_EQ(text::valid_utf8(t), t);
  }
}

TEST(Slack, PostsTheJsonToTheWebhookUrl) {
  RecordingServer slack;
  slack.on("POST", "/services/T000/B000/XXXX", {{200, "ok"}});
  slack.start();
  const auto client = quick_client();
  SlackProvider provider(slack.url("/services/T000/B000/XXXX"), client);
  const Notification n = notification(rolledback(), "slack", "rolledback");
  ASSERT_TRUE(provider.post(n).ok());
  const auto got = slack.requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].method, "POST");
  EXPECT_EQ(got[0].header("Content-Type"), "application/json; charset=utf-8");
  EXPECT_EQ(json::parse(got[0].body), SlackProvider::payload(n));
  EXPECT_EQ(json::parse(got[0].body)["blocks"][0]["text"]["text"], ":rewind: *imprun: production rolled back*");
}

TEST(Slack, ErrorsNeverShowTheWebhookToken) {
  RecordingServer slack;
  const std::string path = "/services/T000/B000/SECRETTOKEN123";
  slack.on("POST", path, {{404, "no_service for " + path}});
  slack.start();
  // The route's URL is a secret: the client redacts it and its path.
  Route route;
  route.spec = {{"url-secret", {{"env", "SLACK_URL"}}}};
  ProviderSettings settings;
  settings.url = slack.url(path);
  const auto client = quick_client(secrets_of(settings, route));
  SlackProvider provider(settings.url, client);
  auto sent = provider.post(notification(deployed(), "slack", "deployed"));
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.error().code, Errc::not_found);
  EXPECT_EQ(sent.error().message.find("SECRETTOKEN123"), std::string::npos) << sent.error().message;
  EXPECT_NE(sent.error().message.find("HTTP 404"), std::string::npos) << sent.error().message;
}

// Discord ---------------------------------------------------------------------

TEST(Discord, FailedPayload) {
  const json expected = json::parse(R"js({
    "embeds": [{
      "title": "imprun: run failed on main",
      "url": "https://github.com/imprun/imprun.dev/commit/0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
      "color": 13574702,
      "description": "step \\*unit\\* failed: @\u200beveryone look at \\`make test\\`",
      "fields": [
        {"name": "Repository", "value": "imprun/imprun.dev", "inline": true},
        {"name": "Run", "value": "5f0c7a2e-8a51-4c1e-9b7d-2f1e3c4d5a6b", "inline": true},
        {"name": "Version", "value": "1.4.0", "inline": true},
        {"name": "Environment", "value": "production", "inline": true},
        {"name": "Commit", "value": "[0d1a26e](https://github.com/imprun/imprun.dev/commit/0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c) (main)", "inline": true}
      ],
      "footer": {"text": "conveyor run 5f0c7a2e-8a51-4c1e-9b7d-2f1e3c4d5a6b"},
      "author": {"name": "imprun"},
      "timestamp": "2026-11-29T19:02:36.123Z"
    }],
    "allowed_mentions": {"parse": []}
  })js");
  const Notification n =
      notification(finished("failure", "step *unit* failed: @everyone look at `make test`"), "discord", "failed");
  EXPECT_EQ(DiscordProvider::payload(n), expected);
}

TEST(Discord, ColourFollowsTheOutcome) {
  EXPECT_EQ(DiscordProvider::payload(notification(finished("success"), "discord", "succeeded"))["embeds"][0]["color"],
            kDiscordSuccess);
  EXPECT_EQ(DiscordProvider::payload(notification(finished("error"), "discord", "failed"))["embeds"][0]["color"],
            kDiscordError);
  EXPECT_EQ(DiscordProvider::payload(notification(rolledback(), "discord", "rolledback"))["embeds"][0]["color"],
            kDiscordFailure);
  const events::RunContext run = sample_run();
  const auto started = record_of(events::pipelinerun_started(run, kSource), run, "s");
  EXPECT_EQ(DiscordProvider::payload(notification(started, "discord", "started"))["embeds"][0]["color"],
            kDiscordPending);
}

TEST(Discord, EveryEmbedLimitHolds) {
  Notification n = notification(finished("failure"), "discord", "failed");
  const std::string rockets = [] {
    std::string s;
    for (int i = 0; i < 3000; ++i) s += "\xF0\x9F\x9A\x80";  // 2 units each
    return s;
  }();
  n.title = rockets;
  n.detail = rockets + rockets;
  n.pipeline = rockets;
  n.run_id = rockets;
  n.environment = rockets;
  n.version = std::string(2000, '*');
  const json embed = DiscordProvider::payload(n)["embeds"][0];
  auto len = [](const json& s) { return text::length(s.get<std::string>()); };
  EXPECT_LE(len(embed["title"]), kDiscordMaxTitle);
  EXPECT_LE(len(embed["description"]), kDiscordMaxDescription);
  EXPECT_LE(len(embed["footer"]["text"]), kDiscordMaxFooter);
  EXPECT_LE(len(embed["author"]["name"]), kDiscordMaxAuthor);
  EXPECT_LE(embed["fields"].size(), kDiscordMaxFields);
  std::size_t total = len(embed["title"]) + len(embed["description"]) + len(embed["footer"]["text"]) +
                      len(embed["author"]["name"]);
  for (const auto& f : embed["fields"]) {
    EXPECT_LE(len(f["name"]), kDiscordMaxFieldName);
    EXPECT_LE(len(f["value"]), kDiscordMaxFieldValue);
    total += len(f["name"]) + len(f["value"]);
    const std::string v = f["value"];
    EXPECT_EQ(text::valid_utf8(v), v);
  }
  EXPECT_LE(total, kDiscordMaxTotal);
  const std::string title = embed["title"];
  EXPECT_EQ(text::valid_utf8(title), title);
}

TEST(Discord, PostsTheJsonToTheWebhookUrl) {
  RecordingServer discord;
  discord.on("POST", "/api/webhooks/1/tok", {{204, ""}});
  discord.start();
  const auto client = quick_client();
  DiscordProvider provider(discord.url("/api/webhooks/1/tok"), client);
  const Notification n = notification(deployed(), "discord", "deployed");
  ASSERT_TRUE(provider.post(n).ok());
  const auto got = discord.requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].header("Content-Type"), "application/json");
  EXPECT_EQ(json::parse(got[0].body), DiscordProvider::payload(n));
}

// Generic webhook -------------------------------------------------------------

TEST(Webhook, SendsTheCDEventSignedWithCloudEventsHeaders) {
  RecordingServer receiver;
  receiver.on("POST", "/hooks/conveyor", {{202, ""}});
  receiver.start();
  const auto client = quick_client();
  WebhookProvider provider(receiver.url("/hooks/conveyor"), "hook-secret", client);
  const auto record = deployed();
  const Notification n = notification(record, "webhook", "deployed");
  ASSERT_TRUE(provider.post(n).ok());
  const auto got = receiver.requests();
  ASSERT_EQ(got.size(), 1u);
  const auto& r = got[0];
  EXPECT_EQ(r.body, record.value);  // the CDEvent byte for byte
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  EXPECT_EQ(r.header("ce-specversion"), "1.0");
  EXPECT_EQ(r.header("ce-id"), "evt-deployed");
  EXPECT_EQ(r.header("ce-type"), "dev.cdevents.service.deployed.0.3.0");
  EXPECT_EQ(r.header("ce-source"), "/conveyor/deployer");
  EXPECT_EQ(r.header("ce-time"), "2026-11-29T19:02:36.123Z");
  EXPECT_EQ(r.header("ce-subject"), "imprun-system/imprun");
  EXPECT_EQ(r.header("X-Conveyor-Event"), "deployed");
  EXPECT_EQ(r.header("X-Conveyor-Delivery"), n.key);
  EXPECT_EQ(r.header("X-Conveyor-Signature-256"), "sha256=" + github::hmac_sha256_hex("hook-secret", r.body));
  EXPECT_TRUE(github::verify_signature(r.header("X-Conveyor-Signature-256"), r.body, {"hook-secret"}));
  EXPECT_FALSE(github::verify_signature(r.header("X-Conveyor-Signature-256"), r.body, {"another"}));
}

TEST(Webhook, WithoutASecretSendsNoSignature) {
  const auto client = quick_client();
  WebhookProvider provider("http://127.0.0.1:1/x", "", client);
  const auto request = provider.request(notification(deployed(), "webhook", "deployed"));
  EXPECT_EQ(request.headers.count("X-Conveyor-Signature-256"), 0u);
}

// GitHub commit status ----------------------------------------------------------

TEST(GitHubStatus, PayloadsAndContexts) {
  EXPECT_EQ(GitHubStatusProvider::payload(notification(finished("failure"), "github-status", "failed")),
            json::parse(R"js({"state": "failure",
                            "target_url": "https://github.com/imprun/imprun.dev/commit/0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
                            "description": "imprun: run failed on main",
                            "context": "conveyor/imprun"})js"));
  const events::RunContext run = sample_run();
  const auto started = record_of(events::pipelinerun_started(run, kSource), run, "s");
  EXPECT_EQ(GitHubStatusProvider::payload(notification(started, "github-status", "started"))["state"], "pending");
  EXPECT_EQ(GitHubStatusProvider::payload(notification(finished("error"), "github-status", "failed"))["state"], "error");
  EXPECT_EQ(GitHubStatusProvider::context(notification(deployed(), "github-status", "deployed")),
            "conveyor/imprun/deploy (production)");
  Notification long_title = notification(finished("success"), "github-status", "succeeded");
  long_title.title = std::string(500, 'x');
  EXPECT_EQ(text::length(GitHubStatusProvider::payload(long_title)["description"].get<std::string>()), 140u);
}

TEST(GitHubStatus, PostsToTheCommitWithTheRestHeaders) {
  RecordingServer github;
  const std::string path = "/api/v3/repos/imprun/imprun.dev/statuses/" + kSha;
  github.on("POST", path, {{201, R"js({"id": 1})js", {}, "application/json"}});
  github.start();
  const auto client = quick_client();
  GitHubStatusProvider provider(github.url("/api/v3"), "ghs_token", client);
  const Notification n = notification(finished("success"), "github-status", "succeeded");
  ASSERT_TRUE(provider.post(n).ok());
  const auto got = github.requests(path);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].method, "POST");
  EXPECT_EQ(got[0].header("Authorization"), "Bearer ghs_token");
  EXPECT_EQ(got[0].header("Accept"), "application/vnd.github+json");
  EXPECT_EQ(got[0].header("X-GitHub-Api-Version"), "2022-11-28");
  EXPECT_EQ(got[0].header("Content-Type"), "application/json");
  EXPECT_EQ(json::parse(got[0].body), json::parse(R"js({"state": "success",
      "target_url": "https://github.com/imprun/imprun.dev/commit/0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
      "description": "imprun: run succeeded on main", "context": "conveyor/imprun"})js"));
}

// GitHub deployments ------------------------------------------------------------

class MemoryDeploymentIds final : public DeploymentIds {
 public:
  Result<std::optional<std::string>> find(const std::string& key) override {
    std::lock_guard lock(mu);
    auto it = ids.find(key);
    if (it == ids.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  Result<void> save(const std::string& key, const std::string& id) override {
    std::lock_guard lock(mu);
    ids[key] = id;
    return {};
  }
  std::mutex mu;
  std::map<std::string, std::string> ids;
};

TEST(GitHubDeployment, CreatesOneDeploymentPerRunAndEnvironmentThenAddsStatuses) {
  RecordingServer github;
  const std::string deployments = "/repos/imprun/imprun.dev/deployments";
  const std::string statuses = deployments + "/42/statuses";
  github.on("POST", deployments, {{201, R"js({"id": 42, "sha": "x"})js", {}, "application/json"}});
  github.on("POST", statuses, {{201, R"js({"id": 7})js", {}, "application/json"}});
  github.start();
  const auto client = quick_client();
  MemoryDeploymentIds ids;
  GitHubDeploymentProvider provider(github.url(), "ghs_token", client, ids);

  ASSERT_TRUE(provider.post(notification(deployed(), "github-deployment", "deployed")).ok());
  ASSERT_TRUE(provider.post(notification(rolledback(), "github-deployment", "rolledback")).ok());

  const auto created = github.requests(deployments);
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(created[0].header("Authorization"), "Bearer ghs_token");
  EXPECT_EQ(created[0].header("Accept"), "application/vnd.github+json");
  EXPECT_EQ(created[0].header("X-GitHub-Api-Version"), "2022-11-28");
  EXPECT_EQ(json::parse(created[0].body), json::parse(R"js({
      "ref": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
      "environment": "production",
      "description": "imprun run 5f0c7a2e-8a51-4c1e-9b7d-2f1e3c4d5a6b",
      "auto_merge": false,
      "required_contexts": [],
      "payload": {"run_id": "5f0c7a2e-8a51-4c1e-9b7d-2f1e3c4d5a6b", "pipeline": "imprun", "version": "1.4.0"}})js"));

  const auto status = github.requests(statuses);
  ASSERT_EQ(status.size(), 2u);
  EXPECT_EQ(json::parse(status[0].body), json::parse(R"js({"state": "success",
      "log_url": "https://github.com/imprun/imprun.dev/commit/0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
      "description": "imprun: 1.4.0 deployed to production"})js"));
  EXPECT_EQ(json::parse(status[1].body)["state"], "failure");
  EXPECT_EQ(status[1].header("Authorization"), "Bearer ghs_token");
  EXPECT_EQ(ids.ids.at("imprun/imprun.dev:" + kRun + ":production"), "42");
}

TEST(GitHubDeployment, RefusesAnAnswerWithoutAUsableId) {
  RecordingServer github;
  github.on("POST", "/repos/imprun/imprun.dev/deployments", {{201, R"js({"id": "../../x"})js", {}, "application/json"}});
  github.start();
  const auto client = quick_client();
  MemoryDeploymentIds ids;
  GitHubDeploymentProvider provider(github.url(), "t", client, ids);
  auto sent = provider.post(notification(deployed(), "github-deployment", "deployed"));
  ASSERT_FALSE(sent.ok());
  EXPECT_TRUE(ids.ids.empty());
}

// Factory and settings ------------------------------------------------------------

TEST(Factory, ResolvesSecretsAndBuildsEachProvider) {
  const json notify = json::array({
      {{"provider", "slack"}, {"url-secret", {{"env", "SLACK_URL"}}}, {"on", {"failed"}}},
      {{"provider", "webhook"}, {"url", "http://hooks.local/x"}, {"secret", {{"file", "/run/secrets/hook"}}}, {"on", {"failed"}}},
      {{"provider", "github-status"}, {"on", {"failed"}}},
  });
  const auto routes = routes_of({imprun_pipeline(notify)});
  config::GitHubSettings github;
  github.api_url = "http://ghe.local/api/v3/";
  github.token = config::SecretRef{"GH_TOKEN", ""};
  const SecretResolver resolve = [](const config::SecretRef& ref) -> Result<std::string> {
    if (ref.env == "SLACK_URL") return std::string("https://hooks.slack.com/services/T1/B2/TOKEN3");
    if (ref.file == "/run/secrets/hook") return std::string("hook-secret");
    if (ref.env == "GH_TOKEN") return std::string("ghp_token");
    return make_error(Errc::not_found, "unset " + ref.describe());
  };
  auto slack = resolve_settings(routes[0], github, resolve);
  ASSERT_TRUE(slack.ok()) << slack.error().message;
  EXPECT_EQ(slack->url, "https://hooks.slack.com/services/T1/B2/TOKEN3");
  EXPECT_EQ(secrets_of(*slack, routes[0]),
            (std::vector<std::string>{"https://hooks.slack.com/services/T1/B2/TOKEN3", "/services/T1/B2/TOKEN3"}));
  auto hook = resolve_settings(routes[1], github, resolve);
  ASSERT_TRUE(hook.ok());
  EXPECT_EQ(hook->url, "http://hooks.local/x");
  EXPECT_EQ(hook->secret, "hook-secret");
  EXPECT_EQ(secrets_of(*hook, routes[1]), std::vector<std::string>{"hook-secret"});  // a plain url is no secret
  auto status = resolve_settings(routes[2], github, resolve);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->api_url, "http://ghe.local/api/v3");
  EXPECT_EQ(status->token, "ghp_token");

  const auto client = quick_client();
  MemoryDeploymentIds ids;
  for (const auto& s : {*slack, *hook, *status}) EXPECT_TRUE(make_provider(s, client, &ids).ok()) << s.provider;
  ProviderSettings unknown;
  unknown.provider = "teams";
  unknown.url = "http://x";
  EXPECT_EQ(make_provider(unknown, client, &ids).error().code, Errc::invalid_argument);
  ProviderSettings deployment = *status;
  deployment.provider = "github-deployment";
  EXPECT_FALSE(make_provider(deployment, client, nullptr).ok());
}

TEST(Factory, AnUnresolvableSecretNamesTheReferenceNotAValue) {
  const auto routes = routes_of({imprun_pipeline(
      json::array({{{"provider", "discord"}, {"url-secret", {{"env", "DISCORD_URL"}}}, {"on", {"failed"}}}}))});
  const SecretResolver resolve = [](const config::SecretRef& ref) -> Result<std::string> {
    return make_error(Errc::not_found, "environment variable " + ref.env + " is not set");
  };
  auto s = resolve_settings(routes[0], config::GitHubSettings{}, resolve);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("imprun.notify[0].url-secret (env:DISCORD_URL)"), std::string::npos)
      << s.error().message;
}

}  // namespace
}  // namespace conveyor::notifier
