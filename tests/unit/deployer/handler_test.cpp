// The deploy stage's decisions with a fake Backend over real Redis (locks,
// state, bad commits under a unique key prefix) and a real local git remote
// for the GitOps revert: first deploy vs upgrade, the lock held and released,
// a lock that stays taken, rollback with and without a previous deployment,
// the revert commit, the refusal of a rolled-back commit.
#include "handler.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "compose.hpp"
#include "conveyor/gitops/git.hpp"
#include "conveyor/values/values.hpp"
#include "fixtures.hpp"
#include "git_repo.hpp"
#include "schema_validation.hpp"
#include "service_process.hpp"

namespace conveyor::deployer {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

const std::string kDigest1 = "sha256:" + std::string(64, 'a');
const std::string kDigest2 = "sha256:" + std::string(64, 'b');

// Records every call; each deploy "runs" the target's image.
class FakeBackend : public Backend {
 public:
  struct Call {
    std::string op;
    Target target;
    std::string revision;
  };
  std::string name() const override { return "compose"; }
  Result<Outcome> deploy(const Target& t) override { return act("deploy", t, t.image); }
  Result<Outcome> rollback(const Target& t, const std::string& revision) override {
    return act("rollback", t, revision);
  }

  std::vector<Call> calls;
  std::string running;            // what "runs" now
  bool fail_next = false;
  std::function<void()> during;   // runs while the backend works (lock checks)

 private:
  Result<Outcome> act(const std::string& op, const Target& t, const std::string& image) {
    calls.push_back({op, t, image});
    if (during) during();
    Outcome o;
    if (fail_next) {
      fail_next = false;
      o.reason = "podman-compose up failed, exit code 1: boom";
      return o;
    }
    o.ok = true;
    o.first_deploy = running.empty();
    o.previous_revision = running;
    o.revision = image;
    o.details = {{"service", "shop/app"}};
    running = image;
    return o;
  }
};

// The real git CLI, recording what the handler asked for (remote incl. token, commit).
class RecordingGit : public gitops::GitOps {
 public:
  explicit RecordingGit(gitops::GitOps& real) : real_(real) {}
  Result<std::unique_ptr<gitops::Checkout>> clone(const gitops::Remote& remote, const std::string& dir) override {
    remotes.push_back(remote);
    commits.push_back("");
    return real_.clone(remote, dir);
  }
  Result<std::unique_ptr<gitops::Checkout>> checkout(const gitops::Remote& remote, const std::string& commit,
                                                     const std::string& dir) override {
    remotes.push_back(remote);
    commits.push_back(commit);
    return real_.checkout(remote, commit, dir);
  }
  std::vector<gitops::Remote> remotes;
  std::vector<std::string> commits;  // "" for a clone of the branch

 private:
  gitops::GitOps& real_;
};

class DeployerHandler : public ::testing::Test {
 protected:
  void SetUp() override {
    auto redis = store::Redis::connect({testing::redis_url()});
    ASSERT_TRUE(redis) << redis.error().message;
    redis_ = *redis;
    prefix_ = "conveyor-test:" + events::new_uuid() + ":";
    locks_ = std::make_unique<store::Locks>(redis_, prefix_);
    state_ = std::make_unique<DeployState>(redis_, prefix_);
    dir_ = testing::temp_dir("deployer-handler");
    options_.work_dir = dir_ + "/work";
    options_.lock_poll = 50ms;
    options_.lock_ttl = 3s;
    make_handler();
  }
  void make_handler() {
    handler_ = std::make_unique<Handler>(
        options_,
        [this](const std::string& name) -> Result<std::unique_ptr<Backend>> {
          if (name != "compose" && name != available_) {
            return make_error(Errc::invalid_argument, name + " is not available");
          }
          return std::unique_ptr<Backend>(new Proxy(backend_));
        },
        *locks_, *state_, recording_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Forwards to the test's FakeBackend (the handler owns what the factory returns).
  struct Proxy : Backend {
    explicit Proxy(FakeBackend& b) : b(b) {}
    std::string name() const override { return b.name(); }
    Result<Outcome> deploy(const Target& t) override { return b.deploy(t); }
    Result<Outcome> rollback(const Target& t, const std::string& r) override { return b.rollback(t, r); }
    FakeBackend& b;
  };

  events::StageRequest deploy_request(const std::string& run_id, char sha, const std::string& digest,
                                      const std::string& version, json helm = nullptr) {
    events::StageRequest r;
    r.run.run_id = run_id;
    r.run.pipeline = "shop";
    r.run.repository = "acme/shop";
    r.run.clone_url = "https://github.com/acme/shop.git";
    r.run.trigger = "push";
    r.run.ref = "refs/heads/main";
    r.run.ref_kind = "branch";
    r.run.ref_name = "main";
    r.run.sha = std::string(40, sha);
    r.run.outputs = {{"version", {{"version", version}}},
                     {"build", {{"images", {{"shop", {{"repository", "127.0.0.1:15000/acme/shop"}, {"digest", digest}}}}}}}};
    if (!helm.is_null()) r.run.outputs["helm"] = helm;
    r.stage = "deploy";
    r.id = run_id + ":deploy";
    r.settings = {{"environment", env_},
                  {"lock-timeout", "300ms"},
                  {"compose", {{"project", "shop"}, {"file", "/srv/shop/compose.yaml"}, {"service", "app"}}}};
    return r;
  }

  // What the health verifier sends for a failed run (services/health-verifier/handler.cpp).
  static events::StageRequest rollback_request(const events::StageRequest& deployed, const json& deploy_outputs) {
    events::StageRequest rb;
    rb.id = deployed.run.run_id + ":rollback";
    rb.stage = "deploy";
    rb.run = deployed.run;
    rb.run.outputs["deploy"] = deploy_outputs;
    rb.settings = deploy_outputs;
    rb.settings["action"] = "rollback";
    rb.settings["reason"] = "verification failed: GET / answered 500";
    return rb;
  }

  stage::StageResult handle(const events::StageRequest& r) {
    auto result = handler_->handle(r, [](const json&) -> Result<void> { return {}; }, {});
    EXPECT_TRUE(result) << (result ? "" : result.error().message);
    return result ? *result : stage::StageResult{};
  }

  std::vector<std::string> cdevent_errors(const json& event, const std::string& schema) {
    const std::string dir = testing::shared_dir() + "/cdevents-v0.5.1/schemas";
    return testing::validate(testing::load_json(dir + "/" + schema), event, dir);
  }

  bool lock_free() {
    auto lease = locks_->try_acquire("deploy:" + env_, "probe", 1s);
    if (!lease || !*lease) return false;
    (void)locks_->release(**lease);
    return true;
  }

  std::shared_ptr<store::Redis> redis_;
  std::string prefix_;
  std::string env_ = "staging";
  std::unique_ptr<store::Locks> locks_;
  std::unique_ptr<DeployState> state_;
  std::string dir_;
  HandlerOptions options_;
  gitops::GitCli git_;
  RecordingGit recording_{git_};
  FakeBackend backend_;
  std::unique_ptr<Handler> handler_;
  std::string available_;  // a second backend name the factory serves (with the same fake)
};

TEST_F(DeployerHandler, FirstDeployThenUpgradeWithEventsOutputsAndState) {
  const auto r1 = deploy_request("run-1", '1', kDigest1, "1.0.0");
  bool held = false;
  backend_.during = [&] { held = !lock_free(); };
  auto first = handle(r1);
  EXPECT_TRUE(held) << "the environment's lock is held while the backend runs";
  EXPECT_TRUE(lock_free()) << "and released afterwards";
  ASSERT_EQ(first.status, stage::StageResult::Status::succeeded) << first.reason;
  ASSERT_EQ(backend_.calls.size(), 1u);
  EXPECT_EQ(backend_.calls[0].target.image, "127.0.0.1:15000/acme/shop@" + kDigest1);
  EXPECT_EQ(backend_.calls[0].target.version, "1.0.0");
  EXPECT_EQ(backend_.calls[0].target.settings["project"], "shop");
  EXPECT_EQ(first.outputs["first"], true);
  EXPECT_EQ(first.outputs["environment"], env_);
  EXPECT_EQ(first.outputs["backend"], "compose");
  EXPECT_EQ(first.outputs["previous"], "");
  EXPECT_GT(first.outputs["fence"].get<long long>(), 0);
  ASSERT_EQ(first.cdevents.size(), 1u);
  EXPECT_EQ(first.cdevents[0]["context"]["type"], "dev.cdevents.service.deployed.0.3.0");
  EXPECT_EQ(first.cdevents[0]["subject"]["content"]["environment"]["id"], env_);
  EXPECT_EQ(first.cdevents[0]["subject"]["content"]["artifactId"].get<std::string>().rfind("pkg:oci/shop@sha256%3A", 0), 0u);
  EXPECT_EQ(cdevent_errors(first.cdevents[0], "servicedeployed.json"), std::vector<std::string>{});

  auto second = handle(deploy_request("run-2", '2', kDigest2, "1.1.0"));
  ASSERT_EQ(second.status, stage::StageResult::Status::succeeded) << second.reason;
  EXPECT_EQ(second.outputs["first"], false);
  EXPECT_EQ(second.outputs["previous"], "127.0.0.1:15000/acme/shop@" + kDigest1);
  EXPECT_GT(second.outputs["fence"].get<long long>(), first.outputs["fence"].get<long long>());
  ASSERT_EQ(second.cdevents.size(), 1u);
  EXPECT_EQ(second.cdevents[0]["context"]["type"], "dev.cdevents.service.upgraded.0.3.0");
  EXPECT_EQ(cdevent_errors(second.cdevents[0], "serviceupgraded.json"), std::vector<std::string>{});

  auto snapshot = state_->load(env_);
  ASSERT_TRUE(snapshot);
  EXPECT_EQ(snapshot->current["run_id"], "run-2");
  EXPECT_EQ(snapshot->current["run"]["sha"], std::string(40, '2'));
  ASSERT_EQ(snapshot->history.size(), 1u);
  EXPECT_EQ(snapshot->history[0]["run_id"], "run-1");
}

TEST_F(DeployerHandler, RedeliveredDeployKeepsItsStateEntry) {
  const auto r1 = deploy_request("run-1", '1', kDigest1, "1.0.0");
  ASSERT_EQ(handle(r1).status, stage::StageResult::Status::succeeded);
  auto again = handle(r1);
  ASSERT_EQ(again.status, stage::StageResult::Status::succeeded) << again.reason;
  EXPECT_EQ(again.outputs["first"], true) << "the same deploy, so still the first";
  auto snapshot = state_->load(env_);
  ASSERT_TRUE(snapshot);
  EXPECT_TRUE(snapshot->history.empty());
}

TEST_F(DeployerHandler, ADeployRedeliveredAfterTheBackendRanButBeforeTheStateWasSavedIsStillTheFirst) {
  // The backend deployed run-1's image, then the deployer died before writing the state.
  backend_.running = "127.0.0.1:15000/acme/shop@" + kDigest1;
  auto again = handle(deploy_request("run-1", '1', kDigest1, "1.0.0"));
  ASSERT_EQ(again.status, stage::StageResult::Status::succeeded) << again.reason;
  EXPECT_EQ(again.outputs["first"], true);
  EXPECT_EQ(again.outputs["previous"], "") << "its own image is not what ran before";
  ASSERT_EQ(again.cdevents.size(), 1u);
  EXPECT_EQ(again.cdevents[0]["context"]["type"], "dev.cdevents.service.deployed.0.3.0");
  // With an entry in the state, the next deploy is an upgrade whatever the backend says.
  backend_.running.clear();
  auto next = handle(deploy_request("run-2", '2', kDigest2, "1.1.0"));
  ASSERT_EQ(next.status, stage::StageResult::Status::succeeded) << next.reason;
  EXPECT_EQ(next.outputs["first"], false);
  EXPECT_EQ(next.outputs["previous"], "127.0.0.1:15000/acme/shop@" + kDigest1);
  ASSERT_EQ(next.cdevents.size(), 1u);
  EXPECT_EQ(next.cdevents[0]["context"]["type"], "dev.cdevents.service.upgraded.0.3.0");
}

TEST_F(DeployerHandler, ComposeRunsTheNamedImageOfSeveral) {
  auto r = deploy_request("run-1", '1', kDigest1, "1.0.0");
  // Keys sort "api" < "web": the named one is deployed, not the alphabetically first.
  r.run.outputs["build"]["images"] = {
      {"api", {{"repository", "127.0.0.1:15000/acme/api"}, {"digest", kDigest1}}},
      {"web", {{"repository", "127.0.0.1:15000/acme/web"}, {"digest", kDigest2}, {"artifact", "pkg:oci/web@x"}}}};
  auto ambiguous = handle(r);
  EXPECT_EQ(ambiguous.status, stage::StageResult::Status::failed);
  EXPECT_NE(ambiguous.reason.find("deploy.compose.image: the run built 2 images (api, web): name the one to deploy"),
            std::string::npos)
      << ambiguous.reason;
  r.settings["compose"]["image"] = "nope";
  auto missing = handle(r);
  EXPECT_EQ(missing.status, stage::StageResult::Status::failed);
  EXPECT_NE(missing.reason.find("deploy.compose.image: the run built no image nope (built: api, web)"),
            std::string::npos)
      << missing.reason;
  EXPECT_TRUE(backend_.calls.empty()) << "nothing deployed without a clear image";
  r.settings["compose"]["image"] = "web";
  auto web = handle(r);
  ASSERT_EQ(web.status, stage::StageResult::Status::succeeded) << web.reason;
  ASSERT_EQ(backend_.calls.size(), 1u);
  EXPECT_EQ(backend_.calls[0].target.image, "127.0.0.1:15000/acme/web@" + kDigest2);
  EXPECT_EQ(web.outputs["artifact"], "pkg:oci/web@x");
  EXPECT_EQ(parse_compose_settings(backend_.calls[0].target.settings)->image, "web");
}

TEST_F(DeployerHandler, BackendFailureFailsTheStageAndLeavesStateAlone) {
  ASSERT_EQ(handle(deploy_request("run-1", '1', kDigest1, "1.0.0")).status, stage::StageResult::Status::succeeded);
  backend_.fail_next = true;
  auto failed = handle(deploy_request("run-2", '2', kDigest2, "1.1.0"));
  EXPECT_EQ(failed.status, stage::StageResult::Status::failed);
  EXPECT_NE(failed.reason.find("boom"), std::string::npos) << failed.reason;
  EXPECT_TRUE(failed.cdevents.empty());
  EXPECT_TRUE(lock_free());
  EXPECT_EQ(state_->load(env_)->current["run_id"], "run-1");
}

TEST_F(DeployerHandler, WaitsForTheLockThenFailsWithTheReason) {
  auto other = locks_->try_acquire("deploy:" + env_, "someone-else", 10s);
  ASSERT_TRUE(other && *other);
  const auto started = std::chrono::steady_clock::now();
  auto result = handle(deploy_request("run-1", '1', kDigest1, "1.0.0"));
  EXPECT_GE(std::chrono::steady_clock::now() - started, 300ms);
  EXPECT_EQ(result.status, stage::StageResult::Status::failed);
  EXPECT_NE(result.reason.find("deploy lock of staging was not free within lock-timeout 300ms"), std::string::npos)
      << result.reason;
  EXPECT_TRUE(backend_.calls.empty());

  // A waiting deploy proceeds once the holder lets go.
  std::thread release([&] {
    std::this_thread::sleep_for(100ms);
    (void)locks_->release(**other);
  });
  auto r = deploy_request("run-1", '1', kDigest1, "1.0.0");
  r.settings["lock-timeout"] = "5s";
  auto later = handle(r);
  release.join();
  EXPECT_EQ(later.status, stage::StageResult::Status::succeeded) << later.reason;
}

TEST_F(DeployerHandler, LockHeldByADeadProcessExpires) {
  auto dead = locks_->try_acquire("deploy:" + env_, "dead-process", 400ms);
  ASSERT_TRUE(dead && *dead);
  auto r = deploy_request("run-1", '1', kDigest1, "1.0.0");
  r.settings["lock-timeout"] = "5s";
  auto result = handle(r);
  EXPECT_EQ(result.status, stage::StageResult::Status::succeeded) << result.reason;
  EXPECT_GT(result.outputs["fence"].get<long long>(), dead->value().token);
}

TEST_F(DeployerHandler, HeartbeatKeepsTheLockWhileTheBackendRuns) {
  options_.lock_ttl = 600ms;
  make_handler();
  bool stolen = false;
  backend_.during = [&] {
    std::this_thread::sleep_for(1800ms);  // three TTLs
    stolen = lock_free();
  };
  auto result = handle(deploy_request("run-1", '1', kDigest1, "1.0.0"));
  EXPECT_EQ(result.status, stage::StageResult::Status::succeeded) << result.reason;
  EXPECT_FALSE(stolen) << "the lock expired under a running deploy";
}

// A holder whose lease expired (a stalled process) writes nothing once
// another deploy took the lock, even before that deploy wrote its state.
TEST_F(DeployerHandler, StateRefusesATokenOlderThanTheLastLeaseIssued) {
  auto stalled = locks_->try_acquire("deploy:" + env_, "stalled", 200ms);
  ASSERT_TRUE(stalled && *stalled);
  std::this_thread::sleep_for(400ms);
  auto newer = locks_->try_acquire("deploy:" + env_, "newer", 10s);
  ASSERT_TRUE(newer && *newer);
  Snapshot s;
  s.current = {{"run_id", "run-stalled"}};
  auto late = state_->save(env_, s, (*stalled)->token);
  ASSERT_FALSE(late) << "a lost lease wrote the state";
  EXPECT_EQ(late.error().code, Errc::conflict);
  EXPECT_TRUE(state_->load(env_)->current.is_null());
  s.current = {{"run_id", "run-newer"}};
  EXPECT_TRUE(state_->save(env_, s, (*newer)->token));
  EXPECT_EQ(state_->load(env_)->current["run_id"], "run-newer");
  (void)locks_->release(**newer);
}

TEST_F(DeployerHandler, RollbackRestoresThePreviousImageAndRefusesTheBadCommit) {
  ASSERT_EQ(handle(deploy_request("run-1", '1', kDigest1, "1.0.0")).status, stage::StageResult::Status::succeeded);
  const auto r2 = deploy_request("run-2", '2', kDigest2, "1.1.0");
  auto deployed = handle(r2);
  ASSERT_EQ(deployed.status, stage::StageResult::Status::succeeded);

  const auto rb = rollback_request(r2, deployed.outputs);
  ASSERT_TRUE(stage::is_rollback(rb));
  auto rolled = handle(rb);
  ASSERT_EQ(rolled.status, stage::StageResult::Status::succeeded) << rolled.reason;
  ASSERT_EQ(backend_.calls.back().op, "rollback");
  EXPECT_EQ(backend_.calls.back().revision, "127.0.0.1:15000/acme/shop@" + kDigest1);
  EXPECT_EQ(backend_.running, "127.0.0.1:15000/acme/shop@" + kDigest1);
  EXPECT_EQ(rolled.outputs["restored_run"], "run-1");
  EXPECT_EQ(rolled.outputs["previous"], "127.0.0.1:15000/acme/shop@" + kDigest2);
  ASSERT_EQ(rolled.cdevents.size(), 1u);
  EXPECT_EQ(rolled.cdevents[0]["context"]["type"], "dev.cdevents.service.rolledback.0.3.0");
  EXPECT_NE(rolled.cdevents[0]["subject"]["content"]["artifactId"].get<std::string>().find(std::string(64, 'a')),
            std::string::npos);
  EXPECT_EQ(cdevent_errors(rolled.cdevents[0], "servicerolledback.json"), std::vector<std::string>{});
  EXPECT_TRUE(rolled.extra_records.empty()) << "a rollback never requests another rollback";
  EXPECT_EQ(state_->load(env_)->current["run_id"], "run-1");

  // A redelivered rollback repeats the same restore.
  auto again = handle(rb);
  EXPECT_EQ(again.status, stage::StageResult::Status::succeeded) << again.reason;
  EXPECT_EQ(again.outputs["restored_run"], "run-1");

  // The rolled-back commit is refused in that environment; a new commit deploys.
  const size_t calls = backend_.calls.size();
  auto replay = handle(deploy_request("run-2b", '2', kDigest2, "1.1.0"));
  EXPECT_EQ(replay.status, stage::StageResult::Status::failed);
  EXPECT_NE(replay.reason.find("marked bad in staging"), std::string::npos) << replay.reason;
  EXPECT_EQ(backend_.calls.size(), calls);
  auto fixed = handle(deploy_request("run-3", '3', kDigest2, "1.1.1"));
  EXPECT_EQ(fixed.status, stage::StageResult::Status::succeeded) << fixed.reason;
}

TEST_F(DeployerHandler, RollbackWithoutPreviousDeploymentFails) {
  const auto r1 = deploy_request("run-1", '1', kDigest1, "1.0.0");
  auto deployed = handle(r1);
  ASSERT_EQ(deployed.status, stage::StageResult::Status::succeeded);
  auto rolled = handle(rollback_request(r1, deployed.outputs));
  EXPECT_EQ(rolled.status, stage::StageResult::Status::failed);
  EXPECT_NE(rolled.reason.find("no previous deployment in staging"), std::string::npos) << rolled.reason;
  EXPECT_EQ(backend_.calls.size(), 1u);
  EXPECT_TRUE(lock_free());

  // And a run that is not what runs there is not rolled back.
  auto stranger = rollback_request(deploy_request("run-9", '9', kDigest2, "9.0.0"), deployed.outputs);
  auto refused = handle(stranger);
  EXPECT_EQ(refused.status, stage::StageResult::Status::failed);
  EXPECT_NE(refused.reason.find("is not what runs in staging"), std::string::npos) << refused.reason;
}

TEST_F(DeployerHandler, InvalidSettingsFailWithTheSetting) {
  auto r = deploy_request("run-1", '1', kDigest1, "1.0.0");
  r.settings["helm"] = {{"release", "x"}, {"chart", "y"}};
  auto both = handle(r);
  EXPECT_EQ(both.status, stage::StageResult::Status::failed);
  EXPECT_NE(both.reason.find("exactly one of compose, helm, argocd"), std::string::npos) << both.reason;
  r.settings.erase("compose");
  auto unavailable = handle(r);
  EXPECT_EQ(unavailable.status, stage::StageResult::Status::failed);
  EXPECT_NE(unavailable.reason.find("helm is not available"), std::string::npos) << unavailable.reason;
}

TEST_F(DeployerHandler, SecretReferencesAreResolvedForTheBackendOnly) {
  available_ = "argocd";
  auto r = deploy_request("run-1", '1', kDigest1, "1.0.0");
  r.settings.erase("compose");
  r.settings["argocd"] = {{"url", "https://argocd.example.com"}, {"app", "shop"}, {"token", {{"env", "H1_TEST_ARGOCD_TOKEN"}}}};
  ::setenv("H1_TEST_ARGOCD_TOKEN", "argo-secret-4711", 1);
  auto deployed = handle(r);
  ASSERT_EQ(deployed.status, stage::StageResult::Status::succeeded) << deployed.reason;
  ASSERT_EQ(backend_.calls.size(), 1u);
  EXPECT_EQ(backend_.calls[0].target.secrets["token"], "argo-secret-4711");
  EXPECT_EQ(deployed.outputs["backend"], "argocd");
  EXPECT_EQ(deployed.outputs.dump().find("argo-secret-4711"), std::string::npos);
  EXPECT_EQ(deployed.cdevents[0].dump().find("argo-secret-4711"), std::string::npos);
  EXPECT_EQ(state_->load(env_)->current.dump().find("argo-secret-4711"), std::string::npos);

  ::unsetenv("H1_TEST_ARGOCD_TOKEN");
  r.run.run_id = "run-2";
  auto missing = handle(r);
  EXPECT_EQ(missing.status, stage::StageResult::Status::failed);
  EXPECT_NE(missing.reason.find("deploy.argocd.token: "), std::string::npos) << missing.reason;
  EXPECT_NE(missing.reason.find("H1_TEST_ARGOCD_TOKEN"), std::string::npos) << missing.reason;
}

TEST_F(DeployerHandler, HelmGetsACheckoutOfExactlyTheGitOpsCommit) {
  available_ = "helm";
  testing::GitRepo gitops(dir_ + "/gitops");
  gitops.commit({{"chart/values.yaml", "image:\n  tag: \"1.0.0\"\n"}}, "values");
  const std::string helm_commit = gitops.head();
  // The branch moves on after the helm stage's commit (the next run, a person).
  gitops.commit({{"chart/values.yaml", "image:\n  tag: \"2.0.0\"\n"}}, "newer values");
  auto r = deploy_request("run-1", '1', kDigest1, "1.0.0",
                          {{"repository", gitops.url()}, {"branch", "main"}, {"file", "chart/values.yaml"},
                           {"commit", helm_commit}, {"changed", true}});
  r.settings.erase("compose");
  r.settings["helm"] = {{"release", "shop"}, {"chart", "chart"}};
  std::string seen, head;
  backend_.during = [&] {
    const std::string dir = backend_.calls.back().target.checkout_dir;
    seen = testing::read_file(dir + "/chart/values.yaml");
    head = testing::GitRepo::git(dir, {"rev-parse", "HEAD"});
  };
  auto deployed = handle(r);
  ASSERT_EQ(deployed.status, stage::StageResult::Status::succeeded) << deployed.reason;
  EXPECT_EQ(seen, "image:\n  tag: \"1.0.0\"\n");
  EXPECT_EQ(head, helm_commit + "\n");
  EXPECT_FALSE(std::filesystem::exists(backend_.calls.back().target.checkout_dir)) << "the checkout is removed";

  // Without a helm stage: the app repository at the run's commit.
  testing::GitRepo app(dir_ + "/app");
  app.commit({{"chart/values.yaml", "app: old\n"}}, "chart");
  const std::string run_sha = app.head();
  app.commit({{"chart/values.yaml", "app: new\n"}}, "later");
  auto plain = deploy_request("run-2", '2', kDigest2, "1.1.0");
  plain.run.clone_url = app.url();
  plain.run.sha = run_sha;
  plain.settings = r.settings;
  auto deployed2 = handle(plain);
  ASSERT_EQ(deployed2.status, stage::StageResult::Status::succeeded) << deployed2.reason;
  EXPECT_EQ(seen, "app: old\n");
  EXPECT_EQ(head, run_sha + "\n");

  // A commit the remote does not have fails the stage with the reason.
  auto gone = deploy_request("run-3", '3', kDigest2, "1.1.1",
                             {{"repository", gitops.url()}, {"branch", "main"}, {"commit", std::string(40, 'e')}});
  gone.settings = r.settings;
  auto failed = handle(gone);
  EXPECT_EQ(failed.status, stage::StageResult::Status::failed);
  EXPECT_NE(failed.reason.find("checkout of eeeeeee from " + gitops.url()), std::string::npos) << failed.reason;
}

TEST_F(DeployerHandler, GitOpsTokenTravelsAsAReferenceAndIsResolvedForTheRevertOnly) {
  testing::GitRepo gitops(dir_ + "/gitops");
  gitops.commit({{"values.yaml", "image:\n  tag: \"1.1.0\"\n"}}, "chore(deploy): shop 1.1.0 to staging [skip ci]");
  const json helm = {{"repository", gitops.url()},
                     {"branch", "main"},
                     {"file", "values.yaml"},
                     {"commit", gitops.head()},
                     {"changed", true},
                     {"token-ref", {{"env", "H6_TEST_GITOPS_TOKEN"}}},
                     {"previous", {{"image.tag", "1.0.0"}}},
                     {"values", {{"image.tag", "1.1.0"}}}};
  ::setenv("H6_TEST_GITOPS_TOKEN", "gitops-secret-0815", 1);
  ASSERT_EQ(handle(deploy_request("run-1", '1', kDigest1, "1.0.0")).status, stage::StageResult::Status::succeeded);
  const auto r2 = deploy_request("run-2", '2', kDigest2, "1.1.0", helm);
  auto deployed = handle(r2);
  ASSERT_EQ(deployed.status, stage::StageResult::Status::succeeded) << deployed.reason;
  auto rolled = handle(rollback_request(r2, deployed.outputs));
  ASSERT_EQ(rolled.status, stage::StageResult::Status::succeeded) << rolled.reason;
  EXPECT_EQ(rolled.outputs["revert"]["changed"], true) << rolled.outputs.dump();
  ASSERT_FALSE(recording_.remotes.empty());
  EXPECT_EQ(recording_.remotes.back().token.value_or(""), "gitops-secret-0815") << "the revert's clone has the token";
  std::string everything = deployed.outputs.dump() + rolled.outputs.dump() + rolled.reason;
  for (const auto& e : deployed.cdevents) everything += e.dump();
  for (const auto& e : rolled.cdevents) everything += e.dump();
  const auto snapshot = state_->load(env_);
  ASSERT_TRUE(snapshot);
  everything += snapshot->current.dump();
  for (const auto& h : snapshot->history) everything += h.dump();
  EXPECT_EQ(everything.find("gitops-secret-0815"), std::string::npos);

  // Not resolvable here: the revert fails with the reference named, the value nowhere.
  ::unsetenv("H6_TEST_GITOPS_TOKEN");
  const auto r3 = deploy_request("run-3", '3', kDigest2, "1.2.0", helm);
  ASSERT_EQ(handle(r3).status, stage::StageResult::Status::succeeded);
  auto unresolved = handle(rollback_request(r3, handle(r3).outputs));
  EXPECT_EQ(unresolved.status, stage::StageResult::Status::failed);
  EXPECT_NE(unresolved.reason.find("GitOps revert failed"), std::string::npos) << unresolved.reason;
  EXPECT_NE(unresolved.reason.find("H6_TEST_GITOPS_TOKEN"), std::string::npos) << unresolved.reason;
}

TEST_F(DeployerHandler, AStopHandsTheRequestBackInsteadOfFailingTheRun) {
  std::stop_source drain;
  // The backend's wait ends because of the stop (compose reports it as an error, the fake as a failed outcome).
  backend_.during = [&] {
    drain.request_stop();
    backend_.fail_next = true;
  };
  auto result = handler_->handle(deploy_request("run-1", '1', kDigest1, "1.0.0"),
                                 [](const json&) -> Result<void> { return {}; }, drain.get_token());
  ASSERT_FALSE(result) << "a stopped deploy is no stage failure";
  EXPECT_EQ(result.error().code, Errc::unavailable);
  EXPECT_NE(result.error().message.find("shutting down"), std::string::npos) << result.error().message;
  ASSERT_EQ(backend_.calls.size(), 1u);
  EXPECT_TRUE(backend_.calls[0].target.stop.stop_possible()) << "the backend gets the stop token";
  EXPECT_TRUE(lock_free());

  // Waiting for a taken lock (lock-timeout 30s) ends within the poll interval.
  backend_.during = nullptr;
  auto other = locks_->try_acquire("deploy:" + env_, "someone-else", 30s);
  ASSERT_TRUE(other && *other);
  std::stop_source drain2;
  auto r = deploy_request("run-2", '2', kDigest2, "1.1.0");
  r.settings["lock-timeout"] = "30s";
  std::thread stopper([&] {
    std::this_thread::sleep_for(300ms);
    drain2.request_stop();
  });
  const auto started = std::chrono::steady_clock::now();
  auto waited = handler_->handle(r, [](const json&) -> Result<void> { return {}; }, drain2.get_token());
  stopper.join();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  ASSERT_FALSE(waited);
  EXPECT_EQ(waited.error().code, Errc::unavailable);
  EXPECT_EQ(backend_.calls.size(), 1u);
  (void)locks_->release(**other);
}

TEST_F(DeployerHandler, RollbackCommitsTheRevertOfTheValuesChange) {
  testing::GitRepo gitops(dir_ + "/gitops");
  const std::string values =
      "# shop\n"
      "image:\n"
      "  tag: \"1.1.0\"   # set by conveyor\n"
      "  digest: sha256:bbb\n"
      "replicas: 2\n";
  gitops.commit({{"values.yaml", values}}, "chore(deploy): shop 1.1.0 to staging [skip ci]");
  const json helm = {{"repository", gitops.url()},
                     {"branch", "main"},
                     {"file", "values.yaml"},
                     {"commit", gitops.head()},
                     {"changed", true},
                     {"previous", {{"image.tag", "1.0.0"}, {"image.digest", "sha256:aaa"}}},
                     {"values", {{"image.tag", "1.1.0"}, {"image.digest", "sha256:bbb"}}}};
  ASSERT_EQ(handle(deploy_request("run-1", '1', kDigest1, "1.0.0")).status, stage::StageResult::Status::succeeded);
  const auto r2 = deploy_request("run-2", '2', kDigest2, "1.1.0", helm);
  auto deployed = handle(r2);
  ASSERT_EQ(deployed.status, stage::StageResult::Status::succeeded);
  // Someone else pushes meanwhile: the revert lands on the moved branch.
  gitops.commit({{"other.txt", "x\n"}}, "docs: unrelated");

  auto rolled = handle(rollback_request(r2, deployed.outputs));
  ASSERT_EQ(rolled.status, stage::StageResult::Status::succeeded) << rolled.reason;
  ASSERT_EQ(rolled.outputs["revert"]["changed"], true) << rolled.outputs.dump();

  testing::GitRepo::git(gitops.work(), {"pull", "-q", "origin", "main"});
  EXPECT_EQ(testing::read_file(gitops.work() + "/values.yaml"),
            "# shop\n"
            "image:\n"
            "  tag: \"1.0.0\"   # set by conveyor\n"
            "  digest: sha256:aaa\n"
            "replicas: 2\n");
  EXPECT_EQ(testing::GitRepo::git(gitops.work(), {"log", "-1", "--format=%s"}),
            "revert: chore(deploy): shop 1.1.0 to staging [skip ci]\n");
  EXPECT_EQ(testing::GitRepo::git(gitops.work(), {"rev-parse", "HEAD"}),
            rolled.outputs["revert"]["commit"].get<std::string>() + "\n");

  // A redelivery finds the revert in Git and commits nothing.
  auto again = handle(rollback_request(r2, deployed.outputs));
  ASSERT_EQ(again.status, stage::StageResult::Status::succeeded) << again.reason;
  EXPECT_EQ(again.outputs["revert"]["changed"], false);
}

}  // namespace
}  // namespace conveyor::deployer
