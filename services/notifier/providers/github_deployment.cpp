#include "github_deployment.hpp"

#include "../text.hpp"
#include "github_api.hpp"

namespace conveyor::notifier {
namespace {

using nlohmann::json;

std::string state_of(const Notification& n) {
  switch (n.status) {
    case Status::pending: return "in_progress";
    case Status::failure: return "failure";
    case Status::error: return "error";
    case Status::success:
      return n.kind == Kind::deployed || n.kind == Kind::verified || n.kind == Kind::succeeded ? "success"
                                                                                               : "in_progress";
  }
  return "error";
}

}  // namespace

std::string GitHubDeploymentProvider::key(const Notification& n) {
  return n.repository + ":" + n.run_id + ":" + n.environment;
}

json GitHubDeploymentProvider::deployment_payload(const Notification& n) {
  json payload = {{"run_id", n.run_id}, {"pipeline", n.pipeline}};
  if (!n.version.empty()) payload["version"] = n.version;
  return json{
      {"ref", n.sha},
      {"environment", n.environment},
      {"description", text::truncate(n.pipeline + " run " + n.run_id, kGitHubMaxDescription)},
      {"auto_merge", false},
      {"required_contexts", json::array()},
      {"payload", std::move(payload)},
  };
}

json GitHubDeploymentProvider::status_payload(const Notification& n) {
  return json{
      {"state", state_of(n)},
      {"log_url", n.link},
      {"description", text::truncate(n.title, kGitHubMaxDescription)},
  };
}

Result<std::string> GitHubDeploymentProvider::deployment_id(const Notification& n) {
  auto known = ids_.find(key(n));
  if (!known) return std::move(known).error();
  if (known->has_value()) return **known;
  auto created = client_.send(
      github_post(api_url_, repo_path(n.repository) + "/deployments", token_, deployment_payload(n).dump()));
  if (!created) return std::move(created).error();
  const std::string where = "POST " + webclient::origin_of(api_url_) + " deployments";
  if (created->status != 201) {
    // 202: GitHub merged the default branch instead (auto_merge is off, so unexpected).
    return make_error(Errc::conflict, where + ": HTTP " + std::to_string(created->status) + ", no deployment created");
  }
  const json body = json::parse(created->body, nullptr, /*allow_exceptions=*/false);
  // The id goes into a URL path: only a positive integer is accepted.
  if (!body.is_object() || !body.contains("id") || !body["id"].is_number_unsigned() || body["id"].get<unsigned long long>() == 0) {
    return make_error(Errc::internal, where + ": the answer has no deployment id");
  }
  const std::string id = std::to_string(body["id"].get<unsigned long long>());
  if (auto saved = ids_.save(key(n), id); !saved) return std::move(saved).error();
  return id;
}

Result<void> GitHubDeploymentProvider::post(const Notification& n) {
  auto id = deployment_id(n);
  if (!id) return std::move(id).error();
  auto sent = client_.send(github_post(api_url_, repo_path(n.repository) + "/deployments/" + *id + "/statuses", token_,
                                       status_payload(n).dump()));
  if (!sent) return std::move(sent).error();
  return {};
}

}  // namespace conveyor::notifier
