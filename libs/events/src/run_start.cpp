// The records that start a run, written directly as JSON text; see
// run_start.hpp. The reference is the nlohmann path (pipelinerun_queued +
// cdevent_record, to_kafka(first_request(...))): keys here are written in the
// order nlohmann's std::map keeps them (sorted), and the differential test
// compares the bytes.
#include "conveyor/events/run_start.hpp"

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "conveyor/events/cdevents.hpp"
#include "text.hpp"

namespace conveyor::events {
namespace {

// Length of the well-formed UTF-8 sequence at p[0] (lead byte >= 0x80), or 0
// (Unicode 15, table 3-7: no overlong forms, no surrogates, <= U+10FFFF; the
// sequences nlohmann's decoder accepts).
std::size_t utf8_sequence(const unsigned char* p, std::size_t left) {
  const unsigned char c = p[0];
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (left < n || p[1] < lo || p[1] > hi) return 0;
  for (std::size_t i = 2; i < n; ++i) {
    if (p[i] < 0x80 || p[i] > 0xBF) return 0;
  }
  return n;
}

// Whether a byte can be copied as is (printable ASCII but `"` and `\`).
constexpr bool plain(unsigned char c) { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\'; }

void append_int(std::string& out, long long v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// `"name":` then the string value.
void member(std::string& out, std::string_view name, std::string_view value) {
  out += '"';
  out += name;
  out += "\":";
  append_json_string(out, value);
}

void header(KafkaRecord& r, const char* name, std::string_view value) { r.headers.emplace_back(name, value); }

// The CloudEvent attribute headers both records start with (cloudevent.cpp's
// to_kafka order: specversion, id, source, type, subject, time, content-type).
void core_headers(KafkaRecord& r, std::string_view id, std::string_view source, std::string_view type,
                  std::string_view subject, std::string_view time) {
  r.headers.reserve(12);
  header(r, "ce_specversion", "1.0");
  header(r, "ce_id", id);
  header(r, "ce_source", source);
  header(r, "ce_type", type);
  if (!subject.empty()) header(r, "ce_subject", subject);
  if (!time.empty()) header(r, "ce_time", time);
  header(r, "content-type", "application/json");
}

// RunContext as to_json(run).dump() writes it (members in sorted order).
void append_run(std::string& out, const RunContext& run) {
  out += '{';
  member(out, "before_sha", run.before_sha);
  out += ',';
  member(out, "clone_url", run.clone_url);
  out += ',';
  member(out, "delivery_id", run.delivery_id);
  out += ',';
  member(out, "head_message", run.head_message);
  out += ",\"outputs\":";
  if (run.outputs.is_object() && !run.outputs.empty()) {
    out += run.outputs.dump();
  } else {
    out += "{}";
  }
  out += ',';
  member(out, "pipeline", run.pipeline);
  out += ",\"pull_request\":";
  append_int(out, run.pull_request);
  out += ',';
  member(out, "queued_at", run.queued_at);
  out += ',';
  member(out, "ref", run.ref);
  out += ',';
  member(out, "ref_kind", run.ref_kind);
  out += ',';
  member(out, "ref_name", run.ref_name);
  out += ',';
  member(out, "repository", run.repository);
  out += ',';
  member(out, "run_id", run.run_id);
  out += ',';
  member(out, "sender", run.sender);
  out += ',';
  member(out, "sha", run.sha);
  out += ',';
  member(out, "traceparent", run.traceparent);
  out += ',';
  member(out, "trigger", run.trigger);
  out += '}';
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  out += '"';
  std::size_t i = 0, copied = 0;  // bytes [copied, i) are plain and not yet appended
  while (i < n) {
    // Eight plain bytes at a time: none >= 0x80, < 0x20, '"' or '\\'.
    while (n - i >= 8) {
      constexpr std::uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
      std::uint64_t w;
      std::memcpy(&w, p + i, 8);
      const std::uint64_t quote = w ^ (kOnes * '"'), backslash = w ^ (kOnes * '\\');
      const std::uint64_t special = (w - kOnes * 0x20) | (quote - kOnes) | (backslash - kOnes);
      if (((special & ~w) | w) & kHigh) break;
      i += 8;
    }
    if (i >= n) break;
    const unsigned char c = p[i];
    if (plain(c)) {
      ++i;
      continue;
    }
    out.append(s.data() + copied, i - copied);
    if (c >= 0x80) {
      const std::size_t len = utf8_sequence(p + i, n - i);
      if (len == 0) {
        char msg[64];
        std::snprintf(msg, sizeof msg, "invalid UTF-8 byte at index %zu: 0x%02X", i, c);
        throw std::invalid_argument(msg);
      }
      out.append(s.data() + i, len);
      i += len;
    } else {
      out += '\\';
      switch (c) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '\b': out += 'b'; break;
        case '\f': out += 'f'; break;
        case '\n': out += 'n'; break;
        case '\r': out += 'r'; break;
        case '\t': out += 't'; break;
        default:
          out += "u00";
          out += kHex[c >> 4];
          out += kHex[c & 0x0f];
      }
      ++i;
    }
    copied = i;
  }
  out.append(s.data() + copied, n - copied);
  out += '"';
}

KafkaRecord pipelinerun_queued_record(const RunContext& run, std::string_view source, std::string_view event_id,
                                      std::string_view timestamp, const std::string& topic_prefix) {
  static const std::string kType = cdevent_type("pipelinerun.queued").value();
  KafkaRecord r;
  r.topic = events_topic(topic_prefix);
  std::string& v = r.value;
  v.reserve(400 + run.run_id.size() * 2 + run.pipeline.size() + source.size() * 2);
  v += "{\"context\":{";
  if (!run.run_id.empty()) {
    member(v, "chainId", run.run_id);
    v += ',';
  }
  member(v, "id", event_id);
  v += ',';
  member(v, "source", source);
  v += ",\"specversion\":";
  append_json_string(v, kCDEventsSpecVersion);
  v += ',';
  member(v, "timestamp", timestamp);
  v += ',';
  member(v, "type", kType);
  v += "},\"subject\":{\"content\":{";
  member(v, "pipelineName", run.pipeline);
  v += ',';
  member(v, "uri", run_uri(run));
  v += "},";
  member(v, "id", run.run_id);
  v += ',';
  member(v, "source", source);
  v += "}}";

  core_headers(r, event_id, source, kType, run.run_id, timestamp);
  // Extensions in cdevent_record's (sorted) order, each only when known.
  auto extension = [&r](const char* name, const std::string& value) {
    if (!value.empty()) header(r, name, value);
  };
  extension("ce_environment", detail::output_string(run.outputs, "deploy", "environment"));
  r.key = partition_key(run.repository);
  header(r, "ce_partitionkey", r.key);
  extension("ce_pipeline", run.pipeline);
  extension("ce_ref", run.ref);
  header(r, "ce_runid", run.run_id);
  extension("ce_sha", run.sha);
  extension("ce_traceparent", run.traceparent);
  extension("ce_version", detail::output_string(run.outputs, "version", "version"));
  return r;
}

FirstRequest::FirstRequest(const std::vector<SlipEntry>& stages, const std::string& topic_prefix) {
  if (stages.empty()) throw std::invalid_argument("FirstRequest: a run needs at least one stage");
  const SlipEntry& first = stages.front();
  stage_ = first.stage;
  topic_ = stage_topic(stage_, topic_prefix);
  settings_ = first.settings;
  try {
    tail_ = ",\"settings\":";
    tail_ += settings_.is_object() ? settings_.dump() : "{}";
    tail_ += ",\"slip\":[";
    for (std::size_t i = 1; i < stages.size(); ++i) {
      if (i > 1) tail_ += ',';
      tail_ += "{\"settings\":";
      tail_ += stages[i].settings.dump();
      tail_ += ',';
      member(tail_, "stage", stages[i].stage);
      tail_ += '}';
    }
    tail_ += "],";
    member(tail_, "stage", stage_);
    tail_ += '}';
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("FirstRequest: ") + e.what());
  }
}

KafkaRecord FirstRequest::record(const RunContext& run, std::string_view time) const {
  const std::string id = request_id(run.run_id, stage_);
  KafkaRecord r;
  r.topic = topic_;
  std::string& v = r.value;
  v.reserve(512 + tail_.size() + run.head_message.size() + run.clone_url.size());
  v += '{';
  member(v, "id", id);
  v += ",\"run\":";
  append_run(v, run);
  v += tail_;

  core_headers(r, id, kStageRequestSource, kStageRequestedType, id, time);
  r.key = detail::request_partition_key(stage_, settings_, run);
  header(r, "ce_partitionkey", r.key);
  header(r, "ce_runid", run.run_id);
  if (!run.traceparent.empty()) header(r, "ce_traceparent", run.traceparent);
  return r;
}

}  // namespace conveyor::events
