// The helm stage's decisions over an in-memory GitOps remote: commit and
// push, already-at-value, a branch that moved, failures and their kinds.
#include "handler.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "fake_gitops.hpp"
#include "schema_validation.hpp"
#include "service_process.hpp"  // temp_dir

namespace conveyor::helm_updater {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using test::FakeGitOps;
using test::FakeRemote;

const std::string kSha = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";
const std::string kDigest = "sha256:4f1c2b9e8a7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928170f6e5d4c";
const std::string kFile = "k8s/imprun/values-production.yaml";
const std::string kValues =
    "# production\n"
    "imprun-server:\n"
    "  image:\n"
    "    repository: registry.example.com/imprun/imprun-server\n"
    "    tag: \"1.3.9\"   # set by conveyor\n"
    "    digest: \"\"\n"
    "  podAnnotations:\n"
    "    app.kubernetes.io/version: 1.3.9\n"
    "\n"
    "imprun-console:\n"
    "  image: {repository: registry.example.com/imprun/imprun-console, tag: 1.3.9}\n";

events::StageRequest request_for(json settings = nullptr) {
  events::StageRequest r;
  r.run.run_id = "5f0c3b9e-4a7d-4e59-9a57-2f9f7a1a0c11";
  r.run.pipeline = "imprun";
  r.run.repository = "imprun/imprun.dev";
  r.run.clone_url = "https://github.com/imprun/imprun.dev.git";
  r.run.trigger = "push";
  r.run.ref = "refs/heads/main";
  r.run.ref_kind = "branch";
  r.run.ref_name = "main";
  r.run.sha = kSha;
  r.run.outputs = {{"version", {{"version", "1.4.0"}, {"tag", "v1.4.0"}}},
                   {"build", {{"images", {{"imprun-server", {{"digest", kDigest}}}}}}}};
  r.stage = "helm";
  r.id = r.run.run_id + ":helm";
  r.settings = settings.is_null() ? json{{"repository", "https://git.example.com/imprun/gitops.git"},
                                         {"file", kFile},
                                         {"set",
                                          {{"imprun-server.image.tag", "{{version}}"},
                                           {"imprun-server.image.digest", "{{digest:imprun-server}}"},
                                           {"imprun-server.podAnnotations[\"app.kubernetes.io/version\"]", "{{version}}"}}},
                                         {"author", {{"name", "Deploy Bot"}, {"email", "deploy@example.com"}}}}
                                  : settings;
  r.slip = {{"deploy", {{"environment", "production"}}}, {"verify", json::object()}};
  return r;
}

struct CountingProbe : Probe {
  int commits = 0, unchanged_count = 0, retries = 0, failures = 0;
  void committed() override { ++commits; }
  void unchanged() override { ++unchanged_count; }
  void push_retried() override { ++retries; }
  void failed() override { ++failures; }
};

class HandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = conveyor::testing::temp_dir("helm-handler");
    remote_.commits.push_back({test::fake_sha(1), "initial", {}, {{kFile, kValues}, {"README.md", "gitops\n"}}});
  }
  void TearDown() override { fs::remove_all(work_); }

  Result<stage::StageResult> handle(const events::StageRequest& request) {
    HandlerOptions options;
    options.work_dir = work_;
    Handler handler(options, git_, probe_);
    return handler.handle(request, [](const json&) -> Result<void> { return {}; });
  }

  std::string work_;
  FakeRemote remote_;
  FakeGitOps git_{remote_};
  CountingProbe probe_;
};

std::string with_line(std::string text, const std::string& old_line, const std::string& new_line) {
  const auto at = text.find(old_line);
  EXPECT_NE(at, std::string::npos) << old_line;
  if (at != std::string::npos) text.replace(at, old_line.size(), new_line);
  return text;
}

TEST_F(HandlerTest, SetsTheKeysCommitsAndPushes) {
  auto result = handle(request_for());
  ASSERT_TRUE(result.ok()) << result.error().message;
  ASSERT_EQ(result->status, stage::StageResult::Status::succeeded) << result->reason;

  ASSERT_EQ(remote_.commits.size(), 2u);
  const auto& commit = remote_.tip();
  std::string want = kValues;
  want = with_line(want, "    tag: \"1.3.9\"   # set by conveyor", "    tag: \"1.4.0\"   # set by conveyor");
  want = with_line(want, "    digest: \"\"", "    digest: \"" + kDigest + "\"");
  want = with_line(want, "    app.kubernetes.io/version: 1.3.9", "    app.kubernetes.io/version: 1.4.0");
  EXPECT_EQ(commit.files.at(kFile), want);
  EXPECT_EQ(commit.files.at("README.md"), "gitops\n");
  EXPECT_EQ(commit.message.substr(0, commit.message.find('\n')),
            "chore(deploy): imprun 1.4.0 to production [skip ci]");
  EXPECT_NE(commit.message.find("imprun-server.image.tag: 1.3.9 -> 1.4.0"), std::string::npos) << commit.message;
  EXPECT_NE(commit.message.find("Conveyor-Run: 5f0c3b9e-4a7d-4e59-9a57-2f9f7a1a0c11"), std::string::npos);
  EXPECT_EQ(commit.author.name, "Deploy Bot");
  EXPECT_EQ(commit.author.email, "deploy@example.com");

  const json& out = result->outputs;
  EXPECT_EQ(out["repository"], "https://git.example.com/imprun/gitops.git");
  EXPECT_EQ(out["branch"], "main");
  EXPECT_EQ(out["file"], kFile);
  EXPECT_EQ(out["commit"], commit.id);
  EXPECT_EQ(out["changed"], true);
  EXPECT_EQ(out["previous"]["imprun-server.image.tag"], "1.3.9");
  EXPECT_EQ(out["previous"]["imprun-server.image.digest"], "");
  EXPECT_EQ(out["values"]["imprun-server.image.digest"], kDigest);
  EXPECT_EQ(probe_.commits, 1);

  // One values.committed event, valid against its schema, subject = the commit.
  ASSERT_EQ(result->cdevents.size(), 1u);
  const json& event = result->cdevents[0];
  EXPECT_EQ(event["context"]["type"], kValuesCommittedType);
  EXPECT_EQ(event["context"]["id"], "5f0c3b9e-4a7d-4e59-9a57-2f9f7a1a0c11:helm:values.committed");
  EXPECT_EQ(event["context"]["chainId"], "5f0c3b9e-4a7d-4e59-9a57-2f9f7a1a0c11");
  EXPECT_EQ(event["subject"]["id"], commit.id);
  EXPECT_EQ(event["subject"]["content"]["changes"]["imprun-server.image.tag"],
            (json{{"previous", "1.3.9"}, {"value", "1.4.0"}}));
  const std::string schemas = conveyor::testing::source_dir() + "/schemas/events";
  EXPECT_EQ(conveyor::testing::validate_file(schemas + "/values-committed.schema.json", event),
            std::vector<std::string>{});
  EXPECT_EQ(conveyor::testing::validate_file(schemas + "/conveyor-event.schema.json", event),
            std::vector<std::string>{});
  json wrong = event;
  wrong["subject"]["content"]["changes"]["x"] = {{"value", 1}};
  EXPECT_FALSE(conveyor::testing::validate_file(schemas + "/values-committed.schema.json", wrong).empty());

  // The workspace is gone.
  EXPECT_TRUE(fs::is_empty(work_));
  ASSERT_EQ(remote_.remotes_seen.size(), 1u);
  EXPECT_EQ(remote_.remotes_seen[0].branch, "main");
  EXPECT_FALSE(remote_.remotes_seen[0].token.has_value());
}

TEST_F(HandlerTest, AlreadyAtTheValuesMakesNoCommit) {
  auto first = handle(request_for());
  ASSERT_TRUE(first.ok());
  const std::string tip = remote_.tip().id;
  auto again = handle(request_for());  // e.g. a redelivery after the push, before the outcome was recorded
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->status, stage::StageResult::Status::succeeded);
  EXPECT_EQ(remote_.commits.size(), 2u);
  EXPECT_EQ(again->outputs["changed"], false);
  EXPECT_EQ(again->outputs["commit"], tip);
  EXPECT_EQ(again->outputs["previous"]["imprun-server.image.tag"], "1.4.0");
  EXPECT_TRUE(again->cdevents.empty());
  EXPECT_EQ(probe_.unchanged_count, 1);
  EXPECT_EQ(remote_.pushes, 1);
}

TEST_F(HandlerTest, ABranchThatMovedIsFetchedAndTheEditReapplied) {
  // Someone else pushes to the branch right before our first push.
  int others = 0;
  remote_.before_push = [&others](FakeRemote& r) {
    if (others++ == 0) {
      std::string text = r.tip().files.at(kFile);
      text.replace(text.find("# production"), 12, "# production (edited by a person)");
      r.commit_by_someone_else(kFile, text);
    }
  };
  auto result = handle(request_for());
  ASSERT_TRUE(result.ok()) << result.error().message;
  ASSERT_EQ(result->status, stage::StageResult::Status::succeeded) << result->reason;
  EXPECT_EQ(remote_.pushes, 2);
  EXPECT_EQ(remote_.refreshes, 1);
  EXPECT_EQ(probe_.retries, 1);
  ASSERT_EQ(remote_.commits.size(), 3u);
  const std::string& text = remote_.tip().files.at(kFile);
  EXPECT_EQ(text.rfind("# production (edited by a person)\n", 0), 0u) << text;  // their change kept
  EXPECT_NE(text.find("tag: \"1.4.0\""), std::string::npos);                   // ours on top
  EXPECT_EQ(result->outputs["commit"], remote_.tip().id);
}

TEST_F(HandlerTest, ABranchThatKeepsMovingFailsAfterBoundedAttempts) {
  remote_.before_push = [](FakeRemote& r) { r.commit_by_someone_else("other.txt", std::to_string(r.next_id)); };
  auto result = handle(request_for());
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->status, stage::StageResult::Status::failed);
  EXPECT_NE(result->reason.find("rejected 5 times"), std::string::npos) << result->reason;
  EXPECT_EQ(remote_.pushes, 5);
  EXPECT_EQ(probe_.failures, 1);
}

TEST_F(HandlerTest, AMissingKeyFailsTheStageWithTheReason) {
  auto request = request_for();
  request.settings["set"] = {{"imprun-server.image.tagg", "{{version}}"}};
  auto result = handle(request);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->status, stage::StageResult::Status::failed);
  EXPECT_NE(result->reason.find("'imprun-server.image' has no key 'tagg'"), std::string::npos) << result->reason;
  EXPECT_NE(result->reason.find(kFile), std::string::npos) << result->reason;
  EXPECT_EQ(remote_.commits.size(), 1u);
  EXPECT_EQ(remote_.pushes, 0);
}

TEST_F(HandlerTest, AMissingFileOrBranchFailsTheStage) {
  auto request = request_for();
  request.settings["file"] = "k8s/nope.yaml";
  auto missing_file = handle(request);
  ASSERT_TRUE(missing_file.ok());
  EXPECT_EQ(missing_file->status, stage::StageResult::Status::failed);
  EXPECT_NE(missing_file->reason.find("k8s/nope.yaml: the file does not exist"), std::string::npos)
      << missing_file->reason;

  remote_.clone_error = make_error(Errc::not_found, "git clone: Remote branch prod not found in upstream origin");
  auto missing_branch = handle(request_for());
  ASSERT_TRUE(missing_branch.ok());
  EXPECT_EQ(missing_branch->status, stage::StageResult::Status::failed);
  EXPECT_NE(missing_branch->reason.find("Remote branch prod not found"), std::string::npos);
}

TEST_F(HandlerTest, UnreachableGitIsAnErrorForTheRuntimeToRetry) {
  remote_.clone_error = make_error(Errc::unavailable, "git clone: Could not resolve host (exit code 128)");
  auto result = handle(request_for());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, Errc::unavailable);
  EXPECT_NE(result.error().message.find("clone https://git.example.com/imprun/gitops.git"), std::string::npos)
      << result.error().message;

  remote_.push_error = make_error(Errc::unavailable, "git push: the remote hung up");
  auto push = handle(request_for());
  ASSERT_FALSE(push.ok());
  EXPECT_EQ(push.error().code, Errc::unavailable);

  remote_.push_error = make_error(Errc::invalid_argument, "git push: refused by the remote: protected branch");
  auto refused = handle(request_for());
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->status, stage::StageResult::Status::failed);
  EXPECT_NE(refused->reason.find("protected branch"), std::string::npos);
}

TEST_F(HandlerTest, TemplatesThatCannotBeExpandedFailBeforeCloning) {
  auto request = request_for();
  request.run.outputs = json::object();
  request.settings["set"] = {{"imprun-server.image.tag", "{{version}}"}};
  auto no_version = handle(request);
  ASSERT_TRUE(no_version.ok());
  EXPECT_EQ(no_version->status, stage::StageResult::Status::failed);
  EXPECT_NE(no_version->reason.find("{{version}} needs the version stage's output"), std::string::npos)
      << no_version->reason;
  EXPECT_EQ(remote_.clones, 0);

  request = request_for();
  request.settings["set"] = {{"a", "{{digest:imprun-worker}}"}};
  auto no_digest = handle(request);
  ASSERT_TRUE(no_digest.ok());
  EXPECT_NE(no_digest->reason.find("no digest for image 'imprun-worker' (it reported: imprun-server)"),
            std::string::npos)
      << no_digest->reason;
}

TEST_F(HandlerTest, TokenIsResolvedFromItsSecretRefAndCredentialsNeverLeak) {
  auto request = request_for();
  request.settings["repository"] = "https://bot:url-password@git.example.com/imprun/gitops.git";
  request.settings["token"] = {{"env", "HELM_UPDATER_TEST_TOKEN"}};
  ::unsetenv("HELM_UPDATER_TEST_TOKEN");
  auto unset = handle(request);
  ASSERT_TRUE(unset.ok());
  EXPECT_EQ(unset->status, stage::StageResult::Status::failed);
  EXPECT_NE(unset->reason.find("HELM_UPDATER_TEST_TOKEN"), std::string::npos) << unset->reason;

  ::setenv("HELM_UPDATER_TEST_TOKEN", "tok-123-secret", 1);
  auto result = handle(request);
  ::unsetenv("HELM_UPDATER_TEST_TOKEN");
  ASSERT_TRUE(result.ok()) << result.error().message;
  ASSERT_EQ(remote_.remotes_seen.size(), 1u);
  EXPECT_EQ(remote_.remotes_seen[0].token.value_or(""), "tok-123-secret");
  EXPECT_EQ(result->outputs["repository"], "https://git.example.com/imprun/gitops.git");
  // The reference travels (the deployer's revert resolves it), the value does not.
  EXPECT_EQ(result->outputs["token-ref"], json({{"env", "HELM_UPDATER_TEST_TOKEN"}}));
  const std::string everything = result->outputs.dump() + result->cdevents[0].dump() + result->reason;
  EXPECT_EQ(everything.find("tok-123-secret"), std::string::npos);
  EXPECT_EQ(everything.find("url-password"), std::string::npos);
}

TEST_F(HandlerTest, DefaultsWithoutDeployStageOrVersion) {
  auto request = request_for();
  request.slip.clear();
  request.run.outputs.erase("version");
  request.settings["set"] = {{"imprun-server.image.tag", "{{short-sha}}"}};
  request.settings.erase("author");
  auto result = handle(request);
  ASSERT_TRUE(result.ok()) << result.error().message;
  ASSERT_EQ(result->status, stage::StageResult::Status::succeeded) << result->reason;
  const auto& commit = remote_.tip();
  EXPECT_EQ(commit.message.substr(0, commit.message.find('\n')), "chore(deploy): imprun 6113728 to default [skip ci]");
  EXPECT_EQ(commit.author.name, "conveyor");
  EXPECT_EQ(commit.author.email, "conveyor@localhost");
  EXPECT_NE(commit.files.at(kFile).find("tag: \"6113728\""), std::string::npos);  // all digits: quoted anyway
}

TEST(Settings, Parse) {
  auto s = parse_settings({{"repository", "file:///srv/gitops.git"},
                           {"branch", "release/prod"},
                           {"file", "values.yaml"},
                           {"set", {{"a.b", "x"}}},
                           {"author", "Deploy Bot <deploy@example.com>"},
                           {"token", {{"file", "/run/secrets/token"}}},
                           {"document", 1}});
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->branch, "release/prod");
  EXPECT_EQ(s->author.name, "Deploy Bot");
  EXPECT_EQ(s->author.email, "deploy@example.com");
  EXPECT_EQ(s->token->file, "/run/secrets/token");
  EXPECT_EQ(s->document.value_or(9), 1u);

  const json base = {{"repository", "r"}, {"file", "v.yaml"}, {"set", {{"a", "x"}}}};
  EXPECT_EQ(parse_settings(base)->branch, "main");
  auto bad = [&](const std::string& key, const json& value, const std::string& fragment) {
    json j = base;
    j[key] = value;
    auto r = parse_settings(j);
    ASSERT_FALSE(r.ok()) << key;
    EXPECT_NE(r.error().message.find(fragment), std::string::npos) << r.error().message;
  };
  bad("branch", "-x", "values.branch");
  bad("branch", "a..b", "values.branch");
  bad("file", "../etc/passwd", "values.file");
  bad("file", "/etc/passwd", "values.file");
  bad("set", json::object(), "values.set");
  bad("set", {{"a..b", "x"}}, "values.set[\"a..b\"]");
  bad("set", {{"a", 1}}, "must be a string");
  bad("author", "nobody", "values.author");
  bad("token", "plain", "values.token");
  bad("document", -1, "values.document");
  bad("bogus", 1, "values.bogus: unknown setting");
  EXPECT_FALSE(parse_settings({{"file", "v.yaml"}, {"set", {{"a", "x"}}}}).ok());
}

TEST(CommitSubject, UsesPipelineVersionAndEnvironment) {
  auto r = request_for();
  EXPECT_EQ(commit_subject(r), "chore(deploy): imprun 1.4.0 to production [skip ci]");
  r.slip = {{"verify", json::object()}};
  EXPECT_EQ(commit_subject(r), "chore(deploy): imprun 1.4.0 to default [skip ci]");
}

}  // namespace
}  // namespace conveyor::helm_updater
