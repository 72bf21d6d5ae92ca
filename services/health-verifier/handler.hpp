// The verify stage, free of Kafka and Redis: a stage request in, a
// StageResult out, over three small interfaces (HttpProbe, PrometheusApi,
// Clock) so unit tests run on simulated time.
//
// The verification:
//   1. wait `settle` (default 30 s);
//   2. first pass: every HTTP check must pass once; a failing probe is
//      retried `retries` times `interval` apart, then the check has failed;
//   3. then, together: every Prometheus check takes its `count` measurements
//      `interval` apart (first one at once), and for `soak` (default 2 m) the
//      HTTP checks keep probing every `interval` (at least 1 s; the last probe
//      at the end of the soak). During the soak a check fails after
//      `retries` + 1 consecutive failed probes; a streak still open when the
//      soak ends is followed to its end, so a late failure is never ignored.
//   4. The first failure ends the verification at once (fail fast: the
//      rollback starts without waiting for the other checks).
// Verdict: passed; failed (a check failed); or inconclusive (no failure but
// a Prometheus check ended with an inconclusive measurement, see
// prometheus.hpp) -- like Argo Rollouts' inconclusive analysis it neither
// promotes nor rolls back: the run ends as failed for a person to judge.
//
// Outcome records (through the stage runtime):
//   - always: taskrun.started (published at once) and taskrun.finished with
//     customData {verdict, checks: [reports with every resolved URL / query
//     and measured value]};
//   - failed: incident.detected (description = reason, environment from
//     run.outputs.deploy, customData {check: the failing report, checks,
//     detected_at, rollback}) and, unless on-failure is none, a rollback
//     request to the deployer (StageResult::extra_records): stage "deploy",
//     id "<run id>:rollback", settings = run.outputs.deploy (what the
//     deployer recorded: environment, release, previous revision...) plus
//     {action: rollback, reason, incident}, empty slip; the run then ends
//     with pipelinerun.finished failure.
//   - settings that cannot be parsed (the schema normally prevents it): the
//     stage fails without rollback (a typo is no evidence against the deploy).
// The time from the failing measurement to the rollback request being
// ready for the producer is customData.rollback.verdict_to_rollback_ms and
// outputs.rollback.verdict_to_rollback_ms; detected_at (RFC 3339, ms) lets
// a subscriber measure it end to end against the request's record time.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "clock.hpp"
#include "conveyor/events/run.hpp"
#include "conveyor/result/result.hpp"
#include "conveyor/stage/stage.hpp"
#include "http_checks.hpp"
#include "prometheus.hpp"
#include "settings.hpp"

namespace conveyor::health_verifier {

// Most recent probes / measurements kept per check in reports (events stay
// small however long the soak or the count).
inline constexpr std::size_t kMaxProbesRecorded = 20;
inline constexpr std::size_t kMaxMeasurementsRecorded = 50;
// Soak probes are at least this far apart, whatever `interval` says.
inline constexpr std::chrono::milliseconds kMinSoakInterval{1000};

struct Verdict {
  enum class Outcome { passed, failed, inconclusive };
  Outcome outcome = Outcome::passed;
  std::string reason;                          // "" when passed
  nlohmann::json checks = nlohmann::json::array();  // one report per check: HTTP ones, then Prometheus ones
  nlohmann::json failing_check;                // the failed check's report (null unless failed)
  std::optional<Clock::time_point> failed_at;  // when the failing probe / measurement came back
  std::chrono::system_clock::time_point failed_at_wall{};
  std::chrono::milliseconds duration{0};       // settle included
};
const char* outcome_name(Verdict::Outcome outcome) noexcept;

// Runs the checks of `settings` (see the top of this file).
Verdict verify(const VerifySettings& settings, HttpProbe& http, PrometheusApi& prometheus, Clock& clock);

// What the handler works with; the same for every request of an instance.
struct Dependencies {
  HttpProbe& http;
  PrometheusApi& prometheus;
  Clock& clock;
  std::string source = "/conveyor/health-verifier";  // CloudEvents / CDEvents source
  std::string topic_prefix = "conveyor";             // for the rollback request's topic
};

// The rollback request for a failed verification of `verify_request`.
events::StageRequest rollback_request(const events::StageRequest& verify_request, const std::string& reason,
                                      const std::string& incident_id);

// The stage handler. Errors only when Kafka did not take taskrun.started
// (the runtime retries); every verification outcome is a StageResult.
Result<stage::StageResult> handle(const events::StageRequest& request, const stage::Publish& publish,
                                  Dependencies& deps);

}  // namespace conveyor::health_verifier
