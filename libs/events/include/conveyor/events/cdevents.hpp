// CDEvents v0.5.1 for the public stream (`conveyor.events`).
//
// Each CDEvent is a JSON document {context, subject, customData?} per the
// CDEvents spec v0.5.1; on Kafka it travels as a CloudEvent (ce_type = the
// CDEvent type, ce_id = context.id, data = the whole CDEvent). The run id is
// context.chainId so subscribers can follow one run. Events CDEvents lacks use
// "dev.conveyor.<subject>.<predicate>.<version>" with the same shape.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "conveyor/events/cloudevent.hpp"
#include "conveyor/events/run.hpp"

namespace conveyor::events {

inline constexpr const char* kCDEventsSpecVersion = "0.5.1";

// Full CDEvents type for a short "<subject>.<predicate>" name, e.g.
// "pipelinerun.queued" -> "dev.cdevents.pipelinerun.queued.0.3.0" (the
// versions of spec v0.5.1). Errors (not_found) for names CDEvents lacks.
Result<std::string> cdevent_type(const std::string& short_name);

// Every (short name, type version) pair of spec v0.5.1, sorted by short name;
// the full type is "dev.cdevents.<short name>.<version>".
const std::vector<std::pair<std::string_view, std::string_view>>& cdevent_type_versions();

// Topic of the public stream: "<prefix>.events".
std::string events_topic(const std::string& topic_prefix = "conveyor");

// Outcomes conveyor reports in *.finished events (the enum of the
// pipelinerun/testsuiterun schemas): "success", "failure", "cancel", "error".
bool is_outcome(std::string_view outcome) noexcept;

// What a CDEvent is about: subject id, source and content (type-specific).
struct Subject {
  std::string id;
  std::string source;  // defaults to the event source when empty
  nlohmann::json content = nlohmann::json::object();
};

// Builds a CDEvent for the run: context {specversion, id (new UUID), source,
// type, timestamp (now), chainId = run.run_id}, subject, and customData
// (optional, only when not null; customDataContentType "application/json").
// The subject never gets a `type` member: no v0.5.1 schema requires one, and
// all but ticket.closed forbid it.
nlohmann::json make_cdevent(const std::string& full_type, const std::string& source, const RunContext& run,
                            const Subject& subject, const nlohmann::json& custom_data = nullptr);

// Wraps a CDEvent as a CloudEvent for `<prefix>.events` (key = partition key of
// the run's repository, traceparent and runid extensions from the run). The
// run's position travels in extensions too, each only when known: pipeline
// (run.pipeline), sha (run.sha), ref (run.ref), version
// (run.outputs.version.version) and environment (run.outputs.deploy.environment).
KafkaRecord cdevent_record(const nlohmann::json& cdevent, const RunContext& run,
                           const std::string& topic_prefix = "conveyor");

// Decodes a record of the public stream back into the CDEvent. Errors
// (invalid_argument) when the CloudEvent is invalid, the data is not a JSON
// object with a context, or ce_type / ce_id disagree with context.type / id.
Result<nlohmann::json> cdevent_from_kafka(const KafkaRecord& record);

// URI of a run in CDEvents content (`uri` of pipelinerun events):
// "urn:uuid:<run_id>" (run ids are UUIDs), else "urn:conveyor:run:<run_id>".
std::string run_uri(const RunContext& run);

// Package URL of an OCI image, the artifact id CDEvents recommends:
// "pkg:oci/<name>@sha256%3A<hex>?repository_url=<repository>&tag=<tag>", where
// <name> is the last path segment of `image_repository` (e.g.
// "registry.example.com/imprun/imprun-server"); digest and tag may be empty
// (not both).
std::string oci_purl(const std::string& image_repository, const std::string& digest, const std::string& tag = "");

// pipelinerun.queued for a run just started by the webhook (subject id =
// run id, content {pipelineName, uri}).
nlohmann::json pipelinerun_queued(const RunContext& run, const std::string& source);

// pipelinerun.finished (outcome "success" | "failure" | "cancel" | "error",
// errors text, omitted when empty).
nlohmann::json pipelinerun_finished(const RunContext& run, const std::string& source, const std::string& outcome,
                                    const std::string& errors = "");

// The helpers below build the other events conveyor's services emit; each
// result validates against its official v0.5.1 schema. Arguments that would
// make an invalid event (an empty id the schema requires, an outcome outside
// is_outcome(), an unknown severity) are caller bugs: std::invalid_argument.

// pipelinerun.started (subject id = run id, content {pipelineName, uri}).
nlohmann::json pipelinerun_started(const RunContext& run, const std::string& source);

// taskrun.started / taskrun.finished: one stage of the run. `taskrun_id` is
// the subject id (conveyor uses the request id "<run_id>:<stage>"),
// `task_name` the stage; content.pipelineRun.id = run id.
nlohmann::json taskrun_started(const RunContext& run, const std::string& source, const std::string& task_name,
                               const std::string& taskrun_id);
nlohmann::json taskrun_finished(const RunContext& run, const std::string& source, const std::string& task_name,
                                const std::string& taskrun_id, const std::string& outcome,
                                const std::string& errors = "");

// A test suite run (one test step or JUnit report of the test stage).
struct TestSuiteRun {
  std::string id;           // subject id, e.g. "<run_id>:test:<step>"
  std::string suite_id;     // the suite, e.g. the step name or JUnit testsuite name
  std::string suite_name;   // human name, may be ""
  std::string environment;  // environment id where it ran (required), e.g. "conveyor-test-runner"
};

// testsuiterun.started (trigger type "pipeline") / testsuiterun.finished
// (outcome per is_outcome(); severity "" | low | medium | high | critical;
// reason may be "").
nlohmann::json testsuiterun_started(const RunContext& run, const std::string& source, const TestSuiteRun& suite);
nlohmann::json testsuiterun_finished(const RunContext& run, const std::string& source, const TestSuiteRun& suite,
                                     const std::string& outcome, const std::string& reason = "",
                                     const std::string& severity = "");

// build.started / build.finished for one image build (`build_id` is the
// subject id, e.g. "<run_id>:build:<image>"); finished names the artifact
// (an oci_purl(), may be "" when the build failed).
nlohmann::json build_started(const RunContext& run, const std::string& source, const std::string& build_id);
nlohmann::json build_finished(const RunContext& run, const std::string& source, const std::string& build_id,
                              const std::string& artifact_id);

// artifact.packaged (subject id = artifact id; content.change = the commit:
// {id: run.sha, source: the repository URL}) and artifact.published (pushed
// to a registry; `user` who published, may be "").
nlohmann::json artifact_packaged(const RunContext& run, const std::string& source, const std::string& artifact_id);
nlohmann::json artifact_published(const RunContext& run, const std::string& source, const std::string& artifact_id,
                                  const std::string& user = "");

// service.deployed / service.upgraded / service.rolledback: `service_id` is
// the subject id (e.g. "<namespace>/<release>"), content {environment: {id},
// artifactId}; all three are required.
nlohmann::json service_deployed(const RunContext& run, const std::string& source, const std::string& service_id,
                                const std::string& environment, const std::string& artifact_id);
nlohmann::json service_upgraded(const RunContext& run, const std::string& source, const std::string& service_id,
                                const std::string& environment, const std::string& artifact_id);
nlohmann::json service_rolledback(const RunContext& run, const std::string& source, const std::string& service_id,
                                  const std::string& environment, const std::string& artifact_id);

// incident.detected for a failed verification: `incident_id` is the subject
// id, content {description, environment: {id}, service?: {id}, artifactId?}
// (service_id and artifact_id are omitted when empty).
nlohmann::json incident_detected(const RunContext& run, const std::string& source, const std::string& incident_id,
                                 const std::string& environment, const std::string& description,
                                 const std::string& service_id = "", const std::string& artifact_id = "");

// change.merged (e.g. the GitOps commit of the helm stage): `change_id` is the
// subject id, content.repository.id = `repository` (e.g. "owner/gitops-repo").
nlohmann::json change_merged(const RunContext& run, const std::string& source, const std::string& change_id,
                             const std::string& repository);

}  // namespace conveyor::events
