// Kafka producer (librdkafka) with conveyor's guarantees: enable.idempotence,
// acks=all, and every delivery report checked. A record is "produced" only
// when the broker acknowledged it.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "conveyor/events/cloudevent.hpp"
#include "conveyor/result/result.hpp"

namespace conveyor::bus {

// Producer settings. `properties` are extra librdkafka properties
// (CONFIGURATION.md names) applied last; idempotence and acks cannot be
// weakened through them.
struct ProducerOptions {
  std::string brokers;                             // bootstrap.servers
  std::string client_id = "conveyor";
  std::chrono::milliseconds delivery_timeout{30000};  // delivery.timeout.ms: give up on a record after this
  std::chrono::milliseconds linger{1};             // linger.ms: batching delay
  std::map<std::string, std::string> properties;
};

// Called once per record, from the producer's poll thread, with the broker's
// verdict (ok, or unavailable/timeout with librdkafka's reason).
using DeliveryCallback = std::function<void(Result<void>)>;

class Producer {
 public:
  // Creates the producer and its poll thread. Errors: invalid_argument for a
  // property librdkafka refuses.
  static Result<std::unique_ptr<Producer>> create(const ProducerOptions& options);
  ~Producer();  // flushes (bounded by delivery_timeout) and stops the poll thread
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Enqueues a record; `done` receives the delivery report. If the record
  // cannot even be enqueued (queue full, unknown topic) `done` is called
  // immediately with the error.
  void produce(const events::KafkaRecord& record, DeliveryCallback done);

  // Produces all records and waits for all delivery reports. Ok only if every
  // record was acknowledged; otherwise the first error.
  Result<void> produce_all(const std::vector<events::KafkaRecord>& records);

  // Waits until all queued records are delivered or `timeout` passes.
  Result<void> flush(std::chrono::milliseconds timeout);

  // Asks the cluster for metadata; ok when a broker answers within `timeout`.
  // Used by /readyz.
  Result<void> ping(std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));

 private:
  struct Impl;
  explicit Producer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace conveyor::bus
