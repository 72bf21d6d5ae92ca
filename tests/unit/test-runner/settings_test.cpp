#include "settings.hpp"

#include <gtest/gtest.h>

namespace conveyor::test_runner {
namespace {

using nlohmann::json;

TEST(TestSettings, ParsesEverything) {
  const auto s = parse_test_settings(json::parse(R"({
    "steps": [
      {"name": "unit", "run": "make test", "working-directory": "server", "env": {"NODE_ENV": "test"}, "timeout": "10m"},
      {"run": "true"}
    ],
    "junit": ["server/reports/*.xml"],
    "timeout": "30m",
    "keep-workspaces": true,
    "secrets": {"NPM_TOKEN": {"env": "NPM_TOKEN"}},
    "clone-token": {"file": "/run/secrets/token"}
  })"));
  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_EQ(s->steps.size(), 2u);
  EXPECT_EQ(s->steps[0].name, "unit");
  EXPECT_EQ(s->steps[0].working_directory, "server");
  EXPECT_EQ(s->steps[0].env.at("NODE_ENV"), "test");
  EXPECT_EQ(*s->steps[0].timeout, std::chrono::minutes(10));
  EXPECT_EQ(s->steps[1].name, "step 2");
  EXPECT_FALSE(s->steps[1].timeout);
  EXPECT_EQ(s->junit, std::vector<std::string>{"server/reports/*.xml"});
  EXPECT_EQ(s->timeout, std::chrono::minutes(30));
  EXPECT_TRUE(s->keep_workspaces);
  EXPECT_EQ(s->secrets.at("NPM_TOKEN").env, "NPM_TOKEN");
  EXPECT_EQ(s->clone_token->file, "/run/secrets/token");
}

TEST(TestSettings, DefaultsAndErrorsNameTheKey) {
  const auto d = parse_test_settings(json::parse(R"({"steps": [{"run": "true"}]})"));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->timeout, kDefaultStageTimeout);
  EXPECT_FALSE(d->keep_workspaces);

  const std::pair<const char*, const char*> cases[] = {
      {R"({})", "steps"},
      {R"({"steps": []})", "steps"},
      {R"({"steps": [{"name": "x"}]})", "steps[0].run"},
      {R"({"steps": [{"run": "x", "working-directory": "../up"}]})", "steps[0].working-directory"},
      {R"({"steps": [{"run": "x", "working-directory": "/etc"}]})", "steps[0].working-directory"},
      {R"({"steps": [{"run": "x", "timeout": "soon"}]})", "steps[0].timeout"},
      {R"({"steps": [{"run": "x", "env": {"A-B": "1"}}]})", "steps[0].env.A-B"},
      {R"({"steps": [{"run": "x"}], "junit": ["../x.xml"]})", "junit[0]"},
      {R"({"steps": [{"run": "x"}], "secrets": {"T": {"env": "A", "file": "/b"}}})", "secrets.T"},
  };
  for (const auto& [text, key] : cases) {
    const auto r = parse_test_settings(json::parse(text));
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error().code, Errc::invalid_argument);
    EXPECT_NE(r.error().message.find(key), std::string::npos) << r.error().message;
  }
}

TEST(TestSettings, InsideRelative) {
  EXPECT_TRUE(is_inside_relative(""));
  EXPECT_TRUE(is_inside_relative("."));
  EXPECT_TRUE(is_inside_relative("a/b/../c"));
  EXPECT_TRUE(is_inside_relative("a/.."));
  EXPECT_FALSE(is_inside_relative(".."));
  EXPECT_FALSE(is_inside_relative("a/../../b"));
  EXPECT_FALSE(is_inside_relative("/abs"));
}

TEST(ServiceSettings, DefaultsAndSection) {
  config::Config c;
  c.raw = json::object();
  auto d = service_settings(c);
  EXPECT_EQ(d.concurrency, 2);
  EXPECT_NE(d.workspace_dir.find("conveyor-test-runner"), std::string::npos);
  EXPECT_EQ(d.log_dir, d.workspace_dir + "/logs");
  c.raw = json::parse(R"({"test-runner": {"concurrency": 4, "workspace-dir": "/w", "keep-workspaces": true}})");
  auto s = service_settings(c);
  EXPECT_EQ(s.concurrency, 4);
  EXPECT_EQ(s.workspace_dir, "/w");
  EXPECT_EQ(s.log_dir, "/w/logs");
  EXPECT_TRUE(s.keep_workspaces);
}

}  // namespace
}  // namespace conveyor::test_runner
