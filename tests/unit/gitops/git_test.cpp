// GitCli against real git with local bare repositories made by the test
// (no network): clone, edit, commit, push, a rejected push, refresh, the
// refusals (symlinks, missing branch), and what never leaks (the token).
#include "conveyor/gitops/git.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "fixtures.hpp"
#include "git_repo.hpp"
#include "service_process.hpp"  // temp_dir, write_file

namespace conveyor::gitops {
namespace {

namespace fs = std::filesystem;

std::string git(const std::string& cwd, const std::vector<std::string>& args) {
  return conveyor::testing::GitRepo::git(cwd, args);
}

class GitCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = conveyor::testing::temp_dir("helm-git");
    repo_ = std::make_unique<conveyor::testing::GitRepo>(root_);
    repo_->commit({{"k8s/values.yaml", "image:\n  tag: 1.0.0 # c\n"}}, "initial");
    bare_ = repo_->bare();
    remote_.url = repo_->url();
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string tip() { return git(bare_, {"rev-parse", "refs/heads/main"}).substr(0, 40); }

  std::string root_, bare_;
  std::unique_ptr<conveyor::testing::GitRepo> repo_;
  Remote remote_;
  GitCli cli_;
};

TEST_F(GitCliTest, CloneEditCommitPush) {
  auto checkout = cli_.clone(remote_, root_ + "/clone");
  ASSERT_TRUE(checkout.ok()) << checkout.error().message;
  Checkout& repo = **checkout;
  EXPECT_EQ(repo.head(), tip());
  auto text = repo.read("k8s/values.yaml");
  ASSERT_TRUE(text.ok()) << text.error().message;
  EXPECT_EQ(*text, "image:\n  tag: 1.0.0 # c\n");
  ASSERT_TRUE(repo.write("k8s/values.yaml", "image:\n  tag: 1.1.0 # c\n").ok());
  auto sha = repo.commit("k8s/values.yaml", "chore(deploy): app 1.1.0 to default [skip ci]\n\nbody\n",
                         Author{"Deploy Bot", "deploy@example.com"});
  ASSERT_TRUE(sha.ok()) << sha.error().message;
  EXPECT_EQ(sha->size(), 40u);
  ASSERT_TRUE(repo.push().ok());
  EXPECT_EQ(tip(), *sha);
  EXPECT_EQ(git(bare_, {"log", "-1", "--format=%an <%ae>|%cn|%s", "main"}),
            "Deploy Bot <deploy@example.com>|Deploy Bot|chore(deploy): app 1.1.0 to default [skip ci]\n");
  EXPECT_EQ(git(bare_, {"show", "main:k8s/values.yaml"}), "image:\n  tag: 1.1.0 # c\n");
}

TEST_F(GitCliTest, RejectedPushIsAConflictAndRefreshCatchesUp) {
  auto a = cli_.clone(remote_, root_ + "/a");
  auto b = cli_.clone(remote_, root_ + "/b");
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE((*a)->write("k8s/values.yaml", "image:\n  tag: 2.0.0 # c\n").ok());
  ASSERT_TRUE((*a)->commit("k8s/values.yaml", "a", {}).ok());
  ASSERT_TRUE((*a)->push().ok());
  ASSERT_TRUE((*b)->write("k8s/values.yaml", "image:\n  tag: 3.0.0 # c\n").ok());
  ASSERT_TRUE((*b)->commit("k8s/values.yaml", "b", {}).ok());
  auto pushed = (*b)->push();
  ASSERT_FALSE(pushed.ok());
  EXPECT_EQ(pushed.error().code, Errc::conflict) << pushed.error().message;
  auto refreshed = (*b)->refresh();
  ASSERT_TRUE(refreshed.ok()) << refreshed.error().message;
  EXPECT_EQ(*refreshed, tip());
  EXPECT_EQ(*(*b)->read("k8s/values.yaml"), "image:\n  tag: 2.0.0 # c\n");
}

TEST_F(GitCliTest, MissingBranchOrRepositoryIsNotFound) {
  Remote r = remote_;
  r.branch = "production";
  auto branch = cli_.clone(r, root_ + "/x");
  ASSERT_FALSE(branch.ok());
  EXPECT_EQ(branch.error().code, Errc::not_found) << branch.error().message;
  r = remote_;
  r.url = "file://" + root_ + "/nope.git";
  auto repo = cli_.clone(r, root_ + "/y");
  ASSERT_FALSE(repo.ok());
  EXPECT_EQ(repo.error().code, Errc::not_found) << repo.error().message;
}

TEST_F(GitCliTest, ChecksOutTheExactCommitAfterTheBranchMoved) {
  const std::string wanted = tip();
  repo_->commit({{"k8s/values.yaml", "image:\n  tag: 9.9.9 # c\n"}}, "moved on");
  ASSERT_NE(tip(), wanted);
  auto checkout = cli_.checkout(remote_, wanted, root_ + "/exact");
  ASSERT_TRUE(checkout.ok()) << checkout.error().message;
  EXPECT_EQ((*checkout)->head(), wanted);
  EXPECT_EQ(*(*checkout)->read("k8s/values.yaml"), "image:\n  tag: 1.0.0 # c\n");
  // Fetched by id, alone: a shallow history of one commit.
  EXPECT_EQ(git(root_ + "/exact", {"rev-list", "--count", "HEAD"}), "1\n");
}

TEST_F(GitCliTest, FallsBackToAFullFetchWhenTheServerRefusesACommitById) {
  const std::string wanted = tip();
  repo_->commit({{"k8s/values.yaml", "image:\n  tag: 9.9.9 # c\n"}}, "moved on");
  // Protocol v0 over file:// serves only advertised tips (no allowReachableSHA1InWant).
  const std::string wrapper = root_ + "/git-v0";
  conveyor::testing::write_file(wrapper, "#!/bin/sh\nexec git -c protocol.version=0 \"$@\"\n");
  fs::permissions(wrapper, fs::perms::owner_all);
  GitCli v0(GitOptions{wrapper});
  auto checkout = v0.checkout(remote_, wanted, root_ + "/exact");
  ASSERT_TRUE(checkout.ok()) << checkout.error().message;
  EXPECT_EQ((*checkout)->head(), wanted);
  EXPECT_EQ(*(*checkout)->read("k8s/values.yaml"), "image:\n  tag: 1.0.0 # c\n");
  EXPECT_EQ(git(root_ + "/exact", {"rev-list", "--count", "HEAD"}), "1\n");
  EXPECT_EQ(git(root_ + "/exact", {"rev-list", "--count", "origin/main"}), "2\n") << "the branches were fetched";
}

TEST_F(GitCliTest, AnUnknownOrAbbreviatedCommitIsRefused) {
  auto unknown = cli_.checkout(remote_, std::string(40, 'e'), root_ + "/u");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, Errc::not_found) << unknown.error().message;
  auto short_id = cli_.checkout(remote_, tip().substr(0, 7), root_ + "/s");
  ASSERT_FALSE(short_id.ok());
  EXPECT_EQ(short_id.error().code, Errc::invalid_argument) << short_id.error().message;
  auto option = cli_.checkout(remote_, "--upload-pack=touch /tmp/x", root_ + "/o");
  ASSERT_FALSE(option.ok());
  EXPECT_EQ(option.error().code, Errc::invalid_argument);
}

TEST_F(GitCliTest, FilesOutsideTheTreeOrThroughSymlinksAreRefused) {
  const std::string seed = repo_->work();
  fs::create_symlink("/etc/hostname", seed + "/link.yaml");
  fs::create_directory_symlink("/etc", seed + "/etc");
  repo_->commit({}, "links");
  auto checkout = cli_.clone(remote_, root_ + "/clone");
  ASSERT_TRUE(checkout.ok()) << checkout.error().message;
  for (const std::string path : {"link.yaml", "etc/hostname", ".git/config", "../work/k8s/values.yaml"}) {
    auto read = (*checkout)->read(path);
    ASSERT_FALSE(read.ok()) << path;
    EXPECT_EQ(read.error().code, Errc::invalid_argument) << path << ": " << read.error().message;
    EXPECT_FALSE((*checkout)->write(path, "x").ok()) << path;
  }
  EXPECT_EQ((*checkout)->read("k8s/missing.yaml").error().code, Errc::not_found);
  EXPECT_EQ((*checkout)->read("k8s").error().code, Errc::invalid_argument);
}

TEST_F(GitCliTest, TheTokenNeverAppearsInErrors) {
  Remote r;
  r.url = "http://user:url-secret@127.0.0.1:9/gitops.git";  // nothing listens on port 9
  r.token = "tok-very-secret";
  auto clone = cli_.clone(r, root_ + "/z");
  ASSERT_FALSE(clone.ok());
  EXPECT_EQ(clone.error().code, Errc::unavailable) << clone.error().message;
  EXPECT_EQ(clone.error().message.find("tok-very-secret"), std::string::npos) << clone.error().message;
  EXPECT_EQ(clone.error().message.find("url-secret"), std::string::npos) << clone.error().message;
  EXPECT_EQ(clone.error().message.find(authorization_header("tok-very-secret")), std::string::npos);
  auto exact = cli_.checkout(r, std::string(40, 'a'), root_ + "/e");
  ASSERT_FALSE(exact.ok());
  EXPECT_EQ(exact.error().code, Errc::unavailable) << exact.error().message;
  EXPECT_EQ(exact.error().message.find("tok-very-secret"), std::string::npos) << exact.error().message;
  EXPECT_EQ(exact.error().message.find("url-secret"), std::string::npos) << exact.error().message;
}

TEST(GitEnvironment, TokenTravelsAsAConfigHeaderOnly) {
  ::setenv("HELM_GIT_TEST_SERVICE_SECRET", "do-not-pass", 1);
  const auto env = git_environment(std::string("tok"));
  ::unsetenv("HELM_GIT_TEST_SERVICE_SECRET");
  EXPECT_EQ(env.count("HELM_GIT_TEST_SERVICE_SECRET"), 0u);
  EXPECT_EQ(env.at("GIT_TERMINAL_PROMPT"), "0");
  EXPECT_EQ(env.at("GIT_CONFIG_GLOBAL"), "/dev/null");
  const int count = std::stoi(env.at("GIT_CONFIG_COUNT"));
  bool header = false;
  for (int i = 0; i < count; ++i) {
    if (env.at("GIT_CONFIG_KEY_" + std::to_string(i)) == "http.extraHeader") {
      header = true;
      // base64("x-access-token:tok")
      EXPECT_EQ(env.at("GIT_CONFIG_VALUE_" + std::to_string(i)), "Authorization: Basic eC1hY2Nlc3MtdG9rZW46dG9r");
    }
  }
  EXPECT_TRUE(header);
  const auto without = git_environment(std::nullopt);
  for (const auto& [k, v] : without) EXPECT_NE(v, "http.extraHeader") << k;
}

TEST(RedactUrl, DropsUserInformation) {
  EXPECT_EQ(redact_url("https://user:secret@github.com/a/b.git"), "https://github.com/a/b.git");
  EXPECT_EQ(redact_url("https://x-access-token@github.com/a/b.git"), "https://github.com/a/b.git");
  EXPECT_EQ(redact_url("https://github.com/a/b.git"), "https://github.com/a/b.git");
  EXPECT_EQ(redact_url("https://github.com/a/b@c.git"), "https://github.com/a/b@c.git");
  EXPECT_EQ(redact_url("git@github.com:a/b.git"), "git@github.com:a/b.git");
  EXPECT_EQ(redact_url("file:///srv/git/x.git"), "file:///srv/git/x.git");
}

}  // namespace
}  // namespace conveyor::gitops
