#include "handler.hpp"

#include <algorithm>
#include <ctime>
#include <cstdio>
#include <initializer_list>

#include "conveyor/events/cdevents.hpp"

namespace conveyor::health_verifier {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;

std::string rfc3339(std::chrono::system_clock::time_point t) {
  const auto ms = std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms % 1000));
  return out;
}

// Keeps the last `cap` entries of a JSON array.
void push_capped(json& array, json entry, std::size_t cap) {
  array.push_back(std::move(entry));
  if (array.size() > cap) array.erase(array.begin());
}

struct HttpState {
  const HttpCheck* check = nullptr;
  enum class Phase { first_pass, waiting, soaking, done } phase = Phase::first_pass;
  Clock::time_point due{};
  int probes = 0;
  int failed_probes = 0;
  int consecutive_failures = 0;
  std::string result = "running";
  std::string last_error;
  json recorded = json::array();

  bool active() const { return phase == Phase::first_pass || phase == Phase::soaking; }

  json report() const {
    json r = {{"kind", "http"},
              {"url", check->url},
              {"expected_status", check->status.to_string()},
              {"result", result},
              {"probes", probes},
              {"failed_probes", failed_probes},
              {"recent", recorded}};
    if (check->json_pointer) r["json_pointer"] = *check->json_pointer;
    if (check->expect) r["expect"] = *check->expect;
    if (!last_error.empty()) r["error"] = last_error;
    return r;
  }
};

struct PromState {
  const PrometheusCheck* check = nullptr;
  bool started = false;
  bool done = false;
  Clock::time_point due{};
  int taken = 0, successful = 0, failed = 0, inconclusive = 0;
  std::string result = "not-run";
  std::string last_problem;  // message of the last measurement that was not successful
  json recorded = json::array();

  bool active() const { return started && !done; }

  json report() const {
    json r = {{"kind", "prometheus"},
              {"url", check->url},
              {"query", check->query},
              {"count", check->count},
              {"interval_ms", check->interval.count()},
              {"failure_limit", check->failure_limit},
              {"on_empty", on_empty_name(check->on_empty)},
              {"result", result},
              {"measured", taken},
              {"successful", successful},
              {"failed", failed},
              {"inconclusive", inconclusive},
              {"measurements", recorded}};
    if (check->min) r["min"] = *check->min;
    if (check->max) r["max"] = *check->max;
    if (!last_problem.empty()) r["error"] = last_problem;
    return r;
  }
};

json with_custom_data(json cdevent, json custom) {
  cdevent["customData"] = std::move(custom);
  cdevent["customDataContentType"] = "application/json";
  return cdevent;
}

std::string deploy_output(const events::RunContext& run, std::initializer_list<const char*> keys) {
  auto d = run.outputs.find("deploy");
  if (d == run.outputs.end() || !d->is_object()) return "";
  for (const char* key : keys) {
    auto v = d->find(key);
    if (v != d->end() && v->is_string() && !v->get<std::string>().empty()) return v->get<std::string>();
  }
  return "";
}

}  // namespace

const char* outcome_name(Verdict::Outcome outcome) noexcept {
  switch (outcome) {
    case Verdict::Outcome::failed: return "failed";
    case Verdict::Outcome::inconclusive: return "inconclusive";
    case Verdict::Outcome::passed: break;
  }
  return "passed";
}

Verdict verify(const VerifySettings& settings, HttpProbe& http, PrometheusApi& prometheus, Clock& clock) {
  const auto start = clock.now();
  const auto settle_end = start + settings.settle;
  std::vector<HttpState> https(settings.http.size());
  std::vector<PromState> proms(settings.prometheus.size());
  for (std::size_t i = 0; i < https.size(); ++i) {
    https[i].check = &settings.http[i];
    https[i].due = settle_end;
  }
  for (std::size_t i = 0; i < proms.size(); ++i) proms[i].check = &settings.prometheus[i];

  Clock::time_point soak_end{};
  // After the first pass: Prometheus analysis and the soak start together.
  auto start_second_phase = [&](Clock::time_point t) {
    soak_end = t + settings.soak;
    for (auto& h : https) {
      if (settings.soak.count() == 0) {
        h.phase = HttpState::Phase::done;
        h.result = "passed";
      } else {
        h.phase = HttpState::Phase::soaking;
        h.due = std::min(t + std::max(h.check->interval, kMinSoakInterval), soak_end);
      }
    }
    for (auto& p : proms) {
      p.started = true;
      p.due = t;
      p.result = "running";
    }
  };
  if (https.empty()) start_second_phase(settle_end);

  Verdict v;
  const json* failing = nullptr;
  std::size_t failing_http = SIZE_MAX, failing_prom = SIZE_MAX;
  for (;;) {
    // The next due check; ties go to HTTP checks, then configuration order.
    HttpState* next_http = nullptr;
    PromState* next_prom = nullptr;
    Clock::time_point due = Clock::time_point::max();
    for (auto& h : https) {
      if (h.active() && h.due < due) {
        due = h.due;
        next_http = &h;
      }
    }
    for (auto& p : proms) {
      if (p.active() && p.due < due) {
        due = p.due;
        next_prom = &p;
        next_http = nullptr;
      }
    }
    if (!next_http && !next_prom) break;
    clock.sleep_until(due);

    if (next_http) {
      HttpState& h = *next_http;
      const auto outcome = judge(*h.check, http.get(h.check->url, h.check->timeout));
      const auto now = clock.now();
      ++h.probes;
      json probe = to_json(outcome);
      probe["at"] = rfc3339(clock.wall_now());
      push_capped(h.recorded, std::move(probe), kMaxProbesRecorded);
      if (outcome.passed) {
        h.consecutive_failures = 0;
        if (h.phase == HttpState::Phase::first_pass) {
          h.phase = HttpState::Phase::waiting;
          const bool all_passed = std::all_of(https.begin(), https.end(), [](const HttpState& s) {
            return s.phase == HttpState::Phase::waiting;
          });
          if (all_passed) start_second_phase(now);
        } else if (now >= soak_end) {
          h.phase = HttpState::Phase::done;
          h.result = "passed";
        } else {
          h.due = std::min(now + std::max(h.check->interval, kMinSoakInterval), soak_end);
        }
        continue;
      }
      ++h.failed_probes;
      ++h.consecutive_failures;
      h.last_error = outcome.error;
      if (h.consecutive_failures > h.check->retries) {
        h.phase = HttpState::Phase::done;
        h.result = "failed";
        v.outcome = Verdict::Outcome::failed;
        v.failed_at = now;
        v.failed_at_wall = clock.wall_now();
        v.reason = "http check " + h.check->url + " failed after " + std::to_string(h.consecutive_failures) +
                   " consecutive failed probe" + (h.consecutive_failures == 1 ? "" : "s") + ": " + outcome.error;
        failing_http = static_cast<std::size_t>(&h - https.data());
        break;
      }
      h.due = now + h.check->interval;  // a streak is followed to its end, past the soak too
      continue;
    }

    PromState& p = *next_prom;
    const auto m = judge(*p.check, prometheus.query(p.check->url, p.check->query, kQueryTimeout));
    const auto now = clock.now();
    ++p.taken;
    json measured = to_json(m);
    measured["at"] = rfc3339(clock.wall_now());
    push_capped(p.recorded, std::move(measured), kMaxMeasurementsRecorded);
    switch (m.phase) {
      case Measurement::Phase::successful: ++p.successful; break;
      case Measurement::Phase::inconclusive:
        ++p.inconclusive;
        p.last_problem = m.message;
        break;
      case Measurement::Phase::failed:
      case Measurement::Phase::error:
        ++p.failed;
        p.last_problem = m.message;
        break;
    }
    if (p.failed > p.check->failure_limit) {
      p.done = true;
      p.result = "failed";
      v.outcome = Verdict::Outcome::failed;
      v.failed_at = now;
      v.failed_at_wall = clock.wall_now();
      v.reason = "prometheus check '" + p.check->query + "' failed: " + std::to_string(p.failed) + " of " +
                 std::to_string(p.taken) + " measurement" + (p.taken == 1 ? "" : "s") + " failed (failure-limit " +
                 std::to_string(p.check->failure_limit) + "); last: " + m.message;
      failing_prom = static_cast<std::size_t>(&p - proms.data());
      break;
    }
    if (p.taken >= p.check->count) {
      p.done = true;
      p.result = p.inconclusive > 0 ? "inconclusive" : "passed";
    } else {
      p.due = std::max(p.due + p.check->interval, now);
    }
  }

  for (auto& h : https) {
    if (h.result == "running") h.result = v.outcome == Verdict::Outcome::failed ? "incomplete" : "passed";
    v.checks.push_back(h.report());
  }
  for (auto& p : proms) {
    if (p.result == "running") p.result = "incomplete";
    v.checks.push_back(p.report());
  }
  if (failing_http != SIZE_MAX) failing = &v.checks[failing_http];
  if (failing_prom != SIZE_MAX) failing = &v.checks[https.size() + failing_prom];
  if (failing) v.failing_check = *failing;

  if (v.outcome != Verdict::Outcome::failed) {
    for (const auto& p : proms) {
      if (p.result == "inconclusive") {
        v.outcome = Verdict::Outcome::inconclusive;
        v.reason = "prometheus check '" + p.check->query + "' is inconclusive: " + std::to_string(p.inconclusive) +
                   " of " + std::to_string(p.taken) + " measurements without data (" + p.last_problem + ")";
        break;
      }
    }
  }
  v.duration = std::chrono::duration_cast<milliseconds>(clock.now() - start);
  return v;
}

events::StageRequest rollback_request(const events::StageRequest& verify_request, const std::string& reason,
                                      const std::string& incident_id) {
  events::StageRequest rb;
  rb.id = verify_request.run.run_id + ":rollback";
  rb.stage = "deploy";
  rb.run = verify_request.run;
  const auto deploy = verify_request.run.outputs.find("deploy");
  rb.settings = deploy != verify_request.run.outputs.end() && deploy->is_object() ? *deploy : json::object();
  rb.settings["action"] = "rollback";
  rb.settings["reason"] = reason;
  rb.settings["incident"] = incident_id;
  rb.run.outputs["verify"] = {{"verdict", "failed"}, {"reason", reason}, {"incident", incident_id}};
  return rb;
}

Result<stage::StageResult> handle(const events::StageRequest& request, const stage::Publish& publish,
                                  Dependencies& deps) {
  const events::RunContext& run = request.run;
  auto started = events::taskrun_started(run, deps.source, "verify", request.id);
  started["context"]["id"] = request.id + ":taskrun.started";
  if (auto ok = publish(started); !ok) return std::move(ok).error();

  stage::StageResult result;
  auto finished = [&](const std::string& outcome, const std::string& errors, json custom) {
    auto ev = events::taskrun_finished(run, deps.source, "verify", request.id, outcome, errors);
    ev["context"]["id"] = request.id + ":taskrun.finished";
    return with_custom_data(std::move(ev), std::move(custom));
  };

  auto settings = parse_settings(request.settings, run);
  if (!settings) {
    result.status = stage::StageResult::Status::failed;
    result.reason = "invalid verify settings: " + settings.error().message;
    result.outputs = {{"verdict", "error"}, {"error", settings.error().message}};
    result.cdevents.push_back(finished("error", result.reason, result.outputs));
    return result;
  }

  const Verdict v = verify(*settings, deps.http, deps.prometheus, deps.clock);
  result.outputs = {{"verdict", outcome_name(v.outcome)}, {"duration_ms", v.duration.count()}, {"checks", v.checks}};
  const json summary = {{"verdict", outcome_name(v.outcome)}, {"checks", v.checks}};
  if (v.outcome == Verdict::Outcome::passed) {
    result.cdevents.push_back(finished("success", "", summary));
    return result;
  }
  result.status = stage::StageResult::Status::failed;
  result.reason = (v.outcome == Verdict::Outcome::inconclusive ? "verification inconclusive: "
                                                                : "verification failed: ") + v.reason;
  result.outputs["reason"] = result.reason;
  if (v.outcome == Verdict::Outcome::inconclusive) {
    result.cdevents.push_back(finished("failure", result.reason, summary));
    return result;
  }

  // Failed: the incident, and the rollback request, as fast as possible.
  const std::string incident_id = request.id + ":incident";
  json rollback = {{"requested", false}};
  if (settings->rollback) {
    const auto rb = rollback_request(request, result.reason, incident_id);
    result.extra_records.push_back(events::to_kafka(rb, deps.topic_prefix));
    const auto elapsed = deps.clock.now() - v.failed_at.value_or(deps.clock.now());
    rollback = {{"requested", true},
                {"request_id", rb.id},
                {"topic", result.extra_records.back().topic},
                {"verdict_to_rollback_ms", std::chrono::duration<double, std::milli>(elapsed).count()}};
  } else {
    rollback["reason"] = "on-failure: none";
  }
  const std::string detected_at = rfc3339(v.failed_at_wall);
  std::string environment = deploy_output(run, {"environment"});
  if (environment.empty()) environment = "unknown";
  auto incident = events::incident_detected(run, deps.source, incident_id, environment, result.reason,
                                            deploy_output(run, {"service_id", "service"}),
                                            deploy_output(run, {"artifact_id", "artifact"}));
  incident["context"]["id"] = request.id + ":incident.detected";
  incident = with_custom_data(std::move(incident), {{"check", v.failing_check},
                                                    {"checks", v.checks},
                                                    {"detected_at", detected_at},
                                                    {"rollback", rollback}});
  result.cdevents.push_back(std::move(incident));
  result.cdevents.push_back(finished("failure", result.reason, summary));
  result.outputs["detected_at"] = detected_at;
  result.outputs["incident"] = incident_id;
  result.outputs["rollback"] = rollback;
  return result;
}

}  // namespace conveyor::health_verifier
