#include "conveyor/store/store.hpp"

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace conveyor::store {
namespace {

// Lua: take lock KEYS[1] for ARGV[1] (owner) with PX ARGV[2] if free; the token
// comes from INCR on KEYS[2] so it grows with every acquisition. Returns the
// token, or 0 when held.
constexpr const char* kAcquire = R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. token, 'PX', ARGV[2])
return token
)lua";

// Lua: extend KEYS[1] by ARGV[2] ms if it still holds ARGV[1]; 1 or 0.
constexpr const char* kExtend = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
)lua";

// Lua: delete KEYS[1] if it still holds ARGV[1]; 1 or 0.
constexpr const char* kRelease = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
)lua";

std::string holder(const LockLease& lease) { return lease.owner + ":" + std::to_string(lease.token); }

}  // namespace

DeliveryDedupe::DeliveryDedupe(std::shared_ptr<Redis> redis, std::string prefix)
    : redis_(std::move(redis)), prefix_(std::move(prefix)) {}

namespace {

// The dedupe commands, shared by DeliveryDedupe and PipelinedDeliveryDedupe.
// SET ... NX GET is Redis >= 7.0: claim and learn the previous state in one round trip.
std::vector<std::string> claim_command(const std::string& prefix, const std::string& id, std::chrono::seconds ttl) {
  return {"SET", prefix + "delivery:" + id, "pending", "NX", "GET", "EX",
          std::to_string(std::max<long long>(1, ttl.count()))};
}

std::vector<std::string> complete_command(const std::string& prefix, const std::string& id, std::chrono::seconds ttl) {
  return {"SET", prefix + "delivery:" + id, "done", "EX", std::to_string(std::max<long long>(1, ttl.count()))};
}

Result<DeliveryState> claim_state(Result<Reply> r) {
  if (!r) return std::move(r).error();
  if (r->is_nil()) return DeliveryState::fresh;
  return r->str == "done" ? DeliveryState::done : DeliveryState::in_progress;
}

Result<Reply> run(Redis& redis, const std::vector<std::string>& argv) {
  return redis.command(std::vector<std::string_view>(argv.begin(), argv.end()));
}

}  // namespace

Result<DeliveryState> DeliveryDedupe::claim(const std::string& delivery_id, std::chrono::seconds pending_ttl) {
  return claim_state(run(*redis_, claim_command(prefix_, delivery_id, pending_ttl)));
}

Result<void> DeliveryDedupe::complete(const std::string& delivery_id, std::chrono::seconds ttl) {
  auto r = run(*redis_, complete_command(prefix_, delivery_id, ttl));
  if (!r) return std::move(r).error();
  return {};
}

Result<void> DeliveryDedupe::release(const std::string& delivery_id) {
  auto r = redis_->command({"DEL", prefix_ + "delivery:" + delivery_id});
  if (!r) return std::move(r).error();
  return {};
}

struct PipelinedDeliveryDedupe::Impl {
  struct Op {
    std::vector<std::string> argv;
    std::function<void(Result<Reply>)> done;
  };
  std::shared_ptr<Redis> redis;
  std::string prefix;
  std::mutex mu;
  std::condition_variable cv;
  std::condition_variable idle_cv;  // queue empty and no batch in progress
  std::vector<Op> queue;
  bool busy = false;
  bool stopping = false;
  std::thread worker;

  void enqueue(Op op) {
    {
      std::lock_guard lock(mu);
      queue.push_back(std::move(op));
    }
    cv.notify_one();
  }

  // Group commit: whatever queued while the previous round trip ran goes in
  // the next one.
  void loop() {
    std::vector<Op> batch;
    std::vector<std::vector<std::string>> commands;
    for (;;) {
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return stopping || !queue.empty(); });
        if (queue.empty()) return;  // stopping, nothing left
        batch.swap(queue);
        busy = true;
      }
      commands.clear();
      for (auto& op : batch) commands.push_back(std::move(op.argv));
      auto replies = redis->pipeline(commands);
      for (size_t i = 0; i < batch.size(); ++i) {
        batch[i].done(replies ? std::move((*replies)[i]) : Result<Reply>(replies.error()));
      }
      batch.clear();
      {
        std::lock_guard lock(mu);
        busy = false;
      }
      idle_cv.notify_all();
    }
  }
};

PipelinedDeliveryDedupe::PipelinedDeliveryDedupe(std::shared_ptr<Redis> redis, std::string prefix)
    : impl_(std::make_unique<Impl>()) {
  impl_->redis = std::move(redis);
  impl_->prefix = std::move(prefix);
  impl_->worker = std::thread([impl = impl_.get()] { impl->loop(); });
}

PipelinedDeliveryDedupe::~PipelinedDeliveryDedupe() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_one();
  impl_->worker.join();
}

void PipelinedDeliveryDedupe::drain() {
  std::unique_lock lock(impl_->mu);
  impl_->idle_cv.wait(lock, [&] { return impl_->queue.empty() && !impl_->busy; });
}

void PipelinedDeliveryDedupe::claim(const std::string& delivery_id, std::chrono::seconds pending_ttl,
                                    ClaimDone done) {
  impl_->enqueue({claim_command(impl_->prefix, delivery_id, pending_ttl),
                  [done = std::move(done)](Result<Reply> r) { done(claim_state(std::move(r))); }});
}

void PipelinedDeliveryDedupe::complete(const std::string& delivery_id, std::chrono::seconds ttl, CompleteDone done) {
  impl_->enqueue({complete_command(impl_->prefix, delivery_id, ttl), [done = std::move(done)](Result<Reply> r) {
                    done(r ? Result<void>() : Result<void>(std::move(r).error()));
                  }});
}

OutcomeStore::OutcomeStore(std::shared_ptr<Redis> redis, std::string prefix)
    : redis_(std::move(redis)), prefix_(std::move(prefix)) {}

Result<void> OutcomeStore::save(const std::string& request_id, const std::string& outcome, std::chrono::seconds ttl) {
  const std::string secs = std::to_string(std::max<long long>(1, ttl.count()));
  auto r = redis_->command({"SET", prefix_ + "outcome:" + request_id, outcome, "EX", secs});
  if (!r) return std::move(r).error();
  return {};
}

Result<std::optional<std::string>> OutcomeStore::find(const std::string& request_id) {
  auto r = redis_->command({"GET", prefix_ + "outcome:" + request_id});
  if (!r) return std::move(r).error();
  if (r->is_nil()) return std::optional<std::string>{};
  return std::optional<std::string>{std::move(r->str)};
}

RunStore::RunStore(std::shared_ptr<Redis> redis, std::string prefix)
    : redis_(std::move(redis)), prefix_(std::move(prefix)) {}

Result<void> RunStore::update(const std::string& run_id, const std::map<std::string, std::string>& fields,
                              long long unix_ms) {
  if (!fields.empty()) {
    std::vector<std::string_view> argv{"HSET"};
    const std::string key = prefix_ + "run:" + run_id;
    argv.push_back(key);
    for (const auto& [k, v] : fields) {
      argv.push_back(k);
      argv.push_back(v);
    }
    auto r = redis_->command(argv);
    if (!r) return std::move(r).error();
  }
  const std::string score = std::to_string(unix_ms);
  auto z = redis_->command({"ZADD", prefix_ + "runs", "NX", score, run_id});
  if (!z) return std::move(z).error();
  return {};
}

Result<std::map<std::string, std::string>> RunStore::get(const std::string& run_id) {
  auto r = redis_->command({"HGETALL", prefix_ + "run:" + run_id});
  if (!r) return std::move(r).error();
  std::map<std::string, std::string> out;
  for (size_t i = 0; i + 1 < r->elements.size(); i += 2) out[r->elements[i].str] = r->elements[i + 1].str;
  return out;
}

Result<std::vector<std::string>> RunStore::recent(int limit) {
  const std::string stop = std::to_string(std::clamp(limit, 1, 1000) - 1);
  auto r = redis_->command({"ZREVRANGE", prefix_ + "runs", "0", stop});
  if (!r) return std::move(r).error();
  std::vector<std::string> out;
  for (auto& e : r->elements) out.push_back(std::move(e.str));
  return out;
}

Locks::Locks(std::shared_ptr<Redis> redis, std::string prefix) : redis_(std::move(redis)), prefix_(std::move(prefix)) {}

Result<std::optional<LockLease>> Locks::try_acquire(const std::string& name, const std::string& owner,
                                                    std::chrono::milliseconds ttl) {
  const std::string ms = std::to_string(std::max<long long>(1, ttl.count()));
  auto r = redis_->command({"EVAL", kAcquire, "2", prefix_ + "lock:" + name, prefix_ + "fence:" + name, owner, ms});
  if (!r) return std::move(r).error();
  if (r->type != Reply::Type::integer || r->integer == 0) return std::optional<LockLease>{};
  return std::optional<LockLease>{LockLease{name, owner, r->integer}};
}

Result<void> Locks::extend(const LockLease& lease, std::chrono::milliseconds ttl) {
  const std::string ms = std::to_string(std::max<long long>(1, ttl.count()));
  auto r = redis_->command({"EVAL", kExtend, "1", prefix_ + "lock:" + lease.name, holder(lease), ms});
  if (!r) return std::move(r).error();
  if (r->integer != 1) return make_error(Errc::conflict, "lock '" + lease.name + "' was lost");
  return {};
}

Result<void> Locks::release(const LockLease& lease) {
  auto r = redis_->command({"EVAL", kRelease, "1", prefix_ + "lock:" + lease.name, holder(lease)});
  if (!r) return std::move(r).error();
  return {};
}

CreatedTags::CreatedTags(std::shared_ptr<Redis> redis, std::string prefix)
    : redis_(std::move(redis)), prefix_(std::move(prefix)) {}

std::string CreatedTags::key(const std::string& repository, const std::string& tag) const {
  std::string repo = repository;
  std::transform(repo.begin(), repo.end(), repo.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return prefix_ + "created-tag:" + repo + ":" + tag;
}

Result<void> CreatedTags::record(const std::string& repository, const std::string& tag,
                                 const std::vector<std::string>& shas, std::chrono::seconds ttl) {
  std::string value;
  for (const auto& sha : shas) {
    if (sha.empty()) continue;
    if (!value.empty()) value += ' ';
    value += sha;
  }
  if (value.empty()) return make_error(Errc::invalid_argument, "created tag " + tag + ": no SHA to record");
  const std::string secs = std::to_string(std::max<long long>(1, ttl.count()));
  auto r = redis_->command({"SET", key(repository, tag), value, "EX", secs});
  if (!r) return std::move(r).error();
  return {};
}

Result<bool> CreatedTags::was_created(const std::string& repository, const std::string& tag, const std::string& sha) {
  if (sha.empty()) return false;
  auto r = redis_->command({"GET", key(repository, tag)});
  if (!r) return std::move(r).error();
  if (r->is_nil()) return false;
  std::size_t start = 0;
  const std::string& value = r->str;
  while (start <= value.size()) {
    std::size_t end = value.find(' ', start);
    if (end == std::string::npos) end = value.size();
    if (value.compare(start, end - start, sha) == 0 && end - start == sha.size()) return true;
    start = end + 1;
  }
  return false;
}

}  // namespace conveyor::store
