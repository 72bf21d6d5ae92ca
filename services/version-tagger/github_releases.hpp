// GitHub Releases over the REST API (docs.github.com/rest/releases), sent
// through the shared webclient (retries, Retry-After, redaction):
//
//   POST {api-url}/repos/{owner}/{repo}/releases
//   Authorization: Bearer <token>
//   Accept: application/vnd.github+json
//   X-GitHub-Api-Version: 2022-11-28
//   {"tag_name": "v1.2.0", "name": "v1.2.0", "body": "<changelog section>",
//    "draft": false, "prerelease": false}
//
// The base URL is the suite's `github.api-url`, so GitHub Enterprise
// (https://ghe.example.com/api/v3) and a test server work the same way.
// 201 -> the release's html_url. 422 with an `already_exists` error for
// tag_name (a retry after the release was made) counts as success.
#pragma once

#include <string>

#include "conveyor/webclient/webclient.hpp"
#include "repository.hpp"

namespace conveyor::version_tagger {

inline constexpr const char* kGitHubApiVersion = "2022-11-28";

class GitHubReleases : public Releases {
 public:
  // `api_url` without a trailing slash is fine either way; `client` carries
  // the retry policy and must list the token among its secrets.
  GitHubReleases(std::string api_url, std::string token, webclient::Client client);
  Result<std::string> create(const ReleaseRequest& release) override;

  // The exact request create() sends (for tests and logs: it holds the token).
  webclient::Request request_for(const ReleaseRequest& release) const;

 private:
  std::string api_url_;
  std::string token_;
  webclient::Client client_;
};

}  // namespace conveyor::version_tagger
