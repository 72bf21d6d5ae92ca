// HMAC-SHA256 signatures of webhook bodies, as GitHub sends them in
// `X-Hub-Signature-256: sha256=<hex>` (GitHub Docs, "Validating webhook
// deliveries"). conveyor's own outgoing webhooks use the same scheme in
// `X-Conveyor-Signature-256`.
#pragma once

#include <memory>
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

// verify_signature() for a fixed set of secrets, keyed once: the HMAC
// algorithm is fetched and each secret's key schedule (the inner and outer
// padded key blocks of RFC 2104) computed at construction; a verification
// copies those pre-keyed contexts and hashes only the body. Same answers as
// verify_signature() (constant-time compare, every secret checked, empty
// secrets never match). Thread-safe: verify() is const and shares no mutable
// state. Construction throws std::runtime_error when OpenSSL cannot provide
// HMAC-SHA256.
class SignatureVerifier {
 public:
  explicit SignatureVerifier(const std::vector<std::string>& secrets);

  // True when `header` is "sha256=<64 hex>" matching `body` under any secret.
  bool verify(std::string_view header, std::string_view body) const;

 private:
  struct Keyed;
  std::vector<std::shared_ptr<const Keyed>> keyed_;  // one per non-empty secret
};

}  // namespace conveyor::github
