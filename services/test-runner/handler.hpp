// The test stage, free of Kafka and Redis: a stage request in, a StageResult
// out. It checks out the run's commit into a fresh workspace, runs the test
// steps in order (bash -e -o pipefail -c <run>, in their working directory,
// with their env plus CI=true and CONVEYOR_RUN_ID / _REPOSITORY / _REF / _SHA),
// streams each step's output masked into a log file, reads the JUnit reports,
// and reports testsuiterun.started (published right away) and
// testsuiterun.finished (outcome, counts, failing cases) per CDEvents.
//
// Stage failures (a step failed or timed out, tests failed, the repository is
// unreachable, the commit is missing, a report is unparsable, bad settings)
// are a StageResult with status failed and a reason. An Error means the
// service itself could not work (workspace not writable, Kafka did not take
// the started event): the runtime retries the request.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "conveyor/config/config.hpp"
#include "conveyor/events/run.hpp"
#include "conveyor/process/process.hpp"
#include "conveyor/result/result.hpp"
#include "conveyor/stage/stage.hpp"

namespace conveyor::test_runner {

// Where and how the handler works; the same for every run of an instance.
struct Environment {
  std::string workspace_root;  // checkouts: <root>/<run id>-XXXXXX (created if missing)
  std::string log_root;        // step logs: <log_root>/<run id>/test/<NN>-<step>.log
  bool keep_workspaces = false;  // keep every checkout (pipelines can ask too)
  std::vector<std::string> secrets;  // values masked in every log and event
  std::string source = "/conveyor/test-runner";         // CloudEvents / CDEvents source
  std::string environment_id = "conveyor-test-runner";  // CDEvents environment of the suite runs
  // Variables of the service's environment that steps and git inherit
  // (nothing else: the service's environment may hold secrets).
  process::Environment base_env = process::inherit(
      {"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM"});
  std::chrono::milliseconds kill_grace{5000};  // SIGTERM -> SIGKILL of a timed-out step's group
  // Reads a secret reference (tests substitute their own).
  std::function<Result<std::string>(const config::SecretRef&)> resolve = [](const config::SecretRef& ref) {
    return ref.resolve();
  };
};

// The CDEvents context ids of the stage's events are deterministic
// ("<request id>:testsuiterun.started" / ".finished"), so a request that is
// run again after a crash repeats the same ids and subscribers can de-duplicate.
Result<stage::StageResult> handle(const events::StageRequest& request, const stage::Publish& publish,
                                  const Environment& env);

// Removes workspaces under `root` that no run holds any more (left by a
// crash: each run keeps an flock on its workspace while it lasts, so this is
// safe with several instances sharing `root`); kept ones (keep-workspaces)
// stay. Returns the directories removed. Called once at start.
std::vector<std::string> sweep_stale_workspaces(const std::string& root);

// Removes a directory tree, also where a step left directories read-only.
void remove_workspace(const std::string& dir);

}  // namespace conveyor::test_runner
