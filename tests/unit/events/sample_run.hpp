// A realistic run context shared by the events tests.
#pragma once

#include "conveyor/events/run.hpp"

namespace conveyor::events::test {

inline RunContext sample_run() {
  RunContext run;
  run.run_id = "5f0c7a2e-8a51-4c1e-9b7d-2f1e3c4d5a6b";
  run.pipeline = "imprun";
  run.repository = "imprun/imprun.dev";
  run.clone_url = "https://github.com/imprun/imprun.dev.git";
  run.trigger = "push";
  run.ref = "refs/heads/main";
  run.ref_kind = "branch";
  run.ref_name = "main";
  run.sha = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c";
  run.before_sha = "9049f1265b7d61be4a8904a9a27120d2064dab3b";
  run.delivery_id = "72d3162e-cc78-11e3-81ab-4c9367dc0958";
  run.sender = "octocat";
  run.head_message = "feat: add $(rm -rf /) `whoami` \"quotes\"";
  run.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  run.queued_at = "2026-11-29T19:02:36.123Z";
  return run;
}

inline std::vector<SlipEntry> full_slip() {
  return {
      {"test", {{"steps", nlohmann::json::array({{{"name", "unit"}, {"run", "make test"}}})}}},
      {"version", {{"tag-prefix", "v"}}},
      {"build", {{"images", nlohmann::json::array({{{"name", "server"}}})}}},
      {"helm", {{"file", "k8s/values-production.yaml"}}},
      {"deploy", {{"environment", "production"}, {"helm", {{"release", "imprun"}}}}},
      {"verify", {{"settle", "30s"}}},
  };
}

}  // namespace conveyor::events::test
