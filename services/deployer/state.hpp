// Deployment state in Redis, per environment: what runs there now, what ran
// before (newest first), and the commits marked bad by a rollback. The
// deployer writes it under the environment's lock; `conveyor rollback` reads
// it to find the deployment to roll back without a run at hand.
//
// Keys (prefix "conveyor:" by default):
//   deploy:<env>:state      JSON {"current": Entry|null, "history": [Entry...]}
//   deploy:<env>:fence      the fencing token of the last write
//   deploy:<env>:bad:<sha>  why that commit must not be deployed again (TTL)
//
// An Entry is a JSON object: {run_id, sha, version, backend, settings,
// revision, image, artifact, service, gitops (run.outputs.helm or null), run
// (the RunContext as JSON), fence, deployed_at, restored_from?}.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "conveyor/result/result.hpp"
#include "conveyor/store/redis.hpp"

namespace conveyor::deployer {

// What ran and runs in one environment.
struct Snapshot {
  nlohmann::json current;                               // null when nothing was deployed
  nlohmann::json history = nlohmann::json::array();     // earlier entries, newest first
};

// Entries kept in Snapshot::history (older ones are dropped).
inline constexpr std::size_t kHistoryLimit = 10;

class DeployState {
 public:
  explicit DeployState(std::shared_ptr<store::Redis> redis, std::string prefix = "conveyor:");

  // The environment's state; an empty Snapshot when none. Errors:
  // unavailable (Redis), invalid_argument (a value that is not our JSON).
  Result<Snapshot> load(const std::string& environment);

  // Writes the state if `fence` (the lock's fencing token) is not older than
  // the token of the last write nor than the last token store::Locks issued
  // for lock "deploy:<env>" (key <prefix>fence:deploy:<env>, so Locks and
  // DeployState must share the prefix): a holder whose lock expired and was
  // taken by another deploy cannot write, whether or not that deploy wrote
  // yet. Errors: conflict (a newer holder), unavailable.
  Result<void> save(const std::string& environment, const Snapshot& snapshot, long long fence);

  // Marks `sha` bad in `environment` for `ttl` with a one-line reason.
  Result<void> mark_bad(const std::string& environment, const std::string& sha, const std::string& reason,
                        std::chrono::seconds ttl);
  // The reason `sha` was marked bad, or std::nullopt.
  Result<std::optional<std::string>> bad_reason(const std::string& environment, const std::string& sha);

 private:
  std::string key(const std::string& environment, const std::string& suffix) const;
  std::shared_ptr<store::Redis> redis_;
  std::string prefix_;
};

}  // namespace conveyor::deployer
