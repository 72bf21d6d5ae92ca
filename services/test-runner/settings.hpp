// The test-runner's settings: the service's own (`test-runner:` in
// conveyor.yaml, read once at start) and a run's test stage (`test:` of its
// pipeline, carried in the stage request).
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "conveyor/config/config.hpp"
#include "conveyor/result/result.hpp"

namespace conveyor::test_runner {

// `test-runner:` (schemas/conveyor.schema.json#/properties/test-runner).
struct ServiceSettings {
  int concurrency = 2;         // runs at once per instance (distinct partitions)
  std::string workspace_dir;   // default $TMPDIR/conveyor-test-runner (TMPDIR default /tmp)
  std::string log_dir;         // default <workspace_dir>/logs
  bool keep_workspaces = false;  // keep every checkout (debugging); pipelines can ask too
};

// Reads the section from the validated document (defaults when absent).
ServiceSettings service_settings(const config::Config& config);

// One step of `test.steps`.
struct StepSettings {
  std::string name;               // default "step <n>"
  std::string run;                // bash script
  std::string working_directory;  // relative to the checkout; "" = its root
  std::map<std::string, std::string> env;
  std::optional<std::chrono::milliseconds> timeout;
};

// Default of `test.timeout`, the whole stage (checkout, steps, reports).
inline constexpr std::chrono::minutes kDefaultStageTimeout{60};

// `test:` of a pipeline (schemas/conveyor.schema.json#/definitions/testStage).
struct TestSettings {
  std::vector<StepSettings> steps;
  std::vector<std::string> junit;  // globs relative to the checkout
  std::chrono::milliseconds timeout = kDefaultStageTimeout;
  bool keep_workspaces = false;
  std::map<std::string, config::SecretRef> secrets;  // env var -> secret, masked
  std::optional<config::SecretRef> clone_token;
};

// Parses the stage settings of a request. The webhook took them from a
// validated conveyor.yaml, but a request is checked again: errors
// (invalid_argument) name the key, e.g. "steps[1].working-directory: ...".
Result<TestSettings> parse_test_settings(const nlohmann::json& settings);

// A relative path that stays inside its base: not absolute, no ".." that
// climbs above the base. "" and "." are the base itself.
bool is_inside_relative(const std::string& path);

}  // namespace conveyor::test_runner
