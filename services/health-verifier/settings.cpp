#include "settings.hpp"

#include <initializer_list>
#include <set>

#include "conveyor/config/config.hpp"

namespace conveyor::health_verifier {
namespace {

using json = nlohmann::json;

Error bad(const std::string& path, const std::string& message) {
  return make_error(Errc::invalid_argument, path + ": " + message);
}

// Refuses keys the schema does not know (it refuses them too).
Result<void> known_keys(const json& object, const std::string& path, std::initializer_list<const char*> keys) {
  const std::set<std::string> allowed(keys.begin(), keys.end());
  for (const auto& [key, value] : object.items()) {
    if (!allowed.count(key)) return bad(path + "." + key, "unknown setting");
  }
  return {};
}

Result<std::chrono::milliseconds> duration_at(const json& object, const char* key, const std::string& path,
                                              std::chrono::milliseconds fallback) {
  auto it = object.find(key);
  if (it == object.end()) return fallback;
  auto d = config::parse_duration(*it);
  if (!d) return bad(path + "." + key, d.error().message);
  return *d;
}

Result<int> int_at(const json& object, const char* key, const std::string& path, int fallback, int min, int max) {
  auto it = object.find(key);
  if (it == object.end()) return fallback;
  if (!it->is_number_integer() || it->get<long long>() < min || it->get<long long>() > max) {
    return bad(path + "." + key, "must be a whole number in " + std::to_string(min) + ".." + std::to_string(max));
  }
  return static_cast<int>(it->get<long long>());
}

Result<std::optional<double>> number_at(const json& object, const char* key, const std::string& path) {
  auto it = object.find(key);
  if (it == object.end()) return std::optional<double>();
  if (!it->is_number()) return bad(path + "." + key, "must be a number");
  return std::optional<double>(it->get<double>());
}

Result<std::string> url_at(const json& object, const std::string& path, const events::RunContext& run) {
  auto it = object.find("url");
  if (it == object.end() || !it->is_string() || it->get<std::string>().empty()) {
    return bad(path + ".url", "required (an http:// URL)");
  }
  auto url = resolve_templates(it->get<std::string>(), run);
  if (!url) return bad(path + ".url", url.error().message);
  // conveyor::http's client speaks plain HTTP only; refusing here makes a
  // https URL a settings error rather than a failing check that rolls back.
  if (url->rfind("http://", 0) != 0) return bad(path + ".url", "only http:// URLs are supported");
  return std::move(*url);
}

Result<HttpCheck> http_check(const json& item, const std::string& path, const events::RunContext& run) {
  if (!item.is_object()) return bad(path, "must be an object");
  if (auto ok = known_keys(item, path, {"url", "status", "json-pointer", "expect", "timeout", "retries", "interval"});
      !ok) {
    return std::move(ok).error();
  }
  HttpCheck c;
  auto url = url_at(item, path, run);
  if (!url) return std::move(url).error();
  c.url = std::move(*url);
  if (auto it = item.find("status"); it != item.end()) {
    auto range = parse_status_range(*it);
    if (!range) return bad(path + ".status", range.error().message);
    c.status = *range;
  }
  if (auto it = item.find("json-pointer"); it != item.end()) {
    if (!it->is_string()) return bad(path + ".json-pointer", "must be a string such as \"/status\"");
    try {
      (void)json::json_pointer(it->get<std::string>());
    } catch (const json::exception& e) {
      return bad(path + ".json-pointer", std::string("not a JSON pointer (RFC 6901): ") + e.what());
    }
    c.json_pointer = it->get<std::string>();
  }
  if (auto it = item.find("expect"); it != item.end()) {
    if (!c.json_pointer) return bad(path + ".expect", "needs json-pointer");
    if (it->is_object() || it->is_array()) return bad(path + ".expect", "must be a string, number, boolean or null");
    c.expect = *it;
  }
  auto timeout = duration_at(item, "timeout", path, c.timeout);
  if (!timeout) return std::move(timeout).error();
  if (timeout->count() == 0) return bad(path + ".timeout", "must be more than 0");
  c.timeout = *timeout;
  auto retries = int_at(item, "retries", path, c.retries, 0, 1000);
  if (!retries) return std::move(retries).error();
  c.retries = *retries;
  auto interval = duration_at(item, "interval", path, c.interval);
  if (!interval) return std::move(interval).error();
  c.interval = *interval;
  return c;
}

Result<PrometheusCheck> prometheus_check(const json& item, const std::string& path, const events::RunContext& run) {
  if (!item.is_object()) return bad(path, "must be an object");
  if (auto ok = known_keys(item, path,
                           {"url", "query", "min", "max", "count", "interval", "failure-limit", "on-empty"});
      !ok) {
    return std::move(ok).error();
  }
  PrometheusCheck c;
  auto url = url_at(item, path, run);
  if (!url) return std::move(url).error();
  c.url = std::move(*url);
  auto q = item.find("query");
  if (q == item.end() || !q->is_string() || q->get<std::string>().empty()) return bad(path + ".query", "required");
  auto query = resolve_templates(q->get<std::string>(), run);
  if (!query) return bad(path + ".query", query.error().message);
  c.query = std::move(*query);
  auto min = number_at(item, "min", path);
  if (!min) return std::move(min).error();
  auto max = number_at(item, "max", path);
  if (!max) return std::move(max).error();
  c.min = *min;
  c.max = *max;
  if (c.min && c.max && *c.min > *c.max) return bad(path, "min is greater than max");
  auto count = int_at(item, "count", path, c.count, 1, 10000);
  if (!count) return std::move(count).error();
  c.count = *count;
  auto interval = duration_at(item, "interval", path, c.interval);
  if (!interval) return std::move(interval).error();
  c.interval = *interval;
  auto limit = int_at(item, "failure-limit", path, c.failure_limit, 0, 10000);
  if (!limit) return std::move(limit).error();
  c.failure_limit = *limit;
  if (auto it = item.find("on-empty"); it != item.end()) {
    const std::string v = it->is_string() ? it->get<std::string>() : "";
    if (v == "fail") c.on_empty = OnEmpty::fail;
    else if (v == "pass") c.on_empty = OnEmpty::pass;
    else if (v == "inconclusive") c.on_empty = OnEmpty::inconclusive;
    else return bad(path + ".on-empty", "must be fail, pass or inconclusive");
  }
  return c;
}

std::optional<std::string> string_output(const events::RunContext& run, const char* stage, const char* key) {
  auto s = run.outputs.find(stage);
  if (s == run.outputs.end() || !s->is_object()) return std::nullopt;
  auto v = s->find(key);
  if (v == s->end() || !v->is_string() || v->get<std::string>().empty()) return std::nullopt;
  return v->get<std::string>();
}

}  // namespace

Result<std::string> resolve_templates(std::string_view text, const events::RunContext& run) {
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto open = text.find("{{", pos);
    if (open == std::string_view::npos) break;
    out.append(text.substr(pos, open - pos));
    const auto close = text.find("}}", open + 2);
    if (close == std::string_view::npos) {
      return make_error(Errc::invalid_argument, "unterminated '{{' in '" + std::string(text) + "'");
    }
    std::string_view name = text.substr(open + 2, close - open - 2);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    std::optional<std::string> value;
    if (name == "sha") value = run.sha;
    else if (name == "short-sha") value = run.sha.substr(0, 7);
    else if (name == "repository") value = run.repository;
    else if (name == "pipeline") value = run.pipeline;
    else if (name == "ref-name") value = run.ref_name;
    else if (name == "run-id") value = run.run_id;
    else if (name == "version") {
      value = string_output(run, "version", "version");
      if (!value) return make_error(Errc::invalid_argument, "{{version}}: the run has no version output");
    } else if (name == "environment") {
      value = string_output(run, "deploy", "environment");
      if (!value) return make_error(Errc::invalid_argument, "{{environment}}: the run has no deploy environment");
    } else {
      return make_error(Errc::invalid_argument, "unknown placeholder {{" + std::string(name) + "}}");
    }
    out += *value;
    pos = close + 2;
  }
  if (pos < text.size()) out.append(text.substr(pos));
  return out;
}

Result<VerifySettings> parse_settings(const nlohmann::json& settings, const events::RunContext& run) {
  const std::string root = "verify";
  VerifySettings s;
  if (settings.is_null()) return s;
  if (!settings.is_object()) return bad(root, "must be an object");
  if (auto ok = known_keys(settings, root, {"settle", "soak", "http", "prometheus", "on-failure"}); !ok) {
    return std::move(ok).error();
  }
  auto settle = duration_at(settings, "settle", root, s.settle);
  if (!settle) return std::move(settle).error();
  s.settle = *settle;
  auto soak = duration_at(settings, "soak", root, s.soak);
  if (!soak) return std::move(soak).error();
  s.soak = *soak;
  if (auto it = settings.find("http"); it != settings.end()) {
    if (!it->is_array()) return bad(root + ".http", "must be a list");
    for (std::size_t i = 0; i < it->size(); ++i) {
      auto c = http_check((*it)[i], root + ".http[" + std::to_string(i) + "]", run);
      if (!c) return std::move(c).error();
      s.http.push_back(std::move(*c));
    }
  }
  if (auto it = settings.find("prometheus"); it != settings.end()) {
    if (!it->is_array()) return bad(root + ".prometheus", "must be a list");
    for (std::size_t i = 0; i < it->size(); ++i) {
      auto c = prometheus_check((*it)[i], root + ".prometheus[" + std::to_string(i) + "]", run);
      if (!c) return std::move(c).error();
      s.prometheus.push_back(std::move(*c));
    }
  }
  if (auto it = settings.find("on-failure"); it != settings.end()) {
    const std::string v = it->is_string() ? it->get<std::string>() : "";
    if (v == "rollback") s.rollback = true;
    else if (v == "none") s.rollback = false;
    else return bad(root + ".on-failure", "must be rollback or none");
  }
  return s;
}

}  // namespace conveyor::health_verifier
