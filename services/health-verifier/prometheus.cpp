#include "prometheus.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>

#include "conveyor/http/client.hpp"

namespace conveyor::health_verifier {
namespace {

// How much of an unusable body goes into an error message.
constexpr std::size_t kBodyExcerpt = 200;

std::string excerpt(std::string_view body) {
  std::string out(body.substr(0, kBodyExcerpt));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return body.size() > kBodyExcerpt ? out + "..." : out;
}

// A sample value as Prometheus writes it: a JSON string holding a Go float
// ("0.01", "1e-05", "NaN", "+Inf", "-Inf").
Result<Sample> parse_value(const nlohmann::json& pair, nlohmann::json metric) {
  if (!pair.is_array() || pair.size() != 2 || !pair[1].is_string()) {
    return make_error(Errc::internal, "prometheus: a sample is not [timestamp, \"value\"]: " + excerpt(pair.dump()));
  }
  Sample s;
  s.metric = std::move(metric);
  s.text = pair[1].get<std::string>();
  const char* begin = s.text.c_str();
  char* end = nullptr;
  s.value = std::strtod(begin, &end);
  if (s.text.empty() || end != begin + s.text.size()) {
    return make_error(Errc::internal, "prometheus: sample value '" + excerpt(s.text) + "' is not a number");
  }
  return s;
}

bool in_bounds(const PrometheusCheck& check, double v) {
  if (check.min && v < *check.min) return false;
  if (check.max && v > *check.max) return false;
  return true;
}

std::string format_bounds(const PrometheusCheck& check) {
  auto num = [](double d) { return nlohmann::json(d).dump(); };
  if (check.min && check.max) return "[" + num(*check.min) + ", " + num(*check.max) + "]";
  if (check.min) return ">= " + num(*check.min);
  if (check.max) return "<= " + num(*check.max);
  return "any value";
}

}  // namespace

const char* on_empty_name(OnEmpty v) noexcept {
  switch (v) {
    case OnEmpty::pass: return "pass";
    case OnEmpty::inconclusive: return "inconclusive";
    case OnEmpty::fail: break;
  }
  return "fail";
}

const char* phase_name(Measurement::Phase phase) noexcept {
  switch (phase) {
    case Measurement::Phase::successful: return "successful";
    case Measurement::Phase::failed: return "failed";
    case Measurement::Phase::inconclusive: return "inconclusive";
    case Measurement::Phase::error: break;
  }
  return "error";
}

std::string query_url(std::string_view base_url, std::string_view promql) {
  while (!base_url.empty() && base_url.back() == '/') base_url.remove_suffix(1);
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out(base_url);
  out += "/api/v1/query?query=";
  for (unsigned char c : promql) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

Result<QueryResult> parse_query_response(int http_status, std::string_view body) {
  const auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return make_error(Errc::internal,
                      "prometheus answered HTTP " + std::to_string(http_status) + " without a JSON object: " + excerpt(body));
  }
  const std::string status = j.value("status", "");
  if (status != "success") {
    const auto error_type = j.contains("errorType") && j["errorType"].is_string() ? j["errorType"].get<std::string>() : "";
    const auto error = j.contains("error") && j["error"].is_string() ? j["error"].get<std::string>() : excerpt(body);
    return make_error(Errc::internal, "prometheus answered HTTP " + std::to_string(http_status) + " " +
                                          (error_type.empty() ? "error" : error_type) + ": " + excerpt(error));
  }
  if (http_status < 200 || http_status > 299) {
    return make_error(Errc::internal, "prometheus answered HTTP " + std::to_string(http_status));
  }
  const auto data = j.find("data");
  if (data == j.end() || !data->is_object() || !data->contains("resultType") || !(*data)["resultType"].is_string() ||
      !data->contains("result")) {
    return make_error(Errc::internal, "prometheus answer has no data.resultType / data.result");
  }
  QueryResult out;
  out.result_type = (*data)["resultType"].get<std::string>();
  const auto& result = (*data)["result"];
  if (out.result_type == "scalar") {
    auto s = parse_value(result, nlohmann::json::object());
    if (!s) return std::move(s).error();
    out.samples.push_back(std::move(*s));
    return out;
  }
  if (out.result_type != "vector") {
    return make_error(Errc::internal, "prometheus returned a " + out.result_type +
                                          " result; the query must yield an instant vector or a scalar");
  }
  if (!result.is_array()) return make_error(Errc::internal, "prometheus vector result is not an array");
  for (const auto& series : result) {
    if (!series.is_object() || !series.contains("value")) {
      return make_error(Errc::internal, "prometheus vector element has no value: " + excerpt(series.dump()));
    }
    nlohmann::json metric = series.contains("metric") && series["metric"].is_object() ? series["metric"]
                                                                                         : nlohmann::json::object();
    auto s = parse_value(series["value"], std::move(metric));
    if (!s) return std::move(s).error();
    out.samples.push_back(std::move(*s));
  }
  return out;
}

Result<QueryResult> HttpPrometheusApi::query(const std::string& base_url, const std::string& promql,
                                             std::chrono::milliseconds timeout) {
  http::Headers headers;
  headers["Accept"] = "application/json";
  headers["User-Agent"] = "conveyor-health-verifier";
  auto response = http::request("GET", query_url(base_url, promql), headers, "", timeout);
  if (!response) return std::move(response).error();
  return parse_query_response(response->status, response->body);
}

Measurement judge(const PrometheusCheck& check, const Result<QueryResult>& result) {
  Measurement m;
  if (!result) {
    m.phase = Measurement::Phase::error;
    m.message = result.error().message;
    return m;
  }
  m.samples = result->samples;
  std::size_t with_data = 0;
  const Sample* breaking = nullptr;
  for (const auto& s : m.samples) {
    if (std::isnan(s.value)) continue;
    ++with_data;
    if (!breaking && !in_bounds(check, s.value)) breaking = &s;
  }
  if (with_data == 0) {
    const std::string what = m.samples.empty() ? "empty result" : "no value but NaN";
    switch (check.on_empty) {
      case OnEmpty::pass:
        m.phase = Measurement::Phase::successful;
        m.message = what + " (on-empty: pass)";
        break;
      case OnEmpty::inconclusive:
        m.phase = Measurement::Phase::inconclusive;
        m.message = what + " (on-empty: inconclusive)";
        break;
      case OnEmpty::fail:
        m.phase = Measurement::Phase::failed;
        m.message = what + " (on-empty: fail)";
        break;
    }
    return m;
  }
  if (breaking) {
    m.phase = Measurement::Phase::failed;
    m.message = "value " + breaking->text + (breaking->metric.empty() ? "" : " of " + breaking->metric.dump()) +
                " is outside " + format_bounds(check);
    return m;
  }
  m.phase = Measurement::Phase::successful;
  return m;
}

nlohmann::json to_json(const Measurement& measurement) {
  nlohmann::json values = nlohmann::json::array();
  for (std::size_t i = 0; i < measurement.samples.size() && i < kMaxSeriesRecorded; ++i) {
    const auto& s = measurement.samples[i];
    nlohmann::json v = std::isfinite(s.value) ? nlohmann::json(s.value) : nlohmann::json(s.text);
    values.push_back({{"metric", s.metric}, {"value", std::move(v)}});
  }
  nlohmann::json j = {{"phase", phase_name(measurement.phase)}, {"values", std::move(values)}};
  if (measurement.samples.size() > kMaxSeriesRecorded) j["series"] = measurement.samples.size();
  if (!measurement.message.empty()) j["message"] = measurement.message;
  return j;
}

}  // namespace conveyor::health_verifier
