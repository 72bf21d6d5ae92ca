// What the GitHub providers share: the REST API's request headers and paths.
#pragma once

#include <string>

#include "conveyor/webclient/webclient.hpp"

namespace conveyor::notifier {

// GitHub caps status and deployment-status descriptions at 140 characters.
inline constexpr std::size_t kGitHubMaxDescription = 140;
inline constexpr const char* kGitHubApiVersion = "2022-11-28";

// A JSON POST to `<api_url><path>` with the headers GitHub's REST API asks
// for: Accept: application/vnd.github+json, Authorization: Bearer <token>,
// X-GitHub-Api-Version: 2022-11-28.
webclient::Request github_post(const std::string& api_url, const std::string& path, const std::string& token,
                               std::string body);

// "/repos/<owner>/<repo>" of "owner/repo".
std::string repo_path(const std::string& repository);

}  // namespace conveyor::notifier
