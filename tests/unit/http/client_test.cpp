#include "conveyor/http/client.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "conveyor/http/server.hpp"

namespace conveyor::http {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

TEST(ClientTest, SendsHostUserAgentContentLengthAndReadsResponse) {
  Server server(ServerOptions{});
  std::mutex mu;
  Request seen;
  server.route("PUT", "/items/7", [&](Request&& req, Reply reply) {
    {
      std::lock_guard lock(mu);
      seen = req;
    }
    Response r = json_response(200, R"({"ok":true})");
    r.headers.emplace("X-Request-Id", "abc");
    reply(std::move(r));
  });
  ASSERT_TRUE(server.start().ok());
  const std::string port = std::to_string(server.port());
  auto r = request("PUT", "http://127.0.0.1:" + port + "/items/7?force=1", {{"X-Custom", "v"}}, "payload", 5s);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"ok":true})");
  EXPECT_EQ(r->headers["x-request-id"], "abc");
  EXPECT_EQ(r->headers["Content-Type"], "application/json");
  EXPECT_EQ(r->headers["server"], "conveyor");
  std::lock_guard lock(mu);
  EXPECT_EQ(seen.method, "PUT");
  EXPECT_EQ(seen.target, "/items/7?force=1");
  EXPECT_EQ(seen.header("Host"), "127.0.0.1:" + port);
  EXPECT_EQ(seen.header("User-Agent"), "conveyor");
  EXPECT_EQ(seen.header("Content-Length"), "7");
  EXPECT_EQ(seen.header("X-Custom"), "v");
  EXPECT_EQ(seen.body, "payload");
}

TEST(ClientTest, TargetDefaultsToSlash) {
  Server server(ServerOptions{});
  server.route("GET", "/", [](Request&& req, Reply reply) { reply(text_response(200, req.target)); });
  ASSERT_TRUE(server.start().ok());
  auto r = request("GET", "http://localhost:" + std::to_string(server.port()), {}, "", 5s);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->body, "/");
  auto q = request("GET", "http://127.0.0.1:" + std::to_string(server.port()) + "?a=b", {}, "", 5s);
  ASSERT_TRUE(q.ok()) << q.error().message;
  EXPECT_EQ(q->body, "/?a=b");
}

TEST(ClientTest, ConnectionRefusedIsUnavailable) {
  std::uint16_t port;
  {
    asio::io_context ioc;
    tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = a.local_endpoint().port();
  }  // closed: nothing listens there now
  auto r = request("GET", "http://127.0.0.1:" + std::to_string(port) + "/", {}, "", 5s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::unavailable) << r.error().message;
}

TEST(ClientTest, TimesOutAgainstAServerThatNeverReplies) {
  asio::io_context ioc;
  // Listening but never accepting: the kernel completes the handshake, the
  // request is written, no response ever comes.
  tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto t0 = std::chrono::steady_clock::now();
  auto r = request("GET", "http://127.0.0.1:" + std::to_string(a.local_endpoint().port()) + "/secret?token=x", {},
                   "", 300ms);
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::timeout) << r.error().message;
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 5s);
  // The message names the peer but not the path or query.
  EXPECT_EQ(r.error().message.find("token"), std::string::npos) << r.error().message;
}

TEST(ClientTest, TimesOutWhenTheHandlerNeverReplies) {
  Server server(ServerOptions{});
  Reply kept;
  server.route("GET", "/never", [&](Request&&, Reply reply) { kept = std::move(reply); });
  ASSERT_TRUE(server.start().ok());
  auto r = request("GET", "http://127.0.0.1:" + std::to_string(server.port()) + "/never", {}, "", 200ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::timeout);
  server.stop();
}

TEST(ClientTest, RejectsBadUrls) {
  for (const std::string bad : {"https://", "ftp://x/", "example.com/path", "http://", "http:///path",
                                "http://host:/", "http://host:99999/", "http://host:abc/", "http://[::1/",
                                "http://user:pw@host/", "http://host/a b"}) {
    auto r = request("GET", bad, {}, "", 1s);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, Errc::invalid_argument) << bad;
  }
}

TEST(ClientTest, RejectsHeaderInjection) {
  auto r = request("GET", "http://127.0.0.1:1/", {{"X-A", "v\r\nX-B: w"}}, "", 1s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
}

}  // namespace
}  // namespace conveyor::http
