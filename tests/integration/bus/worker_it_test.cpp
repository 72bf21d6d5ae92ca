// libs/bus against the real broker: produce with acks, the worker loop's
// commit-after-outcome, retries and the DLQ, long handlers keeping the group,
// redelivery after a crash, and the drain on stop().
#include "conveyor/bus/worker.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "conveyor/bus/producer.hpp"
#include "kafka_admin.hpp"
#include "kafka_records.hpp"
#include "service_process.hpp"

namespace conveyor::bus {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<Producer> producer() {
  auto p = Producer::create({testing::kafka_brokers(), "it", 10000ms, 1ms, {}});
  EXPECT_TRUE(p.ok());
  return std::move(*p);
}

events::KafkaRecord record(const std::string& topic, const std::string& key, const std::string& value) {
  return events::KafkaRecord{topic, key, value, {{"h", "v"}}};
}

WorkerOptions options(const std::string& topic, const std::string& dlq) {
  WorkerOptions o;
  o.brokers = testing::kafka_brokers();
  o.group_id = "it-" + events::new_uuid();
  o.topics = {topic};
  o.dlq_topic = dlq;
  o.retry_backoff = 50ms;
  o.session_timeout = 6000ms;
  return o;
}

// Runs the worker on a thread; stops and joins on destruction.
struct Running {
  std::unique_ptr<Worker> worker;
  std::thread thread;
  explicit Running(std::unique_ptr<Worker> w) : worker(std::move(w)) {
    thread = std::thread([this] { EXPECT_TRUE(worker->run().ok()); });
  }
  ~Running() { stop(); }
  void stop() {
    if (thread.joinable()) {
      worker->stop();
      thread.join();
    }
  }
};

bool wait_for(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

TEST(Producer, AcknowledgedRecordsAreReadBackWithHeaders) {
  const auto topic = testing::create_topic(testing::kafka_brokers(), "produce");
  auto p = producer();
  auto reader = testing::reader_at_end(testing::kafka_brokers(), topic);
  ASSERT_TRUE(p->produce_all({record(topic, "k", "one"), record(topic, "k", "two")}).ok());
  std::vector<events::KafkaRecord> got;
  ASSERT_TRUE(testing::collect_until(*reader, got, [](auto& v) { return v.size() == 2; }, 20s));
  EXPECT_EQ(got[0].value, "one");
  EXPECT_EQ(got[1].value, "two");
  EXPECT_EQ(got[0].key, "k");
  ASSERT_NE(got[0].header("h"), nullptr);
  EXPECT_EQ(*got[0].header("h"), "v");
  EXPECT_TRUE(p->ping().ok());
}

TEST(Producer, UnknownTopicAndDeadBrokerAreErrors) {
  auto p = producer();
  auto r = p->produce_all({record("conveyor-it.does-not-exist." + events::new_uuid(), "k", "v")});
  EXPECT_FALSE(r.ok());
  auto dead = Producer::create({"127.0.0.1:1", "it", 1500ms, 1ms, {}});
  ASSERT_TRUE(dead.ok());
  auto d = (*dead)->produce_all({record("conveyor.dlq", "k", "v")});
  ASSERT_FALSE(d.ok());
  EXPECT_FALSE((*dead)->ping(500ms).ok());
}

TEST(Worker, HandlesEachMessageAndPublishesTheOutcome) {
  const auto in = testing::create_topic(testing::kafka_brokers(), "in");
  const auto out = testing::create_topic(testing::kafka_brokers(), "out");
  auto p = producer();
  auto out_reader = testing::reader_at_end(testing::kafka_brokers(), out);
  auto w = Worker::create(options(in, "conveyor.dlq"), *p, [&](const events::KafkaRecord& m) -> Result<Outcome> {
    return Outcome{{record(out, m.key, "handled:" + m.value)}};
  });
  ASSERT_TRUE(w.ok());
  Running running(std::move(*w));
  std::vector<events::KafkaRecord> batch;
  for (int i = 0; i < 30; ++i) batch.push_back(record(in, "repo-" + std::to_string(i % 5), std::to_string(i)));
  ASSERT_TRUE(p->produce_all(batch).ok());
  std::vector<events::KafkaRecord> got;
  ASSERT_TRUE(testing::collect_until(*out_reader, got, [](auto& v) { return v.size() >= 30; }, 60s));
  std::set<std::string> values;
  for (const auto& r : got) values.insert(r.value);
  EXPECT_EQ(values.size(), 30u);
  // Per key, order is kept (one message per partition in flight).
  std::map<std::string, int> last;
  for (const auto& r : got) {
    const int n = std::stoi(r.value.substr(8));
    if (last.count(r.key)) {
      EXPECT_GT(n, last[r.key]) << r.key;
    }
    last[r.key] = n;
  }
  EXPECT_TRUE(wait_for([&] { return running.worker->stats().handled >= 30; }, 10s));
}

TEST(Worker, FailingHandlerIsRetriedThenDeadLetteredWithTheError) {
  const auto in = testing::create_topic(testing::kafka_brokers(), "fail");
  const auto dlq = testing::create_topic(testing::kafka_brokers(), "dlq", 1);
  auto p = producer();
  auto dlq_reader = testing::reader_at_end(testing::kafka_brokers(), dlq);
  std::atomic<int> attempts{0};
  auto opts = options(in, dlq);
  opts.max_attempts = 3;
  auto w = Worker::create(opts, *p, [&](const events::KafkaRecord& m) -> Result<Outcome> {
    if (m.value == "permanent") return make_error(Errc::invalid_argument, "malformed request");
    attempts++;
    return make_error(Errc::unavailable, "registry down");
  });
  ASSERT_TRUE(w.ok());
  Running running(std::move(*w));
  ASSERT_TRUE(p->produce_all({record(in, "k", "transient")}).ok());
  std::vector<events::KafkaRecord> got;
  ASSERT_TRUE(testing::collect_until(*dlq_reader, got, [](auto& v) { return v.size() >= 1; }, 30s));
  EXPECT_EQ(attempts.load(), 3);
  EXPECT_EQ(got[0].value, "transient");
  EXPECT_EQ(got[0].key, "k");
  ASSERT_NE(got[0].header("conveyor-error"), nullptr);
  EXPECT_EQ(*got[0].header("conveyor-error"), "registry down");
  EXPECT_EQ(*got[0].header("conveyor-error-code"), "unavailable");
  EXPECT_EQ(*got[0].header("conveyor-original-topic"), in);
  EXPECT_EQ(*got[0].header("conveyor-attempts"), "3");
  EXPECT_EQ(*got[0].header("h"), "v");  // original headers kept

  // A permanent error goes to the DLQ at once.
  ASSERT_TRUE(p->produce_all({record(in, "k", "permanent")}).ok());
  ASSERT_TRUE(testing::collect_until(*dlq_reader, got, [](auto& v) { return v.size() >= 2; }, 30s));
  EXPECT_EQ(*got[1].header("conveyor-attempts"), "1");
  EXPECT_EQ(attempts.load(), 3);
}

TEST(Worker, LongHandlerKeepsGroupMembershipAndIsNotRedelivered) {
  const auto in = testing::create_topic(testing::kafka_brokers(), "long", 1);
  auto p = producer();
  std::atomic<int> calls{0};
  auto opts = options(in, "conveyor.dlq");
  // The handler outlives both the session timeout and max.poll.interval.ms:
  // only a loop that keeps polling keeps the partition.
  opts.max_poll_interval = 7000ms;
  opts.session_timeout = 6000ms;
  auto w = Worker::create(opts, *p, [&](const events::KafkaRecord&) -> Result<Outcome> {
    calls++;
    std::this_thread::sleep_for(10s);
    return Outcome{};
  });
  ASSERT_TRUE(w.ok());
  Running running(std::move(*w));
  ASSERT_TRUE(p->produce_all({record(in, "k", "slow")}).ok());
  ASSERT_TRUE(wait_for([&] { return running.worker->stats().handled >= 1; }, 40s));
  running.stop();
  EXPECT_EQ(calls.load(), 1);

  // Committed: a new worker of the same group finds nothing left.
  std::atomic<int> second_calls{0};
  auto again = Worker::create(opts, *p, [&](const events::KafkaRecord&) -> Result<Outcome> {
    second_calls++;
    return Outcome{};
  });
  ASSERT_TRUE(again.ok());
  Running second(std::move(*again));
  ASSERT_TRUE(p->produce_all({record(in, "k", "marker")}).ok());
  ASSERT_TRUE(wait_for([&] { return second.worker->stats().handled >= 1; }, 30s));
  EXPECT_EQ(second_calls.load(), 1);  // only the marker
}

TEST(Worker, UncommittedMessageIsRedeliveredAfterACrashAndStopDrains) {
  const auto in = testing::create_topic(testing::kafka_brokers(), "crash", 1);
  auto p = producer();
  auto opts = options(in, "conveyor.dlq");
  {
    // First worker: its handler never finishes before the worker is torn down
    // without committing (as if killed): stop() is not allowed to drain it.
    std::atomic<bool> release{false};
    std::atomic<int> started{0};
    auto w = Worker::create(opts, *p, [&](const events::KafkaRecord&) -> Result<Outcome> {
      started++;
      while (!release) std::this_thread::sleep_for(5ms);
      return make_error(Errc::unavailable, "interrupted");
    });
    ASSERT_TRUE(w.ok());
    Running running(std::move(*w));
    ASSERT_TRUE(p->produce_all({record(in, "k", "work")}).ok());
    ASSERT_TRUE(wait_for([&] { return started >= 1; }, 30s));
    running.worker->stop();  // shutting down: a failing in-flight item is handed back, not dead-lettered
    release = true;
    running.stop();
    EXPECT_EQ(running.worker->stats().dead_lettered.load(), 0);
  }
  std::atomic<int> handled{0};
  auto w2 = Worker::create(opts, *p, [&](const events::KafkaRecord& m) -> Result<Outcome> {
    if (m.value == "work") handled++;
    return Outcome{};
  });
  ASSERT_TRUE(w2.ok());
  Running second(std::move(*w2));
  EXPECT_TRUE(wait_for([&] { return handled >= 1; }, 30s));
}

TEST(Worker, StopWaitsForInFlightWorkAndCommitsIt) {
  const auto in = testing::create_topic(testing::kafka_brokers(), "drain", 1);
  const auto out = testing::create_topic(testing::kafka_brokers(), "drained", 1);
  auto p = producer();
  auto out_reader = testing::reader_at_end(testing::kafka_brokers(), out);
  std::atomic<int> started{0};
  auto opts = options(in, "conveyor.dlq");
  auto w = Worker::create(opts, *p, [&](const events::KafkaRecord& m) -> Result<Outcome> {
    started++;
    std::this_thread::sleep_for(1500ms);
    return Outcome{{record(out, m.key, "done")}};
  });
  ASSERT_TRUE(w.ok());
  Running running(std::move(*w));
  ASSERT_TRUE(p->produce_all({record(in, "k", "x")}).ok());
  ASSERT_TRUE(wait_for([&] { return started >= 1; }, 30s));
  running.stop();  // returns only after the handler finished and its outcome was produced
  std::vector<events::KafkaRecord> got;
  EXPECT_TRUE(testing::collect_until(*out_reader, got, [](auto& v) { return !v.empty(); }, 10s));
  EXPECT_EQ(running.worker->stats().handled.load(), 1);
}

}  // namespace
}  // namespace conveyor::bus
