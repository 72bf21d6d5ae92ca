#include "github_releases.hpp"

#include <nlohmann/json.hpp>

#include "plan.hpp"

namespace conveyor::version_tagger {
namespace {

// How much of an error answer goes into a reason.
constexpr std::size_t kMaxExcerpt = 300;

// GitHub's 422 for a release that exists: {"errors": [{"resource": "Release",
// "code": "already_exists", "field": "tag_name"}]}.
bool already_exists(const std::string& body) {
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("errors") || !j["errors"].is_array()) return false;
  for (const auto& e : j["errors"]) {
    if (e.is_object() && e.value("code", "") == "already_exists") return true;
  }
  return false;
}

}  // namespace

GitHubReleases::GitHubReleases(std::string api_url, std::string token, webclient::Client client)
    : api_url_(std::move(api_url)), token_(std::move(token)), client_(std::move(client)) {
  while (!api_url_.empty() && api_url_.back() == '/') api_url_.pop_back();
}

webclient::Request GitHubReleases::request_for(const ReleaseRequest& release) const {
  webclient::Request r;
  r.method = "POST";
  r.url = api_url_ + "/repos/" + release.repository + "/releases";
  r.headers["Accept"] = "application/vnd.github+json";
  r.headers["Authorization"] = "Bearer " + token_;
  r.headers["X-GitHub-Api-Version"] = kGitHubApiVersion;
  r.headers["Content-Type"] = "application/json";
  r.body = nlohmann::json{{"tag_name", release.tag},
                          {"name", release.name},
                          {"body", release.body},
                          {"draft", false},
                          {"prerelease", release.prerelease}}
               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

Result<std::string> GitHubReleases::create(const ReleaseRequest& release) {
  if (release.repository.find('/') == std::string::npos) {
    return make_error(Errc::invalid_argument, "GitHub Release: '" + release.repository + "' is not owner/repo");
  }
  const auto request = request_for(release);
  auto exchange = client_.exchange(request);
  if (!exchange) return std::move(exchange).error();
  const auto& response = exchange->response;
  if (response.status == 422 && already_exists(response.body)) return std::string();
  if (response.status < 200 || response.status >= 300) {
    std::string message = "POST " + webclient::origin_of(request.url) + "/repos/" + release.repository +
                          "/releases: HTTP " + std::to_string(response.status) + " after " +
                          std::to_string(exchange->attempts) + " attempt" + (exchange->attempts == 1 ? "" : "s");
    if (!exchange->gave_up.empty()) message += " (" + exchange->gave_up + ")";
    std::string answer = client_.redact(response.body);
    if (answer.size() > kMaxExcerpt) answer = answer.substr(0, kMaxExcerpt) + "...";
    answer = to_valid_utf8(answer);
    if (!answer.empty()) message += ": " + answer;
    // 5xx / 408 / 429 after the client's retries: worth a later retry.
    const Errc code = webclient::is_retryable_status(response.status) ? Errc::unavailable : Errc::invalid_argument;
    return make_error(code, client_.redact(message));
  }
  const auto body = nlohmann::json::parse(response.body, nullptr, false);
  if (body.is_object() && body.contains("html_url") && body["html_url"].is_string()) {
    return body["html_url"].get<std::string>();
  }
  return std::string();
}

}  // namespace conveyor::version_tagger
