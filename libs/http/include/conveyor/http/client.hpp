// Minimal outbound HTTP/1.1 client (Boost.Beast, blocking) for tests, the CLI,
// local peers and, under libs/webclient's retries, the integrations. http://
// and https:// (TLS 1.2+, SNI, the peer's certificate verified against the
// system trust store - OpenSSL's default paths, so SSL_CERT_FILE /
// SSL_CERT_DIR point elsewhere - and against the host name). Timeouts are
// enforced; no retries here.
#pragma once

#include <chrono>
#include <string>

#include "conveyor/http/server.hpp"

namespace conveyor::http {

// A response received by the client.
struct ClientResponse {
  int status = 0;
  Headers headers;
  std::string body;
};

// Sends one request to `url` ("http[s]://host:port/path?query"). Errors:
// invalid_argument for a bad URL, unavailable when the connection or the TLS
// handshake (an untrusted or mismatched certificate) fails, timeout when
// `timeout` elapses.
Result<ClientResponse> request(const std::string& method, const std::string& url, const Headers& headers,
                               const std::string& body, std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace conveyor::http
