#include "http_checks.hpp"

#include <cctype>
#include <charconv>
#include <string_view>

#include "conveyor/http/client.hpp"

namespace conveyor::health_verifier {
namespace {

// A status code as written: exactly three digits, 100..599.
std::optional<int> parse_code(std::string_view text) {
  if (text.size() != 3) return std::nullopt;
  int code = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), code);
  if (ec != std::errc{} || end != text.data() + text.size() || code < 100 || code > 599) return std::nullopt;
  return code;
}

Error bad_status(const std::string& shown) {
  return make_error(Errc::invalid_argument,
                    "status '" + shown + "' is not a status code (100-599), a range \"200-299\" or a class \"2xx\"");
}

}  // namespace

std::string StatusRange::to_string() const {
  return min == max ? std::to_string(min) : std::to_string(min) + "-" + std::to_string(max);
}

Result<StatusRange> parse_status_range(const nlohmann::json& value) {
  if (value.is_number_integer()) {
    const auto code = value.get<long long>();
    if (code < 100 || code > 599) return bad_status(value.dump());
    return StatusRange{static_cast<int>(code), static_cast<int>(code)};
  }
  if (!value.is_string()) return bad_status(value.dump());
  const std::string text = value.get<std::string>();
  std::string_view s(text);
  if (s.size() == 3 && s[0] >= '1' && s[0] <= '5' && (s[1] == 'x' || s[1] == 'X') && (s[2] == 'x' || s[2] == 'X')) {
    const int base = (s[0] - '0') * 100;
    return StatusRange{base, base + 99};
  }
  if (auto dash = s.find('-'); dash != std::string_view::npos) {
    auto lo = parse_code(s.substr(0, dash));
    auto hi = parse_code(s.substr(dash + 1));
    if (!lo || !hi || *lo > *hi) return bad_status(text);
    return StatusRange{*lo, *hi};
  }
  if (auto code = parse_code(s)) return StatusRange{*code, *code};
  return bad_status(text);
}

Result<HttpResponse> ClientHttpProbe::get(const std::string& url, std::chrono::milliseconds timeout) {
  http::Headers headers;
  headers["Accept"] = "application/json, */*;q=0.5";
  headers["User-Agent"] = "conveyor-health-verifier";
  auto response = http::request("GET", url, headers, "", timeout);
  if (!response) return std::move(response).error();
  return HttpResponse{response->status, std::move(response->body)};
}

ProbeOutcome judge(const HttpCheck& check, const Result<HttpResponse>& response) {
  ProbeOutcome out;
  if (!response) {
    out.error = response.error().message;
    return out;
  }
  out.status = response->status;
  if (!check.status.contains(response->status)) {
    out.error = "status " + std::to_string(response->status) + " is outside " + check.status.to_string();
    return out;
  }
  if (!check.json_pointer) {
    out.passed = true;
    return out;
  }
  const auto body = nlohmann::json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    out.error = "body is not JSON (json-pointer " + *check.json_pointer + ")";
    return out;
  }
  try {
    const nlohmann::json::json_pointer pointer(*check.json_pointer);
    if (!body.contains(pointer)) {
      out.error = "json-pointer " + *check.json_pointer + " not found in the body";
      return out;
    }
    out.value = body.at(pointer);
  } catch (const nlohmann::json::exception& e) {
    // Pointers are validated when settings are parsed; an array index past
    // the end or into a non-container still lands here.
    out.error = "json-pointer " + *check.json_pointer + ": " + e.what();
    return out;
  }
  if (check.expect && out.value != *check.expect) {
    out.error = "json-pointer " + *check.json_pointer + " is " + out.value.dump() + ", expected " + check.expect->dump();
    return out;
  }
  out.passed = true;
  return out;
}

nlohmann::json to_json(const ProbeOutcome& outcome) {
  nlohmann::json j = {{"status", outcome.status == 0 ? nlohmann::json(nullptr) : nlohmann::json(outcome.status)}};
  if (!outcome.value.is_null()) j["value"] = outcome.value;
  if (!outcome.error.empty()) j["error"] = outcome.error;
  return j;
}

}  // namespace conveyor::health_verifier
