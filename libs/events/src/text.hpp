// Private helpers of libs/events: small syntax checks shared by the decoders.
#pragma once

#include <string_view>

namespace conveyor::events::detail {

// True when `s` is non-empty and every character is a lower-case hex digit.
bool is_lower_hex(std::string_view s) noexcept;

// RFC 3339 date-time: "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)", with
// 'T'/'Z' in either case (RFC 3339 section 5.6).
bool is_rfc3339(std::string_view s) noexcept;

// W3C Trace Context `traceparent`: "vv-<32 hex>-<16 hex>-<2 hex>", lower case.
bool is_traceparent(std::string_view s) noexcept;

}  // namespace conveyor::events::detail
