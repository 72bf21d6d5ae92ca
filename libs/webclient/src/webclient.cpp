#include "conveyor/webclient/webclient.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>
#include <random>
#include <thread>

namespace conveyor::webclient {
namespace {

using std::chrono::milliseconds;

// How much of a refused answer an error quotes: enough to see Slack's
// "invalid_payload" or GitHub's validation message, not a whole HTML page.
constexpr std::size_t kExcerptBytes = 200;
// Secrets shorter than this are not redacted: they would blank out ordinary text.
constexpr std::size_t kMinSecretLength = 4;
constexpr milliseconds kSleepSlice{50};

class SystemClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point now() override { return std::chrono::steady_clock::now(); }
  std::chrono::system_clock::time_point wall_now() override { return std::chrono::system_clock::now(); }
  bool sleep_for(milliseconds duration, const std::atomic<bool>* cancel) override {
    const auto until = std::chrono::steady_clock::now() + duration;
    for (;;) {
      if (cancel && cancel->load()) return false;
      const auto left = until - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) return true;
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(left, kSleepSlice));
    }
  }
};

double default_random() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

Result<http::ClientResponse> default_transport(const Request& r, milliseconds timeout) {
  return http::request(r.method, r.url, r.headers, r.body, timeout);
}

bool cancelled(const std::atomic<bool>* cancel) { return cancel && cancel->load(); }

std::string seconds_text(milliseconds d) {
  const auto ms = d.count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  return std::to_string(ms) + " ms";
}

// Printable ASCII only: an excerpt of an answer must not carry control
// characters or half a UTF-8 sequence into a log line.
std::string excerpt(std::string_view body) {
  std::string out;
  for (char c : body.substr(0, kExcerptBytes)) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u >= 0x20 && u < 0x7f ? c : (c == '\n' || c == '\r' || c == '\t' ? ' ' : '?'));
  }
  if (body.size() > kExcerptBytes) out += "...";
  return out;
}

Errc status_errc(int status) {
  if (status == 404 || status == 410) return Errc::not_found;
  if (status == 409) return Errc::conflict;
  if (is_retryable_status(status)) return Errc::unavailable;
  return Errc::invalid_argument;
}

std::optional<milliseconds> parse_delta_seconds(std::string_view v) {
  if (v.empty()) return std::nullopt;
  double seconds = 0;
  std::size_t i = 0;
  bool any = false;
  for (; i < v.size() && std::isdigit(static_cast<unsigned char>(v[i])); ++i) {
    seconds = seconds * 10 + (v[i] - '0');
    any = true;
    if (seconds > 1e9) seconds = 1e9;  // far beyond any budget; avoid overflow
  }
  if (i < v.size() && v[i] == '.') {
    double scale = 0.1;
    for (++i; i < v.size() && std::isdigit(static_cast<unsigned char>(v[i])); ++i, scale /= 10) {
      seconds += (v[i] - '0') * scale;
      any = true;
    }
  }
  if (!any || i != v.size()) return std::nullopt;
  return milliseconds(static_cast<long long>(std::ceil(seconds * 1000)));
}

std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view v) {
  // RFC 9110 §5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime forms.
  static constexpr const char* kFormats[] = {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
                                             "%a %b %e %H:%M:%S %Y"};
  const std::string text(v);
  for (const char* format : kFormats) {
    std::tm tm{};
    const char* end = ::strptime(text.c_str(), format, &tm);
    if (!end || *end != '\0') continue;
    const std::time_t t = ::timegm(&tm);
    if (t == static_cast<std::time_t>(-1)) continue;
    return std::chrono::system_clock::from_time_t(t);
  }
  return std::nullopt;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

Clock& system_clock() {
  static SystemClock clock;
  return clock;
}

bool is_retryable_status(int status) noexcept {
  return status == 408 || status == 429 || (status >= 500 && status <= 599 && status != 501 && status != 505);
}

std::optional<milliseconds> parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now) {
  value = trim(value);
  if (auto delta = parse_delta_seconds(value)) return delta;
  auto date = parse_http_date(value);
  if (!date) return std::nullopt;
  if (*date <= now) return milliseconds(0);
  return std::chrono::ceil<milliseconds>(*date - now);
}

milliseconds backoff_delay(const RetryPolicy& policy, int retry, double random) {
  double base = static_cast<double>(policy.initial_backoff.count());
  for (int i = 1; i < retry && base < static_cast<double>(policy.max_backoff.count()); ++i) base *= policy.multiplier;
  base = std::min(base, static_cast<double>(policy.max_backoff.count()));
  const double jitter = std::clamp(policy.jitter, 0.0, 1.0);
  const double r = std::clamp(random, 0.0, 1.0);
  return milliseconds(static_cast<long long>(base * (1.0 - jitter * r)));
}

std::string origin_of(std::string_view url) {
  const auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return "";
  auto end = url.find_first_of("/?#", scheme + 3);
  std::string_view authority = url.substr(scheme + 3, end == std::string_view::npos ? url.npos : end - scheme - 3);
  // Never show user info (user:password@host).
  if (auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  return std::string(url.substr(0, scheme + 3)) + std::string(authority);
}

Client::Client(Options options) : options_(std::move(options)) {
  if (!options_.clock) options_.clock = &system_clock();
  if (!options_.transport) options_.transport = default_transport;
  if (!options_.random) options_.random = default_random;
  options_.retry.max_attempts = std::clamp(options_.retry.max_attempts, 1, 20);
  // Longest first, so a secret that contains another is redacted whole.
  std::erase_if(options_.secrets, [](const std::string& s) { return s.size() < kMinSecretLength; });
  std::sort(options_.secrets.begin(), options_.secrets.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

std::string Client::redact(std::string_view text) const {
  std::string out(text);
  for (const auto& secret : options_.secrets) {
    for (auto pos = out.find(secret); pos != std::string::npos; pos = out.find(secret, pos + 10)) {
      out.replace(pos, secret.size(), "[redacted]");
    }
  }
  return out;
}

Result<Exchange> Client::exchange(const Request& request) const {
  Clock& clock = *options_.clock;
  const RetryPolicy& policy = options_.retry;
  const auto start = clock.now();
  const auto deadline = start + policy.budget;
  const std::string where = request.method + " " + origin_of(request.url);
  auto remaining = [&] {
    return std::chrono::duration_cast<milliseconds>(deadline - clock.now());
  };

  Exchange out;
  std::optional<Error> last_error;  // the last attempt's network failure, if it had no answer
  for (int attempt = 1;; ++attempt) {
    if (cancelled(options_.cancel)) return make_error(Errc::unavailable, where + ": cancelled");
    const milliseconds left = remaining();
    if (left.count() <= 0) {
      out.gave_up = "time budget of " + seconds_text(policy.budget) + " spent";
      break;
    }
    out.attempts = attempt;
    auto answer = options_.transport(request, std::min(options_.attempt_timeout, left));
    milliseconds wait{0};
    if (answer) {
      last_error.reset();
      out.response = std::move(*answer);
      const int status = out.response.status;
      if (!is_retryable_status(status)) return out;
      wait = backoff_delay(policy, attempt, options_.random());
      if (status == 429 || status == 503) {
        if (auto it = out.response.headers.find("Retry-After"); it != out.response.headers.end()) {
          if (auto after = parse_retry_after(it->second, clock.wall_now())) {
            if (*after > policy.max_retry_after) {
              out.gave_up = "Retry-After " + seconds_text(*after) + " exceeds the cap of " +
                            seconds_text(policy.max_retry_after);
              return out;
            }
            wait = *after;
          }
        }
      }
    } else {
      if (answer.error().code == Errc::invalid_argument) {
        return make_error(Errc::invalid_argument, redact(answer.error().message));
      }
      last_error = std::move(answer).error();
      wait = backoff_delay(policy, attempt, options_.random());
    }
    if (attempt >= policy.max_attempts) break;
    if (wait >= remaining()) {
      out.gave_up = "the next try (in " + seconds_text(wait) + ") would pass the time budget of " +
                    seconds_text(policy.budget);
      break;
    }
    if (!clock.sleep_for(wait, options_.cancel)) return make_error(Errc::unavailable, where + ": cancelled");
    out.waited += wait;
  }
  if (last_error) {
    std::string message = redact(last_error->message) + " (" + std::to_string(out.attempts) + " attempt" +
                          (out.attempts == 1 ? "" : "s");
    if (!out.gave_up.empty()) message += "; " + out.gave_up;
    return make_error(last_error->code, message + ")");
  }
  if (out.attempts == 0) return make_error(Errc::timeout, where + ": no time left to try");
  return out;
}

Result<http::ClientResponse> Client::send(const Request& request) const {
  auto done = exchange(request);
  if (!done) return std::move(done).error();
  const int status = done->response.status;
  if (status >= 200 && status < 300) return std::move(done->response);
  std::string message = request.method + " " + origin_of(request.url) + ": HTTP " + std::to_string(status) +
                        " after " + std::to_string(done->attempts) + " attempt" + (done->attempts == 1 ? "" : "s");
  if (!done->gave_up.empty()) message += " (" + done->gave_up + ")";
  // Redact before cutting, so a cut cannot leave half a secret unrecognised.
  if (!done->response.body.empty()) message += ": " + excerpt(redact(done->response.body));
  return make_error(status_errc(status), redact(message));
}

}  // namespace conveyor::webclient
