// The test stage handler end to end without Kafka: real git remotes made by
// the test, real bash steps, events checked against the official CDEvents
// v0.5.1 schemas.
#include "handler.hpp"

#include <gtest/gtest.h>

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "conveyor/events/cdevents.hpp"
#include "git_repo.hpp"
#include "schema_validation.hpp"

namespace conveyor::test_runner {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

const std::string kRunId = "3f1c2a4e-8d2b-4c6a-9e0f-112233445566";

// Running (not a zombie waiting for init to reap it).
bool process_running(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  const auto close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return false;
  const char state = stat[close + 2];
  return state != 'Z' && state != 'X';
}

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::string> schema_errors(const json& event) {
  // dev.cdevents.testsuiterun.finished.0.3.0 -> testsuiterunfinished.json
  std::vector<std::string> parts;
  std::stringstream type(event["context"]["type"].get<std::string>());
  for (std::string part; std::getline(type, part, '.');) parts.push_back(part);
  const std::string name = parts.at(2) + parts.at(3);
  const std::string dir = testing::shared_dir() + "/cdevents-v0.5.1/schemas";
  return testing::validate(testing::load_json(dir + "/" + name + ".json"), event, dir);
}

class HandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = "/tmp/conveyor-handler-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    repo_ = std::make_unique<testing::GitRepo>(dir_ + "/repo");
    env_.workspace_root = dir_ + "/ws";
    env_.log_root = dir_ + "/logs";
    env_.kill_grace = 300ms;
    env_.resolve = [](const config::SecretRef& ref) -> Result<std::string> {
      if (ref.env == "MISSING") return make_error(Errc::not_found, "environment variable MISSING is not set");
      return "value-of-" + ref.env;
    };
  }
  void TearDown() override { fs::remove_all(dir_); }

  events::StageRequest request(const std::string& sha, const json& settings) {
    events::StageRequest r;
    r.stage = "test";
    r.id = kRunId + ":test";
    r.settings = settings;
    r.run.run_id = kRunId;
    r.run.pipeline = "demo";
    r.run.repository = "acme/demo";
    r.run.clone_url = repo_->url();
    r.run.trigger = "push";
    r.run.ref = "refs/heads/feat/$(touch /tmp/pwned)";
    r.run.ref_kind = "branch";
    r.run.ref_name = "feat/$(touch /tmp/pwned)";
    r.run.sha = sha;
    return r;
  }

  Result<stage::StageResult> run(const events::StageRequest& r) {
    published_.clear();
    stage::Publish publish = [this](const json& e) -> Result<void> {
      published_.push_back(e);
      return {};
    };
    return handle(r, publish, env_);
  }

  static json finished_of(const stage::StageResult& r) { return r.cdevents.at(0); }

  std::string dir_;
  std::unique_ptr<testing::GitRepo> repo_;
  Environment env_;
  std::vector<json> published_;
};

const char* kPassingReport = R"(<testsuite name="s" tests="2"><testcase classname="a" name="one"/><testcase classname="a" name="two"><skipped/></testcase></testsuite>)";
const char* kFailingReport = R"(<testsuites><testsuite name="s"><testcase classname="math" name="adds"/><testcase classname="math" name="divides"><failure>1/0</failure></testcase><testcase classname="io" name="reads"><error/></testcase></testsuite></testsuites>)";

TEST_F(HandlerTest, PassingStepsAndReportSucceed) {
  const std::string sha = repo_->commit({{"server/run.sh", std::string("mkdir -p reports && cat > reports/r.xml <<'X'\n") + kPassingReport + "\nX\n"}});
  const json settings = {
      {"steps",
       {{{"name", "env"},
         {"run", "echo \"ci=$CI run=$CONVEYOR_RUN_ID repo=$CONVEYOR_REPOSITORY sha=$CONVEYOR_SHA ref=$CONVEYOR_REF node=$NODE_ENV\"; pwd"},
         {"working-directory", "server"},
         {"env", {{"NODE_ENV", "test"}}}},
        {{"name", "tests"}, {"run", "./run.sh"}, {"working-directory", "server"}}}},
      {"junit", {"server/reports/*.xml"}}};
  auto r = run(request(sha, settings));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, stage::StageResult::Status::succeeded) << r->reason;
  EXPECT_EQ(r->outputs, (json{{"tests", 2}, {"failures", 0}, {"errors", 0}, {"skipped", 1}, {"outcome", "success"}}));
  EXPECT_FALSE(fs::exists("/tmp/pwned"));

  ASSERT_EQ(published_.size(), 1u);
  EXPECT_EQ(published_[0]["context"]["type"], "dev.cdevents.testsuiterun.started.0.3.0");
  EXPECT_EQ(published_[0]["context"]["id"], kRunId + ":test:testsuiterun.started");
  EXPECT_TRUE(schema_errors(published_[0]).empty()) << ::testing::PrintToString(schema_errors(published_[0]));
  const json finished = finished_of(*r);
  EXPECT_TRUE(schema_errors(finished).empty()) << ::testing::PrintToString(schema_errors(finished));
  EXPECT_EQ(finished["subject"]["content"]["outcome"], "success");
  EXPECT_EQ(finished["context"]["chainId"], kRunId);
  EXPECT_EQ(finished["customData"]["tests"], 2);
  EXPECT_EQ(finished["customData"]["reports"], json::array({"server/reports/r.xml"}));

  const std::string log = read(finished["customData"]["steps"][0]["log"].get<std::string>());
  EXPECT_NE(log.find("ci=true run=" + kRunId + " repo=acme/demo sha=" + sha +
                     " ref=refs/heads/feat/$(touch /tmp/pwned) node=test"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("/src/server\n"), std::string::npos) << log;
  // The workspace is gone.
  EXPECT_TRUE(fs::is_empty(env_.workspace_root));
}

TEST_F(HandlerTest, FailingTestsFailTheStageWithCountsAndNames) {
  const std::string sha = repo_->commit({{"r.xml", kFailingReport}});
  auto r = run(request(sha, {{"steps", {{{"run", "exit 0"}}}}, {"junit", {"*.xml"}}}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, stage::StageResult::Status::failed);
  EXPECT_EQ(r->outputs["outcome"], "failure");
  EXPECT_EQ(r->outputs["tests"], 3);
  EXPECT_EQ(r->outputs["failures"], 1);
  EXPECT_EQ(r->outputs["errors"], 1);
  const json finished = finished_of(*r);
  EXPECT_EQ(finished["customData"]["failingCases"], json::array({"math.divides", "io.reads"}));
  EXPECT_NE(r->reason.find("2 of 3 tests failed: math.divides, io.reads"), std::string::npos) << r->reason;
  EXPECT_TRUE(schema_errors(finished).empty());
}

TEST_F(HandlerTest, FailingStepStopsTheRestAndReportsItsTail) {
  const std::string sha = repo_->commit({{"a", "b"}});
  auto r = run(request(sha, {{"steps",
                              {{{"name", "noisy"}, {"run", "for i in $(seq 1 3000); do echo line $i; done; false; echo not reached"}},
                               {{"name", "never"}, {"run", "echo ran > never"}}}}}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, stage::StageResult::Status::failed);
  EXPECT_EQ(r->reason, "step \"noisy\" failed: exit code 1");
  const json custom = finished_of(*r)["customData"];
  EXPECT_EQ(custom["steps"][0]["status"], "failed");
  EXPECT_EQ(custom["steps"][0]["exitCode"], 1);
  EXPECT_EQ(custom["steps"][1]["status"], "skipped");
  const std::string tail = custom["failedStep"]["outputTail"];
  EXPECT_LE(tail.size(), 4096u);
  EXPECT_NE(tail.find("line 3000\n"), std::string::npos);
  EXPECT_EQ(tail.find("not reached"), std::string::npos);
  EXPECT_EQ(tail.find("line 1\n"), std::string::npos);
}

TEST_F(HandlerTest, SecretsAreExportedAndMaskedInLogAndEvent) {
  const std::string sha = repo_->commit({{"a", "b"}});
  // The secret is printed whole, split by a sleep (two reads), and in pieces
  // that only join in the output.
  auto r = run(request(sha, {{"steps",
                              {{{"name", "leak"},
                                {"run", "echo \"token=$API_TOKEN\"; printf 'value-of-'; sleep 0.2; printf 'API_TOKEN\\n'; exit 1"}}}},
                             {"secrets", {{"API_TOKEN", {{"env", "API_TOKEN"}}}}}}));
  ASSERT_TRUE(r.ok());
  const json finished = finished_of(*r);
  const std::string log = read(finished["customData"]["steps"][0]["log"].get<std::string>());
  EXPECT_EQ(log.find("value-of-API_TOKEN"), std::string::npos) << log;
  EXPECT_NE(log.find("token=***\n***\n"), std::string::npos) << log;
  EXPECT_EQ(finished.dump().find("value-of-API_TOKEN"), std::string::npos);
  EXPECT_NE(finished["customData"]["failedStep"]["outputTail"].get<std::string>().find("token=***"), std::string::npos);

  // An unavailable secret ends the stage with a reason naming the reference.
  auto missing = run(request(sha, {{"steps", {{{"run", "true"}}}}, {"secrets", {{"X", {{"env", "MISSING"}}}}}}));
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, stage::StageResult::Status::failed);
  EXPECT_EQ(missing->outputs["outcome"], "error");
  EXPECT_NE(missing->reason.find("env:MISSING"), std::string::npos) << missing->reason;
}

TEST_F(HandlerTest, StepTimeoutKillsItsProcessGroup) {
  const std::string sha = repo_->commit({{"a", "b"}});
  const std::string pid_file = dir_ + "/grandchild.pid";
  const auto start = std::chrono::steady_clock::now();
  auto r = run(request(sha, {{"steps",
                              {{{"name", "hang"},
                                {"run", "(trap '' TERM; echo $BASHPID > " + pid_file + "; sleep 60) & sleep 60"},
                                {"timeout", "1s"}}}}}));
  ASSERT_TRUE(r.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_EQ(r->status, stage::StageResult::Status::failed);
  EXPECT_EQ(r->reason, "step \"hang\" timed out after 1s");
  EXPECT_EQ(finished_of(*r)["customData"]["steps"][0]["status"], "timed_out");
  pid_t pid = 0;
  std::ifstream(pid_file) >> pid;
  ASSERT_GT(pid, 0);
  EXPECT_FALSE(process_running(pid)) << "grandchild still alive";

  // The stage's own timeout bounds a step without one.
  auto stage_timeout = run(request(sha, {{"steps", {{{"name", "slow"}, {"run", "sleep 60"}}}}, {"timeout", "1s"}}));
  ASSERT_TRUE(stage_timeout.ok());
  EXPECT_NE(stage_timeout->reason.find("the test stage's timeout of 1s ran out"), std::string::npos)
      << stage_timeout->reason;
}

TEST_F(HandlerTest, MegabytesOfBinaryOutputAreHandled) {
  const std::string sha = repo_->commit({{"a", "b"}});
  auto r = run(request(sha, {{"steps", {{{"name", "binary"}, {"run", "head -c 8000000 /dev/urandom; exit 3"}}}}}));
  ASSERT_TRUE(r.ok());
  const json finished = finished_of(*r);
  EXPECT_EQ(finished["customData"]["steps"][0]["outputBytes"], 8000000);
  const std::string tail = finished["customData"]["failedStep"]["outputTail"];
  EXPECT_NO_THROW((void)finished.dump());  // valid UTF-8 throughout
  EXPECT_LE(tail.size(), 3 * 4096u + 200);
  EXPECT_TRUE(schema_errors(finished).empty());
}

TEST_F(HandlerTest, WorkingDirectoryMustStayInsideTheCheckout) {
  const std::string sha = repo_->commit({{"sub/x", "y"}});
  testing::GitRepo::git(repo_->work(), {"config", "core.symlinks", "true"});
  fs::create_directory_symlink("/etc", fs::path(repo_->work()) / "escape");
  const std::string sha2 = repo_->commit({});
  auto up = run(request(sha, {{"steps", {{{"run", "true"}, {"working-directory", "../.."}}}}}));
  ASSERT_TRUE(up.ok());
  EXPECT_EQ(up->outputs["outcome"], "error");
  EXPECT_NE(up->reason.find("outside the checkout"), std::string::npos) << up->reason;
  auto link = run(request(sha2, {{"steps", {{{"run", "true"}, {"working-directory", "escape"}}}}}));
  ASSERT_TRUE(link.ok());
  EXPECT_EQ(link->outputs["outcome"], "error");
  EXPECT_NE(link->reason.find("outside the checkout"), std::string::npos) << link->reason;
  auto missing = run(request(sha, {{"steps", {{{"run", "true"}, {"working-directory", "nope"}}}}}));
  ASSERT_TRUE(missing.ok());
  EXPECT_NE(missing->reason.find("does not exist"), std::string::npos) << missing->reason;
}

TEST_F(HandlerTest, CheckoutProblemsEndTheStageWithAReason) {
  repo_->commit({{"a", "b"}});
  auto missing = run(request(std::string(40, 'c'), {{"steps", {{{"run", "true"}}}}}));
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, stage::StageResult::Status::failed);
  EXPECT_EQ(missing->outputs["outcome"], "error");
  EXPECT_NE(missing->reason.find("not found"), std::string::npos) << missing->reason;
  EXPECT_TRUE(schema_errors(finished_of(*missing)).empty());

  auto req = request(std::string(40, 'c'), {{"steps", {{{"run", "true"}}}}});
  req.run.clone_url = "file://" + dir_ + "/nowhere.git";
  auto unreachable = run(req);
  ASSERT_TRUE(unreachable.ok());
  EXPECT_NE(unreachable->reason.find("unreachable"), std::string::npos) << unreachable->reason;
}

TEST_F(HandlerTest, UnparsableOrMissingReports) {
  const std::string sha = repo_->commit({{"bad.xml", "<testsuite><testcase"}});
  auto bad = run(request(sha, {{"steps", {{{"run", "true"}}}}, {"junit", {"*.xml"}}}));
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->status, stage::StageResult::Status::failed);
  EXPECT_NE(bad->reason.find("unparsable JUnit report: JUnit report bad.xml: not well-formed XML"), std::string::npos)
      << bad->reason;
  auto none = run(request(sha, {{"steps", {{{"run", "true"}}}}, {"junit", {"reports/*.xml"}}}));
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->status, stage::StageResult::Status::failed);
  EXPECT_EQ(none->reason, "no JUnit report matched reports/*.xml");
}

TEST_F(HandlerTest, KeepWorkspacesKeepsTheCheckout) {
  const std::string sha = repo_->commit({{"kept.txt", "yes"}});
  auto r = run(request(sha, {{"steps", {{{"run", "true"}}}}, {"keep-workspaces", true}}));
  ASSERT_TRUE(r.ok());
  const std::string ws = finished_of(*r)["customData"]["workspace"];
  EXPECT_EQ(read(ws + "/src/kept.txt"), "yes");
}

TEST_F(HandlerTest, SweepRemovesOnlyWorkspacesNoRunHolds) {
  const std::string sha = repo_->commit({{"a", "b"}});
  // A workspace left by a crashed run: lock file present, nobody holds it.
  const fs::path stale = fs::path(env_.workspace_root) / (kRunId + "-stale1");
  fs::create_directories(stale / "src/readonly");
  std::ofstream(stale / ".conveyor-lock");
  fs::permissions(stale / "src/readonly", fs::perms::owner_read | fs::perms::owner_exec);
  // A kept one, and something that is not a workspace at all.
  auto kept = run(request(sha, {{"steps", {{{"run", "true"}}}}, {"keep-workspaces", true}}));
  ASSERT_TRUE(kept.ok());
  const std::string kept_dir = finished_of(*kept)["customData"]["workspace"];
  fs::create_directories(fs::path(env_.workspace_root) / "logs");
  auto removed = sweep_stale_workspaces(env_.workspace_root);
  EXPECT_EQ(removed, std::vector<std::string>{stale.string()});
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(kept_dir + "/src/a"));
  EXPECT_TRUE(fs::exists(fs::path(env_.workspace_root) / "logs"));
}

TEST_F(HandlerTest, SweepLeavesAWorkspaceInUse) {
  const std::string sha = repo_->commit({{"a", "b"}});
  const std::string started = dir_ + "/started";
  std::thread runner([&] {
    (void)run(request(sha, {{"steps", {{{"run", "touch " + started + "; sleep 1"}}}}}));
  });
  for (int i = 0; i < 500 && !fs::exists(started); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(fs::exists(started));
  EXPECT_TRUE(sweep_stale_workspaces(env_.workspace_root).empty());
  runner.join();
  EXPECT_TRUE(fs::is_empty(env_.workspace_root));
}

TEST_F(HandlerTest, PublishFailureIsAnInfrastructureError) {
  const std::string sha = repo_->commit({{"a", "b"}});
  stage::Publish failing = [](const json&) -> Result<void> { return make_error(Errc::unavailable, "kafka down"); };
  auto r = handle(request(sha, {{"steps", {{{"run", "true"}}}}}), failing, env_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::unavailable);
}

TEST_F(HandlerTest, ConcurrentRunsUseSeparateWorkspaces) {
  const std::string sha = repo_->commit({{"a", "b"}});
  std::vector<std::thread> threads;
  std::vector<int> ok(3, 0);
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] {
      auto req = request(sha, {{"steps", {{{"run", "test ! -e marker && touch marker && sleep 0.3 && test -e marker"}}}}});
      req.run.run_id = "3f1c2a4e-8d2b-4c6a-9e0f-00000000000" + std::to_string(i);
      req.id = req.run.run_id + ":test";
      stage::Publish publish = [](const json&) -> Result<void> { return {}; };
      auto r = handle(req, publish, env_);
      ok[i] = r.ok() && r->status == stage::StageResult::Status::succeeded;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, (std::vector<int>{1, 1, 1}));
}

}  // namespace
}  // namespace conveyor::test_runner
