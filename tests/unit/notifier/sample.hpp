// Sample runs, pipelines and events for the notifier's unit tests. Event ids
// and timestamps are fixed so payloads can be compared exactly.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "conveyor/config/config.hpp"
#include "conveyor/events/cdevents.hpp"
#include "conveyor/events/run.hpp"

namespace conveyor::notifier::test {

inline events::RunContext sample_run() {
  events::RunContext run;
  run.run_id = "5f0c7a2e-8a51-4c1e-9b7d-2f1e3c4d5a6b";
  run.pipeline = "imprun";
  run.repository = "imprun/imprun.dev";
  run.clone_url = "https://github.com/imprun/imprun.dev.git";
  run.trigger = "push";
  run.ref = "refs/heads/main";
  run.ref_kind = "branch";
  run.ref_name = "main";
  run.sha = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c";
  run.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  run.outputs["version"] = {{"version", "1.4.0"}};
  run.outputs["deploy"] = {{"environment", "production"}};
  return run;
}

// The record of `cdevent` for `run`, with a fixed id and timestamp.
inline events::KafkaRecord record_of(nlohmann::json cdevent, const events::RunContext& run, const std::string& id,
                                     const std::string& topic_prefix = "conveyor") {
  cdevent["context"]["id"] = id;
  cdevent["context"]["timestamp"] = "2026-11-29T19:02:36.123Z";
  return events::cdevent_record(cdevent, run, topic_prefix);
}

inline const char* kSource = "/conveyor/deployer";

inline events::KafkaRecord finished(const std::string& outcome, const std::string& errors = "",
                                    const std::string& id = "evt-finished") {
  return record_of(events::pipelinerun_finished(sample_run(), kSource, outcome, errors), sample_run(), id);
}

inline events::KafkaRecord deployed(const std::string& environment = "production", const std::string& id = "evt-deployed") {
  return record_of(events::service_deployed(sample_run(), kSource, "imprun-system/imprun", environment,
                                            "pkg:oci/imprun-server@sha256%3Aabc"),
                   sample_run(), id);
}

inline events::KafkaRecord rolledback(const std::string& id = "evt-rolledback") {
  return record_of(events::service_rolledback(sample_run(), kSource, "imprun-system/imprun", "production",
                                              "pkg:oci/imprun-server@sha256%3Aold"),
                   sample_run(), id);
}

inline config::Pipeline imprun_pipeline(nlohmann::json notify) {
  config::Pipeline p;
  p.name = "imprun";
  p.repository = "imprun/imprun.dev";
  p.clone_url = "https://github.com/imprun/imprun.dev.git";
  p.stage_settings["deploy"] = {{"environment", "production"}, {"helm", {{"release", "imprun"}, {"chart", "k8s"}}}};
  p.notify = std::move(notify);
  return p;
}

}  // namespace conveyor::notifier::test
