// The version stage's decisions over an in-memory remote: release, no
// release, prerelease numbering, a tag reused after a crash, a branch that
// moved, refusals, GitHub Releases, tag and pull-request runs.
#include "handler.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "fake_repository.hpp"
#include "fixtures.hpp"
#include "schema_validation.hpp"
#include "service_process.hpp"  // temp_dir

namespace conveyor::version_tagger {
namespace {

using json = nlohmann::json;
using testing::FakeLedger;
using testing::FakeReleases;
using testing::FakeRemote;
using testing::FakeRepositories;
using Status = stage::StageResult::Status;

const std::string kOldChangelog =
    "# Changelog\n"
    "\n"
    "## [1.1.0](https://github.com/acme/app/compare/v1.0.0...v1.1.0) (2024-04-01)\n"
    "\n"
    "### Features\n"
    "\n"
    "* older feature\n";

events::StageRequest request_for(const std::string& sha, json settings = json::object(),
                                 const std::string& branch = "main") {
  events::RunContext run;
  run.run_id = "5f0c3b9e-4a7d-4e59-9a57-2f9f7a1a0c11";
  run.pipeline = "app";
  run.repository = "acme/app";
  run.clone_url = "https://bot:url-secret@github.com/acme/app.git";
  run.trigger = "push";
  run.ref = "refs/heads/" + branch;
  run.ref_kind = "branch";
  run.ref_name = branch;
  run.sha = sha;
  run.traceparent = "00-5f0c3b9e4a7d4e599a572f9f7a1a0c11-0123456789abcdef-01";
  return events::first_request(run, {{"version", settings}, {"build", json::object()}});
}

class VersionHandler : public ::testing::Test {
 protected:
  VersionHandler() : repositories_(remote_), releases_(remote_), ledger_(remote_) {}
  ~VersionHandler() override { std::filesystem::remove_all(work_dir_); }

  void SetUp() override {
    const std::string first = remote_.commit("main", "feat: first\n", {{"CHANGELOG.md", kOldChangelog}});
    remote_.tag("v1.0.0", first);
    remote_.tag("v1.1.0", remote_.commit("main", "feat: older feature\n"));
  }

  Result<stage::StageResult> handle(const events::StageRequest& request, bool with_releases = true) {
    HandlerOptions options;
    options.work_dir = work_dir_;
    options.today = [] { return std::string("2024-06-15"); };
    options.resolve = [](const config::SecretRef& ref) -> Result<std::string> {
      if (ref.env == "IT_TOKEN") return std::string("tok-123-secret");
      return make_error(Errc::not_found, "environment variable " + ref.env + " is not set");
    };
    Handler handler(options, repositories_, with_releases ? &releases_ : nullptr, ledger_, probe_);
    return handler.handle(request, [](const json&) -> Result<void> { return {}; });
  }

  std::string tip(const std::string& branch = "main") { return remote_.branches.at(branch); }
  const testing::FakeCommit& commit(const std::string& sha) { return remote_.commits.at(sha); }

  std::string work_dir_ = conveyor::testing::temp_dir("version-handler");
  FakeRemote remote_;
  FakeRepositories repositories_;
  FakeReleases releases_;
  FakeLedger ledger_;
  Probe probe_;
};

TEST_F(VersionHandler, FeatAndFixReleaseAMinorWithChangelogCommitAndTag) {
  remote_.commit("main", "fix(parser): crash on empty input\n");
  remote_.commit("main", "feat(api): add export\n\nCloses #12\n");
  const std::string sha = remote_.commit("main", "docs: readme\n");
  const auto request = request_for(sha);
  auto r = handle(request);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->status, Status::succeeded) << r->reason;

  // The release commit: on top of the run's commit, only CHANGELOG.md changed.
  const std::string release = tip();
  ASSERT_NE(release, sha);
  EXPECT_EQ(commit(release).parents, std::vector<std::string>{sha});
  EXPECT_EQ(commit(release).message, "chore(release): 1.2.0 [skip ci]\n");
  auto files = commit(release).files;
  const std::string changelog = files.at("CHANGELOG.md");
  files.erase("CHANGELOG.md");
  auto before = commit(sha).files;
  before.erase("CHANGELOG.md");
  EXPECT_EQ(files, before);
  EXPECT_EQ(changelog.rfind("# Changelog\n\n## [1.2.0](https://github.com/acme/app/compare/v1.1.0...v1.2.0) (2024-06-15)\n", 0),
            0u)
      << changelog;
  EXPECT_NE(changelog.find("### Features\n\n* **api:** add export"), std::string::npos) << changelog;
  EXPECT_NE(changelog.find("### Bug Fixes\n\n* **parser:** crash on empty input"), std::string::npos) << changelog;
  EXPECT_EQ(changelog.find("readme"), std::string::npos) << changelog;  // docs are hidden
  // The old entries follow, byte for byte.
  EXPECT_EQ(changelog.substr(changelog.size() - (kOldChangelog.size() - 13)), kOldChangelog.substr(13)) << changelog;

  // The tag, on the release commit, pushed with the branch.
  ASSERT_TRUE(remote_.tags.count("v1.2.0"));
  EXPECT_EQ(remote_.tags.at("v1.2.0").commit, release);
  EXPECT_EQ(remote_.pushes, 1);
  EXPECT_EQ(remote_.last_author.name, "conveyor");
  EXPECT_EQ(remote_.last_author.email, "conveyor@localhost");
  EXPECT_EQ(remote_.last_tag_message.rfind("Release 1.2.0\n\n## [1.2.0]", 0), 0u);
  // The URL goes to the repository layer as configured; git_repository moves
  // its credentials into a header (git_repository_test).
  EXPECT_EQ(remote_.opened_urls.at(0), "https://bot:url-secret@github.com/acme/app.git");

  // Recorded as created by conveyor before the push, with both SHAs.
  EXPECT_EQ(remote_.journal, (std::vector<std::string>{"fetch", "record v1.2.0", "push v1.2.0"}));
  ASSERT_EQ(ledger_.records.size(), 1u);
  EXPECT_EQ(ledger_.records[0].repository, "acme/app");
  EXPECT_EQ(ledger_.records[0].shas, (std::vector<std::string>{release, remote_.tags.at("v1.2.0").object}));

  // Outputs for later stages.
  const json& o = r->outputs;
  EXPECT_EQ(o["version"], "1.2.0");
  EXPECT_EQ(o["tag"], "v1.2.0");
  EXPECT_EQ(o["previous"], "v1.1.0");
  EXPECT_EQ(o["release-type"], "minor");
  EXPECT_EQ(o["commit"], release);
  EXPECT_EQ(changelog.find(o["changelog"].get<std::string>()), std::string("# Changelog\n\n").size());
  EXPECT_FALSE(o.contains("release-url"));  // github-release not set

  // The public event, valid against its schema.
  ASSERT_EQ(r->cdevents.size(), 1u);
  const json& e = r->cdevents[0];
  EXPECT_EQ(e["context"]["type"], kVersionReleasedType);
  EXPECT_EQ(e["context"]["id"], request.id + ":released");
  EXPECT_EQ(e["context"]["chainId"], request.run.run_id);
  EXPECT_EQ(e["subject"]["id"], "v1.2.0");
  EXPECT_EQ(e["subject"]["content"]["version"], "1.2.0");
  EXPECT_EQ(e["subject"]["content"]["commit"], release);
  EXPECT_EQ(e["subject"]["content"]["releaseType"], "minor");
  EXPECT_EQ(e["subject"]["content"]["prerelease"], false);
  EXPECT_EQ(conveyor::testing::validate_file(conveyor::testing::source_dir() + "/schemas/events/version-released.schema.json", e),
            std::vector<std::string>{});
}

TEST_F(VersionHandler, BreakingChangeReleasesAMajorAndFirstReleaseIsOneZeroZero) {
  const std::string sha = remote_.commit("main", "feat(api)!: drop v1 endpoints\n");
  auto r = handle(request_for(sha));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outputs["version"], "2.0.0");
  EXPECT_EQ(r->outputs["release-type"], "major");
  EXPECT_NE(r->outputs["changelog"].get<std::string>().find("### ⚠ BREAKING CHANGES"), std::string::npos);

  // A repository without any tag: everything is analysed, 1.0.0, a new CHANGELOG.md.
  FakeRemote fresh;
  fresh.commit("main", "chore: init\n");
  const std::string head = fresh.commit("main", "fix: something\n");
  FakeRepositories repos(fresh);
  FakeLedger ledger(fresh);
  Probe probe;
  HandlerOptions options;
  options.work_dir = work_dir_;
  options.today = [] { return std::string("2024-06-15"); };
  Handler handler(options, repos, nullptr, ledger, probe);
  auto first = handler.handle(request_for(head), [](const json&) -> Result<void> { return {}; });
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->status, Status::succeeded) << first->reason;
  EXPECT_EQ(first->outputs["version"], "1.0.0");
  EXPECT_EQ(first->outputs["previous"], "");
  const std::string changelog = fresh.commits.at(fresh.branches.at("main")).files.at("CHANGELOG.md");
  EXPECT_EQ(changelog.rfind("# Changelog\n\n## 1.0.0 (2024-06-15)\n", 0), 0u) << changelog;
}

TEST_F(VersionHandler, NothingReleasableStopsTheRunWithNoRelease) {
  remote_.commit("main", "docs: typo\n");
  const std::string sha = remote_.commit("main", "chore(deps): bump\n");
  auto r = handle(request_for(sha));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, Status::stopped);
  EXPECT_EQ(r->reason, "no release");
  EXPECT_EQ(r->outputs["version"], "1.1.0");
  EXPECT_EQ(r->outputs["tag"], "v1.1.0");
  EXPECT_EQ(r->outputs["release-type"], "none");
  EXPECT_EQ(r->outputs["commit"], sha);
  EXPECT_TRUE(r->cdevents.empty());
  EXPECT_EQ(remote_.pushes, 0);
  EXPECT_TRUE(ledger_.records.empty());

  // on-no-release: continue -> the run goes on with the current version.
  auto c = handle(request_for(sha, {{"on-no-release", "continue"}}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->status, Status::succeeded);
  EXPECT_EQ(c->reason, "");
  EXPECT_EQ(c->outputs["version"], "1.1.0");
  EXPECT_EQ(c->outputs["commit"], sha);
  EXPECT_EQ(remote_.pushes, 0);
}

TEST_F(VersionHandler, PrereleaseBranchesNumberTheirReleases) {
  remote_.branches["beta"] = tip();
  const json settings = {{"prerelease-branches", {"beta", "alpha/*"}}, {"github-release", true}};
  auto first = handle(request_for(remote_.commit("beta", "feat: new thing\n"), settings, "beta"));
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->status, Status::succeeded) << first->reason;
  EXPECT_EQ(first->outputs["version"], "1.2.0-beta.1");
  EXPECT_EQ(first->outputs["tag"], "v1.2.0-beta.1");
  EXPECT_EQ(first->outputs["previous"], "v1.1.0");
  ASSERT_EQ(releases_.requests.size(), 1u);
  EXPECT_TRUE(releases_.requests[0].prerelease);
  EXPECT_EQ(first->cdevents.at(0)["subject"]["content"]["prerelease"], true);

  auto second = handle(request_for(remote_.commit("beta", "fix: follow-up\n"), settings, "beta"));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->outputs["version"], "1.2.0-beta.2");
  EXPECT_EQ(second->outputs["previous"], "v1.2.0-beta.1");

  // A bigger change restarts at a higher version.
  auto third = handle(request_for(remote_.commit("beta", "feat!: redo\n"), settings, "beta"));
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->outputs["version"], "2.0.0-beta.1");

  // main ignores beta's prereleases.
  auto main = handle(request_for(remote_.commit("main", "fix: on main\n"), settings));
  ASSERT_TRUE(main.ok());
  EXPECT_EQ(main->outputs["version"], "1.1.1");
  EXPECT_FALSE(releases_.requests.back().prerelease);
}

TEST_F(VersionHandler, ATagPushedByAnEarlierAttemptIsReusedNotPushedAgain) {
  const std::string sha = remote_.commit("main", "feat: thing\n");
  const auto request = request_for(sha, {{"github-release", true}});
  auto first = handle(request);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->status, Status::succeeded);
  // The process died before its outcome was recorded: the request comes again.
  auto again = handle(request);
  ASSERT_TRUE(again.ok()) << again.error().message;
  ASSERT_EQ(again->status, Status::succeeded) << again->reason;
  EXPECT_EQ(remote_.pushes, 1);
  EXPECT_EQ(again->outputs, first->outputs);
  EXPECT_EQ(again->cdevents.at(0)["context"]["id"], first->cdevents.at(0)["context"]["id"]);
  // The release is asked for again (GitHub answers "already exists" then).
  EXPECT_EQ(releases_.requests.size(), 2u);
  EXPECT_EQ(ledger_.records.size(), 2u);
}

TEST_F(VersionHandler, ATagOnSomeOtherCommitFailsTheRun) {
  const std::string sha = remote_.commit("main", "feat: thing\n");
  remote_.branches["other"] = sha;
  remote_.tag("v1.2.0", remote_.commit("other", "fix: elsewhere\n"));
  auto r = handle(request_for(sha));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, Status::failed);
  EXPECT_NE(r->reason.find("tag v1.2.0 already exists on commit " + tip("other")), std::string::npos) << r->reason;
  EXPECT_EQ(remote_.pushes, 0);
}

TEST_F(VersionHandler, ABranchThatMovedIsNotReleased) {
  const std::string sha = remote_.commit("main", "feat: thing\n");
  const std::string newer = remote_.commit("main", "fix: someone else\n");
  auto r = handle(request_for(sha));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, Status::failed);
  EXPECT_EQ(r->reason, "branch main moved from " + sha + " to " + newer + "; not releasing");
  EXPECT_EQ(remote_.pushes, 0);
  EXPECT_FALSE(remote_.tags.count("v1.2.0"));
}

TEST_F(VersionHandler, ABranchMovingDuringThePushLeavesNoTag) {
  const std::string sha = remote_.commit("main", "feat: thing\n");
  std::string racer;
  remote_.before_push = [&] { racer = remote_.commit("main", "fix: raced\n"); };
  auto r = handle(request_for(sha));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, Status::failed);
  EXPECT_EQ(r->reason, "branch main moved from " + sha + " to " + racer + "; not releasing");
  EXPECT_FALSE(remote_.tags.count("v1.2.0"));
  EXPECT_EQ(tip(), racer);
}

TEST_F(VersionHandler, RefusedPushAndUnreachableRepositoryFailTheRunWithTheReason) {
  const std::string sha = remote_.commit("main", "feat: thing\n");
  remote_.push_error = make_error(Errc::invalid_argument, "refused by the remote: protected branch hook declined");
  auto refused = handle(request_for(sha));
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->status, Status::failed);
  EXPECT_NE(refused->reason.find("push of v1.2.0 to https://github.com/acme/app.git failed: refused by the remote"),
            std::string::npos)
      << refused->reason;
  EXPECT_EQ(refused->reason.find("url-secret"), std::string::npos);

  remote_.fetch_error = make_error(Errc::unavailable, "cannot fetch: Could not resolve host: github.com");
  auto unreachable = handle(request_for(sha));
  ASSERT_TRUE(unreachable.ok());
  EXPECT_EQ(unreachable->status, Status::failed);
  EXPECT_EQ(unreachable->reason, "fetch https://github.com/acme/app.git: cannot fetch: Could not resolve host: github.com");

  remote_.fetch_error.reset();
  auto missing = handle(request_for(std::string(40, 'e')));
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, Status::failed);
  EXPECT_NE(missing->reason.find("commit eeeeeeee"), std::string::npos) << missing->reason;

  // git broken locally, Redis down: retried by the runtime, nothing pushed.
  remote_.fetch_error = make_error(Errc::internal, "cannot run git fetch: No such file or directory");
  EXPECT_FALSE(handle(request_for(sha)).ok());
  remote_.fetch_error.reset();
  remote_.push_error.reset();
  ledger_.error = make_error(Errc::unavailable, "redis: connection refused");
  auto no_ledger = handle(request_for(sha));
  ASSERT_FALSE(no_ledger.ok());
  EXPECT_EQ(no_ledger.error().code, Errc::unavailable);
  EXPECT_EQ(remote_.pushes, 1);  // only the refused one
}

TEST_F(VersionHandler, GitHubReleaseCarriesTheChangelogAndItsFailuresAreSorted) {
  const std::string sha = remote_.commit("main", "feat: thing\n");
  const auto request = request_for(sha, {{"github-release", true}});
  releases_.error = make_error(Errc::unavailable, "POST https://api.github.com: HTTP 502 after 4 attempts");
  auto down = handle(request);
  ASSERT_FALSE(down.ok());  // retried later: the tag is pushed already
  EXPECT_EQ(down.error().code, Errc::unavailable);
  EXPECT_NE(down.error().message.find("v1.2.0 was pushed"), std::string::npos);
  EXPECT_EQ(remote_.pushes, 1);

  releases_.error.reset();
  auto retried = handle(request);
  ASSERT_TRUE(retried.ok());
  ASSERT_EQ(retried->status, Status::succeeded);
  EXPECT_EQ(remote_.pushes, 1);
  EXPECT_EQ(retried->outputs["release-url"], "https://github.example/acme/app/releases/tag/v1.2.0");
  EXPECT_EQ(retried->cdevents.at(0)["subject"]["content"]["releaseUrl"], retried->outputs["release-url"]);
  ASSERT_EQ(releases_.requests.size(), 2u);
  const auto& sent = releases_.requests.back();
  EXPECT_EQ(sent.repository, "acme/app");
  EXPECT_EQ(sent.tag, "v1.2.0");
  EXPECT_EQ(sent.name, "v1.2.0");
  EXPECT_EQ(sent.body, retried->outputs["changelog"]);
  EXPECT_FALSE(sent.prerelease);
  EXPECT_EQ(remote_.journal.back(), "release v1.2.0");

  releases_.error = make_error(Errc::invalid_argument, "POST https://api.github.com: HTTP 403");
  auto refused = handle(request_for(remote_.commit("main", "fix: more\n"), {{"github-release", true}}));
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->status, Status::failed);
  EXPECT_EQ(refused->reason, "v1.2.1 was pushed, but GitHub refused the release: POST https://api.github.com: HTTP 403");

  // No github.token: skipped, the stage succeeds.
  auto skipped = handle(request_for(remote_.commit("main", "fix: again\n"), {{"github-release", true}}), false);
  ASSERT_TRUE(skipped.ok());
  EXPECT_EQ(skipped->status, Status::succeeded);
  EXPECT_EQ(skipped->outputs["version"], "1.2.2");
  EXPECT_FALSE(skipped->outputs.contains("release-url"));
}

TEST_F(VersionHandler, TagAndPullRequestRunsDoNotRelease) {
  const std::string sha = remote_.commit("main", "feat: thing\n");
  auto tag_run = request_for(sha);
  tag_run.run.ref = "refs/tags/v1.5.0";
  tag_run.run.ref_kind = "tag";
  tag_run.run.ref_name = "v1.5.0";
  auto t = handle(tag_run);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->status, Status::succeeded);
  EXPECT_EQ(t->outputs["version"], "1.5.0");
  EXPECT_EQ(t->outputs["tag"], "v1.5.0");
  EXPECT_EQ(t->outputs["commit"], sha);
  EXPECT_TRUE(remote_.opened_urls.empty());  // no git needed

  auto pr = request_for(sha);
  pr.run.trigger = "pull_request";
  pr.run.ref = "refs/pull/7/head";
  pr.run.ref_kind = "pull_request";
  pr.run.ref_name = "feature";
  pr.run.pull_request = 7;
  auto p = handle(pr);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->status, Status::stopped);
  EXPECT_EQ(p->reason, "no release (pull request runs do not release)");
  EXPECT_TRUE(remote_.opened_urls.empty());

  pr.settings = {{"on-no-release", "continue"}};
  auto c = handle(pr);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->status, Status::succeeded);
  EXPECT_EQ(c->outputs["version"], "1.1.0");  // the current version, not 1.2.0
  EXPECT_EQ(remote_.pushes, 0);

  tag_run.run.ref_name = "nightly";
  tag_run.run.ref = "refs/tags/nightly";
  auto n = handle(tag_run);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->status, Status::stopped);
  EXPECT_EQ(n->reason, "no release (tag runs do not release)");
}

TEST_F(VersionHandler, SettingsTokenAuthorAndChangelogPath) {
  const std::string sha = remote_.commit("main", "fix: thing\n");
  auto bad = handle(request_for(sha, {{"changelog", "../CHANGELOG.md"}}));
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->status, Status::failed);
  EXPECT_EQ(bad->reason.rfind("version.changelog: ", 0), 0u) << bad->reason;
  auto unknown = handle(request_for(sha, {{"tag-format", "x"}}));
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->reason, "version.tag-format: unknown setting");
  auto missing_token = handle(request_for(sha, {{"token", {{"env", "NOT_SET_ANYWHERE"}}}}));
  ASSERT_TRUE(missing_token.ok());
  EXPECT_EQ(missing_token->status, Status::failed);
  EXPECT_NE(missing_token->reason.find("env:NOT_SET_ANYWHERE"), std::string::npos) << missing_token->reason;
  auto symlink = handle(request_for(sha, {{"changelog", "link.md"}}));
  ASSERT_TRUE(symlink.ok());
  EXPECT_EQ(symlink->reason, "version.changelog: link.md is not a regular file (mode 120000)");

  auto ok = handle(request_for(sha, {{"token", {{"env", "IT_TOKEN"}}},
                                     {"author", "Release Bot <release@example.com>"},
                                     {"changelog", "docs/CHANGES.md"},
                                     {"tag-prefix", "release-"}}));
  ASSERT_TRUE(ok.ok());
  ASSERT_EQ(ok->status, Status::succeeded) << ok->reason;
  EXPECT_EQ(remote_.opened_tokens.back(), std::optional<std::string>("tok-123-secret"));
  EXPECT_EQ(remote_.last_author.name, "Release Bot");
  EXPECT_EQ(remote_.last_author.email, "release@example.com");
  // Another prefix: no release- tag yet, so everything counts and it is 1.0.0.
  EXPECT_EQ(ok->outputs["tag"], "release-1.0.0");
  EXPECT_TRUE(commit(tip()).files.count("docs/CHANGES.md"));
  EXPECT_EQ(commit(tip()).files.at("CHANGELOG.md"), kOldChangelog);
}

TEST_F(VersionHandler, MergeCommitsCountAndNonSemverTagsAreIgnored) {
  remote_.tag("release-2020", tip());
  remote_.tag("vfoo", tip());
  remote_.tag("v2.0", tip());
  remote_.branches["feature"] = tip();
  remote_.commit("feature", "feat(ui): dark mode\n");
  remote_.commit("main", "docs: unrelated\n");
  const std::string merge = remote_.merge("main", "feature", "Merge pull request #9 from acme/feature\n\ndark mode\n");
  auto r = handle(request_for(merge));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, Status::succeeded) << r->reason;
  EXPECT_EQ(r->outputs["version"], "1.2.0");
  EXPECT_EQ(r->outputs["previous"], "v1.1.0");
  EXPECT_NE(r->outputs["changelog"].get<std::string>().find("**ui:** dark mode"), std::string::npos);
}

TEST(VersionSettings, Defaults) {
  auto s = parse_settings(json::object());
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->tag_prefix, "v");
  EXPECT_EQ(s->changelog, "CHANGELOG.md");
  EXPECT_FALSE(s->github_release);
  EXPECT_FALSE(s->continue_without_release);
  EXPECT_EQ(s->author.name, "conveyor");
  EXPECT_EQ(s->author.email, "conveyor@localhost");
  EXPECT_FALSE(s->token.has_value());
  EXPECT_FALSE(parse_settings(json::array()).ok());
  EXPECT_FALSE(parse_settings({{"on-no-release", "maybe"}}).ok());
  EXPECT_FALSE(parse_settings({{"author", "nobody"}}).ok());
  EXPECT_FALSE(parse_settings({{"changelog", ".git/config"}}).ok());
  EXPECT_FALSE(parse_settings({{"tag-prefix", "v 1"}}).ok());
  auto a = parse_settings({{"author", {{"name", "A"}, {"email", "a@b"}}}, {"prerelease-branches", {"beta"}}});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->author.email, "a@b");
  EXPECT_EQ(a->prerelease_branches, std::vector<std::string>{"beta"});
}

}  // namespace
}  // namespace conveyor::version_tagger
