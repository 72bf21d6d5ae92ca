// The compose backend's pure parts (settings, healthcheck forms, override
// file, argv, the child environment) and, against the real podman-compose,
// the local registry and a FROM-scratch OCI image without any shell: an image
// that cannot be pulled is a failed Outcome with the reason; an exec-form
// compose healthcheck runs through `podman exec` (healthy, and unhealthy
// after `retries`); no healthcheck is reported as such; a stop request ends
// the wait at once.
#include "compose.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <sstream>
#include <thread>

#include "conveyor/events/cloudevent.hpp"
#include "fixtures.hpp"
#include "service_process.hpp"

namespace conveyor::deployer {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

class ComposeTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::temp_dir("deployer-compose"); }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

TEST_F(ComposeTest, SettingsWithDefaultsAndTheFilesOnlyService) {
  const std::string file = dir_ + "/compose.yaml";
  testing::write_file(file, "services:\n  web:\n    image: nginx\n");
  auto s = parse_compose_settings({{"project", "shop-1"}, {"file", file}, {"timeout", "90s"}});
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->service, "web");
  EXPECT_EQ(s->engine, "podman");
  EXPECT_EQ(s->timeout, std::chrono::seconds(90));
  auto d = parse_compose_settings({{"project", "p"}, {"file", file}, {"service", "api"}, {"engine", "docker"}});
  ASSERT_TRUE(d);
  EXPECT_EQ(d->service, "api");
  EXPECT_EQ(d->timeout, std::chrono::minutes(5));
}

TEST_F(ComposeTest, BadSettingsNameTheKey) {
  const std::string two = dir_ + "/two.yaml";
  testing::write_file(two, "services:\n  a: {image: x}\n  b: {image: y}\n");
  const std::string odd = dir_ + "/odd.yaml";
  testing::write_file(odd, "services:\n  web~1: {image: x}\n");
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"project", "p"}, {"file", "relative.yaml"}}, "deploy.compose.file: must be an absolute path"},
      {{{"project", "Bad Name"}, {"file", two}}, "deploy.compose.project:"},
      {{{"project", "p"}, {"file", two}}, "deploy.compose.service: is required: " + two + " has 2 services"},
      {{{"project", "p"}, {"file", two}, {"engine", "lxc"}}, "deploy.compose.engine: must be podman or docker"},
      {{{"project", "p"}, {"file", two}, {"service", "a"}, {"extra", 1}}, "deploy.compose.extra: unknown setting"},
      {{{"project", "p"}, {"file", dir_ + "/missing.yaml"}}, "deploy.compose.file: cannot read"},
      {{{"file", two}}, "deploy.compose.project: is required"},
      // Would end podman-compose's argv as a flag, or break the override's JSON pointer.
      {{{"project", "p"}, {"file", two}, {"service", "--rm"}}, "deploy.compose.service: must be a service name"},
      {{{"project", "p"}, {"file", two}, {"service", "a~b"}}, "deploy.compose.service: must be a service name"},
      {{{"project", "p"}, {"file", odd}}, "deploy.compose.file: " + odd + ": service name \"web~1\" is not valid"},
  };
  for (const auto& [settings, expected] : cases) {
    auto s = parse_compose_settings(settings);
    ASSERT_FALSE(s) << settings.dump();
    EXPECT_EQ(s.error().code, Errc::invalid_argument);
    EXPECT_NE(s.error().message.find(expected), std::string::npos) << s.error().message;
  }
}

TEST_F(ComposeTest, OverrideDocumentRoundTripsAndQuotesAnything) {
  const std::string image = "127.0.0.1:15000/acme/shop@sha256:" + std::string(64, 'c');
  const std::string doc = override_document("app", image);
  EXPECT_EQ(json::parse(doc), (json{{"services", {{"app", {{"image", image}}}}}}));
  EXPECT_EQ(override_image(doc, "app"), image);
  EXPECT_EQ(override_image(doc, "other"), "");
  EXPECT_EQ(override_image("not json", "app"), "");
  // A value YAML would otherwise read as a mapping or a comment stays a string (JSON is YAML).
  EXPECT_EQ(override_image(override_document("app", "a: #b"), "app"), "a: #b");
}

TEST_F(ComposeTest, UpCommandLines) {
  ComposeSettings s{"shop", "/srv/shop/compose.yaml", "app", "podman", std::chrono::minutes(1), ""};
  EXPECT_EQ(up_argv(s, "/var/lib/o.yaml"),
            (std::vector<std::string>{"podman-compose", "-p", "shop", "-f", "/srv/shop/compose.yaml", "-f",
                                      "/var/lib/o.yaml", "up", "-d", "--no-deps", "--force-recreate", "app"}));
  s.engine = "docker";
  EXPECT_EQ(up_argv(s, "/o.yaml"),
            (std::vector<std::string>{"docker", "compose", "-p", "shop", "-f", "/srv/shop/compose.yaml", "-f", "/o.yaml",
                                      "up", "-d", "--no-deps", "--force-recreate", "app"}));
}

TEST_F(ComposeTest, HealthcheckFormsOfTheComposeFile) {
  using Kind = ComposeHealthCheck::Kind;
  const std::string file = dir_ + "/compose.yaml";
  testing::write_file(file,
                      "services:\n"
                      "  exec:\n    image: x\n    healthcheck:\n      test: [\"CMD\", \"/app\", \"-healthcheck\"]\n"
                      "      interval: 1m30s\n      timeout: 500ms\n      retries: 5\n      start_period: 2s\n"
                      "  shell:\n    image: x\n    healthcheck:\n      test: [\"CMD-SHELL\", \"curl -f localhost\"]\n"
                      "  string:\n    image: x\n    healthcheck:\n      test: curl -f localhost\n"
                      "  none:\n    image: x\n    healthcheck:\n      test: [\"NONE\"]\n"
                      "  disabled:\n    image: x\n    healthcheck:\n      disable: true\n"
                      "  absent:\n    image: x\n"
                      "  bad-duration:\n    image: x\n    healthcheck:\n      test: [\"CMD\", \"/x\"]\n      interval: soon\n"
                      "  bad-form:\n    image: x\n    healthcheck:\n      test: [\"RUN\", \"/x\"]\n");
  auto exec = compose_healthcheck(file, "exec");
  ASSERT_TRUE(exec) << exec.error().message;
  EXPECT_EQ(exec->kind, Kind::exec);
  EXPECT_EQ(exec->argv, (std::vector<std::string>{"/app", "-healthcheck"}));
  EXPECT_EQ(exec->interval, std::chrono::seconds(90));
  EXPECT_EQ(exec->timeout, std::chrono::milliseconds(500));
  EXPECT_EQ(exec->start_period, std::chrono::seconds(2));
  EXPECT_EQ(exec->retries, 5);
  EXPECT_EQ(health_exec_argv("podman", "c0ffee", *exec),
            (std::vector<std::string>{"podman", "exec", "c0ffee", "/app", "-healthcheck"}));
  EXPECT_EQ(health_exec_argv("docker", "c0ffee", *exec).front(), "docker");
  EXPECT_EQ(compose_healthcheck(file, "shell")->kind, Kind::shell);
  EXPECT_EQ(compose_healthcheck(file, "string")->kind, Kind::shell);
  EXPECT_EQ(compose_healthcheck(file, "none")->kind, Kind::disabled);
  EXPECT_EQ(compose_healthcheck(file, "disabled")->kind, Kind::disabled);
  auto absent = compose_healthcheck(file, "absent");
  ASSERT_TRUE(absent);
  EXPECT_EQ(absent->kind, Kind::absent);
  EXPECT_EQ(absent->retries, 3);
  auto bad = compose_healthcheck(file, "bad-duration");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("services.bad-duration.healthcheck.interval"), std::string::npos)
      << bad.error().message;
  EXPECT_FALSE(compose_healthcheck(file, "bad-form"));
  EXPECT_FALSE(compose_healthcheck(file, "missing"));
}

TEST_F(ComposeTest, ChildEnvironmentIsAnAllowlist) {
  ::setenv("CONVEYOR_TEST_SECRET_TOKEN", "hunter2", 1);
  ::setenv("CONTAINERS_REGISTRIES_CONF", "/etc/x/registries.conf", 1);
  const auto env = compose_environment();
  EXPECT_EQ(env.count("CONVEYOR_TEST_SECRET_TOKEN"), 0u);
  EXPECT_EQ(env.at("CONTAINERS_REGISTRIES_CONF"), "/etc/x/registries.conf");
  EXPECT_EQ(env.count("PATH"), 1u);
  ::unsetenv("CONVEYOR_TEST_SECRET_TOKEN");
  ::unsetenv("CONTAINERS_REGISTRIES_CONF");
}

TEST_F(ComposeTest, RealPodmanComposeFailureIsAFailedOutcomeWithTheReason) {
  const std::string source = testing::source_dir();
  ::setenv("CONTAINERS_CONF", (source + "/deploy/containers/containers.conf").c_str(), 1);
  ::setenv("CONTAINERS_STORAGE_CONF", (source + "/deploy/containers/storage.conf").c_str(), 1);
  ::setenv("CONTAINERS_REGISTRIES_CONF", (source + "/deploy/containers/registries.conf").c_str(), 1);
  const std::string project = "h1ut" + events::new_uuid().substr(0, 8);
  const std::string file = dir_ + "/compose.yaml";
  testing::write_file(file, "services:\n  app:\n    image: placeholder.invalid/none:0\n");
  ComposeOptions options;
  options.state_dir = dir_ + "/state";
  auto backend = make_compose_backend(options);
  Target target;
  target.environment = "test";
  target.image = "127.0.0.1:15000/conveyor-h1-missing/app@sha256:" + std::string(64, '0');
  target.settings = {{"project", project}, {"file", file}, {"timeout", "60s"}};
  const auto started = std::chrono::steady_clock::now();
  auto outcome = backend->deploy(target);
  ASSERT_TRUE(outcome) << outcome.error().message;
  EXPECT_FALSE(outcome->ok);
  EXPECT_NE(outcome->reason.find("podman-compose up app (" + project + ") created no container: "), std::string::npos)
      << outcome->reason;
  EXPECT_NE(outcome->reason.find("conveyor-h1-missing"), std::string::npos) << outcome->reason;
  EXPECT_TRUE(outcome->first_deploy);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(60));
  EXPECT_FALSE(fs::exists(options.state_dir + "/" + project + "/override.yaml")) << "only a healthy image is recorded";

  auto none = backend->rollback(target, "");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->ok);
  EXPECT_EQ(none->reason, "no previous image to roll back to");

  process::Options down;
  down.argv = {"podman-compose", "-p", project, "-f", file, "down"};
  down.env = compose_environment();
  down.timeout = std::chrono::seconds(60);
  (void)process::capture(down);
  down.argv = {"podman", "network", "rm", "-f", project + "_default"};
  (void)process::capture(down);
}

// podman-compose against a FROM-scratch OCI image (no HEALTHCHECK, no /bin/sh):
// static busybox httpd answering on 8080.
class ScratchImageCompose : public ComposeTest {
 protected:
  void SetUp() override {
    ComposeTest::SetUp();
    const std::string source = testing::source_dir();
    ::setenv("CONTAINERS_CONF", (source + "/deploy/containers/containers.conf").c_str(), 1);
    ::setenv("CONTAINERS_STORAGE_CONF", (source + "/deploy/containers/storage.conf").c_str(), 1);
    ::setenv("CONTAINERS_REGISTRIES_CONF", (source + "/deploy/containers/registries.conf").c_str(), 1);
    options_.state_dir = dir_ + "/state";
    options_.env = compose_environment();
    options_.poll_interval = std::chrono::milliseconds(200);
    project_ = "h6ut" + events::new_uuid().substr(0, 8);
    const std::string ctx = dir_ + "/image";
    fs::create_directories(ctx + "/bin");
    fs::create_directories(ctx + "/www");
    fs::copy_file("/bin/busybox", ctx + "/bin/busybox");
    testing::write_file(ctx + "/www/index.html", "ok\n");
    testing::write_file(ctx + "/Containerfile",
                        "FROM scratch\nCOPY bin/busybox /bin/busybox\nCOPY www /www\n"
                        "CMD [\"/bin/busybox\", \"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n");
    const std::string tag = testing::env_or("CONVEYOR_REGISTRY", "127.0.0.1:15000") + "/conveyor-ut/scratch-" + project_;
    run({"buildah", "bud", "--isolation", "chroot", "--format", "oci", "-q", "-t", tag + ":1", ctx});
    run({"buildah", "push", "--tls-verify=false", "--digestfile", ctx + "/digest", tag + ":1", "docker://" + tag + ":1"});
    image_ = tag + "@" + testing::read_file(ctx + "/digest");
    tag_ = tag + ":1";
  }
  void TearDown() override {
    for (const auto& file : files_) {
      (void)try_run({"podman-compose", "-p", project_, "-f", file, "down"});
    }
    (void)try_run({"podman", "network", "rm", "-f", project_ + "_default"});
    ComposeTest::TearDown();
  }
  static Result<process::Captured> try_run(const std::vector<std::string>& argv) {
    process::Options o;
    o.argv = argv;
    o.env = compose_environment();
    o.timeout = std::chrono::seconds(120);
    return process::capture(o);
  }
  static void run(const std::vector<std::string>& argv) {
    auto r = try_run(argv);
    ASSERT_TRUE(r && r->exit.ok()) << argv[0] << " " << argv[1] << ": " << (r ? r->out + r->err : r.error().message);
  }
  // A compose file with `healthcheck` (YAML lines under it, "" = none) for service app.
  Target target_with(const std::string& name, const std::string& healthcheck) {
    const std::string file = dir_ + "/" + name + ".yaml";
    // busybox httpd as PID 1 ignores SIGTERM: SIGKILL spares podman's 10 s stop timeout.
    testing::write_file(file, "services:\n  app:\n    image: placeholder.invalid/app:none\n    stop_signal: SIGKILL\n" +
                                  (healthcheck.empty() ? std::string() : "    healthcheck:\n" + healthcheck));
    files_.push_back(file);
    Target t;
    t.environment = "test";
    t.image = image_;
    t.settings = {{"project", project_}, {"file", file}, {"service", "app"}, {"timeout", "60s"}};
    return t;
  }
  ComposeOptions options_;
  std::string project_, image_, tag_;
  std::vector<std::string> files_;
  // The ids of the project's app containers, and the image reference and state of the newest ("" when none).
  std::vector<std::string> app_containers() {
    auto ps = try_run({"podman", "ps", "-a", "-q", "--filter", "label=com.docker.compose.project=" + project_,
                       "--filter", "label=com.docker.compose.service=app"});
    EXPECT_TRUE(ps && ps->exit.ok());
    std::vector<std::string> ids;
    std::istringstream in(ps ? ps->out : "");
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) ids.push_back(line);
    }
    return ids;
  }
  std::pair<std::string, std::string> running_image() {
    const auto ids = app_containers();
    if (ids.empty()) return {"", ""};
    auto inspect = try_run({"podman", "inspect", "--format", "{{.ImageName}} {{.State.Status}}", ids.front()});
    if (!inspect || !inspect->exit.ok()) return {"", ""};
    std::istringstream in(inspect->out);
    std::string image, status;
    in >> image >> status;
    return {image, status};
  }
};

TEST_F(ScratchImageCompose, ExecFormHealthcheckRunsWithoutAShell) {
  auto backend = make_compose_backend(options_);
  auto healthy = backend->deploy(target_with(
      "healthy", "      test: [\"CMD\", \"/bin/busybox\", \"wget\", \"-q\", \"-O-\", \"http://127.0.0.1:8080/\"]\n"
                 "      interval: 1s\n      retries: 3\n"));
  ASSERT_TRUE(healthy) << healthy.error().message;
  EXPECT_TRUE(healthy->ok) << healthy->reason;
  EXPECT_EQ(healthy->details["health"], "compose healthcheck, podman exec") << healthy->details.dump();
  EXPECT_GE(healthy->details.value("health_checks", 0), 1);

  // A check that fails: unhealthy after `retries`, long before the timeout.
  const auto started = std::chrono::steady_clock::now();
  // (Another reference to the image, so which one runs afterwards tells them apart.)
  Target sick_target = target_with(
      "sick", "      test: [\"CMD\", \"/bin/busybox\", \"false\"]\n      interval: 500ms\n      retries: 2\n");
  sick_target.image = tag_;
  EXPECT_EQ(running_image(), std::make_pair(image_, std::string("running")));
  auto sick = backend->deploy(sick_target);
  ASSERT_TRUE(sick) << sick.error().message;
  EXPECT_FALSE(sick->ok);
  EXPECT_NE(sick->reason.find("is unhealthy: 2 consecutive health checks failed"), std::string::npos) << sick->reason;
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(30));
  // The failing image does not stay: the previous one runs again, as the override and the state say.
  EXPECT_EQ(sick->previous_revision, image_);
  EXPECT_NE(sick->reason.find("; restored the previous image " + image_), std::string::npos) << sick->reason;
  EXPECT_EQ(sick->details.value("restored", ""), "restored the previous image " + image_) << sick->details.dump();
  EXPECT_EQ(override_image(testing::read_file(options_.state_dir + "/" + project_ + "/override.yaml"), "app"), image_);
  EXPECT_EQ(running_image(), std::make_pair(image_, std::string("running")));
}

TEST_F(ScratchImageCompose, AFailedFirstDeployLeavesNoContainer) {
  auto backend = make_compose_backend(options_);
  Target sick = target_with("sick", "      test: [\"CMD\", \"/bin/busybox\", \"false\"]\n      interval: 500ms\n      retries: 2\n");
  auto first = backend->deploy(sick);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_FALSE(first->ok);
  EXPECT_TRUE(first->first_deploy);
  EXPECT_NE(first->reason.find("is unhealthy: 2 consecutive health checks failed"), std::string::npos) << first->reason;
  EXPECT_NE(first->reason.find("; no previous image (first deploy): removed the failed container"), std::string::npos)
      << first->reason;
  EXPECT_TRUE(app_containers().empty()) << "nothing runs, as the (absent) state says";
  EXPECT_FALSE(fs::exists(options_.state_dir + "/" + project_ + "/override.yaml"));
}

TEST_F(ScratchImageCompose, NoHealthcheckIsSaidSoAndAStopEndsTheWait) {
  auto backend = make_compose_backend(options_);
  auto none = backend->deploy(target_with("none", ""));
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_TRUE(none->ok) << none->reason;
  EXPECT_EQ(none->details["health"], "none declared: running counts as healthy");
  auto disabled = backend->deploy(target_with("disabled", "      disable: true\n"));
  ASSERT_TRUE(disabled) << disabled.error().message;
  EXPECT_TRUE(disabled->ok) << disabled->reason;
  EXPECT_EQ(disabled->details["health"], "disabled in the compose file: running counts as healthy");

  // A check that never passes within 60 s; the service drains after 2 s.
  Target waiting = target_with("waiting", "      test: [\"CMD\", \"/bin/busybox\", \"false\"]\n"
                                          "      interval: 1s\n      retries: 1000\n");
  std::stop_source drain;
  waiting.stop = drain.get_token();
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::seconds(2));
    drain.request_stop();
  });
  const auto started = std::chrono::steady_clock::now();
  auto stopped = backend->deploy(waiting);
  const auto took = std::chrono::steady_clock::now() - started;
  stopper.join();
  ASSERT_FALSE(stopped) << "a stop is no verdict on the image: " << stopped->reason;
  EXPECT_EQ(stopped.error().code, Errc::unavailable);
  EXPECT_NE(stopped.error().message.find("shutting down"), std::string::npos) << stopped.error().message;
  EXPECT_LT(took, std::chrono::seconds(10));
}

}  // namespace
}  // namespace conveyor::deployer
