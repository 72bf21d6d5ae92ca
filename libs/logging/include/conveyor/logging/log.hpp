// Structured logs: one JSON object per line on stderr, e.g.
//   {"ts":"2026-11-29T19:02:36.123Z","level":"info","component":"webhook",
//    "msg":"run started","run_id":"...","delivery_id":"...","trace_id":"..."}
// Every string is JSON-escaped, so webhook data (branch names, commit
// messages) can never forge a log line. Never pass secrets as fields.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace conveyor::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

// Parses "debug" | "info" | "warn" | "error" (default info for anything else).
Level parse_level(std::string_view text) noexcept;
// Minimum level written (process-wide); default from $CONVEYOR_LOG_LEVEL, else info.
void set_level(Level level) noexcept;

// A structured field; values are written as JSON strings.
using Field = std::pair<std::string_view, std::string_view>;

// A logger for one component ("webhook", "bus", ...). Cheap to copy.
class Logger {
 public:
  explicit Logger(std::string component) : component_(std::move(component)) {}

  void debug(std::string_view msg, std::initializer_list<Field> fields = {}) const { write(Level::debug, msg, fields); }
  void info(std::string_view msg, std::initializer_list<Field> fields = {}) const { write(Level::info, msg, fields); }
  void warn(std::string_view msg, std::initializer_list<Field> fields = {}) const { write(Level::warn, msg, fields); }
  void error(std::string_view msg, std::initializer_list<Field> fields = {}) const { write(Level::error, msg, fields); }

  // Writes one line if `level` is enabled. Thread-safe; one write(2) per line.
  void write(Level level, std::string_view msg, std::initializer_list<Field> fields) const;

 private:
  std::string component_;
};

// Extracts the trace id (32 hex) from a W3C traceparent
// ("00-<trace-id>-<parent-id>-<flags>"); "" when malformed.
std::string trace_id_of(std::string_view traceparent);

// A new W3C traceparent with random trace and parent ids, sampled flag set.
std::string new_traceparent();

}  // namespace conveyor::log
