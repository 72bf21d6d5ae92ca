// conveyor-image-builder against the real Kafka broker, Redis and OCI registry
// (scripts/infra), real git (a bare repository made here) and real buildah
// (vfs, --isolation chroot). Every test runs the service with its own topic
// prefix and topics, and pushes to its own registry repository.
//
// The images are `FROM scratch` + COPY, so both platforms build on an amd64
// machine without binfmt.
#include <gtest/gtest.h>

#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <set>
#include <sstream>
#include <thread>

#include "conveyor/bus/producer.hpp"
#include "conveyor/events/cdevents.hpp"
#include "conveyor/events/run.hpp"
#include "conveyor/http/client.hpp"
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

const std::string kGoodDockerfile =
    "FROM scratch\n"
    "COPY hello.txt /hello.txt\n"
    "ARG GREETING=hello\n"
    "LABEL greeting=$GREETING\n"
    "CMD [\"/hello\"]\n";
const std::string kBadDockerfile = "FROM scratch\nCOPY missing.txt /missing.txt\n";

std::string registry() { return env_or("CONVEYOR_REGISTRY", "127.0.0.1:15000"); }

std::vector<events::KafkaRecord> of_run(const std::vector<events::KafkaRecord>& records, const std::string& run_id) {
  std::vector<events::KafkaRecord> out;
  for (const auto& r : records) {
    const auto* h = r.header("ce_runid");
    if (h && *h == run_id) out.push_back(r);
  }
  return out;
}

std::vector<json> cdevents_of(const std::vector<events::KafkaRecord>& records, const std::string& run_id,
                              const std::string& type_prefix) {
  std::vector<json> out;
  for (const auto& r : of_run(records, run_id)) {
    auto e = events::cdevent_from_kafka(r);
    if (e && (*e)["context"]["type"].get<std::string>().rfind(type_prefix, 0) == 0) out.push_back(*e);
  }
  return out;
}

// The index a tag names, read through the registry HTTP API.
struct RegistryIndex {
  int status = 0;
  std::string digest;  // Docker-Content-Digest
  json body;
};
RegistryIndex read_index(const std::string& path, const std::string& tag) {
  http::Headers h;
  h["Accept"] = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json";
  auto r = http::request("GET", "http://" + registry() + "/v2/" + path + "/manifests/" + tag, h, "");
  if (!r) throw std::runtime_error("registry: " + r.error().message);
  RegistryIndex out;
  out.status = r->status;
  if (r->status == 200) {
    out.digest = r->headers.count("Docker-Content-Digest") ? r->headers.at("Docker-Content-Digest") : "";
    out.body = json::parse(r->body);
  }
  return out;
}

std::set<std::string> platforms_of(const json& index) {
  std::set<std::string> out;
  for (const auto& m : index["manifests"]) {
    out.insert(m["platform"]["os"].get<std::string>() + "/" + m["platform"]["architecture"].get<std::string>());
  }
  return out;
}

// A reader at the end of a topic created a moment ago: until its partitions
// have leaders, opening fails ("Not leader for partition"); retry until then.
std::unique_ptr<bus::Reader> reader_when_ready(const std::string& topic) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  for (;;) {
    try {
      return reader_at_end(kafka_brokers(), topic);
    } catch (const std::exception&) {
      if (std::chrono::steady_clock::now() >= deadline) throw;
      std::this_thread::sleep_for(100ms);
    }
  }
}

int count_log_lines(const std::string& log, const std::string& msg, const std::string& run_id) {
  int n = 0;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    auto j = json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.value("msg", "") == msg && j.value("run_id", "") == run_id) ++n;
  }
  return n;
}

class ImageBuilderIT : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::system("command -v buildah >/dev/null 2>&1") != 0) GTEST_SKIP() << "buildah is not installed (scripts/setup)";
  }

  void SetUp() override {
    dir_ = temp_dir("image-builder-it");
    prefix_ = "conveyor-it-ib-" + events::new_uuid().substr(0, 8);
    image_path_ = "conveyor-it/" + prefix_ + "/hello";
    for (const auto& [suffix, partitions] : std::vector<std::pair<std::string, int>>{
             {".stage.build", 3}, {".events", 3}, {".dlq", 1}, {".stage.helm", 3}}) {
      create_topic_named(kafka_brokers(), prefix_ + suffix, partitions);
    }
    events_ = reader_when_ready(prefix_ + ".events");
    helm_ = reader_when_ready(prefix_ + ".stage.helm");
    dlq_ = reader_when_ready(prefix_ + ".dlq");
    repo_ = std::make_unique<GitRepo>(dir_ + "/app");
    good_sha_ = repo_->commit({{"Dockerfile", kGoodDockerfile}, {"hello.txt", "hello from conveyor\n"}}, "good");
    bad_sha_ = repo_->commit({{"Dockerfile", kBadDockerfile}}, "broken Dockerfile");
    write_file(dir_ + "/conveyor.yaml", config_yaml());
    bus::ProducerOptions producer_options;
    producer_options.brokers = kafka_brokers();
    auto producer = bus::Producer::create(producer_options);
    ASSERT_TRUE(producer.ok()) << producer.error().message;
    producer_ = std::move(*producer);
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
           "\nregistry: " + registry() +
           "\nadmin:\n  listen: 127.0.0.1:0\n"
           "pipelines:\n"
           "  - name: hello\n"
           "    repository: owner/hello\n"
           "    clone-url: " + repo_->url() + "\n"
           "    images:\n"
           "      - name: hello\n"
           "        repository: " + image_path_ + "\n"
           "        tags: [\"{{version}}\", \"{{short-sha}}\", latest]\n"
           "        tls-verify: false\n"
           "    values: { repository: " + repo_->url() + ", file: values.yaml, set: { image.tag: \"{{version}}\" } }\n";
  }

  void start() {
    service_ = std::make_unique<ServiceProcess>(
        bin_dir() + "/conveyor-image-builder", std::vector<std::string>{"--config", dir_ + "/conveyor.yaml"},
        dir_ + "/image-builder-" + std::to_string(++starts_) + ".log",
        std::map<std::string, std::string>{{"CONVEYOR_IMAGE_BUILDER_DIR", dir_ + "/work"}});
    ASSERT_TRUE(service_->wait_for_log("listening", 30s).has_value()) << service_->log();
  }

  // A build request as the version-tagger would hand it on: version 1.2.3
  // in the outputs, the helm stage next on the slip.
  events::StageRequest request(const std::string& sha) const {
    events::RunContext run;
    run.run_id = events::new_uuid();
    run.pipeline = "hello";
    run.repository = "owner/hello";
    run.clone_url = repo_->url();
    run.trigger = "push";
    run.ref = "refs/heads/main";
    run.ref_kind = "branch";
    run.ref_name = "main";
    run.sha = sha;
    run.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    run.outputs = {{"test", {{"passed", true}}}, {"version", {{"version", "1.2.3"}, {"tag", "v1.2.3"}}}};
    const json images = json::array({{{"name", "hello"},
                                      {"repository", registry() + "/" + image_path_},
                                      {"tags", {"{{version}}", "{{short-sha}}", "latest"}},
                                      {"build-args", {{"GREETING", "hi"}}},
                                      {"tls-verify", false}}});
    // Stage settings travel as objects: the build stage's are {"images": [...]}.
    auto req = events::first_request(run, {{"build", {{"images", images}}}, {"helm", {{"file", "values.yaml"}}}});
    return req;
  }

  void send(const events::StageRequest& req) {
    auto sent = producer_->produce_all({events::to_kafka(req, prefix_)});
    ASSERT_TRUE(sent.ok()) << sent.error().message;
  }

  // Waits for the run's outcome: the helm request (success) or pipelinerun.finished.
  bool wait_for_helm_request(const std::string& run_id, std::size_t count = 1, std::chrono::milliseconds t = 90s) {
    return collect_until(*helm_, helm_seen_, [&](auto& v) { return of_run(v, run_id).size() >= count; }, t);
  }
  bool wait_for_finished(const std::string& run_id, std::chrono::milliseconds t = 90s) {
    return collect_until(
        *events_, events_seen_,
        [&](auto& v) { return !cdevents_of(v, run_id, "dev.cdevents.pipelinerun.finished").empty(); }, t);
  }
  // Reads the events that arrived up to the helm request (same partition key, so they came first).
  void drain_events(const std::string& run_id, const std::string& last_type, std::size_t count = 1) {
    ASSERT_TRUE(collect_until(
        *events_, events_seen_, [&](auto& v) { return cdevents_of(v, run_id, last_type).size() >= count; }, 30s));
  }

  // A stage failure ends the run; it is never an infrastructure error that
  // lands in the (test's own) dead-letter topic.
  void expect_no_dead_letters() {
    std::vector<events::KafkaRecord> dead;
    collect_until(*dlq_, dead, [](auto&) { return false; }, 1s);
    EXPECT_TRUE(dead.empty()) << dead.size() << " record(s) in " << prefix_ << ".dlq";
  }

  static void expect_valid(const json& event) {
    std::string type = event["context"]["type"];  // dev.cdevents.<subject>.<predicate>.<version>
    type = type.substr(std::string("dev.cdevents.").size());
    const auto first_dot = type.find('.');
    const auto second_dot = type.find('.', first_dot + 1);
    const std::string file =
        type.substr(0, first_dot) + type.substr(first_dot + 1, second_dot - first_dot - 1) + ".json";
    const auto errors = validate_file(shared_dir() + "/cdevents-v0.5.1/schemas/" + file, event);
    EXPECT_TRUE(errors.empty()) << file << ": " << ::testing::PrintToString(errors) << "\n" << event.dump(2);
  }

  std::string dir_, prefix_, image_path_, good_sha_, bad_sha_;
  std::unique_ptr<GitRepo> repo_;
  std::unique_ptr<bus::Producer> producer_;
  std::unique_ptr<ServiceProcess> service_;
  std::unique_ptr<bus::Reader> events_, helm_, dlq_;
  std::vector<events::KafkaRecord> events_seen_, helm_seen_;
  int starts_ = 0;
};

TEST_F(ImageBuilderIT, PushesATwoPlatformIndexUnderEveryTagAndReportsIt) {
  const auto req = request(good_sha_);
  send(req);
  ASSERT_TRUE(wait_for_helm_request(req.run.run_id)) << service_->log();

  // The next stage's request carries the image.
  auto next = events::request_from_kafka(of_run(helm_seen_, req.run.run_id).at(0));
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(next->stage, "helm");
  const json image = next->run.outputs["build"]["images"]["hello"];
  ASSERT_TRUE(image.is_object()) << next->run.outputs.dump(2);
  const std::string digest = image["digest"];
  EXPECT_EQ(image["repository"], registry() + "/" + image_path_);
  const json tags = {"1.2.3", good_sha_.substr(0, 7), "latest"};
  EXPECT_EQ(image["tags"], tags);
  EXPECT_EQ(image["platforms"].size(), 2u);
  EXPECT_EQ(next->run.outputs["version"]["version"], "1.2.3");  // earlier outputs kept

  // The registry, read back through its HTTP API: one index, both platforms, every tag.
  for (const auto& tag : tags) {
    const auto index = read_index(image_path_, tag.get<std::string>());
    ASSERT_EQ(index.status, 200) << tag;
    EXPECT_EQ(index.digest, digest) << tag;
    EXPECT_EQ(index.body["mediaType"], "application/vnd.oci.image.index.v1+json");
    EXPECT_EQ(platforms_of(index.body), (std::set<std::string>{"linux/amd64", "linux/arm64"}));
    for (const auto& m : index.body["manifests"]) {
      const std::string platform =
          m["platform"]["os"].get<std::string>() + "/" + m["platform"]["architecture"].get<std::string>();
      EXPECT_EQ(image["platforms"][platform], m["digest"]);
    }
  }

  // Events: build.started, build.finished, artifact.packaged, artifact.published, all valid.
  drain_events(req.run.run_id, "dev.cdevents.artifact.published");
  const auto& seen = events_seen_;
  const std::string artifact = events::oci_purl(registry() + "/" + image_path_, digest);
  for (const std::string type : {"dev.cdevents.build.started", "dev.cdevents.build.finished",
                                 "dev.cdevents.artifact.packaged", "dev.cdevents.artifact.published"}) {
    const auto found = cdevents_of(seen, req.run.run_id, type);
    ASSERT_EQ(found.size(), 1u) << type;
    expect_valid(found[0]);
    EXPECT_EQ(found[0]["context"]["chainId"], req.run.run_id);
    EXPECT_EQ(found[0]["context"]["source"], "/conveyor/image-builder");
  }
  EXPECT_EQ(cdevents_of(seen, req.run.run_id, "dev.cdevents.build.finished")[0]["subject"]["content"]["artifactId"],
            artifact);
  const auto published = cdevents_of(seen, req.run.run_id, "dev.cdevents.artifact.published")[0];
  EXPECT_EQ(published["subject"]["id"], artifact);
  EXPECT_EQ(published["customData"]["platforms"], image["platforms"]);
  EXPECT_TRUE(cdevents_of(seen, req.run.run_id, "dev.cdevents.pipelinerun.finished").empty());

  // The workspace (checkout, image store) is gone.
  EXPECT_TRUE(fs::is_empty(dir_ + "/work")) << "work dir not cleaned";
}

// The layer cache is on by default (in <repository>-cache) and works across
// runs: each build has its own image store, removed afterwards, so what a
// second build of the same commit reuses can only come from the registry.
TEST_F(ImageBuilderIT, SecondRunReusesTheRegistryLayerCache) {
  std::vector<json> published;
  for (int n = 0; n < 2; ++n) {
    const auto req = request(good_sha_);
    send(req);
    ASSERT_TRUE(wait_for_helm_request(req.run.run_id)) << service_->log();
    drain_events(req.run.run_id, "dev.cdevents.artifact.published");
    published.push_back(cdevents_of(events_seen_, req.run.run_id, "dev.cdevents.artifact.published").at(0));
    EXPECT_TRUE(fs::is_empty(dir_ + "/work")) << "image store left behind";
  }
  const std::string cache_repository = registry() + "/" + image_path_ + "-cache";
  const json cold = published[0]["customData"]["cache"];
  const json warm = published[1]["customData"]["cache"];
  RecordProperty("cold_cache", cold.dump());
  RecordProperty("warm_cache", warm.dump());
  RecordProperty("cold_build_ms", published[0]["customData"]["buildMs"].dump());
  RecordProperty("warm_build_ms", published[1]["customData"]["buildMs"].dump());
  EXPECT_EQ(cold["enabled"], true) << cold.dump();
  EXPECT_EQ(cold["repository"], cache_repository);
  EXPECT_EQ(cold["pulled"], 0) << cold.dump();  // a new cache repository: nothing to pull
  EXPECT_FALSE(cold.contains("warning")) << cold.dump();
  // Warm: the first platform's COPY layer came from the registry (buildah
  // 1.28 stops looking at the ARG after it: see the README), and more steps
  // than in the cold build were reused.
  EXPECT_GE(warm["pulled"].get<int>(), 1) << warm.dump();
  EXPECT_GT(warm["hits"].get<int>(), cold["hits"].get<int>()) << cold.dump() << warm.dump();
  // Both platforms are in the warm build's index too. (Its digest may differ
  // from the cold one: a build that reuses a prefix of cached steps names the
  // cache image in its history; see the README.)
  const auto index = read_index(image_path_, "1.2.3");
  ASSERT_EQ(index.status, 200);
  EXPECT_EQ(index.digest, published[1]["customData"]["digest"]);
  EXPECT_EQ(platforms_of(index.body), (std::set<std::string>{"linux/amd64", "linux/arm64"}));

  // The cache repository, read through the registry HTTP API.
  auto tags = http::request("GET", "http://" + registry() + "/v2/" + image_path_ + "-cache/tags/list", {}, "");
  ASSERT_TRUE(tags.ok()) << tags.error().message;
  ASSERT_EQ(tags->status, 200) << tags->body;
  EXPECT_GE(json::parse(tags->body)["tags"].size(), 3u) << tags->body;  // COPY + one LABEL step per platform
}

TEST_F(ImageBuilderIT, FailingDockerfileFailsTheRunWithTheReason) {
  const auto req = request(bad_sha_);
  send(req);
  ASSERT_TRUE(wait_for_finished(req.run.run_id)) << service_->log();
  const auto finished = cdevents_of(events_seen_, req.run.run_id, "dev.cdevents.pipelinerun.finished").at(0);
  expect_valid(finished);
  EXPECT_EQ(finished["subject"]["content"]["outcome"], "failure");
  const std::string errors = finished["subject"]["content"]["errors"];
  EXPECT_NE(errors.find("image hello: build failed"), std::string::npos) << errors;
  EXPECT_NE(errors.find("missing.txt"), std::string::npos) << errors;
  const auto build_finished = cdevents_of(events_seen_, req.run.run_id, "dev.cdevents.build.finished");
  ASSERT_EQ(build_finished.size(), 1u);
  expect_valid(build_finished[0]);
  EXPECT_EQ(build_finished[0]["customData"]["outcome"], "failure");
  EXPECT_TRUE(cdevents_of(events_seen_, req.run.run_id, "dev.cdevents.artifact").empty());
  // Nothing pushed, no next stage.
  EXPECT_EQ(read_index(image_path_, "1.2.3").status, 404);
  EXPECT_TRUE(of_run(helm_seen_, req.run.run_id).empty());
  expect_no_dead_letters();
  EXPECT_TRUE(service_->running());
}

TEST_F(ImageBuilderIT, RegistryDownFailsTheRunAndNamesIt) {
  auto req = request(good_sha_);
  req.settings["images"][0]["repository"] = "127.0.0.1:1/" + image_path_;  // nothing listens on port 1
  send(req);
  ASSERT_TRUE(wait_for_finished(req.run.run_id)) << service_->log();
  const auto finished = cdevents_of(events_seen_, req.run.run_id, "dev.cdevents.pipelinerun.finished").at(0);
  EXPECT_EQ(finished["subject"]["content"]["outcome"], "failure");
  const std::string errors = finished["subject"]["content"]["errors"];
  EXPECT_NE(errors.find("push of 127.0.0.1:1/" + image_path_ + ":1.2.3 failed"), std::string::npos) << errors;
  EXPECT_NE(errors.find("no tag was pushed"), std::string::npos) << errors;
  expect_no_dead_letters();
  EXPECT_TRUE(service_->running());
}

TEST_F(ImageBuilderIT, RedeliveryRepublishesWithoutRebuilding) {
  const auto req = request(good_sha_);
  send(req);
  ASSERT_TRUE(wait_for_helm_request(req.run.run_id)) << service_->log();
  send(req);  // the same request again (a redelivery)
  ASSERT_TRUE(wait_for_helm_request(req.run.run_id, 2)) << service_->log();
  const auto helm = of_run(helm_seen_, req.run.run_id);
  ASSERT_EQ(helm.size(), 2u);
  EXPECT_EQ(helm[0].value, helm[1].value);  // the recorded outcome, byte for byte
  EXPECT_EQ(*helm[0].header("ce_id"), *helm[1].header("ce_id"));
  drain_events(req.run.run_id, "dev.cdevents.artifact.published", 2);
  EXPECT_EQ(count_log_lines(service_->log(), "build started", req.run.run_id), 1) << service_->log();
}

TEST_F(ImageBuilderIT, Kill9MidBuildCompletesOnceAfterRestart) {
  const auto req = request(good_sha_);
  send(req);
  // Kill the moment the build starts (buildah takes a few hundred ms here).
  ASSERT_TRUE(service_->wait_for_log("build started", 60s).has_value()) << service_->log();
  service_->kill(SIGKILL);
  ASSERT_TRUE(service_->wait_exit(10s).has_value());
  start();
  ASSERT_TRUE(wait_for_helm_request(req.run.run_id, 1, 120s)) << service_->log();
  // Whatever got through before the kill and after, the outcome is one: the
  // same next request (same id), and the tags name one index with both platforms.
  collect_until(*helm_, helm_seen_, [](auto&) { return false; }, 2s);
  const auto helm = of_run(helm_seen_, req.run.run_id);
  for (const auto& r : helm) EXPECT_EQ(*r.header("ce_id"), *helm[0].header("ce_id"));
  auto next = events::request_from_kafka(helm[0]);
  ASSERT_TRUE(next.ok());
  const std::string digest = next->run.outputs["build"]["images"]["hello"]["digest"];
  for (const std::string tag : {"1.2.3", "latest"}) {
    const auto index = read_index(image_path_, tag);
    ASSERT_EQ(index.status, 200);
    EXPECT_EQ(index.digest, digest);
    EXPECT_EQ(platforms_of(index.body), (std::set<std::string>{"linux/amd64", "linux/arm64"}));
  }
  EXPECT_TRUE(fs::is_empty(dir_ + "/work"));
}

}  // namespace
}  // namespace conveyor::testing
