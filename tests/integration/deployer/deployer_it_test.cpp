// conveyor-deployer against the real Kafka broker, Redis, OCI registry and
// podman (scripts/infra): two tiny images built FROM scratch with buildah
// (static busybox httpd answering "v1" / "v2", with a HEALTHCHECK) and pushed
// to the local registry; deploy v1 (service.deployed, v1 answers on the
// published port), deploy v2 (service.upgraded, v2 answers), the rollback
// request the health verifier sends (service.rolledback, v1 answers again),
// then a replay of v2's commit is refused; a new commit deploys v2 again and
// `conveyor rollback` brings v1 back. And SIGTERM during a long health wait
// drains within seconds (the request is redelivered). The compose project is
// removed even when the test fails.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "conveyor/bus/producer.hpp"
#include "conveyor/events/cdevents.hpp"
#include "conveyor/events/run.hpp"
#include "conveyor/http/client.hpp"
#include "conveyor/logging/log.hpp"
#include "conveyor/process/process.hpp"
#include "fixtures.hpp"
#include "kafka_admin.hpp"
#include "kafka_records.hpp"
#include "schema_validation.hpp"
#include "service_process.hpp"

namespace conveyor::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

process::Environment containers_env() {
  const std::string conf = source_dir() + "/deploy/containers";
  auto env = process::inherit({"PATH", "HOME", "TMPDIR"});
  env["CONTAINERS_CONF"] = conf + "/containers.conf";
  env["CONTAINERS_STORAGE_CONF"] = conf + "/storage.conf";
  env["CONTAINERS_REGISTRIES_CONF"] = conf + "/registries.conf";
  return env;
}

// Runs a command (argv) to completion; returns stdout, throws with the output on failure.
std::string run(const std::vector<std::string>& argv, const std::string& cwd = "") {
  process::Options o;
  o.argv = argv;
  o.env = containers_env();
  o.cwd = cwd;
  o.timeout = 120s;
  auto r = process::capture(o);
  if (!r) throw std::runtime_error(argv[0] + ": " + r.error().message);
  if (!r->exit.ok()) throw std::runtime_error(argv[0] + " " + argv[1] + " failed: " + r->out + r->err);
  return r->out;
}

std::vector<json> cdevents_of(const std::vector<events::KafkaRecord>& records, const std::string& run_id,
                              const std::string& type_prefix) {
  std::vector<json> out;
  for (const auto& r : records) {
    auto e = events::cdevent_from_kafka(r);
    if (e && (*e)["context"]["chainId"] == run_id &&
        (*e)["context"]["type"].get<std::string>().rfind(type_prefix, 0) == 0) {
      out.push_back(*e);
    }
  }
  return out;
}

class DeployerIT : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_dir("deployer-it");
    const std::string uid = events::new_uuid().substr(0, 8);
    prefix_ = "conveyor-it-deploy-" + uid;
    project_ = "h1it" + uid;
    environment_ = "it-" + uid;
    port_ = free_port();
    for (const auto& [suffix, partitions] : std::vector<std::pair<std::string, int>>{
             {".stage.deploy", 3}, {".events", 3}, {".dlq", 1}, {".stage.verify", 3}}) {
      create_topic_named(kafka_brokers(), prefix_ + suffix, partitions);
    }
    events_ = reader_at_end(kafka_brokers(), prefix_ + ".events");
    verify_ = reader_at_end(kafka_brokers(), prefix_ + ".stage.verify");

    repository_ = env_or("CONVEYOR_REGISTRY", "127.0.0.1:15000") + "/conveyor-it/deployer-" + uid;
    digest_v1_ = build_and_push("v1");
    digest_v2_ = build_and_push("v2");

    compose_file_ = dir_ + "/compose.yaml";
    // busybox httpd as PID 1 ignores SIGTERM: SIGKILL spares each recreate podman's 10 s stop timeout.
    write_file(compose_file_, "services:\n  app:\n    image: placeholder.invalid/app:none\n    stop_signal: SIGKILL\n"
                              "    ports:\n      - \"127.0.0.1:" + std::to_string(port_) + ":8080\"\n");
    write_file(dir_ + "/conveyor.yaml", "kafka:\n  brokers: " + kafka_brokers() + "\n  topic-prefix: " + prefix_ +
                                            "\n  max-attempts: 2\nredis:\n  url: " + redis_url() +
                                            "\nadmin:\n  listen: 127.0.0.1:0\n"
                                            "pipelines:\n  - name: shop\n    repository: acme/shop\n"
                                            "    deploy: {environment: " + environment_ + ", compose: {project: " +
                                            project_ + ", file: " + compose_file_ + "}}\n");
    bus::ProducerOptions producer_options;
    producer_options.brokers = kafka_brokers();
    auto producer = bus::Producer::create(producer_options);
    ASSERT_TRUE(producer.ok()) << producer.error().message;
    producer_ = std::move(*producer);

    // No CONTAINERS_* given: the service finds deploy/containers of its source tree itself.
    service_ = std::make_unique<ServiceProcess>(bin_dir() + "/conveyor-deployer",
                                                std::vector<std::string>{"--config", dir_ + "/conveyor.yaml"},
                                                dir_ + "/service.log",
                                                std::map<std::string, std::string>{{"CONVEYOR_DEPLOYER_DIR", dir_ + "/state"}});
    ASSERT_TRUE(service_->wait_for_log("listening", 30s)) << service_->log();
  }

  void TearDown() override {
    try {
      run({"podman-compose", "-p", project_, "-f", compose_file_, "down"}, dir_);
      run({"podman", "network", "rm", "-f", project_ + "_default"});  // podman-compose 1.0.3 down leaves it
    } catch (const std::exception& e) {
      ADD_FAILURE() << "compose down: " << e.what();
    }
    if (service_ && service_->running()) {
      service_->kill(SIGTERM);
      EXPECT_EQ(service_->wait_exit(30s), 0) << service_->log();
    }
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // A FROM-scratch image whose busybox httpd answers `text`; returns its digest in the registry.
  std::string build_and_push(const std::string& text) {
    const std::string ctx = dir_ + "/image-" + text;
    fs::create_directories(ctx + "/bin");
    fs::create_directories(ctx + "/www");
    fs::copy_file("/bin/busybox", ctx + "/bin/busybox");
    write_file(ctx + "/www/index.html", text + "\n");
    write_file(ctx + "/Containerfile",
               "FROM scratch\nCOPY bin/busybox /bin/busybox\nCOPY www /www\n"
               "HEALTHCHECK --interval=2s --timeout=2s CMD [\"/bin/busybox\", \"wget\", \"-q\", \"-O-\", "
               "\"http://127.0.0.1:8080/\"]\n"
               "CMD [\"/bin/busybox\", \"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n");
    const std::string tag = repository_ + ":" + text;
    // docker format: OCI image configs have no HEALTHCHECK.
    run({"buildah", "bud", "--isolation", "chroot", "--format", "docker", "-q", "-t", tag, ctx});
    run({"buildah", "push", "--tls-verify=false", "--digestfile", ctx + "/digest", tag, "docker://" + tag});
    // Gone from local storage: podman must pull it from the registry (plain HTTP, registries.conf).
    run({"buildah", "rmi", "-f", tag});
    return read_file(ctx + "/digest");
  }

  events::RunContext new_run(char sha, const std::string& version, const std::string& digest) const {
    events::RunContext run;
    run.run_id = events::new_uuid();
    run.pipeline = "shop";
    run.repository = "acme/shop";
    run.clone_url = "https://github.com/acme/shop.git";
    run.trigger = "push";
    run.ref = "refs/heads/main";
    run.ref_kind = "branch";
    run.ref_name = "main";
    run.sha = std::string(40, sha);
    run.traceparent = log::new_traceparent();
    run.queued_at = events::now_rfc3339();
    run.outputs = {{"version", {{"version", version}}},
                   {"build", {{"images", {{"app", {{"repository", repository_}, {"digest", digest}}}}}}}};
    return run;
  }

  json deploy_settings() const {
    return {{"environment", environment_},
            {"lock-timeout", "60s"},
            {"compose", {{"project", project_}, {"file", compose_file_}, {"service", "app"}, {"timeout", "60s"}}}};
  }

  void publish(const events::StageRequest& request) {
    auto ok = producer_->produce_all({events::to_kafka(request, prefix_)});
    ASSERT_TRUE(ok.ok()) << ok.error().message;
  }

  // The run's first event of `type_prefix`, or null after the timeout.
  json wait_event(const std::string& run_id, const std::string& type_prefix) {
    collect_until(*events_, seen_, [&](const auto& v) { return !cdevents_of(v, run_id, type_prefix).empty(); }, 90s);
    auto found = cdevents_of(seen_, run_id, type_prefix);
    return found.empty() ? json() : found.front();
  }

  // The verify request that follows the run's deploy.
  events::StageRequest verify_request(const std::string& run_id) {
    std::vector<events::KafkaRecord> mine;
    collect_until(*verify_, verify_seen_,
                  [&](const auto& v) {
                    for (const auto& r : v) {
                      auto req = events::request_from_kafka(r);
                      if (req && req->run.run_id == run_id) return true;
                    }
                    return false;
                  },
                  30s);
    for (const auto& r : verify_seen_) {
      auto req = events::request_from_kafka(r);
      if (req && req->run.run_id == run_id) return *req;
    }
    ADD_FAILURE() << "no verify request for " << run_id;
    return {};
  }

  std::string answer() {
    auto r = http::request("GET", "http://127.0.0.1:" + std::to_string(port_) + "/", {}, "");
    return r ? r->body : "error: " + r.error().message;
  }

  std::vector<std::string> cdevent_errors(const json& event, const std::string& schema) {
    const std::string dir = shared_dir() + "/cdevents-v0.5.1/schemas";
    return validate(load_json(dir + "/" + schema), event, dir);
  }

  std::string dir_, prefix_, project_, environment_, repository_, compose_file_, digest_v1_, digest_v2_;
  int port_ = 0;
  std::unique_ptr<bus::Producer> producer_;
  std::unique_ptr<ServiceProcess> service_;
  std::unique_ptr<bus::Reader> events_, verify_;
  std::vector<events::KafkaRecord> seen_, verify_seen_;
};

TEST_F(DeployerIT, DeploysUpgradesAndRollsBackWithPodmanCompose) {
  ASSERT_EQ(digest_v1_.rfind("sha256:", 0), 0u) << digest_v1_;
  const auto started = std::chrono::steady_clock::now();

  // v1: the first deploy of the service in this environment.
  const auto run1 = new_run('1', "1.0.0", digest_v1_);
  publish(events::first_request(run1, {{"deploy", deploy_settings()}, {"verify", json::object()}}));
  const json deployed = wait_event(run1.run_id, "dev.cdevents.service.deployed");
  ASSERT_FALSE(deployed.is_null()) << service_->log();
  EXPECT_EQ(cdevent_errors(deployed, "servicedeployed.json"), std::vector<std::string>{});
  EXPECT_EQ(deployed["subject"]["content"]["environment"]["id"], environment_);
  EXPECT_NE(deployed["subject"]["content"]["artifactId"].get<std::string>().find(digest_v1_.substr(7)),
            std::string::npos);
  EXPECT_EQ(answer(), "v1\n");
  const auto verify1 = verify_request(run1.run_id);
  EXPECT_EQ(verify1.run.outputs["deploy"]["first"], true);
  EXPECT_EQ(verify1.run.outputs["deploy"]["image"], repository_ + "@" + digest_v1_);

  // v2: an upgrade.
  const auto run2 = new_run('2', "1.1.0", digest_v2_);
  publish(events::first_request(run2, {{"deploy", deploy_settings()}, {"verify", json::object()}}));
  const json upgraded = wait_event(run2.run_id, "dev.cdevents.service.upgraded");
  ASSERT_FALSE(upgraded.is_null()) << service_->log();
  EXPECT_EQ(cdevent_errors(upgraded, "serviceupgraded.json"), std::vector<std::string>{});
  EXPECT_EQ(answer(), "v2\n");
  const auto verify2 = verify_request(run2.run_id);
  EXPECT_EQ(verify2.run.outputs["deploy"]["previous"], repository_ + "@" + digest_v1_);

  // The rollback request exactly as the health verifier builds it.
  events::StageRequest rb;
  rb.id = run2.run_id + ":rollback";
  rb.stage = "deploy";
  rb.run = verify2.run;
  rb.settings = verify2.run.outputs["deploy"];
  rb.settings["action"] = "rollback";
  rb.settings["reason"] = "verification failed: GET / answered 500";
  rb.settings["incident"] = run2.run_id + ":verify:incident";
  publish(rb);
  const json rolledback = wait_event(run2.run_id, "dev.cdevents.service.rolledback");
  ASSERT_FALSE(rolledback.is_null()) << service_->log();
  EXPECT_EQ(cdevent_errors(rolledback, "servicerolledback.json"), std::vector<std::string>{});
  EXPECT_NE(rolledback["subject"]["content"]["artifactId"].get<std::string>().find(digest_v1_.substr(7)),
            std::string::npos);
  EXPECT_EQ(answer(), "v1\n");

  // v2's commit again (a replay with a new run): refused, and v1 keeps running.
  const auto replay = new_run('2', "1.1.0", digest_v2_);
  publish(events::first_request(replay, {{"deploy", deploy_settings()}, {"verify", json::object()}}));
  const json finished = wait_event(replay.run_id, "dev.cdevents.pipelinerun.finished");
  ASSERT_FALSE(finished.is_null()) << service_->log();
  EXPECT_EQ(finished["subject"]["content"]["outcome"], "failure");
  EXPECT_NE(finished["subject"]["content"]["errors"].get<std::string>().find("marked bad"), std::string::npos)
      << finished.dump();
  EXPECT_EQ(answer(), "v1\n");

  // A new commit deploys v2 again; `conveyor rollback` takes the environment back to v1.
  const auto run3 = new_run('3', "1.1.1", digest_v2_);
  publish(events::first_request(run3, {{"deploy", deploy_settings()}, {"verify", json::object()}}));
  ASSERT_FALSE(wait_event(run3.run_id, "dev.cdevents.service.upgraded").is_null()) << service_->log();
  EXPECT_EQ(answer(), "v2\n");
  process::Options cli;
  cli.argv = {bin_dir() + "/conveyor", "rollback", "--environment", environment_, "--config", dir_ + "/conveyor.yaml"};
  cli.env = process::inherit({"PATH", "HOME", "CONVEYOR_SCHEMA_DIR"});
  cli.timeout = 30s;
  auto requested = process::capture(cli);
  ASSERT_TRUE(requested && requested->exit.ok()) << (requested ? requested->out + requested->err : "");
  EXPECT_EQ(requested->out.rfind(run3.run_id + ":rollback:cli-", 0), 0u) << requested->out;
  ASSERT_FALSE(wait_event(run3.run_id, "dev.cdevents.service.rolledback").is_null()) << service_->log();
  EXPECT_EQ(answer(), "v1\n");
  std::printf("deploy, upgrade, rollback, refusal: %lld ms\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - started)
                                         .count()));
}

// SIGTERM while the compose backend waits for a container that never turns
// healthy (exec-form compose healthcheck that always fails, timeout 2m): the
// service drains within seconds, publishes no verdict for the run, and the
// uncommitted request is redelivered to the next instance.
TEST_F(DeployerIT, SigtermDuringAHealthWaitDrainsPromptlyAndTheRequestIsRedelivered) {
  const std::string sick_file = dir_ + "/sick.yaml";
  write_file(sick_file, "services:\n  app:\n    image: placeholder.invalid/app:none\n    stop_signal: SIGKILL\n"
                        "    healthcheck:\n      test: [\"CMD\", \"/bin/busybox\", \"false\"]\n"
                        "      interval: 1s\n      retries: 1000\n");
  json settings = deploy_settings();
  settings["compose"]["file"] = sick_file;
  settings["compose"]["timeout"] = "2m";
  const auto run1 = new_run('1', "1.0.0", digest_v1_);
  publish(events::first_request(run1, {{"deploy", settings}, {"verify", json::object()}}));
  ASSERT_TRUE(service_->wait_for_log("deploying", 90s)) << service_->log();
  std::this_thread::sleep_for(3s);  // into the health wait

  const auto sent = std::chrono::steady_clock::now();
  service_->kill(SIGTERM);
  EXPECT_EQ(service_->wait_exit(30s), 0) << service_->log();
  const auto drain = std::chrono::steady_clock::now() - sent;
  EXPECT_LT(drain, 10s) << service_->log();
  EXPECT_NE(service_->log().find("stopped while handling; the request will be redelivered"), std::string::npos)
      << service_->log();
  collect_until(*events_, seen_, [](const auto&) { return false; }, 2s);
  EXPECT_TRUE(cdevents_of(seen_, run1.run_id, "dev.cdevents.pipelinerun.finished").empty())
      << "a drained deploy is no verdict on the run";

  // The next instance gets the request again.
  service_ = std::make_unique<ServiceProcess>(bin_dir() + "/conveyor-deployer",
                                              std::vector<std::string>{"--config", dir_ + "/conveyor.yaml"},
                                              dir_ + "/service2.log",
                                              std::map<std::string, std::string>{{"CONVEYOR_DEPLOYER_DIR", dir_ + "/state"}});
  auto again = service_->wait_for_log("deploying", 90s);
  ASSERT_TRUE(again) << service_->log();
  EXPECT_EQ((*again)["run_id"], run1.run_id);
  std::printf("SIGTERM to exit during a health wait: %lld ms\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(drain).count()));
}

}  // namespace
}  // namespace conveyor::testing
