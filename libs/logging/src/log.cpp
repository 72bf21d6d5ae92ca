#include "conveyor/logging/log.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <string>

namespace conveyor::log {
namespace {

Level initial_level() {
  const char* env = std::getenv("CONVEYOR_LOG_LEVEL");
  return env ? parse_level(env) : Level::info;
}

std::atomic<Level>& level_ref() {
  static std::atomic<Level> level{initial_level()};
  return level;
}

const char* level_name(Level level) {
  switch (level) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
  }
  return "info";
}

// True when `s` is well-formed UTF-8 by its byte structure (RFC 3629 lead
// and continuation bytes; C0/C1 and F5..FF leads refused).
bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t extra = 0;
    if (c < 0x80) {
      extra = 0;
    } else if (c >= 0xc2 && c <= 0xdf) {
      extra = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
      extra = 2;
    } else if (c >= 0xf0 && c <= 0xf4) {
      extra = 3;
    } else {
      return false;
    }
    if (i + extra >= s.size() && extra > 0) return false;
    for (std::size_t k = 1; k <= extra; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    }
    i += extra + 1;
  }
  return true;
}

// JSON string escaping (RFC 8259 §7). Valid UTF-8 passes through; in a
// string that is not valid UTF-8 every non-ASCII byte is written as \u00XX,
// so a line is always valid JSON text.
void append_json_string(std::string& out, std::string_view s) {
  const bool utf8 = valid_utf8(s);
  out.push_back('"');
  static const char* hex = "0123456789abcdef";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8)) {
          out += "\\u00";
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 0xf]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

std::string timestamp() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const auto secs = system_clock::to_time_t(now);
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

std::string random_hex(std::size_t bytes) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (std::size_t i = 0; i < bytes; ++i) {
    const auto b = static_cast<unsigned>(rng() & 0xff);
    out.push_back(hex[b >> 4]);
    out.push_back(hex[b & 0xf]);
  }
  return out;
}

}  // namespace

Level parse_level(std::string_view text) noexcept {
  if (text == "debug") return Level::debug;
  if (text == "warn" || text == "warning") return Level::warn;
  if (text == "error") return Level::error;
  return Level::info;
}

void set_level(Level level) noexcept { level_ref().store(level); }

void Logger::write(Level level, std::string_view msg, std::initializer_list<Field> fields) const {
  if (static_cast<int>(level) < static_cast<int>(level_ref().load(std::memory_order_relaxed))) return;
  std::string line;
  line.reserve(128 + msg.size());
  line += "{\"ts\":\"";
  line += timestamp();
  line += "\",\"level\":\"";
  line += level_name(level);
  line += "\",\"component\":";
  append_json_string(line, component_);
  line += ",\"msg\":";
  append_json_string(line, msg);
  for (const auto& [key, value] : fields) {
    line.push_back(',');
    append_json_string(line, key);
    line.push_back(':');
    append_json_string(line, value);
  }
  line += "}\n";
  // One write(2) per line keeps lines whole across threads and processes.
  const char* p = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    const ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) return;
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

std::string trace_id_of(std::string_view tp) {
  // version(2) '-' trace-id(32) '-' parent-id(16) '-' flags(2)
  if (tp.size() < 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-') return "";
  auto id = tp.substr(3, 32);
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return "";
  }
  if (id == std::string(32, '0')) return "";
  return std::string(id);
}

std::string new_traceparent() { return "00-" + random_hex(16) + "-" + random_hex(8) + "-01"; }

}  // namespace conveyor::log
