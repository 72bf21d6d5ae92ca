// conveyor-version-tagger against the real Kafka broker and Redis
// (scripts/infra) and real git: a bare "remote" repository made by each test,
// a local HTTP server standing in for GitHub's REST API, and the real
// conveyor-webhook for the tag push GitHub sends after a release. Each test
// runs the service with its own topic prefix, topics and repository name.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <sstream>

#include "conveyor/bus/producer.hpp"
#include "conveyor/events/cdevents.hpp"
#include "conveyor/events/run.hpp"
#include "conveyor/github/signature.hpp"
#include "conveyor/http/client.hpp"
#include "conveyor/logging/log.hpp"
#include "conveyor/store/store.hpp"
#include "fixtures.hpp"
#include "git_repo.hpp"
#include "kafka_admin.hpp"
#include "kafka_records.hpp"
#include "recording_server.hpp"
#include "schema_validation.hpp"
#include "service_process.hpp"

namespace conveyor::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

const std::string kGitHubToken = "it-github-token-3c4d5e";
const std::string kWebhookSecret = "it-webhook-secret-6f7a";
const std::string kOldChangelog = "# Changelog\n\n## 1.0.0 (2024-01-01)\n\n* first release\n";

// The first `git` on PATH that is not our shim.
std::string real_git() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = dir + "/git";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "/usr/bin/git";
}

std::vector<events::KafkaRecord> of_run(const std::vector<events::KafkaRecord>& records, const std::string& run_id) {
  std::vector<events::KafkaRecord> out;
  for (const auto& r : records) {
    const auto* h = r.header("ce_runid");
    if (h && *h == run_id) out.push_back(r);
  }
  return out;
}

std::vector<json> cdevents_of(const std::vector<events::KafkaRecord>& records, const std::string& type_prefix) {
  std::vector<json> out;
  for (const auto& r : records) {
    auto e = events::cdevent_from_kafka(r);
    if (e && (*e)["context"]["type"].get<std::string>().rfind(type_prefix, 0) == 0) out.push_back(*e);
  }
  return out;
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// A reader at the end of a topic just created: its partitions may still be
// without a leader for a moment ("Not leader for partition").
std::unique_ptr<bus::Reader> ready_reader(const std::string& topic) {
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  for (;;) {
    try {
      return reader_at_end(kafka_brokers(), topic);
    } catch (const std::exception&) {
      if (std::chrono::steady_clock::now() >= deadline) throw;
      std::this_thread::sleep_for(100ms);
    }
  }
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

class VersionTaggerIT : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_dir("version-tagger-it");
    const std::string id = events::new_uuid().substr(0, 8);
    prefix_ = "conveyor-it-version-" + id;
    repository_ = "acme/app-" + id;
    for (const auto& [suffix, partitions] : std::vector<std::pair<std::string, int>>{
             {".stage.version", 3}, {".events", 3}, {".dlq", 1}, {".stage.build", 3}}) {
      create_topic_named(kafka_brokers(), prefix_ + suffix, partitions);
    }
    events_ = ready_reader(prefix_ + ".events");
    build_ = ready_reader(prefix_ + ".stage.build");
    repo_ = std::make_unique<GitRepo>(dir_ + "/app");
    first_ = repo_->commit({{"CHANGELOG.md", kOldChangelog}, {"main.c", "int main() {}\n"}}, "feat: first release");
    GitRepo::git(repo_->work(), {"tag", "-a", "-m", "1.0.0", "v1.0.0"});
    GitRepo::git(repo_->work(), {"push", "-q", "origin", "v1.0.0"});

    github_.on("POST", "/api/v3/repos/" + repository_ + "/releases",
               {RecordingServer::Answer(201, "{\"id\": 7, \"html_url\": \"https://github.example/" + repository_ +
                                                 "/releases/tag/v1.1.0\"}",
                                        {}, "application/json")});
    github_.start();
    write_file(dir_ + "/conveyor.yaml", config_yaml());
    bus::ProducerOptions producer_options;
    producer_options.brokers = kafka_brokers();
    auto producer = bus::Producer::create(producer_options);
    ASSERT_TRUE(producer.ok()) << producer.error().message;
    producer_ = std::move(*producer);
    write_git_shim();
    start();
  }

  void TearDown() override {
    if (webhook_ && webhook_->running()) {
      webhook_->kill(SIGTERM);
      webhook_->wait_exit(20s);
    }
    if (service_ && service_->running()) {
      service_->kill(SIGTERM);
      EXPECT_EQ(service_->wait_exit(30s), 0) << service_->log();
    }
    if (!HasFailure()) fs::remove_all(dir_);
  }

  std::string config_yaml() const {
    return "kafka:\n  brokers: " + kafka_brokers() + "\n  topic-prefix: " + prefix_ +
           "\n  max-attempts: 2\n"
           "redis:\n  url: " + redis_url() +
           "\nadmin:\n  listen: 127.0.0.1:0\n"
           "webhook:\n  listen: 127.0.0.1:0\n  secrets: [{env: IT_WEBHOOK_SECRET}]\n"
           "github:\n  api-url: " + github_.url("/api/v3") + "\n  token: {env: IT_GITHUB_TOKEN}\n"
           "pipelines:\n"
           "  - name: app\n"
           "    repository: " + repository_ + "\n"
           "    clone-url: " + repo_->url() + "\n"
           "    triggers:\n      push: { branches: [main], tags: [\"v*\"] }\n"
           "    version: { tag-prefix: v, github-release: true }\n";
  }

  // `git` first on the service's PATH: logs argv; when armed, another writer
  // pushes to main right before the service's push (race.armed), or the
  // push completes and then git hangs, so the test can kill the service
  // between the push and its recorded outcome (hold.armed).
  void write_git_shim() {
    fs::create_directories(dir_ + "/bin");
    const std::string git = real_git();
    write_file(dir_ + "/race.sh",
               "set -e\n"
               "unset GIT_CONFIG_COUNT GIT_INDEX_FILE\n"
               "export GIT_CONFIG_GLOBAL=/dev/null\n"
               "export GIT_AUTHOR_NAME=racer GIT_AUTHOR_EMAIL=racer@example.com\n"
               "export GIT_COMMITTER_NAME=racer GIT_COMMITTER_EMAIL=racer@example.com\n"
               "cd " + repo_->work() + "\n" +
               git + " fetch -q origin main\n" +
               git + " reset -q --hard FETCH_HEAD\n"
               "echo raced >> race.txt\n" +
               git + " add race.txt\n" +
               git + " commit -q -m 'fix: someone else'\n" +
               git + " push -q origin HEAD:refs/heads/main\n");
    const std::string shim = dir_ + "/bin/git";
    write_file(shim, "#!/bin/sh\n"
                     "printf '%s\\n' \"$*\" >> " + dir_ + "/git-argv.log\n"
                     "if [ \"$1\" = push ] && [ -e " + dir_ + "/race.armed ]; then\n"
                     "  rm -f " + dir_ + "/race.armed\n"
                     "  sh " + dir_ + "/race.sh >> " + dir_ + "/race.log 2>&1\n"
                     "fi\n"
                     "if [ \"$1\" = push ] && [ -e " + dir_ + "/hold.armed ]; then\n"
                     "  rm -f " + dir_ + "/hold.armed\n"
                     "  " + git + " \"$@\"\n"
                     "  touch " + dir_ + "/pushed\n"
                     "  exec sleep 60\n"
                     "fi\n"
                     "exec " + git + " \"$@\"\n");
    ::chmod(shim.c_str(), 0755);
  }

  void start() {
    const char* path = std::getenv("PATH");
    service_ = std::make_unique<ServiceProcess>(
        bin_dir() + "/conveyor-version-tagger", std::vector<std::string>{"--config", dir_ + "/conveyor.yaml"},
        dir_ + "/service-" + std::to_string(++starts_) + ".log",
        std::map<std::string, std::string>{{"PATH", dir_ + "/bin:" + (path ? path : "/usr/bin:/bin")},
                                           {"CONVEYOR_VERSION_TAGGER_DIR", dir_ + "/work"},
                                           {"IT_GITHUB_TOKEN", kGitHubToken}});
    ASSERT_TRUE(service_->wait_for_log("listening", 30s)) << service_->log();
  }

  events::RunContext new_run(const std::string& sha) const {
    events::RunContext run;
    run.run_id = events::new_uuid();
    run.pipeline = "app";
    run.repository = repository_;
    run.clone_url = repo_->url();
    run.trigger = "push";
    run.ref = "refs/heads/main";
    run.ref_kind = "branch";
    run.ref_name = "main";
    run.sha = sha;
    run.traceparent = log::new_traceparent();
    run.queued_at = events::now_rfc3339();
    return run;
  }

  events::StageRequest submit(const events::RunContext& run, json settings = nullptr) {
    if (settings.is_null()) {
      settings = {{"tag-prefix", "v"},
                  {"github-release", true},
                  {"author", {{"name", "Release Bot"}, {"email", "release@example.com"}}}};
    }
    auto request = events::first_request(run, {{"version", settings}, {"build", json::object()}});
    submit(request);
    return request;
  }
  void submit(const events::StageRequest& request) {
    auto ok = producer_->produce_all({events::to_kafka(request, prefix_)});
    ASSERT_TRUE(ok.ok()) << ok.error().message;
  }

  // The `count`-th build request of a run (the version stage succeeded).
  events::StageRequest build_request(const std::string& run_id, std::size_t count = 1,
                                     std::chrono::milliseconds timeout = 60s) {
    const bool got = collect_until(
        *build_, build_seen_, [&](const auto& v) { return of_run(v, run_id).size() >= count; }, timeout);
    EXPECT_TRUE(got) << "no build request for " << run_id << "\n" << service_->log();
    if (!got) return {};
    auto request = events::request_from_kafka(of_run(build_seen_, run_id)[count - 1]);
    EXPECT_TRUE(request.ok()) << request.error().message;
    return request.ok() ? *request : events::StageRequest{};
  }

  // Events of a run, once one of type `until_type` arrived.
  std::vector<json> run_events(const std::string& run_id, const std::string& until_type,
                               std::chrono::milliseconds timeout = 60s) {
    collect_until(
        *events_, events_seen_,
        [&](const auto& v) { return !cdevents_of(of_run(v, run_id), until_type).empty(); }, timeout);
    return cdevents_of(of_run(events_seen_, run_id), "");
  }

  std::string remote(const std::vector<std::string>& args) { return GitRepo::git(repo_->bare(), args); }
  int commit_count() { return std::stoi(remote({"rev-list", "--count", "main"})); }
  std::string tip() { return trimmed(remote({"rev-parse", "main"})); }
  std::string tags() { return remote({"tag", "--list"}); }

  std::shared_ptr<store::Redis> redis() {
    auto r = store::Redis::connect({redis_url(), 2000ms, 1});
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : nullptr;
  }

  std::string dir_, prefix_, repository_, first_;
  std::unique_ptr<GitRepo> repo_;
  RecordingServer github_;
  std::unique_ptr<bus::Producer> producer_;
  std::unique_ptr<ServiceProcess> service_, webhook_;
  std::unique_ptr<bus::Reader> events_, build_;
  std::vector<events::KafkaRecord> events_seen_, build_seen_;
  int starts_ = 0;
};

TEST_F(VersionTaggerIT, FeatFixAndBreakingHistoriesAreReleasedWithChangelogTagAndGitHubRelease) {
  repo_->commit({{"a.c", "1\n"}}, "fix(parser): crash on empty input");
  repo_->commit({{"b.c", "2\n"}}, "feat(api): add export\n\nCloses #12");
  const std::string sha = repo_->commit({{"README.md", "docs\n"}}, "docs: readme");
  const auto run = new_run(sha);
  const auto request = submit(run);
  const auto next = build_request(run.run_id);
  ASSERT_EQ(next.stage, "build");

  // The release commit: on top of the run's commit, only CHANGELOG.md changed.
  const json& v = next.run.outputs["version"];
  EXPECT_EQ(v["version"], "1.1.0");
  EXPECT_EQ(v["tag"], "v1.1.0");
  EXPECT_EQ(v["previous"], "v1.0.0");
  EXPECT_EQ(v["release-type"], "minor");
  EXPECT_EQ(v["commit"], tip());
  EXPECT_EQ(remote({"log", "-1", "--format=%P|%B|%an <%ae>", "main"}),
            sha + "|chore(release): 1.1.0 [skip ci]\n|Release Bot <release@example.com>\n");
  EXPECT_EQ(remote({"diff", "--name-only", sha, "main"}), "CHANGELOG.md\n");
  const std::string changelog = remote({"show", "main:CHANGELOG.md"});
  const std::string section = v["changelog"];
  EXPECT_EQ(changelog, "# Changelog\n\n" + section + "\n## 1.0.0 (2024-01-01)\n\n* first release\n");
  EXPECT_EQ(section.rfind("## [1.1.0](https://github.com/" + repository_ + "/compare/v1.0.0...v1.1.0) (", 0), 0u)
      << section;
  EXPECT_NE(section.find("### Features\n\n* **api:** add export"), std::string::npos) << section;
  EXPECT_NE(section.find("### Bug Fixes\n\n* **parser:** crash on empty input"), std::string::npos) << section;

  // The annotated tag on the release commit.
  EXPECT_EQ(tags(), "v1.0.0\nv1.1.0\n");
  EXPECT_EQ(trimmed(remote({"cat-file", "-t", "v1.1.0"})), "tag");
  EXPECT_EQ(trimmed(remote({"rev-parse", "v1.1.0^{commit}"})), tip());

  // The GitHub Release, exactly as the REST API documents it.
  const auto releases = github_.requests("/api/v3/repos/" + repository_ + "/releases");
  ASSERT_EQ(releases.size(), 1u);
  EXPECT_EQ(releases[0].method, "POST");
  EXPECT_EQ(releases[0].header("Authorization"), "Bearer " + kGitHubToken);
  EXPECT_EQ(releases[0].header("Accept"), "application/vnd.github+json");
  EXPECT_EQ(releases[0].header("X-GitHub-Api-Version"), "2022-11-28");
  EXPECT_EQ(json::parse(releases[0].body), (json{{"tag_name", "v1.1.0"},
                                                 {"name", "v1.1.0"},
                                                 {"body", section},
                                                 {"draft", false},
                                                 {"prerelease", false}}));
  EXPECT_EQ(v["release-url"], "https://github.example/" + repository_ + "/releases/tag/v1.1.0");

  // The public event, valid against its schema.
  run_events(run.run_id, "dev.conveyor.version.released");
  const auto released = cdevents_of(of_run(events_seen_, run.run_id), "dev.conveyor.version.released");
  ASSERT_EQ(released.size(), 1u) << service_->log();
  EXPECT_EQ(released[0]["context"]["id"], request.id + ":released");
  EXPECT_EQ(released[0]["subject"]["content"]["commit"], tip());
  EXPECT_TRUE(validate_file(source_dir() + "/schemas/events/version-released.schema.json", released[0]).empty());

  // Recorded in Redis as created by conveyor: the commit and the tag object.
  store::CreatedTags created(redis());
  EXPECT_TRUE(*created.was_created(repository_, "v1.1.0", tip()));
  EXPECT_TRUE(*created.was_created(repository_, "v1.1.0", trimmed(remote({"rev-parse", "v1.1.0"}))));
  EXPECT_FALSE(*created.was_created(repository_, "v1.1.0", sha));

  // A breaking change after it: a major release on top of the first one.
  const std::string breaking = [&] {
    GitRepo::git(repo_->work(), {"pull", "-q", "--ff-only", "origin", "main"});
    return repo_->commit({{"c.c", "3\n"}}, "refactor!: drop the v1 API\n\nBREAKING CHANGE: clients must use /v2");
  }();
  const auto major = new_run(breaking);
  submit(major);
  const auto next2 = build_request(major.run_id);
  EXPECT_EQ(next2.run.outputs["version"]["version"], "2.0.0");
  EXPECT_EQ(next2.run.outputs["version"]["previous"], "v1.1.0");
  EXPECT_EQ(next2.run.outputs["version"]["release-type"], "major");
  EXPECT_EQ(tags(), "v1.0.0\nv1.1.0\nv2.0.0\n");
  EXPECT_NE(remote({"show", "main:CHANGELOG.md"}).find("### ⚠ BREAKING CHANGES\n\n* clients must use /v2"),
            std::string::npos);

  // git never saw the token or the URL in its argv.
  const std::string argv = read_file(dir_ + "/git-argv.log");
  EXPECT_NE(argv.find("push --porcelain --atomic --force-with-lease=refs/heads/main:" + sha), std::string::npos) << argv;
  EXPECT_EQ(argv.find(repo_->bare()), std::string::npos) << argv;
  EXPECT_EQ(service_->log().find(kGitHubToken), std::string::npos);
  EXPECT_TRUE(fs::is_empty(dir_ + "/work"));
}

TEST_F(VersionTaggerIT, ARedeliveredRequestRepublishesWithoutASecondTagOrCommit) {
  const std::string sha = repo_->commit({{"a.c", "1\n"}}, "fix: one");
  const auto run = new_run(sha);
  const auto request = submit(run);
  const auto first = build_request(run.run_id);
  ASSERT_EQ(commit_count(), 3);
  submit(request);  // the same request again, as Kafka would redeliver it
  const auto second = build_request(run.run_id, 2);
  EXPECT_EQ(second.id, first.id);
  EXPECT_EQ(second.run.outputs["version"], first.run.outputs["version"]);
  EXPECT_EQ(commit_count(), 3);
  EXPECT_EQ(tags(), "v1.0.0\nv1.0.1\n");
  EXPECT_EQ(github_.requests().size(), 1u);  // the recorded outcome is re-published; nothing is redone
}

TEST_F(VersionTaggerIT, KilledBetweenPushAndOutcomeTheReleaseCompletesOnceAfterRestart) {
  const std::string sha = repo_->commit({{"a.c", "1\n"}}, "feat: thing");
  write_file(dir_ + "/hold.armed", "");
  const auto run = new_run(sha);
  submit(run);
  ASSERT_TRUE(wait_until([&] { return fs::exists(dir_ + "/pushed"); }, 60s)) << service_->log();
  service_->kill(SIGKILL);
  ASSERT_TRUE(service_->wait_exit(10s));
  const std::string pushed = tip();
  EXPECT_EQ(tags(), "v1.0.0\nv1.1.0\n");  // the push happened, the outcome was never recorded

  start();
  const auto next = build_request(run.run_id, 1, 90s);
  EXPECT_EQ(next.run.outputs["version"]["version"], "1.1.0");
  EXPECT_EQ(next.run.outputs["version"]["commit"], pushed);
  EXPECT_EQ(tip(), pushed);
  EXPECT_EQ(commit_count(), 3);  // first release, the feat, one release commit
  EXPECT_EQ(tags(), "v1.0.0\nv1.1.0\n");
  // The GitHub Release was made by the restarted service (the first one died before it).
  EXPECT_EQ(github_.requests().size(), 1u);
  run_events(run.run_id, "dev.conveyor.version.released");
  std::set<std::string> ids;
  for (const auto& e : cdevents_of(of_run(events_seen_, run.run_id), "dev.conveyor.version.released")) {
    ids.insert(e["context"]["id"]);
  }
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_NE(service_->log().find("release already pushed"), std::string::npos) << service_->log();
}

TEST_F(VersionTaggerIT, NoReleaseStopsAndFailuresEndTheRunWithAClearReason) {
  // Nothing releasable: the run ends successfully with "no release".
  const std::string docs = repo_->commit({{"README.md", "x\n"}}, "docs: readme");
  const auto quiet = new_run(docs);
  submit(quiet);
  run_events(quiet.run_id, "dev.cdevents.pipelinerun.finished");
  auto finished = cdevents_of(of_run(events_seen_, quiet.run_id), "dev.cdevents.pipelinerun.finished");
  ASSERT_EQ(finished.size(), 1u) << service_->log();
  EXPECT_EQ(finished[0]["subject"]["content"]["outcome"], "success");
  EXPECT_EQ(finished[0]["subject"]["content"]["errors"], "no release");
  EXPECT_EQ(tags(), "v1.0.0\n");

  // The branch moves while the release is being pushed: no tag, a clear reason.
  const std::string sha = repo_->commit({{"a.c", "1\n"}}, "feat: thing");
  write_file(dir_ + "/race.armed", "");
  const auto raced = new_run(sha);
  submit(raced);
  run_events(raced.run_id, "dev.cdevents.pipelinerun.finished");
  finished = cdevents_of(of_run(events_seen_, raced.run_id), "dev.cdevents.pipelinerun.finished");
  ASSERT_EQ(finished.size(), 1u) << service_->log();
  EXPECT_EQ(finished[0]["subject"]["content"]["outcome"], "failure");
  EXPECT_EQ(finished[0]["subject"]["content"]["errors"],
            "branch main moved from " + sha + " to " + tip() + "; not releasing")
      << read_file(dir_ + "/race.log");
  EXPECT_EQ(tags(), "v1.0.0\n");
  EXPECT_EQ(remote({"log", "-1", "--format=%s", "main"}), "fix: someone else\n");

  // An unreachable repository and a commit that does not exist.
  auto gone = new_run(sha);
  gone.clone_url = "file://" + dir_ + "/nothing-here.git";
  submit(gone);
  auto missing = new_run(std::string(40, 'e'));
  submit(missing);
  run_events(gone.run_id, "dev.cdevents.pipelinerun.finished");
  run_events(missing.run_id, "dev.cdevents.pipelinerun.finished");
  const auto g = cdevents_of(of_run(events_seen_, gone.run_id), "dev.cdevents.pipelinerun.finished");
  ASSERT_EQ(g.size(), 1u) << service_->log();
  EXPECT_EQ(g[0]["subject"]["content"]["outcome"], "failure");
  EXPECT_NE(g[0]["subject"]["content"]["errors"].get<std::string>().find("does not appear to be a git repository"),
            std::string::npos)
      << g[0].dump();
  const auto m = cdevents_of(of_run(events_seen_, missing.run_id), "dev.cdevents.pipelinerun.finished");
  ASSERT_EQ(m.size(), 1u) << service_->log();
  EXPECT_NE(m[0]["subject"]["content"]["errors"].get<std::string>().find("commit " + std::string(40, 'e') + " not found"),
            std::string::npos)
      << m[0].dump();
  EXPECT_TRUE(service_->running());
}

// GitHub's push webhook for a tag conveyor created is acknowledged without a
// run; any other tag push still starts one.
TEST_F(VersionTaggerIT, TheTagPushWebhookOfACreatedTagStartsNoSecondRun) {
  const std::string sha = repo_->commit({{"a.c", "1\n"}}, "fix: one");
  const auto run = new_run(sha);
  submit(run);
  build_request(run.run_id);
  const std::string commit = tip();
  const std::string tag_object = trimmed(remote({"rev-parse", "v1.0.1"}));

  webhook_ = std::make_unique<ServiceProcess>(bin_dir() + "/conveyor-webhook",
                                              std::vector<std::string>{"--config", dir_ + "/conveyor.yaml"},
                                              dir_ + "/webhook.log",
                                              std::map<std::string, std::string>{{"IT_WEBHOOK_SECRET", kWebhookSecret}});
  const int port = webhook_->port("webhook_port");
  auto deliver = [&](const std::string& tag, const std::string& after) {
    auto payload = json::parse(fixture("push/ghes-34.payload.json"));
    payload["ref"] = "refs/tags/" + tag;
    payload["before"] = std::string(40, '0');
    payload["after"] = after;
    payload["created"] = true;
    payload["repository"]["full_name"] = repository_;
    payload["head_commit"] = nullptr;  // the record decides, whatever head_commit says
    const std::string body = payload.dump();
    http::Headers h;
    h["Content-Type"] = "application/json";
    h["X-GitHub-Event"] = "push";
    h["X-GitHub-Delivery"] = events::new_uuid();
    h["X-Hub-Signature-256"] = github::signature_header(kWebhookSecret, body);
    auto r = http::request("POST", "http://127.0.0.1:" + std::to_string(port) + "/webhooks/github", h, body, 15s);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : http::ClientResponse{};
  };
  // GitHub names the tag object for an annotated tag; either SHA is recognised.
  for (const std::string& after : {tag_object, commit}) {
    const auto r = deliver("v1.0.1", after);
    EXPECT_EQ(r.status, 202) << r.body;
    EXPECT_EQ(json::parse(r.body), (json{{"status", "skipped"}, {"reason", "tag created by conveyor"}})) << r.body;
  }
  // The same tag name at another commit (re-tagged by hand) is not ours.
  const auto other = deliver("v1.0.1", first_);
  EXPECT_EQ(other.status, 202);
  EXPECT_EQ(json::parse(other.body)["status"], "queued") << other.body;
  // A tag pushed by someone else starts a run (the marker: anything the skipped
  // deliveries had published would have arrived before its events).
  const auto marker = deliver("v7.0.0", sha);
  ASSERT_EQ(marker.status, 202) << marker.body;
  const std::string marker_run = json::parse(marker.body)["run_id"];
  run_events(marker_run, "dev.cdevents.pipelinerun.queued");
  std::set<std::string> queued_runs;
  for (const auto& r : events_seen_) {
    auto e = events::cdevent_from_kafka(r);
    if (e && (*e)["context"]["type"].get<std::string>().rfind("dev.cdevents.pipelinerun.queued", 0) == 0) {
      queued_runs.insert((*e)["context"]["chainId"].get<std::string>());
    }
  }
  EXPECT_EQ(queued_runs, (std::set<std::string>{json::parse(other.body)["run_id"].get<std::string>(), marker_run}));
  EXPECT_NE(webhook_->log().find("tag created by conveyor"), std::string::npos);
}

TEST(VersionTaggerConfig, BadVersionSettingsAreRefusedWithTheirKeyPath) {
  const auto dir = temp_dir("version-tagger-badcfg");
  write_file(dir + "/conveyor.yaml",
             "kafka: { brokers: 127.0.0.1:1 }\n"
             "pipelines:\n"
             "  - name: x\n    repository: a/b\n    version: { on-no-release: maybe, author: nobody }\n");
  ServiceProcess check(bin_dir() + "/conveyor-version-tagger", {"--check-config", "--config", dir + "/conveyor.yaml"},
                       dir + "/log");
  EXPECT_EQ(check.wait_exit(30s).value_or(-1), 2);
  EXPECT_NE(check.log().find("pipelines[0].version"), std::string::npos) << check.log();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace conveyor::testing
