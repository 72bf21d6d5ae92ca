// `conveyor version next`: the next version of a local repository and the
// commits that decided it, read with git; nothing in the repository changes.
#include <gtest/gtest.h>

#include <filesystem>

#include "fixtures.hpp"
#include "git_repo.hpp"
#include "service_process.hpp"

namespace conveyor::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct Ran {
  int code = -1;
  std::string output;  // stdout and stderr together
};

class VersionCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_dir("version-cli");
    repo_ = std::make_unique<GitRepo>(dir_ + "/app");
    repo_->commit({{"a", "1"}}, "feat: first");
    GitRepo::git(repo_->work(), {"tag", "v1.0.0"});
    GitRepo::git(repo_->work(), {"tag", "v-not-semver"});
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }
  Ran run(const std::vector<std::string>& args) {
    ServiceProcess p(bin_dir() + "/conveyor", args, dir_ + "/out-" + std::to_string(++runs_));
    Ran r;
    r.code = p.wait_exit(60s).value_or(-1);
    r.output = p.log();
    return r;
  }
  std::string dir_;
  std::unique_ptr<GitRepo> repo_;
  int runs_ = 0;
};

TEST_F(VersionCli, PrintsTheNextVersionAndTheCommitsThatDecidedIt) {
  const std::string fix = repo_->commit({{"b", "2"}}, "fix(parser): crash");
  const std::string feat = repo_->commit({{"c", "3"}}, "feat(api): export");
  repo_->commit({{"d", "4"}}, "docs: readme");
  const std::string head_before = repo_->head();
  const auto r = run({"version", "next", "--repo", repo_->work()});
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(r.output.rfind("1.1.0\n", 0), 0u) << r.output;
  EXPECT_NE(r.output.find("release: minor (tag v1.1.0)\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("previous: v1.0.0\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("commits: 3 since v1.0.0 of " + head_before + "\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("  minor  " + feat.substr(0, 7) + "  feat(api): export  (type)\n"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("  patch  " + fix.substr(0, 7) + "  fix(parser): crash  (type)\n"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("  none   "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("docs: readme  (no rule matched)"), std::string::npos) << r.output;
  // Read only: no tag, no commit.
  EXPECT_EQ(repo_->head(), head_before);
  EXPECT_EQ(GitRepo::git(repo_->work(), {"tag", "--list"}), "v-not-semver\nv1.0.0\n");

  const auto quiet = run({"version", "next", "--repo", repo_->work(), "-q"});
  EXPECT_EQ(quiet.code, 0);
  EXPECT_EQ(quiet.output, "1.1.0\n");
  const auto prefixed = run({"version", "next", "--repo", repo_->work(), "--tag-prefix", "release-", "-q"});
  EXPECT_EQ(prefixed.output, "1.0.0\n");  // no release- tag: a first release
}

TEST_F(VersionCli, BranchesPrereleasesAndNothingToRelease) {
  repo_->commit({{"b", "2"}}, "chore: tidy");
  const auto none = run({"version", "next", "--repo", repo_->work()});
  ASSERT_EQ(none.code, 0) << none.output;
  EXPECT_EQ(none.output.rfind("none\nrelease: none\n", 0), 0u) << none.output;

  GitRepo::git(repo_->work(), {"checkout", "-q", "-b", "beta"});
  GitRepo::git(repo_->work(), {"commit", "-q", "--allow-empty", "-m", "feat!: new world"});
  GitRepo::git(repo_->work(), {"checkout", "-q", "main"});
  const auto beta = run({"version", "next", "--repo", repo_->work(), "--branch", "beta", "--prerelease-branch", "beta"});
  ASSERT_EQ(beta.code, 0) << beta.output;
  EXPECT_EQ(beta.output.rfind("2.0.0-beta.1\nrelease: major (tag v2.0.0-beta.1), prerelease channel beta\n", 0), 0u)
      << beta.output;
  const auto release = run({"version", "next", "--repo", repo_->work(), "--branch", "beta", "-q"});
  EXPECT_EQ(release.output, "2.0.0\n");

  const auto missing = run({"version", "next", "--repo", repo_->work(), "--branch", "nope"});
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.output.find("branch nope"), std::string::npos) << missing.output;
  const auto not_a_repo = run({"version", "next", "--repo", dir_});
  EXPECT_NE(not_a_repo.code, 0);
  EXPECT_NE(not_a_repo.output.find("conveyor version next: "), std::string::npos) << not_a_repo.output;
}

}  // namespace
}  // namespace conveyor::testing
