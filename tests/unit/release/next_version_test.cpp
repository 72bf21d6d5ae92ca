#include "conveyor/release/next_version.hpp"

#include <gtest/gtest.h>

namespace conveyor::release {
namespace {

std::string next(std::vector<std::string> tags, ReleaseType type, std::string prerelease = "", std::string prefix = "v") {
  VersionRequest r;
  r.tags = std::move(tags);
  r.release = type;
  r.prerelease = std::move(prerelease);
  r.tag_prefix = std::move(prefix);
  auto v = next_version(r);
  EXPECT_TRUE(v.ok());
  if (!v.ok() || !v.value()) return "none";
  return v.value()->to_string();
}

TEST(NextVersion, FirstReleaseIsOneZeroZero) {
  EXPECT_EQ(next({}, ReleaseType::patch), "1.0.0");
  EXPECT_EQ(next({}, ReleaseType::major), "1.0.0");
  EXPECT_EQ(next({"latest", "release-7", "v1.2"}, ReleaseType::minor), "1.0.0");  // non-SemVer tags ignored
}

TEST(NextVersion, NoReleaseTypeNoVersion) { EXPECT_EQ(next({"v1.0.0"}, ReleaseType::none), "none"); }

TEST(NextVersion, BumpsTheHighestRelease) {
  const std::vector<std::string> tags = {"v1.2.3", "v1.10.0", "v1.9.9", "v2.0.0-beta.1", "other"};
  EXPECT_EQ(next(tags, ReleaseType::patch), "1.10.1");
  EXPECT_EQ(next(tags, ReleaseType::minor), "1.11.0");
  EXPECT_EQ(next(tags, ReleaseType::major), "2.0.0");
}

TEST(NextVersion, TagPrefix) {
  EXPECT_EQ(next({"v9.0.0", "app-1.4.0"}, ReleaseType::minor, "", "app-"), "1.5.0");
  EXPECT_EQ(next({"1.4.0"}, ReleaseType::patch, "", ""), "1.4.1");
}

TEST(NextVersion, PrereleaseFromARelease) {
  EXPECT_EQ(next({}, ReleaseType::minor, "beta"), "1.0.0-beta.1");
  EXPECT_EQ(next({"v1.0.0"}, ReleaseType::minor, "beta"), "1.1.0-beta.1");
  EXPECT_EQ(next({"v1.0.0"}, ReleaseType::major, "beta"), "2.0.0-beta.1");
  EXPECT_EQ(next({"v1.0.0"}, ReleaseType::patch, "beta"), "1.0.1-beta.1");
}

TEST(NextVersion, PrereleaseNumbersIncrement) {
  EXPECT_EQ(next({"v1.0.0", "v1.1.0-beta.1"}, ReleaseType::minor, "beta"), "1.1.0-beta.2");
  EXPECT_EQ(next({"v1.0.0", "v1.1.0-beta.1", "v1.1.0-beta.2"}, ReleaseType::patch, "beta"), "1.1.0-beta.3");
  EXPECT_EQ(next({"v1.0.0", "v1.1.0-beta.9"}, ReleaseType::minor, "beta"), "1.1.0-beta.10");
}

TEST(NextVersion, BiggerChangeRestartsThePrerelease) {
  EXPECT_EQ(next({"v1.0.0", "v1.1.0-beta.2"}, ReleaseType::major, "beta"), "2.0.0-beta.1");
  EXPECT_EQ(next({"v1.0.0", "v1.0.1-beta.1"}, ReleaseType::minor, "beta"), "1.1.0-beta.1");
  // Already on a major prerelease: a minor change keeps counting.
  EXPECT_EQ(next({"v1.0.0", "v2.0.0-beta.1"}, ReleaseType::minor, "beta"), "2.0.0-beta.2");
}

TEST(NextVersion, OtherChannelsAreIgnoredForTheLastRelease) {
  // alpha tags are not this branch's releases, but they count as "latest".
  EXPECT_EQ(next({"v1.0.0", "v1.1.0-alpha.3"}, ReleaseType::minor, "beta"), "1.1.0-beta.1");
  EXPECT_EQ(next({"v1.0.0", "v1.1.0-beta.1", "v3.0.0-alpha.1"}, ReleaseType::minor, "beta"), "3.0.0-beta.1");
  // A release newer than the prereleases wins.
  EXPECT_EQ(next({"v1.1.0-beta.4", "v1.1.0"}, ReleaseType::patch, "beta"), "1.1.1-beta.1");
}

TEST(NextVersion, LastRelease) {
  auto last = last_release({"v1.0.0", "v1.1.0-beta.2", "junk"}, "v", "beta");
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->tag, "v1.1.0-beta.2");
  last = last_release({"v1.0.0", "v1.1.0-beta.2"}, "v", "");
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->tag, "v1.0.0");
  EXPECT_FALSE(last_release({"x"}, "v", "").has_value());
}

TEST(NextVersion, InvalidPrereleaseName) {
  VersionRequest r;
  r.release = ReleaseType::minor;
  for (const char* bad : {"be.ta", "beta!", "12"}) {
    r.prerelease = bad;
    EXPECT_FALSE(next_version(r).ok()) << bad;
  }
}

TEST(NextVersion, BumpLikeNodeSemverInc) {
  auto b = [](const char* from, ReleaseType t) { return bump(parse_semver(from).value(), t).value().to_string(); };
  EXPECT_EQ(b("1.2.3", ReleaseType::patch), "1.2.4");
  EXPECT_EQ(b("1.2.3", ReleaseType::minor), "1.3.0");
  EXPECT_EQ(b("1.2.3", ReleaseType::major), "2.0.0");
  EXPECT_EQ(b("1.2.3-beta.1", ReleaseType::patch), "1.2.3");
  EXPECT_EQ(b("1.2.0-beta.1", ReleaseType::minor), "1.2.0");
  EXPECT_EQ(b("1.2.3-beta.1", ReleaseType::minor), "1.3.0");
  EXPECT_EQ(b("2.0.0-beta.1", ReleaseType::major), "2.0.0");
  EXPECT_EQ(b("2.1.0-beta.1", ReleaseType::major), "3.0.0");
  EXPECT_FALSE(bump(parse_semver("18446744073709551615.0.0").value(), ReleaseType::major).ok());
}

}  // namespace
}  // namespace conveyor::release
