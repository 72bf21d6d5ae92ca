#include "app.hpp"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>

#include "conveyor/stage/stage.hpp"
#include "handler.hpp"
#include "settings.hpp"

namespace conveyor::test_runner {
namespace {

struct Metrics {
  prometheus::Family<prometheus::Counter>& runs;
  prometheus::Histogram& duration;

  explicit Metrics(prometheus::Registry& r)
      : runs(prometheus::BuildCounter()
                 .Name("conveyor_test_runner_runs_total")
                 .Help("Test stages finished, by outcome (success, failure, error)")
                 .Register(r)),
        duration(prometheus::BuildHistogram()
                     .Name("conveyor_test_runner_run_duration_seconds")
                     .Help("Duration of test stages (checkout, steps, reports)")
                     .Register(r)
                     .Add({}, prometheus::Histogram::BucketBoundaries{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600})) {}
};

// Every secret this instance can read from the config is masked in step
// output too, whoever it belongs to (a step could print the service's own
// environment only through a bug, but a mask costs nothing).
std::vector<std::string> known_secrets(const config::Config& cfg) {
  std::vector<std::string> out;
  std::vector<config::SecretRef> refs = cfg.webhook.secrets;
  if (cfg.github.token) refs.push_back(*cfg.github.token);
  for (const auto& ref : refs) {
    if (auto v = ref.resolve(); v) out.push_back(std::move(*v));
  }
  return out;
}

}  // namespace

int run(runtime::Service& service) {
  auto& log = service.logger;
  const ServiceSettings settings = service_settings(service.config);
  Environment env;
  env.workspace_root = settings.workspace_dir;
  env.log_root = settings.log_dir;
  env.keep_workspaces = settings.keep_workspaces;
  env.secrets = known_secrets(service.config);
  env.source = "/conveyor/" + service.name;

  if (!settings.keep_workspaces) {
    for (const auto& dir : sweep_stale_workspaces(settings.workspace_dir)) {
      log.info("removed a stale workspace", {{"workspace", dir}});
    }
  }
  auto metrics = std::make_shared<Metrics>(*service.metrics);
  log.info("test-runner settings", {{"concurrency", std::to_string(settings.concurrency)},
                                    {"workspace_dir", settings.workspace_dir},
                                    {"log_dir", settings.log_dir}});

  stage::StageServiceOptions options;
  options.stage = "test";
  options.concurrency = settings.concurrency;
  const log::Logger& logger = log;
  return stage::run(service, options,
                    [env, metrics, &logger](const events::StageRequest& request,
                                            const stage::Publish& publish) -> Result<stage::StageResult> {
                      const auto start = std::chrono::steady_clock::now();
                      logger.info("test stage started", {{"run_id", request.run.run_id},
                                                         {"repository", request.run.repository},
                                                         {"sha", request.run.sha},
                                                         {"trace_id", log::trace_id_of(request.run.traceparent)}});
                      auto result = handle(request, publish, env);
                      const double seconds =
                          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
                      if (!result) {
                        logger.warn("test stage could not run", {{"run_id", request.run.run_id},
                                                                 {"error", result.error().message}});
                        return result;
                      }
                      const std::string outcome = result->outputs.value("outcome", "error");
                      metrics->runs.Add({{"outcome", outcome}}).Increment();
                      metrics->duration.Observe(seconds);
                      logger.info("test stage finished", {{"run_id", request.run.run_id},
                                                          {"outcome", outcome},
                                                          {"reason", result->reason},
                                                          {"trace_id", log::trace_id_of(request.run.traceparent)}});
                      return result;
                    });
}

}  // namespace conveyor::test_runner
