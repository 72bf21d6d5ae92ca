#include "conveyor/config/config.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

namespace cfg = conveyor::config;
using namespace std::chrono_literals;

namespace {

std::string source_dir() {
  const char* dir = std::getenv("CONVEYOR_SOURCE_DIR");
  return dir ? dir : std::filesystem::path(__FILE__).parent_path().parent_path().parent_path().parent_path().string();
}

std::string schema_path() { return source_dir() + "/schemas/conveyor.schema.json"; }

// The DESIGN.md sketch in our keys, plus suite settings.
const char* kSketch = R"(
kafka:
  brokers: kafka-0:9092,kafka-1:9092
  topic-prefix: cd
  max-poll-interval: 15m
  max-attempts: 5
redis:
  url: redis://redis:6379/2
  timeout: 500ms
registry: registry.example.com:5000
webhook:
  listen: 0.0.0.0:9000
  secrets: [{env: HOOK_SECRET}, {file: /run/secrets/old-hook}]
  max-body-bytes: 1048576
  dedupe-ttl: 2h
  threads: 4
admin: { listen: "127.0.0.1:0" }
github: { api-url: "http://127.0.0.1:8999", token: { env: GH_TOKEN } }
pipelines:
  - name: imprun
    repository: imprun/imprun.dev          # GitHub full name
    clone-url: https://github.com/imprun/imprun.dev.git
    triggers:
      push: { branches: [main, "release/**"], tags: ["v*"] }           # full pipeline
      pull-request: { branches: [main], stages: [test] }
    test:
      steps:
        - name: server unit tests
          working-directory: server
          run: pnpm install --frozen-lockfile && pnpm test
          env: { NODE_ENV: test }
          timeout: 10m
      junit: ["server/reports/*.xml"]
    version: { tag-prefix: v, changelog: CHANGELOG.md, prerelease-branches: [beta] }
    images:
      - name: imprun-server
        context: server
        dockerfile: server/Dockerfile
        platforms: [linux/amd64, linux/arm64]
        repository: registry.example.com/imprun/imprun-server
        tags: ["{{version}}", "{{sha}}", latest]
    values:
      repository: https://github.com/imprun/imprun.dev.git
      file: k8s/imprun/values-production.yaml
      set: { imprun-server.image.tag: "{{version}}" }
    deploy:
      environment: production
      helm: { release: imprun, namespace: imprun-system, chart: k8s/imprun, timeout: 10m }
    verify:
      settle: 30s
      http:
        - url: http://imprun-imprun-server.imprun-system.svc/v1/health/liveness
          retries: 5
          interval: 10s
      prometheus:
        - url: http://prometheus:9090
          query: sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))
          max: 0.01
      on-failure: rollback
    notify:
      - { provider: slack, url-secret: { env: SLACK_WEBHOOK_URL }, on: [deployed, failed, rolledback] }
  - name: docs
    repository: imprun/docs
    test:
      steps: [{ run: make check }]
)";

cfg::Config must_parse(const std::string& yaml) {
  auto result = cfg::parse(yaml, schema_path(), "test.yaml");
  if (auto* error = std::get_if<cfg::LoadError>(&result)) {
    ADD_FAILURE() << "expected the config to load, got:\n" << error->to_string();
    return {};
  }
  return std::get<cfg::Config>(std::move(result));
}

cfg::LoadError must_fail(const std::string& yaml) {
  auto result = cfg::parse(yaml, schema_path(), "test.yaml");
  if (std::holds_alternative<cfg::Config>(result)) {
    ADD_FAILURE() << "expected the config to be rejected:\n" << yaml;
    return {};
  }
  return std::get<cfg::LoadError>(std::move(result));
}

// The message of the single issue at `path`, or "" (and a failure) if there
// is not exactly one.
std::string message_at(const cfg::LoadError& error, const std::string& path) {
  std::vector<std::string> found;
  for (const auto& issue : error.issues) {
    if (issue.path == path) found.push_back(issue.message);
  }
  if (found.size() != 1) {
    ADD_FAILURE() << found.size() << " issues at '" << path << "', expected 1; all:\n" << error.to_string();
    return "";
  }
  return found[0];
}

// A minimal valid pipeline, to which tests add one mistake.
std::string with_pipeline(const std::string& body) {
  return "pipelines:\n  - name: app\n    repository: acme/app\n" + body;
}

}  // namespace

// ----- a valid file -----

TEST(ConfigLoad, SketchLoadsWithTypedValues) {
  const cfg::Config c = must_parse(kSketch);
  EXPECT_EQ(c.kafka.brokers, "kafka-0:9092,kafka-1:9092");
  EXPECT_EQ(c.kafka.topic_prefix, "cd");
  EXPECT_EQ(c.kafka.max_poll_interval, 15min);
  EXPECT_EQ(c.kafka.max_attempts, 5);
  EXPECT_EQ(c.redis.url, "redis://redis:6379/2");
  EXPECT_EQ(c.redis.timeout, 500ms);
  EXPECT_EQ(c.registry, "registry.example.com:5000");
  EXPECT_EQ(c.webhook.listen, "0.0.0.0:9000");
  ASSERT_EQ(c.webhook.secrets.size(), 2u);
  EXPECT_EQ(c.webhook.secrets[0].env, "HOOK_SECRET");
  EXPECT_EQ(c.webhook.secrets[0].file, "");
  EXPECT_EQ(c.webhook.secrets[1].file, "/run/secrets/old-hook");
  EXPECT_EQ(c.webhook.max_body_bytes, 1048576u);
  EXPECT_EQ(c.webhook.dedupe_ttl, 2h);
  EXPECT_EQ(c.webhook.threads, 4);
  EXPECT_EQ(c.admin.listen, "127.0.0.1:0");
  EXPECT_EQ(c.github.api_url, "http://127.0.0.1:8999");
  ASSERT_TRUE(c.github.token.has_value());
  EXPECT_EQ(c.github.token->describe(), "env:GH_TOKEN");

  ASSERT_EQ(c.pipelines.size(), 2u);
  const cfg::Pipeline& p = c.pipelines[0];
  EXPECT_EQ(p.name, "imprun");
  EXPECT_EQ(p.repository, "imprun/imprun.dev");
  EXPECT_EQ(p.clone_url, "https://github.com/imprun/imprun.dev.git");
  ASSERT_TRUE(p.triggers.push.has_value());
  EXPECT_EQ(p.triggers.push->branches, (std::vector<std::string>{"main", "release/**"}));
  EXPECT_EQ(p.triggers.push->tags, (std::vector<std::string>{"v*"}));
  EXPECT_TRUE(p.triggers.push->stages.empty());
  ASSERT_TRUE(p.triggers.pull_request.has_value());
  EXPECT_EQ(p.triggers.pull_request->branches, (std::vector<std::string>{"main"}));
  EXPECT_EQ(p.triggers.pull_request->stages, (std::vector<std::string>{"test"}));

  EXPECT_EQ(p.configured_stages(),
            (std::vector<std::string>{"test", "version", "build", "helm", "deploy", "verify"}));
  // Stage settings are keyed by stage name, as written.
  EXPECT_EQ(p.stage_settings["test"]["steps"][0]["working-directory"], "server");
  EXPECT_EQ(p.stage_settings["test"]["steps"][0]["timeout"], "10m");
  EXPECT_EQ(p.stage_settings["test"]["steps"][0]["env"]["NODE_ENV"], "test");
  EXPECT_EQ(p.stage_settings["version"]["tag-prefix"], "v");
  ASSERT_TRUE(p.stage_settings["build"].is_array());
  EXPECT_EQ(p.stage_settings["build"][0]["tags"][2], "latest");
  EXPECT_EQ(p.stage_settings["helm"]["set"]["imprun-server.image.tag"], "{{version}}");
  EXPECT_EQ(p.stage_settings["deploy"]["helm"]["release"], "imprun");
  EXPECT_EQ(p.stage_settings["verify"]["http"][0]["retries"], 5);
  EXPECT_DOUBLE_EQ(p.stage_settings["verify"]["prometheus"][0]["max"].get<double>(), 0.01);
  EXPECT_FALSE(p.stage_settings.contains("images"));
  EXPECT_FALSE(p.stage_settings.contains("values"));
  ASSERT_EQ(p.notify.size(), 1u);
  EXPECT_EQ(p.notify[0]["provider"], "slack");

  const cfg::Pipeline& docs = c.pipelines[1];
  EXPECT_EQ(docs.clone_url, "https://github.com/imprun/docs.git");  // default
  EXPECT_FALSE(docs.triggers.push.has_value());
  EXPECT_EQ(docs.configured_stages(), (std::vector<std::string>{"test"}));
  EXPECT_TRUE(docs.notify.is_array());
  EXPECT_TRUE(docs.notify.empty());

  EXPECT_EQ(c.raw["pipelines"][0]["name"], "imprun");
}

TEST(ConfigLoad, DefaultsWhenSuiteSettingsAreOmitted) {
  const cfg::Config c = must_parse(with_pipeline("    test: { steps: [{ run: 'true' }] }\n"));
  const cfg::KafkaSettings kafka;
  EXPECT_EQ(c.kafka.brokers, kafka.brokers);
  EXPECT_EQ(c.kafka.max_poll_interval, 600s);
  EXPECT_EQ(c.redis.url, "redis://127.0.0.1:16379");
  EXPECT_EQ(c.registry, "");
  EXPECT_TRUE(c.webhook.secrets.empty());
  EXPECT_EQ(c.webhook.dedupe_ttl, std::chrono::hours(24 * 7));
  EXPECT_EQ(c.github.api_url, "https://api.github.com");
  EXPECT_FALSE(c.github.token.has_value());
}

TEST(ConfigLoad, ExampleFileLoads) {
  auto result = cfg::load(source_dir() + "/deploy/conveyor.example.yaml", schema_path());
  ASSERT_TRUE(std::holds_alternative<cfg::Config>(result)) << std::get<cfg::LoadError>(result).to_string();
  const auto& c = std::get<cfg::Config>(result);
  ASSERT_EQ(c.pipelines.size(), 1u);
  EXPECT_EQ(c.pipelines[0].configured_stages().size(), 6u);
  EXPECT_EQ(c.webhook.dedupe_ttl, std::chrono::hours(24 * 7));
  EXPECT_EQ(c.webhook.secrets.at(0).describe(), "env:CONVEYOR_WEBHOOK_SECRET");
}

TEST(ConfigLoad, DefaultSchemaPathFindsTheSourceTreeAndHonoursTheEnvironment) {
  const char* before = std::getenv("CONVEYOR_SCHEMA_DIR");
  const std::string saved = before ? before : "";
  ::unsetenv("CONVEYOR_SCHEMA_DIR");
  EXPECT_TRUE(std::filesystem::exists(cfg::default_schema_path())) << cfg::default_schema_path();
  ::setenv("CONVEYOR_SCHEMA_DIR", "/opt/elsewhere", 1);
  EXPECT_EQ(cfg::default_schema_path(), "/opt/elsewhere/conveyor.schema.json");
  if (before) {
    ::setenv("CONVEYOR_SCHEMA_DIR", saved.c_str(), 1);
  } else {
    ::unsetenv("CONVEYOR_SCHEMA_DIR");
  }
}

TEST(ConfigLoad, YamlScalarsFollowTheCoreSchema) {
  // Quoted "8080" stays a string (env values must be strings); plain 8080 is an integer.
  must_parse(with_pipeline("    test: { steps: [{ run: x, env: { PORT: \"8080\", DEBUG: 'true' } }] }\n"));
  const auto e = must_fail(with_pipeline("    test: { steps: [{ run: x, env: { PORT: 8080, DEBUG: yes } }] }\n"));
  EXPECT_EQ(message_at(e, "pipelines[0].test.steps[0].env.PORT"), "must be a string, not an integer");
  // `yes` is a string in YAML 1.2, so DEBUG is fine.
  EXPECT_EQ(e.issues.size(), 1u) << e.to_string();
  // A block scalar is a string even when it looks like a number.
  const cfg::Config c = must_parse(with_pipeline("    test:\n      steps:\n        - run: |\n            42\n"));
  EXPECT_EQ(c.pipelines[0].stage_settings["test"]["steps"][0]["run"], "42\n");
}

// ----- schema errors -----

TEST(ConfigErrors, UnknownKeyAtDepthReportsItsExactPath) {
  const auto e = must_fail(with_pipeline(
      "    triggers:\n      push:\n        branchez: [main]\n    test: { steps: [{ run: x }] }\n"));
  ASSERT_EQ(e.issues.size(), 1u) << e.to_string();
  EXPECT_EQ(e.issues[0].path, "pipelines[0].triggers.push.branchez");
  EXPECT_EQ(e.issues[0].message, "unknown key (did you mean 'branches'?)");
  EXPECT_EQ(e.issues[0].line, 6);
}

TEST(ConfigErrors, EveryUnknownKeyOfAnObjectIsReported) {
  const auto e = must_fail("kafka: { brokers: x, colour: red, zzz: 1 }\npipelines: []\n");
  EXPECT_EQ(message_at(e, "kafka.colour"),
            "unknown key; allowed here: brokers, max-attempts, max-poll-interval, topic-prefix");
  EXPECT_NE(message_at(e, "kafka.zzz").find("unknown key"), std::string::npos);
  EXPECT_EQ(e.issues.size(), 2u) << e.to_string();
}

TEST(ConfigErrors, WrongTypeReportsPath) {
  const auto e = must_fail("kafka: { brokers: x, max-attempts: three }\n" +
                           with_pipeline("    triggers: { push: { branches: main } }\n"
                                         "    test: { steps: [{ run: x }] }\n"));
  EXPECT_EQ(message_at(e, "kafka.max-attempts"), "must be an integer, not a string");
  EXPECT_EQ(message_at(e, "pipelines[0].triggers.push.branches"),
            "must be a list of globs (* within a path segment, ** across segments, ? one character), not a string");
  EXPECT_EQ(e.issues.size(), 2u) << e.to_string();
}

TEST(ConfigErrors, OutOfRangeAndEnumAndPattern) {
  const auto e = must_fail("kafka: { brokers: x, max-attempts: 21 }\n"
                           "pipelines:\n  - name: App_1\n    repository: acme\n"
                           "    version: { on-no-release: maybe }\n");
  EXPECT_EQ(message_at(e, "kafka.max-attempts"), "must be between 1 and 20");
  EXPECT_EQ(message_at(e, "pipelines[0].name"),
            "must match ^[a-z0-9][a-z0-9-]*$ (lower-case letters, digits and '-')");
  EXPECT_EQ(message_at(e, "pipelines[0].repository"),
            "must match ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ (GitHub full name owner/repo)");
  EXPECT_EQ(message_at(e, "pipelines[0].version.on-no-release"), "must be one of: stop, continue");
  EXPECT_EQ(e.issues.size(), 4u) << e.to_string();
}

TEST(ConfigErrors, MissingRequiredRepository) {
  const auto e = must_fail("pipelines:\n  - name: app\n    test: { steps: [{ run: x }] }\n");
  ASSERT_EQ(e.issues.size(), 1u) << e.to_string();
  EXPECT_EQ(e.issues[0].path, "pipelines[0].repository");
  EXPECT_EQ(e.issues[0].message, "is required");
  EXPECT_EQ(e.issues[0].line, 2);  // the pipeline's first line
}

TEST(ConfigErrors, MissingPipelinesAndWebhookSecrets) {
  const auto e = must_fail("kafka: { brokers: x }\nwebhook: { listen: \"0.0.0.0:0\" }\n");
  EXPECT_EQ(message_at(e, "pipelines"), "is required");
  EXPECT_EQ(message_at(e, "webhook.secrets"), "is required");
  EXPECT_EQ(e.issues.size(), 2u) << e.to_string();
}

TEST(ConfigErrors, PipelineWithoutAnyStage) {
  const auto e = must_fail(with_pipeline("    triggers: { push: { branches: [main] } }\n"));
  ASSERT_EQ(e.issues.size(), 1u) << e.to_string();
  EXPECT_EQ(e.issues[0].path, "pipelines[0]");
  EXPECT_EQ(e.issues[0].message, "needs at least one of: test, version, images, values, deploy, verify");
}

TEST(ConfigErrors, MultipleErrorsAllReportedInDocumentOrder) {
  const auto e = must_fail(R"(
redis: { url: "http://redis:6379" }
webhook:
  secrets: []
  threads: 0
pipelines:
  - name: app
    repository: acme/app
    test:
      steps:
        - { name: unit }
    notify:
      - { provider: pager, on: [deployed] }
  - repository: acme/other
    deploy: { environment: prod, helm: { release: r, chart: c }, strategy: canary }
)");
  std::vector<std::string> paths;
  for (const auto& issue : e.issues) paths.push_back(issue.path);
  EXPECT_EQ(paths, (std::vector<std::string>{
                       "redis.url",
                       "webhook.secrets",
                       "webhook.threads",
                       "pipelines[0].test.steps[0].run",
                       "pipelines[0].notify[0].provider",
                       "pipelines[1].name",
                       "pipelines[1].deploy.strategy",
                   }))
      << e.to_string();
  EXPECT_EQ(message_at(e, "webhook.secrets"), "must not be empty");
  EXPECT_EQ(message_at(e, "webhook.threads"), "must be between 1 and 64");
  EXPECT_EQ(message_at(e, "pipelines[1].name"), "is required");
  // Lines are ascending and point at the keys.
  EXPECT_TRUE(std::is_sorted(e.issues.begin(), e.issues.end(),
                             [](const cfg::Issue& a, const cfg::Issue& b) { return a.line < b.line; }));
  EXPECT_EQ(e.issues.front().line, 2);
}

TEST(ConfigErrors, BadDuration) {
  const auto e = must_fail("kafka: { brokers: x, max-poll-interval: -5 }\n" +
                           with_pipeline("    test: { steps: [{ run: x, timeout: 10 minutes }] }\n"
                                         "    verify: { settle: 1.5s }\n"));
  const std::string expected =
      "must be a duration such as \"500ms\", \"30s\", \"10m\", \"1h\", \"7d\", or a whole number of seconds";
  EXPECT_EQ(message_at(e, "pipelines[0].test.steps[0].timeout"), expected);
  EXPECT_EQ(message_at(e, "pipelines[0].verify.settle"), expected);
  EXPECT_EQ(message_at(e, "kafka.max-poll-interval"), expected);
  EXPECT_EQ(e.issues.size(), 3u) << e.to_string();
}

TEST(ConfigErrors, DedupeTtlMustBeWholeSeconds) {
  const auto e = must_fail("webhook: { dedupe-ttl: 1500ms }\n" + with_pipeline("    test: { steps: [{ run: x }] }\n"));
  EXPECT_EQ(message_at(e, "webhook.dedupe-ttl"), "must be a whole number of seconds, at least 1s");
}

TEST(ConfigErrors, SecretRefNeedsExactlyOneSourceAndNeverEchoesValues) {
  const auto e = must_fail("webhook:\n  secrets:\n    - { env: A, file: /b }\n    - {}\n"
                           "    - { env: HOOK, value: hunter2-do-not-print }\n" +
                           with_pipeline("    test: { steps: [{ run: x }] }\n"));
  const std::string expected = "must be a secret reference: {env: NAME} or {file: /path} (exactly one)";
  EXPECT_EQ(message_at(e, "webhook.secrets[0]"), expected);
  EXPECT_EQ(message_at(e, "webhook.secrets[1]"), expected);
  EXPECT_EQ(message_at(e, "webhook.secrets[2].value"), "unknown key; allowed here: env, file");
  EXPECT_EQ(e.to_string().find("hunter2"), std::string::npos);
}

TEST(ConfigErrors, KeysWithDotsAreQuotedInPaths) {
  const auto e = must_fail(with_pipeline(
      "    values: { repository: r, file: f.yaml, set: { a.b.tag: 3 } }\n"));
  EXPECT_EQ(message_at(e, "pipelines[0].values.set[\"a.b.tag\"]"), "must be a string, not an integer");
}

TEST(ConfigErrors, ToStringIsCompilerStyle) {
  const auto e = must_fail("pipelines:\n  - name: app\n    test: { steps: [{ run: x }] }\n");
  EXPECT_EQ(e.file, "test.yaml");
  EXPECT_EQ(e.to_string(), "test.yaml:2: pipelines[0].repository: is required\n");
}

// ----- semantic rules -----

TEST(ConfigSemantics, TriggerStageNotConfigured) {
  const auto e = must_fail(with_pipeline(
      "    triggers:\n      push: { branches: [main], stages: [test, build, deploy] }\n"
      "      pull-request: { branches: [main], stages: [verify] }\n"
      "    test: { steps: [{ run: x }] }\n"
      "    deploy: { environment: prod, compose: { project: p, file: compose.yaml } }\n"));
  EXPECT_EQ(message_at(e, "pipelines[0].triggers.push.stages[1]"),
            "stage 'build' is not configured in this pipeline (it has no 'images' key)");
  EXPECT_EQ(message_at(e, "pipelines[0].triggers.pull-request.stages[0]"),
            "stage 'verify' is not configured in this pipeline (it has no 'verify' key)");
  EXPECT_EQ(e.issues.size(), 2u) << e.to_string();
}

TEST(ConfigSemantics, UnknownTriggerStageIsASchemaError) {
  const auto e = must_fail(with_pipeline(
      "    triggers: { push: { stages: [tests] } }\n    test: { steps: [{ run: x }] }\n"));
  EXPECT_EQ(message_at(e, "pipelines[0].triggers.push.stages[0]"),
            "must be a stage: test, version, build, helm, deploy or verify");
}

TEST(ConfigSemantics, WorkingDirectoryMustStayInTheCheckout) {
  const auto e = must_fail(with_pipeline(
      "    test:\n      steps:\n"
      "        - { run: x, working-directory: ../sibling }\n"
      "        - { run: x, working-directory: /etc }\n"
      "        - { run: x, working-directory: a/../../b }\n"
      "        - { run: x, working-directory: a/..b/c }\n"
      "        - { run: x, working-directory: ./server/.. }\n"
      "        - { run: x, working-directory: server/src }\n"));
  const std::string expected = "must stay inside the checkout: a relative path without '..' segments";
  EXPECT_EQ(message_at(e, "pipelines[0].test.steps[0].working-directory"), expected);
  EXPECT_EQ(message_at(e, "pipelines[0].test.steps[1].working-directory"), expected);
  EXPECT_EQ(message_at(e, "pipelines[0].test.steps[2].working-directory"), expected);
  EXPECT_EQ(message_at(e, "pipelines[0].test.steps[4].working-directory"), expected);
  EXPECT_EQ(e.issues.size(), 4u) << e.to_string();  // "a/..b/c" and "server/src" are fine
}

TEST(ConfigSemantics, DuplicatePipelineNames) {
  const auto e = must_fail(
      "pipelines:\n"
      "  - { name: app, repository: acme/a, test: { steps: [{ run: x }] } }\n"
      "  - { name: web, repository: acme/w, test: { steps: [{ run: x }] } }\n"
      "  - { name: app, repository: acme/b, test: { steps: [{ run: x }] } }\n");
  ASSERT_EQ(e.issues.size(), 1u) << e.to_string();
  EXPECT_EQ(e.issues[0].path, "pipelines[2].name");
  EXPECT_EQ(e.issues[0].message, "duplicate pipeline name 'app' (also pipelines[0].name)");
  EXPECT_EQ(e.issues[0].line, 4);
}

TEST(ConfigSemantics, DeployNeedsExactlyOneBackend) {
  const auto none = must_fail(with_pipeline("    deploy: { environment: prod }\n"));
  EXPECT_EQ(message_at(none, "pipelines[0].deploy"), "needs one of: helm, argocd, compose");
  const auto two = must_fail(with_pipeline(
      "    deploy:\n      environment: prod\n      helm: { release: r, chart: c }\n"
      "      argocd: { url: \"https://argo\", app: a }\n"));
  EXPECT_EQ(message_at(two, "pipelines[0].deploy"), "must configure only one of: helm, argocd, compose");
}

TEST(ConfigSemantics, NotifyRoutesAndRollbackNeedTheirCounterparts) {
  const auto e = must_fail(with_pipeline(
      "    verify: { http: [{ url: \"http://x/\" }], on-failure: rollback }\n"
      "    notify:\n"
      "      - { provider: slack, on: [failed] }\n"
      "      - { provider: github-status, on: [started] }\n"
      "      - { provider: discord, url: \"https://d\", url-secret: { env: D }, on: [failed] }\n"));
  EXPECT_EQ(message_at(e, "pipelines[0].verify.on-failure"), "'rollback' needs a 'deploy' stage in this pipeline");
  EXPECT_EQ(message_at(e, "pipelines[0].notify[0]"), "provider 'slack' needs 'url' or 'url-secret'");
  EXPECT_EQ(message_at(e, "pipelines[0].notify[1].provider"), "provider 'github-status' needs github.token");
  EXPECT_EQ(message_at(e, "pipelines[0].notify[2]"), "set only one of 'url' and 'url-secret'");
  EXPECT_EQ(e.issues.size(), 4u) << e.to_string();
}

// ----- YAML-level errors -----

TEST(ConfigYaml, MultiDocumentRejected) {
  const auto e = must_fail(with_pipeline("    test: { steps: [{ run: x }] }\n") + "---\nkafka: { brokers: x }\n");
  ASSERT_EQ(e.issues.size(), 1u) << e.to_string();
  EXPECT_EQ(e.issues[0].path, "");
  EXPECT_NE(e.issues[0].message.find("holds 2 YAML documents"), std::string::npos) << e.issues[0].message;
}

TEST(ConfigYaml, DuplicateKeysRejected) {
  const auto e =
      must_fail("kafka:\n  brokers: a\n  brokers: b\n" + with_pipeline("    test: { steps: [{ run: x }] }\n"));
  EXPECT_EQ(message_at(e, "kafka.brokers"), "duplicate key (line 3; first at line 2)");
  EXPECT_EQ(e.issues.size(), 1u) << e.to_string();
}

TEST(ConfigYaml, SyntaxErrorNamesTheLine) {
  const auto e = must_fail("kafka: { brokers: x\npipelines: []\n");
  ASSERT_EQ(e.issues.size(), 1u);
  EXPECT_EQ(e.issues[0].path, "");
  EXPECT_NE(e.issues[0].message.find("YAML syntax error: line"), std::string::npos) << e.issues[0].message;
  EXPECT_GT(e.issues[0].line, 0);
}

TEST(ConfigYaml, EmptyAndNonMapDocuments) {
  EXPECT_EQ(must_fail("# only a comment\n").issues.at(0).message, "the file is empty");
  const auto e = must_fail("- a\n- b\n");
  EXPECT_EQ(message_at(e, ""), "must be a map, not a list");
}

TEST(ConfigYaml, SelfReferencingAliasRejected) {
  const auto e = must_fail("x: &a [1, *a]\npipelines: []\n");
  EXPECT_FALSE(e.issues.empty());
  EXPECT_NE(e.to_string().find("alias"), std::string::npos) << e.to_string();
}

TEST(ConfigYaml, UnreadableFile) {
  auto result = cfg::load("/nonexistent/conveyor.yaml", schema_path());
  ASSERT_TRUE(std::holds_alternative<cfg::LoadError>(result));
  const auto& e = std::get<cfg::LoadError>(result);
  ASSERT_EQ(e.issues.size(), 1u);
  EXPECT_EQ(e.issues[0].path, "");
  EXPECT_EQ(e.file, "/nonexistent/conveyor.yaml");
  EXPECT_NE(e.issues[0].message.find("cannot read"), std::string::npos);
}

TEST(ConfigYaml, MissingSchemaIsAnIssueNotACrash) {
  auto result = cfg::parse(with_pipeline("    test: { steps: [{ run: x }] }\n"), "/nonexistent/schema.json");
  ASSERT_TRUE(std::holds_alternative<cfg::LoadError>(result));
  EXPECT_NE(std::get<cfg::LoadError>(result).issues.at(0).message.find("/nonexistent/schema.json"),
            std::string::npos);
}

// ----- secrets -----

class SecretTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("conveyor-config-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    std::filesystem::remove_all(dir_);
    ::unsetenv("CONVEYOR_TEST_SECRET");
  }
  std::string write(const std::string& name, const std::string& content) {
    const auto path = dir_ / name;
    std::ofstream(path, std::ios::binary) << content;
    return path.string();
  }
  std::filesystem::path dir_;
};

TEST_F(SecretTest, ResolvesFromEnv) {
  ::setenv("CONVEYOR_TEST_SECRET", "s3cr3t-env-value", 1);
  const cfg::SecretRef ref{"CONVEYOR_TEST_SECRET", ""};
  auto value = ref.resolve();
  ASSERT_TRUE(value.ok()) << value.error().message;
  EXPECT_EQ(*value, "s3cr3t-env-value");
  EXPECT_EQ(ref.describe(), "env:CONVEYOR_TEST_SECRET");
}

TEST_F(SecretTest, ResolvesFromFileStrippingOneNewline) {
  const cfg::SecretRef one{"", write("one", "s3cr3t-file-value\n")};
  ASSERT_TRUE(one.resolve().ok());
  EXPECT_EQ(one.resolve().value(), "s3cr3t-file-value");
  const cfg::SecretRef crlf{"", write("crlf", "abc\r\n")};
  EXPECT_EQ(crlf.resolve().value(), "abc");
  const cfg::SecretRef two{"", write("two", "abc\n\n")};
  EXPECT_EQ(two.resolve().value(), "abc\n");
  const cfg::SecretRef none{"", write("none", "abc")};
  EXPECT_EQ(none.resolve().value(), "abc");
  EXPECT_EQ(none.describe(), "file:" + (dir_ / "none").string());
}

TEST_F(SecretTest, ErrorsNameTheSourceNotTheValue) {
  const cfg::SecretRef unset{"CONVEYOR_TEST_SECRET", ""};
  auto missing_env = unset.resolve();
  ASSERT_FALSE(missing_env.ok());
  EXPECT_EQ(missing_env.error().code, conveyor::Errc::not_found);
  EXPECT_NE(missing_env.error().message.find("CONVEYOR_TEST_SECRET"), std::string::npos);

  ::setenv("CONVEYOR_TEST_SECRET", "", 1);
  auto empty_env = unset.resolve();
  ASSERT_FALSE(empty_env.ok());
  EXPECT_NE(empty_env.error().message.find("CONVEYOR_TEST_SECRET"), std::string::npos);

  const std::string path = (dir_ / "absent").string();
  auto missing_file = cfg::SecretRef{"", path}.resolve();
  ASSERT_FALSE(missing_file.ok());
  EXPECT_EQ(missing_file.error().code, conveyor::Errc::not_found);
  EXPECT_NE(missing_file.error().message.find(path), std::string::npos);

  // A secret that exists but is unusable: the error names the file only.
  const std::string blank = write("blank", "\n");
  auto empty_file = cfg::SecretRef{"", blank}.resolve();
  ASSERT_FALSE(empty_file.ok());
  EXPECT_NE(empty_file.error().message.find(blank), std::string::npos);

  ::setenv("CONVEYOR_TEST_SECRET", "s3cr3t-env-value", 1);
  auto both = cfg::SecretRef{"CONVEYOR_TEST_SECRET", write("f", "s3cr3t-file-value")}.resolve();
  ASSERT_FALSE(both.ok());
  EXPECT_EQ(both.error().message.find("s3cr3t"), std::string::npos);
  EXPECT_EQ(both.error().code, conveyor::Errc::invalid_argument);
}

// ----- durations and globs -----

TEST(Duration, ParsesUnitsAndSeconds) {
  using nlohmann::json;
  EXPECT_EQ(cfg::parse_duration(json("500ms")).value(), 500ms);
  EXPECT_EQ(cfg::parse_duration(json("30s")).value(), 30s);
  EXPECT_EQ(cfg::parse_duration(json("10m")).value(), 10min);
  EXPECT_EQ(cfg::parse_duration(json("1h")).value(), 1h);
  EXPECT_EQ(cfg::parse_duration(json("7d")).value(), std::chrono::hours(168));
  EXPECT_EQ(cfg::parse_duration(json(45)).value(), 45s);
  EXPECT_EQ(cfg::parse_duration(json(0)).value(), 0ms);
  for (const json& bad : {json("10"), json("1.5s"), json("-1s"), json("10 m"), json("s"), json("1w"), json(-1),
                          json(1.5), json(true), json(nullptr), json("9999999999s")}) {
    auto r = cfg::parse_duration(bad);
    EXPECT_FALSE(r.ok()) << bad.dump();
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, conveyor::Errc::invalid_argument);
    }
  }
}

TEST(Glob, MatchTable) {
  struct Case {
    const char* pattern;
    const char* text;
    bool match;
  };
  const Case cases[] = {
      {"main", "main", true},
      {"main", "main2", false},
      {"main", "mai", false},
      {"main", "feature/main", false},
      {"release/*", "release/1.2", true},
      {"release/*", "release/", true},
      {"release/*", "release", false},
      {"release/*", "release/1.2/hotfix", false},
      {"release/**", "release/1.2/hotfix", true},
      {"release/**", "release/1.2", true},
      {"release/**", "releases/1.2", false},
      {"**", "any/thing/at/all", true},
      {"**", "", true},
      {"*", "", true},
      {"*", "a/b", false},
      {"v*", "v1.2.3", true},
      {"v*", "v", true},
      {"v*", "1.2.3", false},
      {"v*", "v1/2", false},
      {"v?.?", "v1.2", true},
      {"v?.?", "v1.23", false},
      {"?", "/", false},
      {"a?c", "abc", true},
      {"a?c", "ac", false},
      {"feature/**/fix", "feature/x/y/fix", true},
      {"feature/**/fix", "feature/fix", false},
      {"*-rc*", "1.0-rc1", true},
      {"", "", true},
      {"", "x", false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(cfg::glob_match(c.pattern, c.text), c.match) << "pattern '" << c.pattern << "' text '" << c.text << "'";
  }
}

TEST(Stages, ConfigKeys) {
  EXPECT_EQ(cfg::stage_config_key("test"), "test");
  EXPECT_EQ(cfg::stage_config_key("version"), "version");
  EXPECT_EQ(cfg::stage_config_key("build"), "images");
  EXPECT_EQ(cfg::stage_config_key("helm"), "values");
  EXPECT_EQ(cfg::stage_config_key("deploy"), "deploy");
  EXPECT_EQ(cfg::stage_config_key("verify"), "verify");
  EXPECT_EQ(cfg::stage_config_key("images"), "");
  EXPECT_EQ(cfg::stage_config_key("nope"), "");
}
