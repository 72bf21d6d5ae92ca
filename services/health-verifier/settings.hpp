// The verify stage's settings: the pipeline's `verify` section
// (schemas/conveyor.schema.json, definition verifyStage) as it arrives in the
// stage request, parsed once into plain types with defaults applied and
// templates in URLs and queries resolved for the run.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "conveyor/events/run.hpp"
#include "conveyor/result/result.hpp"
#include "http_checks.hpp"
#include "prometheus.hpp"

namespace conveyor::health_verifier {

struct VerifySettings {
  std::chrono::milliseconds settle{30000};  // wait after the deploy before the first check
  std::chrono::milliseconds soak{120000};   // how long checks keep running after the first pass
  std::vector<HttpCheck> http;
  std::vector<PrometheusCheck> prometheus;
  bool rollback = true;                      // on-failure: rollback (true) | none
};

// Parses `settings` (an object; unknown keys are refused, as by the schema).
// Errors (invalid_argument) name the key path, e.g.
// "verify.http[0].status: status 'abc' is not ...".
Result<VerifySettings> parse_settings(const nlohmann::json& settings, const events::RunContext& run);

// Expands "{{name}}" placeholders in a check URL or query for `run`:
// sha, short-sha (7 hex), version (run.outputs.version.version), environment
// (run.outputs.deploy.environment), repository, pipeline, ref-name, run-id.
// Errors (invalid_argument): an unknown name, an unterminated "{{", or a
// value the run does not have (no version output, no deploy environment).
Result<std::string> resolve_templates(std::string_view text, const events::RunContext& run);

}  // namespace conveyor::health_verifier
