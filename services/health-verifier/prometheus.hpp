// Prometheus checks (canary analysis): an instant query evaluated `count`
// times, `interval` apart, against min/max thresholds, with Argo Rollouts'
// AnalysisTemplate semantics:
//
// - A measurement is successful when every returned value is within
//   [min, max] (either bound optional), failed when any value breaks one
//   (several series: all must pass), inconclusive or per `on-empty` when the
//   result holds no value, and an error when Prometheus is unreachable or
//   answers with an error.
// - Errors count as failed measurements (Argo has a separate
//   consecutiveErrorLimit; conveyor keeps one limit: a Prometheus that cannot
//   be asked proves nothing about the deploy).
// - The analysis fails as soon as failed measurements exceed
//   `failure-limit` (default 0: the first failure fails it); it is
//   inconclusive when it ends with any inconclusive measurement (Argo's
//   default inconclusiveLimit 0); otherwise it passes.
// - NaN samples (e.g. 0/0 of an error ratio without traffic) are "no data":
//   a result whose values are all NaN counts as empty. ±Inf compare normally.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "conveyor/result/result.hpp"

namespace conveyor::health_verifier {

// What an empty result means for a measurement.
enum class OnEmpty { fail, pass, inconclusive };
const char* on_empty_name(OnEmpty v) noexcept;

// One configured query (templates already resolved).
struct PrometheusCheck {
  std::string url;    // Prometheus HTTP API base, e.g. http://prometheus:9090
  std::string query;  // PromQL instant query
  std::optional<double> min;
  std::optional<double> max;
  int count = 1;                              // measurements
  std::chrono::milliseconds interval{10000};  // between measurements
  int failure_limit = 0;                      // failed measurements tolerated
  OnEmpty on_empty = OnEmpty::fail;
};

// One sample of a query result: its labels (`{}` for a scalar) and value.
struct Sample {
  nlohmann::json metric = nlohmann::json::object();
  double value = 0;
  std::string text;  // the value as Prometheus wrote it ("0.01", "NaN", "+Inf")
};

// An instant query's answer: resultType "vector" or "scalar" and its samples.
struct QueryResult {
  std::string result_type;
  std::vector<Sample> samples;
};

// Asks a Prometheus server. Errors: unavailable / timeout (unreachable), or
// internal when the server answered with an error or an unusable result.
class PrometheusApi {
 public:
  virtual ~PrometheusApi() = default;
  virtual Result<QueryResult> query(const std::string& base_url, const std::string& promql,
                                    std::chrono::milliseconds timeout) = 0;
};

// The real API: GET <base>/api/v1/query?query=<promql> over conveyor::http.
class HttpPrometheusApi final : public PrometheusApi {
 public:
  Result<QueryResult> query(const std::string& base_url, const std::string& promql,
                            std::chrono::milliseconds timeout) override;
};

// How long one query may take.
inline constexpr std::chrono::milliseconds kQueryTimeout{10000};

// "<base>/api/v1/query?query=<percent-encoded promql>" (a trailing '/' of
// the base is dropped).
std::string query_url(std::string_view base_url, std::string_view promql);

// Parses an HTTP API answer (any status): {"status":"success","data":
// {"resultType":"vector"|"scalar","result":...}}. Errors (internal) carry
// Prometheus' errorType and error for {"status":"error"} answers, and name
// the problem for other bodies (not JSON, a matrix or string result, a
// value that is not a number).
Result<QueryResult> parse_query_response(int http_status, std::string_view body);

// The verdict on one measurement.
struct Measurement {
  enum class Phase { successful, failed, inconclusive, error };
  Phase phase = Phase::error;
  std::vector<Sample> samples;  // what was measured
  std::string message;          // why it failed / errored / was inconclusive
};
const char* phase_name(Measurement::Phase phase) noexcept;

// Judges a query's answer (or error) against the check's thresholds.
Measurement judge(const PrometheusCheck& check, const Result<QueryResult>& result);

// JSON for events: {"phase", "values": [{"metric", "value"}], "message"?}.
// Values are numbers when finite, else Prometheus' text ("NaN", "+Inf");
// at most kMaxSeriesRecorded series are listed ("series" gives the total).
inline constexpr std::size_t kMaxSeriesRecorded = 10;
nlohmann::json to_json(const Measurement& measurement);

}  // namespace conveyor::health_verifier
