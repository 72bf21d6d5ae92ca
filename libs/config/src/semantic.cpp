// Rules that JSON Schema cannot express. Every check tolerates a document of
// the wrong shape (the schema pass reports that), so all problems of a file
// can be reported together.
#include <map>
#include <string>
#include <vector>

#include "internal.hpp"

namespace conveyor::config::detail {
namespace {

using nlohmann::json;

constexpr const char* kInsideCheckout = "must stay inside the checkout: a relative path without '..' segments";

const json* find(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

const json* find_string(const json& object, const char* key) {
  const json* v = find(object, key);
  return v && v->is_string() ? v : nullptr;
}

// A path inside the checkout: relative and without ".." segments.
bool stays_inside(const std::string& p) {
  if (p.empty() || p.front() == '/' || p.front() == '~') return false;
  std::size_t start = 0;
  while (start <= p.size()) {
    std::size_t end = p.find('/', start);
    if (end == std::string::npos) end = p.size();
    if (p.compare(start, end - start, "..") == 0 && end - start == 2) return false;
    start = end + 1;
  }
  return true;
}

class Checker {
 public:
  explicit Checker(const json& doc) : doc_(doc) {}

  std::vector<RawIssue> run() {
    check_webhook();
    const json* pipelines = find(doc_, "pipelines");
    if (!pipelines || !pipelines->is_array()) return std::move(issues_);

    std::map<std::string, std::size_t> names;
    for (std::size_t i = 0; i < pipelines->size(); ++i) {
      const json& p = (*pipelines)[i];
      const KeyPath at = child(KeyPath{PathSegment::of_key("pipelines")}, i);
      if (const json* name = find_string(p, "name")) {
        auto [it, inserted] = names.emplace(name->get<std::string>(), i);
        if (!inserted) {
          add(child(at, "name"), "duplicate pipeline name '" + it->first + "' (also pipelines[" +
                                     std::to_string(it->second) + "].name)");
        }
      }
      check_pipeline(p, at);
    }
    return std::move(issues_);
  }

 private:
  void add(KeyPath path, std::string message) { issues_.push_back(RawIssue{std::move(path), std::move(message)}); }

  void inside_checkout(const json& object, const char* key, const KeyPath& at) {
    if (const json* v = find_string(object, key)) {
      if (!stays_inside(v->get<std::string>())) {
        add(child(at, key), kInsideCheckout);
      }
    }
  }

  void check_webhook() {
    const json* webhook = find(doc_, "webhook");
    if (!webhook) return;
    const json* ttl = find(*webhook, "dedupe-ttl");
    if (!ttl) return;
    auto d = parse_duration(*ttl);
    if (d.ok() && (d.value().count() < 1000 || d.value().count() % 1000 != 0)) {
      add({PathSegment::of_key("webhook"), PathSegment::of_key("dedupe-ttl")},
          "must be a whole number of seconds, at least 1s");
    }
  }

  void check_pipeline(const json& p, const KeyPath& at) {
    if (!p.is_object()) return;

    // Trigger stages must be stages this pipeline configures.
    if (const json* triggers = find(p, "triggers")) {
      for (const char* kind : {"push", "pull-request"}) {
        const json* trigger = find(*triggers, kind);
        const json* stages = trigger ? find(*trigger, "stages") : nullptr;
        if (!stages || !stages->is_array()) continue;
        for (std::size_t k = 0; k < stages->size(); ++k) {
          if (!(*stages)[k].is_string()) continue;
          const std::string stage = (*stages)[k].get<std::string>();
          const std::string_view key = stage_config_key(stage);
          if (key.empty() || p.contains(std::string(key))) continue;
          add(child(child(child(child(at, "triggers"), kind), "stages"), k),
              "stage '" + stage + "' is not configured in this pipeline (it has no '" + std::string(key) + "' key)");
        }
      }
    }

    // Paths that are read from the checkout must stay inside it.
    if (const json* test = find(p, "test")) {
      const KeyPath test_at = child(at, "test");
      if (const json* steps = find(*test, "steps"); steps && steps->is_array()) {
        for (std::size_t s = 0; s < steps->size(); ++s) {
          inside_checkout((*steps)[s], "working-directory", child(child(test_at, "steps"), s));
        }
      }
      if (const json* junit = find(*test, "junit"); junit && junit->is_array()) {
        for (std::size_t j = 0; j < junit->size(); ++j) {
          if ((*junit)[j].is_string() && !stays_inside((*junit)[j].get<std::string>())) {
            add(child(child(test_at, "junit"), j), kInsideCheckout);
          }
        }
      }
    }
    if (const json* version = find(p, "version")) {
      inside_checkout(*version, "changelog", child(at, "version"));
      const json* release = find(*version, "github-release");
      if (release && *release == true && !has_github_token()) {
        add(child(child(at, "version"), "github-release"), "needs github.token");
      }
    }
    if (const json* values = find(p, "values")) inside_checkout(*values, "file", child(at, "values"));
    if (const json* images = find(p, "images"); images && images->is_array()) {
      std::map<std::string, std::size_t> image_names;
      for (std::size_t m = 0; m < images->size(); ++m) {
        const json& image = (*images)[m];
        const KeyPath image_at = child(child(at, "images"), m);
        inside_checkout(image, "context", image_at);
        inside_checkout(image, "dockerfile", image_at);
        if (const json* name = find_string(image, "name")) {
          auto [it, inserted] = image_names.emplace(name->get<std::string>(), m);
          if (!inserted) {
            add(child(image_at, "name"),
                "duplicate image name '" + it->first + "' (also images[" + std::to_string(it->second) + "].name)");
          }
        }
      }
    }

    // A deploy goes to exactly one backend.
    if (const json* deploy = find(p, "deploy"); deploy && deploy->is_object()) {
      int backends = 0;
      for (const char* b : {"helm", "argocd", "compose"}) backends += deploy->contains(b) ? 1 : 0;
      if (backends != 1) {
        add(child(at, "deploy"), backends == 0 ? "needs one of: helm, argocd, compose"
                                               : "must configure only one of: helm, argocd, compose");
      }
    }

    check_verify(p, at);
    check_notify(p, at);
  }

  void check_verify(const json& p, const KeyPath& at) {
    const json* verify = find(p, "verify");
    if (!verify || !verify->is_object()) return;
    const KeyPath verify_at = child(at, "verify");
    const json* on_failure = find_string(*verify, "on-failure");
    if (on_failure && *on_failure == "rollback" && !p.contains("deploy")) {
      add(child(verify_at, "on-failure"), "'rollback' needs a 'deploy' stage in this pipeline");
    }
    if (const json* queries = find(*verify, "prometheus"); queries && queries->is_array()) {
      for (std::size_t q = 0; q < queries->size(); ++q) {
        const json* min = find((*queries)[q], "min");
        const json* max = find((*queries)[q], "max");
        if (min && max && min->is_number() && max->is_number() && min->get<double>() > max->get<double>()) {
          add(child(child(verify_at, "prometheus"), q), "min is greater than max");
        }
      }
    }
  }

  void check_notify(const json& p, const KeyPath& at) {
    const json* routes = find(p, "notify");
    if (!routes || !routes->is_array()) return;
    const bool has_token = has_github_token();
    for (std::size_t n = 0; n < routes->size(); ++n) {
      const json& route = (*routes)[n];
      const json* provider = find_string(route, "provider");
      if (!provider) continue;
      const KeyPath route_at = child(child(at, "notify"), n);
      const std::string name = provider->get<std::string>();
      if (name != "slack" && name != "discord" && name != "webhook" && name != "github-status" &&
          name != "github-deployment") {
        continue;  // the schema reports unknown providers
      }
      const bool github_route = name == "github-status" || name == "github-deployment";
      const int urls = (route.contains("url") ? 1 : 0) + (route.contains("url-secret") ? 1 : 0);
      if (!github_route && urls != 1) {
        add(route_at, urls == 0 ? "provider '" + name + "' needs 'url' or 'url-secret'"
                                : "set only one of 'url' and 'url-secret'");
      }
      if (github_route && urls != 0) {
        add(route_at, "provider '" + name + "' posts to github.api-url; remove 'url'/'url-secret'");
      }
      if (github_route && !has_token) {
        add(child(route_at, "provider"), "provider '" + name + "' needs github.token");
      }
      if (route.contains("secret") && name != "webhook") {
        add(child(route_at, "secret"), "only the 'webhook' provider signs with a secret");
      }
    }
  }

  bool has_github_token() const {
    const json* github = find(doc_, "github");
    return github && find(*github, "token");
  }

  const json& doc_;
  std::vector<RawIssue> issues_;
};

}  // namespace

std::vector<RawIssue> semantic_issues(const json& doc) { return Checker(doc).run(); }

}  // namespace conveyor::config::detail
