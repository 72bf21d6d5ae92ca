// The output of one test step: masked, written to its log file (up to a cap),
// with the last few KB kept for the event.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "conveyor/result/result.hpp"
#include "mask.hpp"

namespace conveyor::test_runner {

// A log file stops growing here (the step's output is still read, masked and
// tailed); a line at the end says how much was dropped. Keeps a runaway step
// from filling the disk.
inline constexpr std::uint64_t kMaxLogBytes = 64ull << 20;
// How much of a failing step's output goes into the event.
inline constexpr std::size_t kTailBytes = 4096;

class StepLog {
 public:
  // Creates (truncates) `path`, creating its directory. Errors: unavailable.
  static Result<std::unique_ptr<StepLog>> open(const std::string& path, std::vector<std::string> secrets,
                                               std::uint64_t max_bytes = kMaxLogBytes);
  ~StepLog();
  StepLog(const StepLog&) = delete;
  StepLog& operator=(const StepLog&) = delete;

  // Masks and appends a chunk of raw output.
  void write(std::string_view chunk);
  // Appends a line of conveyor's own (already safe) text, e.g. the verdict.
  void note(std::string_view line);
  // Flushes what the masker held back and closes the file. Idempotent.
  void close();

  // The last kTailBytes of masked output as valid UTF-8.
  std::string tail() const;
  const std::string& path() const { return path_; }
  std::uint64_t output_bytes() const { return output_bytes_; }  // raw bytes received
  std::uint64_t dropped_bytes() const { return dropped_bytes_; }

 private:
  StepLog(std::string path, std::FILE* file, std::vector<std::string> secrets, std::uint64_t max_bytes);
  void append(std::string_view masked);

  std::string path_;
  std::FILE* file_;
  Masker masker_;
  std::uint64_t max_bytes_;
  std::uint64_t written_ = 0;
  std::uint64_t output_bytes_ = 0;
  std::uint64_t dropped_bytes_ = 0;
  bool dropped_noted_ = false;
  std::string tail_;
};

}  // namespace conveyor::test_runner
