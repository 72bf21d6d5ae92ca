// Minimal outbound HTTP/1.1 client (plain http://, Boost.Beast, blocking) for
// tests, the CLI and local peers. Timeouts are enforced; no retries here.
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

// Sends one request to `url` ("http://host:port/path?query"). Errors:
// invalid_argument for a bad URL or https (not supported here), unavailable
// when the connection fails, timeout when `timeout` elapses.
Result<ClientResponse> request(const std::string& method, const std::string& url, const Headers& headers,
                               const std::string& body, std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace conveyor::http
