#include "state.hpp"

namespace conveyor::deployer {
namespace {

using json = nlohmann::json;

// KEYS[1] state, KEYS[2] fence of the last write, KEYS[3] the lock's token
// counter (store::Locks); ARGV[1] state JSON, ARGV[2] token.
constexpr const char* kFencedSet =
    "local last = tonumber(redis.call('GET', KEYS[2]) or '0') "
    "local issued = tonumber(redis.call('GET', KEYS[3]) or '0') "
    "if tonumber(ARGV[2]) < last or tonumber(ARGV[2]) < issued then return 0 end "
    "redis.call('SET', KEYS[1], ARGV[1]) "
    "redis.call('SET', KEYS[2], ARGV[2]) "
    "return 1";

}  // namespace

DeployState::DeployState(std::shared_ptr<store::Redis> redis, std::string prefix)
    : redis_(std::move(redis)), prefix_(std::move(prefix)) {}

std::string DeployState::key(const std::string& environment, const std::string& suffix) const {
  return prefix_ + "deploy:" + environment + ":" + suffix;
}

Result<Snapshot> DeployState::load(const std::string& environment) {
  auto reply = redis_->command({"GET", key(environment, "state")});
  if (!reply) return std::move(reply).error();
  Snapshot snapshot;
  if (reply->is_nil()) return snapshot;
  const json doc = json::parse(reply->str, nullptr, false);
  if (!doc.is_object() || !doc.contains("current") || !doc.contains("history") || !doc["history"].is_array()) {
    return make_error(Errc::invalid_argument, "deployment state of " + environment + " is not valid JSON state");
  }
  snapshot.current = doc["current"];
  snapshot.history = doc["history"];
  return snapshot;
}

Result<void> DeployState::save(const std::string& environment, const Snapshot& snapshot, long long fence) {
  json history = snapshot.history.is_array() ? snapshot.history : json::array();
  while (history.size() > kHistoryLimit) history.erase(history.end() - 1);
  const std::string value = json{{"current", snapshot.current}, {"history", history}}.dump();
  const std::string token = std::to_string(fence);
  const std::string state_key = key(environment, "state");
  const std::string fence_key = key(environment, "fence");
  // store::Locks counts the tokens of lock "deploy:<env>" under <prefix>fence:deploy:<env>.
  const std::string issued_key = prefix_ + "fence:deploy:" + environment;
  auto reply = redis_->command({"EVAL", kFencedSet, "3", state_key, fence_key, issued_key, value, token});
  if (!reply) return std::move(reply).error();
  if (reply->integer != 1) {
    return make_error(Errc::conflict, "deployment state of " + environment +
                                          ": the deploy lock was taken by a newer holder (fencing token " + token +
                                          " is stale)");
  }
  return {};
}

Result<void> DeployState::mark_bad(const std::string& environment, const std::string& sha, const std::string& reason,
                                   std::chrono::seconds ttl) {
  auto reply = redis_->command({"SET", key(environment, "bad:" + sha), reason, "EX", std::to_string(ttl.count())});
  if (!reply) return std::move(reply).error();
  return {};
}

Result<std::optional<std::string>> DeployState::bad_reason(const std::string& environment, const std::string& sha) {
  auto reply = redis_->command({"GET", key(environment, "bad:" + sha)});
  if (!reply) return std::move(reply).error();
  if (reply->is_nil()) return std::optional<std::string>();
  return std::optional<std::string>(reply->str);
}

}  // namespace conveyor::deployer
