// Test helper: collect records from a topic until a condition holds or a
// deadline passes (no fixed sleeps).
#pragma once

#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "conveyor/bus/reader.hpp"

namespace conveyor::testing {

// A reader positioned at the topic's current end.
// A topic created a moment ago may not have partition leaders yet ("Not
// leader for partition"), so opening is retried for a bounded time.
inline std::unique_ptr<bus::Reader> reader_at_end(const std::string& brokers, const std::string& topic) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (;;) {
    auto r = bus::Reader::open({brokers, topic, /*from_beginning=*/false});
    if (r) return std::move(*r);
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("open reader on " + topic + ": " + r.error().message);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// Reads records into `out` until `done(out)` is true or `timeout` passes.
// Returns done(out).
inline bool collect_until(bus::Reader& reader, std::vector<events::KafkaRecord>& out,
                          const std::function<bool(const std::vector<events::KafkaRecord>&)>& done,
                          std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done(out)) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    auto next = reader.next(std::min(left, std::chrono::milliseconds(200)));
    if (!next) throw std::runtime_error("read: " + next.error().message);
    if (*next) out.push_back((*next)->record);
  }
  return true;
}

}  // namespace conveyor::testing
