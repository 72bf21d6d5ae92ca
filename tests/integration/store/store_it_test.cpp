// libs/store against the real Redis started by scripts/test.
#include "conveyor/store/store.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "conveyor/events/cloudevent.hpp"
#include "service_process.hpp"

namespace conveyor::store {
namespace {

using namespace std::chrono_literals;

std::shared_ptr<Redis> connect() {
  auto r = Redis::connect({testing::redis_url(), 2000ms, 2});
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : nullptr;
}

// A prefix per test so runs never see each other's keys.
std::string prefix() { return "conveyor-it:" + events::new_uuid() + ":"; }

TEST(Redis, PingAndBinarySafeArguments) {
  auto redis = connect();
  ASSERT_TRUE(redis);
  EXPECT_TRUE(redis->ping().ok());
  const std::string key = prefix() + "bin";
  const std::string value("a\0b\r\n$3\r\nSET", 12);
  ASSERT_TRUE(redis->command({"SET", key, value, "EX", "60"}).ok());
  auto got = redis->command({"GET", key});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->str, value);
  auto err = redis->command({"NOSUCHCOMMAND"});
  ASSERT_FALSE(err.ok());
  EXPECT_EQ(err.error().code, Errc::invalid_argument);
}

TEST(Redis, UnreachableServerIsUnavailable) {
  auto r = Redis::connect({"redis://127.0.0.1:1", 500ms, 1});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::unavailable);
  EXPECT_EQ(parse_redis_url("http://x").error().code, Errc::invalid_argument);
  auto a = parse_redis_url("redis://localhost:6380/3");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "localhost");
  EXPECT_EQ(a->port, 6380);
  EXPECT_EQ(a->db, 3);
}

TEST(DeliveryDedupe, FreshThenInProgressThenDoneAndRelease) {
  DeliveryDedupe d(connect(), prefix());
  EXPECT_EQ(*d.claim("a", 60s), DeliveryState::fresh);
  EXPECT_EQ(*d.claim("a", 60s), DeliveryState::in_progress);
  ASSERT_TRUE(d.complete("a", 60s).ok());
  EXPECT_EQ(*d.claim("a", 60s), DeliveryState::done);
  EXPECT_EQ(*d.claim("b", 60s), DeliveryState::fresh);
  ASSERT_TRUE(d.release("b").ok());
  EXPECT_EQ(*d.claim("b", 60s), DeliveryState::fresh);
}

TEST(DeliveryDedupe, ConcurrentClaimsHaveOneWinner) {
  DeliveryDedupe d(connect(), prefix());
  std::atomic<int> fresh{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      auto s = d.claim("same", 60s);
      if (s.ok() && *s == DeliveryState::fresh) fresh++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(fresh.load(), 1);
}

TEST(OutcomeStore, SaveAndFind) {
  OutcomeStore o(connect(), prefix());
  auto none = o.find("run:test");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(o.save("run:test", R"({"records":[]})", 60s).ok());
  auto some = o.find("run:test");
  ASSERT_TRUE(some.ok());
  ASSERT_TRUE(some->has_value());
  EXPECT_EQ(**some, R"({"records":[]})");
}

TEST(RunStore, UpdateGetRecent) {
  RunStore runs(connect(), prefix());
  ASSERT_TRUE(runs.update("r1", {{"status", "queued"}, {"pipeline", "p"}}, 1000).ok());
  ASSERT_TRUE(runs.update("r2", {{"status", "queued"}}, 2000).ok());
  ASSERT_TRUE(runs.update("r1", {{"status", "running"}}, 3000).ok());  // index time stays 1000
  auto r1 = runs.get("r1");
  ASSERT_TRUE(r1.ok());
  EXPECT_EQ((*r1)["status"], "running");
  EXPECT_EQ((*r1)["pipeline"], "p");
  auto recent = runs.recent(10);
  ASSERT_TRUE(recent.ok());
  EXPECT_EQ(*recent, (std::vector<std::string>{"r2", "r1"}));
  EXPECT_TRUE(runs.get("unknown")->empty());
}

TEST(Locks, ExclusiveWithGrowingFencingTokensAndExpiry) {
  Locks locks(connect(), prefix());
  auto a = locks.try_acquire("env:production", "deployer-a", 300ms);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(a->has_value());
  auto b = locks.try_acquire("env:production", "deployer-b", 300ms);
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->has_value());
  // Another environment is independent.
  auto other = locks.try_acquire("env:staging", "deployer-b", 300ms);
  ASSERT_TRUE(other.ok() && other->has_value());

  // The holder dies: the lease expires and the next holder gets a larger token.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  std::optional<LockLease> next;
  while (!next && std::chrono::steady_clock::now() < deadline) {
    auto t = locks.try_acquire("env:production", "deployer-b", 10s);
    ASSERT_TRUE(t.ok());
    next = *t;
    if (!next) std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(next.has_value());
  EXPECT_GT(next->token, (*a)->token);
  // The stale holder can neither extend nor release the new lease.
  EXPECT_EQ(locks.extend(**a, 10s).error().code, Errc::conflict);
  ASSERT_TRUE(locks.release(**a).ok());
  auto still = locks.try_acquire("env:production", "deployer-c", 10s);
  ASSERT_TRUE(still.ok());
  EXPECT_FALSE(still->has_value());
  // The real holder extends and releases.
  EXPECT_TRUE(locks.extend(*next, 10s).ok());
  ASSERT_TRUE(locks.release(*next).ok());
  auto free_again = locks.try_acquire("env:production", "deployer-c", 10s);
  ASSERT_TRUE(free_again.ok());
  EXPECT_TRUE(free_again->has_value());
}

TEST(CreatedTags, RecordedShasMatchCaseInsensitiveRepositoryAndExpire) {
  const std::string p = prefix();
  CreatedTags tags(connect(), p);
  const std::string commit(40, 'a'), tag_object(40, 'b');
  auto none = tags.was_created("Acme/App", "v1.2.0", commit);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);
  ASSERT_TRUE(tags.record("Acme/App", "v1.2.0", {commit, tag_object}, 60s).ok());
  EXPECT_TRUE(*tags.was_created("Acme/App", "v1.2.0", commit));
  EXPECT_TRUE(*tags.was_created("acme/app", "v1.2.0", tag_object));  // GitHub's `after` of an annotated tag
  EXPECT_FALSE(*tags.was_created("Acme/App", "v1.2.0", std::string(40, 'c')));  // same tag, another commit
  EXPECT_FALSE(*tags.was_created("Acme/App", "v1.2.0", commit.substr(0, 39)));   // whole SHAs only
  EXPECT_FALSE(*tags.was_created("Acme/App", "v1.2.1", commit));
  EXPECT_FALSE(*tags.was_created("Acme/Other", "v1.2.0", commit));
  EXPECT_FALSE(*tags.was_created("Acme/App", "v1.2.0", ""));
  EXPECT_EQ(tags.record("Acme/App", "v1.3.0", {}, 60s).error().code, Errc::invalid_argument);

  // The documented key layout, with its TTL.
  auto redis = connect();
  auto ttl = redis->command({"TTL", p + "created-tag:acme/app:v1.2.0"});
  ASSERT_TRUE(ttl.ok());
  EXPECT_GT(ttl->integer, 0);
  EXPECT_LE(ttl->integer, 60);
  ASSERT_TRUE(tags.record("Acme/App", "v1.2.1", {commit}, 1s).ok());
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (*tags.was_created("Acme/App", "v1.2.1", commit) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_FALSE(*tags.was_created("Acme/App", "v1.2.1", commit));
}

// Redis::pipeline and PipelinedDeliveryDedupe: pipelined replies in order
// with per-command errors, and the batched dedupe keeping DeliveryDedupe's
// states under concurrency.
TEST(RedisPipeline, RepliesInOrderWithPerCommandErrors) {
  auto redis = connect();
  ASSERT_TRUE(redis);
  const std::string key = prefix() + "p";
  const std::string value("x\0y\r\n", 5);
  auto replies = redis->pipeline({{"SET", key, value, "EX", "60"},
                                  {"GET", key},
                                  {"NOSUCHCOMMAND"},
                                  {"INCR", key},  // not an integer: error reply
                                  {"DEL", key},
                                  {"GET", key}});
  ASSERT_TRUE(replies.ok()) << replies.error().message;
  ASSERT_EQ(replies->size(), 6u);
  const auto& r = *replies;
  ASSERT_TRUE(r[0].ok());
  EXPECT_EQ(r[0]->str, "OK");
  ASSERT_TRUE(r[1].ok());
  EXPECT_EQ(r[1]->str, value);
  ASSERT_FALSE(r[2].ok());
  EXPECT_EQ(r[2].error().code, Errc::invalid_argument);
  ASSERT_FALSE(r[3].ok());
  ASSERT_TRUE(r[4].ok());
  EXPECT_EQ(r[4]->integer, 1);
  ASSERT_TRUE(r[5].ok());
  EXPECT_TRUE(r[5]->is_nil());
  // The connection is still in step afterwards.
  EXPECT_TRUE(redis->ping().ok());
  EXPECT_TRUE(redis->pipeline({})->empty());
}

TEST(PipelinedDeliveryDedupe, SameStatesAsDeliveryDedupe) {
  auto redis = connect();
  ASSERT_TRUE(redis);
  const std::string p = prefix();
  PipelinedDeliveryDedupe pipelined(redis, p);
  DeliveryDedupe plain(redis, p);
  std::mutex mu;
  std::vector<std::string> seen;
  auto note = [&](std::string what) {
    std::lock_guard lock(mu);
    seen.push_back(std::move(what));
  };
  auto state = [](const Result<DeliveryState>& s) -> std::string {
    if (!s) return "error";
    return *s == DeliveryState::fresh ? "fresh" : *s == DeliveryState::done ? "done" : "in_progress";
  };
  pipelined.claim("a", 60s, [&](Result<DeliveryState> s) { note("claim a " + state(s)); });
  pipelined.claim("a", 60s, [&](Result<DeliveryState> s) { note("claim a " + state(s)); });
  pipelined.drain();
  pipelined.complete("a", 60s, [&](Result<void> r) { note(std::string("complete a ") + (r ? "ok" : "error")); });
  pipelined.drain();
  pipelined.claim("a", 60s, [&](Result<DeliveryState> s) { note("claim a " + state(s)); });
  pipelined.drain();
  EXPECT_EQ(seen, (std::vector<std::string>{"claim a fresh", "claim a in_progress", "complete a ok", "claim a done"}));
  // Same keys and values as the blocking DeliveryDedupe.
  EXPECT_EQ(*plain.claim("a", 60s), DeliveryState::done);
  EXPECT_EQ(*plain.claim("b", 60s), DeliveryState::fresh);
  Result<DeliveryState> b = make_error(Errc::internal, "not called");
  pipelined.claim("b", 60s, [&](Result<DeliveryState> s) { b = std::move(s); });
  pipelined.drain();
  EXPECT_EQ(state(b), "in_progress");
}

TEST(PipelinedDeliveryDedupe, ConcurrentClaimsHaveOneWinnerPerId) {
  auto redis = connect();
  ASSERT_TRUE(redis);
  PipelinedDeliveryDedupe pipelined(redis, prefix());
  constexpr int kIds = 50, kThreads = 8;
  std::atomic<int> fresh[kIds] = {};
  std::atomic<int> answered{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIds; ++i) {
        pipelined.claim("id-" + std::to_string(i), 60s, [&, i](Result<DeliveryState> s) {
          if (!s) errors++;
          else if (*s == DeliveryState::fresh) fresh[i]++;
          answered++;
        });
      }
    });
  }
  for (auto& t : threads) t.join();
  pipelined.drain();
  EXPECT_EQ(answered.load(), kIds * kThreads);
  EXPECT_EQ(errors.load(), 0);
  for (int i = 0; i < kIds; ++i) EXPECT_EQ(fresh[i].load(), 1) << "id-" << i;
}

TEST(PipelinedDeliveryDedupe, DestructorRunsWhatIsQueued) {
  auto redis = connect();
  ASSERT_TRUE(redis);
  std::atomic<int> answered{0};
  {
    PipelinedDeliveryDedupe pipelined(redis, prefix());
    for (int i = 0; i < 100; ++i) {
      pipelined.complete("d-" + std::to_string(i), 60s, [&](Result<void> r) { answered += r.ok(); });
    }
  }
  EXPECT_EQ(answered.load(), 100);
}

}  // namespace
}  // namespace conveyor::store
