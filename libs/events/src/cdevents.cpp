// CDEvents v0.5.1: types, the event shape, helpers per event, and the
// CloudEvent wrapping for the public stream.
#include "conveyor/events/cdevents.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "text.hpp"

namespace conveyor::events {
namespace {

using nlohmann::json;

// Event type versions of CDEvents spec v0.5.1 (one per schema), sorted by
// short name. Data we own: the versions conveyor emits and recognizes.
const std::vector<std::pair<std::string_view, std::string_view>> kTypeVersions = {
    {"artifact.deleted", "0.2.0"},       {"artifact.downloaded", "0.2.0"},   {"artifact.packaged", "0.3.0"},
    {"artifact.published", "0.3.0"},     {"artifact.signed", "0.3.0"},       {"branch.created", "0.3.0"},
    {"branch.deleted", "0.3.0"},         {"build.finished", "0.3.0"},        {"build.queued", "0.3.0"},
    {"build.started", "0.3.0"},          {"change.abandoned", "0.3.0"},      {"change.created", "0.4.0"},
    {"change.merged", "0.3.0"},          {"change.reviewed", "0.3.0"},       {"change.updated", "0.3.0"},
    {"environment.created", "0.3.0"},    {"environment.deleted", "0.3.0"},   {"environment.modified", "0.3.0"},
    {"incident.detected", "0.3.0"},      {"incident.reported", "0.3.0"},     {"incident.resolved", "0.3.0"},
    {"pipelinerun.finished", "0.3.0"},   {"pipelinerun.queued", "0.3.0"},    {"pipelinerun.started", "0.3.0"},
    {"repository.created", "0.3.0"},     {"repository.deleted", "0.3.0"},    {"repository.modified", "0.3.0"},
    {"service.deployed", "0.3.0"},       {"service.published", "0.3.0"},     {"service.removed", "0.3.0"},
    {"service.rolledback", "0.3.0"},     {"service.upgraded", "0.3.0"},      {"taskrun.finished", "0.3.0"},
    {"taskrun.started", "0.3.0"},        {"testcaserun.finished", "0.3.0"},  {"testcaserun.queued", "0.3.0"},
    {"testcaserun.skipped", "0.2.0"},    {"testcaserun.started", "0.3.0"},   {"testoutput.published", "0.3.0"},
    {"testsuiterun.finished", "0.3.0"},  {"testsuiterun.queued", "0.3.0"},   {"testsuiterun.started", "0.3.0"},
    {"ticket.closed", "0.2.0"},          {"ticket.created", "0.2.0"},        {"ticket.updated", "0.2.0"},
};

constexpr const char* kCDEventsTypePrefix = "dev.cdevents.";

// The full type of a name in kTypeVersions (helpers only pass known names).
std::string type_of(std::string_view short_name) {
  auto type = cdevent_type(std::string(short_name));
  if (!type) throw std::logic_error("no CDEvents type for " + std::string(short_name));
  return std::move(type).value();
}

void require(bool ok, const char* helper, const char* what) {
  if (!ok) throw std::invalid_argument(std::string(helper) + ": " + what);
}

void require_outcome(const char* helper, const std::string& outcome) {
  if (!is_outcome(outcome)) {
    throw std::invalid_argument(std::string(helper) + ": outcome '" + outcome +
                                "' is not one of success, failure, cancel, error");
  }
}

// {id} reference objects of CDEvents content (environment, service, change...).
json ref(const std::string& id) { return json{{"id", id}}; }

// A URL of the repository for references: the https clone URL without
// credentials and ".git", else the GitHub full name (a relative reference).
std::string repository_url(const RunContext& run) {
  std::string url = run.clone_url;
  const auto scheme = url.find("://");
  const bool http = url.rfind("https://", 0) == 0 || url.rfind("http://", 0) == 0;
  if (!http) return run.repository;
  const auto host_start = scheme + 3;
  const auto path_start = url.find('/', host_start);
  const auto at = url.rfind('@', path_start == std::string::npos ? std::string::npos : path_start);
  if (at != std::string::npos && at >= host_start && (path_start == std::string::npos || at < path_start)) {
    url.erase(host_start, at + 1 - host_start);  // never publish userinfo
  }
  if (url.size() > 4 && url.compare(url.size() - 4, 4, ".git") == 0) url.resize(url.size() - 4);
  return url;
}

bool is_uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

// Percent-encodes everything but RFC 3986 unreserved characters and `keep`.
std::string percent_encode(std::string_view s, std::string_view keep = "") {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || keep.find(static_cast<char>(c)) != std::string_view::npos) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0x0f]);
    }
  }
  return out;
}

json service_event(const char* short_name, const RunContext& run, const std::string& source,
                   const std::string& service_id, const std::string& environment, const std::string& artifact_id) {
  require(!service_id.empty(), short_name, "service id is empty");
  require(!environment.empty(), short_name, "environment is empty");
  require(!artifact_id.empty(), short_name, "artifact id is empty");
  return make_cdevent(type_of(short_name), source, run,
                      Subject{service_id, "", json{{"environment", ref(environment)}, {"artifactId", artifact_id}}});
}

json testsuite_ref(const TestSuiteRun& suite) {
  json ts = ref(suite.suite_id);
  if (!suite.suite_name.empty()) ts["name"] = suite.suite_name;
  return ts;
}

}  // namespace

Result<std::string> cdevent_type(const std::string& short_name) {
  auto it = std::lower_bound(kTypeVersions.begin(), kTypeVersions.end(), short_name,
                             [](const auto& entry, const std::string& name) { return entry.first < name; });
  if (it == kTypeVersions.end() || it->first != short_name) {
    return make_error(Errc::not_found, "CDEvents v0.5.1 has no event '" + short_name + "'");
  }
  return std::string(kCDEventsTypePrefix) + std::string(it->first) + "." + std::string(it->second);
}

const std::vector<std::pair<std::string_view, std::string_view>>& cdevent_type_versions() { return kTypeVersions; }

std::string events_topic(const std::string& topic_prefix) { return topic_prefix + ".events"; }

bool is_outcome(std::string_view outcome) noexcept {
  return outcome == "success" || outcome == "failure" || outcome == "cancel" || outcome == "error";
}

nlohmann::json make_cdevent(const std::string& full_type, const std::string& source, const RunContext& run,
                            const Subject& subject, const nlohmann::json& custom_data) {
  json context = {
      {"specversion", kCDEventsSpecVersion},
      {"id", new_uuid()},
      {"source", source},
      {"type", full_type},
      {"timestamp", now_rfc3339()},
  };
  if (!run.run_id.empty()) context["chainId"] = run.run_id;
  json event = {
      {"context", std::move(context)},
      {"subject",
       {
           {"id", subject.id},
           {"source", subject.source.empty() ? source : subject.source},
           {"content", subject.content.is_null() ? json::object() : subject.content},
       }},
  };
  if (!custom_data.is_null()) {
    event["customData"] = custom_data;
    if (custom_data.is_object()) event["customDataContentType"] = "application/json";
  }
  return event;
}

KafkaRecord cdevent_record(const nlohmann::json& cdevent, const RunContext& run, const std::string& topic_prefix) {
  static const json kEmpty = json::object();
  const json& context = cdevent.contains("context") ? cdevent["context"] : kEmpty;
  const json& subject = cdevent.contains("subject") ? cdevent["subject"] : kEmpty;
  CloudEvent event;
  event.id = context.value("id", "");
  event.source = context.value("source", "");
  event.type = context.value("type", "");
  event.time = context.value("timestamp", "");
  event.subject = subject.value("id", "");
  event.data = cdevent.dump();
  event.extensions["partitionkey"] = partition_key(run.repository);
  event.extensions["runid"] = run.run_id;
  if (!run.traceparent.empty()) event.extensions["traceparent"] = run.traceparent;
  // Where the run stands, so subscribers (the notifier) need not track runs:
  // most CDEvents name neither the pipeline nor the commit.
  auto extension = [&event](const char* name, const std::string& value) {
    if (!value.empty()) event.extensions[name] = value;
  };
  auto output = [&run](const char* stage, const char* key) { return detail::output_string(run.outputs, stage, key); };
  extension("pipeline", run.pipeline);
  extension("sha", run.sha);
  extension("ref", run.ref);
  extension("version", output("version", "version"));
  extension("environment", output("deploy", "environment"));
  return to_kafka(event, events_topic(topic_prefix));
}

Result<nlohmann::json> cdevent_from_kafka(const KafkaRecord& record) {
  auto event = from_kafka(record);
  if (!event) return event.error();
  json body = json::parse(event->data, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) {
    return make_error(Errc::invalid_argument, "CDEvent " + event->id + ": data is not a JSON object");
  }
  auto context = body.find("context");
  if (context == body.end() || !context->is_object()) {
    return make_error(Errc::invalid_argument, "CDEvent " + event->id + ": data has no context object");
  }
  if (context->value("type", "") != event->type) {
    return make_error(Errc::invalid_argument, "CDEvent " + event->id + ": ce_type '" + event->type +
                                                  "' differs from context.type '" + context->value("type", "") + "'");
  }
  if (context->value("id", "") != event->id) {
    return make_error(Errc::invalid_argument, "CDEvent: ce_id '" + event->id + "' differs from context.id '" +
                                                  context->value("id", "") + "'");
  }
  return body;
}

std::string run_uri(const RunContext& run) {
  if (is_uuid(run.run_id)) {
    std::string id = run.run_id;
    std::transform(id.begin(), id.end(), id.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return "urn:uuid:" + id;
  }
  return "urn:conveyor:run:" + percent_encode(run.run_id);
}

std::string oci_purl(const std::string& image_repository, const std::string& digest, const std::string& tag) {
  const auto slash = image_repository.rfind('/');
  std::string name = slash == std::string::npos ? image_repository : image_repository.substr(slash + 1);
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string purl = "pkg:oci/" + percent_encode(name);
  if (!digest.empty()) purl += "@" + percent_encode(digest);
  // Qualifiers sorted by key, per the purl spec.
  purl += "?repository_url=" + percent_encode(image_repository, "/");
  if (!tag.empty()) purl += "&tag=" + percent_encode(tag);
  return purl;
}

nlohmann::json pipelinerun_queued(const RunContext& run, const std::string& source) {
  return make_cdevent(type_of("pipelinerun.queued"), source, run,
                      Subject{run.run_id, "", json{{"pipelineName", run.pipeline}, {"uri", run_uri(run)}}});
}

nlohmann::json pipelinerun_started(const RunContext& run, const std::string& source) {
  return make_cdevent(type_of("pipelinerun.started"), source, run,
                      Subject{run.run_id, "", json{{"pipelineName", run.pipeline}, {"uri", run_uri(run)}}});
}

nlohmann::json pipelinerun_finished(const RunContext& run, const std::string& source, const std::string& outcome,
                                    const std::string& errors) {
  require_outcome("pipelinerun_finished", outcome);
  json content = {{"pipelineName", run.pipeline}, {"uri", run_uri(run)}, {"outcome", outcome}};
  if (!errors.empty()) content["errors"] = errors;
  return make_cdevent(type_of("pipelinerun.finished"), source, run, Subject{run.run_id, "", std::move(content)});
}

nlohmann::json taskrun_started(const RunContext& run, const std::string& source, const std::string& task_name,
                               const std::string& taskrun_id) {
  require(!taskrun_id.empty(), "taskrun_started", "taskrun id is empty");
  require(!run.run_id.empty(), "taskrun_started", "run id is empty");
  return make_cdevent(type_of("taskrun.started"), source, run,
                      Subject{taskrun_id, "", json{{"taskName", task_name}, {"pipelineRun", ref(run.run_id)}}});
}

nlohmann::json taskrun_finished(const RunContext& run, const std::string& source, const std::string& task_name,
                                const std::string& taskrun_id, const std::string& outcome, const std::string& errors) {
  require(!taskrun_id.empty(), "taskrun_finished", "taskrun id is empty");
  require(!run.run_id.empty(), "taskrun_finished", "run id is empty");
  require_outcome("taskrun_finished", outcome);
  json content = {{"taskName", task_name}, {"pipelineRun", ref(run.run_id)}, {"outcome", outcome}};
  if (!errors.empty()) content["errors"] = errors;
  return make_cdevent(type_of("taskrun.finished"), source, run, Subject{taskrun_id, "", std::move(content)});
}

nlohmann::json testsuiterun_started(const RunContext& run, const std::string& source, const TestSuiteRun& suite) {
  require(!suite.id.empty(), "testsuiterun_started", "test suite run id is empty");
  require(!suite.suite_id.empty(), "testsuiterun_started", "test suite id is empty");
  require(!suite.environment.empty(), "testsuiterun_started", "environment is empty");
  json content = {
      {"environment", ref(suite.environment)},
      {"testSuite", testsuite_ref(suite)},
      {"trigger", {{"type", "pipeline"}}},
  };
  return make_cdevent(type_of("testsuiterun.started"), source, run, Subject{suite.id, "", std::move(content)});
}

nlohmann::json testsuiterun_finished(const RunContext& run, const std::string& source, const TestSuiteRun& suite,
                                     const std::string& outcome, const std::string& reason,
                                     const std::string& severity) {
  require(!suite.id.empty(), "testsuiterun_finished", "test suite run id is empty");
  require(!suite.suite_id.empty(), "testsuiterun_finished", "test suite id is empty");
  require(!suite.environment.empty(), "testsuiterun_finished", "environment is empty");
  require_outcome("testsuiterun_finished", outcome);
  require(severity.empty() || severity == "low" || severity == "medium" || severity == "high" || severity == "critical",
          "testsuiterun_finished", "severity is not one of low, medium, high, critical");
  json content = {{"environment", ref(suite.environment)}, {"testSuite", testsuite_ref(suite)}, {"outcome", outcome}};
  if (!severity.empty()) content["severity"] = severity;
  if (!reason.empty()) content["reason"] = reason;
  return make_cdevent(type_of("testsuiterun.finished"), source, run, Subject{suite.id, "", std::move(content)});
}

nlohmann::json build_started(const RunContext& run, const std::string& source, const std::string& build_id) {
  require(!build_id.empty(), "build_started", "build id is empty");
  return make_cdevent(type_of("build.started"), source, run, Subject{build_id, "", json::object()});
}

nlohmann::json build_finished(const RunContext& run, const std::string& source, const std::string& build_id,
                              const std::string& artifact_id) {
  require(!build_id.empty(), "build_finished", "build id is empty");
  json content = json::object();
  if (!artifact_id.empty()) content["artifactId"] = artifact_id;
  return make_cdevent(type_of("build.finished"), source, run, Subject{build_id, "", std::move(content)});
}

nlohmann::json artifact_packaged(const RunContext& run, const std::string& source, const std::string& artifact_id) {
  require(!artifact_id.empty(), "artifact_packaged", "artifact id is empty");
  require(!run.sha.empty(), "artifact_packaged", "run sha is empty");
  json change = ref(run.sha);
  if (const auto url = repository_url(run); !url.empty()) change["source"] = url;
  return make_cdevent(type_of("artifact.packaged"), source, run, Subject{artifact_id, "", json{{"change", change}}});
}

nlohmann::json artifact_published(const RunContext& run, const std::string& source, const std::string& artifact_id,
                                  const std::string& user) {
  require(!artifact_id.empty(), "artifact_published", "artifact id is empty");
  json content = json::object();
  if (!user.empty()) content["user"] = user;
  return make_cdevent(type_of("artifact.published"), source, run, Subject{artifact_id, "", std::move(content)});
}

nlohmann::json service_deployed(const RunContext& run, const std::string& source, const std::string& service_id,
                                const std::string& environment, const std::string& artifact_id) {
  return service_event("service.deployed", run, source, service_id, environment, artifact_id);
}

nlohmann::json service_upgraded(const RunContext& run, const std::string& source, const std::string& service_id,
                                const std::string& environment, const std::string& artifact_id) {
  return service_event("service.upgraded", run, source, service_id, environment, artifact_id);
}

nlohmann::json service_rolledback(const RunContext& run, const std::string& source, const std::string& service_id,
                                  const std::string& environment, const std::string& artifact_id) {
  return service_event("service.rolledback", run, source, service_id, environment, artifact_id);
}

nlohmann::json incident_detected(const RunContext& run, const std::string& source, const std::string& incident_id,
                                 const std::string& environment, const std::string& description,
                                 const std::string& service_id, const std::string& artifact_id) {
  require(!incident_id.empty(), "incident_detected", "incident id is empty");
  require(!environment.empty(), "incident_detected", "environment is empty");
  json content = {{"environment", ref(environment)}};
  if (!description.empty()) content["description"] = description;
  if (!service_id.empty()) content["service"] = ref(service_id);
  if (!artifact_id.empty()) content["artifactId"] = artifact_id;
  return make_cdevent(type_of("incident.detected"), source, run, Subject{incident_id, "", std::move(content)});
}

nlohmann::json change_merged(const RunContext& run, const std::string& source, const std::string& change_id,
                             const std::string& repository) {
  require(!change_id.empty(), "change_merged", "change id is empty");
  json content = json::object();
  if (!repository.empty()) content["repository"] = ref(repository);
  return make_cdevent(type_of("change.merged"), source, run, Subject{change_id, "", std::move(content)});
}

}  // namespace conveyor::events
