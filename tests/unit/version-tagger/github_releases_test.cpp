// GitHub Releases against a local HTTP server standing in for the REST API:
// the exact request (path, headers, payload) and how answers are read.
#include "github_releases.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "recording_server.hpp"

namespace conveyor::version_tagger {
namespace {

using json = nlohmann::json;
using conveyor::testing::RecordingServer;

const std::string kToken = "ghp_release_token_9z8y";
const std::string kPath = "/api/v3/repos/acme/app/releases";

webclient::Client fast_client() {
  webclient::Options o;
  o.secrets = {kToken};
  o.retry.max_attempts = 3;
  o.retry.initial_backoff = std::chrono::milliseconds(1);
  o.retry.max_backoff = std::chrono::milliseconds(2);
  o.attempt_timeout = std::chrono::seconds(5);
  return webclient::Client(o);
}

ReleaseRequest release() { return {"acme/app", "v1.2.0-beta.1", "v1.2.0-beta.1", "## 1.2.0-beta.1\n\n* ünïcode\n", true}; }

TEST(GitHubReleases, PostsTheDocumentedRequestAndReturnsTheHtmlUrl) {
  RecordingServer server;
  server.on("POST", kPath,
            {RecordingServer::Answer(201, R"({"id": 1, "html_url": "https://ghe.example.com/acme/app/releases/tag/v1.2.0-beta.1"})",
                                     {}, "application/json")});
  server.start();
  GitHubReleases releases(server.url("/api/v3/"), kToken, fast_client());
  auto url = releases.create(release());
  ASSERT_TRUE(url.ok()) << url.error().message;
  EXPECT_EQ(*url, "https://ghe.example.com/acme/app/releases/tag/v1.2.0-beta.1");

  const auto requests = server.requests(kPath);
  ASSERT_EQ(requests.size(), 1u);
  const auto& r = requests[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.header("Authorization"), "Bearer " + kToken);
  EXPECT_EQ(r.header("Accept"), "application/vnd.github+json");
  EXPECT_EQ(r.header("X-GitHub-Api-Version"), "2022-11-28");
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  EXPECT_EQ(json::parse(r.body), (json{{"tag_name", "v1.2.0-beta.1"},
                                       {"name", "v1.2.0-beta.1"},
                                       {"body", "## 1.2.0-beta.1\n\n* ünïcode\n"},
                                       {"draft", false},
                                       {"prerelease", true}}));
}

TEST(GitHubReleases, AnExistingReleaseIsFineOtherRefusalsAreErrorsWithoutTheToken) {
  RecordingServer server;
  server.on("POST", "/repos/acme/app/releases",
            {RecordingServer::Answer(
                 422, R"({"message":"Validation Failed","errors":[{"resource":"Release","code":"already_exists","field":"tag_name"}]})",
                 {}, "application/json"),
             RecordingServer::Answer(422, R"({"message":"Validation Failed","errors":[{"code":"invalid","field":"tag_name"}]})",
                                     {}, "application/json"),
             RecordingServer::Answer(401, "{\"message\":\"Bad credentials " + kToken + "\"}", {}, "application/json")});
  server.start();
  GitHubReleases releases(server.url(), kToken, fast_client());
  auto exists = releases.create(release());
  ASSERT_TRUE(exists.ok()) << exists.error().message;
  EXPECT_EQ(*exists, "");
  auto invalid = releases.create(release());
  ASSERT_FALSE(invalid.ok());
  EXPECT_EQ(invalid.error().code, Errc::invalid_argument);
  EXPECT_NE(invalid.error().message.find("HTTP 422"), std::string::npos) << invalid.error().message;
  auto denied = releases.create(release());
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.error().code, Errc::invalid_argument);
  EXPECT_NE(denied.error().message.find("HTTP 401 after 1 attempt"), std::string::npos) << denied.error().message;
  EXPECT_EQ(denied.error().message.find(kToken), std::string::npos) << denied.error().message;
  EXPECT_EQ(server.requests().size(), 3u);  // 4xx are not retried
}

TEST(GitHubReleases, ServerErrorsAreRetriedThenUnavailable) {
  RecordingServer server;
  server.on("POST", "/repos/acme/app/releases", {RecordingServer::Answer(502, "bad gateway")});
  server.start();
  GitHubReleases releases(server.url(), kToken, fast_client());
  auto r = releases.create(release());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::unavailable);
  EXPECT_NE(r.error().message.find("HTTP 502 after 3 attempts"), std::string::npos) << r.error().message;
  EXPECT_EQ(server.requests().size(), 3u);

  GitHubReleases nowhere("http://127.0.0.1:9", kToken, fast_client());
  auto down = nowhere.create(release());
  ASSERT_FALSE(down.ok());
  EXPECT_TRUE(down.error().code == Errc::unavailable || down.error().code == Errc::timeout) << down.error().message;
  EXPECT_EQ(nowhere.create({"not-a-repo", "v1", "v1", "", false}).error().code, Errc::invalid_argument);
}

}  // namespace
}  // namespace conveyor::version_tagger
