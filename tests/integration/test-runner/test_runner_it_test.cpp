// conveyor-test-runner against the real Kafka broker and Redis (scripts/infra)
// and real git repositories made by the tests (a bare "remote" plus a working
// clone that pushes). Each test runs the service with its own topic prefix
// and topics, so nothing else on the broker reaches it.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "conveyor/bus/producer.hpp"
#include "conveyor/events/cdevents.hpp"
#include "conveyor/events/run.hpp"
#include "conveyor/logging/log.hpp"
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

const std::string kSecret = "it-s3cret-value-9f8e7d";
const std::string kCloneToken = "it-clone-token-4c5d6e";

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Running (not a zombie waiting for init to reap it).
bool process_running(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  const auto close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return false;
  const char state = stat[close + 2];
  return state != 'Z' && state != 'X';
}

std::size_t count_lines(const std::string& path) {
  const std::string text = read_text(path);
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// Waits for `done` with a deadline (no fixed sleeps).
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

std::vector<std::string> official_schema_errors(const json& event) {
  std::vector<std::string> parts;
  std::stringstream type(event["context"]["type"].get<std::string>());
  for (std::string part; std::getline(type, part, '.');) parts.push_back(part);
  const std::string dir = shared_dir() + "/cdevents-v0.5.1/schemas";
  return validate(load_json(dir + "/" + parts.at(2) + parts.at(3) + ".json"), event, dir);
}

// A reader at the end of a topic just created: its partitions may take a
// moment to get a leader.
std::unique_ptr<bus::Reader> reader_when_ready(const std::string& topic) {
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (true) {
    auto r = bus::Reader::open({kafka_brokers(), topic, /*from_beginning=*/false});
    if (r.ok()) return std::move(*r);
    if (std::chrono::steady_clock::now() >= deadline) throw std::runtime_error("open reader on " + topic + ": " + r.error().message);
    std::this_thread::sleep_for(100ms);
  }
}

class TestRunnerIT : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_dir("test-runner-it");
    prefix_ = "conveyor-it-tr-" + events::new_uuid().substr(0, 8);
    for (const auto& [suffix, partitions] :
         std::vector<std::pair<std::string, int>>{{".stage.test", 3}, {".events", 3}, {".dlq", 1}, {".stage.version", 3}}) {
      create_topic_named(kafka_brokers(), prefix_ + suffix, partitions);
    }
    events_ = reader_when_ready(prefix_ + ".events");
    next_ = reader_when_ready(prefix_ + ".stage.version");
    repo_ = std::make_unique<GitRepo>(dir_ + "/repo");
    write_file(dir_ + "/conveyor.yaml", config_yaml());
    bus::ProducerOptions producer_options;
    producer_options.brokers = kafka_brokers();
    auto producer = bus::Producer::create(producer_options);
    ASSERT_TRUE(producer.ok()) << producer.error().message;
    producer_ = std::move(*producer);
    fs::create_directories(dir_ + "/bin");
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
           "\nredis:\n  url: " + redis_url() +
           "\nadmin:\n  listen: 127.0.0.1:0\n"
           "test-runner:\n  concurrency: 2\n  workspace-dir: " + dir_ + "/ws\n  log-dir: " + dir_ + "/logs\n"
           "pipelines:\n"
           "  - name: it\n"
           "    repository: acme/it\n"
           "    clone-url: " + repo_->url() + "\n"
           "    test:\n      steps:\n        - run: \"true\"\n";
  }

  void start() {
    // A git shim first in PATH records every argv git is started with.
    const std::string shim = dir_ + "/bin/git";
    write_file(shim, "#!/bin/sh\nprintf '%s\\n' \"$*\" >> " + dir_ + "/git-argv.log\nexec /usr/bin/git \"$@\"\n");
    ::chmod(shim.c_str(), 0755);
    const char* path = std::getenv("PATH");
    service_ = std::make_unique<ServiceProcess>(
        bin_dir() + "/conveyor-test-runner", std::vector<std::string>{"--config", dir_ + "/conveyor.yaml"},
        dir_ + "/service-" + std::to_string(++starts_) + ".log",
        std::map<std::string, std::string>{{"IT_TEST_SECRET", kSecret},
                                           {"IT_CLONE_TOKEN", kCloneToken},
                                           {"PATH", dir_ + "/bin:" + (path ? path : "/usr/bin:/bin")}});
    ASSERT_TRUE(service_->wait_for_log("listening", 30s)) << service_->log();
  }

  events::RunContext new_run(const std::string& sha) const {
    events::RunContext run;
    run.run_id = events::new_uuid();
    run.pipeline = "it";
    run.repository = "acme/it";
    run.clone_url = repo_->url();
    run.trigger = "push";
    run.ref = "refs/heads/main";
    run.ref_kind = "branch";
    run.ref_name = "main";
    run.sha = sha;
    run.head_message = "feat: $(touch /tmp/conveyor-pwned) `id`";
    run.traceparent = log::new_traceparent();
    run.queued_at = events::now_rfc3339();
    return run;
  }

  // Produces the first request of a run whose remaining stages are test and,
  // when `then_version`, version.
  events::StageRequest submit(const events::RunContext& run, const json& test_settings, bool then_version = false) {
    std::vector<events::SlipEntry> stages = {{"test", test_settings}};
    if (then_version) stages.push_back({"version", json::object()});
    auto request = events::first_request(run, stages);
    submit(request);
    return request;
  }
  void submit(const events::StageRequest& request) {
    auto ok = producer_->produce_all({events::to_kafka(request, prefix_)});
    ASSERT_TRUE(ok.ok()) << ok.error().message;
  }

  // The run's CDEvents seen so far (decoded), in order.
  std::vector<json> run_events(const std::string& run_id) const {
    std::vector<json> out;
    for (const auto& r : seen_events_) {
      const auto* h = r.header("ce_runid");
      if (!h || *h != run_id) continue;
      auto e = events::cdevent_from_kafka(r);
      if (e.ok()) out.push_back(*e);
    }
    return out;
  }
  static std::vector<json> of_type(const std::vector<json>& events, const std::string& short_name) {
    std::vector<json> out;
    const std::string type = events::cdevent_type(short_name).value();
    for (const auto& e : events) {
      if (e["context"]["type"] == type) out.push_back(e);
    }
    return out;
  }

  // Waits until the run has `n` events of `short_name`.
  bool wait_events(const std::string& run_id, const std::string& short_name, std::size_t n = 1,
                   std::chrono::milliseconds timeout = 40s) {
    return collect_until(
        *events_, seen_events_,
        [&](const auto&) { return of_type(run_events(run_id), short_name).size() >= n; }, timeout);
  }

  std::string dir_, prefix_;
  std::unique_ptr<GitRepo> repo_;
  std::unique_ptr<bus::Producer> producer_;
  std::unique_ptr<ServiceProcess> service_;
  std::unique_ptr<bus::Reader> events_, next_;
  std::vector<events::KafkaRecord> seen_events_, seen_next_;
  int starts_ = 0;
};

const char* kJUnitPass =
    R"(<testsuites><testsuite name="api"><testcase classname="api" name="health"/><testcase classname="api" name="login"/></testsuite></testsuites>)";
const char* kJUnitFail =
    R"(<testsuite name="api"><testcase classname="api" name="health"/><testcase classname="api" name="login"><failure>401</failure></testcase><testcase classname="api" name="skip"><skipped/></testcase></testsuite>)";

TEST_F(TestRunnerIT, PassingRunGoesToTheNextStageAndFailingRunFinishesAsFailed) {
  const std::string pass_sha = repo_->commit({{"report.xml", kJUnitPass}}, "pass");
  const std::string fail_sha = repo_->commit({{"report.xml", kJUnitFail}}, "fail");
  const json settings = {{"steps", {{{"name", "tests"}, {"run", "mkdir -p out && cp report.xml out/"}}}},
                         {"junit", {"out/*.xml"}}};
  const auto pass = new_run(pass_sha);
  const auto fail = new_run(fail_sha);
  submit(pass, settings, /*then_version=*/true);
  submit(fail, settings, /*then_version=*/true);

  // Passing: the version stage's request carries the test outputs.
  ASSERT_TRUE(collect_until(
      *next_, seen_next_,
      [&](const auto& v) {
        return std::any_of(v.begin(), v.end(), [&](const auto& r) { return r.header("ce_runid") && *r.header("ce_runid") == pass.run_id; });
      },
      40s))
      << service_->log();
  std::optional<events::StageRequest> version;
  for (const auto& r : seen_next_) {
    auto req = events::request_from_kafka(r);
    if (req.ok() && req->run.run_id == pass.run_id) version = *req;
  }
  ASSERT_TRUE(version);
  EXPECT_EQ(version->stage, "version");
  EXPECT_EQ(version->run.outputs["test"],
            (json{{"tests", 2}, {"failures", 0}, {"errors", 0}, {"skipped", 0}, {"outcome", "success"}}));
  const auto request_schema = load_json(source_dir() + "/schemas/events/stage-request.schema.json");
  EXPECT_TRUE(validate(request_schema, events::to_json(*version), source_dir() + "/schemas/events").empty());

  ASSERT_TRUE(wait_events(pass.run_id, "testsuiterun.finished")) << service_->log();
  ASSERT_TRUE(wait_events(fail.run_id, "pipelinerun.finished")) << service_->log();
  const auto pass_events = run_events(pass.run_id);
  EXPECT_EQ(of_type(pass_events, "pipelinerun.started").size(), 1u);
  EXPECT_EQ(of_type(pass_events, "testsuiterun.started").size(), 1u);
  EXPECT_TRUE(of_type(pass_events, "pipelinerun.finished").empty());
  const json pass_finished = of_type(pass_events, "testsuiterun.finished").at(0);
  EXPECT_EQ(pass_finished["subject"]["content"]["outcome"], "success");
  EXPECT_EQ(pass_finished["customData"]["tests"], 2);

  const auto fail_events = run_events(fail.run_id);
  const json fail_finished = of_type(fail_events, "testsuiterun.finished").at(0);
  EXPECT_EQ(fail_finished["subject"]["content"]["outcome"], "failure");
  EXPECT_EQ(fail_finished["customData"]["tests"], 3);
  EXPECT_EQ(fail_finished["customData"]["failures"], 1);
  EXPECT_EQ(fail_finished["customData"]["skipped"], 1);
  EXPECT_EQ(fail_finished["customData"]["failingCases"], json::array({"api.login"}));
  const json pipeline_finished = of_type(fail_events, "pipelinerun.finished").at(0);
  EXPECT_EQ(pipeline_finished["subject"]["content"]["outcome"], "failure");
  EXPECT_EQ(pipeline_finished["subject"]["content"]["errors"], "1 of 3 tests failed: api.login");

  for (const auto& e : pass_events) EXPECT_TRUE(official_schema_errors(e).empty()) << e.dump();
  for (const auto& e : fail_events) {
    EXPECT_TRUE(official_schema_errors(e).empty()) << ::testing::PrintToString(official_schema_errors(e)) << e.dump();
    const auto ours = load_json(source_dir() + "/schemas/events/cdevent-envelope.schema.json");
    EXPECT_TRUE(validate(ours, e, source_dir() + "/schemas/events").empty()) << e.dump();
  }
  // Nothing from the webhook was executed, and git saw no URL.
  EXPECT_FALSE(fs::exists("/tmp/conveyor-pwned"));
  EXPECT_EQ(read_text(dir_ + "/git-argv.log").find(repo_->bare()), std::string::npos);
}

TEST_F(TestRunnerIT, StepOutlivingItsTimeoutIsKilledWithItsChildren) {
  const std::string sha = repo_->commit({{"a", "b"}});
  const std::string pids = dir_ + "/pids";
  const auto run = new_run(sha);
  submit(run, {{"steps",
                {{{"name", "hang"},
                  {"run", "(trap '' TERM; echo $BASHPID >> " + pids + "; sleep 120) & echo $$ >> " + pids + "; sleep 120"},
                  {"timeout", "2s"}}}}});
  ASSERT_TRUE(wait_events(run.run_id, "pipelinerun.finished", 1, 50s)) << service_->log();
  const json finished = of_type(run_events(run.run_id), "testsuiterun.finished").at(0);
  EXPECT_EQ(finished["subject"]["content"]["outcome"], "failure");
  EXPECT_EQ(finished["subject"]["content"]["reason"], "step \"hang\" timed out after 2s");
  std::ifstream in(pids);
  int n = 0;
  for (pid_t pid; in >> pid; ++n) EXPECT_FALSE(process_running(pid)) << "pid " << pid << " survived";
  EXPECT_EQ(n, 2);
}

TEST_F(TestRunnerIT, SecretIsMaskedInLogFileAndEvents) {
  const std::string sha = repo_->commit({{"a", "b"}});
  const auto run = new_run(sha);
  submit(run, {{"steps", {{{"name", "leaky"}, {"run", "echo \"the token is $API_TOKEN\"; printenv; exit 7"}}}},
               {"secrets", {{"API_TOKEN", {{"env", "IT_TEST_SECRET"}}}}}});
  ASSERT_TRUE(wait_events(run.run_id, "pipelinerun.finished")) << service_->log();
  const json finished = of_type(run_events(run.run_id), "testsuiterun.finished").at(0);
  const std::string log = read_text(finished["customData"]["steps"][0]["log"].get<std::string>());
  EXPECT_NE(log.find("the token is ***"), std::string::npos) << log;
  EXPECT_EQ(log.find(kSecret), std::string::npos);
  // The service's own environment (other secrets) is not passed to steps.
  EXPECT_EQ(log.find(kCloneToken), std::string::npos);
  EXPECT_EQ(log.find("IT_CLONE_TOKEN"), std::string::npos);
  EXPECT_NE(finished["customData"]["failedStep"]["outputTail"].get<std::string>().find("the token is ***"),
            std::string::npos);
  for (const auto& r : seen_events_) EXPECT_EQ(r.value.find(kSecret), std::string::npos);
  EXPECT_EQ(service_->log().find(kSecret), std::string::npos);
}

TEST_F(TestRunnerIT, UnreachableRepositoryAndMissingShaFailWithAReason) {
  repo_->commit({{"a", "b"}});
  auto unreachable = new_run(std::string(40, 'a'));
  unreachable.clone_url = "file://" + dir_ + "/no-such-repo.git";
  const auto missing = new_run(std::string(40, 'b'));
  submit(unreachable, {{"steps", {{{"run", "true"}}}}});
  submit(missing, {{"steps", {{{"run", "true"}}}}});
  ASSERT_TRUE(wait_events(unreachable.run_id, "pipelinerun.finished")) << service_->log();
  ASSERT_TRUE(wait_events(missing.run_id, "pipelinerun.finished")) << service_->log();
  const json u = of_type(run_events(unreachable.run_id), "pipelinerun.finished").at(0);
  EXPECT_EQ(u["subject"]["content"]["outcome"], "failure");
  EXPECT_NE(u["subject"]["content"]["errors"].get<std::string>().find("is unreachable"), std::string::npos) << u.dump();
  const json m = of_type(run_events(missing.run_id), "pipelinerun.finished").at(0);
  EXPECT_NE(m["subject"]["content"]["errors"].get<std::string>().find("commit " + std::string(40, 'b') + " not found"),
            std::string::npos)
      << m.dump();
  EXPECT_EQ(of_type(run_events(missing.run_id), "testsuiterun.finished").at(0)["subject"]["content"]["outcome"], "error");
}

TEST_F(TestRunnerIT, FailedAuthenticationSendsTheTokenOnlyAsAHeader) {
  RecordingServer server;
  RecordingServer::Answer denied;
  denied.status = 401;
  denied.headers["WWW-Authenticate"] = "Basic realm=\"it\"";
  server.on("GET", "/acme/it.git/info/refs", {denied});
  server.start();
  auto run = new_run(std::string(40, 'c'));
  run.clone_url = server.url("/acme/it.git");
  submit(run, {{"steps", {{{"run", "true"}}}}, {"clone-token", {{"env", "IT_CLONE_TOKEN"}}}});
  ASSERT_TRUE(wait_events(run.run_id, "pipelinerun.finished")) << service_->log();
  const json finished = of_type(run_events(run.run_id), "pipelinerun.finished").at(0);
  EXPECT_NE(finished["subject"]["content"]["errors"].get<std::string>().find("authentication failed for " + run.clone_url),
            std::string::npos)
      << finished.dump();
  const auto requests = server.requests();
  ASSERT_FALSE(requests.empty());
  // base64("x-access-token:it-clone-token-4c5d6e")
  EXPECT_EQ(requests[0].header("Authorization"), "Basic eC1hY2Nlc3MtdG9rZW46aXQtY2xvbmUtdG9rZW4tNGM1ZDZl");
  EXPECT_EQ(read_text(dir_ + "/git-argv.log").find(kCloneToken), std::string::npos);
  EXPECT_EQ(read_text(dir_ + "/git-argv.log").find("eC1hY2Nlc3MtdG9rZW46"), std::string::npos);
  for (const auto& r : seen_events_) {
    EXPECT_EQ(r.value.find(kCloneToken), std::string::npos);
    EXPECT_EQ(r.value.find("eC1hY2Nlc3MtdG9rZW46"), std::string::npos);
  }
  EXPECT_EQ(service_->log().find(kCloneToken), std::string::npos);
}

TEST_F(TestRunnerIT, RedeliveredRequestRepublishesWithoutRerunningSteps) {
  const std::string sha = repo_->commit({{"a", "b"}});
  const std::string counter = dir_ + "/executions";
  const auto run = new_run(sha);
  const auto request = submit(run, {{"steps", {{{"run", "echo ran >> " + counter}}}}});
  ASSERT_TRUE(wait_events(run.run_id, "pipelinerun.finished")) << service_->log();
  submit(request);  // the same request again
  ASSERT_TRUE(wait_events(run.run_id, "pipelinerun.finished", 2)) << service_->log();
  EXPECT_EQ(count_lines(counter), 1u);
  const auto finished = of_type(run_events(run.run_id), "pipelinerun.finished");
  EXPECT_EQ(finished[0]["context"]["id"], finished[1]["context"]["id"]);
  const auto suite = of_type(run_events(run.run_id), "testsuiterun.finished");
  ASSERT_EQ(suite.size(), 2u);
  EXPECT_EQ(suite[0]["context"]["id"], suite[1]["context"]["id"]);
}

TEST_F(TestRunnerIT, KilledMidStepTheRequestCompletesOnceAfterRestart) {
  const std::string sha = repo_->commit({{"a", "b"}});
  const std::string started = dir_ + "/started", done = dir_ + "/done";
  const auto run = new_run(sha);
  submit(run, {{"steps", {{{"run", "echo x >> " + started + "; sleep 3; echo x >> " + done}}}}});
  ASSERT_TRUE(wait_until([&] { return count_lines(started) >= 1; }, 40s)) << service_->log();
  service_->kill(SIGKILL);
  ASSERT_TRUE(service_->wait_exit(10s));
  start();
  // The killed run's checkout is swept at start (nobody holds its lock).
  EXPECT_TRUE(service_->wait_for_log("removed a stale workspace", 5s)) << service_->log();
  ASSERT_TRUE(wait_events(run.run_id, "pipelinerun.finished", 1, 55s)) << service_->log();
  EXPECT_EQ(count_lines(done), 1u);
  EXPECT_GE(count_lines(started), 2u);  // the step ran again after the restart
  // Once per CloudEvent id: one pipelinerun.finished, one testsuiterun.finished.
  std::set<std::string> finished_ids, suite_ids;
  for (const auto& e : of_type(run_events(run.run_id), "pipelinerun.finished")) finished_ids.insert(e["context"]["id"]);
  for (const auto& e : of_type(run_events(run.run_id), "testsuiterun.finished")) suite_ids.insert(e["context"]["id"]);
  EXPECT_EQ(finished_ids.size(), 1u);
  EXPECT_EQ(suite_ids.size(), 1u);
  EXPECT_EQ(of_type(run_events(run.run_id), "pipelinerun.finished").at(0)["subject"]["content"]["outcome"], "success");
  EXPECT_TRUE(wait_until([&] { return fs::is_empty(dir_ + "/ws"); }, 5s));
}

// CRC-32 (IEEE), as librdkafka's default partitioner hashes record keys.
std::uint32_t crc32(const std::string& s) {
  std::uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : s) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

TEST_F(TestRunnerIT, RunsOfOtherRepositoriesDoNotWaitForEachOther) {
  // Two repositories whose requests land on different partitions of the
  // 3-partition work topic; each run's step waits for the other's to start,
  // so both pass only if the instance runs them at once (concurrency 2).
  const std::string first = "acme/par-0";
  std::string second;
  for (int i = 1; second.empty(); ++i) {
    const std::string name = "acme/par-" + std::to_string(i);
    if (crc32(name) % 3 != crc32(first) % 3) second = name;
  }
  const std::string sha = repo_->commit({{"a", "b"}});
  auto a = new_run(sha);
  a.repository = first;
  auto b = new_run(sha);
  b.repository = second;
  auto step = [&](const std::string& mine, const std::string& other) {
    return json{{"steps",
                 {{{"run", "touch " + dir_ + "/" + mine + "; until [ -e " + dir_ + "/" + other + " ]; do sleep 0.05; done"},
                   {"timeout", "20s"}}}}};
  };
  submit(a, step("a-started", "b-started"));
  submit(b, step("b-started", "a-started"));
  ASSERT_TRUE(wait_events(a.run_id, "pipelinerun.finished")) << service_->log();
  ASSERT_TRUE(wait_events(b.run_id, "pipelinerun.finished")) << service_->log();
  EXPECT_EQ(of_type(run_events(a.run_id), "pipelinerun.finished").at(0)["subject"]["content"]["outcome"], "success");
  EXPECT_EQ(of_type(run_events(b.run_id), "pipelinerun.finished").at(0)["subject"]["content"]["outcome"], "success");
}

}  // namespace
}  // namespace conveyor::testing
