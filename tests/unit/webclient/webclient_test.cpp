// libs/webclient: the retry policy against a fake clock and scripted answers
// (no real sleeps), Retry-After parsing, redaction, and the real transport
// against a local server.
#include "conveyor/webclient/webclient.hpp"

#include <gtest/gtest.h>

#include <deque>

#include "recording_server.hpp"

namespace conveyor::webclient {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

// Time moves only when the client sleeps (or a slow answer is simulated).
class FakeClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point now() override { return std::chrono::steady_clock::time_point{} + elapsed; }
  std::chrono::system_clock::time_point wall_now() override { return wall_start + elapsed; }
  bool sleep_for(milliseconds d, const std::atomic<bool>* cancel) override {
    if (cancel && cancel->load()) return false;
    sleeps.push_back(d);
    elapsed += d;
    return true;
  }
  milliseconds elapsed{0};
  std::vector<milliseconds> sleeps;
  // Sun, 06 Nov 1994 08:49:37 GMT
  std::chrono::system_clock::time_point wall_start = std::chrono::system_clock::from_time_t(784111777);
};

http::ClientResponse answer(int status, std::string body = "", http::Headers headers = {}) {
  http::ClientResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

// Scripted answers, one per attempt (the last repeats); records each attempt's timeout.
struct Script {
  std::deque<Result<http::ClientResponse>> answers;
  std::vector<milliseconds> timeouts;
  FakeClock* clock = nullptr;
  milliseconds latency{0};  // time each attempt takes on the fake clock

  Transport transport() {
    return [this](const Request&, milliseconds timeout) -> Result<http::ClientResponse> {
      timeouts.push_back(timeout);
      if (clock) clock->elapsed += std::min(latency, timeout);
      Result<http::ClientResponse> next = answers.front();
      if (answers.size() > 1) answers.pop_front();
      return next;
    };
  }
};

struct Harness {
  FakeClock clock;
  Script script;
  Options options;
  double random = 0.0;  // no jitter unless a test sets it

  explicit Harness(std::vector<Result<http::ClientResponse>> answers) {
    script.answers.assign(answers.begin(), answers.end());
    script.clock = &clock;
    options.clock = &clock;
    options.transport = script.transport();
    options.random = [this] { return random; };
  }
  Client client() { return Client(options); }
  std::size_t attempts() const { return script.timeouts.size(); }
};

Request post(const std::string& url = "http://hooks.example.com/services/T/B/tok") {
  Request r;
  r.url = url;
  r.body = "{}";
  return r;
}

TEST(Retry, SuccessAtOnceNeitherRetriesNorSleeps) {
  Harness h({answer(200, "ok")});
  auto sent = h.client().send(post());
  ASSERT_TRUE(sent.ok());
  EXPECT_EQ(sent->body, "ok");
  EXPECT_EQ(h.attempts(), 1u);
  EXPECT_TRUE(h.clock.sleeps.empty());
}

TEST(Retry, ServerErrorsAreRetriedWithExponentialBackoff) {
  Harness h({answer(500), answer(502), answer(503), answer(200)});
  auto done = h.client().exchange(post());
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->response.status, 200);
  EXPECT_EQ(done->attempts, 4);
  EXPECT_EQ(h.clock.sleeps, (std::vector<milliseconds>{500ms, 1000ms, 2000ms}));
  EXPECT_EQ(done->waited, 3500ms);
}

TEST(Retry, JitterShortensWaitsWithinItsFraction) {
  Harness h({answer(500), answer(500), answer(200)});
  h.random = 0.999;
  h.options.retry.jitter = 0.5;
  ASSERT_TRUE(h.client().send(post()).ok());
  ASSERT_EQ(h.clock.sleeps.size(), 2u);
  EXPECT_EQ(h.clock.sleeps[0], 250ms);  // 500 * (1 - 0.5 * 0.999), rounded down
  EXPECT_EQ(h.clock.sleeps[1], 500ms);
}

TEST(Retry, GivesUpAfterMaxAttemptsWithAnErrorNamingTheStatus) {
  Harness h({answer(500, "upstream down")});
  auto sent = h.client().send(post());
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.error().code, Errc::unavailable);
  EXPECT_EQ(sent.error().message, "POST http://hooks.example.com: HTTP 500 after 4 attempts: upstream down");
  EXPECT_EQ(h.attempts(), 4u);
  EXPECT_EQ(h.clock.sleeps.size(), 3u);
}

TEST(Retry, BackoffIsCappedPerWait) {
  RetryPolicy p;
  EXPECT_EQ(backoff_delay(p, 1, 0), 500ms);
  EXPECT_EQ(backoff_delay(p, 4, 0), 4000ms);
  EXPECT_EQ(backoff_delay(p, 5, 0), 8000ms);
  EXPECT_EQ(backoff_delay(p, 30, 0), 8000ms);
  EXPECT_EQ(backoff_delay(p, 1, 1.0), 250ms);
}

TEST(Retry, ClientErrorsAreNotRetried) {
  for (auto [status, code] : {std::pair{400, Errc::invalid_argument}, std::pair{401, Errc::invalid_argument},
                              std::pair{403, Errc::invalid_argument}, std::pair{404, Errc::not_found},
                              std::pair{409, Errc::conflict}, std::pair{410, Errc::not_found},
                              std::pair{422, Errc::invalid_argument}, std::pair{501, Errc::invalid_argument}}) {
    Harness h({answer(status, "refused")});
    auto sent = h.client().send(post());
    ASSERT_FALSE(sent.ok()) << status;
    EXPECT_EQ(sent.error().code, code) << status;
    EXPECT_EQ(h.attempts(), 1u) << status;
    EXPECT_TRUE(h.clock.sleeps.empty()) << status;
  }
}

TEST(Retry, TooManyRequestsWaitsRetryAfterSeconds) {
  Harness h({answer(429, "", {{"Retry-After", "7"}}), answer(200)});
  ASSERT_TRUE(h.client().send(post()).ok());
  EXPECT_EQ(h.clock.sleeps, std::vector<milliseconds>{7000ms});
}

TEST(Retry, TooManyRequestsWaitsRetryAfterHttpDate) {
  Harness h({answer(429, "", {{"Retry-After", "Sun, 06 Nov 1994 08:49:49 GMT"}}), answer(200)});
  ASSERT_TRUE(h.client().send(post()).ok());
  EXPECT_EQ(h.clock.sleeps, std::vector<milliseconds>{12000ms});
}

TEST(Retry, ServiceUnavailableHonoursRetryAfterToo) {
  Harness h({answer(503, "", {{"Retry-After", "2"}}), answer(200)});
  ASSERT_TRUE(h.client().send(post()).ok());
  EXPECT_EQ(h.clock.sleeps, std::vector<milliseconds>{2000ms});
}

TEST(Retry, AHugeRetryAfterGivesUpAtOnceInsteadOfBlocking) {
  Harness h({answer(429, "slow down", {{"Retry-After", "3600"}}), answer(200)});
  auto sent = h.client().send(post());
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.error().code, Errc::unavailable);
  EXPECT_EQ(h.attempts(), 1u);
  EXPECT_TRUE(h.clock.sleeps.empty());
  EXPECT_EQ(h.clock.elapsed, 0ms);
  EXPECT_NE(sent.error().message.find("Retry-After 3600 s exceeds the cap of 30 s"), std::string::npos)
      << sent.error().message;
}

TEST(Retry, RetryAfterBeyondTheRemainingBudgetGivesUp) {
  // 20 s is under the cap, but after 50 s spent only 10 s of the 60 s budget remain.
  Harness h({answer(500), answer(429, "", {{"Retry-After", "20"}}), answer(200)});
  h.options.retry.initial_backoff = 50s;
  h.options.retry.max_backoff = 50s;
  auto done = h.client().exchange(post());
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->response.status, 429);
  EXPECT_EQ(done->attempts, 2);
  EXPECT_EQ(h.clock.sleeps, std::vector<milliseconds>{50s});
  EXPECT_NE(done->gave_up.find("budget"), std::string::npos) << done->gave_up;
}

TEST(Retry, EveryAttemptFitsTheBudget) {
  // Each attempt hangs until its timeout: 10 s + 0.5 s wait + 10 s + 1 s ...
  Harness h({make_error(Errc::timeout, "POST http://hooks.example.com:80: timed out")});
  h.script.latency = 1h;
  h.options.retry.max_attempts = 20;
  h.options.retry.budget = 25s;
  auto sent = h.client().send(post());
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.error().code, Errc::timeout);
  EXPECT_LE(h.clock.elapsed, 25s);
  ASSERT_EQ(h.script.timeouts.size(), 3u);
  EXPECT_EQ(h.script.timeouts[0], 10s);
  EXPECT_EQ(h.script.timeouts[1], 10s);
  EXPECT_EQ(h.script.timeouts[2], 3500ms);  // what the budget had left
}

TEST(Retry, NetworkErrorsAreRetried) {
  Harness h({make_error(Errc::unavailable, "POST http://hooks.example.com:80: connect failed: Connection refused"),
             answer(200)});
  auto sent = h.client().send(post());
  ASSERT_TRUE(sent.ok());
  EXPECT_EQ(h.attempts(), 2u);
  EXPECT_EQ(h.clock.sleeps, std::vector<milliseconds>{500ms});
}

TEST(Retry, NetworkErrorsAfterTheLastAttemptCountTheAttempts) {
  Harness h({make_error(Errc::unavailable, "POST http://h:80: connect failed: Connection refused")});
  h.options.retry.max_attempts = 2;
  auto sent = h.client().send(post());
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.error().code, Errc::unavailable);
  EXPECT_EQ(sent.error().message, "POST http://h:80: connect failed: Connection refused (2 attempts)");
}

TEST(Retry, ABadRequestIsNotRetried) {
  Harness h({make_error(Errc::invalid_argument, "URL must start with http://")});
  auto sent = h.client().send(post("ftp://x"));
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.error().code, Errc::invalid_argument);
  EXPECT_EQ(h.attempts(), 1u);
}

TEST(Retry, CancelStopsBetweenAttempts) {
  std::atomic<bool> cancel{false};
  Harness h({answer(500)});
  h.options.cancel = &cancel;
  h.options.transport = [&](const Request&, milliseconds) -> Result<http::ClientResponse> {
    cancel = true;  // shutdown arrives during the first attempt
    return answer(500);
  };
  auto sent = h.client().send(post());
  ASSERT_FALSE(sent.ok());
  EXPECT_NE(sent.error().message.find("cancelled"), std::string::npos);
  EXPECT_TRUE(h.clock.sleeps.empty());
}

TEST(Redaction, SecretsNeverReachAnError) {
  Harness h({answer(400, "bad token xoxb-secret-123 for /services/T/B/tok")});
  h.options.secrets = {"xoxb-secret-123", "/services/T/B/tok", "abc"};
  auto sent = h.client().send(post());
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.error().message,
            "POST http://hooks.example.com: HTTP 400 after 1 attempt: bad token [redacted] for [redacted]");
  // Too short to redact safely: left alone.
  EXPECT_EQ(h.client().redact("abc"), "abc");
}

TEST(Redaction, ExcerptsAreShortAndPrintable) {
  Harness h({answer(400, std::string("line\nbreak\x01") + std::string(500, 'x'))});
  auto sent = h.client().send(post());
  ASSERT_FALSE(sent.ok());
  const std::string& m = sent.error().message;
  EXPECT_NE(m.find("line break?xxx"), std::string::npos) << m;
  EXPECT_EQ(m.substr(m.size() - 3), "...");
  EXPECT_LT(m.size(), 300u);
}

TEST(RetryAfter, ParsesSecondsAndAllThreeDateForms) {
  const auto now = std::chrono::system_clock::from_time_t(784111777);  // Sun, 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(parse_retry_after("120", now), 120s);
  EXPECT_EQ(parse_retry_after(" 5 ", now), 5s);
  EXPECT_EQ(parse_retry_after("0", now), 0s);
  EXPECT_EQ(parse_retry_after("1.5", now), 1500ms);
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now), 10s);
  EXPECT_EQ(parse_retry_after("Sunday, 06-Nov-94 08:49:47 GMT", now), 10s);
  EXPECT_EQ(parse_retry_after("Sun Nov  6 08:49:47 1994", now), 10s);
  EXPECT_EQ(parse_retry_after("Sat, 05 Nov 1994 08:49:37 GMT", now), 0s);  // past
  EXPECT_EQ(parse_retry_after("99999999999", now), std::chrono::milliseconds(1000000000000));
  EXPECT_FALSE(parse_retry_after("", now));
  EXPECT_FALSE(parse_retry_after("-1", now));
  EXPECT_FALSE(parse_retry_after("soon", now));
  EXPECT_FALSE(parse_retry_after("5 s", now));
}

TEST(Origin, KeepsSchemeAndHostOnly) {
  EXPECT_EQ(origin_of("https://hooks.slack.com/services/T0/B0/XXX"), "https://hooks.slack.com");
  EXPECT_EQ(origin_of("http://127.0.0.1:8080/x?y#z"), "http://127.0.0.1:8080");
  EXPECT_EQ(origin_of("https://user:pass@ghe.local/api"), "https://ghe.local");
  EXPECT_EQ(origin_of("http://host"), "http://host");
  EXPECT_EQ(origin_of("no scheme"), "");
}

TEST(RealTransport, RetriesAgainstALocalServer) {
  testing::RecordingServer server;
  server.on("POST", "/hook", {{503, "busy", {{"Retry-After", "1"}}}, {500, "oops"}, {200, "done"}});
  server.start();
  FakeClock clock;  // the waits are the fake's; the exchanges are real
  Options o;
  o.clock = &clock;
  o.random = [] { return 0.0; };
  Client client(o);
  Request r;
  r.url = server.url("/hook");
  r.headers["Content-Type"] = "application/json";
  r.body = R"({"a":1})";
  auto sent = client.send(r);
  ASSERT_TRUE(sent.ok()) << sent.error().message;
  EXPECT_EQ(sent->body, "done");
  EXPECT_EQ(clock.sleeps, (std::vector<milliseconds>{1000ms, 1000ms}));
  const auto got = server.requests("/hook");
  ASSERT_EQ(got.size(), 3u);
  for (const auto& req : got) {
    EXPECT_EQ(req.body, R"({"a":1})");
    EXPECT_EQ(req.header("Content-Type"), "application/json");
  }
}

TEST(RealTransport, ConnectionRefusedIsRetriedThenUnavailable) {
  testing::RecordingServer server;
  server.on("POST", "/x", {});
  server.start();
  const std::string url = server.url("/x");
  server.stop();  // nobody listens there now
  FakeClock clock;
  Options o;
  o.clock = &clock;
  o.retry.max_attempts = 3;
  Client client(o);
  Request r;
  r.url = url;
  auto sent = client.send(r);
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.error().code, Errc::unavailable);
  EXPECT_EQ(clock.sleeps.size(), 2u);
}

}  // namespace
}  // namespace conveyor::webclient
