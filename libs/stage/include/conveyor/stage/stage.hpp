// The runtime every stage service (test-runner, version-tagger, ...) shares:
// consume `conveyor.stage.<stage>`, run the stage's handler, and publish the
// outcome per the routing slip, with conveyor's delivery rules:
//
// - Idempotent: the outcome of a finished request (its records) is recorded
//   in Redis under the request id; a redelivered request re-publishes the
//   recorded records instead of running the handler again.
// - Outcome = the handler's CDEvents, then either the next stage's request
//   (success and slip not empty) or `pipelinerun.finished` (failure, a stop,
//   or the last stage). Offsets are committed only after all of it was
//   acknowledged (see bus::Worker).
// - The handler reports *stage* failures (tests failed, push refused) as a
//   StageResult with status failed; an Error return is an infrastructure
//   failure, retried and finally dead-lettered.
#pragma once

#include <functional>
#include <stop_token>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "conveyor/bus/worker.hpp"
#include "conveyor/events/run.hpp"
#include "conveyor/result/result.hpp"
#include "conveyor/runtime/service.hpp"
#include "conveyor/store/store.hpp"

namespace conveyor::stage {

// What a stage decided.
struct StageResult {
  enum class Status {
    succeeded,  // hand the run to the next stage (or finish it successfully)
    failed,     // the run ends as failed (pipelinerun.finished outcome "failure")
    stopped,    // the run ends successfully here (e.g. "no release")
  };
  Status status = Status::succeeded;
  nlohmann::json outputs = nlohmann::json::object();  // merged into run.outputs[<stage>]
  std::vector<nlohmann::json> cdevents;               // CDEvents to publish, in order
  std::string reason;                                 // why it failed or stopped
  // Further records of the outcome (e.g. the health verifier's rollback
  // request to the deployer), published after the CDEvents and before the
  // next request or pipelinerun.finished; recorded for redeliveries like the rest.
  std::vector<events::KafkaRecord> extra_records;
};

// Lets a handler publish progress events (e.g. taskrun.started) right away,
// before its result exists. Errors when Kafka did not acknowledge.
using Publish = std::function<Result<void>(const nlohmann::json& cdevent)>;

// A stage handler: plain data in and out; runs on a worker thread and may
// take minutes.
using Handler = std::function<Result<StageResult>(const events::StageRequest& request, const Publish& publish)>;

// Called from a Handler: requested when the service drains (SIGTERM). A
// handler in a long wait may give up and return an Error: nothing is
// recorded, the request is handed back uncommitted and redelivered.
inline std::stop_token current_stop_token() noexcept { return bus::current_stop_token(); }

// The records that carry out `result` for `request`: its CDEvents, its
// extra_records, then the next request or pipelinerun.finished. `source` is
// the CloudEvents source of this service ("/conveyor/test-runner").
// A rollback request (settings.action == "rollback", id "<run id>:rollback")
// publishes only its own events and extra records: its run already finished.
std::vector<events::KafkaRecord> outcome_records(const events::StageRequest& request, const StageResult& result,
                                                 const std::string& source, const std::string& topic_prefix);

// True for a deploy request that asks for a rollback (settings.action == "rollback").
bool is_rollback(const events::StageRequest& request);

// Recorded outcomes as text (JSON array of records) and back; used for idempotency.
std::string encode_records(const std::vector<events::KafkaRecord>& records);
Result<std::vector<events::KafkaRecord>> decode_records(const std::string& text);

// Wraps a handler into a bus::MessageHandler: decodes the request (a
// malformed one is a permanent error -> DLQ), re-publishes a recorded
// outcome if there is one, else runs the handler and records its outcome.
bus::MessageHandler make_message_handler(const std::string& stage, const std::string& source, Handler handler,
                                         store::OutcomeStore& outcomes, bus::Producer& producer,
                                         const std::string& topic_prefix);

// Settings of one stage service.
struct StageServiceOptions {
  std::string stage;        // "test", "version", "build", "helm", "deploy", "verify"
  int concurrency = 1;      // requests handled at once (distinct partitions)
};

// Runs a stage service until SIGTERM: producer, Redis, worker on
// `<prefix>.stage.<stage>` in group `conveyor-<service name>`, admin endpoint.
// Returns the exit code (0 after a clean drain).
int run(runtime::Service& service, const StageServiceOptions& options, Handler handler);

}  // namespace conveyor::stage
