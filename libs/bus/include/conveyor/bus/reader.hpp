// Reads a topic without a consumer group (no offsets committed): for
// `conveyor events tail`, `conveyor dlq`, and tests that check what was
// published. Partitions are assigned explicitly from the topic's metadata.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "conveyor/events/cloudevent.hpp"
#include "conveyor/result/result.hpp"

namespace conveyor::bus {

struct ReaderOptions {
  std::string brokers;
  std::string topic;
  bool from_beginning = true;  // false: only records produced after open() returned
};

// A record plus where it was read.
struct ReadRecord {
  events::KafkaRecord record;
  int32_t partition = 0;
  int64_t offset = 0;
  long long timestamp_ms = 0;  // broker/producer timestamp
};

class Reader {
 public:
  // Errors: unavailable when the topic's metadata cannot be fetched
  // (broker down or topic missing).
  static Result<std::unique_ptr<Reader>> open(const ReaderOptions& options);
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // Next record within `timeout`, or std::nullopt when none arrived.
  Result<std::optional<ReadRecord>> next(std::chrono::milliseconds timeout);
  // True once every partition was read up to its end at least once.
  bool caught_up() const;

 private:
  struct Impl;
  explicit Reader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace conveyor::bus
