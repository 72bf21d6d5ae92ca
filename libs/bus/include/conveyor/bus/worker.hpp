// The consumer side of every stage service: a consumer-group worker loop with
// at-least-once semantics.
//
// - Offsets are committed only after the handler's outcome records were
//   produced and acknowledged (or the request went to the DLQ).
// - A handler may run for minutes: the partition of the message in flight is
//   paused and the loop keeps polling, so the group membership is kept
//   (max.poll.interval.ms is sized from WorkerOptions) and other partitions
//   keep flowing up to `concurrency` messages at once. One message per
//   partition is in flight, so one repository's runs stay ordered.
// - A failing handler is retried with backoff up to `max_attempts`; then the
//   original record goes to the DLQ topic with the error in headers
//   (conveyor-error, conveyor-error-code, conveyor-original-topic,
//   conveyor-original-partition, conveyor-original-offset, conveyor-attempts).
//   Errors with code invalid_argument are permanent: straight to the DLQ.
// - stop() (e.g. on SIGTERM): stop taking work, let in-flight handlers finish,
//   produce and commit, close the consumer (leaving the group cleanly). It
//   also requests the stop token handlers see through current_stop_token(),
//   so a handler waiting for minutes can give up: an Error it then returns
//   hands the message back uncommitted (redelivered to the next consumer).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include "conveyor/bus/producer.hpp"
#include "conveyor/events/cloudevent.hpp"
#include "conveyor/result/result.hpp"

namespace conveyor::bus {

// What a handler decided: the records to produce (events, next request).
struct Outcome {
  std::vector<events::KafkaRecord> records;
};

// The handler: plain data in, plain data out. Runs on a worker thread.
using MessageHandler = std::function<Result<Outcome>(const events::KafkaRecord& message)>;

struct WorkerOptions {
  std::string brokers;
  std::string group_id;                    // consumer group, e.g. "conveyor-test-runner"
  std::vector<std::string> topics;         // subscribed topics
  std::string dlq_topic = "conveyor.dlq";
  int concurrency = 1;                     // messages handled at once (distinct partitions)
  int max_attempts = 3;                    // 1..20
  std::chrono::milliseconds retry_backoff{500};        // first retry delay; doubles each attempt (cap 30 s)
  std::chrono::milliseconds max_poll_interval{600000};  // max.poll.interval.ms
  std::chrono::milliseconds session_timeout{10000};     // session.timeout.ms
  std::map<std::string, std::string> properties;        // extra librdkafka consumer properties
};

// Counters the loop keeps (read them any time).
struct WorkerStats {
  std::atomic<long long> handled{0};     // outcome produced and committed
  std::atomic<long long> retried{0};     // handler attempts that failed and were retried
  std::atomic<long long> dead_lettered{0};
  std::atomic<long long> in_flight{0};
};

// The stop token of the Worker whose handler runs on the calling thread,
// requested by that worker's stop(); a token that is never requested on any
// other thread.
std::stop_token current_stop_token() noexcept;

class Worker {
 public:
  // `producer` is used for outcomes and the DLQ and must outlive the worker.
  static Result<std::unique_ptr<Worker>> create(const WorkerOptions& options, Producer& producer,
                                                MessageHandler handler);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Runs the loop on the calling thread until stop() is called and in-flight
  // work has drained. Returns an error only for a fatal consumer failure.
  Result<void> run();
  // Asks run() to drain and return. Async-signal-unsafe: call from a normal
  // thread (see stop_signals.hpp for SIGTERM wiring).
  void stop();

  const WorkerStats& stats() const;

 private:
  struct Impl;
  explicit Worker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace conveyor::bus
