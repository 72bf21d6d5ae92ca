// CloudEvents 1.0 over Kafka, binary content mode (Kafka protocol binding 1.0).
#include "conveyor/events/cloudevent.hpp"

#include <array>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <stdexcept>
#include <string_view>

#include <openssl/rand.h>

#include "text.hpp"

namespace conveyor::events {
namespace {

// Header names of the binding: every attribute but datacontenttype is `ce_<name>`.
constexpr std::string_view kAttributePrefix = "ce_";
constexpr std::string_view kContentTypeHeader = "content-type";

// Attributes with their own struct member; an extension of the same name would
// produce a second header for them, so to_kafka never emits one.
bool is_core_attribute(std::string_view name) {
  return name == "specversion" || name == "id" || name == "source" || name == "type" || name == "subject" ||
         name == "time" || name == "datacontenttype" || name == "data";
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

bool digits(std::string_view s, std::size_t pos, std::size_t n) {
  if (pos + n > s.size()) return false;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

int number(std::string_view s, std::size_t pos, std::size_t n) {
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) v = v * 10 + (s[i] - '0');
  return v;
}

}  // namespace

namespace detail {

bool is_lower_hex(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool is_rfc3339(std::string_view s) noexcept {
  // 0123456789012345678
  // YYYY-MM-DDTHH:MM:SS
  if (s.size() < 20) return false;
  if (!digits(s, 0, 4) || s[4] != '-' || !digits(s, 5, 2) || s[7] != '-' || !digits(s, 8, 2)) return false;
  if (s[10] != 'T' && s[10] != 't') return false;
  if (!digits(s, 11, 2) || s[13] != ':' || !digits(s, 14, 2) || s[16] != ':' || !digits(s, 17, 2)) return false;
  const int month = number(s, 5, 2), day = number(s, 8, 2);
  const int hour = number(s, 11, 2), minute = number(s, 14, 2), second = number(s, 17, 2);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return false;
  std::size_t pos = 19;
  if (s[pos] == '.') {
    const std::size_t start = ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
    if (pos == start) return false;
  }
  if (pos >= s.size()) return false;
  if (s[pos] == 'Z' || s[pos] == 'z') return pos + 1 == s.size();
  if (s[pos] != '+' && s[pos] != '-') return false;
  if (pos + 6 != s.size() || !digits(s, pos + 1, 2) || s[pos + 3] != ':' || !digits(s, pos + 4, 2)) return false;
  return number(s, pos + 1, 2) <= 23 && number(s, pos + 4, 2) <= 59;
}

bool is_traceparent(std::string_view s) noexcept {
  return s.size() == 55 && is_lower_hex(s.substr(0, 2)) && s[2] == '-' && is_lower_hex(s.substr(3, 32)) &&
         s[35] == '-' && is_lower_hex(s.substr(36, 16)) && s[52] == '-' && is_lower_hex(s.substr(53, 2));
}

}  // namespace detail

const std::string* KafkaRecord::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return &v;
  }
  return nullptr;
}

KafkaRecord to_kafka(const CloudEvent& event, const std::string& topic) {
  KafkaRecord record;
  record.topic = topic;
  record.value = event.data;
  auto add = [&record](std::string_view name, const std::string& value) {
    record.headers.emplace_back(std::string(kAttributePrefix) + std::string(name), value);
  };
  add("specversion", event.specversion);
  add("id", event.id);
  add("source", event.source);
  add("type", event.type);
  if (!event.subject.empty()) add("subject", event.subject);
  if (!event.time.empty()) add("time", event.time);
  if (!event.datacontenttype.empty()) record.headers.emplace_back(std::string(kContentTypeHeader), event.datacontenttype);
  for (const auto& [name, value] : event.extensions) {
    if (is_core_attribute(name)) continue;
    add(name, value);
  }
  if (auto it = event.extensions.find("partitionkey"); it != event.extensions.end()) record.key = it->second;
  return record;
}

Result<CloudEvent> from_kafka(const KafkaRecord& record) {
  CloudEvent event;
  event.datacontenttype.clear();  // only what the record says
  bool has_specversion = false, has_id = false, has_source = false, has_type = false, has_content_type = false;
  for (const auto& [name, value] : record.headers) {
    if (iequals(name, kContentTypeHeader)) {
      if (!has_content_type) event.datacontenttype = value;
      has_content_type = true;
      continue;
    }
    if (name.size() <= kAttributePrefix.size() || std::string_view(name).substr(0, kAttributePrefix.size()) != kAttributePrefix) {
      continue;  // not a CloudEvents header (e.g. a DLQ error header)
    }
    const std::string attr = name.substr(kAttributePrefix.size());
    // The first header of a name wins, like KafkaRecord::header().
    if (attr == "specversion") {
      if (!has_specversion) event.specversion = value;
      has_specversion = true;
    } else if (attr == "id") {
      if (!has_id) event.id = value;
      has_id = true;
    } else if (attr == "source") {
      if (!has_source) event.source = value;
      has_source = true;
    } else if (attr == "type") {
      if (!has_type) event.type = value;
      has_type = true;
    } else if (attr == "subject") {
      if (event.subject.empty()) event.subject = value;
    } else if (attr == "time") {
      if (event.time.empty()) event.time = value;
    } else if (attr == "datacontenttype") {
      // Structured-mode spelling; content-type takes precedence in binary mode.
      if (!has_content_type) event.datacontenttype = value;
    } else {
      event.extensions.emplace(attr, value);
    }
  }
  auto missing = [](const char* attr) {
    return make_error(Errc::invalid_argument,
                      std::string("CloudEvent record lacks required attribute '") + attr + "' (header ce_" + attr + ")");
  };
  if (!has_specversion) return missing("specversion");
  if (event.specversion != "1.0") {
    return make_error(Errc::invalid_argument, "CloudEvent specversion '" + event.specversion + "' is not supported (want 1.0)");
  }
  if (!has_id || event.id.empty()) return missing("id");
  if (!has_source || event.source.empty()) return missing("source");
  if (!has_type || event.type.empty()) return missing("type");
  if (!event.time.empty() && !detail::is_rfc3339(event.time)) {
    return make_error(Errc::invalid_argument, "CloudEvent attribute 'time' is not an RFC 3339 timestamp: " + event.time);
  }
  // The binding maps partitionkey to the record key; recover it from the key
  // when a producer sent only the key.
  if (!event.extensions.count("partitionkey") && !record.key.empty()) event.extensions["partitionkey"] = record.key;
  event.data = record.value;
  return event;
}

std::string now_rfc3339() {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];  // room for any int year (-Wformat-truncation)
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

std::string new_uuid() {
  std::array<unsigned char, 16> b{};
  if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) {
    // OpenSSL's CSPRNG failing is not an expected condition: nothing safe to return.
    throw std::runtime_error("RAND_bytes failed: no randomness for a UUID");
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 0x0f]);
  }
  return out;
}

}  // namespace conveyor::events
