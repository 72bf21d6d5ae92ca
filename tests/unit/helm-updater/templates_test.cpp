#include "templates.hpp"

#include <gtest/gtest.h>

namespace conveyor::helm_updater {
namespace {

using json = nlohmann::json;
const std::string kSha = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";

TemplateValues values() {
  TemplateValues v;
  v.version = "1.4.0";
  v.sha = kSha;
  v.digests = {{"imprun-server", "sha256:aaaa"}, {"imprun-console", "sha256:bbbb"}};
  return v;
}

TEST(Templates, Placeholders) {
  EXPECT_EQ(*render("{{version}}", values()), "1.4.0");
  EXPECT_EQ(*render("v{{ version }}", values()), "v1.4.0");
  EXPECT_EQ(*render("{{sha}}", values()), kSha);
  EXPECT_EQ(*render("{{short-sha}}", values()), "6113728");
  EXPECT_EQ(*render("{{version}}-{{short-sha}}", values()), "1.4.0-6113728");
  EXPECT_EQ(*render("registry.example.com/imprun/imprun-server@{{digest:imprun-server}}", values()),
            "registry.example.com/imprun/imprun-server@sha256:aaaa");
  EXPECT_EQ(*render("{{ digest: imprun-console }}", values()), "sha256:bbbb");
  EXPECT_EQ(*render("latest", values()), "latest");
  EXPECT_EQ(*render("", values()), "");
}

TEST(Templates, Errors) {
  auto expect = [](const std::string& tmpl, const TemplateValues& v, const std::string& fragment) {
    auto r = render(tmpl, v);
    ASSERT_FALSE(r.ok()) << tmpl;
    EXPECT_EQ(r.error().code, Errc::invalid_argument);
    EXPECT_NE(r.error().message.find(fragment), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("template '" + tmpl + "'"), std::string::npos) << r.error().message;
  };
  expect("{{branch}}", values(), "unknown placeholder {{branch}}");
  expect("{{version", values(), "unterminated");
  expect("{{digest:}}", values(), "needs an image name");
  expect("{{digest:nope}}", values(), "no digest for image 'nope' (it reported: imprun-console, imprun-server)");
  TemplateValues none;
  none.sha = kSha;
  expect("{{version}}", none, "needs the version stage's output");
  expect("{{digest:x}}", none, "(it reported none)");
}

TEST(Templates, ValuesFromTheRunOutputs) {
  events::RunContext run;
  run.sha = kSha;
  run.outputs = {{"version", {{"version", "2.0.0"}, {"previous", "1.9.0"}}},
                 {"build", {{"images", {{"server", {{"digest", "sha256:cc"}, {"tags", {"2.0.0"}}}},
                                        {"broken", {{"tags", {"x"}}}}}}}}};
  const auto v = template_values(run);
  EXPECT_EQ(v.version.value_or(""), "2.0.0");
  EXPECT_EQ(v.sha, kSha);
  ASSERT_EQ(v.digests.size(), 1u);
  EXPECT_EQ(v.digests.at("server"), "sha256:cc");

  run.outputs = {{"version", {{"version", ""}}}, {"build", "weird"}};
  const auto w = template_values(run);
  EXPECT_FALSE(w.version.has_value());
  EXPECT_TRUE(w.digests.empty());
}

}  // namespace
}  // namespace conveyor::helm_updater
