// A thread-safe Redis client over hiredis: a small pool of blocking
// connections, reconnected on error, with connect and command timeouts.
// Commands are argv-based (binary-safe; nothing is ever formatted into a
// command string).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "conveyor/result/result.hpp"

namespace conveyor::store {

// Connection settings. `url` is "redis://host:port[/db]".
struct RedisOptions {
  std::string url = "redis://127.0.0.1:6379";
  std::chrono::milliseconds timeout{2000};  // connect and per-command timeout
  int connections = 2;                      // pool size (1..64)
};

// One Redis reply (RESP2), flattened to what conveyor needs.
struct Reply {
  enum class Type { nil, integer, string, status, array };
  Type type = Type::nil;
  long long integer = 0;
  std::string str;               // string and status replies
  std::vector<Reply> elements;   // array replies
  bool is_nil() const { return type == Type::nil; }
};

// Parsed "redis://host:port[/db]"; errors (invalid_argument) name the URL.
struct RedisAddress {
  std::string host;
  int port = 6379;
  int db = 0;
};
Result<RedisAddress> parse_redis_url(std::string_view url);

class Redis {
 public:
  // Validates the URL and connects the first connection. Errors: invalid_argument
  // (bad URL), unavailable (cannot connect).
  static Result<std::shared_ptr<Redis>> connect(const RedisOptions& options);
  ~Redis();
  Redis(const Redis&) = delete;
  Redis& operator=(const Redis&) = delete;

  // Runs one command. A Redis error reply becomes Error{conflict or
  // invalid_argument, "<ERR text>"}; I/O failures become unavailable (and the
  // connection is re-established on the next call).
  Result<Reply> command(const std::vector<std::string_view>& argv);

  // Runs several commands in one round trip (RESP pipelining) on one
  // connection: all are written, then all replies read, in order. The outer
  // error (unavailable) is an I/O failure, after which the fate of each
  // command is unknown; otherwise one Result per command, as command() gives.
  Result<std::vector<Result<Reply>>> pipeline(const std::vector<std::vector<std::string>>& commands);

  // PING; used by /readyz.
  Result<void> ping();

 private:
  struct Impl;
  explicit Redis(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace conveyor::store
