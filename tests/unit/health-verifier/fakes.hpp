// Simulated time and scripted peers for the verifier's unit tests: nothing
// sleeps, nothing touches the network.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "clock.hpp"
#include "http_checks.hpp"
#include "prometheus.hpp"

namespace conveyor::health_verifier::test {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

// Starts at an arbitrary instant; sleep_until() jumps there.
class FakeClock final : public Clock {
 public:
  time_point now() override { return now_; }
  std::chrono::system_clock::time_point wall_now() override { return wall_start_ + (now_ - start_); }
  void sleep_until(time_point t) override {
    if (t > now_) now_ = t;
  }
  void advance(milliseconds d) { now_ += d; }
  // Simulated time since construction.
  milliseconds elapsed() const { return std::chrono::duration_cast<milliseconds>(now_ - start_); }

 private:
  time_point start_ = std::chrono::steady_clock::time_point(1000h);
  time_point now_ = start_;
  std::chrono::system_clock::time_point wall_start_ = std::chrono::system_clock::time_point(1'800'000'000s);
};

// Answers GETs from a script of (url, simulated time) -> response; each
// call takes `latency` of simulated time. Records when each call was made.
class ScriptedProbe final : public HttpProbe {
 public:
  using Script = std::function<Result<HttpResponse>(const std::string& url, milliseconds at)>;
  ScriptedProbe(FakeClock& clock, Script script, milliseconds latency = 5ms)
      : clock_(clock), script_(std::move(script)), latency_(latency) {}
  Result<HttpResponse> get(const std::string& url, milliseconds timeout) override {
    calls.push_back({url, clock_.elapsed()});
    timeouts.push_back(timeout);
    const auto at = clock_.elapsed();
    clock_.advance(latency_);
    return script_(url, at);
  }
  std::vector<std::pair<std::string, milliseconds>> calls;
  std::vector<milliseconds> timeouts;

 private:
  FakeClock& clock_;
  Script script_;
  milliseconds latency_;
};

// Answers queries from a script of (query, simulated time) -> result.
class ScriptedPrometheus final : public PrometheusApi {
 public:
  using Script = std::function<Result<QueryResult>(const std::string& query, milliseconds at)>;
  ScriptedPrometheus(FakeClock& clock, Script script, milliseconds latency = 5ms)
      : clock_(clock), script_(std::move(script)), latency_(latency) {}
  Result<QueryResult> query(const std::string& base_url, const std::string& promql, milliseconds) override {
    calls.push_back({base_url + " " + promql, clock_.elapsed()});
    const auto at = clock_.elapsed();
    clock_.advance(latency_);
    return script_(promql, at);
  }
  std::vector<std::pair<std::string, milliseconds>> calls;

 private:
  FakeClock& clock_;
  Script script_;
  milliseconds latency_;
};

inline HttpResponse ok(std::string body = "ok") { return HttpResponse{200, std::move(body)}; }
inline HttpResponse status(int code, std::string body = "") { return HttpResponse{code, std::move(body)}; }

// A vector result with one unlabelled sample per value.
inline QueryResult vector_of(std::vector<double> values) {
  QueryResult r;
  r.result_type = "vector";
  for (double v : values) {
    Sample s;
    s.value = v;
    s.text = nlohmann::json(v).dump();
    s.metric = {{"job", "app"}};
    r.samples.push_back(s);
  }
  return r;
}

}  // namespace conveyor::health_verifier::test
