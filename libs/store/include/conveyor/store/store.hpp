// conveyor's shared state in Redis: delivery dedupe, idempotency records of
// finished stage requests, run state, and locks with fencing tokens.
// Key layout (prefix "conveyor:" by default):
//   delivery:<id>        webhook delivery ids seen (SET NX EX)
//   outcome:<request id> recorded outcome of a finished request (JSON)
//   run:<run id>         hash of a run's state; runs: sorted set by time
//   lock:<name>          lock holder "<owner>:<token>"; fence:<name> counter
//   created-tag:<owner/repo>:<tag>  SHAs of a tag conveyor pushed (CreatedTags)
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "conveyor/result/result.hpp"
#include "conveyor/store/redis.hpp"

namespace conveyor::store {

// Webhook delivery dedupe (X-GitHub-Delivery). A delivery is first claimed
// as in progress, then marked done once its records were acknowledged by
// Kafka; a claim whose publisher died stays "in progress" until its TTL, and
// a redelivery meanwhile may publish again (the records carry deterministic
// ids, so downstream idempotency absorbs the repeat).
enum class DeliveryState {
  fresh,        // this call claimed it
  in_progress,  // claimed by an earlier call that has not completed
  done,         // published before: acknowledge, publish nothing
};

class DeliveryDedupe {
 public:
  explicit DeliveryDedupe(std::shared_ptr<Redis> redis, std::string prefix = "conveyor:");
  // Claims the id for `pending_ttl` unless seen. Errors: unavailable.
  Result<DeliveryState> claim(const std::string& delivery_id, std::chrono::seconds pending_ttl);
  // Marks the id done for `ttl` (after its records were acknowledged).
  Result<void> complete(const std::string& delivery_id, std::chrono::seconds ttl);
  // Forgets a claim (publishing failed, so a redelivery is processed).
  Result<void> release(const std::string& delivery_id);

 private:
  std::shared_ptr<Redis> redis_;
  std::string prefix_;
};

// DeliveryDedupe for a server under load: claim() and complete() return at
// once and report to a callback, and one thread sends everything queued
// meanwhile in one pipelined round trip, so no caller blocks on Redis and N
// concurrent deliveries cost one round trip instead of N. Same keys,
// commands and states as DeliveryDedupe (whose release() completes the set).
class PipelinedDeliveryDedupe {
 public:
  using ClaimDone = std::function<void(Result<DeliveryState>)>;
  using CompleteDone = std::function<void(Result<void>)>;

  explicit PipelinedDeliveryDedupe(std::shared_ptr<Redis> redis, std::string prefix = "conveyor:");
  // Sends what is still queued, runs its callbacks, then stops the thread.
  ~PipelinedDeliveryDedupe();
  PipelinedDeliveryDedupe(const PipelinedDeliveryDedupe&) = delete;
  PipelinedDeliveryDedupe& operator=(const PipelinedDeliveryDedupe&) = delete;

  // Queues DeliveryDedupe::claim; `done` runs on the dedupe thread (keep it
  // short and non-blocking: the next round trip waits for it). Errors as claim().
  void claim(const std::string& delivery_id, std::chrono::seconds pending_ttl, ClaimDone done);
  // Queues DeliveryDedupe::complete; `done` as for claim().
  void complete(const std::string& delivery_id, std::chrono::seconds ttl, CompleteDone done);
  // Waits until everything queued so far was sent and its callbacks ran.
  void drain();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Idempotency records: the outcome a finished request produced, so a
// redelivered request re-publishes it instead of redoing side effects.
class OutcomeStore {
 public:
  explicit OutcomeStore(std::shared_ptr<Redis> redis, std::string prefix = "conveyor:");
  // Records `outcome` (opaque text, usually JSON) for `request_id`; ttl bounds retention.
  Result<void> save(const std::string& request_id, const std::string& outcome, std::chrono::seconds ttl);
  // The recorded outcome, or std::nullopt if none.
  Result<std::optional<std::string>> find(const std::string& request_id);

 private:
  std::shared_ptr<Redis> redis_;
  std::string prefix_;
};

// Run state for `conveyor runs`: a hash per run plus a time index.
class RunStore {
 public:
  explicit RunStore(std::shared_ptr<Redis> redis, std::string prefix = "conveyor:");
  // Sets fields of a run (creating it), and indexes it by `unix_ms` (first write wins the index time).
  Result<void> update(const std::string& run_id, const std::map<std::string, std::string>& fields,
                      long long unix_ms);
  // All fields of a run; empty map when unknown.
  Result<std::map<std::string, std::string>> get(const std::string& run_id);
  // Most recent run ids, newest first (limit 1..1000).
  Result<std::vector<std::string>> recent(int limit);

 private:
  std::shared_ptr<Redis> redis_;
  std::string prefix_;
};

// A held lock: the fencing token increases with every acquisition of that
// lock name, so a stale holder's writes can be refused downstream.
struct LockLease {
  std::string name;
  std::string owner;
  long long token = 0;
};

// Mutual exclusion with TTL and fencing token (one deploy per environment).
// Acquisition and release are atomic Lua scripts.
class Locks {
 public:
  explicit Locks(std::shared_ptr<Redis> redis, std::string prefix = "conveyor:");
  // Takes the lock if free; std::nullopt if held by someone else.
  Result<std::optional<LockLease>> try_acquire(const std::string& name, const std::string& owner,
                                               std::chrono::milliseconds ttl);
  // Extends a lease still held; Error conflict if it was lost (expired/taken).
  Result<void> extend(const LockLease& lease, std::chrono::milliseconds ttl);
  // Releases a lease still held; releasing a lost lease is a no-op (ok).
  Result<void> release(const LockLease& lease);

 private:
  std::shared_ptr<Redis> redis_;
  std::string prefix_;
};

// Tags the version-tagger created, so the push webhook GitHub then sends for
// such a tag is acknowledged without starting a second run. The value holds
// the SHAs a push of that tag may name: the tagged commit and the annotated
// tag object (GitHub's push `after` for an annotated tag). The repository is
// matched case-insensitively, like pipelines match it.
class CreatedTags {
 public:
  explicit CreatedTags(std::shared_ptr<Redis> redis, std::string prefix = "conveyor:");
  // Records (or overwrites) `tag` of `repository` ("owner/repo") with `shas`
  // for `ttl`. Errors: invalid_argument (no SHA), unavailable.
  Result<void> record(const std::string& repository, const std::string& tag, const std::vector<std::string>& shas,
                      std::chrono::seconds ttl);
  // True when conveyor recorded `tag` of `repository` with `sha` among its SHAs.
  Result<bool> was_created(const std::string& repository, const std::string& tag, const std::string& sha);

 private:
  std::string key(const std::string& repository, const std::string& tag) const;
  std::shared_ptr<Redis> redis_;
  std::string prefix_;
};

}  // namespace conveyor::store
