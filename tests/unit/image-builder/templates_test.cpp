#include "templates.hpp"

#include <gtest/gtest.h>

namespace conveyor::image_builder {
namespace {

const std::string kSha = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";

TemplateValues values() {
  TemplateValues v;
  v.version = "1.2.3";
  v.sha = kSha;
  v.branch = "main";
  return v;
}

TEST(Templates, ExpandsEveryPlaceholderAndLiterals) {
  auto tags = render_tags(
      {"{{version}}", "{{sha}}", "{{short-sha}}", "{{branch}}", "latest", "v{{version}}-{{short-sha}}"}, values());
  ASSERT_TRUE(tags.ok()) << tags.error().message;
  EXPECT_EQ(*tags, (std::vector<std::string>{"1.2.3", kSha, "6113728", "main", "latest", "v1.2.3-6113728"}));
}

TEST(Templates, SpacesInsideBracesAreAllowed) {
  auto tag = render_tag("{{ version }}", values());
  ASSERT_TRUE(tag.ok());
  EXPECT_EQ(*tag, "1.2.3");
}

TEST(Templates, DuplicatesAreDroppedKeepingOrder) {
  auto v = values();
  v.version = "main";
  auto tags = render_tags({"latest", "{{branch}}", "{{version}}", "latest"}, v);
  ASSERT_TRUE(tags.ok());
  EXPECT_EQ(*tags, (std::vector<std::string>{"latest", "main"}));
}

TEST(Templates, VersionWithoutVersionOutputIsAnErrorOnlyWhenUsed) {
  auto v = values();
  v.version.reset();
  auto bad = render_tags({"{{sha}}", "{{version}}"}, v);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::invalid_argument);
  EXPECT_NE(bad.error().message.find("run.outputs.version.version"), std::string::npos) << bad.error().message;
  EXPECT_TRUE(render_tags({"{{sha}}", "latest"}, v).ok());
}

TEST(Templates, BranchOnTagRunIsAnError) {
  auto v = values();
  v.branch.reset();
  auto bad = render_tag("{{branch}}", v);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("not for a branch"), std::string::npos);
}

TEST(Templates, BranchAndVersionAreSanitized) {
  auto v = values();
  v.branch = "feature/JIRA-1_x";
  v.version = "1.2.3+build.5";
  EXPECT_EQ(*render_tag("{{branch}}", v), "feature-JIRA-1_x");
  EXPECT_EQ(*render_tag("{{version}}", v), "1.2.3-build.5");
  v.branch = "-/-x";
  EXPECT_EQ(*render_tag("{{branch}}", v), "x");
}

TEST(Templates, UnknownOrUnterminatedPlaceholders) {
  auto unknown = render_tag("{{commit}}", values());
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("unknown placeholder {{commit}}"), std::string::npos);
  EXPECT_FALSE(render_tag("v{{version", values()).ok());
}

TEST(Templates, InvalidResultingTagsAreRefused) {
  EXPECT_FALSE(render_tag("has space", values()).ok());
  EXPECT_FALSE(render_tag("-leading", values()).ok());
  EXPECT_FALSE(render_tag(std::string(129, 'a'), values()).ok());
  EXPECT_TRUE(render_tag(std::string(128, 'a'), values()).ok());
  EXPECT_FALSE(render_tags({}, values()).ok());
}

TEST(Templates, ValuesComeFromTheRun) {
  events::RunContext run;
  run.sha = kSha;
  run.ref_kind = "branch";
  run.ref_name = "main";
  auto v = template_values(run);
  EXPECT_FALSE(v.version.has_value());
  EXPECT_EQ(v.branch.value_or(""), "main");
  run.outputs["version"] = {{"version", "2.0.0"}, {"tag", "v2.0.0"}};
  run.ref_kind = "tag";
  run.ref_name = "v2.0.0";
  v = template_values(run);
  EXPECT_EQ(v.version.value_or(""), "2.0.0");
  EXPECT_FALSE(v.branch.has_value());
  run.ref_kind = "pull_request";
  run.ref_name = "fix/thing";
  EXPECT_EQ(template_values(run).branch.value_or(""), "fix/thing");
}

}  // namespace
}  // namespace conveyor::image_builder
