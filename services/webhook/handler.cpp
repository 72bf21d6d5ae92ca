#include "handler.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>

#include "conveyor/events/cdevents.hpp"
#include "conveyor/events/run.hpp"
#include "conveyor/github/signature.hpp"
#include "conveyor/github/webhook.hpp"

namespace conveyor::webhook {
namespace {

constexpr const char* kSource = "/conveyor/webhook";

Verdict reject(int status, std::string outcome, std::string reason) {
  Verdict v;
  v.status = status;
  v.outcome = std::move(outcome);
  v.reason = std::move(reason);
  v.body = {{"status", "rejected"}, {"error", v.reason}};
  return v;
}

Verdict acknowledge(std::string outcome, std::string reason) {
  Verdict v;
  v.status = 202;
  v.outcome = std::move(outcome);
  v.reason = std::move(reason);
  v.body = {{"status", v.outcome}, {"reason", v.reason}};
  return v;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
           return std::tolower(x) == std::tolower(y);
         });
}

bool any_glob(const std::vector<std::string>& patterns, std::string_view name) {
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& p) { return config::glob_match(p, name); });
}

// The prepared first request of a pipeline's run for this change, or nullptr
// when the pipeline does not match it.
const events::FirstRequest* match(const config::Pipeline& p, const std::optional<events::FirstRequest>& push,
                                  const std::optional<events::FirstRequest>& pull_request, const github::Change& c) {
  if (!iequals(p.repository, c.repository)) return nullptr;
  if (c.kind == github::Change::Kind::push) {
    if (!p.triggers.push || !push) return nullptr;
    const auto& t = *p.triggers.push;
    const bool hit = c.ref_kind == "branch" ? any_glob(t.branches, c.ref_name) : any_glob(t.tags, c.ref_name);
    return hit ? &*push : nullptr;
  }
  if (!p.triggers.pull_request || !pull_request) return nullptr;
  return any_glob(p.triggers.pull_request->branches, c.base_branch) ? &*pull_request : nullptr;
}

// The first request of a trigger's runs: its stages (else every configured
// one) with their settings; nullopt when that makes no stage.
std::optional<events::FirstRequest> prepare(const config::Pipeline& p, const std::vector<std::string>& trigger_stages,
                                            const std::string& topic_prefix) {
  const std::vector<std::string> stages = trigger_stages.empty() ? p.configured_stages() : trigger_stages;
  if (stages.empty()) return std::nullopt;
  std::vector<events::SlipEntry> slip;
  for (const auto& stage : stages) {
    const auto& s = p.stage_settings;
    nlohmann::json settings = s.contains(stage) ? s.at(stage) : nlohmann::json::object();
    // Stage requests carry settings as objects; `images` (build) is a list.
    if (!settings.is_object()) settings = {{std::string(config::stage_config_key(stage)), settings}};
    slip.push_back({stage, std::move(settings)});
  }
  return events::FirstRequest(slip, topic_prefix);
}

std::string hex(const unsigned char* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(digits[p[i] >> 4]);
    out.push_back(digits[p[i] & 0xf]);
  }
  return out;
}

// SHA-1 digest (UUIDv5 is defined over SHA-1; not used for security here).
std::string sha1(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  // Fetched once: EVP_sha1() would make OpenSSL 3 fetch the implementation on every call.
  static EVP_MD* const kSha1 = EVP_MD_fetch(nullptr, "SHA1", nullptr);
  EVP_Digest(data.data(), data.size(), md, &len, kSha1 != nullptr ? kSha1 : EVP_sha1(), nullptr);
  return std::string(reinterpret_cast<char*>(md), len);
}

events::RunContext make_run(const config::Pipeline& p, const github::Change& c, const Delivery& d,
                            const std::string& now) {
  events::RunContext run;
  run.run_id = run_id_for(d.delivery_id, p.name);
  run.pipeline = p.name;
  run.repository = p.repository;
  run.clone_url = p.clone_url;
  run.trigger = c.kind == github::Change::Kind::push ? "push" : "pull_request";
  run.ref = c.ref;
  run.ref_kind = c.ref_kind;
  run.ref_name = c.ref_name;
  run.sha = c.sha;
  run.before_sha = c.before_sha;
  run.pull_request = c.number;
  run.delivery_id = d.delivery_id;
  run.queued_at = now;
  run.sender = c.sender;
  run.head_message = c.head_message;
  // W3C Trace Context: the run id is the trace id, so one run is one trace.
  std::string trace_id = run.run_id;
  trace_id.erase(std::remove(trace_id.begin(), trace_id.end(), '-'), trace_id.end());
  const std::string parent = sha1("parent:" + run.run_id);
  run.traceparent = "00-" + trace_id + "-" + hex(reinterpret_cast<const unsigned char*>(parent.data()), 8) + "-01";
  return run;
}

}  // namespace

std::string run_id_for(const std::string& delivery_id, const std::string& pipeline) {
  // Namespace UUID for conveyor runs (random, fixed forever).
  static const unsigned char ns[16] = {0x6f, 0x1c, 0x52, 0x0e, 0x8a, 0x3b, 0x4d, 0x71,
                                       0x9c, 0x2e, 0x51, 0x7a, 0xd3, 0x60, 0x94, 0xb8};
  std::string input(reinterpret_cast<const char*>(ns), 16);
  input += delivery_id;
  input += '/';
  input += pipeline;
  std::string digest = sha1(input);
  auto* b = reinterpret_cast<unsigned char*>(digest.data());
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x50);  // version 5
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  const std::string h = hex(b, 16);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20, 12);
}

Verdict skip_created_tag() { return acknowledge("skipped", "tag created by conveyor"); }

Handler::Handler(std::vector<config::Pipeline> pipelines, std::vector<std::string> secrets, std::string topic_prefix)
    : pipelines_(std::move(pipelines)), verifier_(secrets), topic_prefix_(std::move(topic_prefix)) {
  for (const auto& p : pipelines_) {
    Prepared prepared;
    if (p.triggers.push) prepared.push = prepare(p, p.triggers.push->stages, topic_prefix_);
    if (p.triggers.pull_request) prepared.pull_request = prepare(p, p.triggers.pull_request->stages, topic_prefix_);
    prepared_.push_back(std::move(prepared));
  }
}

Verdict Handler::handle(const Delivery& d) const {
  // Authenticate first: nothing about an unsigned request is looked at.
  if (d.signature.empty()) return reject(401, "unauthorized", "missing X-Hub-Signature-256");
  if (!verifier_.verify(d.signature, d.body)) {
    return reject(401, "unauthorized", "signature does not match");
  }
  if (d.event.empty()) return reject(400, "bad_request", "missing X-GitHub-Event");
  if (d.delivery_id.empty()) return reject(400, "bad_request", "missing X-GitHub-Delivery");

  std::string decoded_form;  // the payload of a form-encoded body
  auto text = github::payload_view(d.content_type, d.body, decoded_form);
  if (!text) {
    if (text.error().code == Errc::not_found) return reject(415, "unsupported_media_type", text.error().message);
    return reject(400, "bad_request", text.error().message);
  }
  if (d.event == "ping") {
    if (!github::is_json(*text)) return reject(400, "bad_request", "body is not valid JSON");
    Verdict v;
    v.status = 200;
    v.outcome = "pong";
    v.reason = "ping";
    v.body = {{"status", "pong"}};
    return v;
  }

  // One pass over the text keeps only the fields classification reads (no
  // document); malformed JSON is "body is not valid JSON".
  auto classified = github::classify_text(d.event, *text);
  if (!classified) return reject(400, "bad_request", classified.error().message);
  if (!classified->change) return acknowledge("ignored", classified->skip_reason);
  if (!classified->skip_reason.empty()) return acknowledge("skipped", classified->skip_reason);
  const github::Change& change = *classified->change;

  Verdict v;
  // One timestamp for the run: queued_at, the event's time and the request's.
  const std::string now = events::now_rfc3339();
  try {
    for (std::size_t i = 0; i < pipelines_.size(); ++i) {
      const auto& pipeline = pipelines_[i];
      const events::FirstRequest* first = match(pipeline, prepared_[i].push, prepared_[i].pull_request, change);
      if (first == nullptr) continue;
      const events::RunContext run = make_run(pipeline, change, d, now);
      // Deterministic event id: a re-published delivery repeats the same event.
      v.records.push_back(events::pipelinerun_queued_record(run, kSource, run.run_id + ":queued", now, topic_prefix_));
      v.records.push_back(first->record(run, now));
      v.run_ids.push_back(run.run_id);
    }
  } catch (const std::invalid_argument& e) {
    // Payload strings were validated by the JSON parser; what is left is a
    // header (X-GitHub-Delivery) that is not UTF-8 and cannot go into JSON.
    return reject(400, "bad_request", std::string("delivery cannot be encoded as JSON: ") + e.what());
  }
  if (v.run_ids.empty()) {
    return acknowledge("ignored", "no pipeline matches " + change.repository + " " + change.ref);
  }
  if (change.kind == github::Change::Kind::push && change.ref_kind == "tag") {
    v.tag_push = Verdict::TagPush{change.repository, change.ref_name, change.sha};
  }
  v.status = 202;
  v.outcome = "started";
  v.reason = "run started";
  v.body = {{"status", "queued"}, {"run_id", v.run_ids.front()}, {"run_ids", v.run_ids}};
  return v;
}

}  // namespace conveyor::webhook
