// The two records that start a run (what conveyor-webhook publishes per
// delivery), serialised straight into strings instead of through nlohmann
// documents: `pipelinerun.queued` on `<prefix>.events` and the first stage
// request on `<prefix>.stage.<stage>`.
//
// The output is byte for byte what the reference builders produce (keys in
// nlohmann's sorted order, nlohmann's string escaping, same headers in the
// same order); tests/unit/events/run_start_test.cpp checks that on every
// GitHub fixture and on adversarial strings. Use the reference builders
// (cdevents.hpp, run.hpp) everywhere else.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "conveyor/events/cloudevent.hpp"
#include "conveyor/events/run.hpp"

namespace conveyor::events {

// Appends `s` as a JSON string literal (with the quotes) exactly as
// nlohmann::json::dump() writes it: `"` `\` and control characters escaped
// (\b \f \n \r \t, else \u00xx in lower-case hex), every other byte as is.
// Throws std::invalid_argument when `s` is not well-formed UTF-8 (where dump()
// throws nlohmann::json::type_error 316); `out` may then hold a partial literal.
void append_json_string(std::string& out, std::string_view s);

// The `pipelinerun.queued` record for a run just started: equal to
//   auto e = pipelinerun_queued(run, source);
//   e["context"]["id"] = event_id; e["context"]["timestamp"] = timestamp;
//   cdevent_record(e, run, topic_prefix)
// `timestamp` is RFC 3339 (now_rfc3339()). Throws std::invalid_argument when a
// string of the run is not valid UTF-8 (as the reference throws).
KafkaRecord pipelinerun_queued_record(const RunContext& run, std::string_view source, std::string_view event_id,
                                      std::string_view timestamp, const std::string& topic_prefix = "conveyor");

// The run-independent part of a pipeline's first stage request (stage,
// settings, slip, topic, partition environment), serialised once, e.g. per
// pipeline and trigger at start-up; record() then only writes the run.
class FirstRequest {
 public:
  // `stages` as for first_request(): must not be empty (std::invalid_argument).
  // Throws std::invalid_argument when a stage name or setting is not valid UTF-8.
  FirstRequest(const std::vector<SlipEntry>& stages, const std::string& topic_prefix = "conveyor");

  // Equal to to_kafka(first_request(run, stages), topic_prefix) with ce_time =
  // `time` (RFC 3339). Throws std::invalid_argument when a string of the run is
  // not valid UTF-8.
  KafkaRecord record(const RunContext& run, std::string_view time) const;

  const std::string& stage() const { return stage_; }

 private:
  std::string stage_;
  std::string topic_;
  nlohmann::json settings_;   // the first stage's (for the partition key)
  std::string tail_;          // `,"settings":{...},"slip":[...],"stage":"<stage>"}`
};

}  // namespace conveyor::events
