// GitHub commit statuses: POST {api-url}/repos/{owner}/{repo}/statuses/{sha}
// with {state, target_url, description, context} (GitHub REST, "Create a
// commit status"). The run as a whole reports under the context
// "conveyor/<pipeline>" (pending on started, then success / failure / error),
// each stage under "conveyor/<pipeline>/<stage>" (test, version, build,
// deploy, verify; deploy and verify name their environment), so later
// statuses of a run replace earlier ones of the same context.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "../provider.hpp"

namespace conveyor::notifier {

class GitHubStatusProvider final : public Provider {
 public:
  GitHubStatusProvider(std::string api_url, std::string token, const webclient::Client& client)
      : api_url_(std::move(api_url)), token_(std::move(token)), client_(client) {}
  Result<void> post(const Notification& notification) override;

  // The status body for a notification.
  static nlohmann::json payload(const Notification& notification);
  // Its context: "conveyor/<pipeline>[/<stage>[ (<environment>)]]".
  static std::string context(const Notification& notification);

 private:
  std::string api_url_;
  std::string token_;
  const webclient::Client& client_;
};

}  // namespace conveyor::notifier
