// HMAC-SHA256 signatures of webhook bodies, as GitHub sends them in
// `X-Hub-Signature-256: sha256=<hex>` (GitHub Docs, "Validating webhook
// deliveries"). conveyor's own outgoing webhooks use the same scheme in
// `X-Conveyor-Signature-256`.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace conveyor::github {

// Lower-case hex HMAC-SHA256 of `body` keyed by `secret` (64 characters).
std::string hmac_sha256_hex(std::string_view secret, std::string_view body);

// The header value "sha256=<hex>" for `body`.
std::string signature_header(std::string_view secret, std::string_view body);

// True when `header` is "sha256=<64 hex>" and matches `body` under any of
// `secrets` (several allowed for rotation). The comparison is constant-time
// in the signature; an empty secret never matches.
bool verify_signature(std::string_view header, std::string_view body, const std::vector<std::string>& secrets);

}  // namespace conveyor::github
