// The run context and stage requests: the contract between conveyor's services.
//
// A run starts at the webhook and travels stage to stage as a StageRequest on
// `conveyor.stage.<stage>`. The request carries the routing slip (the stages
// still to run, each with its settings from conveyor.yaml) and the outputs of
// the stages done so far, so a stage service needs nothing but the request.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "conveyor/events/cloudevent.hpp"
#include "conveyor/result/result.hpp"

namespace conveyor::events {

// What started the run and where it is: set by the webhook, read by all.
struct RunContext {
  std::string run_id;        // UUID; also the CDEvents chainId
  std::string pipeline;      // pipeline name from conveyor.yaml
  std::string repository;    // GitHub full name "owner/repo"
  std::string clone_url;     // from conveyor.yaml (never from the webhook)
  std::string trigger;       // "push" or "pull_request"
  std::string ref;           // full ref, "refs/heads/main" / "refs/tags/v1.0.0"
  std::string ref_kind;      // "branch" or "tag"
  std::string ref_name;      // short name, "main" / "v1.0.0"
  std::string sha;           // 40-hex commit SHA to build
  std::string before_sha;    // previous tip (push) or base SHA (pull_request), may be ""
  int pull_request = 0;      // PR number, 0 if not a PR
  std::string delivery_id;   // X-GitHub-Delivery of the starting webhook
  std::string sender;        // GitHub login that caused the event
  std::string head_message;  // head commit message (data only: never a shell word)
  std::string traceparent;   // W3C Trace Context of the run
  std::string queued_at;     // RFC 3339 UTC
  nlohmann::json outputs = nlohmann::json::object();  // outputs of finished stages, by stage name
};

// One stage still to run: its name and its settings from conveyor.yaml.
struct SlipEntry {
  std::string stage;  // one of config::kStageOrder
  nlohmann::json settings = nlohmann::json::object();
};

// A request to run `stage` for a run. `slip` lists the remaining stages
// *after* this one, in order.
struct StageRequest {
  std::string id;        // deterministic: "<run_id>:<stage>", used for idempotency
  std::string stage;
  nlohmann::json settings = nlohmann::json::object();
  RunContext run;
  std::vector<SlipEntry> slip;
};

// CloudEvents type and source of a stage request on a work topic.
inline constexpr const char* kStageRequestedType = "dev.conveyor.stage.requested.0.1.0";
inline constexpr const char* kStageRequestSource = "/conveyor";

// Work topic of a stage: "<prefix>.stage.<stage>".
std::string stage_topic(const std::string& stage, const std::string& topic_prefix = "conveyor");

// Deterministic request id for a run's stage ("<run_id>:<stage>").
std::string request_id(const std::string& run_id, const std::string& stage);

// Partition key: "<owner>/<repo>", plus "@<environment>" when given
// (deploy and verify keep one environment's runs in order).
std::string partition_key(const std::string& repository, const std::string& environment = "");

// Partition key of a request: the repository, plus "@<environment>" for
// deploy and verify when the stage settings name an environment (verify falls
// back to run.outputs.deploy.environment, since its settings have none).
std::string request_partition_key(const StageRequest& request);

// Builds the request for the first entry of `stages` (must not be empty);
// the rest become its slip. Throws std::invalid_argument when `stages` is
// empty (a caller bug: a run with nothing to do is never started).
StageRequest first_request(const RunContext& run, const std::vector<SlipEntry>& stages);

// The request for the next stage after `done`, with `done`'s outputs merged
// into run.outputs[done.stage]; std::nullopt-like: returns an Error (not_found)
// when the slip is empty (the run is complete), invalid_argument when
// `outputs` is neither an object nor null. Object outputs are merged into any
// outputs already recorded for that stage (later keys win).
Result<StageRequest> next_request(const StageRequest& done, const nlohmann::json& outputs);

// JSON (de)serialization (schemas/events/run-context.schema.json and
// stage-request.schema.json). from_json errors are invalid_argument naming the
// field ("stage request: field 'run.sha' is missing"). Required: run_id,
// pipeline, repository ("owner/repo"), clone_url, trigger, ref, ref_kind,
// ref_name, sha (40 or 64 lower-case hex); the others default when absent.
// Unknown fields are ignored (a newer producer may add some).
nlohmann::json to_json(const RunContext& run);
Result<RunContext> run_from_json(const nlohmann::json& j);
nlohmann::json to_json(const StageRequest& request);
Result<StageRequest> request_from_json(const nlohmann::json& j);

// Wraps a request as a CloudEvent of type "dev.conveyor.stage.requested.0.1.0"
// for topic "<prefix>.stage.<stage>", key = partition key, with traceparent.
KafkaRecord to_kafka(const StageRequest& request, const std::string& topic_prefix = "conveyor");

// Decodes a stage request record (CloudEvent + JSON body). Errors
// (invalid_argument) for another CloudEvent type, a body that is not a valid
// request, or a ce_id that differs from the request id.
Result<StageRequest> request_from_kafka(const KafkaRecord& record);

}  // namespace conveyor::events
