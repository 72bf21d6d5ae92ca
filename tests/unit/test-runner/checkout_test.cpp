// Checkout against real git repositories made by the test (file:// remotes).
#include "checkout.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "git_repo.hpp"

namespace conveyor::test_runner {
namespace {

namespace fs = std::filesystem;

class CheckoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = "/tmp/conveyor-checkout-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    repo_ = std::make_unique<testing::GitRepo>(dir_ + "/repo");
  }
  void TearDown() override { fs::remove_all(dir_); }

  CheckoutSpec spec(const std::string& sha, const std::string& url) {
    CheckoutSpec s;
    s.clone_url = url;
    s.sha = sha;
    s.directory = dir_ + "/co" + std::to_string(++n_);
    fs::create_directories(s.directory);
    s.base_env = process::inherit({"PATH", "HOME"});
    return s;
  }

  std::string dir_;
  std::unique_ptr<testing::GitRepo> repo_;
  int n_ = 0;
};

std::string read(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_F(CheckoutTest, ChecksOutExactlyTheCommitShallow) {
  const std::string first = repo_->commit({{"file.txt", "one"}}, "one");
  const std::string second = repo_->commit({{"file.txt", "two"}}, "two");
  auto s = spec(first, repo_->url());
  auto r = checkout(s);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->shallow);
  EXPECT_EQ(read(fs::path(s.directory) / "file.txt"), "one");
  EXPECT_TRUE(fs::exists(fs::path(s.directory) / ".git/shallow"));
  auto s2 = spec(second, repo_->url());
  ASSERT_TRUE(checkout(s2).ok());
  EXPECT_EQ(read(fs::path(s2.directory) / "file.txt"), "two");
}

TEST_F(CheckoutTest, PlainPathRemoteWorksToo) {
  const std::string sha = repo_->commit({{"a", "b"}});
  auto s = spec(sha, repo_->bare());
  auto r = checkout(s);
  ASSERT_TRUE(r.ok()) << r.error().message;
}

TEST_F(CheckoutTest, MissingCommitIsNotFound) {
  repo_->commit({{"a", "b"}});
  auto r = checkout(spec(std::string(40, 'a'), repo_->url()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::not_found);
  EXPECT_NE(r.error().message.find("commit " + std::string(40, 'a') + " not found"), std::string::npos)
      << r.error().message;
}

TEST_F(CheckoutTest, UnreachableRepository) {
  auto r = checkout(spec(std::string(40, 'b'), "file://" + dir_ + "/nowhere.git"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::unavailable);
  EXPECT_NE(r.error().message.find("is unreachable"), std::string::npos) << r.error().message;

  auto refused = checkout(spec(std::string(40, 'b'), "http://127.0.0.1:1/x.git"));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("is unreachable"), std::string::npos) << refused.error().message;
}

TEST_F(CheckoutTest, RefusesWhatIsNotAShaOrASupportedUrl) {
  for (const std::string& bad : std::vector<std::string>{"main", "--upload-pack=touch /tmp/x", std::string(39, 'a'), std::string(40, 'A')}) {
    auto r = checkout(spec(bad, repo_->url()));
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, Errc::invalid_argument);
  }
  auto ext = checkout(spec(std::string(40, 'a'), "ext::sh -c touch% /tmp/pwned"));
  ASSERT_FALSE(ext.ok());
  EXPECT_EQ(ext.error().code, Errc::invalid_argument);
}

TEST(GitEnvironment, TokenTravelsOnlyInTheEnvironmentScopedToTheHost) {
  CheckoutSpec s;
  s.clone_url = "https://github.com/owner/repo.git";
  s.sha = std::string(40, 'a');
  s.token = "ghp_secret_token";
  auto env = git_environment(s);
  ASSERT_TRUE(env.ok()) << env.error().message;
  std::map<std::string, std::string> config;
  const int n = std::stoi(env->at("GIT_CONFIG_COUNT"));
  for (int i = 0; i < n; ++i) config[env->at("GIT_CONFIG_KEY_" + std::to_string(i))] = env->at("GIT_CONFIG_VALUE_" + std::to_string(i));
  EXPECT_EQ(config.at("remote.origin.url"), s.clone_url);
  // base64("x-access-token:ghp_secret_token")
  EXPECT_EQ(config.at("http.https://github.com/.extraHeader"),
            "Authorization: Basic eC1hY2Nlc3MtdG9rZW46Z2hwX3NlY3JldF90b2tlbg==");
  EXPECT_EQ(env->at("GIT_TERMINAL_PROMPT"), "0");
  const auto secrets = checkout_secrets(s);
  EXPECT_NE(std::find(secrets.begin(), secrets.end(), "ghp_secret_token"), secrets.end());
  EXPECT_NE(std::find(secrets.begin(), secrets.end(), "eC1hY2Nlc3MtdG9rZW46Z2hwX3NlY3JldF90b2tlbg=="), secrets.end());

  s.clone_url = "http://git.example.com/owner/repo.git";  // clear text over a network: refused
  EXPECT_EQ(git_environment(s).error().code, Errc::invalid_argument);
  s.clone_url = "http://127.0.0.1:8080/owner/repo.git";  // loopback: allowed (tests, sidecars)
  EXPECT_TRUE(git_environment(s).ok());
}

TEST(GitEnvironment, UrlCredentialsAreRedactedAndMasked) {
  EXPECT_EQ(redact_url("https://user:pw@host.example/x.git"), "https://host.example/x.git");
  EXPECT_EQ(redact_url("https://host.example/x.git"), "https://host.example/x.git");
  EXPECT_EQ(redact_url("/srv/git/x.git"), "/srv/git/x.git");
  CheckoutSpec s;
  s.clone_url = "https://user:hunter2@host.example/x.git";
  const auto secrets = checkout_secrets(s);
  EXPECT_NE(std::find(secrets.begin(), secrets.end(), "hunter2"), secrets.end());
}

}  // namespace
}  // namespace conveyor::test_runner
