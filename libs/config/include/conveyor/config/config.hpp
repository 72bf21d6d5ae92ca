// conveyor.yaml: the suite's settings and its pipelines, loaded once at start,
// validated against schemas/conveyor.schema.json (JSON Schema draft-07, via
// valijson), and then read-only. Every error names the offending key path
// (e.g. "pipelines[0].triggers.push.branches[1]"). Secrets are referenced by
// environment variable or file, never stored in the file itself.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "conveyor/result/result.hpp"

namespace conveyor::config {

// One problem found while loading: the key path ("" for the document root,
// "kafka.brokers", "pipelines[2].test.steps[0].timeout") and what is wrong.
struct Issue {
  std::string path;
  std::string message;
  int line = 0;  // 1-based line in the file of the key (or of its nearest parent), 0 if unknown
};

// All problems of a rejected file, in document order. `what()`-style summary
// via to_string(): one "file:line: path: message" per line (compiler style;
// ":line" and "path: " are left out when unknown or empty).
struct LoadError {
  std::string file;
  std::vector<Issue> issues;
  std::string to_string() const;
};

// A secret by reference: `{env: NAME}` or `{file: /path}` (exactly one).
// The value is read on demand by resolve(); it is never logged or echoed.
struct SecretRef {
  std::string env;   // environment variable name, or ""
  std::string file;  // file path (trailing newline stripped), or ""
  // Reads the secret. Errors: not_found (variable unset, file missing),
  // invalid_argument (empty value, not exactly one source), unavailable
  // (unreadable file); they name the variable or file, never the value.
  Result<std::string> resolve() const;
  // "env:NAME" or "file:/path", safe for logs.
  std::string describe() const;
};

// Kafka client settings shared by every service (librdkafka properties).
struct KafkaSettings {
  std::string brokers = "127.0.0.1:19092";  // bootstrap.servers
  std::string topic_prefix = "conveyor";    // topics are <prefix>.events, <prefix>.stage.<stage>, <prefix>.dlq
  std::chrono::milliseconds max_poll_interval{600000};  // max.poll.interval.ms for stage consumers
  int max_attempts = 3;                      // handler attempts before a request goes to the DLQ (1..20)
};

// Redis connection: "redis://host:port[/db]".
struct RedisSettings {
  std::string url = "redis://127.0.0.1:16379";
  std::chrono::milliseconds timeout{2000};  // connect and command timeout
};

// The webhook receiver (`conveyor-webhook`).
struct WebhookSettings {
  std::string listen = "0.0.0.0:8080";          // host:port of the public endpoint; port 0 = ephemeral
  std::vector<SecretRef> secrets;               // HMAC secrets, several for rotation; >= 1 if `webhook` is set
  std::uint64_t max_body_bytes = 25ull << 20;   // GitHub caps payloads at 25 MiB
  std::chrono::seconds dedupe_ttl{7 * 24 * 3600};  // how long a delivery id is remembered
  int threads = 2;                              // HTTP I/O threads
};

// Per-service admin endpoint (/healthz, /readyz, /metrics).
struct AdminSettings {
  std::string listen = "127.0.0.1:0";  // host:port; port 0 = ephemeral
};

// GitHub REST API (commit statuses, deployments, releases). `api_url` points
// at GitHub Enterprise or, in tests, at a local recording server.
struct GitHubSettings {
  std::string api_url = "https://api.github.com";
  std::optional<SecretRef> token;  // required by github-status/github-deployment routes and github-release
};

// A duration as written in the file: "500ms", "30s", "10m", "1h", "7d", or an
// integer number of seconds. Stage services use it on their stage_settings.
// invalid_argument if `value` is neither.
Result<std::chrono::milliseconds> parse_duration(const nlohmann::json& value);

// Stages in pipeline order. Their names are also the topic suffixes
// (conveyor.stage.<name>) and the keys of a pipeline's stage settings
// ("build" is configured under `images`, "helm" under `values`).
inline constexpr std::string_view kStageOrder[] = {"test", "version", "build", "helm", "deploy", "verify"};

// The pipeline key that configures a stage: test->test, version->version,
// build->images, helm->values, deploy->deploy, verify->verify.
std::string_view stage_config_key(std::string_view stage);

// When a push or pull_request starts a pipeline. Patterns are globs
// (`*` within a path segment, `**` across segments, `?`), matched against the
// short ref name (branch "main", tag "v1.2.3").
struct PushTrigger {
  std::vector<std::string> branches;  // empty = no branch pushes
  std::vector<std::string> tags;      // empty = no tag pushes
  std::vector<std::string> stages;    // empty = every configured stage
};
struct PullRequestTrigger {
  std::vector<std::string> branches;  // base branches; empty = none
  std::vector<std::string> stages;    // empty = every configured stage
};
struct Triggers {
  std::optional<PushTrigger> push;
  std::optional<PullRequestTrigger> pull_request;
};

// One pipeline: which repository, what triggers it, and the settings of each
// stage as validated JSON (`stage_settings["test"]`, ...). Stage services
// parse their own settings; the webhook only needs the triggers.
struct Pipeline {
  std::string name;
  std::string repository;  // GitHub full name "owner/repo" (case-insensitive match)
  std::string clone_url;   // defaults to https://github.com/<repository>.git
  Triggers triggers;
  nlohmann::json stage_settings = nlohmann::json::object();  // keys: stage names (kStageOrder) present in the file
  nlohmann::json notify = nlohmann::json::array();           // notification routes, as written

  // Stages this pipeline configures, in kStageOrder order.
  std::vector<std::string> configured_stages() const;
};

// The whole file, immutable after load().
struct Config {
  KafkaSettings kafka;
  RedisSettings redis;
  std::string registry;  // default OCI registry host:port, may be ""
  WebhookSettings webhook;
  AdminSettings admin;
  GitHubSettings github;
  std::vector<Pipeline> pipelines;
  nlohmann::json raw;  // the validated document (secrets are references only)
};

// Parses YAML text (`source_name` is used in messages), validates it against
// the schema at `schema_path`, and builds a Config. On failure returns every
// issue found, each with its key path; nothing is half-applied.
std::variant<Config, LoadError> parse(std::string_view yaml_text, const std::string& schema_path,
                                      const std::string& source_name = "conveyor.yaml");

// Reads and parses a file; an unreadable file is a LoadError with path "".
std::variant<Config, LoadError> load(const std::string& file, const std::string& schema_path);

// Default location of schemas/conveyor.schema.json: $CONVEYOR_SCHEMA_DIR, else
// the schemas directory of the source tree this binary was built from, else
// /usr/share/conveyor/schemas.
std::string default_schema_path();

// Glob match used by triggers and notify filters: `*` matches within a
// segment (not '/'), `**` any characters including '/', `?` one non-'/'
// character; everything else is literal. Whole-string match.
bool glob_match(std::string_view pattern, std::string_view text);

}  // namespace conveyor::config
