#include <gtest/gtest.h>

#include <string>

#include "conveyor/http/server.hpp"

namespace conveyor::http {
namespace {

TEST(ParseListenTest, AcceptsHostPortForms) {
  struct Case {
    const char* in;
    const char* host;
    std::uint16_t port;
  };
  for (const auto& c : {Case{"127.0.0.1:8080", "127.0.0.1", 8080}, Case{"0.0.0.0:0", "0.0.0.0", 0},
                        Case{"localhost:9", "localhost", 9}, Case{"[::1]:8080", "::1", 8080},
                        Case{"[::]:65535", "::", 65535}, Case{":8081", "0.0.0.0", 8081}}) {
    auto r = parse_listen(c.in);
    ASSERT_TRUE(r.ok()) << c.in << ": " << r.error().message;
    EXPECT_EQ(r->first, c.host) << c.in;
    EXPECT_EQ(r->second, c.port) << c.in;
  }
}

TEST(ParseListenTest, RejectsBadInputAndNamesIt) {
  for (const char* bad : {"127.0.0.1", "127.0.0.1:", "host:65536", "host:99999999999999999999", "host:http",
                          "host:80x", "host:-1", "[::1]", "[::1]8080", "[::1", "::1:8080", "[]:80", ""}) {
    auto r = parse_listen(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, Errc::invalid_argument) << bad;
    EXPECT_NE(r.error().message.find(std::string("\"") + bad + "\""), std::string::npos) << r.error().message;
  }
}

}  // namespace
}  // namespace conveyor::http
