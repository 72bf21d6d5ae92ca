#include "handler.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <iterator>
#include <cctype>

#include "conveyor/events/cdevents.hpp"
#include "provider.hpp"

namespace conveyor::notifier {
namespace {

using nlohmann::json;

constexpr std::string_view kKindNames[] = {"started",  "succeeded", "failed",   "tested",    "released",
                                           "built",    "deployed",  "verified", "rolledback"};

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::string sha256_hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), digest.data(), &n, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0x0f]);
  }
  return out;
}

// A string member of a JSON object, "" when absent or not a string.
std::string str(const json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

const json& member(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::vector<std::string> strings(const json& j, const char* key) {
  std::vector<std::string> out;
  const json& list = member(j, key);
  if (!list.is_array()) return out;
  for (const auto& v : list) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

// The repository's web page: the http(s) clone URL without user info and
// ".git", else (ssh, file) GitHub's page of the repository.
std::string web_url_of(const std::string& clone_url, const std::string& repository) {
  const bool http = starts_with(clone_url, "https://") || starts_with(clone_url, "http://");
  if (!http) return "https://github.com/" + repository;
  std::string url = clone_url;
  const auto host = url.find("://") + 3;
  const auto path = url.find('/', host);
  const auto at = url.rfind('@', path == std::string::npos ? std::string::npos : path);
  if (at != std::string::npos && at >= host && (path == std::string::npos || at < path)) url.erase(host, at + 1 - host);
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (url.size() > 4 && url.compare(url.size() - 4, 4, ".git") == 0) url.resize(url.size() - 4);
  return url;
}

bool any_glob(const std::vector<std::string>& globs, const std::string& text) {
  const std::string t = lower(text);
  return std::any_of(globs.begin(), globs.end(), [&](const std::string& g) { return config::glob_match(lower(g), t); });
}

std::string title_of(const Event& e, Kind kind, Status status, const std::string& environment) {
  const std::string who = (e.pipeline.empty() ? e.repository : e.pipeline) + ": ";
  const std::string on = e.ref.empty() ? "" : " on " + short_ref(e.ref);
  switch (kind) {
    case Kind::started: return who + "run started" + on;
    case Kind::succeeded: return who + "run succeeded" + on;
    case Kind::failed: return who + (status == Status::error ? "run errored" : "run failed") + on;
    case Kind::tested:
      return who + (status == Status::success ? "tests passed" : status == Status::failure ? "tests failed" : "tests errored") + on;
    case Kind::released: return who + "released " + (e.version.empty() ? "a new version" : e.version);
    case Kind::built: return who + "image published";
    case Kind::deployed:
      return who + (e.version.empty() ? "" : e.version + " ") + "deployed" + (environment.empty() ? "" : " to " + environment);
    case Kind::verified:
      return who + (environment.empty() ? "deployment" : environment) +
             (status == Status::success ? " verified" : status == Status::failure ? " failed verification"
                                                                                   : " could not be verified");
    case Kind::rolledback: return who + (environment.empty() ? "deployment" : environment) + " rolled back";
  }
  return who;
}

events::KafkaRecord dead_letter(const events::KafkaRecord& original, const std::string& topic, const Notification& n,
                                const Error& error) {
  events::KafkaRecord dlq = original;
  dlq.topic = topic;
  dlq.headers.emplace_back("conveyor-error", error.message);
  dlq.headers.emplace_back("conveyor-error-code", errc_name(error.code));
  dlq.headers.emplace_back("conveyor-original-topic", original.topic);
  dlq.headers.emplace_back("conveyor-notify-route", n.route);
  dlq.headers.emplace_back("conveyor-notify-provider", n.provider);
  return dlq;
}

}  // namespace

std::string_view to_string(Kind kind) noexcept { return kKindNames[static_cast<int>(kind)]; }

std::optional<Kind> parse_kind(std::string_view word) noexcept {
  for (std::size_t i = 0; i < std::size(kKindNames); ++i) {
    if (kKindNames[i] == word) return static_cast<Kind>(i);
  }
  return std::nullopt;
}

std::string_view to_string(Status status) noexcept {
  switch (status) {
    case Status::pending: return "pending";
    case Status::success: return "success";
    case Status::failure: return "failure";
    case Status::error: return "error";
  }
  return "error";
}

std::string short_ref(std::string_view ref) {
  for (std::string_view prefix : {"refs/heads/", "refs/tags/"}) {
    if (starts_with(ref, prefix)) return std::string(ref.substr(prefix.size()));
  }
  return std::string(ref);
}

Result<Event> decode_event(const events::KafkaRecord& record) {
  auto body = events::cdevent_from_kafka(record);
  if (!body) return std::move(body).error();
  const json& context = (*body)["context"];
  const json& subject = member(*body, "subject");
  const json& content = member(subject, "content");
  auto extension = [&record](const std::string& name) {
    const std::string* h = record.header("ce_" + name);
    return h ? *h : std::string();
  };

  Event e;
  e.id = str(context, "id");
  e.type = str(context, "type");
  e.source = str(context, "source");
  e.time = str(context, "timestamp");
  e.subject = str(subject, "id");
  for (auto [prefix, family] : {std::pair{"dev.cdevents.", "cdevents"}, std::pair{"dev.conveyor.", "conveyor"}}) {
    if (!starts_with(e.type, prefix)) continue;
    const std::string rest = e.type.substr(std::string_view(prefix).size());
    const auto first = rest.find('.');
    const auto second = first == std::string::npos ? std::string::npos : rest.find('.', first + 1);
    e.family = family;
    e.name = rest.substr(0, second);
  }
  e.run_id = extension("runid");
  if (e.run_id.empty()) e.run_id = str(context, "chainId");
  e.pipeline = extension("pipeline");
  if (e.pipeline.empty()) e.pipeline = str(content, "pipelineName");
  std::string key = extension("partitionkey");
  if (key.empty()) key = record.key;
  e.repository = key.substr(0, key.find('@'));
  e.sha = extension("sha");
  e.ref = extension("ref");
  e.version = str(content, "version");  // dev.conveyor.version.released names the version it released
  if (e.version.empty()) e.version = extension("version");
  if (starts_with(e.name, "service.") || starts_with(e.name, "incident.")) {
    e.environment = str(member(content, "environment"), "id");
  }
  if (e.environment.empty()) e.environment = extension("environment");
  e.outcome = str(content, "outcome");
  e.task = str(content, "taskName");
  for (const char* field : {"errors", "reason", "description"}) {
    if (e.detail.empty()) e.detail = str(content, field);
  }
  if (e.detail.empty() && e.name == "artifact.published") e.detail = e.subject;
  e.data = record.value;
  return e;
}

std::optional<Classification> classify(const Event& e) {
  if (e.family == "cdevents") {
    if (e.name == "pipelinerun.started") return Classification{Kind::started, Status::pending};
    if (e.name == "pipelinerun.finished") {
      if (e.outcome == "success") return Classification{Kind::succeeded, Status::success};
      if (e.outcome == "failure") return Classification{Kind::failed, Status::failure};
      if (e.outcome == "error") return Classification{Kind::failed, Status::error};
      return std::nullopt;  // cancelled: nobody asked to hear about it
    }
    if (e.name == "testsuiterun.finished") {
      if (e.outcome == "success") return Classification{Kind::tested, Status::success};
      if (e.outcome == "failure") return Classification{Kind::tested, Status::failure};
      return Classification{Kind::tested, Status::error};
    }
    if (e.name == "artifact.published") return Classification{Kind::built, Status::success};
    if (e.name == "service.deployed" || e.name == "service.upgraded") return Classification{Kind::deployed, Status::success};
    if (e.name == "service.rolledback") return Classification{Kind::rolledback, Status::failure};
    if (e.name == "taskrun.finished" && e.task == "verify") {  // conveyor-health-verifier's verdict
      if (e.outcome == "success") return Classification{Kind::verified, Status::success};
      if (e.outcome == "failure") return Classification{Kind::verified, Status::failure};
      return Classification{Kind::verified, Status::error};
    }
  } else if (e.family == "conveyor") {
    if (e.name == "version.released") return Classification{Kind::released, Status::success};
  }
  return std::nullopt;
}

std::vector<Route> routes_of(const std::vector<config::Pipeline>& pipelines) {
  std::vector<Route> out;
  for (const auto& p : pipelines) {
    if (!p.notify.is_array()) continue;
    std::string environment;
    if (auto d = p.stage_settings.find("deploy"); d != p.stage_settings.end()) environment = str(*d, "environment");
    for (std::size_t i = 0; i < p.notify.size(); ++i) {
      const json& spec = p.notify[i];
      Route r;
      r.name = p.name + ".notify[" + std::to_string(i) + "]";
      r.key = sha256_hex(p.name + "\n" + spec.dump()).substr(0, 16);
      r.pipeline = p.name;
      r.repository = p.repository;
      r.web_url = web_url_of(p.clone_url, p.repository);
      r.default_environment = environment;
      r.provider = str(spec, "provider");
      for (const auto& word : strings(spec, "on")) {
        if (auto kind = parse_kind(word)) r.on.insert(*kind);
      }
      r.repositories = strings(spec, "repositories");
      r.environments = strings(spec, "environments");
      r.spec = spec;
      out.push_back(std::move(r));
    }
  }
  return out;
}

std::vector<Notification> plan(const Event& e, const std::vector<Route>& routes) {
  std::vector<Notification> out;
  const auto c = classify(e);
  if (!c) return out;
  for (const auto& r : routes) {
    const bool ours = e.pipeline.empty() ? lower(r.repository) == lower(e.repository) : r.pipeline == e.pipeline;
    if (!ours || !r.on.count(c->kind)) continue;
    const std::string repository = e.repository.empty() ? r.repository : e.repository;
    const std::string environment = e.environment.empty() ? r.default_environment : e.environment;
    if (!r.repositories.empty() && !any_glob(r.repositories, repository)) continue;
    if (!r.environments.empty() && (environment.empty() || !any_glob(r.environments, environment))) continue;
    if ((r.provider == "github-status" || r.provider == "github-deployment") && e.sha.empty()) continue;
    if (r.provider == "github-deployment" && environment.empty()) continue;

    Notification n;
    n.key = r.key + ":" + e.id;
    n.route = r.name;
    n.route_key = r.key;
    n.provider = r.provider;
    n.kind = c->kind;
    n.status = c->status;
    n.title = title_of(e, c->kind, c->status, environment);
    n.detail = e.detail;
    n.pipeline = e.pipeline.empty() ? r.pipeline : e.pipeline;
    n.repository = repository;
    n.run_id = e.run_id;
    n.sha = e.sha;
    n.ref = e.ref;
    n.version = e.version;
    n.environment = environment;
    n.link = e.sha.empty() ? r.web_url : r.web_url + "/commit/" + e.sha;
    n.event_id = e.id;
    n.event_type = e.type;
    n.event_source = e.source;
    n.event_time = e.time;
    n.event_subject = e.subject;
    n.cdevent = e.data;
    out.push_back(std::move(n));
  }
  return out;
}

Dispatcher::Dispatcher(std::vector<Route> routes, std::map<std::string, Provider*> providers, SentLog& sent,
                       std::string dlq_topic, std::function<bool()> stopping)
    : routes_(std::move(routes)),
      providers_(std::move(providers)),
      sent_(sent),
      dlq_topic_(std::move(dlq_topic)),
      stopping_(std::move(stopping)) {}

Result<Report> Dispatcher::handle(const events::KafkaRecord& record) const {
  auto event = decode_event(record);
  if (!event) return make_error(Errc::invalid_argument, "not a CDEvent: " + event.error().message);
  Report report;
  report.event_id = event->id;
  report.event_type = event->type;
  report.run_id = event->run_id;
  const auto notifications = plan(*event, routes_);
  report.selected = !notifications.empty();
  std::set<std::string> handled;  // identical routes: one notification
  for (const auto& n : notifications) {
    RouteResult result;
    result.route = n.route;
    result.provider = n.provider;
    result.key = n.key;
    if (!handled.insert(n.key).second) {
      result.outcome = RouteResult::Outcome::duplicate;
      report.routes.push_back(std::move(result));
      continue;
    }
    auto seen = sent_.was_sent(n.key);
    if (!seen) return make_error(Errc::unavailable, "sent-once record unreadable: " + seen.error().message);
    if (*seen) {
      result.outcome = RouteResult::Outcome::duplicate;
      report.routes.push_back(std::move(result));
      continue;
    }
    auto provider = providers_.find(n.route_key);
    Result<void> posted = provider == providers_.end()
                              ? Result<void>(make_error(Errc::internal, "no provider for route " + n.route))
                              : provider->second->post(n);
    if (posted) {
      // Sent: a record that cannot be kept only risks a repeat on redelivery.
      if (auto marked = sent_.mark_sent(n.key); !marked) {
        result.error = "sent, but the sent-once record failed: " + marked.error().message;
      }
    } else if (stopping_()) {
      // Shutdown cut the retries short: hand the event back, undelivered.
      return make_error(Errc::unavailable, "stopping before " + n.route + " was sent: " + posted.error().message);
    } else {
      result.outcome = RouteResult::Outcome::failed;
      result.error = posted.error().message;
      report.dead_letters.push_back(dead_letter(record, dlq_topic_, n, posted.error()));
    }
    report.routes.push_back(std::move(result));
  }
  return report;
}

}  // namespace conveyor::notifier
