#include "app.hpp"

#include <prometheus/counter.h>

#include <condition_variable>
#include <mutex>

#include "conveyor/bus/producer.hpp"
#include "conveyor/bus/stop_signals.hpp"
#include "conveyor/store/store.hpp"
#include "handler.hpp"

namespace conveyor::webhook {
namespace {

// How long a claimed-but-unfinished delivery blocks nothing: after this a
// redelivery is treated as new. Longer than the Kafka delivery timeout.
constexpr std::chrono::seconds kPendingTtl{120};
// GitHub gives up on a delivery after 10 s; answer 503 well before that.
constexpr std::chrono::milliseconds kDeliveryTimeout{5000};

struct Metrics {
  prometheus::Family<prometheus::Counter>& deliveries;
  prometheus::Counter& duplicates;
  prometheus::Counter& publish_failures;
  prometheus::Counter& runs_started;

  explicit Metrics(prometheus::Registry& r)
      : deliveries(prometheus::BuildCounter()
                       .Name("conveyor_webhook_deliveries_total")
                       .Help("GitHub deliveries by outcome")
                       .Register(r)),
        duplicates(prometheus::BuildCounter()
                       .Name("conveyor_webhook_duplicates_total")
                       .Help("Redeliveries acknowledged without publishing")
                       .Register(r)
                       .Add({})),
        publish_failures(prometheus::BuildCounter()
                             .Name("conveyor_webhook_publish_failures_total")
                             .Help("Deliveries answered 503 because Kafka or Redis could not take them")
                             .Register(r)
                             .Add({})),
        runs_started(prometheus::BuildCounter()
                         .Name("conveyor_webhook_runs_started_total")
                         .Help("Pipeline runs started")
                         .Register(r)
                         .Add({})) {
    for (const char* o : {"started", "ignored", "skipped", "pong", "bad_request", "unauthorized",
                          "unsupported_media_type"}) {
      outcomes.emplace_back(o, &deliveries.Add({{"outcome", o}}));
    }
  }

  // The counter of a delivery outcome (Verdict::outcome). The known ones are
  // created up front: no label-map lookup under the family's lock per
  // delivery, and each is exported as 0 before its first delivery.
  prometheus::Counter& outcome(const std::string& name) {
    for (const auto& [known, counter] : outcomes) {
      if (known == name) return *counter;
    }
    return deliveries.Add({{"outcome", name}});
  }

  std::vector<std::pair<std::string, prometheus::Counter*>> outcomes;
};

// The webhook's producer. Every delivery waits for its records' acks before
// answering, so the producer sees many tiny concurrent sends: linger.ms=2
// lets one produce request carry the records of all deliveries that arrived
// within 2 ms (at 1 ms librdkafka's broker thread mostly spun waking up, and
// the broker handled one tiny request per record), costing at most 2 ms of
// the 5 ms p99 budget. Nagle is off because librdkafka already batches: a
// request held back for an ACK would only add latency. Batch limits stay at
// librdkafka's defaults (10,000 messages / 1 MB), far above what 2 ms brings.
bus::ProducerOptions producer_options(const runtime::Service& service) {
  bus::ProducerOptions options;
  options.brokers = service.config.kafka.brokers;
  options.client_id = "conveyor-" + service.name;
  options.delivery_timeout = kDeliveryTimeout;
  options.linger = std::chrono::milliseconds(2);
  options.properties["socket.nagle.disable"] = "true";
  return options;
}

http::Response to_response(const Verdict& v) { return http::json_response(v.status, v.body.dump()); }

http::Response unavailable(const std::string& why) {
  return http::json_response(503, nlohmann::json{{"status", "unavailable"}, {"error", why}}.dump());
}

}  // namespace

int run(runtime::Service& service) {
  auto& log = service.logger;
  const auto& cfg = service.config;

  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stop_requested = false;
  bus::on_stop_signal([&] {
    std::lock_guard lock(stop_mu);
    stop_requested = true;
    stop_cv.notify_all();
  });

  auto secrets = runtime::resolve_secrets(cfg.webhook.secrets);
  if (!secrets) {
    log.error("cannot resolve webhook secret", {{"error", secrets.error().message}});
    return 2;
  }
  auto redis = runtime::connect_redis(service, cfg.webhook.threads + 1);
  if (!redis) {
    log.error("redis", {{"error", redis.error().message}});
    return 1;
  }
  // Declared before the producer, so they outlive its last delivery reports.
  store::DeliveryDedupe dedupe(*redis);
  store::CreatedTags created_tags(*redis);
  Metrics metrics(*service.metrics);
  store::PipelinedDeliveryDedupe pipelined(*redis);
  std::optional<Handler> prepared;  // serialises each pipeline's first request once
  try {
    prepared.emplace(cfg.pipelines, std::move(*secrets), cfg.kafka.topic_prefix);
  } catch (const std::exception& e) {
    log.error("cannot prepare the pipelines", {{"error", e.what()}});
    return 2;
  }
  const Handler& handler = *prepared;
  auto producer = bus::Producer::create(producer_options(service));
  if (!producer) {
    log.error("kafka producer", {{"error", producer.error().message}});
    return 1;
  }
  bus::Producer& kafka = **producer;

  auto listen = http::parse_listen(cfg.webhook.listen);
  if (!listen) {
    log.error("webhook.listen", {{"error", listen.error().message}});
    return 2;
  }
  http::ServerOptions options;
  options.host = listen->first;
  options.port = listen->second;
  options.max_body_bytes = cfg.webhook.max_body_bytes;
  options.threads = cfg.webhook.threads;
  http::Server server(options);

  // Publishes every record; answers only when Kafka acknowledged all of them
  // and the delivery is marked done.
  auto publish = [&](std::shared_ptr<Verdict> verdict, http::Reply reply, const std::string& delivery_id) {
    struct Pending {
      std::mutex mu;
      size_t left = 0;
      std::optional<Error> error;
    };
    auto pending = std::make_shared<Pending>();
    pending->left = verdict->records.size();
    const auto ttl = cfg.webhook.dedupe_ttl;
    for (const auto& record : verdict->records) {
      kafka.produce(record, [&, pending, verdict, reply, delivery_id, ttl](Result<void> delivered) {
        std::unique_lock lock(pending->mu);
        if (!delivered && !pending->error) pending->error = delivered.error();
        if (--pending->left != 0) return;
        lock.unlock();
        if (pending->error) {
          metrics.publish_failures.Increment();
          (void)dedupe.release(delivery_id);
          log.warn("publish failed", {{"delivery_id", delivery_id}, {"error", pending->error->message}});
          reply(unavailable("event bus unavailable; retry the delivery"));
          return;
        }
        pipelined.complete(delivery_id, ttl, [&, verdict, reply, delivery_id](Result<void> done) {
          if (!done) {
            // Published but not marked: a redelivery would publish again with
            // the same ids, which downstream idempotency absorbs. Still a success.
            log.warn("dedupe complete failed", {{"delivery_id", delivery_id}, {"error", done.error().message}});
          }
          metrics.runs_started.Increment(static_cast<double>(verdict->run_ids.size()));
          reply(to_response(*verdict));
        });
      });
    }
  };

  server.route("POST", "/webhooks/github", [&](http::Request&& req, http::Reply reply) {
    Delivery d;
    d.event = req.header("X-GitHub-Event");
    d.delivery_id = req.header("X-GitHub-Delivery");
    d.signature = req.header("X-Hub-Signature-256");
    d.content_type = req.header("Content-Type");
    d.body = std::move(req.body);
    auto verdict = std::make_shared<Verdict>(handler.handle(d));
    // A tag the version-tagger pushed: its release run is already under way.
    if (verdict->tag_push && !verdict->records.empty()) {
      const auto& t = *verdict->tag_push;
      auto created = created_tags.was_created(t.repository, t.tag, t.sha);
      if (!created) {
        metrics.publish_failures.Increment();
        log.warn("created-tag lookup unavailable", {{"delivery_id", d.delivery_id}, {"error", created.error().message}});
        reply(unavailable("state store unavailable"));
        return;
      }
      if (*created) *verdict = skip_created_tag();
    }
    metrics.outcome(verdict->outcome).Increment();
    const std::string run_id = verdict->run_ids.empty() ? "" : verdict->run_ids.front();
    log.info("delivery", {{"delivery_id", d.delivery_id},
                          {"event", d.event},
                          {"outcome", verdict->outcome},
                          {"reason", verdict->reason},
                          {"run_id", run_id}});
    if (verdict->records.empty()) {
      reply(to_response(*verdict));
      return;
    }
    // Delivery rules (docs/ARCHITECTURE.md): claim before publishing, mark
    // done only after Kafka acknowledged every record, answer after that; a
    // failed publish releases the claim and answers 503. The Redis steps go
    // through the pipelined dedupe, so neither this I/O thread nor Kafka's
    // delivery-report thread waits for a Redis round trip.
    std::string delivery_id = std::move(d.delivery_id);
    pipelined.claim(delivery_id, kPendingTtl, [&, verdict, reply, delivery_id](Result<store::DeliveryState> claimed) {
      if (!claimed) {
        metrics.publish_failures.Increment();
        log.warn("dedupe unavailable", {{"delivery_id", delivery_id}, {"error", claimed.error().message}});
        reply(unavailable("state store unavailable"));
        return;
      }
      if (*claimed == store::DeliveryState::done) {
        metrics.duplicates.Increment();
        reply(http::json_response(200,
                                  nlohmann::json{{"status", "duplicate"}, {"delivery_id", delivery_id}}.dump()));
        return;
      }
      publish(verdict, reply, delivery_id);
    });
  });
  if (auto ok = server.start(); !ok) {
    log.error("cannot listen", {{"listen", cfg.webhook.listen}, {"error", ok.error().message}});
    return 1;
  }
  auto admin = runtime::start_admin(service, runtime::dependency_checks(kafka, *redis));
  if (!admin) {
    log.error("cannot start admin endpoint", {{"error", admin.error().message}});
    return 1;
  }
  const std::string webhook_addr = options.host + ":" + std::to_string(server.port());
  log.info("listening", {{"webhook", webhook_addr},
                         {"webhook_port", std::to_string(server.port())},
                         {"admin_port", std::to_string((*admin)->port())}});

  {
    std::unique_lock lock(stop_mu);
    stop_cv.wait(lock, [&] { return stop_requested; });
  }
  log.info("stopping: draining in-flight deliveries");
  // Let in-flight deliveries get their Kafka verdict and answer, then close.
  (void)kafka.flush(kDeliveryTimeout);
  server.stop();
  // No request runs now; finish what the dedupe queue and Kafka still hold
  // (claims publish, acknowledged records complete) before anything they
  // reference is destroyed.
  pipelined.drain();
  (void)kafka.flush(kDeliveryTimeout);
  pipelined.drain();
  (*admin)->stop();
  log.info("stopped");
  return 0;
}

}  // namespace conveyor::webhook
