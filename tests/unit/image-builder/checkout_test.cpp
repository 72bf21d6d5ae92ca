#include "checkout.hpp"

#include <gtest/gtest.h>

#include "fake_runner.hpp"

namespace conveyor::image_builder {
namespace {

using Argv = std::vector<std::string>;
const std::string kSha = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";

events::RunContext run() {
  events::RunContext r;
  r.sha = kSha;
  r.clone_url = "https://github.com/owner/repo.git";
  return r;
}

TEST(Checkout, CommitIds) {
  EXPECT_TRUE(is_commit_id(kSha));
  EXPECT_TRUE(is_commit_id(std::string(64, 'a')));
  EXPECT_FALSE(is_commit_id("6113728"));
  EXPECT_FALSE(is_commit_id(std::string(40, 'G')));
  EXPECT_FALSE(is_commit_id("--upload-pack=evil-----------------------"));
}

TEST(Checkout, ShallowFetchOfTheCommit) {
  testing::FakeRunner fake;
  fake.answers = {testing::succeeded(), testing::succeeded(), testing::succeeded(), testing::succeeded(),
                  testing::succeeded(kSha + " 1700000000\n")};
  GitSource git(fake.runner());
  auto r = git.checkout(run(), "/w/src");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(r->ok) << r->reason;
  EXPECT_EQ(r->commit_time, 1700000000);
  ASSERT_EQ(fake.calls.size(), 5u);
  EXPECT_EQ(fake.calls[0].argv, (Argv{"git", "-C", "/w/src", "init", "--quiet"}));
  EXPECT_EQ(fake.calls[1].argv,
            (Argv{"git", "-C", "/w/src", "remote", "add", "origin", "--", "https://github.com/owner/repo.git"}));
  EXPECT_EQ(fake.calls[2].argv,
            (Argv{"git", "-C", "/w/src", "fetch", "--quiet", "--depth", "1", "--no-tags", "origin", "--", kSha}));
  EXPECT_EQ(fake.calls[3].argv, (Argv{"git", "-C", "/w/src", "checkout", "--quiet", "--detach", "FETCH_HEAD"}));
  EXPECT_EQ(fake.calls[4].argv, (Argv{"git", "-C", "/w/src", "show", "-s", "--format=%H %ct", "HEAD"}));
  EXPECT_EQ(fake.calls[2].env.at("GIT_TERMINAL_PROMPT"), "0");
}

TEST(Checkout, FallsBackToAFullFetch) {
  testing::FakeRunner fake;
  fake.answers = {testing::succeeded(), testing::succeeded(),
                  testing::failed(128, "error: Server does not allow request for unadvertised object"),
                  testing::succeeded(), testing::succeeded(), testing::succeeded(kSha + " 1\n")};
  GitSource git(fake.runner());
  auto r = git.checkout(run(), "/w/src");
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->ok) << r->reason;
  ASSERT_EQ(fake.calls.size(), 6u);
  EXPECT_EQ(fake.calls[3].argv, (Argv{"git", "-C", "/w/src", "fetch", "--quiet", "--tags", "origin", "--",
                                      "+refs/heads/*:refs/remotes/origin/*"}));
  EXPECT_EQ(fake.calls[4].argv, (Argv{"git", "-C", "/w/src", "checkout", "--quiet", "--detach", kSha}));
}

TEST(Checkout, UnknownCommitFailsWithGitsReason) {
  testing::FakeRunner fake;
  fake.answers = {testing::succeeded(), testing::succeeded(), testing::failed(128, "fatal: couldn't find remote ref"),
                  testing::succeeded(), testing::failed(128, "fatal: reference is not a tree: " + kSha)};
  GitSource git(fake.runner());
  auto r = git.checkout(run(), "/w/src");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ok);
  EXPECT_NE(r->reason.find("reference is not a tree"), std::string::npos) << r->reason;
}

TEST(Checkout, BadShaNeverReachesGit) {
  testing::FakeRunner fake;
  GitSource git(fake.runner());
  auto bad = run();
  bad.sha = "-c";
  auto r = git.checkout(bad, "/w/src");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ok);
  EXPECT_TRUE(fake.calls.empty());
}

}  // namespace
}  // namespace conveyor::image_builder
