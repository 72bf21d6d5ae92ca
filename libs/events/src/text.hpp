// Private helpers of libs/events: small syntax checks shared by the decoders.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "conveyor/events/run.hpp"

namespace conveyor::events::detail {

// True when `s` is non-empty and every character is a lower-case hex digit.
bool is_lower_hex(std::string_view s) noexcept;

// RFC 3339 date-time: "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)", with
// 'T'/'Z' in either case (RFC 3339 section 5.6).
bool is_rfc3339(std::string_view s) noexcept;

// W3C Trace Context `traceparent`: "vv-<32 hex>-<16 hex>-<2 hex>", lower case.
bool is_traceparent(std::string_view s) noexcept;

// outputs[stage][key] when outputs is an object holding that string, else "".
std::string output_string(const nlohmann::json& outputs, const char* stage, const char* key);

// request_partition_key() of a request for `stage` with `settings` in `run`.
std::string request_partition_key(std::string_view stage, const nlohmann::json& settings, const RunContext& run);

}  // namespace conveyor::events::detail
