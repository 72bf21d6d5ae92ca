// conveyor-helm-updater against the real Kafka broker and Redis (scripts/infra)
// and real git: a bare "remote" GitOps repository made by each test. Each test
// runs the service with its own topic prefix and topics.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <thread>

#include "conveyor/bus/producer.hpp"
#include "conveyor/events/cdevents.hpp"
#include "conveyor/events/run.hpp"
#include "conveyor/logging/log.hpp"
#include "fixtures.hpp"
#include "git_repo.hpp"
#include "kafka_admin.hpp"
#include "kafka_records.hpp"
#include "schema_validation.hpp"
#include "service_process.hpp"

namespace conveyor::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

const std::string kFile = "k8s/imprun/values-production.yaml";
const std::string kToken = "it-gitops-token-7a8b9c";
const std::string kDigest = "sha256:4f1c2b9e8a7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928170f6e5d4c";
const std::string kValues = R"(# Production values for imprun (GitOps).
imprun-server:
  replicaCount: 2

  image:
    repository: registry.example.com/imprun/imprun-server
    tag: "1.3.9"   # set by conveyor
    digest: ''

  podAnnotations:
    app.kubernetes.io/version: 1.3.9
    prometheus.io/scrape: "true"

imprun-console:
  image: {repository: registry.example.com/imprun/imprun-console, tag: 1.3.9}
)";

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

// A reader at the end of a topic created a moment ago: the new partitions may
// have no leader yet, so retry for a while.
std::unique_ptr<bus::Reader> reader_at_end_when_ready(const std::string& topic) {
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

class HelmUpdaterIT : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_dir("helm-updater-it");
    prefix_ = "conveyor-it-helm-" + events::new_uuid().substr(0, 8);
    for (const auto& [suffix, partitions] : std::vector<std::pair<std::string, int>>{
             {".stage.helm", 3}, {".events", 3}, {".dlq", 1}, {".stage.deploy", 3}}) {
      create_topic_named(kafka_brokers(), prefix_ + suffix, partitions);
    }
    events_ = reader_at_end_when_ready(prefix_ + ".events");
    deploy_ = reader_at_end_when_ready(prefix_ + ".stage.deploy");
    dlq_ = reader_at_end_when_ready(prefix_ + ".dlq");
    gitops_ = std::make_unique<GitRepo>(dir_ + "/gitops");
    gitops_->commit({{kFile, kValues}, {"README.md", "GitOps repository\n"}}, "initial");
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
           "pipelines:\n"
           "  - name: imprun\n"
           "    repository: imprun/imprun.dev\n"
           "    values:\n"
           "      repository: " + gitops_->url() + "\n"
           "      file: " + kFile + "\n"
           "      set: { imprun-server.image.tag: \"{{version}}\" }\n"
           "      author: { name: Deploy Bot, email: deploy@example.com }\n";
  }

  // `git` first on the service's PATH: when the test armed it, another writer
  // pushes to the GitOps branch right before the service's push.
  void write_git_shim() {
    fs::create_directories(dir_ + "/bin");
    const std::string git = real_git();
    write_file(dir_ + "/race.sh",
               "set -e\n"
               "export GIT_AUTHOR_NAME=racer GIT_AUTHOR_EMAIL=racer@example.com\n"
               "export GIT_COMMITTER_NAME=racer GIT_COMMITTER_EMAIL=racer@example.com\n"
               "cd " + gitops_->work() + "\n" +
               git + " fetch -q origin main\n" +
               git + " reset -q --hard FETCH_HEAD\n"
               "sed -i 's/replicaCount: 2/replicaCount: 3/' " + kFile + "\n" +
               git + " commit -q -am 'scale up (someone else)'\n" +
               git + " push -q origin HEAD:refs/heads/main\n");
    const std::string shim = dir_ + "/bin/git";
    write_file(shim, "#!/bin/sh\n"
                     "printf '%s\\n' \"$*\" >> " + dir_ + "/git-argv.log\n"
                     "if [ \"$1\" = push ] && [ -e " + dir_ + "/race.armed ]; then\n"
                     "  rm -f " + dir_ + "/race.armed\n"
                     "  sh " + dir_ + "/race.sh >> " + dir_ + "/race.log 2>&1\n"
                     "fi\n"
                     "exec " + git + " \"$@\"\n");
    ::chmod(shim.c_str(), 0755);
  }

  void start() {
    const char* path = std::getenv("PATH");
    service_ = std::make_unique<ServiceProcess>(
        bin_dir() + "/conveyor-helm-updater", std::vector<std::string>{"--config", dir_ + "/conveyor.yaml"},
        dir_ + "/service.log",
        std::map<std::string, std::string>{{"PATH", dir_ + "/bin:" + (path ? path : "/usr/bin:/bin")},
                                           {"CONVEYOR_HELM_UPDATER_DIR", dir_ + "/work"},
                                           {"IT_GITOPS_TOKEN", kToken}});
    ASSERT_TRUE(service_->wait_for_log("listening", 30s)) << service_->log();
  }

  json settings(const json& set, const std::string& repository = "") const {
    return {{"repository", repository.empty() ? gitops_->url() : repository},
            {"file", kFile},
            {"set", set},
            {"author", {{"name", "Deploy Bot"}, {"email", "deploy@example.com"}}}};
  }

  events::RunContext new_run(const std::string& version) const {
    events::RunContext run;
    run.run_id = events::new_uuid();
    run.pipeline = "imprun";
    run.repository = "imprun/imprun.dev";
    run.clone_url = "https://github.com/imprun/imprun.dev.git";
    run.trigger = "push";
    run.ref = "refs/heads/main";
    run.ref_kind = "branch";
    run.ref_name = "main";
    run.sha = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";
    run.traceparent = log::new_traceparent();
    run.queued_at = events::now_rfc3339();
    run.outputs = {{"version", {{"version", version}}},
                   {"build", {{"images", {{"imprun-server", {{"digest", kDigest}}}}}}}};
    return run;
  }

  events::StageRequest submit(const events::RunContext& run, const json& set, json helm_settings = nullptr) {
    if (helm_settings.is_null()) helm_settings = settings(set);
    auto request = events::first_request(run, {{"helm", helm_settings}, {"deploy", {{"environment", "staging"}}}});
    auto ok = producer_->produce_all({events::to_kafka(request, prefix_)});
    EXPECT_TRUE(ok.ok()) << ok.error().message;
    return request;
  }

  // The deploy request of a run (the helm stage succeeded), or fails the test.
  events::StageRequest deploy_request(const std::string& run_id, std::size_t count = 1) {
    const bool got = collect_until(
        *deploy_, deploy_seen_, [&](const auto& v) { return of_run(v, run_id).size() >= count; }, 60s);
    EXPECT_TRUE(got) << "no deploy request for " << run_id << "\n" << service_->log();
    if (!got) return {};
    auto request = events::request_from_kafka(of_run(deploy_seen_, run_id)[count - 1]);
    EXPECT_TRUE(request.ok()) << request.error().message;
    return request.ok() ? *request : events::StageRequest{};
  }

  std::vector<json> run_events(const std::string& run_id, const std::string& until_type) {
    collect_until(
        *events_, events_seen_,
        [&](const auto& v) { return !cdevents_of(of_run(v, run_id), until_type).empty(); }, 60s);
    return cdevents_of(of_run(events_seen_, run_id), "");
  }

  std::string remote_git(const std::vector<std::string>& args) { return GitRepo::git(gitops_->bare(), args); }
  int commit_count() { return std::stoi(remote_git({"rev-list", "--count", "main"})); }
  std::string tip() {
    std::string sha = remote_git({"rev-parse", "main"});
    return sha.substr(0, 40);
  }

  std::string dir_, prefix_;
  std::unique_ptr<GitRepo> gitops_;
  std::unique_ptr<bus::Producer> producer_;
  std::unique_ptr<ServiceProcess> service_;
  std::unique_ptr<bus::Reader> events_, deploy_, dlq_;
  std::vector<events::KafkaRecord> events_seen_, deploy_seen_;
};

const json kSet = {{"imprun-server.image.tag", "{{version}}"},
                   {"imprun-server.image.digest", "{{digest:imprun-server}}"},
                   {"imprun-server.podAnnotations[\"app.kubernetes.io/version\"]", "{{version}}"}};

TEST_F(HelmUpdaterIT, UpdatesTheValuesFileWithOneCommitOfOneLinePerKey) {
  const auto run = new_run("1.4.0");
  submit(run, kSet);
  const auto next = deploy_request(run.run_id);
  ASSERT_EQ(next.stage, "deploy");

  // Exactly one new commit; its diff is one line per key.
  EXPECT_EQ(commit_count(), 2);
  const std::string diff = remote_git({"diff", "--unified=0", "main~1", "main"});
  std::vector<std::string> removed, added;
  std::stringstream lines(diff);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("---", 0) == 0 || line.rfind("+++", 0) == 0) continue;
    if (line.rfind("-", 0) == 0) removed.push_back(line);
    if (line.rfind("+", 0) == 0) added.push_back(line);
  }
  EXPECT_EQ(removed, (std::vector<std::string>{"-    tag: \"1.3.9\"   # set by conveyor", "-    digest: ''",
                                               "-    app.kubernetes.io/version: 1.3.9"}))
      << diff;
  EXPECT_EQ(added, (std::vector<std::string>{"+    tag: \"1.4.0\"   # set by conveyor", "+    digest: '" + kDigest + "'",
                                             "+    app.kubernetes.io/version: 1.4.0"}))
      << diff;
  EXPECT_EQ(remote_git({"log", "-1", "--format=%s|%an <%ae>", "main"}),
            "chore(deploy): imprun 1.4.0 to staging [skip ci]|Deploy Bot <deploy@example.com>\n");
  EXPECT_EQ(remote_git({"diff", "--name-only", "main~1", "main"}), kFile + "\n");

  // The outputs the deployer gets.
  const json& helm = next.run.outputs["helm"];
  EXPECT_EQ(helm["commit"], tip());
  EXPECT_EQ(helm["changed"], true);
  EXPECT_EQ(helm["repository"], gitops_->url());
  EXPECT_EQ(helm["file"], kFile);
  EXPECT_EQ(helm["previous"]["imprun-server.image.tag"], "1.3.9");
  EXPECT_EQ(helm["previous"]["imprun-server.image.digest"], "");
  EXPECT_EQ(helm["values"]["imprun-server.image.digest"], kDigest);

  // The public event, valid against its schema.
  run_events(run.run_id, "dev.conveyor.values.committed");
  const auto committed = cdevents_of(of_run(events_seen_, run.run_id), "dev.conveyor.values.committed.0.1.0");
  ASSERT_EQ(committed.size(), 1u) << service_->log();
  EXPECT_EQ(committed[0]["subject"]["id"], tip());
  EXPECT_EQ(committed[0]["context"]["chainId"], run.run_id);
  EXPECT_TRUE(validate_file(source_dir() + "/schemas/events/values-committed.schema.json", committed[0]).empty());

  // git was only ever started with argv vectors; the workspace is gone.
  EXPECT_NE(read_file(dir_ + "/git-argv.log").find("clone --quiet --no-tags --single-branch --depth 1 --branch main"),
            std::string::npos);
  EXPECT_TRUE(fs::is_empty(dir_ + "/work"));
}

TEST_F(HelmUpdaterIT, AlreadyAtTheValuesMakesNoCommit) {
  const auto first = new_run("1.4.0");
  submit(first, kSet);
  deploy_request(first.run_id);
  ASSERT_EQ(commit_count(), 2);

  const auto second = new_run("1.4.0");
  submit(second, kSet);
  const auto b = deploy_request(second.run_id);
  EXPECT_EQ(commit_count(), 2);
  EXPECT_EQ(b.run.outputs["helm"]["changed"], false);
  EXPECT_EQ(b.run.outputs["helm"]["commit"], tip());
  EXPECT_EQ(b.run.outputs["helm"]["previous"]["imprun-server.image.tag"], "1.4.0");
  // A later run of the same repository is handled after this one (same
  // partition); once its event is here, every event of the second run is too.
  const auto third = new_run("1.4.1");
  submit(third, kSet);
  run_events(third.run_id, "dev.conveyor.values.committed");
  EXPECT_EQ(commit_count(), 3);
  EXPECT_EQ(cdevents_of(of_run(events_seen_, third.run_id), "dev.conveyor.values.committed").size(), 1u);
  EXPECT_TRUE(cdevents_of(of_run(events_seen_, second.run_id), "dev.conveyor.values.committed").empty());
}

TEST_F(HelmUpdaterIT, AConcurrentPushIsFetchedAndTheEditReapplied) {
  write_file(dir_ + "/race.armed", "");
  const auto run = new_run("1.5.0");
  submit(run, {{"imprun-server.image.tag", "{{version}}"}});
  const auto next = deploy_request(run.run_id);
  EXPECT_FALSE(fs::exists(dir_ + "/race.armed")) << "the race never ran";

  // initial, the other writer's commit, ours on top of it.
  EXPECT_EQ(commit_count(), 3) << read_file(dir_ + "/race.log");
  EXPECT_EQ(remote_git({"log", "-1", "--format=%s", "main~1"}), "scale up (someone else)\n");
  const std::string file = remote_git({"show", "main:" + kFile});
  EXPECT_NE(file.find("replicaCount: 3"), std::string::npos) << file;  // theirs kept
  EXPECT_NE(file.find("tag: \"1.5.0\"   # set by conveyor"), std::string::npos) << file;  // ours
  EXPECT_EQ(next.run.outputs["helm"]["commit"], tip());
  EXPECT_NE(service_->log().find("push rejected, the branch moved"), std::string::npos);
  // Our commit changes one line only.
  const std::string ours = remote_git({"diff", "--unified=0", "main~1", "main"});
  EXPECT_EQ(std::count(ours.begin(), ours.end(), '\n'), 7) << ours;  // 4 header lines, @@, -, +
}

TEST_F(HelmUpdaterIT, AMissingKeyFailsTheRunWithAClearReason) {
  const auto run = new_run("1.4.0");
  submit(run, {{"imprun-server.image.tagg", "{{version}}"}});
  run_events(run.run_id, "dev.cdevents.pipelinerun.finished");
  const auto finished = cdevents_of(of_run(events_seen_, run.run_id), "dev.cdevents.pipelinerun.finished");
  ASSERT_EQ(finished.size(), 1u) << service_->log();
  EXPECT_EQ(finished[0]["subject"]["content"]["outcome"], "failure");
  const std::string errors = finished[0]["subject"]["content"].value("errors", "");
  EXPECT_NE(errors.find("'imprun-server.image' has no key 'tagg'"), std::string::npos) << errors;
  EXPECT_NE(errors.find(kFile), std::string::npos) << errors;
  EXPECT_EQ(commit_count(), 1);
  // A later run's deploy request (same partition) arrives; none for this one.
  const auto later = new_run("1.4.0");
  submit(later, kSet);
  deploy_request(later.run_id);
  EXPECT_TRUE(of_run(deploy_seen_, run.run_id).empty());
}

TEST_F(HelmUpdaterIT, ARedeliveredRequestMakesNoSecondCommit) {
  const auto run = new_run("1.6.0");
  const auto request = submit(run, kSet);
  const auto first = deploy_request(run.run_id);
  ASSERT_EQ(commit_count(), 2);
  // The same request again (same id), as Kafka would redeliver it.
  ASSERT_TRUE(producer_->produce_all({events::to_kafka(request, prefix_)}).ok());
  const auto second = deploy_request(run.run_id, 2);
  EXPECT_EQ(commit_count(), 2);
  EXPECT_EQ(second.id, first.id);
  EXPECT_EQ(second.run.outputs["helm"]["commit"], first.run.outputs["helm"]["commit"]);
  EXPECT_EQ(second.run.outputs["helm"]["changed"], true);  // the recorded outcome, re-published
}

TEST_F(HelmUpdaterIT, UnreachableGitIsRetriedThenDeadLetteredWithoutLeakingCredentials) {
  const auto run = new_run("1.4.0");
  json helm = settings(kSet, "http://bot:url-pass-3d4e@127.0.0.1:9/gitops.git");  // nothing listens on port 9
  helm["token"] = {{"env", "IT_GITOPS_TOKEN"}};
  const auto request = submit(run, kSet, helm);
  std::vector<events::KafkaRecord> dead;
  ASSERT_TRUE(collect_until(*dlq_, dead, [&](const auto& v) { return !v.empty(); }, 60s)) << service_->log();
  const auto* error = dead[0].header("conveyor-error");
  ASSERT_NE(error, nullptr);
  EXPECT_NE(error->find("clone http://127.0.0.1:9/gitops.git"), std::string::npos) << *error;
  EXPECT_EQ(*dead[0].header("conveyor-error-code"), "unavailable");
  auto original = events::request_from_kafka(dead[0]);
  ASSERT_TRUE(original.ok());
  EXPECT_EQ(original->id, request.id);
  // Neither the token nor the URL's password anywhere: DLQ, log, git's argv.
  std::string everywhere = service_->log() + read_file(dir_ + "/git-argv.log");
  for (const auto& [k, v] : dead[0].headers) everywhere += k + "=" + v + "\n";
  EXPECT_EQ(everywhere.find(kToken), std::string::npos);
  EXPECT_EQ(everywhere.find("url-pass-3d4e"), std::string::npos) << everywhere;
  EXPECT_NE(read_file(dir_ + "/git-argv.log").find("clone"), std::string::npos);  // git did run
  EXPECT_TRUE(fs::is_empty(dir_ + "/work"));
}

}  // namespace
}  // namespace conveyor::testing
