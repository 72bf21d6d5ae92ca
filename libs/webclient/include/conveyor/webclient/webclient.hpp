// The one outbound HTTP client of conveyor's integrations (notification
// providers, GitHub REST, Argo CD): per-attempt timeouts, retries with
// exponential backoff and jitter on 5xx / 408 / 429 and network failures,
// `Retry-After` honoured (delta-seconds or HTTP-date) within a capped time
// budget, no retry on other 4xx, and secrets redacted from every error.
//
// Time and the wire are injectable (Clock, Transport), so the retry policy is
// tested with a fake clock and scripted answers: no real sleeps.
//
// POST is retried too: a request that timed out may have been processed, so a
// retry can deliver twice. Callers that must not repeat a side effect give the
// request an idempotency key the receiver understands.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conveyor/http/client.hpp"
#include "conveyor/result/result.hpp"

namespace conveyor::webclient {

// One request to send (a value: the client may send it several times).
struct Request {
  std::string method = "POST";
  std::string url;  // http:// or https://
  http::Headers headers;
  std::string body;
};

// When and how often to retry.
struct RetryPolicy {
  int max_attempts = 4;                             // tries in all, 1..20
  std::chrono::milliseconds initial_backoff{500};   // wait before the first retry
  double multiplier = 2.0;                          // each later wait grows by this
  std::chrono::milliseconds max_backoff{8000};      // cap of one backoff wait
  double jitter = 0.5;                              // a wait is base * (1 - jitter * U[0,1))
  std::chrono::milliseconds max_retry_after{30000}; // a longer Retry-After is not waited for: give up
  std::chrono::milliseconds budget{60000};          // whole call (attempts + waits) ends by then
};

// Time as the client sees it. Tests substitute a fake.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::steady_clock::time_point now() = 0;
  // Wall time, to turn a Retry-After HTTP-date into a wait.
  virtual std::chrono::system_clock::time_point wall_now() = 0;
  // Waits `duration`; returns early with false once `*cancel` is true.
  virtual bool sleep_for(std::chrono::milliseconds duration, const std::atomic<bool>* cancel) = 0;
};

// The real clocks; sleeps in short slices so a cancel is seen within ~50 ms.
Clock& system_clock();

// One exchange on the wire; the default is http::request.
using Transport =
    std::function<Result<http::ClientResponse>(const Request& request, std::chrono::milliseconds timeout)>;

struct Options {
  RetryPolicy retry;
  std::chrono::milliseconds attempt_timeout{10000};  // one attempt (connect + send + answer)
  std::vector<std::string> secrets;  // values never to appear in an error (webhook URLs, tokens)
  const std::atomic<bool>* cancel = nullptr;  // when true: no more attempts or waits (shutdown)
  Clock* clock = nullptr;                     // default system_clock()
  Transport transport;                        // default http::request
  std::function<double()> random;             // jitter source in [0,1); default a per-thread PRNG
};

// What one call amounted to: the final answer and how it got there.
struct Exchange {
  http::ClientResponse response;  // the last answer received
  int attempts = 0;
  std::chrono::milliseconds waited{0};  // total time spent waiting between attempts
  std::string gave_up;                  // why retrying stopped early ("" when it did not)
};

class Client {
 public:
  explicit Client(Options options = {});

  // Sends with retries and returns the final answer whatever its status:
  // 2xx, a status that is not retried (most 4xx), or the last retryable one
  // when attempts or budget ran out. Errors only when no answer came at all:
  // invalid_argument (a bad URL or header: not retried), unavailable / timeout
  // (network, after retries), unavailable "cancelled" (Options::cancel).
  Result<Exchange> exchange(const Request& request) const;

  // exchange(), then anything but 2xx is an error naming method, origin
  // (never the path: webhook URLs carry tokens), status, attempts and a short
  // redacted excerpt of the answer. Codes: not_found (404, 410), conflict
  // (409), invalid_argument (other 3xx/4xx: the request is refused as is),
  // unavailable (5xx, 408, 429 after retries).
  Result<http::ClientResponse> send(const Request& request) const;

  // `text` with every configured secret replaced by "[redacted]".
  std::string redact(std::string_view text) const;

  const Options& options() const { return options_; }

 private:
  Options options_;
};

// True for the statuses worth another try: 408, 429 and 5xx but 501 / 505.
bool is_retryable_status(int status) noexcept;

// A Retry-After value (RFC 9110 §10.2.3): delta-seconds (a fraction is
// accepted, as some APIs send one) or an HTTP-date (IMF-fixdate, RFC 850,
// asctime), as a wait from `now` (0 for a date in the past). std::nullopt when
// malformed.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now);

// The wait before retry number `retry` (1 = the first retry), with `random`
// in [0,1): min(max_backoff, initial * multiplier^(retry-1)) * (1 - jitter * random).
std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int retry, double random);

// "scheme://host[:port]" of a URL: the part of it that errors and logs may
// show. "" when it has no scheme.
std::string origin_of(std::string_view url);

}  // namespace conveyor::webclient
