#include "github_status.hpp"

#include "../text.hpp"
#include "github_api.hpp"

namespace conveyor::notifier {

std::string GitHubStatusProvider::context(const Notification& n) {
  std::string context = "conveyor/" + n.pipeline;
  std::string stage;
  switch (n.kind) {
    case Kind::started:
    case Kind::succeeded:
    case Kind::failed: return context;
    case Kind::tested: stage = "test"; break;
    case Kind::released: stage = "version"; break;
    case Kind::built: stage = "build"; break;
    case Kind::deployed:
    case Kind::rolledback: stage = "deploy"; break;
    case Kind::verified: stage = "verify"; break;
  }
  context += "/" + stage;
  if ((stage == "deploy" || stage == "verify") && !n.environment.empty()) context += " (" + n.environment + ")";
  return context;
}

nlohmann::json GitHubStatusProvider::payload(const Notification& n) {
  return nlohmann::json{
      {"state", std::string(to_string(n.status))},
      {"target_url", n.link},
      {"description", text::truncate(n.title, kGitHubMaxDescription)},
      {"context", context(n)},
  };
}

Result<void> GitHubStatusProvider::post(const Notification& n) {
  auto sent = client_.send(github_post(api_url_, repo_path(n.repository) + "/statuses/" + n.sha, token_, payload(n).dump()));
  if (!sent) return std::move(sent).error();
  return {};
}

}  // namespace conveyor::notifier
