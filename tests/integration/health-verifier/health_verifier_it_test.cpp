// conveyor-health-verifier against the real Kafka broker and Redis of
// scripts/infra and a real Prometheus server (Debian's `prometheus`,
// started here) that scrapes a target served by this test process: a
// /metrics endpoint with counters the test controls, and a /health endpoint
// the test can flip to unhealthy. The queries are real PromQL; topics use a
// unique prefix so nothing else sees these runs.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include "conveyor/bus/producer.hpp"
#include "conveyor/events/cdevents.hpp"
#include "conveyor/events/run.hpp"
#include "conveyor/http/client.hpp"
#include "conveyor/http/server.hpp"
#include "fixtures.hpp"
#include "kafka_admin.hpp"
#include "kafka_records.hpp"
#include "schema_validation.hpp"
#include "service_process.hpp"

namespace conveyor::testing {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

constexpr const char* kPrometheusBinary = "/usr/bin/prometheus";
// The error ratio the verifier checks (max 0.05), over the test target's counters.
constexpr const char* kErrorRatio =
    "sum(rate(app_http_errors_total[5s])) / sum(rate(app_http_requests_total[5s]))";

// A port nobody listens on right now (for Prometheus' --web.listen-address).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) throw std::runtime_error("bind failed");
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// The service under verification: counters on /metrics (each scrape adds
// 100 requests and `errors_per_scrape` errors) and a /health endpoint.
class Target {
 public:
  enum class Health { up, down_json, error_500 };

  Target() : server_(http::ServerOptions{}) {
    server_.route("GET", "/metrics", [this](http::Request&&, http::Reply reply) {
      std::lock_guard lock(mu_);
      requests_ += 100;
      errors_ += errors_per_scrape_;
      http::Response r;
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      r.body = "# HELP app_http_requests_total Requests served.\n# TYPE app_http_requests_total counter\n"
               "app_http_requests_total " + std::to_string(requests_) +
               "\n# HELP app_http_errors_total Requests answered 5xx.\n# TYPE app_http_errors_total counter\n"
               "app_http_errors_total " + std::to_string(errors_) + "\n";
      reply(std::move(r));
    });
    server_.route("GET", "/health", [this](http::Request&&, http::Reply reply) {
      ++health_probes_;
      switch (health_.load()) {
        case Health::up: return reply(http::json_response(200, R"({"status":"up"})"));
        case Health::down_json: return reply(http::json_response(200, R"({"status":"down"})"));
        case Health::error_500: return reply(http::json_response(500, R"({"status":"error"})"));
      }
    });
    if (auto ok = server_.start(); !ok) throw std::runtime_error("target: " + ok.error().message);
  }
  ~Target() { server_.stop(); }

  int port() const { return server_.port(); }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port()) + path; }
  void set_health(Health h) { health_ = h; }
  void set_errors_per_scrape(long n) {
    std::lock_guard lock(mu_);
    errors_per_scrape_ = n;
  }
  long health_probes() const { return health_probes_; }

 private:
  http::Server server_;
  std::mutex mu_;
  long requests_ = 0, errors_ = 0, errors_per_scrape_ = 0;
  std::atomic<Health> health_{Health::up};
  std::atomic<long> health_probes_{0};
};

// The value of an instant query right now, or nullopt (no data / error).
std::optional<double> query_now(const std::string& prometheus, const std::string& promql) {
  std::string url = prometheus + "/api/v1/query?query=";
  for (unsigned char c : promql) {
    char buf[4];
    if (std::isalnum(c)) url += static_cast<char>(c);
    else {
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      url += buf;
    }
  }
  auto r = http::request("GET", url, {}, "", 5s);
  if (!r || r->status != 200) return std::nullopt;
  const auto j = json::parse(r->body, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  const auto& result = j["data"]["result"];
  if (!result.is_array() || result.empty()) return std::nullopt;
  const double v = std::stod(result[0]["value"][1].get<std::string>());
  if (std::isnan(v)) return std::nullopt;
  return v;
}

// Polls `condition` every 100 ms until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return condition();
}

long long epoch_ms_of(const std::string& rfc3339) {
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(rfc3339.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &ms) != 7) {
    return 0;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<long long>(timegm(&tm)) * 1000 + ms;
}

std::string config_yaml(const std::string& prefix) {
  return "kafka:\n  brokers: " + kafka_brokers() + "\n  topic-prefix: " + prefix +
         "\n  max-attempts: 2\n"
         "redis:\n  url: " + redis_url() +
         "\n"
         "admin:\n  listen: 127.0.0.1:0\n"
         "pipelines:\n"
         "  - name: hello\n"
         "    repository: Codertocat/Hello-World\n"
         "    triggers:\n      push: { branches: [main] }\n"
         "    verify: { settle: 0s }\n";
}

// Everything the tests share: started once (Prometheus takes seconds).
struct World {
  std::string dir;
  std::string prefix;
  std::unique_ptr<Target> target;
  std::unique_ptr<ServiceProcess> prometheus;
  std::string prometheus_url;
  std::unique_ptr<ServiceProcess> verifier;
  std::unique_ptr<bus::Producer> producer;
  std::unique_ptr<bus::Reader> events, deploys;
  std::vector<bus::ReadRecord> seen_events, seen_deploys;
  std::string skip;  // why the tests cannot run here
};
World* world = nullptr;

class HealthVerifierIT : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    world = new World;
    World& w = *world;
    if (!std::filesystem::exists(kPrometheusBinary)) {
      w.skip = std::string(kPrometheusBinary) + " missing (apt-get install prometheus; scripts/setup does)";
      return;
    }
    w.dir = temp_dir("health-verifier-it");
    w.prefix = "conveyor-it-hv-" + events::new_uuid().substr(0, 8);
    for (const char* suffix : {".stage.verify", ".events", ".dlq", ".stage.deploy"}) {
      create_topic_named(kafka_brokers(), w.prefix + suffix, 1);
    }

    w.target = std::make_unique<Target>();
    const int prom_port = free_port();
    w.prometheus_url = "http://127.0.0.1:" + std::to_string(prom_port);
    write_file(w.dir + "/prometheus.yml",
               "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
               "scrape_configs:\n  - job_name: app\n    static_configs:\n      - targets: ['127.0.0.1:" +
                   std::to_string(w.target->port()) + "']\n");
    w.prometheus = std::make_unique<ServiceProcess>(
        kPrometheusBinary,
        std::vector<std::string>{"--config.file=" + w.dir + "/prometheus.yml",
                                 "--storage.tsdb.path=" + w.dir + "/tsdb",
                                 "--web.listen-address=127.0.0.1:" + std::to_string(prom_port),
                                 "--log.level=warn"},
        w.dir + "/prometheus.log");
    const auto t0 = std::chrono::steady_clock::now();
    const bool ready = eventually(
        [&] {
          auto r = http::request("GET", w.prometheus_url + "/-/ready", {}, "", 1s);
          return r.ok() && r->status == 200;
        },
        60s);
    ASSERT_TRUE(ready) << "prometheus not ready:\n" << w.prometheus->log();
    // Data to query: two scrapes inside the rate window.
    ASSERT_TRUE(eventually([&] { return query_now(w.prometheus_url, kErrorRatio).has_value(); }, 30s))
        << "no samples scraped:\n" << w.prometheus->log();
    std::cout << "[ prometheus ready with data in "
              << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count()
              << " ms ]\n";

    write_file(w.dir + "/conveyor.yaml", config_yaml(w.prefix));
    w.verifier = std::make_unique<ServiceProcess>(bin_dir() + "/conveyor-health-verifier",
                                                  std::vector<std::string>{"--config", w.dir + "/conveyor.yaml"},
                                                  w.dir + "/verifier.log");
    ASSERT_GT(w.verifier->port("admin_port", 30s), 0);

    bus::ProducerOptions producer_options;
    producer_options.brokers = kafka_brokers();
    auto producer = bus::Producer::create(producer_options);
    ASSERT_TRUE(producer.ok()) << producer.error().message;
    w.producer = std::move(*producer);
    auto events = bus::Reader::open(bus::ReaderOptions{kafka_brokers(), w.prefix + ".events", true});
    ASSERT_TRUE(events.ok()) << events.error().message;
    w.events = std::move(*events);
    auto deploys = bus::Reader::open(bus::ReaderOptions{kafka_brokers(), w.prefix + ".stage.deploy", true});
    ASSERT_TRUE(deploys.ok()) << deploys.error().message;
    w.deploys = std::move(*deploys);
  }

  static void TearDownTestSuite() {
    if (world && world->verifier) {
      // SIGTERM: drain, exit 0.
      world->verifier->kill(SIGTERM);
      const auto code = world->verifier->wait_exit(30s);
      EXPECT_EQ(code.value_or(-1), 0) << world->verifier->log();
    }
    if (world && world->prometheus) {
      world->prometheus->kill(SIGTERM);
      (void)world->prometheus->wait_exit(20s);
    }
    // Logs stay for a post-mortem when something failed.
    if (world && !world->dir.empty() && ::testing::UnitTest::GetInstance()->failed_test_count() == 0) {
      std::error_code ignored;
      std::filesystem::remove_all(world->dir, ignored);
    }
    delete world;
    world = nullptr;
  }

  void SetUp() override {
    if (!world->skip.empty()) GTEST_SKIP() << world->skip;
    ASSERT_TRUE(world->verifier && world->verifier->running()) << "suite setup failed";
    world->target->set_health(Target::Health::up);
    world->target->set_errors_per_scrape(0);
  }

  // Sends a verify request for a fresh run; returns the run id.
  std::string request_verification(const json& settings) {
    events::RunContext run;
    run.run_id = events::new_uuid();
    run.pipeline = "hello";
    run.repository = "Codertocat/Hello-World";
    run.clone_url = "https://github.com/Codertocat/Hello-World.git";
    run.trigger = "push";
    run.ref = "refs/heads/main";
    run.ref_kind = "branch";
    run.ref_name = "main";
    run.sha = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";
    run.traceparent = "00-" + std::string(32, 'a').replace(0, 8, run.run_id.substr(0, 8)) + "-00f067aa0ba902b7-01";
    run.queued_at = events::now_rfc3339();
    run.outputs["deploy"] = {{"environment", "it"}, {"release", "hello"}, {"revision", 2}, {"previous_revision", 1}};
    const auto request = events::first_request(run, {{"verify", settings}});
    auto sent = world->producer->produce_all({events::to_kafka(request, world->prefix)});
    EXPECT_TRUE(sent.ok()) << sent.error().message;
    return run.run_id;
  }

  // The CDEvents of `run_id` seen so far, in order.
  static std::vector<json> cdevents_of(const std::vector<bus::ReadRecord>& recs, const std::string& run_id) {
    std::vector<json> out;
    for (const auto& r : recs) {
      const auto* h = r.record.header("ce_runid");
      if (!h || *h != run_id) continue;
      auto cd = events::cdevent_from_kafka(r.record);
      if (cd) out.push_back(*cd);
    }
    return out;
  }

  static const json* find_type(const std::vector<json>& evs, const std::string& type) {
    for (const auto& e : evs) {
      if (e["context"]["type"] == type) return &e;
    }
    return nullptr;
  }

  // Reads the events topic until the run's pipelinerun.finished arrived.
  std::vector<json> wait_finished(const std::string& run_id, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (find_type(cdevents_of(world->seen_events, run_id), "dev.cdevents.pipelinerun.finished.0.3.0")) break;
      auto next = world->events->next(200ms);
      if (!next) throw std::runtime_error(next.error().message);
      if (*next) world->seen_events.push_back(**next);
    }
    return cdevents_of(world->seen_events, run_id);
  }

  // The rollback request of `run_id` on <prefix>.stage.deploy, if it arrives.
  std::optional<bus::ReadRecord> wait_rollback(const std::string& run_id, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      for (const auto& r : world->seen_deploys) {
        const auto* h = r.record.header("ce_runid");
        if (h && *h == run_id) return r;
      }
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      auto next = world->deploys->next(200ms);
      if (!next) throw std::runtime_error(next.error().message);
      if (*next) world->seen_deploys.push_back(**next);
    }
  }

  // Checks the failure records of `run_id` and prints verdict -> rollback.
  json expect_incident_and_rollback(const std::string& run_id) {
    const auto evs = wait_finished(run_id, 90s);
    const json* finished = find_type(evs, "dev.cdevents.pipelinerun.finished.0.3.0");
    EXPECT_NE(finished, nullptr) << world->verifier->log();
    if (finished) {
      EXPECT_EQ((*finished)["subject"]["content"]["outcome"], "failure");
    }
    const json* incident = find_type(evs, "dev.cdevents.incident.detected.0.3.0");
    EXPECT_NE(incident, nullptr);
    if (!incident) return json();
    const std::string dir = shared_dir() + "/cdevents-v0.5.1/schemas";
    const auto errors = validate(load_json(dir + "/incidentdetected.json"), *incident, dir);
    EXPECT_TRUE(errors.empty()) << ::testing::PrintToString(errors);
    EXPECT_EQ((*incident)["subject"]["content"]["environment"]["id"], "it");
    EXPECT_EQ((*incident)["customData"]["rollback"]["requested"], true);

    const auto rollback = wait_rollback(run_id, 30s);
    EXPECT_TRUE(rollback.has_value()) << "no rollback request on " << world->prefix << ".stage.deploy";
    if (rollback) {
      EXPECT_EQ(rollback->record.topic, world->prefix + ".stage.deploy");
      EXPECT_EQ(rollback->record.key, "Codertocat/Hello-World@it");
      auto request = events::request_from_kafka(rollback->record);
      EXPECT_TRUE(request.ok()) << request.error().message;
      if (request) {
        EXPECT_EQ(request->id, run_id + ":rollback");
        EXPECT_EQ(request->stage, "deploy");
        EXPECT_EQ(request->settings["action"], "rollback");
        EXPECT_EQ(request->settings["previous_revision"], 1);
        EXPECT_TRUE(request->slip.empty());
      }
      // From the failing measurement's answer to the request's record
      // timestamp (librdkafka's CreateTime: when it was handed to the producer).
      const long long detected = epoch_ms_of((*incident)["customData"]["detected_at"].get<std::string>());
      const double in_handler = (*incident)["customData"]["rollback"]["verdict_to_rollback_ms"].get<double>();
      std::cout << "[ verdict -> rollback request handed to the producer: " << (rollback->timestamp_ms - detected)
                << " ms (in the handler: " << in_handler << " ms) ]\n";
      ::testing::Test::RecordProperty("verdict_to_rollback_ms", std::to_string(rollback->timestamp_ms - detected));
    }
    return *incident;
  }
};

TEST_F(HealthVerifierIT, HealthyDeployPasses) {
  ASSERT_TRUE(eventually(
      [] {
        auto v = query_now(world->prometheus_url, kErrorRatio);
        return v && *v <= 0.05;
      },
      30s));
  const auto run_id = request_verification(
      {{"settle", 0},
       {"soak", "2s"},
       {"http", {{{"url", world->target->url("/health")}, {"json-pointer", "/status"}, {"expect", "up"},
                  {"interval", "1s"}, {"retries", 2}}}},
       {"prometheus", {{{"url", world->prometheus_url}, {"query", kErrorRatio}, {"max", 0.05}, {"count", 3},
                        {"interval", "1s"}}}}});
  const auto evs = wait_finished(run_id, 60s);
  const json* finished = find_type(evs, "dev.cdevents.pipelinerun.finished.0.3.0");
  ASSERT_NE(finished, nullptr) << world->verifier->log();
  EXPECT_EQ((*finished)["subject"]["content"]["outcome"], "success");
  EXPECT_EQ(find_type(evs, "dev.cdevents.incident.detected.0.3.0"), nullptr);
  const json* task = find_type(evs, "dev.cdevents.taskrun.finished.0.3.0");
  ASSERT_NE(task, nullptr);
  const auto& checks = (*task)["customData"]["checks"];
  ASSERT_EQ(checks.size(), 2u);
  EXPECT_EQ(checks[0]["result"], "passed");
  EXPECT_GE(checks[0]["probes"].get<int>(), 2) << "soak probes";
  EXPECT_EQ(checks[1]["query"], kErrorRatio);
  EXPECT_EQ(checks[1]["measured"], 3);
  EXPECT_EQ(checks[1]["measurements"][0]["values"][0]["value"], 0.0) << "real PromQL over the scraped counters";
  EXPECT_FALSE(wait_rollback(run_id, 1s).has_value());
}

TEST_F(HealthVerifierIT, ErrorRateAboveThresholdRollsBack) {
  // The canary starts answering 5xx: the ratio climbs in Prometheus.
  world->target->set_errors_per_scrape(30);
  ASSERT_TRUE(eventually(
      [] {
        auto v = query_now(world->prometheus_url, kErrorRatio);
        return v && *v > 0.05;
      },
      30s));
  const auto run_id = request_verification(
      {{"settle", 0},
       {"soak", 0},
       {"http", {{{"url", world->target->url("/health")}}}},
       {"prometheus", {{{"url", world->prometheus_url}, {"query", kErrorRatio}, {"max", 0.05}, {"count", 3},
                        {"interval", "1s"}}}}});
  const auto incident = expect_incident_and_rollback(run_id);
  ASSERT_TRUE(incident.is_object());
  const auto& check = incident["customData"]["check"];
  EXPECT_EQ(check["kind"], "prometheus");
  EXPECT_EQ(check["query"], kErrorRatio);
  EXPECT_EQ(check["measurements"][0]["phase"], "failed");
  EXPECT_GT(check["measurements"][0]["values"][0]["value"].get<double>(), 0.05) << "the measured value";
}

TEST_F(HealthVerifierIT, LateUnhealthyAnswerDuringSoakRollsBack) {
  const long before = world->target->health_probes();
  const auto run_id = request_verification(
      {{"settle", 0},
       {"soak", "60s"},
       {"http", {{{"url", world->target->url("/health")}, {"json-pointer", "/status"}, {"expect", "up"},
                  {"interval", "1s"}, {"retries", 1}}}}});
  // Passes at first; then the service still answers 200, but says it is down.
  ASSERT_TRUE(eventually([&] { return world->target->health_probes() >= before + 2; }, 30s));
  world->target->set_health(Target::Health::down_json);
  const auto incident = expect_incident_and_rollback(run_id);
  ASSERT_TRUE(incident.is_object());
  const auto& check = incident["customData"]["check"];
  EXPECT_EQ(check["kind"], "http");
  EXPECT_EQ(check["result"], "failed");
  const auto& recent = check["recent"];
  ASSERT_FALSE(recent.empty());
  EXPECT_EQ(recent.back()["status"], 200);
  EXPECT_EQ(recent.back()["value"], "down");
}

TEST_F(HealthVerifierIT, PrometheusUnreachableFailsAsConfigured) {
  // No rollback asked for: the incident only, and the run fails.
  const auto run_id = request_verification(
      {{"settle", 0},
       {"on-failure", "none"},
       {"prometheus", {{{"url", "http://127.0.0.1:" + std::to_string(free_port())}, {"query", "up"}}}}});
  const auto evs = wait_finished(run_id, 60s);
  const json* finished = find_type(evs, "dev.cdevents.pipelinerun.finished.0.3.0");
  ASSERT_NE(finished, nullptr) << world->verifier->log();
  EXPECT_EQ((*finished)["subject"]["content"]["outcome"], "failure");
  const json* incident = find_type(evs, "dev.cdevents.incident.detected.0.3.0");
  ASSERT_NE(incident, nullptr);
  EXPECT_EQ((*incident)["customData"]["check"]["measurements"][0]["phase"], "error");
  EXPECT_EQ((*incident)["customData"]["rollback"]["requested"], false);
  EXPECT_FALSE(wait_rollback(run_id, 2s).has_value());
}

}  // namespace
}  // namespace conveyor::testing
