#include "github_api.hpp"

namespace conveyor::notifier {

webclient::Request github_post(const std::string& api_url, const std::string& path, const std::string& token,
                               std::string body) {
  webclient::Request r;
  r.url = api_url + path;
  r.headers["Accept"] = "application/vnd.github+json";
  r.headers["Authorization"] = "Bearer " + token;
  r.headers["X-GitHub-Api-Version"] = kGitHubApiVersion;
  r.headers["Content-Type"] = "application/json";
  r.body = std::move(body);
  return r;
}

std::string repo_path(const std::string& repository) { return "/repos/" + repository; }

}  // namespace conveyor::notifier
