// git_repository against real git: bare "remote" repositories made in a temp
// directory (no network), and a local HTTP server for the auth header.
#include "git_repository.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "fixtures.hpp"
#include "git_repo.hpp"
#include "handler.hpp"
#include "recording_server.hpp"
#include "service_process.hpp"  // temp_dir, write_file

namespace conveyor::version_tagger {
namespace {

namespace fs = std::filesystem;
using conveyor::testing::GitRepo;

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

class GitRepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = conveyor::testing::temp_dir("version-git");
    remote_ = std::make_unique<GitRepo>(dir_ + "/origin");
    first_ = remote_->commit({{"README.md", "hello\n"}}, "feat: first");
    work("tag", "-a", "-m", "v1.0.0", "v1.0.0");
    work("push", "-q", "origin", "v1.0.0");
    work("tag", "not-a-version");
    work("push", "-q", "origin", "not-a-version");
    remote_->commit({{"a.txt", "a\n"}}, "fix: a\n\nbody line\n");
    // A feature branch merged with a merge commit.
    work("checkout", "-q", "-b", "feature");
    work("commit", "-q", "--allow-empty", "-m", "feat(ui): dark mode");
    work("checkout", "-q", "main");
    work("merge", "-q", "--no-ff", "-m", "Merge branch 'feature'", "feature");
    work("push", "-q", "origin", "HEAD:refs/heads/main");
    head_ = remote_->head();
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  template <typename... Args>
  std::string work(Args... args) {
    return GitRepo::git(remote_->work(), {args...});
  }
  std::string bare(const std::vector<std::string>& args) { return GitRepo::git(remote_->bare(), args); }

  std::unique_ptr<Repository> open(const Remote& remote, GitOptions options = {}) {
    const std::string d = dir_ + "/copy-" + std::to_string(++copies_);
    fs::create_directories(d);
    GitRepositories repos(options);
    auto r = repos.open(remote, d);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? std::move(*r) : nullptr;
  }

  std::string dir_, first_, head_;
  std::unique_ptr<GitRepo> remote_;
  int copies_ = 0;
};

TEST_F(GitRepositoryTest, FetchReadsTagsAndTheHistoryWithMergeCommits) {
  auto repo = open({remote_->url(), std::nullopt});
  ASSERT_TRUE(repo);
  auto tip = repo->fetch("main", head_);
  ASSERT_TRUE(tip.ok()) << tip.error().message;
  EXPECT_EQ(*tip, std::optional<std::string>(head_));
  auto tags = repo->tags_merged(head_);
  ASSERT_TRUE(tags.ok());
  EXPECT_EQ(*tags, (std::vector<std::string>{"not-a-version", "v1.0.0"}));
  auto since = repo->commits_since("v1.0.0", head_);
  ASSERT_TRUE(since.ok()) << since.error().message;
  ASSERT_EQ(since->size(), 3u);
  EXPECT_EQ((*since)[0].sha, head_);
  EXPECT_EQ((*since)[0].message, "Merge branch 'feature'\n");
  std::vector<std::string> messages;
  for (const auto& c : *since) messages.push_back(c.message);
  EXPECT_NE(std::find(messages.begin(), messages.end(), "feat(ui): dark mode\n"), messages.end());
  EXPECT_NE(std::find(messages.begin(), messages.end(), "fix: a\n\nbody line\n"), messages.end());
  auto all = repo->commits_since("", head_);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 4u);
  EXPECT_EQ(all->back().sha, first_);

  auto tag = repo->find_tag("v1.0.0");
  ASSERT_TRUE(tag.ok());
  ASSERT_TRUE(tag->has_value());
  EXPECT_EQ((*tag)->commit, first_);
  EXPECT_NE((*tag)->object, first_);  // annotated: a tag object
  EXPECT_TRUE((*tag)->parents.empty());
  EXPECT_EQ((*tag)->subject, "feat: first");
  EXPECT_FALSE(repo->find_tag("v9.9.9")->has_value());
  EXPECT_EQ(repo->find_tag("bad..name").error().code, Errc::invalid_argument);

  auto readme = repo->read_file(head_, "README.md");
  ASSERT_TRUE(readme.ok());
  EXPECT_EQ(*readme, std::optional<std::string>("hello\n"));
  EXPECT_FALSE(repo->read_file(head_, "CHANGELOG.md")->has_value());
  EXPECT_EQ(*repo->remote_tip("main"), head_);
  EXPECT_EQ(*repo->remote_tip("nope"), "");
}

TEST_F(GitRepositoryTest, ReleaseCommitAndAnnotatedTagArePushedAtomically) {
  auto repo = open({remote_->url(), std::nullopt});
  ASSERT_TRUE(repo);
  ASSERT_TRUE(repo->fetch("main", head_).ok());
  const Author author{"Release Bot", "release@example.com"};
  auto commit = repo->commit_file(head_, "docs/CHANGELOG.md", "# Changelog\n\n## 1.1.0\n",
                                  "chore(release): 1.1.0 [skip ci]\n", author);
  ASSERT_TRUE(commit.ok()) << commit.error().message;
  auto object = repo->create_tag("v1.1.0", *commit, "Release 1.1.0\n", author);
  ASSERT_TRUE(object.ok()) << object.error().message;
  ASSERT_TRUE(repo->push_release("main", head_, *commit, "v1.1.0").ok());

  EXPECT_EQ(trimmed(bare({"rev-parse", "main"})), *commit);
  EXPECT_EQ(trimmed(bare({"rev-parse", "v1.1.0"})), *object);
  EXPECT_EQ(trimmed(bare({"rev-parse", "v1.1.0^{commit}"})), *commit);
  EXPECT_EQ(trimmed(bare({"cat-file", "-t", "v1.1.0"})), "tag");
  EXPECT_EQ(bare({"log", "-1", "--format=%P|%s|%an <%ae>|%cn|%ad", "--date=format:%z", "main"}),
            head_ + "|chore(release): 1.1.0 [skip ci]|Release Bot <release@example.com>|Release Bot|+0000\n");
  EXPECT_EQ(bare({"diff", "--name-only", head_, "main"}), "docs/CHANGELOG.md\n");
  EXPECT_EQ(bare({"show", "main:docs/CHANGELOG.md"}), "# Changelog\n\n## 1.1.0\n");
  EXPECT_EQ(bare({"for-each-ref", "--format=%(taggername) %(taggeremail)", "refs/tags/v1.1.0"}),
            "Release Bot <release@example.com>\n");

  auto info = repo->find_tag("v1.1.0");
  ASSERT_TRUE(info.ok() && info->has_value());
  EXPECT_EQ((*info)->parents, std::vector<std::string>{head_});
  EXPECT_EQ((*info)->subject, "chore(release): 1.1.0 [skip ci]");
  EXPECT_EQ((*info)->date, utc_today());

  // A later change of the file, on top of the release commit.
  auto again = repo->commit_file(*commit, "docs/CHANGELOG.md", "new\n", "x\n", author);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*repo->read_file(*again, "docs/CHANGELOG.md"), std::optional<std::string>("new\n"));
  EXPECT_EQ(*repo->read_file(*again, "README.md"), std::optional<std::string>("hello\n"));
}

TEST_F(GitRepositoryTest, AMovedBranchOrAnExistingTagRejectTheWholePush) {
  auto repo = open({remote_->url(), std::nullopt});
  ASSERT_TRUE(repo);
  ASSERT_TRUE(repo->fetch("main", head_).ok());
  auto commit = repo->commit_file(head_, "CHANGELOG.md", "x\n", "chore(release): 1.1.0 [skip ci]\n", Author{});
  ASSERT_TRUE(commit.ok());
  ASSERT_TRUE(repo->create_tag("v1.1.0", *commit, "Release 1.1.0\n", Author{}).ok());

  // Someone pushes to main meanwhile.
  const std::string other = remote_->commit({{"b.txt", "b\n"}}, "fix: someone else");
  auto pushed = repo->push_release("main", head_, *commit, "v1.1.0");
  ASSERT_FALSE(pushed.ok());
  EXPECT_EQ(pushed.error().code, Errc::conflict) << pushed.error().message;
  EXPECT_NE(pushed.error().message.find("branch main moved"), std::string::npos) << pushed.error().message;
  EXPECT_EQ(trimmed(bare({"rev-parse", "main"})), other);
  EXPECT_EQ(bare({"tag", "--list", "v1.1.0"}), "");  // no half-pushed tag
  EXPECT_EQ(*repo->remote_tip("main"), other);

  // The tag appears on the remote (another commit) while the branch is still ours.
  auto repo2 = open({remote_->url(), std::nullopt});
  ASSERT_TRUE(repo2->fetch("main", other).ok());
  auto c2 = repo2->commit_file(other, "CHANGELOG.md", "y\n", "chore(release): 1.1.0 [skip ci]\n", Author{});
  ASSERT_TRUE(c2.ok());
  ASSERT_TRUE(repo2->create_tag("v1.1.0", *c2, "Release 1.1.0\n", Author{}).ok());
  work("tag", "v1.1.0", first_);
  work("push", "-q", "origin", "v1.1.0");
  auto taken = repo2->push_release("main", other, *c2, "v1.1.0");
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error().code, Errc::conflict);
  EXPECT_NE(taken.error().message.find("tag v1.1.0 already exists"), std::string::npos) << taken.error().message;
  EXPECT_EQ(trimmed(bare({"rev-parse", "main"})), other);  // the branch did not move either
}

TEST_F(GitRepositoryTest, MissingThingsAndBadInputsAreClassified) {
  auto repo = open({remote_->url(), std::nullopt});
  ASSERT_TRUE(repo);
  auto branch = repo->fetch("nope", head_);
  ASSERT_FALSE(branch.ok());
  EXPECT_EQ(branch.error().code, Errc::not_found);
  EXPECT_NE(branch.error().message.find("branch nope does not exist"), std::string::npos) << branch.error().message;
  auto commit = repo->fetch("main", std::string(40, 'e'));
  ASSERT_FALSE(commit.ok());
  EXPECT_EQ(commit.error().code, Errc::not_found);
  EXPECT_EQ(commit.error().message, "commit " + std::string(40, 'e') + " not found");
  EXPECT_EQ(repo->fetch("main", "HEAD").error().code, Errc::invalid_argument);
  EXPECT_EQ(repo->fetch("-delete", head_).error().code, Errc::invalid_argument);
  EXPECT_EQ(repo->fetch("a:b", head_).error().code, Errc::invalid_argument);

  auto unreachable = open({"file://" + dir_ + "/nothing-here.git", std::nullopt});
  auto missing = unreachable->fetch("main", head_);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::unavailable);
  EXPECT_NE(missing.error().message.find("does not appear to be a git repository"), std::string::npos)
      << missing.error().message;

  GitRepositories repos;
  fs::create_directories(dir_ + "/x");
  auto ext = repos.open({"ext::sh -c touch% /tmp/pwned", std::nullopt}, dir_ + "/x");
  ASSERT_FALSE(ext.ok());
  EXPECT_EQ(ext.error().code, Errc::invalid_argument);
  auto token_over_file = repos.open({remote_->url(), std::string("tok")}, dir_ + "/x");
  EXPECT_EQ(token_over_file.error().code, Errc::invalid_argument);
}

TEST_F(GitRepositoryTest, AChangelogThatIsASymlinkIsRefused) {
  ::symlink("README.md", (remote_->work() + "/CHANGELOG.md").c_str());
  const std::string sha = remote_->commit({}, "chore: link");
  auto repo = open({remote_->url(), std::nullopt});
  ASSERT_TRUE(repo->fetch("main", sha).ok());
  auto read = repo->read_file(sha, "CHANGELOG.md");
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.error().code, Errc::invalid_argument);
  EXPECT_EQ(read.error().message, "CHANGELOG.md is not a regular file (mode 120000)");
  EXPECT_EQ(repo->commit_file(sha, "CHANGELOG.md", "x", "m\n", Author{}).error().code, Errc::invalid_argument);
}

TEST_F(GitRepositoryTest, TheTokenTravelsOnlyAsAnAuthorizationHeader) {
  conveyor::testing::RecordingServer server;
  conveyor::testing::RecordingServer::Answer denied(401, "no");
  denied.headers["WWW-Authenticate"] = "Basic realm=\"it\"";
  server.on("GET", "/acme/app.git/info/refs", {denied});
  server.start();
  // A git shim that logs its argv.
  const std::string shim = dir_ + "/git-shim";
  conveyor::testing::write_file(shim, "#!/bin/sh\nprintf '%s\\n' \"$*\" >> " + dir_ + "/argv.log\nexec git \"$@\"\n");
  ::chmod(shim.c_str(), 0755);
  GitOptions options;
  options.program = shim;
  const std::string token = "tok-secret-5e6f";
  const std::string url = "http://bot:url-pass-1a2b@127.0.0.1:" + server.url().substr(server.url().rfind(':') + 1) +
                          "/acme/app.git";
  auto repo = open({url, token}, options);
  ASSERT_TRUE(repo);
  auto fetched = repo->fetch("main", head_);
  ASSERT_FALSE(fetched.ok());
  EXPECT_EQ(fetched.error().code, Errc::invalid_argument) << fetched.error().message;
  EXPECT_EQ(fetched.error().message.find(token), std::string::npos);
  EXPECT_EQ(fetched.error().message.find("url-pass-1a2b"), std::string::npos) << fetched.error().message;
  const auto requests = server.requests();
  ASSERT_FALSE(requests.empty());
  EXPECT_EQ(requests[0].header("Authorization"), authorization_header(token));
  EXPECT_EQ(authorization_header(token), "Basic eC1hY2Nlc3MtdG9rZW46dG9rLXNlY3JldC01ZTZm");
  const std::string argv = conveyor::testing::read_file(dir_ + "/argv.log");
  EXPECT_NE(argv.find("fetch"), std::string::npos);
  EXPECT_EQ(argv.find(token), std::string::npos);
  EXPECT_EQ(argv.find("url-pass"), std::string::npos);
  EXPECT_EQ(argv.find("127.0.0.1"), std::string::npos) << argv;  // the URL itself is configuration too
}

TEST_F(GitRepositoryTest, ALocalRepositoryIsReadInPlace) {
  GitRepository local(remote_->work(), std::nullopt);
  auto main = local.resolve("main");
  ASSERT_TRUE(main.ok()) << main.error().message;
  EXPECT_EQ(*main, head_);
  EXPECT_EQ(local.resolve("no-such-branch").error().code, Errc::not_found);
  EXPECT_EQ(local.resolve("--output=x").error().code, Errc::invalid_argument);
  EXPECT_EQ(*local.tags_merged(head_), (std::vector<std::string>{"not-a-version", "v1.0.0"}));
  EXPECT_EQ(local.commits_since("v1.0.0", head_)->size(), 3u);
  EXPECT_EQ(local.fetch("main", head_).error().code, Errc::invalid_argument);
}

}  // namespace
}  // namespace conveyor::version_tagger
