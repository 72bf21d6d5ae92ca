#include "app.hpp"

#include <prometheus/counter.h>

#include <atomic>
#include <mutex>

#include "conveyor/bus/stop_signals.hpp"
#include "conveyor/bus/worker.hpp"
#include "conveyor/events/cdevents.hpp"
#include "conveyor/store/redis.hpp"
#include "conveyor/webclient/webclient.hpp"
#include "handler.hpp"
#include "provider.hpp"

namespace conveyor::notifier {
namespace {

// Events handled at once (distinct partitions, i.e. repositories).
constexpr int kConcurrency = 4;
// How long a sent notification is remembered: longer than any redelivery
// (the stage runtime keeps outcomes as long).
constexpr std::chrono::seconds kSentTtl{14 * 24 * 3600};
// How long a run's GitHub deployment id is kept: runs last minutes, hours at most.
constexpr std::chrono::seconds kDeploymentTtl{7 * 24 * 3600};
constexpr const char* kKeyPrefix = "conveyor:notifier:";

// Sent-once records: "conveyor:notifier:sent:<route key>:<event id>".
class RedisSentLog final : public SentLog {
 public:
  explicit RedisSentLog(std::shared_ptr<store::Redis> redis) : redis_(std::move(redis)) {}
  Result<bool> was_sent(const std::string& key) override {
    const std::string k = kKeyPrefix + std::string("sent:") + key;
    auto reply = redis_->command({"EXISTS", k});
    if (!reply) return std::move(reply).error();
    return reply->integer > 0;
  }
  Result<void> mark_sent(const std::string& key) override {
    const std::string k = kKeyPrefix + std::string("sent:") + key;
    const std::string ttl = std::to_string(kSentTtl.count());
    auto reply = redis_->command({"SET", k, "1", "NX", "EX", ttl});
    if (!reply) return std::move(reply).error();
    return {};
  }

 private:
  std::shared_ptr<store::Redis> redis_;
};

// GitHub deployment ids: "conveyor:notifier:deployment:<repository>:<run id>:<environment>".
class RedisDeploymentIds final : public DeploymentIds {
 public:
  explicit RedisDeploymentIds(std::shared_ptr<store::Redis> redis) : redis_(std::move(redis)) {}
  Result<std::optional<std::string>> find(const std::string& key) override {
    auto reply = redis_->command({"GET", kKeyPrefix + std::string("deployment:") + key});
    if (!reply) return std::move(reply).error();
    if (reply->is_nil()) return std::optional<std::string>();
    return std::optional<std::string>(reply->str);
  }
  Result<void> save(const std::string& key, const std::string& id) override {
    const std::string ttl = std::to_string(kDeploymentTtl.count());
    auto reply = redis_->command({"SET", kKeyPrefix + std::string("deployment:") + key, id, "EX", ttl});
    if (!reply) return std::move(reply).error();
    return {};
  }

 private:
  std::shared_ptr<store::Redis> redis_;
};

struct Metrics {
  prometheus::Family<prometheus::Counter>& notifications;
  prometheus::Family<prometheus::Counter>& failures;
  prometheus::Family<prometheus::Counter>& events;

  explicit Metrics(prometheus::Registry& r)
      : notifications(prometheus::BuildCounter()
                          .Name("conveyor_notifier_notifications_total")
                          .Help("Planned notifications by provider and outcome (sent, duplicate, failed)")
                          .Register(r)),
        failures(prometheus::BuildCounter()
                     .Name("conveyor_notifier_failures_total")
                     .Help("Notifications given up after the client's retries (dead-lettered), by provider")
                     .Register(r)),
        events(prometheus::BuildCounter()
                   .Name("conveyor_notifier_events_total")
                   .Help("Events read, by whether any route selected them (notified, ignored)")
                   .Register(r)) {}
};

const char* outcome_name(RouteResult::Outcome o) {
  switch (o) {
    case RouteResult::Outcome::sent: return "sent";
    case RouteResult::Outcome::duplicate: return "duplicate";
    case RouteResult::Outcome::failed: return "failed";
  }
  return "failed";
}

}  // namespace

int run(runtime::Service& service) {
  auto& log = service.logger;
  const auto& cfg = service.config;

  std::atomic<bool> stopping{false};
  std::mutex worker_mu;
  bus::Worker* running_worker = nullptr;
  bus::on_stop_signal([&] {
    stopping = true;
    std::lock_guard lock(worker_mu);
    if (running_worker) running_worker->stop();
  });

  // Every route's secrets are read now: a missing one stops the start, not a send.
  const std::vector<Route> routes = routes_of(cfg.pipelines);
  std::vector<ProviderSettings> settings;
  webclient::Options client_options;
  client_options.cancel = &stopping;
  for (const auto& route : routes) {
    auto s = resolve_settings(route, cfg.github, [](const config::SecretRef& ref) { return ref.resolve(); });
    if (!s) {
      log.error("cannot resolve a notification route", {{"route", route.name}, {"error", s.error().message}});
      return 2;
    }
    for (auto& secret : secrets_of(*s, route)) client_options.secrets.push_back(std::move(secret));
    settings.push_back(std::move(*s));
  }
  const webclient::Client client(std::move(client_options));

  auto producer = runtime::make_producer(service);
  if (!producer) {
    log.error("kafka producer", {{"error", producer.error().message}});
    return 1;
  }
  auto redis = runtime::connect_redis(service, kConcurrency + 1);
  if (!redis) {
    log.error("redis", {{"error", redis.error().message}});
    return 1;
  }
  RedisSentLog sent(*redis);
  RedisDeploymentIds deployment_ids(*redis);

  std::vector<std::unique_ptr<Provider>> owned;
  std::map<std::string, Provider*> providers;
  for (std::size_t i = 0; i < routes.size(); ++i) {
    if (providers.count(routes[i].key)) continue;  // an identical route: one provider, one notification
    auto p = make_provider(settings[i], client, &deployment_ids);
    if (!p) {
      log.error("cannot set up a notification route", {{"route", routes[i].name}, {"error", p.error().message}});
      return 2;
    }
    providers[routes[i].key] = p->get();
    owned.push_back(std::move(*p));
    log.info("route", {{"route", routes[i].name}, {"provider", routes[i].provider}, {"key", routes[i].key}});
  }

  Metrics metrics(*service.metrics);
  const Dispatcher dispatcher(routes, providers, sent, cfg.kafka.topic_prefix + ".dlq", [&] { return stopping.load(); });

  bus::WorkerOptions options;
  options.brokers = cfg.kafka.brokers;
  options.group_id = "conveyor-" + service.name;
  options.topics = {events::events_topic(cfg.kafka.topic_prefix)};
  options.dlq_topic = cfg.kafka.topic_prefix + ".dlq";
  options.concurrency = kConcurrency;
  options.max_attempts = cfg.kafka.max_attempts;
  options.max_poll_interval = cfg.kafka.max_poll_interval;
  auto worker = bus::Worker::create(options, **producer, [&](const events::KafkaRecord& record) -> Result<bus::Outcome> {
    auto report = dispatcher.handle(record);
    if (!report) return std::move(report).error();
    metrics.events.Add({{"result", report->selected ? "notified" : "ignored"}}).Increment();
    for (const auto& r : report->routes) {
      metrics.notifications.Add({{"provider", r.provider}, {"outcome", outcome_name(r.outcome)}}).Increment();
      if (r.outcome == RouteResult::Outcome::failed) {
        metrics.failures.Add({{"provider", r.provider}}).Increment();
        log.error("notification failed; dead-lettered", {{"route", r.route},
                                                          {"provider", r.provider},
                                                          {"event_id", report->event_id},
                                                          {"run_id", report->run_id},
                                                          {"error", r.error}});
      } else {
        log.info(r.outcome == RouteResult::Outcome::sent ? "notification sent" : "notification already sent",
                 {{"route", r.route},
                  {"provider", r.provider},
                  {"event_id", report->event_id},
                  {"event_type", report->event_type},
                  {"run_id", report->run_id}});
        if (!r.error.empty()) log.warn("notification record", {{"route", r.route}, {"error", r.error}});
      }
    }
    return bus::Outcome{std::move(report->dead_letters)};
  });
  if (!worker) {
    log.error("kafka consumer", {{"error", worker.error().message}});
    return 1;
  }
  bus::Worker& w = **worker;
  {
    std::lock_guard lock(worker_mu);
    running_worker = &w;
    if (stopping) w.stop();
  }

  bus::Producer& kafka = **producer;
  auto admin = runtime::start_admin(service, runtime::dependency_checks(kafka, *redis));
  if (!admin) {
    log.error("cannot start admin endpoint", {{"error", admin.error().message}});
    return 1;
  }
  log.info("listening", {{"admin_port", std::to_string((*admin)->port())},
                         {"topic", options.topics[0]},
                         {"group", options.group_id},
                         {"routes", std::to_string(routes.size())}});
  auto ran = w.run();
  {
    std::lock_guard lock(worker_mu);
    running_worker = nullptr;
  }
  (void)kafka.flush(std::chrono::seconds(10));
  (*admin)->stop();
  if (!ran) {
    log.error("worker stopped", {{"error", ran.error().message}});
    return 1;
  }
  log.info("stopped");
  return 0;
}

}  // namespace conveyor::notifier
