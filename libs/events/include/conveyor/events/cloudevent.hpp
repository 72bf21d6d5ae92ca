// CloudEvents 1.0 and their Kafka encoding (CloudEvents Kafka protocol binding
// 1.0, binary content mode): attributes travel as `ce_<name>` headers, the
// data is the record value, `content-type` carries datacontenttype, and the
// record key is the `partitionkey` extension.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "conveyor/result/result.hpp"

namespace conveyor::events {

// A Kafka record as plain data, independent of librdkafka.
struct KafkaRecord {
  std::string topic;
  std::string key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;  // in order; names are case-sensitive

  // First header with that name, or nullptr.
  const std::string* header(std::string_view name) const;
};

// A CloudEvent (spec 1.0). `data` is the serialized JSON payload.
struct CloudEvent {
  std::string specversion = "1.0";
  std::string id;        // unique per source
  std::string source;    // URI-reference, e.g. "/conveyor/webhook"
  std::string type;      // e.g. "dev.cdevents.pipelinerun.queued.0.3.0"
  std::string subject;   // optional
  std::string time;      // RFC 3339 UTC, e.g. "2026-11-29T19:02:36.123Z"
  std::string datacontenttype = "application/json";
  std::string data;      // serialized JSON
  // Extension attributes (lower-case alphanumeric names), e.g.
  // "partitionkey", "traceparent" (W3C Trace Context), "runid".
  std::map<std::string, std::string> extensions;
};

// Encodes in binary content mode onto `topic`; key = extensions["partitionkey"].
KafkaRecord to_kafka(const CloudEvent& event, const std::string& topic);

// Decodes a binary-mode record. Errors (invalid_argument) when a required
// attribute (specversion, id, source, type) is missing or specversion != 1.0.
Result<CloudEvent> from_kafka(const KafkaRecord& record);

// Current time as RFC 3339 UTC with milliseconds.
std::string now_rfc3339();

// A random UUID v4 string (for event ids and run ids).
std::string new_uuid();

}  // namespace conveyor::events
