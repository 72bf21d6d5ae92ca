#include "conveyor/http/server.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "conveyor/http/client.hpp"
#include "raw_connection.hpp"

namespace conveyor::http {
namespace {

using namespace std::chrono_literals;
using test::RawConnection;

std::string url(const Server& s, const std::string& path) {
  return "http://127.0.0.1:" + std::to_string(s.port()) + path;
}

// Waits for `pred` with a deadline; true when it held in time.
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds deadline = 5s) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return pred();
}

class ServerTest : public ::testing::Test {
 protected:
  // Builds (not starts) a server with echo and hello routes.
  void make(ServerOptions opts = {}) {
    server_ = std::make_unique<Server>(opts);
    server_->route("GET", "/hello", [this](Request&& req, Reply reply) {
      last_target_ = req.target;
      last_path_ = req.path;
      last_remote_ = req.remote;
      reply(text_response(200, "hello"));
    });
    server_->route("POST", "/echo", [this](Request&& req, Reply reply) {
      ++echo_calls_;
      Response r;
      r.content_type = "application/octet-stream";
      r.body = std::move(req.body);
      r.headers.emplace("X-Seen-Content-Type", req.header("content-type"));
      reply(std::move(r));
    });
    server_->route("PUT", "/echo", [](Request&&, Reply reply) { reply(text_response(200, "put")); });
  }
  void start() { ASSERT_TRUE(server_->start().ok()); }

  std::unique_ptr<Server> server_;
  std::string last_target_, last_path_, last_remote_;
  std::atomic<int> echo_calls_{0};
};

TEST_F(ServerTest, RouteHitReturnsBodyWithServerHeaderAndContentLength) {
  make();
  start();
  ASSERT_NE(server_->port(), 0);
  RawConnection c(server_->port());
  ASSERT_TRUE(c.send("GET /hello?x=1&y=2 HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello");
  EXPECT_EQ(r->header("Server"), "conveyor");
  EXPECT_EQ(r->header("Content-Length"), "5");
  EXPECT_EQ(r->header("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(last_target_, "/hello?x=1&y=2");
  EXPECT_EQ(last_path_, "/hello");
  EXPECT_EQ(last_remote_.rfind("127.0.0.1:", 0), 0u) << last_remote_;
}

TEST_F(ServerTest, UnknownPathIs404) {
  make();
  start();
  auto r = request("GET", url(*server_, "/nope"), {}, "", 5s);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 404);
}

TEST_F(ServerTest, KnownPathWrongMethodIs405WithAllow) {
  make();
  start();
  auto r = request("DELETE", url(*server_, "/echo"), {}, "", 5s);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 405);
  auto it = r->headers.find("allow");
  ASSERT_NE(it, r->headers.end());
  EXPECT_EQ(it->second, "POST, PUT");
}

TEST_F(ServerTest, BodyIsEchoedByteExactIncludingBinary) {
  make();
  start();
  std::string body;
  for (int round = 0; round < 4; ++round) {
    for (int b = 0; b < 256; ++b) body.push_back(static_cast<char>(b));
  }
  body += std::string("\0\r\n\r\n\0", 6);
  Headers h{{"Content-Type", "application/x-test"}};
  auto r = request("POST", url(*server_, "/echo"), h, body, 5s);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  ASSERT_EQ(r->body.size(), body.size());
  EXPECT_EQ(r->body, body);
  EXPECT_EQ(r->headers["x-seen-content-type"], "application/x-test");
}

TEST_F(ServerTest, ContentLengthOverLimitIs413BeforeBodyIsSent) {
  ServerOptions opts;
  opts.max_body_bytes = 25u << 20;
  opts.read_timeout = 30s;  // a server that waited for the body would not answer in time
  make(opts);
  start();
  RawConnection c(server_->port(), 5s);
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: " +
                     std::to_string(30u << 20) + "\r\n\r\n"));
  auto r = c.read_response();  // no body byte has been sent
  ASSERT_TRUE(r) << "no response while the body was withheld";
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(r->header("Connection"), "close");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_EQ(echo_calls_.load(), 0);
}

TEST_F(ServerTest, ContentLengthAtLimitIsAccepted) {
  ServerOptions opts;
  opts.max_body_bytes = 1000;
  make(opts);
  start();
  auto r = request("POST", url(*server_, "/echo"), {}, std::string(1000, 'x'), 5s);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body.size(), 1000u);
  auto over = request("POST", url(*server_, "/echo"), {}, std::string(1001, 'x'), 5s);
  // The server may reset while the client still writes; either way no 200.
  if (over.ok()) {
    EXPECT_EQ(over->status, 413);
  }
}

TEST_F(ServerTest, OversizeHeadersAre431) {
  ServerOptions opts;
  opts.max_header_bytes = 1024;
  make(opts);
  start();
  RawConnection c(server_->port());
  ASSERT_TRUE(c.send("GET /hello HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(8192, 'a') + "\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_EQ(r->header("Connection"), "close");
  EXPECT_TRUE(c.closed_by_peer());
}

TEST_F(ServerTest, MalformedRequestLineIs400AndCloses) {
  make();
  start();
  for (const std::string bad : {"this is not http\r\n\r\n", "GET /hello HTTP/9\r\n\r\n", "GET\r\n\r\n",
                                "GET /hello HTTP/1.1\r\nBad Header\r\n\r\n",
                                "POST /echo HTTP/1.1\r\nContent-Length: abc\r\n\r\n"}) {
    RawConnection c(server_->port());
    ASSERT_TRUE(c.send(bad));
    auto r = c.read_response();
    ASSERT_TRUE(r) << bad;
    EXPECT_EQ(r->status, 400) << bad;
    EXPECT_TRUE(c.closed_by_peer()) << bad;
  }
}

TEST_F(ServerTest, ChunkedBodyIsDecoded) {
  make();
  start();
  RawConnection c(server_->port());
  ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello world");
}

TEST_F(ServerTest, ChunkedBodyOverLimitIs413) {
  ServerOptions opts;
  opts.max_body_bytes = 1024;
  make(opts);
  start();
  RawConnection c(server_->port());
  std::string chunk(1000, 'z');
  ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"));
  ASSERT_TRUE(c.send("3e8\r\n" + chunk + "\r\n"));
  c.send("3e8\r\n" + chunk + "\r\n");  // may already be refused
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_EQ(echo_calls_.load(), 0);
}

TEST_F(ServerTest, HandlerRepliesFromAnotherThreadAfterADelay) {
  Server server(ServerOptions{});
  std::vector<std::thread> workers;
  std::mutex mu;
  std::thread::id handler_thread, reply_thread;
  server.route("GET", "/later", [&](Request&& req, Reply reply) {
    std::lock_guard lock(mu);
    handler_thread = std::this_thread::get_id();
    workers.emplace_back([&, reply, body = req.target] {
      std::this_thread::sleep_for(50ms);  // the "slow dependency"
      {
        std::lock_guard l(mu);
        reply_thread = std::this_thread::get_id();
      }
      reply(text_response(202, "later:" + body));
    });
  });
  ASSERT_TRUE(server.start().ok());
  RawConnection c(server.port());
  // Two requests on one connection: the deferred reply must keep keep-alive working.
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(c.send("GET /later?i=" + std::to_string(i) + " HTTP/1.1\r\nHost: t\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 202);
    EXPECT_EQ(r->body, "later:/later?i=" + std::to_string(i));
  }
  {
    std::lock_guard lock(mu);
    EXPECT_NE(handler_thread, reply_thread);
  }
  for (auto& t : workers) t.join();
}

TEST_F(ServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  make();
  start();
  RawConnection c(server_->port());
  ASSERT_TRUE(c.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r1 = c.read_response();
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->status, 200);
  EXPECT_NE(r1->header("Connection"), "close");
  const std::string remote1 = last_remote_;
  ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"));
  auto r2 = c.read_response();
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->status, 200);
  EXPECT_EQ(r2->body, "abc");
  ASSERT_TRUE(c.send("GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
  auto r3 = c.read_response();
  ASSERT_TRUE(r3);
  EXPECT_EQ(r3->header("Connection"), "close");
  EXPECT_EQ(last_remote_, remote1);  // same TCP connection throughout
  EXPECT_TRUE(c.closed_by_peer());
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  make();
  start();
  RawConnection c(server_->port());
  ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nA"
                     "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nB"));
  auto a = c.read_response();
  auto b = c.read_response();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->body, "A");
  EXPECT_EQ(b->body, "B");
}

TEST_F(ServerTest, HttpOneZeroClosesByDefault) {
  make();
  start();
  RawConnection c(server_->port());
  ASSERT_TRUE(c.send("GET /hello HTTP/1.0\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->head.rfind("HTTP/1.0 200", 0), 0u);
  EXPECT_TRUE(c.closed_by_peer());
}

TEST_F(ServerTest, ExpectContinueGetsInterimResponse) {
  make();
  start();
  RawConnection c(server_->port());
  ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"));
  auto interim = c.read_response();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(c.send("data"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "data");
}

TEST_F(ServerTest, ManyConcurrentClientsAreAllAnswered) {
  ServerOptions opts;
  opts.threads = 4;
  make(opts);
  start();
  constexpr int kThreads = 8, kRequests = 200;
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kThreads; ++t) {
    clients.emplace_back([&, t] {
      // Half the threads use one keep-alive connection, half a connection per request.
      if (t % 2 == 0) {
        RawConnection c(server_->port());
        for (int i = 0; i < kRequests; ++i) {
          std::string body = std::to_string(t) + ":" + std::to_string(i);
          if (!c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body.size()) +
                      "\r\n\r\n" + body)) {
            return;
          }
          auto r = c.read_response();
          if (r && r->status == 200 && r->body == body) ++ok;
        }
      } else {
        for (int i = 0; i < kRequests; ++i) {
          std::string body = std::to_string(t) + ":" + std::to_string(i);
          auto r = request("POST", url(*server_, "/echo"), {}, body, 10s);
          if (r.ok() && r->status == 200 && r->body == body) ++ok;
        }
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(ok.load(), kThreads * kRequests);
  EXPECT_EQ(echo_calls_.load(), kThreads * kRequests);
}

TEST_F(ServerTest, HandlerThatThrowsGets500) {
  Server server(ServerOptions{});
  server.route("GET", "/boom", [](Request&&, Reply) { throw std::runtime_error("kaboom"); });
  ASSERT_TRUE(server.start().ok());
  RawConnection c(server.port());
  ASSERT_TRUE(c.send("GET /boom HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  // The connection stays usable.
  ASSERT_TRUE(c.send("GET /boom HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r2 = c.read_response();
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->status, 500);
}

TEST_F(ServerTest, SecondReplyIsIgnored) {
  Server server(ServerOptions{});
  server.route("GET", "/twice", [](Request&&, Reply reply) {
    reply(text_response(200, "first"));
    reply(text_response(500, "second"));
  });
  server.route("GET", "/twice-then-throw", [](Request&&, Reply reply) {
    reply(text_response(201, "replied"));
    throw std::runtime_error("after reply");
  });
  ASSERT_TRUE(server.start().ok());
  RawConnection c(server.port());
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(c.send("GET /twice HTTP/1.1\r\nHost: t\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "first");
  }
  ASSERT_TRUE(c.send("GET /twice-then-throw HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201);
  // Nothing else arrives before the next request's answer.
  ASSERT_TRUE(c.send("GET /twice HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r2 = c.read_response();
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->body, "first");
}

TEST_F(ServerTest, ResponseHeadersAndStatusAreSent) {
  Server server(ServerOptions{});
  server.route("POST", "/created", [](Request&&, Reply reply) {
    Response r = json_response(201, R"({"id":1})");
    r.headers.emplace("Location", "/things/1");
    r.headers.emplace("X-Evil", "a\r\nInjected: yes");  // dropped, never written raw
    reply(std::move(r));
  });
  ASSERT_TRUE(server.start().ok());
  auto r = request("POST", url(server, "/created"), {}, "{}", 5s);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, R"({"id":1})");
  EXPECT_EQ(r->headers["content-type"], "application/json");
  EXPECT_EQ(r->headers["location"], "/things/1");
  EXPECT_EQ(r->headers.count("Injected"), 0u);
  EXPECT_EQ(r->headers.count("X-Evil"), 0u);
}

TEST_F(ServerTest, ReadTimeoutClosesASlowRequest) {
  ServerOptions opts;
  opts.read_timeout = 200ms;
  make(opts);
  start();
  RawConnection c(server_->port(), 5s);
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.send("GET /hello HTTP/1.1\r\nHost: t\r\n"));  // never finished
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
}

TEST_F(ServerTest, IdleKeepAliveConnectionIsClosed) {
  ServerOptions opts;
  opts.idle_timeout = 200ms;
  make(opts);
  start();
  RawConnection c(server_->port(), 5s);
  ASSERT_TRUE(c.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(c.read_response());
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
}

TEST_F(ServerTest, SurvivesGarbageInput) {
  make();
  start();
  std::mt19937 rng(12345);
  for (int i = 0; i < 50; ++i) {
    RawConnection c(server_->port(), 2s);
    std::string junk(1 + rng() % 4096, '\0');
    for (auto& ch : junk) ch = static_cast<char>(rng());
    if (i % 3 == 0) junk = "GET /hello HTTP/1.1\r\n" + junk;
    if (i % 5 == 0) junk += "\r\n\r\n";
    c.send(junk);
    c.read_response();  // whatever it is (400, or a close)
  }
  auto r = request("GET", url(*server_, "/hello"), {}, "", 5s);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
}

TEST_F(ServerTest, StopClosesConnectionsAndIsIdempotent) {
  make();
  start();
  RawConnection idle(server_->port(), 5s);
  ASSERT_TRUE(idle.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(idle.read_response());
  server_->stop();
  EXPECT_TRUE(idle.closed_by_peer());
  server_->stop();
  auto r = request("GET", "http://127.0.0.1:" + std::to_string(server_->port()) + "/hello", {}, "", 2s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::unavailable);
  server_.reset();  // destructor after stop
}

TEST_F(ServerTest, ReplyKeptPastStopIsHarmless) {
  Reply kept;
  std::atomic<bool> got{false};
  auto server = std::make_unique<Server>(ServerOptions{});
  server->route("GET", "/hold", [&](Request&&, Reply reply) {
    kept = std::move(reply);
    got = true;
  });
  ASSERT_TRUE(server->start().ok());
  RawConnection c(server->port(), 5s);
  ASSERT_TRUE(c.send("GET /hold HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(eventually([&] { return got.load(); }));
  server->stop();
  EXPECT_TRUE(c.closed_by_peer());
  server.reset();
  kept(text_response(200, "too late"));  // dropped, no crash
  kept = nullptr;
}

TEST_F(ServerTest, StopFromInsideAHandlerDoesNotDeadlock) {
  auto server = std::make_shared<Server>(ServerOptions{});
  std::atomic<bool> stopped{false};
  server->route("GET", "/stop", [&](Request&&, Reply reply) {
    reply(text_response(200, "bye"));
    server->stop();
    stopped = true;
  });
  ASSERT_TRUE(server->start().ok());
  RawConnection c(server->port(), 5s);
  ASSERT_TRUE(c.send("GET /stop HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(eventually([&] { return stopped.load(); }));
  server->stop();
  server.reset();
}

TEST_F(ServerTest, StartErrors) {
  make();
  start();
  EXPECT_FALSE(server_->start().ok());  // twice
  ServerOptions opts;
  opts.port = server_->port();
  Server clash(opts);
  auto r = clash.start();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::unavailable);
  ServerOptions bad;
  bad.host = "256.1.1.1";
  Server unresolvable(bad);
  EXPECT_FALSE(unresolvable.start().ok());
}

TEST_F(ServerTest, ListensOnIpv6Loopback) {
  ServerOptions opts;
  opts.host = "::1";
  Server server(opts);
  server.route("GET", "/v6", [](Request&& req, Reply reply) { reply(text_response(200, req.remote)); });
  auto started = server.start();
  if (!started.ok()) GTEST_SKIP() << "no IPv6 loopback: " << started.error().message;
  auto r = request("GET", "http://[::1]:" + std::to_string(server.port()) + "/v6", {}, "", 5s);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->body.rfind("[::1]:", 0), 0u) << r->body;
}

TEST(HeadersTest, AreCaseInsensitive) {
  Request req;
  req.headers.emplace("X-GitHub-Event", "push");
  EXPECT_EQ(req.header("x-github-event"), "push");
  EXPECT_EQ(req.header("X-GITHUB-EVENT"), "push");
  EXPECT_EQ(req.header("missing"), "");
}

}  // namespace
}  // namespace conveyor::http
