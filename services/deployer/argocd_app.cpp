#include "argocd_app.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "conveyor/config/config.hpp"

namespace conveyor::deployer {
namespace {

Error bad(const std::string& key, const std::string& why) {
  return make_error(Errc::invalid_argument, "deploy.argocd." + key + ": " + why);
}

const nlohmann::json& member(const nlohmann::json& j, const char* key) {
  static const nlohmann::json null_json;
  if (!j.is_object()) return null_json;
  auto it = j.find(key);
  return it == j.end() ? null_json : *it;
}

std::string text(const nlohmann::json& j, const char* key) {
  const auto& v = member(j, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

Result<std::chrono::milliseconds> positive_duration(const nlohmann::json& settings, const char* key,
                                                    std::chrono::milliseconds fallback) {
  const auto& v = member(settings, key);
  if (v.is_null()) return fallback;
  auto d = config::parse_duration(v);
  if (!d) return bad(key, d.error().message);
  if (d->count() <= 0) return bad(key, "must be positive");
  return *d;
}

std::optional<long long> as_id(const nlohmann::json& v) {
  if (v.is_number_integer()) return v.get<long long>();
  if (v.is_string()) {
    const auto s = v.get<std::string>();
    if (!s.empty() && s.size() < 19 && s.find_first_not_of("0123456789") == std::string::npos) return std::stoll(s);
  }
  return std::nullopt;
}

}  // namespace

Result<ArgoCdSettings> parse_argocd_settings(const nlohmann::json& settings, const ArgoCdSettings& defaults) {
  if (!settings.is_object()) return bad("", "must be an object");
  ArgoCdSettings s = defaults;
  s.url = text(settings, "url");
  const auto scheme_end = s.url.find("://");
  if (scheme_end == std::string::npos || (s.url.rfind("http://", 0) != 0 && s.url.rfind("https://", 0) != 0)) {
    return bad("url", "must be an http:// or https:// URL");
  }
  const auto authority_end = s.url.find('/', scheme_end + 3);
  if (s.url.substr(scheme_end + 3, authority_end - scheme_end - 3).find('@') != std::string::npos) {
    return bad("url", "must not carry credentials (use deploy.argocd.token)");
  }
  if (s.url.find_first_of("?# \n\r\t") != std::string::npos) return bad("url", "must be a plain base URL");
  while (!s.url.empty() && s.url.back() == '/') s.url.pop_back();
  s.app = text(settings, "app");
  if (s.app.empty()) return bad("app", "is required");
  auto timeout = positive_duration(settings, "timeout", s.timeout);
  if (!timeout) return timeout.error();
  s.timeout = *timeout;
  auto interval = positive_duration(settings, "poll-interval", s.poll_interval);
  if (!interval) return interval.error();
  s.poll_interval = *interval;
  return s;
}

std::string argocd_app_url(const ArgoCdSettings& s, std::string_view suffix) {
  std::string encoded;
  for (unsigned char c : s.app) {
    if (std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      encoded += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      encoded += buf;
    }
  }
  return s.url + "/api/v1/applications/" + encoded + std::string(suffix);
}

nlohmann::json argocd_sync_body(const ArgoCdSettings& s) { return {{"name", s.app}, {"prune", false}}; }

nlohmann::json argocd_rollback_body(const ArgoCdSettings& s, long long history_id) {
  return {{"name", s.app}, {"id", history_id}, {"prune", false}};
}

std::optional<long long> ArgoAppState::last_history_id() const {
  if (history.empty()) return std::nullopt;
  return history.back().id;
}

Result<ArgoAppState> parse_argocd_app(std::string_view json_text) {
  auto j = nlohmann::json::parse(json_text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !member(j, "metadata").is_object()) {
    return make_error(Errc::invalid_argument, "not an Argo CD Application (no metadata)");
  }
  ArgoAppState st;
  const auto& status = member(j, "status");
  st.sync_status = text(member(status, "sync"), "status");
  st.sync_revision = text(member(status, "sync"), "revision");
  st.health_status = text(member(status, "health"), "status");
  st.health_message = text(member(status, "health"), "message");
  st.operation_requested = member(j, "operation").is_object();
  const auto& op = member(status, "operationState");
  st.op_phase = text(op, "phase");
  st.op_message = text(op, "message");
  st.op_started_at = text(op, "startedAt");
  const auto& history = member(status, "history");
  if (history.is_array()) {
    for (const auto& e : history) {
      auto id = as_id(member(e, "id"));
      if (!id) return make_error(Errc::invalid_argument, "Argo CD history entry without an id");
      st.history.push_back({*id, text(e, "revision"), text(e, "deployedAt")});
    }
  }
  std::sort(st.history.begin(), st.history.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return st;
}

std::string argocd_error_message(std::string_view body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return "";
  std::string m = text(j, "message");
  if (m.empty()) m = text(j, "error");
  return m;
}

}  // namespace conveyor::deployer
