// noop_stage: a stage service that does no work, for the hand-off benchmark.
// It is the real stage runtime (stage::run: worker loop, idempotency records,
// routing slip, delivery rules) with a handler that only reports, as a
// `dev.conveyor.bench.stage.started.0.1.0` event, the wall time (µs since the
// epoch, CLOCK_REALTIME) at which it started and finished.
//
//   CONVEYOR_NOOP_STAGE=<test|version|build|helm|deploy|verify> noop_stage --config FILE
//
// Consumer group: `<prefix>-noop-<stage>` (stage::run's naming).
#include <chrono>
#include <cstdlib>
#include <string>

#include "conveyor/events/cdevents.hpp"
#include "conveyor/runtime/service.hpp"
#include "conveyor/stage/stage.hpp"

namespace {

long long now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

int main(int argc, char** argv) {
  const char* stage_env = std::getenv("CONVEYOR_NOOP_STAGE");
  const std::string stage = stage_env ? stage_env : "";
  if (stage.empty()) return 2;
  return conveyor::runtime::main(argc, argv, "noop-" + stage, [stage](conveyor::runtime::Service& service) {
    conveyor::stage::StageServiceOptions options;
    options.stage = stage;
    options.concurrency = 6;
    const std::string source = "/conveyor/bench/noop-" + stage;
    return conveyor::stage::run(service, options,
                                [source](const conveyor::events::StageRequest& request,
                                         const conveyor::stage::Publish&) -> conveyor::Result<conveyor::stage::StageResult> {
                                  const long long started = now_us();
                                  conveyor::stage::StageResult result;
                                  result.outputs = {{"started_us", started}};
                                  conveyor::events::Subject subject{
                                      request.id, "",
                                      {{"stage", request.stage},
                                       {"rollback", conveyor::stage::is_rollback(request)},
                                       {"started_us", started},
                                       {"finished_us", now_us()}}};
                                  result.cdevents.push_back(conveyor::events::make_cdevent(
                                      "dev.conveyor.bench.stage.started.0.1.0", source, request.run, subject));
                                  return result;
                                });
  });
}
