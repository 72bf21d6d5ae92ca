// conveyor-webhook against the real Kafka broker and Redis started by
// scripts/test: deliveries over HTTP, what reaches the topics, dedupe,
// signature failures, broker outage, kill -9, SIGTERM.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <set>
#include <fstream>
#include <thread>

#include "conveyor/events/cloudevent.hpp"
#include "conveyor/events/run.hpp"
#include "conveyor/github/signature.hpp"
#include "conveyor/http/client.hpp"
#include "fixtures.hpp"
#include "kafka_admin.hpp"
#include "kafka_records.hpp"
#include "schema_validation.hpp"
#include "service_process.hpp"

namespace conveyor::testing {
namespace {

using namespace std::chrono_literals;

const std::string kSecret = "it-secret-value-never-logged";

// Topics of this test process only: the shared cluster may run a whole
// suite on the conveyor.* topics (a demo), whose test-runner would consume
// our stage requests and add events of our runs.
const std::string& topic_prefix() {
  static const std::string prefix = [] {
    std::string p = "conveyor-it-wh-" + events::new_uuid().substr(0, 8);
    for (const char* suffix : {".events", ".stage.test"}) create_topic_named(kafka_brokers(), p + suffix, 3);
    return p;
  }();
  return prefix;
}

std::string config_yaml() {
  return "kafka:\n  brokers: " + kafka_brokers() + "\n  topic-prefix: " + topic_prefix() +
         "\n"
         "redis:\n  url: " +
         redis_url() +
         "\n"
         "webhook:\n  listen: 127.0.0.1:0\n  secrets:\n    - env: IT_WEBHOOK_SECRET\n  max-body-bytes: 26214400\n"
         "admin:\n  listen: 127.0.0.1:0\n"
         "pipelines:\n"
         "  - name: hello\n"
         "    repository: Codertocat/Hello-World\n"
         "    clone-url: file:///srv/git/hello.git\n"
         "    triggers:\n      push: { branches: [master] }\n"
         "    test:\n      steps:\n        - { name: unit, run: make test }\n"
         "    version: { tag-prefix: v }\n";
}

class WebhookService {
 public:
  explicit WebhookService(const std::string& dir) : dir_(dir) {
    write_file(dir + "/conveyor.yaml", config_yaml());
    start();
  }
  void start() {
    process_ = std::make_unique<ServiceProcess>(bin_dir() + "/conveyor-webhook",
                                                std::vector<std::string>{"--config", dir_ + "/conveyor.yaml"},
                                                dir_ + "/webhook-" + std::to_string(++starts_) + ".log",
                                                std::map<std::string, std::string>{{"IT_WEBHOOK_SECRET", kSecret}});
    port_ = process_->port("webhook_port");
    admin_port_ = process_->port("admin_port");
  }
  ServiceProcess& process() { return *process_; }
  int port() const { return port_; }
  std::string url(const std::string& path = "/webhooks/github") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::string admin_url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(admin_port_) + path;
  }

 private:
  std::string dir_;
  std::unique_ptr<ServiceProcess> process_;
  int port_ = 0, admin_port_ = 0, starts_ = 0;
};

Result<http::ClientResponse> deliver(const std::string& url, const std::string& event, const std::string& body,
                                     const std::string& delivery, const std::string& secret = kSecret,
                                     std::chrono::milliseconds timeout = 15s) {
  http::Headers h;
  h["Content-Type"] = "application/json";
  h["X-GitHub-Event"] = event;
  h["X-GitHub-Delivery"] = delivery;
  h["X-Hub-Signature-256"] = github::signature_header(secret, body);
  return http::request("POST", url, h, body, timeout);
}

// Records in `recs` that belong to `run_id` (by the runid extension header).
std::vector<events::KafkaRecord> of_run(const std::vector<events::KafkaRecord>& recs, const std::string& run_id) {
  std::vector<events::KafkaRecord> out;
  for (const auto& r : recs) {
    const auto* h = r.header("ce_runid");
    if (h && *h == run_id) out.push_back(r);
  }
  return out;
}

class WebhookIT : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_dir("webhook-it");
    service_ = std::make_unique<WebhookService>(dir_);
    events_ = reader_at_end(kafka_brokers(), topic_prefix() + ".events");
    requests_ = reader_at_end(kafka_brokers(), topic_prefix() + ".stage.test");
  }

  // Sends a fresh marker delivery and waits until its records arrive. As all
  // records of one repository share a partition, anything published before it
  // has arrived by then too.
  void flush_with_marker() {
    const auto body = fixture("push/with-new-branch.payload.json");
    const auto r = deliver(service_->url(), "push", body, events::new_uuid());
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, 202) << r->body;
    const std::string run = nlohmann::json::parse(r->body)["run_id"];
    ASSERT_TRUE(collect_until(*events_, seen_events_, [&](auto& v) { return !of_run(v, run).empty(); }, 20s));
    ASSERT_TRUE(collect_until(*requests_, seen_requests_, [&](auto& v) { return !of_run(v, run).empty(); }, 20s));
  }

  std::string dir_;
  std::unique_ptr<WebhookService> service_;
  std::unique_ptr<bus::Reader> events_, requests_;
  std::vector<events::KafkaRecord> seen_events_, seen_requests_;
};

TEST_F(WebhookIT, SignedPushYieldsOneQueuedEventAndOneStageRequest) {
  const auto body = fixture("push/with-new-branch.payload.json");
  const auto r = deliver(service_->url(), "push", body, events::new_uuid());
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->status, 202) << r->body;
  const std::string run = nlohmann::json::parse(r->body)["run_id"];

  flush_with_marker();
  const auto queued = of_run(seen_events_, run);
  const auto requests = of_run(seen_requests_, run);
  ASSERT_EQ(queued.size(), 1u);
  ASSERT_EQ(requests.size(), 1u);

  // The event is a binary-mode CloudEvent holding a valid CDEvent.
  auto ce = events::from_kafka(queued[0]);
  ASSERT_TRUE(ce.ok()) << ce.error().message;
  EXPECT_EQ(ce->type, "dev.cdevents.pipelinerun.queued.0.3.0");
  EXPECT_EQ(queued[0].key, "Codertocat/Hello-World");
  ASSERT_NE(queued[0].header("traceparent") ? queued[0].header("traceparent") : queued[0].header("ce_traceparent"),
            nullptr);
  const auto cdevent = nlohmann::json::parse(ce->data);
  const auto official = nlohmann::json::parse(
      read_file(shared_dir() + "/cdevents-v0.5.1/schemas/pipelinerunqueued.json"));
  const auto errors = validate(official, cdevent, shared_dir() + "/cdevents-v0.5.1/schemas");
  EXPECT_TRUE(errors.empty()) << ::testing::PrintToString(errors);
  const auto ours = nlohmann::json::parse(read_file(source_dir() + "/schemas/events/cdevent-envelope.schema.json"));
  EXPECT_TRUE(validate(ours, cdevent, source_dir() + "/schemas/events").empty());
  EXPECT_EQ(cdevent["context"]["chainId"], run);

  auto request = events::request_from_kafka(requests[0]);
  ASSERT_TRUE(request.ok()) << request.error().message;
  EXPECT_EQ(request->stage, "test");
  EXPECT_EQ(request->run.sha, "6113728f27ae82c7b1a177c8d03f9e96e0adf246");
  const auto request_schema =
      nlohmann::json::parse(read_file(source_dir() + "/schemas/events/stage-request.schema.json"));
  EXPECT_TRUE(validate(request_schema, events::to_json(*request), source_dir() + "/schemas/events").empty());
}

TEST_F(WebhookIT, DuplicateDeliveryPublishesNothingMore) {
  const auto body = fixture("push/with-new-branch.payload.json");
  const std::string id = events::new_uuid();
  const auto first = deliver(service_->url(), "push", body, id);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->status, 202);
  const std::string run = nlohmann::json::parse(first->body)["run_id"];
  for (int i = 0; i < 3; ++i) {
    const auto again = deliver(service_->url(), "push", body, id);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->status, 200) << again->body;
    EXPECT_EQ(nlohmann::json::parse(again->body)["status"], "duplicate");
  }
  flush_with_marker();
  EXPECT_EQ(of_run(seen_events_, run).size(), 1u);
  EXPECT_EQ(of_run(seen_requests_, run).size(), 1u);
}

TEST_F(WebhookIT, BadSignaturePublishesNothing) {
  const auto body = fixture("push/with-new-branch.payload.json");
  const std::string id = events::new_uuid();
  const auto r = deliver(service_->url(), "push", body, id, "not-the-secret");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 401);
  // The same delivery id, correctly signed later, is still processed once.
  flush_with_marker();
  const size_t events_before = seen_events_.size();
  const auto good = deliver(service_->url(), "push", body, id);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(good->status, 202) << good->body;
  flush_with_marker();
  EXPECT_EQ(seen_events_.size(), events_before + 2);  // the good delivery + the marker
  // The secret never reaches the log.
  EXPECT_EQ(service_->process().log().find(kSecret), std::string::npos);
}

// Sends only a request head over a raw socket and returns what the server
// answers (up to `timeout`), without ever sending the announced body.
std::string send_head_only(int port, const std::string& head, std::chrono::milliseconds timeout) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "";
  }
  timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  (void)!::write(fd, head.data(), head.size());
  std::string answer;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    answer.append(buf, static_cast<size_t>(n));
    if (answer.find("\r\n\r\n") != std::string::npos) break;
  }
  ::close(fd);
  return answer;
}

TEST_F(WebhookIT, OversizeBodyIs413AndMalformedIs400) {
  // 26 MiB announced, nothing sent: the answer must come without the body.
  const std::string head =
      "POST /webhooks/github HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
      "X-GitHub-Event: push\r\nX-GitHub-Delivery: " + events::new_uuid() +
      "\r\nX-Hub-Signature-256: sha256=" + std::string(64, '0') + "\r\nContent-Length: " +
      std::to_string(26u << 20) + "\r\n\r\n";
  const std::string answer = send_head_only(service_->port(), head, 5s);
  EXPECT_EQ(answer.rfind("HTTP/1.1 413", 0), 0u) << answer;
  const auto bad = deliver(service_->url(), "push", "{not json", events::new_uuid());
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->status, 400);
  const auto ping = deliver(service_->url(), "ping", fixture("ping/payload.json"), events::new_uuid());
  ASSERT_TRUE(ping.ok());
  EXPECT_EQ(ping->status, 200);
}

TEST_F(WebhookIT, AdminEndpoints) {
  const auto ready = http::request("GET", service_->admin_url("/readyz"), {}, "");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->status, 200) << ready->body;
  const auto health = http::request("GET", service_->admin_url("/healthz"), {}, "");
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->status, 200);
  flush_with_marker();
  const auto metrics = http::request("GET", service_->admin_url("/metrics"), {}, "");
  ASSERT_TRUE(metrics.ok());
  EXPECT_NE(metrics->body.find("conveyor_webhook_deliveries_total{outcome=\"started\"}"), std::string::npos)
      << metrics->body;
}

// The broker's pid from scripts/infra's state dir (0 when Kafka was not started by it).
pid_t kafka_pid() {
  const std::string state = env_or("CONVEYOR_STATE", env_or("HOME", "/root") + "/.local/state/conveyor");
  std::ifstream in(state + "/run/kafka.pid");
  pid_t pid = 0;
  in >> pid;
  return pid;
}

TEST_F(WebhookIT, BrokerOutageAnswers503AndLosesNothing) {
  const pid_t broker = kafka_pid();
  if (broker <= 0) GTEST_SKIP() << "Kafka not started by scripts/infra; cannot pause it";
  const auto body = fixture("push/with-new-branch.payload.json");
  const std::string id = events::new_uuid();
  // A hung broker: paused, so nothing acknowledges the records.
  ASSERT_EQ(::kill(broker, SIGSTOP), 0);
  const auto during = deliver(service_->url(), "push", body, id, kSecret, 30s);
  ASSERT_EQ(::kill(broker, SIGCONT), 0);
  ASSERT_TRUE(during.ok()) << during.error().message;
  EXPECT_EQ(during->status, 503) << during->body;

  // Back again: the same delivery (GitHub's redelivery) now starts its run.
  http::Headers none;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  int status = 0;
  std::string answer;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto retry = deliver(service_->url(), "push", body, id, kSecret, 30s);
    ASSERT_TRUE(retry.ok());
    status = retry->status;
    answer = retry->body;
    if (status == 202 || status == 200) break;
  }
  ASSERT_TRUE(status == 202 || status == 200) << status << " " << answer;
  const std::string run = nlohmann::json::parse(answer).value("run_id", "");
  if (status == 202) {
    ASSERT_TRUE(collect_until(*events_, seen_events_, [&](auto& v) { return !of_run(v, run).empty(); }, 30s));
  }
}

TEST_F(WebhookIT, Kill9LosesNoAcknowledgedDelivery) {
  const auto body = fixture("push/with-new-branch.payload.json");
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<std::string> acknowledged;
  std::vector<std::thread> senders;
  for (int t = 0; t < 4; ++t) {
    senders.emplace_back([&] {
      while (!stop) {
        const auto r = deliver(service_->url(), "push", body, events::new_uuid(), kSecret, 10s);
        if (r.ok() && r->status == 202) {
          std::lock_guard lock(mu);
          acknowledged.push_back(nlohmann::json::parse(r->body)["run_id"]);
        }
      }
    });
  }
  // Kill once a few deliveries have been acknowledged.
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(mu);
      if (acknowledged.size() >= 20) break;
    }
    std::this_thread::sleep_for(5ms);
  }
  service_->process().kill(SIGKILL);
  stop = true;
  for (auto& t : senders) t.join();
  ASSERT_GE(acknowledged.size(), 20u);

  // Every acknowledged run is in Kafka: both its event and its request.
  std::set<std::string> want(acknowledged.begin(), acknowledged.end());
  auto all_seen = [&](const std::vector<events::KafkaRecord>& v) {
    std::set<std::string> got;
    for (const auto& r : v) {
      const auto* h = r.header("ce_runid");
      if (h && want.count(*h)) got.insert(*h);
    }
    return got.size() == want.size();
  };
  EXPECT_TRUE(collect_until(*events_, seen_events_, all_seen, 30s));
  EXPECT_TRUE(collect_until(*requests_, seen_requests_, all_seen, 30s));

  // And a restarted service carries on.
  service_->start();
  flush_with_marker();
}

TEST_F(WebhookIT, SigtermExitsZero) {
  flush_with_marker();
  service_->process().kill(SIGTERM);
  const auto code = service_->process().wait_exit(20s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << service_->process().log();
}

TEST(WebhookConfig, BadConfigIsRefusedWithKeyPath) {
  const auto dir = temp_dir("webhook-badcfg");
  write_file(dir + "/conveyor.yaml", "kafka: { brokers: 1 }\npipelines:\n  - name: x\n    repository: a/b\n    bogus: 1\n");
  ServiceProcess p(bin_dir() + "/conveyor-webhook", {"--config", dir + "/conveyor.yaml"}, dir + "/log");
  const auto code = p.wait_exit(20s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 2);
  EXPECT_NE(p.log().find("pipelines[0]"), std::string::npos) << p.log();
  ServiceProcess check(bin_dir() + "/conveyor-webhook", {"--check-config", "--config", dir + "/conveyor.yaml"},
                       dir + "/log2");
  EXPECT_EQ(check.wait_exit(20s).value_or(-1), 2);
}

}  // namespace
}  // namespace conveyor::testing
