#include "conveyor/github/signature.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

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

}  // namespace

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
  if (header.size() != kPrefix.size() + 64 || header.substr(0, kPrefix.size()) != kPrefix) return false;
  unsigned char given[32];
  for (size_t i = 0; i < 32; ++i) {
    const int hi = hex_value(header[kPrefix.size() + 2 * i]);
    const int lo = hex_value(header[kPrefix.size() + 2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    given[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
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

}  // namespace conveyor::github
