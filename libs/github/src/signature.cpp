#include "conveyor/github/signature.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

#include <stdexcept>

namespace conveyor::github {
namespace {

constexpr std::string_view kPrefix = "sha256=";

bool hmac_raw(std::string_view secret, std::string_view body, unsigned char out[EVP_MAX_MD_SIZE], unsigned& len) {
  return HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
              reinterpret_cast<const unsigned char*>(body.data()), body.size(), out, &len) != nullptr;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes "sha256=<64 hex>" (either case) into `given`; false when malformed.
bool parse_header(std::string_view header, unsigned char given[32]) {
  if (header.size() != kPrefix.size() + 64 || header.substr(0, kPrefix.size()) != kPrefix) return false;
  for (size_t i = 0; i < 32; ++i) {
    const int hi = hex_value(header[kPrefix.size() + 2 * i]);
    const int lo = hex_value(header[kPrefix.size() + 2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    given[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return true;
}

// HMAC from the default provider, fetched once per process.
EVP_MAC* hmac_algorithm() {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (mac == nullptr) throw std::runtime_error("OpenSSL provides no HMAC");
  return mac;
}

}  // namespace

// A pre-keyed HMAC-SHA256 context: the prototype each verification copies.
struct SignatureVerifier::Keyed {
  EVP_MAC_CTX* ctx = nullptr;
  Keyed() = default;
  Keyed(const Keyed&) = delete;
  Keyed& operator=(const Keyed&) = delete;
  ~Keyed() { EVP_MAC_CTX_free(ctx); }
};

std::string hmac_sha256_hex(std::string_view secret, std::string_view body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  if (!hmac_raw(secret, body, mac, len)) return "";
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(hex[mac[i] >> 4]);
    out.push_back(hex[mac[i] & 0xf]);
  }
  return out;
}

std::string signature_header(std::string_view secret, std::string_view body) {
  return std::string(kPrefix) + hmac_sha256_hex(secret, body);
}

bool verify_signature(std::string_view header, std::string_view body, const std::vector<std::string>& secrets) {
  unsigned char given[32];
  if (!parse_header(header, given)) return false;
  bool match = false;
  for (const auto& secret : secrets) {
    if (secret.empty()) continue;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (!hmac_raw(secret, body, mac, len) || len != 32) continue;
    // Check every secret (no early exit) so timing does not reveal which matched.
    match |= CRYPTO_memcmp(mac, given, 32) == 0;
  }
  return match;
}

SignatureVerifier::SignatureVerifier(const std::vector<std::string>& secrets) {
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
  for (const auto& secret : secrets) {
    if (secret.empty()) continue;  // never matches, as in verify_signature()
    auto keyed = std::make_shared<Keyed>();
    keyed->ctx = EVP_MAC_CTX_new(hmac_algorithm());
    if (keyed->ctx == nullptr ||
        EVP_MAC_init(keyed->ctx, reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), params) != 1) {
      throw std::runtime_error("cannot key HMAC-SHA256");
    }
    keyed_.push_back(std::move(keyed));
  }
}

bool SignatureVerifier::verify(std::string_view header, std::string_view body) const {
  unsigned char given[32];
  if (!parse_header(header, given)) return false;
  bool match = false;
  for (const auto& keyed : keyed_) {
    // A copy of the keyed prototype: no algorithm fetch, no key schedule.
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_dup(keyed->ctx);
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t len = 0;
    const bool ok = ctx != nullptr && EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(body.data()), body.size()) == 1 &&
                    EVP_MAC_final(ctx, mac, &len, sizeof mac) == 1 && len == 32;
    EVP_MAC_CTX_free(ctx);
    // Check every secret (no early exit) so timing does not reveal which matched.
    if (ok) match |= CRYPTO_memcmp(mac, given, 32) == 0;
  }
  return match;
}

}  // namespace conveyor::github
