// conveyor.yaml: YAML -> JSON -> schema -> semantic rules -> typed Config.
#include "conveyor/config/config.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

#include "internal.hpp"

namespace conveyor::config {

namespace {

using nlohmann::json;
using detail::KeyPath;
using detail::RawIssue;

// A conveyor.yaml is a few kilobytes; anything this large is the wrong file.
constexpr std::uintmax_t kMaxFileBytes = 4u << 20;

LoadError single_issue(const std::string& file, std::string message) {
  return LoadError{file, {Issue{"", std::move(message), 0}}};
}

// Position of `path`, or of its nearest ancestor present in the file.
detail::Position position_of(const detail::LineIndex& lines, KeyPath path) {
  while (true) {
    auto it = lines.find(detail::format_path(path));
    if (it != lines.end()) return it->second;
    if (path.empty()) return {};
    path.pop_back();
  }
}

// Issues in document order (by position; stable, so findings at one place
// keep the order in which they were found).
std::vector<Issue> finish(const std::vector<RawIssue>& raw, const detail::LineIndex& lines) {
  std::vector<std::pair<detail::Position, Issue>> positioned;
  positioned.reserve(raw.size());
  for (const auto& r : raw) {
    const detail::Position at = position_of(lines, r.path);
    positioned.emplace_back(at, Issue{detail::format_path(r.path), r.message, at.line});
  }
  std::stable_sort(positioned.begin(), positioned.end(), [](const auto& a, const auto& b) {
    return std::tie(a.first.line, a.first.column) < std::tie(b.first.line, b.first.column);
  });
  std::vector<Issue> issues;
  issues.reserve(positioned.size());
  for (auto& p : positioned) issues.push_back(std::move(p.second));
  return issues;
}

// ----- typed view of a validated document -----

std::string str(const json& object, const char* key, std::string fallback) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : fallback;
}

std::chrono::milliseconds duration(const json& object, const char* key, std::chrono::milliseconds fallback) {
  auto it = object.find(key);
  if (it == object.end()) return fallback;
  auto parsed = parse_duration(*it);
  return parsed.ok() ? parsed.value() : fallback;  // the schema already checked the form
}

std::vector<std::string> strings(const json& object, const char* key) {
  std::vector<std::string> out;
  auto it = object.find(key);
  if (it != object.end() && it->is_array()) {
    for (const auto& v : *it) out.push_back(v.get<std::string>());
  }
  return out;
}

SecretRef secret_ref(const json& object) { return SecretRef{str(object, "env", ""), str(object, "file", "")}; }

const json& section(const json& doc, const char* key) {
  static const json empty = json::object();
  auto it = doc.find(key);
  return it != doc.end() && it->is_object() ? *it : empty;
}

Config build(const json& doc) {
  Config c;
  c.raw = doc;

  const json& kafka = section(doc, "kafka");
  c.kafka.brokers = str(kafka, "brokers", c.kafka.brokers);
  c.kafka.topic_prefix = str(kafka, "topic-prefix", c.kafka.topic_prefix);
  c.kafka.max_poll_interval = duration(kafka, "max-poll-interval", c.kafka.max_poll_interval);
  c.kafka.max_attempts = kafka.value("max-attempts", c.kafka.max_attempts);

  const json& redis = section(doc, "redis");
  c.redis.url = str(redis, "url", c.redis.url);
  c.redis.timeout = duration(redis, "timeout", c.redis.timeout);

  c.registry = str(doc, "registry", c.registry);

  const json& webhook = section(doc, "webhook");
  c.webhook.listen = str(webhook, "listen", c.webhook.listen);
  if (auto it = webhook.find("secrets"); it != webhook.end()) {
    for (const auto& s : *it) c.webhook.secrets.push_back(secret_ref(s));
  }
  c.webhook.max_body_bytes = webhook.value("max-body-bytes", c.webhook.max_body_bytes);
  c.webhook.dedupe_ttl = std::chrono::duration_cast<std::chrono::seconds>(
      duration(webhook, "dedupe-ttl", std::chrono::duration_cast<std::chrono::milliseconds>(c.webhook.dedupe_ttl)));
  c.webhook.threads = webhook.value("threads", c.webhook.threads);

  c.admin.listen = str(section(doc, "admin"), "listen", c.admin.listen);

  const json& github = section(doc, "github");
  c.github.api_url = str(github, "api-url", c.github.api_url);
  if (auto it = github.find("token"); it != github.end()) c.github.token = secret_ref(*it);

  for (const auto& p : doc.at("pipelines")) {
    Pipeline pipeline;
    pipeline.name = p.at("name").get<std::string>();
    pipeline.repository = p.at("repository").get<std::string>();
    pipeline.clone_url = str(p, "clone-url", "https://github.com/" + pipeline.repository + ".git");
    const json& triggers = section(p, "triggers");
    if (auto it = triggers.find("push"); it != triggers.end()) {
      pipeline.triggers.push = PushTrigger{strings(*it, "branches"), strings(*it, "tags"), strings(*it, "stages")};
    }
    if (auto it = triggers.find("pull-request"); it != triggers.end()) {
      pipeline.triggers.pull_request = PullRequestTrigger{strings(*it, "branches"), strings(*it, "stages")};
    }
    for (std::string_view stage : kStageOrder) {
      auto it = p.find(std::string(stage_config_key(stage)));
      if (it != p.end()) pipeline.stage_settings[std::string(stage)] = *it;
    }
    if (auto it = p.find("notify"); it != p.end()) pipeline.notify = *it;
    c.pipelines.push_back(std::move(pipeline));
  }
  return c;
}

}  // namespace

std::string_view stage_config_key(std::string_view stage) {
  if (stage == "build") return "images";
  if (stage == "helm") return "values";
  for (std::string_view s : kStageOrder) {
    if (s == stage) return s;
  }
  return {};
}

std::vector<std::string> Pipeline::configured_stages() const {
  std::vector<std::string> out;
  for (std::string_view stage : kStageOrder) {
    if (stage_settings.contains(std::string(stage))) out.emplace_back(stage);
  }
  return out;
}

std::string LoadError::to_string() const {
  std::string out;
  for (const auto& issue : issues) {
    out += file;
    if (issue.line > 0) out += ':' + std::to_string(issue.line);
    out += ": ";
    if (!issue.path.empty()) out += issue.path + ": ";
    out += issue.message + '\n';
  }
  return out;
}

std::variant<Config, LoadError> parse(std::string_view yaml_text, const std::string& schema_path,
                                      const std::string& source_name) {
  detail::YamlResult yaml = detail::yaml_to_json(yaml_text);
  if (!yaml.parsed) return LoadError{source_name, finish(yaml.issues, yaml.lines)};

  std::ifstream schema_in(schema_path);
  if (!schema_in) return single_issue(source_name, "cannot read the schema " + schema_path);
  json schema;
  try {
    schema = json::parse(schema_in);
  } catch (const std::exception& e) {
    return single_issue(source_name, "the schema " + schema_path + " is not valid JSON: " + e.what());
  }

  std::vector<RawIssue> raw = std::move(yaml.issues);
  try {
    auto found = detail::schema_issues(schema, yaml.doc);
    raw.insert(raw.end(), found.begin(), found.end());
  } catch (const std::exception& e) {
    return single_issue(source_name, "the schema " + schema_path + " is not usable: " + e.what());
  }
  auto semantic = detail::semantic_issues(yaml.doc);
  raw.insert(raw.end(), semantic.begin(), semantic.end());

  if (!raw.empty()) return LoadError{source_name, finish(raw, yaml.lines)};
  return build(yaml.doc);
}

std::variant<Config, LoadError> load(const std::string& file, const std::string& schema_path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(file, ec);
  if (ec) return single_issue(file, "cannot read: " + ec.message());
  if (size > kMaxFileBytes) {
    return single_issue(file, "is " + std::to_string(size) + " bytes; a conveyor.yaml is at most " +
                                  std::to_string(kMaxFileBytes) + " bytes");
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return single_issue(file, "cannot open for reading");
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), schema_path, file);
}

std::string default_schema_path() {
  constexpr const char* kName = "conveyor.schema.json";
  if (const char* dir = std::getenv("CONVEYOR_SCHEMA_DIR"); dir != nullptr && *dir != '\0') {
    return (std::filesystem::path(dir) / kName).string();
  }
#ifdef CONVEYOR_SCHEMA_DIR
  {
    std::error_code ec;
    const auto built = std::filesystem::path(CONVEYOR_SCHEMA_DIR) / kName;
    if (std::filesystem::exists(built, ec)) return built.string();
  }
#endif
  return (std::filesystem::path("/usr/share/conveyor/schemas") / kName).string();
}

}  // namespace conveyor::config
