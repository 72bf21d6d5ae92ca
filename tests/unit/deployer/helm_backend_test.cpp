// The helm backend running the REAL helm binary (v3.19, built by
// scripts/setup) without a cluster: helm's memory storage driver
// (HELM_DRIVER=memory, releases preloaded from HELM_MEMORY_DRIVER_DATA) plus a
// local stand-in for the Kubernetes discovery endpoints helm asks before an
// install (/version, /api, /apis). A wrapper script in front of helm records
// each argv and environment and, since every helm process starts from the
// data file, moves to the next state file after a successful upgrade or
// rollback. Also: a cluster that is unreachable, and a helm that hangs.
#include "helm.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stop_token>
#include <thread>

#include <gtest/gtest.h>

#include "recording_server.hpp"

namespace fs = std::filesystem;
namespace d = conveyor::deployer;
using conveyor::testing::RecordingServer;
using namespace std::chrono_literals;

namespace {

std::string find_helm() {
  if (const char* env = std::getenv("CONVEYOR_HELM"); env != nullptr && fs::exists(env)) return env;
  if (const char* home = std::getenv("HOME")) {
    if (fs::path p = fs::path(home) / ".cache/conveyor/bin/helm"; fs::exists(p)) return p.string();
  }
  return "";
}

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A release of the memory driver's data file (pkg/release Release as YAML).
std::string release_yaml(int revision, const std::string& status, const std::string& when) {
  return "- name: web\n  namespace: prod\n  version: " + std::to_string(revision) + "\n  info:\n    status: " + status +
         "\n    first_deployed: 2025-01-02T10:00:00Z\n    last_deployed: " + when +
         "\n    description: test\n  chart:\n    metadata: {name: web, version: 0.1.0, appVersion: \"1." +
         std::to_string(revision) + ".0\", apiVersion: v2}\n";
}

class HelmBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    helm_ = find_helm();
    dir_ = fs::temp_directory_path() / ("h2-helm-backend-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "calls");
    fs::create_directories(dir_ / "checkout/chart/templates");
    std::ofstream(dir_ / "checkout/chart/Chart.yaml") << "apiVersion: v2\nname: web\nversion: 0.1.0\nappVersion: \"1.0\"\n";
    std::ofstream(dir_ / "checkout/chart/values.yaml") << "replicas: 1\n";
    std::ofstream(dir_ / "checkout/chart/templates/cm.yaml")
        << "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  replicas: \"{{ .Values.replicas }}\"\n";
    std::ofstream(dir_ / "checkout/values prod.yaml") << "# production\nreplicas: 3\n";
    const std::string wrapper = (dir_ / "helm-wrapper").string();
    std::ofstream(wrapper) << "#!/bin/bash\n"
                              "d='" << dir_.string() << "'\n"
                              "n=$(cat \"$d/state\" 2>/dev/null || echo 0)\n"
                              "i=$(printf '%03d' $(ls \"$d/calls\" | wc -l))\n"
                              "printf '%s\\0' \"$@\" > \"$d/calls/$i\"\n"
                              "env > \"$d/env.$i\"\n"
                              "if [ -f \"$d/hang.$1\" ]; then sleep 30; fi\n"
                              "export HELM_MEMORY_DRIVER_DATA=\"$d/state$n.yaml\"\n"
                              "\"$REAL_HELM\" \"$@\"; rc=$?\n"
                              "if [ $rc = 0 ] && { [ \"$1\" = upgrade ] || [ \"$1\" = rollback ]; }; then echo $((n+1)) > \"$d/state\"; fi\n"
                              "exit $rc\n";
    fs::permissions(wrapper, fs::perms::owner_all);

    // Kubernetes discovery, as much as helm install/upgrade asks for.
    kube_.on("GET", "/version", {{200, R"({"major":"1","minor":"30","gitVersion":"v1.30.0","platform":"linux/amd64"})",
                                  {}, "application/json"}});
    kube_.on("GET", "/api", {{200, R"({"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[]})", {},
                              "application/json"}});
    kube_.on("GET", "/apis", {{200, R"({"kind":"APIGroupList","apiVersion":"v1","groups":[]})", {}, "application/json"}});
    kube_.on("GET", "/api/v1", {{200, R"({"kind":"APIResourceList","groupVersion":"v1","resources":[]})", {},
                                 "application/json"}});
    kube_.start();
    write_kubeconfig(kube_.url());

    options_.program = wrapper;
    options_.env = {{"REAL_HELM", helm_},
                    {"KUBECONFIG", (dir_ / "kubeconfig").string()},
                    {"HELM_DRIVER", "memory"},
                    {"HELM_CACHE_HOME", (dir_ / "helm/cache").string()},
                    {"HELM_CONFIG_HOME", (dir_ / "helm/config").string()},
                    {"HELM_DATA_HOME", (dir_ / "helm/data").string()}};
    target_.environment = "production";
    target_.checkout_dir = (dir_ / "checkout").string();
    target_.settings = {{"release", "web"}, {"namespace", "prod"}, {"chart", "chart"},
                        {"values-file", "values prod.yaml"}, {"timeout", "20s"}};
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write_kubeconfig(const std::string& server) {
    std::ofstream(dir_ / "kubeconfig") << "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: " << server
                                       << "\n  name: c\ncontexts:\n- context:\n    cluster: c\n    user: u\n  name: c\n"
                                          "current-context: c\nusers:\n- name: u\n  user:\n    token: kube-token-xyz\n";
  }
  void state(int n, const std::string& yaml) { std::ofstream(dir_ / ("state" + std::to_string(n) + ".yaml")) << yaml; }

  // The argv (without the program) of every helm call, in order.
  std::vector<std::vector<std::string>> calls() const {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir_ / "calls")) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    std::vector<std::vector<std::string>> out;
    for (const auto& f : files) {
      std::vector<std::string> argv;
      std::string all = read(f), cur;
      for (char c : all) {
        if (c == '\0') {
          argv.push_back(cur);
          cur.clear();
        } else {
          cur += c;
        }
      }
      out.push_back(argv);
    }
    return out;
  }

  std::string helm_;
  fs::path dir_;
  RecordingServer kube_;
  d::HelmOptions options_;
  d::Target target_;
};

#define REQUIRE_HELM() \
  if (helm_.empty()) GTEST_SKIP() << "helm not built yet (scripts/setup builds ~/.cache/conveyor/bin/helm)"

TEST_F(HelmBackendTest, FirstDeployInstallsWithExactArgv) {
  REQUIRE_HELM();
  state(0, "[]\n");
  ::setenv("CONVEYOR_TEST_SERVICE_SECRET", "do-not-leak", 1);
  auto out = d::make_helm_backend(options_)->deploy(target_);
  ::unsetenv("CONVEYOR_TEST_SERVICE_SECRET");
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_TRUE(out->ok) << out->reason;
  EXPECT_EQ(out->revision, "1");
  EXPECT_EQ(out->previous_revision, "");
  EXPECT_TRUE(out->first_deploy);
  EXPECT_EQ(out->details["status"], "deployed");
  EXPECT_EQ(out->details["release"], "web");

  const auto checkout = fs::canonical(dir_ / "checkout").string();
  const auto c = calls();
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0], (std::vector<std::string>{"history", "web", "--namespace=prod", "--output=json", "--max=50"}));
  EXPECT_EQ(c[1], (std::vector<std::string>{"upgrade", "--install", "web", checkout + "/chart", "--namespace=prod",
                                            "--values=" + checkout + "/values prod.yaml", "--wait", "--timeout=20s",
                                            "--history-max=10", "--output=json"}));
  // Only the allowlist and the explicit variables reach helm.
  const auto env = read(dir_ / "env.001");
  EXPECT_EQ(env.find("CONVEYOR_TEST_SERVICE_SECRET"), std::string::npos);
  EXPECT_NE(env.find("KUBECONFIG="), std::string::npos);
}

TEST_F(HelmBackendTest, UpgradeReportsNewAndPreviousRevision) {
  REQUIRE_HELM();
  state(0, release_yaml(1, "superseded", "2025-01-02T10:00:00Z") + release_yaml(2, "deployed", "2025-01-03T10:00:00Z") +
               release_yaml(3, "failed", "2025-01-04T10:00:00Z"));
  auto out = d::make_helm_backend(options_)->deploy(target_);
  ASSERT_TRUE(out) << out.error().message;
  ASSERT_TRUE(out->ok) << out->reason;
  EXPECT_EQ(out->revision, "4");
  EXPECT_EQ(out->previous_revision, "2");  // the failed 3 never ran
  EXPECT_FALSE(out->first_deploy);
  EXPECT_EQ(out->details["commands"].size(), 2u);
}

TEST_F(HelmBackendTest, StuckPendingIsReportedAndNothingIsUpgraded) {
  REQUIRE_HELM();
  state(0, release_yaml(1, "superseded", "2025-01-02T10:00:00Z") + release_yaml(2, "deployed", "2025-01-03T10:00:00Z") +
               release_yaml(3, "pending-upgrade", "2025-01-04T10:00:00Z"));
  auto out = d::make_helm_backend(options_)->deploy(target_);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_FALSE(out->ok);
  EXPECT_NE(out->reason.find("helm release web in namespace prod is stuck in pending-upgrade since 2025-01-04T10:00:00Z"),
            std::string::npos)
      << out->reason;
  EXPECT_NE(out->reason.find("recover-pending"), std::string::npos);
  EXPECT_EQ(calls().size(), 1u);  // history only
}

TEST_F(HelmBackendTest, StuckPendingIsRolledBackFirstWhenConfigured) {
  REQUIRE_HELM();
  const std::string before = release_yaml(1, "superseded", "2025-01-02T10:00:00Z") +
                             release_yaml(2, "deployed", "2025-01-03T10:00:00Z") +
                             release_yaml(3, "pending-install", "2025-01-04T10:00:00Z");
  state(0, before);
  // After the recovery rollback: 3 superseded, 4 = 2 again.
  state(1, release_yaml(1, "superseded", "2025-01-02T10:00:00Z") + release_yaml(2, "superseded", "2025-01-03T10:00:00Z") +
               release_yaml(3, "superseded", "2025-01-04T10:00:00Z") + release_yaml(4, "deployed", "2025-01-05T10:00:00Z"));
  target_.settings["recover-pending"] = true;
  auto out = d::make_helm_backend(options_)->deploy(target_);
  ASSERT_TRUE(out) << out.error().message;
  ASSERT_TRUE(out->ok) << out->reason;
  EXPECT_EQ(out->revision, "5");
  EXPECT_EQ(out->previous_revision, "4");
  EXPECT_EQ(out->details["recovered"]["from"], 3);
  EXPECT_EQ(out->details["recovered"]["to"], 2);
  const auto c = calls();
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(c[1], (std::vector<std::string>{"rollback", "web", "2", "--namespace=prod", "--wait", "--timeout=20s"}));
  EXPECT_EQ(c[2][0], "history");
  EXPECT_EQ(c[3][0], "upgrade");
}

TEST_F(HelmBackendTest, RollbackGoesToLastGoodRevision) {
  REQUIRE_HELM();
  state(0, release_yaml(1, "superseded", "2025-01-02T10:00:00Z") + release_yaml(2, "superseded", "2025-01-03T10:00:00Z") +
               release_yaml(3, "deployed", "2025-01-04T10:00:00Z"));
  state(1, release_yaml(1, "superseded", "2025-01-02T10:00:00Z") + release_yaml(2, "superseded", "2025-01-03T10:00:00Z") +
               release_yaml(3, "superseded", "2025-01-04T10:00:00Z") + release_yaml(4, "deployed", "2025-01-05T10:00:00Z"));
  auto backend = d::make_helm_backend(options_);
  auto out = backend->rollback(target_, "");
  ASSERT_TRUE(out) << out.error().message;
  ASSERT_TRUE(out->ok) << out->reason;
  EXPECT_EQ(out->revision, "4");
  EXPECT_EQ(out->previous_revision, "3");
  const auto c = calls();
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[1], (std::vector<std::string>{"rollback", "web", "2", "--namespace=prod", "--wait", "--timeout=20s"}));

  // An explicit revision must be a number; a missing release is a clear failure.
  auto bad = backend->rollback(target_, "2; rm -rf /");
  ASSERT_TRUE(bad);
  EXPECT_FALSE(bad->ok);
  EXPECT_NE(bad->reason.find("is not a revision number"), std::string::npos);
  target_.settings["release"] = "other";
  auto missing = backend->rollback(target_, "");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->ok);
  EXPECT_NE(missing->reason.find("does not exist"), std::string::npos) << missing->reason;
}

// The handler rolls back from its state entry, with no GitOps checkout:
// helm rollback reads no chart, so a chart directory must not be required.
TEST_F(HelmBackendTest, RollbackNeedsNoCheckout) {
  REQUIRE_HELM();
  state(0, release_yaml(1, "superseded", "2025-01-02T10:00:00Z") + release_yaml(2, "deployed", "2025-01-03T10:00:00Z"));
  state(1, release_yaml(1, "superseded", "2025-01-02T10:00:00Z") + release_yaml(2, "superseded", "2025-01-03T10:00:00Z") +
               release_yaml(3, "deployed", "2025-01-04T10:00:00Z"));
  target_.checkout_dir.clear();
  auto out = d::make_helm_backend(options_)->rollback(target_, "1");
  ASSERT_TRUE(out) << out.error().message;
  ASSERT_TRUE(out->ok) << out->reason;
  EXPECT_EQ(out->revision, "3");
  EXPECT_EQ(out->previous_revision, "2");
  const auto c = calls();
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[1], (std::vector<std::string>{"rollback", "web", "1", "--namespace=prod", "--wait", "--timeout=20s"}));
  // A deploy still needs its checkout.
  auto deploy = d::make_helm_backend(options_)->deploy(target_);
  ASSERT_TRUE(deploy);
  EXPECT_FALSE(deploy->ok);
  EXPECT_NE(deploy->reason.find("needs the GitOps checkout"), std::string::npos) << deploy->reason;
}

TEST_F(HelmBackendTest, PathEscapeIsRefusedBeforeHelmRuns) {
  REQUIRE_HELM();
  target_.settings["values-file"] = "../helm-wrapper";
  auto out = d::make_helm_backend(options_)->deploy(target_);
  ASSERT_TRUE(out);
  EXPECT_FALSE(out->ok);
  EXPECT_NE(out->reason.find("deploy.helm.values-file: leaves the GitOps checkout"), std::string::npos) << out->reason;
  EXPECT_TRUE(calls().empty());
}

TEST_F(HelmBackendTest, UnreachableClusterFailsQuicklyWithHelmsReason) {
  REQUIRE_HELM();
  // The real secrets driver against an API server port nobody listens on.
  kube_.stop();
  write_kubeconfig("https://127.0.0.1:1");
  options_.env.erase("HELM_DRIVER");
  options_.program = helm_;
  const auto t0 = std::chrono::steady_clock::now();
  auto out = d::make_helm_backend(options_)->deploy(target_);
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_FALSE(out->ok);
  EXPECT_EQ(out->reason.rfind("helm history failed (exit code 1): Error: Kubernetes cluster unreachable", 0), 0u)
      << out->reason;
  EXPECT_EQ(out->reason.find("kube-token-xyz"), std::string::npos);
  EXPECT_LT(took, 10s);
}

TEST_F(HelmBackendTest, HangingHelmIsEndedAtTimeoutPlusMargin) {
  REQUIRE_HELM();
  state(0, "[]\n");
  std::ofstream(dir_ / "hang.upgrade") << "";
  target_.settings["timeout"] = "1s";
  options_.margin = 500ms;
  options_.kill_grace = 500ms;
  const auto t0 = std::chrono::steady_clock::now();
  auto out = d::make_helm_backend(options_)->deploy(target_);
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_FALSE(out->ok);
  EXPECT_EQ(out->reason.rfind("helm upgrade timed out after", 0), 0u) << out->reason;
  EXPECT_GE(took, 1500ms);
  EXPECT_LT(took, 8s);
}

TEST_F(HelmBackendTest, MissingProgramAndStopAreReported) {
  options_.program = (dir_ / "no-such-helm").string();
  auto out = d::make_helm_backend(options_)->deploy(target_);
  ASSERT_TRUE(out);
  EXPECT_FALSE(out->ok);
  EXPECT_NE(out->reason.find("helm history could not run"), std::string::npos) << out->reason;

  REQUIRE_HELM();
  state(0, "[]\n");
  std::ofstream(dir_ / "hang.history") << "";
  std::stop_source stop;
  target_.stop = stop.get_token();
  options_.program = (dir_ / "helm-wrapper").string();
  options_.kill_grace = 500ms;
  std::thread stopper([&] {
    std::this_thread::sleep_for(300ms);
    stop.request_stop();
  });
  const auto t0 = std::chrono::steady_clock::now();
  auto stopped = d::make_helm_backend(options_)->deploy(target_);
  stopper.join();
  ASSERT_FALSE(stopped);  // an Error: the request is redelivered elsewhere
  EXPECT_EQ(stopped.error().code, conveyor::Errc::unavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

}  // namespace
