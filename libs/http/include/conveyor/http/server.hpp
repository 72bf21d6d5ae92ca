// A small HTTP/1.1 server on Boost.Beast/Asio with hard limits, used for the
// webhook endpoint and for every service's admin port.
//
// Handlers see plain types (no Beast types) and answer through a callback, so
// a handler can reply later (e.g. after Kafka acknowledged a record) without
// blocking an I/O thread. Limits follow GitHub's webhook contract where one
// applies: bodies are capped before they are read (413), headers too (431).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "conveyor/result/result.hpp"

namespace conveyor::http {

// Case-insensitive header map (HTTP field names are case-insensitive, RFC 9110 §5.1).
struct CaseInsensitiveLess {
  bool operator()(std::string_view a, std::string_view b) const noexcept;
  using is_transparent = void;
};
using Headers = std::map<std::string, std::string, CaseInsensitiveLess>;

// A received request. `body` is the raw bytes as received (signatures are
// computed over it).
struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path plus query, e.g. "/webhooks/github?x=1"
  std::string path;    // target without the query
  Headers headers;
  std::string body;
  std::string remote;  // peer address "ip:port"

  // Header value or "" when absent.
  std::string header(std::string_view name) const;
};

// A response to send. Content-Length is set by the server.
struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  Headers headers;  // extra headers
};

// Convenience: a JSON response with the given status and serialized body.
Response json_response(int status, std::string json_body);
// Convenience: a text response.
Response text_response(int status, std::string text);

// Called exactly once per request, from any thread.
using Reply = std::function<void(Response)>;
// A route handler; may call `reply` before returning or later.
using Handler = std::function<void(Request&&, Reply)>;

// Server limits and listen address.
struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;                       // 0 = ephemeral (see Server::port())
  std::uint64_t max_body_bytes = 1u << 20;      // larger Content-Length -> 413 without reading the body
  std::uint32_t max_header_bytes = 16u << 10;   // larger header block -> 431
  std::chrono::milliseconds read_timeout{10000};  // whole request must arrive within this
  std::chrono::milliseconds idle_timeout{60000};  // keep-alive idle limit
  int threads = 1;                              // I/O threads
};

// The server. Routes are exact (method, path) matches; an unknown path is 404,
// a known path with another method 405. Thread-safe start/stop.
class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Registers a handler; call before start().
  void route(std::string method, std::string path, Handler handler);

  // Binds and starts the I/O threads. Errors (unavailable) if the address
  // cannot be bound.
  Result<void> start();
  // Actual bound port (after start()).
  std::uint16_t port() const;
  // Stops accepting, closes connections, joins threads. Idempotent.
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// Splits "host:port" (IPv4, name, or "[v6]:port"). Errors name the input.
Result<std::pair<std::string, std::uint16_t>> parse_listen(std::string_view listen);

}  // namespace conveyor::http
