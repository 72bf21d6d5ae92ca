// GitHub deployments: the first notification of a run for an environment
// creates a deployment (POST {api-url}/repos/{owner}/{repo}/deployments with
// the commit SHA as ref, auto_merge off and no required contexts, so it never
// merges a branch or waits on our own pending status), remembered by
// DeploymentIds; every notification then adds a deployment status (POST
// .../deployments/{id}/statuses {state, log_url, description}):
//
//   started, tested, released, built (success)   in_progress
//   deployed, verified, succeeded                 success
//   failed, rolledback, a failed test             failure (error for an errored run)
//
// A crash between creating a deployment and saving its id creates a second
// deployment for the run on redelivery: harmless, GitHub shows both.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "../provider.hpp"

namespace conveyor::notifier {

class GitHubDeploymentProvider final : public Provider {
 public:
  GitHubDeploymentProvider(std::string api_url, std::string token, const webclient::Client& client,
                           DeploymentIds& ids)
      : api_url_(std::move(api_url)), token_(std::move(token)), client_(client), ids_(ids) {}
  Result<void> post(const Notification& notification) override;

  // The bodies sent (for tests).
  static nlohmann::json deployment_payload(const Notification& notification);
  static nlohmann::json status_payload(const Notification& notification);
  // The DeploymentIds key: "<repository>:<run id>:<environment>".
  static std::string key(const Notification& notification);

 private:
  Result<std::string> deployment_id(const Notification& notification);

  std::string api_url_;
  std::string token_;
  const webclient::Client& client_;
  DeploymentIds& ids_;
};

}  // namespace conveyor::notifier
