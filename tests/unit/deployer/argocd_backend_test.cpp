// The argocd backend against a local stand-in for Argo CD's REST API that
// checks the contract (method, path, bearer token, ApplicationSyncRequest /
// ApplicationRollbackRequest bodies) and plays scripted application states
// after a sync: progressing then healthy, degraded, failed operation, never
// healthy, 401, 404, 5xx then success, another operation in progress.
#include "argocd.hpp"

#include <algorithm>
#include <deque>
#include <mutex>
#include <stop_token>
#include <thread>

#include <gtest/gtest.h>

#include "argocd_app.hpp"
#include "conveyor/http/server.hpp"

namespace d = conveyor::deployer;
namespace http = conveyor::http;
using namespace std::chrono_literals;

namespace {

constexpr const char* kToken = "argo-token-0123456789";

// What GET shows after an operation: one frame per GET, the last repeats.
struct Frame {
  std::string phase;           // operationState.phase
  std::string sync;            // status.sync.status
  std::string health;          // status.health.status
  std::string message;         // operationState.message / health.message
  bool record_history = false; // append the new history entry (once)
};

class FakeArgoCd {
 public:
  explicit FakeArgoCd(std::string app = "web") : app_(std::move(app)), server_(http::ServerOptions{}) {
    const std::string base = "/api/v1/applications/" + app_;
    server_.route("GET", base, [this](http::Request&& r, http::Reply reply) { reply(get(r)); });
    server_.route("POST", base + "/sync", [this](http::Request&& r, http::Reply reply) { reply(operate(r, false)); });
    server_.route("POST", base + "/rollback", [this](http::Request&& r, http::Reply reply) { reply(operate(r, true)); });
    server_.route("GET", "/api/v1/applications/missing", [](http::Request&&, http::Reply reply) {
      reply(http::json_response(
          404, R"({"error":"applications.argoproj.io \"missing\" not found","code":5,"message":"applications.argoproj.io \"missing\" not found"})"));
    });
    if (auto ok = server_.start(); !ok) throw std::runtime_error(ok.error().message);
  }
  ~FakeArgoCd() { server_.stop(); }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }

  // Scripting (before the backend runs).
  void history(std::vector<long long> ids) {
    std::lock_guard lock(mu_);
    history_ = std::move(ids);
  }
  void after_operation(std::vector<Frame> frames) {
    std::lock_guard lock(mu_);
    script_.assign(frames.begin(), frames.end());
  }
  void fail_gets(int n, int status) {
    std::lock_guard lock(mu_);
    failing_gets_ = n;
    failing_status_ = status;
  }
  void busy(bool b) {
    std::lock_guard lock(mu_);
    busy_ = b;
  }

  // Observations.
  std::vector<std::string> log() const {
    std::lock_guard lock(mu_);
    return log_;
  }
  nlohmann::json last_body() const {
    std::lock_guard lock(mu_);
    return last_body_;
  }
  bool saw_bad_auth() const {
    std::lock_guard lock(mu_);
    return bad_auth_;
  }

 private:
  static http::Response error(int status, int code, const std::string& msg) {
    return http::json_response(status, nlohmann::json{{"error", msg}, {"code", code}, {"message", msg}}.dump());
  }

  bool authorized(const http::Request& r) {
    if (r.header("Authorization") == std::string("Bearer ") + kToken) return true;
    bad_auth_ = true;
    return false;
  }

  http::Response get(const http::Request& r) {
    std::lock_guard lock(mu_);
    log_.push_back("GET " + r.target);
    if (!authorized(r)) return error(401, 16, "invalid session: token is malformed");
    if (failing_gets_ > 0) {
      --failing_gets_;
      return error(failing_status_, 14, "upstream connect error");
    }
    if (operated_ && !script_.empty()) {
      const Frame f = script_.front();
      if (script_.size() > 1) script_.pop_front();
      phase_ = f.phase;
      sync_ = f.sync;
      health_ = f.health;
      message_ = f.message;
      if (f.record_history && !recorded_) {
        recorded_ = true;
        history_.push_back(history_.empty() ? 1 : history_.back() + 1);
      }
    }
    nlohmann::json hist = nlohmann::json::array();
    for (auto id : history_) {
      hist.push_back({{"id", id}, {"revision", "rev" + std::to_string(id)}, {"deployedAt", "2025-01-0" + std::to_string(id % 9 + 1) + "T10:00:00Z"}});
    }
    nlohmann::json app = {
        {"metadata", {{"name", app_}, {"namespace", "argocd"}}},
        {"spec", {{"project", "default"}, {"source", {{"repoURL", "https://git.example/gitops"}, {"targetRevision", "main"}}}}},
        {"status",
         {{"sync", {{"status", sync_}, {"revision", "rev-live"}}},
          {"health", {{"status", health_}, {"message", message_}}},
          {"history", hist}}}};
    if (!started_at_.empty()) {
      app["status"]["operationState"] = {{"phase", phase_}, {"message", message_}, {"startedAt", started_at_}};
    }
    return http::json_response(200, app.dump());
  }

  http::Response operate(const http::Request& r, bool rollback) {
    std::lock_guard lock(mu_);
    log_.push_back("POST " + r.target);
    if (!authorized(r)) return error(401, 16, "invalid session: token is malformed");
    if (r.header("Content-Type").find("application/json") != 0) return error(400, 3, "content type must be json");
    auto body = nlohmann::json::parse(r.body, nullptr, false);
    last_body_ = body;
    if (!body.is_object() || body.value("name", "") != app_) return error(400, 3, "name does not match the path");
    if (body.contains("prune") && !body["prune"].is_boolean()) return error(400, 3, "prune must be a boolean");
    if (rollback) {
      if (!body.contains("id") || !body["id"].is_number_integer()) return error(400, 3, "id is required");
      if (std::find(history_.begin(), history_.end(), body["id"].get<long long>()) == history_.end()) {
        return error(400, 3, "application " + app_ + " does not have deployment with id " + body["id"].dump());
      }
    }
    if (busy_) return error(400, 9, "another operation is already in progress");
    operated_ = true;
    ++operations_;
    started_at_ = "2025-02-01T10:00:0" + std::to_string(operations_) + "Z";
    phase_ = "Running";
    return http::json_response(200, R"({"metadata":{"name":")" + app_ + R"("},"operation":{"sync":{}}})");
  }

  std::string app_;
  http::Server server_;
  mutable std::mutex mu_;
  std::vector<long long> history_;
  std::deque<Frame> script_;
  std::vector<std::string> log_;
  nlohmann::json last_body_;
  bool operated_ = false, recorded_ = false, busy_ = false, bad_auth_ = false;
  int operations_ = 0, failing_gets_ = 0, failing_status_ = 503;
  std::string sync_ = "OutOfSync", health_ = "Healthy", phase_, message_, started_at_ = "2025-01-31T09:00:00Z";
};

class ArgoCdBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.http.retry.initial_backoff = 10ms;
    options_.http.retry.max_backoff = 20ms;
    options_.http.retry.max_attempts = 3;
    options_.http.retry.budget = 3s;
    options_.http.attempt_timeout = 2s;
    target_.environment = "production";
    target_.settings = {{"url", argo_.url() + "/"}, {"app", "web"}, {"timeout", "5s"}, {"poll-interval", "20ms"}};
    target_.secrets = {{"token", kToken}};
  }

  Frame healthy() const { return {"Succeeded", "Synced", "Healthy", "successfully synced", true}; }

  FakeArgoCd argo_;
  d::ArgoCdOptions options_;
  d::Target target_;
};

TEST_F(ArgoCdBackendTest, SyncProgressingThenHealthy) {
  argo_.history({1, 2});
  argo_.after_operation({{"Running", "OutOfSync", "Healthy", "", false},
                         {"Succeeded", "Synced", "Progressing", "", true},
                         healthy()});
  auto out = d::make_argocd_backend(options_)->deploy(target_);
  ASSERT_TRUE(out) << out.error().message;
  ASSERT_TRUE(out->ok) << out->reason;
  EXPECT_EQ(out->revision, "3");
  EXPECT_EQ(out->previous_revision, "2");
  EXPECT_FALSE(out->first_deploy);
  EXPECT_EQ(out->details["git_revision"], "rev3");
  EXPECT_EQ(out->details["health_status"], "Healthy");
  EXPECT_EQ(out->details["polls"], 3);
  EXPECT_EQ(argo_.last_body(), (nlohmann::json{{"name", "web"}, {"prune", false}}));
  const auto log = argo_.log();
  ASSERT_GE(log.size(), 5u);
  EXPECT_EQ(log[0], "GET /api/v1/applications/web");
  EXPECT_EQ(log[1], "POST /api/v1/applications/web/sync");
  EXPECT_FALSE(argo_.saw_bad_auth());
}

TEST_F(ArgoCdBackendTest, FirstSyncOfAnAppWithoutHistory) {
  argo_.after_operation({healthy()});
  auto out = d::make_argocd_backend(options_)->deploy(target_);
  ASSERT_TRUE(out) << out.error().message;
  ASSERT_TRUE(out->ok) << out->reason;
  EXPECT_EQ(out->revision, "1");
  EXPECT_EQ(out->previous_revision, "");
  EXPECT_TRUE(out->first_deploy);
}

TEST_F(ArgoCdBackendTest, DegradedAfterSyncFailsWithArgosMessage) {
  argo_.history({1});
  argo_.after_operation({{"Running", "OutOfSync", "Progressing", "", false},
                         {"Succeeded", "Synced", "Degraded", "Deployment \"web\" exceeded its progress deadline", true}});
  auto out = d::make_argocd_backend(options_)->deploy(target_);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_FALSE(out->ok);
  EXPECT_EQ(out->reason, "Argo CD application web is Degraded after the sync: Deployment \"web\" exceeded its progress deadline");
}

TEST_F(ArgoCdBackendTest, FailedOperationFailsWithArgosMessage) {
  argo_.history({1});
  argo_.after_operation({{"Failed", "OutOfSync", "Healthy", "one or more objects failed to apply: admission webhook denied", false}});
  auto out = d::make_argocd_backend(options_)->deploy(target_);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_FALSE(out->ok);
  EXPECT_NE(out->reason.find("Argo CD application web sync Failed: one or more objects failed to apply"), std::string::npos)
      << out->reason;
}

TEST_F(ArgoCdBackendTest, NeverHealthyTimesOutInBoundedTime) {
  argo_.history({1});
  argo_.after_operation({{"Succeeded", "Synced", "Progressing", "", true}});
  target_.settings["timeout"] = "600ms";
  const auto t0 = std::chrono::steady_clock::now();
  auto out = d::make_argocd_backend(options_)->deploy(target_);
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_FALSE(out->ok);
  EXPECT_EQ(out->reason,
            "Argo CD application web not Synced and Healthy within 600ms after sync (sync Synced, health Progressing, "
            "operation Succeeded)");
  EXPECT_GE(took, 600ms);
  EXPECT_LT(took, 3s);
}

TEST_F(ArgoCdBackendTest, WrongTokenIsAFailedOutcomeWithoutTheToken) {
  target_.secrets = {{"token", "wrong-token-secret"}};
  auto out = d::make_argocd_backend(options_)->deploy(target_);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_FALSE(out->ok);
  EXPECT_EQ(out->reason,
            "GET Argo CD application web answered 401 (check deploy.argocd.token): invalid session: token is malformed");
  EXPECT_EQ(out->details.dump().find("wrong-token-secret"), std::string::npos);
  EXPECT_EQ(argo_.log().size(), 1u);  // 401 is not retried, nothing was posted
}

TEST_F(ArgoCdBackendTest, UnknownAppIsAFailedOutcome) {
  target_.settings["app"] = "missing";
  auto out = d::make_argocd_backend(options_)->deploy(target_);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_FALSE(out->ok);
  EXPECT_NE(out->reason.find("answered 404 (no application missing): applications.argoproj.io \"missing\" not found"),
            std::string::npos)
      << out->reason;
}

TEST_F(ArgoCdBackendTest, ServerErrorsAreRetriedThenSucceed) {
  argo_.history({4});
  argo_.fail_gets(2, 503);  // the client retries the first GET
  argo_.after_operation({healthy()});
  auto out = d::make_argocd_backend(options_)->deploy(target_);
  ASSERT_TRUE(out) << out.error().message;
  ASSERT_TRUE(out->ok) << out->reason;
  EXPECT_EQ(out->revision, "5");
  EXPECT_EQ(out->previous_revision, "4");
}

TEST_F(ArgoCdBackendTest, PersistentServerErrorBeforeSyncIsARetryableError) {
  argo_.fail_gets(100, 502);
  auto out = d::make_argocd_backend(options_)->deploy(target_);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, conveyor::Errc::unavailable);
  EXPECT_NE(out.error().message.find("answered 502 after 3 attempts"), std::string::npos) << out.error().message;
  for (const auto& l : argo_.log()) EXPECT_EQ(l.rfind("GET", 0), 0u);  // never synced
}

TEST_F(ArgoCdBackendTest, UnreachableArgoIsARetryableError) {
  target_.settings["url"] = "http://127.0.0.1:1";
  auto out = d::make_argocd_backend(options_)->deploy(target_);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, conveyor::Errc::unavailable);
  EXPECT_EQ(out.error().message.find(kToken), std::string::npos);
}

TEST_F(ArgoCdBackendTest, OperationInProgressIsReported) {
  argo_.history({1});
  argo_.busy(true);
  auto out = d::make_argocd_backend(options_)->deploy(target_);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_FALSE(out->ok);
  EXPECT_EQ(out->reason, "POST Argo CD application web sync answered 400: another operation is already in progress");
}

TEST_F(ArgoCdBackendTest, RollbackToPreviousHistoryEntry) {
  argo_.history({3, 4, 5});
  argo_.after_operation({{"Running", "OutOfSync", "Progressing", "", false},
                         {"Succeeded", "OutOfSync", "Healthy", "rolled back", true}});
  auto backend = d::make_argocd_backend(options_);
  auto out = backend->rollback(target_, "");
  ASSERT_TRUE(out) << out.error().message;
  ASSERT_TRUE(out->ok) << out->reason;
  EXPECT_EQ(argo_.last_body(), (nlohmann::json{{"name", "web"}, {"id", 4}, {"prune", false}}));
  EXPECT_EQ(out->revision, "6");
  EXPECT_EQ(out->previous_revision, "5");
  EXPECT_EQ(argo_.log()[1], "POST /api/v1/applications/web/rollback");
}

TEST_F(ArgoCdBackendTest, RollbackToAnExplicitIdAndBadIds) {
  argo_.history({3, 4, 5});
  argo_.after_operation({{"Succeeded", "OutOfSync", "Healthy", "", true}});
  auto backend = d::make_argocd_backend(options_);
  auto bad = backend->rollback(target_, "9");
  ASSERT_TRUE(bad);
  EXPECT_FALSE(bad->ok);
  EXPECT_EQ(bad->reason, "Argo CD application web has no history id 9");
  auto junk = backend->rollback(target_, "3 --force");
  ASSERT_TRUE(junk);
  EXPECT_FALSE(junk->ok);
  auto out = backend->rollback(target_, "3");
  ASSERT_TRUE(out) << out.error().message;
  ASSERT_TRUE(out->ok) << out->reason;
  EXPECT_EQ(argo_.last_body()["id"], 3);
  EXPECT_EQ(out->revision, "6");
}

TEST_F(ArgoCdBackendTest, StopEndsTheWaitPromptly) {
  argo_.history({1});
  argo_.after_operation({{"Running", "OutOfSync", "Progressing", "", false}});
  target_.settings["poll-interval"] = "10s";
  std::stop_source stop;
  target_.stop = stop.get_token();
  std::thread stopper([&] {
    std::this_thread::sleep_for(200ms);
    stop.request_stop();
  });
  const auto t0 = std::chrono::steady_clock::now();
  auto out = d::make_argocd_backend(options_)->deploy(target_);
  stopper.join();
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, conveyor::Errc::unavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
}

TEST(ArgoCdSettings, ChecksAndEncodes) {
  auto s = d::parse_argocd_settings({{"url", "https://argo.example/sub/"}, {"app", "web app/x"}});
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(d::argocd_app_url(*s, "/sync"), "https://argo.example/sub/api/v1/applications/web%20app%2Fx/sync");
  EXPECT_EQ(s->timeout, std::chrono::minutes(10));
  EXPECT_EQ(s->poll_interval, std::chrono::seconds(5));
  EXPECT_FALSE(d::parse_argocd_settings({{"url", "https://user:pw@argo.example"}, {"app", "web"}}));
  EXPECT_FALSE(d::parse_argocd_settings({{"url", "ftp://argo.example"}, {"app", "web"}}));
  EXPECT_FALSE(d::parse_argocd_settings({{"url", "https://argo.example"}}));
  EXPECT_FALSE(d::parse_argocd_settings({{"url", "https://argo.example"}, {"app", "w"}, {"poll-interval", "0s"}}));
  // History ids arrive as numbers or (grpc-gateway int64) strings.
  auto st = d::parse_argocd_app(
      R"({"metadata":{"name":"w"},"status":{"history":[{"id":"12","revision":"b"},{"id":7,"revision":"a"}]}})");
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(*st->last_history_id(), 12);
  EXPECT_FALSE(d::parse_argocd_app(R"({"error":"x"})"));
}

}  // namespace
