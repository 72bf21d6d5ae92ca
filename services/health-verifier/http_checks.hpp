// HTTP health checks: what one check asks for, how a single probe (one GET)
// is judged, and the HttpProbe interface the verifier sends its GETs through
// (the real one over conveyor::http's client; unit tests use a scripted one).
//
// A probe passes when a response arrives within the check's timeout, its
// status is in the expected range, and, when a JSON pointer is configured,
// the body is JSON, the pointer resolves, and (if `expect` is set) the value
// there equals `expect`. So a 200 whose body says {"status":"down"} fails a
// check with json-pointer "/status" and expect "up".
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "conveyor/result/result.hpp"

namespace conveyor::health_verifier {

// An inclusive range of HTTP status codes.
struct StatusRange {
  int min = 200;
  int max = 299;
  bool contains(int status) const noexcept { return status >= min && status <= max; }
  // "200-299", or "204" for a single code.
  std::string to_string() const;
};

// Parses the `status` setting: a number (204), or a string "204", "200-399"
// or "2xx". Errors (invalid_argument) name the value.
Result<StatusRange> parse_status_range(const nlohmann::json& value);

// One configured check (templates already resolved).
struct HttpCheck {
  std::string url;
  StatusRange status;                       // default 2xx
  std::optional<std::string> json_pointer;  // RFC 6901, validated at parse time
  std::optional<nlohmann::json> expect;     // compared with the value at json_pointer
  std::chrono::milliseconds timeout{5000};  // per attempt
  int retries = 5;                          // further attempts after a failed one
  std::chrono::milliseconds interval{10000};  // between attempts (and soak probes)
};

// What a GET returned.
struct HttpResponse {
  int status = 0;
  std::string body;
};

// Sends one GET. Errors: unavailable (connection failed), timeout, or
// invalid_argument (a URL the client cannot use).
class HttpProbe {
 public:
  virtual ~HttpProbe() = default;
  virtual Result<HttpResponse> get(const std::string& url, std::chrono::milliseconds timeout) = 0;
};

// The real probe: conveyor::http::request (plain http://).
class ClientHttpProbe final : public HttpProbe {
 public:
  Result<HttpResponse> get(const std::string& url, std::chrono::milliseconds timeout) override;
};

// The verdict on one probe.
struct ProbeOutcome {
  bool passed = false;
  int status = 0;               // 0 when no response arrived
  nlohmann::json value;         // the value at json_pointer, when one was read
  std::string error;            // why it failed, "" when it passed
};

// Judges a probe's response (or error) against the check.
ProbeOutcome judge(const HttpCheck& check, const Result<HttpResponse>& response);

// JSON for events: {"status": 200|null, "value"?: ..., "error"?: "..."}.
nlohmann::json to_json(const ProbeOutcome& outcome);

}  // namespace conveyor::health_verifier
