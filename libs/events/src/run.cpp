// Run context, stage requests and the routing slip.
#include "conveyor/events/run.hpp"

#include <optional>
#include <stdexcept>
#include <string_view>

#include "text.hpp"

namespace conveyor::events {
namespace {

using nlohmann::json;

// Stage names become topic suffixes: lower-case letters, digits and '-'.
bool is_stage_name(std::string_view s) {
  if (s.empty() || !(s[0] >= 'a' && s[0] <= 'z')) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

// GitHub full name "owner/repo".
bool is_repository(std::string_view s) {
  const auto slash = s.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == s.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (i == slash) continue;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
          c == '.')) {
      return false;
    }
  }
  return true;
}

// Git object names: SHA-1 (40) or SHA-256 (64), lower-case hex.
bool is_sha(std::string_view s) { return (s.size() == 40 || s.size() == 64) && detail::is_lower_hex(s); }

const char* type_name(const json& v) { return v.type_name(); }

// Reads fields of one JSON object; the first problem is kept, later reads are no-ops.
class Reader {
 public:
  Reader(const json& obj, std::string what, std::string prefix)
      : obj_(obj), what_(std::move(what)), prefix_(std::move(prefix)) {}

  bool failed() const { return error_.has_value(); }
  Error error() const { return *error_; }

  // A string field; `required` fields must be present and non-empty.
  std::string string(const char* key, bool required) {
    const json* v = find(key, required);
    if (!v) return {};
    if (!v->is_string()) {
      fail(key, std::string("must be a string (got ") + type_name(*v) + ")");
      return std::string();
    }
    std::string s = v->get<std::string>();
    if (required && s.empty()) {
      fail(key, "must not be empty");
      return std::string();
    }
    return s;
  }

  // A non-negative integer field.
  int non_negative_int(const char* key) {
    const json* v = find(key, false);
    if (!v) return 0;
    if (!v->is_number_integer()) {
      fail(key, std::string("must be an integer (got ") + type_name(*v) + ")");
      return 0;
    }
    const auto n = v->get<long long>();
    if (n < 0 || n > 2147483647LL) {
      fail(key, "must be between 0 and 2147483647");
      return 0;
    }
    return static_cast<int>(n);
  }

  // An object field (absent -> {}).
  json object(const char* key, bool required) {
    const json* v = find(key, required);
    if (!v) return json::object();
    if (!v->is_object()) {
      fail(key, std::string("must be an object (got ") + type_name(*v) + ")");
      return json::object();
    }
    return *v;
  }

  // An array field (absent -> nullptr).
  const json* array(const char* key) {
    const json* v = find(key, false);
    if (!v) return nullptr;
    if (!v->is_array()) {
      fail(key, std::string("must be an array (got ") + type_name(*v) + ")");
      return nullptr;
    }
    return v;
  }

  // A field whose value was read but is malformed.
  void fail(const std::string& key, const std::string& problem) {
    if (!error_) error_ = make_error(Errc::invalid_argument, what_ + ": field '" + prefix_ + key + "' " + problem);
  }

 private:
  const json* find(const char* key, bool required) {
    if (failed()) return nullptr;
    auto it = obj_.find(key);
    if (it == obj_.end() || (it->is_null() && !required)) {
      if (required) fail(key, "is missing");
      return nullptr;
    }
    return &*it;
  }

  const json& obj_;
  std::string what_;
  std::string prefix_;
  std::optional<Error> error_;
};

Error not_an_object(const std::string& what, const std::string& path, const json& j) {
  return make_error(Errc::invalid_argument, what + ": " + (path.empty() ? std::string("document") : "field '" + path + "'") +
                                                " must be an object (got " + type_name(j) + ")");
}

Result<RunContext> parse_run(const json& j, const std::string& what, const std::string& prefix) {
  if (!j.is_object()) return not_an_object(what, prefix.empty() ? "" : prefix.substr(0, prefix.size() - 1), j);
  Reader r(j, what, prefix);
  RunContext run;
  run.run_id = r.string("run_id", true);
  run.pipeline = r.string("pipeline", true);
  run.repository = r.string("repository", true);
  if (!r.failed() && !is_repository(run.repository)) r.fail("repository", "must be \"owner/repo\"");
  run.clone_url = r.string("clone_url", true);
  run.trigger = r.string("trigger", true);
  run.ref = r.string("ref", true);
  run.ref_kind = r.string("ref_kind", true);
  run.ref_name = r.string("ref_name", true);
  run.sha = r.string("sha", true);
  if (!r.failed() && !is_sha(run.sha)) r.fail("sha", "must be a 40 or 64 character lower-case hex commit id");
  run.before_sha = r.string("before_sha", false);
  if (!r.failed() && !run.before_sha.empty() && !is_sha(run.before_sha)) {
    r.fail("before_sha", "must be empty or a 40 or 64 character lower-case hex commit id");
  }
  run.pull_request = r.non_negative_int("pull_request");
  run.delivery_id = r.string("delivery_id", false);
  run.sender = r.string("sender", false);
  run.head_message = r.string("head_message", false);
  run.traceparent = r.string("traceparent", false);
  if (!r.failed() && !run.traceparent.empty() && !detail::is_traceparent(run.traceparent)) {
    r.fail("traceparent", "must be a W3C traceparent (\"00-<32 hex>-<16 hex>-<2 hex>\")");
  }
  run.queued_at = r.string("queued_at", false);
  if (!r.failed() && !run.queued_at.empty() && !detail::is_rfc3339(run.queued_at)) {
    r.fail("queued_at", "must be an RFC 3339 timestamp");
  }
  run.outputs = r.object("outputs", false);
  for (const auto& [stage, out] : run.outputs.items()) {
    if (!out.is_object()) r.fail("outputs." + stage, std::string("must be an object (got ") + type_name(out) + ")");
  }
  if (r.failed()) return r.error();
  return run;
}

json to_json(const SlipEntry& entry) { return json{{"stage", entry.stage}, {"settings", entry.settings}}; }

}  // namespace

std::string stage_topic(const std::string& stage, const std::string& topic_prefix) {
  return topic_prefix + ".stage." + stage;
}

std::string request_id(const std::string& run_id, const std::string& stage) { return run_id + ":" + stage; }

std::string partition_key(const std::string& repository, const std::string& environment) {
  return environment.empty() ? repository : repository + "@" + environment;
}

std::string detail::output_string(const json& outputs, const char* stage, const char* key) {
  if (!outputs.is_object()) return "";
  auto s = outputs.find(stage);
  if (s == outputs.end() || !s->is_object()) return "";
  auto v = s->find(key);
  return v != s->end() && v->is_string() ? v->get<std::string>() : "";
}

std::string detail::request_partition_key(std::string_view stage, const json& settings, const RunContext& run) {
  if (stage != "deploy" && stage != "verify") return partition_key(run.repository);
  std::string environment;
  if (auto it = settings.find("environment"); it != settings.end() && it->is_string()) {
    environment = it->get<std::string>();
  } else if (stage == "verify") {
    // verify's settings (settle, checks) name no environment: it verifies what deploy deployed.
    environment = output_string(run.outputs, "deploy", "environment");
  }
  return partition_key(run.repository, environment);
}

std::string request_partition_key(const StageRequest& request) {
  return detail::request_partition_key(request.stage, request.settings, request.run);
}

StageRequest first_request(const RunContext& run, const std::vector<SlipEntry>& stages) {
  if (stages.empty()) throw std::invalid_argument("first_request: a run needs at least one stage");
  StageRequest request;
  request.stage = stages.front().stage;
  request.settings = stages.front().settings;
  request.run = run;
  request.id = request_id(run.run_id, request.stage);
  request.slip.assign(stages.begin() + 1, stages.end());
  return request;
}

Result<StageRequest> next_request(const StageRequest& done, const nlohmann::json& outputs) {
  if (!outputs.is_null() && !outputs.is_object()) {
    return make_error(Errc::invalid_argument, "next_request: outputs of stage '" + done.stage +
                                                  "' must be a JSON object (got " + outputs.type_name() + ")");
  }
  if (done.slip.empty()) {
    return make_error(Errc::not_found, "next_request: run " + done.run.run_id + " has no stage after '" + done.stage + "'");
  }
  StageRequest next;
  next.run = done.run;
  if (!next.run.outputs.is_object()) next.run.outputs = json::object();
  json& recorded = next.run.outputs[done.stage];
  if (!recorded.is_object()) recorded = json::object();
  if (outputs.is_object()) recorded.update(outputs);
  next.stage = done.slip.front().stage;
  next.settings = done.slip.front().settings;
  next.id = request_id(next.run.run_id, next.stage);
  next.slip.assign(done.slip.begin() + 1, done.slip.end());
  return next;
}

nlohmann::json to_json(const RunContext& run) {
  return json{
      {"run_id", run.run_id},
      {"pipeline", run.pipeline},
      {"repository", run.repository},
      {"clone_url", run.clone_url},
      {"trigger", run.trigger},
      {"ref", run.ref},
      {"ref_kind", run.ref_kind},
      {"ref_name", run.ref_name},
      {"sha", run.sha},
      {"before_sha", run.before_sha},
      {"pull_request", run.pull_request},
      {"delivery_id", run.delivery_id},
      {"sender", run.sender},
      {"head_message", run.head_message},
      {"traceparent", run.traceparent},
      {"queued_at", run.queued_at},
      {"outputs", run.outputs.is_object() ? run.outputs : json::object()},
  };
}

Result<RunContext> run_from_json(const nlohmann::json& j) { return parse_run(j, "run context", ""); }

nlohmann::json to_json(const StageRequest& request) {
  json slip = json::array();
  for (const auto& entry : request.slip) slip.push_back(to_json(entry));
  return json{
      {"id", request.id},
      {"stage", request.stage},
      {"settings", request.settings.is_object() ? request.settings : json::object()},
      {"run", to_json(request.run)},
      {"slip", std::move(slip)},
  };
}

Result<StageRequest> request_from_json(const nlohmann::json& j) {
  const std::string what = "stage request";
  if (!j.is_object()) return not_an_object(what, "", j);
  Reader r(j, what, "");
  StageRequest request;
  request.id = r.string("id", true);
  request.stage = r.string("stage", true);
  if (!r.failed() && !is_stage_name(request.stage)) r.fail("stage", "must be a stage name ([a-z][a-z0-9-]*)");
  request.settings = r.object("settings", false);
  const json run_json = r.object("run", true);
  const json* slip = r.array("slip");
  if (r.failed()) return r.error();

  auto run = parse_run(run_json, what, "run.");
  if (!run) return run.error();
  request.run = std::move(run).value();

  if (slip) {
    for (std::size_t i = 0; i < slip->size(); ++i) {
      const std::string path = "slip[" + std::to_string(i) + "]";
      const json& item = (*slip)[i];
      if (!item.is_object()) return not_an_object(what, path, item);
      Reader e(item, what, path + ".");
      SlipEntry entry;
      entry.stage = e.string("stage", true);
      if (!e.failed() && !is_stage_name(entry.stage)) e.fail("stage", "must be a stage name ([a-z][a-z0-9-]*)");
      entry.settings = e.object("settings", false);
      if (e.failed()) return e.error();
      request.slip.push_back(std::move(entry));
    }
  }
  return request;
}

KafkaRecord to_kafka(const StageRequest& request, const std::string& topic_prefix) {
  CloudEvent event;
  event.id = request.id;
  event.source = kStageRequestSource;
  event.type = kStageRequestedType;
  event.subject = request.id;
  event.time = now_rfc3339();
  event.data = to_json(request).dump();
  event.extensions["partitionkey"] = request_partition_key(request);
  event.extensions["runid"] = request.run.run_id;
  if (!request.run.traceparent.empty()) event.extensions["traceparent"] = request.run.traceparent;
  return to_kafka(event, stage_topic(request.stage, topic_prefix));
}

Result<StageRequest> request_from_kafka(const KafkaRecord& record) {
  auto event = from_kafka(record);
  if (!event) return event.error();
  if (event->type != kStageRequestedType) {
    return make_error(Errc::invalid_argument, "record on " + record.topic + " is a '" + event->type +
                                                  "' event, not a stage request (" + kStageRequestedType + ")");
  }
  if (!event->datacontenttype.empty() && event->datacontenttype.rfind("application/json", 0) != 0) {
    return make_error(Errc::invalid_argument, "stage request content-type '" + event->datacontenttype +
                                                  "' is not application/json");
  }
  json body = json::parse(event->data, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return make_error(Errc::invalid_argument, "stage request body is not valid JSON");
  auto request = request_from_json(body);
  if (!request) return request;
  if (request->id != event->id) {
    return make_error(Errc::invalid_argument,
                      "stage request id '" + request->id + "' differs from its CloudEvent id '" + event->id + "'");
  }
  return request;
}

}  // namespace conveyor::events
