#include "conveyor/logging/log.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace conveyor::log {
namespace {

// Captures what the logger writes to stderr during `fn`.
template <typename Fn>
std::string capture_stderr(Fn fn) {
  char path[] = "/tmp/conveyor-log-test-XXXXXX";
  const int fd = ::mkstemp(path);
  const int saved = ::dup(STDERR_FILENO);
  ::dup2(fd, STDERR_FILENO);
  fn();
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  ::close(fd);
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  ::unlink(path);
  return ss.str();
}

TEST(Logger, WritesOneJsonObjectPerLineWithFields) {
  set_level(Level::info);
  const auto out = capture_stderr([] {
    Logger("webhook").info("run started", {{"run_id", "r-1"}, {"delivery_id", "d-1"}});
  });
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back(), '\n');
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["component"], "webhook");
  EXPECT_EQ(j["msg"], "run started");
  EXPECT_EQ(j["run_id"], "r-1");
  EXPECT_EQ(j["delivery_id"], "d-1");
  EXPECT_EQ(j["ts"].get<std::string>().size(), 24u);
}

TEST(Logger, HostileStringsCannotForgeLines) {
  set_level(Level::info);
  const std::string branch = "main\n{\"level\":\"error\",\"msg\":\"forged\"}\r\t\x01\"\\";
  const std::string bad_utf8 = "caf\xc3\xa9 \xff\xfe";
  const auto out = capture_stderr([&] {
    Logger("webhook").warn(branch, {{"ref", branch}, {"msg2", bad_utf8}, {"ok_utf8", "café ☕"}});
  });
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1);
  const auto j = nlohmann::json::parse(out);  // must be valid JSON (and valid UTF-8)
  EXPECT_EQ(j["msg"], branch);
  EXPECT_EQ(j["ref"], branch);
  EXPECT_EQ(j["ok_utf8"], "café ☕");
  EXPECT_NE(j["msg2"].get<std::string>().find("caf"), std::string::npos);
}

TEST(Logger, LevelFilters) {
  set_level(Level::warn);
  const auto out = capture_stderr([] {
    Logger("x").info("hidden");
    Logger("x").debug("hidden");
    Logger("x").error("shown");
  });
  set_level(Level::info);
  EXPECT_EQ(out.find("hidden"), std::string::npos);
  EXPECT_NE(out.find("shown"), std::string::npos);
  EXPECT_EQ(parse_level("debug"), Level::debug);
  EXPECT_EQ(parse_level("warning"), Level::warn);
  EXPECT_EQ(parse_level("nonsense"), Level::info);
}

TEST(TraceContext, ParseAndMint) {
  EXPECT_EQ(trace_id_of("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(trace_id_of("00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01"), "");
  EXPECT_EQ(trace_id_of("00-00000000000000000000000000000000-00f067aa0ba902b7-01"), "");
  EXPECT_EQ(trace_id_of("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"), "");
  const auto tp = new_traceparent();
  EXPECT_EQ(tp.size(), 55u);
  EXPECT_EQ(trace_id_of(tp).size(), 32u);
  EXPECT_NE(new_traceparent(), tp);
}

}  // namespace
}  // namespace conveyor::log
