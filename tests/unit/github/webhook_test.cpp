#include "conveyor/github/webhook.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "fixtures.hpp"

namespace conveyor::github {
namespace {

Classification classify_fixture(const std::string& event, const std::string& file) {
  auto payload = nlohmann::json::parse(testing::fixture(file));
  auto c = classify(event, payload);
  EXPECT_TRUE(c.ok()) << file << ": " << (c.ok() ? "" : c.error().message);
  return c.ok() ? *c : Classification{};
}

struct PushCase {
  const char* file;
  const char* ref_kind;
  const char* ref_name;
  const char* sha;
  bool starts_run;
};

TEST(Classify, EveryPushFixture) {
  const PushCase cases[] = {
      {"push/1.payload.json", "tag", "simple-tag", "0000000000000000000000000000000000000000", false},
      {"push/payload.json", "tag", "simple-tag", "0000000000000000000000000000000000000000", false},
      {"push/with-installation.payload.json", "tag", "simple-tag", "0000000000000000000000000000000000000000", false},
      {"push/with-organization.payload.json", "tag", "simple-tag", "0000000000000000000000000000000000000000", false},
      {"push/github.ae.event.payload.json", "tag", "simple-tag", "0000000000000000000000000000000000000000", false},
      {"push/ghes-34.payload.json", "tag", "simple-tag", "6113728f27ae82c7b1a177c8d03f9e96e0adf246", true},
      {"push/with-new-branch.payload.json", "branch", "master", "6113728f27ae82c7b1a177c8d03f9e96e0adf246", true},
      {"push/with-no-username-committer.payload.json", "branch", "master", "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
       true},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.file);
    const auto c = classify_fixture("push", tc.file);
    ASSERT_TRUE(c.change.has_value());
    EXPECT_EQ(c.change->kind, Change::Kind::push);
    EXPECT_EQ(c.change->repository, "Codertocat/Hello-World");
    EXPECT_EQ(c.change->ref_kind, tc.ref_kind);
    EXPECT_EQ(c.change->ref_name, tc.ref_name);
    EXPECT_EQ(c.change->sha, tc.sha);
    EXPECT_EQ(c.skip_reason.empty(), tc.starts_run) << c.skip_reason;
    if (!tc.starts_run) {
      EXPECT_EQ(c.skip_reason, "ref deleted");
    }
  }
}

TEST(Classify, EveryPullRequestFixture) {
  const std::pair<const char*, bool> cases[] = {
      {"pull_request/opened.payload.json", true},
      {"pull_request/opened.with-null-body.json", true},
      {"pull_request/opened.with-organization.payload.json", true},
      {"pull_request/reopened.payload.json", true},
      {"pull_request/synchronize.payload.json", true},
      {"pull_request/closed.payload.json", false},
      {"pull_request/closed.with-organization.payload.json", false},
  };
  for (const auto& [file, starts] : cases) {
    SCOPED_TRACE(file);
    const auto c = classify_fixture("pull_request", file);
    ASSERT_TRUE(c.change.has_value());
    EXPECT_EQ(c.change->kind, Change::Kind::pull_request);
    EXPECT_EQ(c.change->number, 2);
    EXPECT_EQ(c.change->sha, "ec26c3e57ca3a959ca5aad62de7213c562f8c821");
    EXPECT_EQ(c.change->base_branch, "master");
    EXPECT_EQ(c.change->ref, "refs/pull/2/head");
    EXPECT_EQ(c.change->ref_name, "changes");
    EXPECT_EQ(c.skip_reason.empty(), starts) << c.skip_reason;
  }
}

TEST(Classify, OtherEventsAreIgnored) {
  namespace fs = std::filesystem;
  int seen = 0;
  for (const char* event : {"ping", "create", "delete", "release", "check_suite"}) {
    for (const auto& entry : fs::directory_iterator(testing::shared_dir() + "/fixtures/github/" + event)) {
      SCOPED_TRACE(entry.path().string());
      auto c = classify(event, nlohmann::json::parse(testing::read_file(entry.path())));
      ASSERT_TRUE(c.ok());
      EXPECT_FALSE(c->change.has_value());
      EXPECT_EQ(c->skip_reason, std::string("event '") + event + "' ignored");
      ++seen;
    }
  }
  EXPECT_GE(seen, 16);
}

TEST(Classify, MissingFieldsAreNamed) {
  auto c = classify("push", nlohmann::json{{"ref", "refs/heads/main"}});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("/repository/full_name"), std::string::npos);
  auto pr = classify("pull_request", nlohmann::json{{"action", "opened"}, {"repository", {{"full_name", "a/b"}}}});
  ASSERT_FALSE(pr.ok());
  EXPECT_NE(pr.error().message.find("/pull_request/head/sha"), std::string::npos);
  EXPECT_FALSE(classify("push", nlohmann::json::array()).ok());
}

TEST(Classify, SkipMarkers) {
  for (const char* m : {"fix: x [skip ci]", "[CI SKIP] docs", "chore: y\n\n[no ci]", "[skip actions]", "[actions skip]"}) {
    EXPECT_TRUE(asks_to_skip_ci(m)) << m;
  }
  for (const char* m : {"feat: skip ci entirely", "[skip-ci]", "", "ci skip"}) EXPECT_FALSE(asks_to_skip_ci(m)) << m;

  auto payload = nlohmann::json::parse(testing::fixture("push/with-new-branch.payload.json"));
  payload["head_commit"]["message"] = "chore(release): 1.2.0 [skip ci]";
  auto c = classify("push", payload);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->skip_reason, "skip marker in head commit message");
}

TEST(Classify, OddRefsAndShas) {
  auto payload = nlohmann::json::parse(testing::fixture("push/with-new-branch.payload.json"));
  payload["ref"] = "refs/notes/commits";
  auto c = classify("push", payload);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->skip_reason.empty());
  EXPECT_TRUE(is_real_sha("6113728f27ae82c7b1a177c8d03f9e96e0adf246"));
  EXPECT_FALSE(is_real_sha("0000000000000000000000000000000000000000"));
  EXPECT_FALSE(is_real_sha("6113728f27ae82c7b1a177c8d03f9e96e0adf24"));
  EXPECT_FALSE(is_real_sha("6113728f27ae82c7b1a177c8d03f9e96e0adf24g"));
}

// An annotated tag's push names the tag object in `after`; the run must build
// the commit it points at (head_commit.id). A branch keeps `after`.
TEST(Classify, AnnotatedTagBuildsTheTaggedCommit) {
  auto payload = nlohmann::json::parse(testing::fixture("push/with-new-branch.payload.json"));
  const std::string commit = payload["head_commit"]["id"];
  const std::string tag_object = "0f5a0c4cbd3e3c5c6a3f5d2b1e9a8c7d6e5f4a3b";
  payload["ref"] = "refs/tags/v1.2.0";
  payload["after"] = tag_object;
  for (const auto& text : {payload.dump(), payload.dump(2)}) {
    auto dom = classify("push", nlohmann::json::parse(text));
    auto fast = classify_text("push", text);
    ASSERT_TRUE(dom.ok() && fast.ok());
    EXPECT_EQ(dom->change->sha, commit);
    EXPECT_EQ(fast->change->sha, commit);
    EXPECT_EQ(dom->change->ref_kind, "tag");
  }
  payload["ref"] = "refs/heads/release";
  auto branch = classify("push", payload);
  ASSERT_TRUE(branch.ok());
  EXPECT_EQ(branch->change->sha, tag_object);
  // A tag push without a head commit keeps `after`.
  payload["ref"] = "refs/tags/v1.2.0";
  payload["head_commit"] = nullptr;
  auto bare = classify("push", payload);
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->change->sha, tag_object);
}

TEST(PayloadText, JsonAndFormEncodingGiveTheSamePayload) {
  const std::string json = testing::fixture("push/with-new-branch.payload.json");
  std::string form = "payload=";
  static const char* hex = "0123456789ABCDEF";
  for (unsigned char ch : json) {
    if (std::isalnum(ch)) {
      form.push_back(static_cast<char>(ch));
    } else if (ch == ' ') {
      form.push_back('+');
    } else {
      form += '%';
      form += hex[ch >> 4];
      form += hex[ch & 0xf];
    }
  }
  auto a = payload_text("application/json", json);
  auto b = payload_text("application/x-www-form-urlencoded", form);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
  auto c = payload_text("Application/JSON; charset=utf-8", json);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, json);
}

TEST(PayloadText, Errors) {
  EXPECT_EQ(payload_text("text/plain", "x").error().code, Errc::not_found);
  EXPECT_EQ(payload_text("application/x-www-form-urlencoded", "other=1").error().code, Errc::invalid_argument);
  EXPECT_EQ(payload_text("application/x-www-form-urlencoded", "payload=%zz").error().code, Errc::invalid_argument);
  EXPECT_EQ(payload_text("application/x-www-form-urlencoded", "payload=%4").error().code, Errc::invalid_argument);
  auto ok = payload_text("application/x-www-form-urlencoded", "a=1&payload=%7B%7D&b=2");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, "{}");
}

}  // namespace
}  // namespace conveyor::github
