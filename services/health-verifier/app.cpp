#include "app.hpp"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <pthread.h>
#include <signal.h>

#include "conveyor/stage/stage.hpp"
#include "handler.hpp"

namespace conveyor::health_verifier {
namespace {

struct Metrics {
  prometheus::Family<prometheus::Counter>& verdicts;
  prometheus::Counter& rollbacks;
  prometheus::Histogram& duration;
  prometheus::Histogram& rollback_latency;

  explicit Metrics(prometheus::Registry& r)
      : verdicts(prometheus::BuildCounter()
                     .Name("conveyor_health_verifier_verdicts_total")
                     .Help("Verifications finished, by verdict (passed, failed, inconclusive, error)")
                     .Register(r)),
        rollbacks(prometheus::BuildCounter()
                      .Name("conveyor_health_verifier_rollbacks_requested_total")
                      .Help("Rollback requests sent to the deployer")
                      .Register(r)
                      .Add({})),
        duration(prometheus::BuildHistogram()
                     .Name("conveyor_health_verifier_verification_duration_seconds")
                     .Help("Duration of verifications, settle and soak included")
                     .Register(r)
                     .Add({}, prometheus::Histogram::BucketBoundaries{1, 5, 15, 30, 60, 120, 300, 600, 1800})),
        rollback_latency(prometheus::BuildHistogram()
                             .Name("conveyor_health_verifier_verdict_to_rollback_seconds")
                             .Help("From the failing probe or measurement to the rollback request being built")
                             .Register(r)
                             .Add({}, prometheus::Histogram::BucketBoundaries{0.001, 0.01, 0.1, 0.5, 1, 5})) {}
};

}  // namespace

int run(runtime::Service& service) {
  // SIGTERM/SIGINT must reach only the stop-signal thread that stage::run
  // starts (bus::on_stop_signal), but stage::run creates the producer's poll
  // thread first: block them here, before any thread exists, so every thread
  // inherits the mask (otherwise SIGTERM kills the process instead of draining).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  // One instance of each for the process: both are stateless, the clock too.
  static ClientHttpProbe http_probe;
  static HttpPrometheusApi prometheus_api;
  static SystemClock clock;
  auto metrics = std::make_shared<Metrics>(*service.metrics);
  const std::string source = "/conveyor/" + service.name;
  const std::string prefix = service.config.kafka.topic_prefix;
  const log::Logger& logger = service.logger;

  stage::StageServiceOptions options;
  options.stage = "verify";
  return stage::run(
      service, options,
      [metrics, source, prefix, &logger](const events::StageRequest& request,
                                         const stage::Publish& publish) -> Result<stage::StageResult> {
        const std::string trace_id = log::trace_id_of(request.run.traceparent);
        logger.info("verification started", {{"run_id", request.run.run_id},
                                             {"repository", request.run.repository},
                                             {"sha", request.run.sha},
                                             {"trace_id", trace_id}});
        Dependencies deps{http_probe, prometheus_api, clock, source, prefix};
        auto result = handle(request, publish, deps);
        if (!result) {
          logger.warn("verification could not run", {{"run_id", request.run.run_id},
                                                     {"error", result.error().message},
                                                     {"trace_id", trace_id}});
          return result;
        }
        const auto& out = result->outputs;
        const std::string verdict = out.value("verdict", "error");
        metrics->verdicts.Add({{"verdict", verdict}}).Increment();
        if (out.contains("duration_ms")) metrics->duration.Observe(out["duration_ms"].get<double>() / 1000.0);
        std::string rollback_ms;
        if (out.contains("rollback") && out["rollback"].value("requested", false)) {
          const double ms = out["rollback"].value("verdict_to_rollback_ms", 0.0);
          metrics->rollbacks.Increment();
          metrics->rollback_latency.Observe(ms / 1000.0);
          rollback_ms = std::to_string(ms);
          logger.warn("rollback requested", {{"run_id", request.run.run_id},
                                             {"request_id", out["rollback"].value("request_id", "")},
                                             {"topic", out["rollback"].value("topic", "")},
                                             {"verdict_to_rollback_ms", rollback_ms},
                                             {"trace_id", trace_id}});
        }
        logger.info("verification finished", {{"run_id", request.run.run_id},
                                              {"verdict", verdict},
                                              {"reason", result->reason},
                                              {"trace_id", trace_id}});
        return result;
      });
}

}  // namespace conveyor::health_verifier
