#include "conveyor/stage/stage.hpp"

#include <openssl/evp.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "conveyor/bus/producer.hpp"
#include "conveyor/bus/stop_signals.hpp"
#include "conveyor/events/cdevents.hpp"

namespace conveyor::stage {
namespace {

// How long a finished request's outcome is remembered for redeliveries.
constexpr std::chrono::seconds kOutcomeTtl{14 * 24 * 3600};

// Values are JSON text in practice; anything else (invalid UTF-8) is stored
// base64-encoded so the record survives byte for byte.
bool is_json_string_safe(const std::string& s) {
  try {
    (void)nlohmann::json(s).dump();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

std::string base64(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

Result<std::string> unbase64(const std::string& in) {
  std::string out(3 * in.size() / 4 + 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  if (n < 0) return make_error(Errc::invalid_argument, "recorded outcome: bad base64");
  size_t pad = 0;
  if (!in.empty() && in.back() == '=') pad = (in.size() > 1 && in[in.size() - 2] == '=') ? 2 : 1;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

const char* finished_outcome(StageResult::Status status) {
  return status == StageResult::Status::failed ? "failure" : "success";
}

}  // namespace

bool is_rollback(const events::StageRequest& request) {
  return request.settings.is_object() && request.settings.value("action", "") == "rollback";
}

std::vector<events::KafkaRecord> outcome_records(const events::StageRequest& request, const StageResult& result,
                                                 const std::string& source, const std::string& topic_prefix) {
  std::vector<events::KafkaRecord> records;
  for (const auto& cdevent : result.cdevents) {
    records.push_back(events::cdevent_record(cdevent, request.run, topic_prefix));
  }
  records.insert(records.end(), result.extra_records.begin(), result.extra_records.end());
  // A rollback request (from the verifier or `conveyor rollback`) acts on a
  // run that already finished; it neither continues nor finishes it again.
  if (is_rollback(request)) return records;
  if (result.status == StageResult::Status::succeeded) {
    auto next = events::next_request(request, result.outputs);
    if (next) {
      records.push_back(events::to_kafka(*next, topic_prefix));
      return records;
    }
  }
  // The run ends here: failed, stopped, or this was the last stage.
  events::RunContext run = request.run;
  run.outputs[request.stage] = result.outputs;
  auto finished = events::pipelinerun_finished(run, source, finished_outcome(result.status), result.reason);
  // Deterministic: a re-published outcome repeats the same event id.
  finished["context"]["id"] = request.run.run_id + ":finished";
  records.push_back(events::cdevent_record(finished, run, topic_prefix));
  return records;
}

std::string encode_records(const std::vector<events::KafkaRecord>& records) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : records) {
    nlohmann::json headers = nlohmann::json::array();
    for (const auto& [k, v] : r.headers) headers.push_back({k, v});
    nlohmann::json rec = {{"topic", r.topic}, {"key", r.key}, {"headers", headers}};
    if (is_json_string_safe(r.value)) {
      rec["value"] = r.value;
    } else {
      rec["value_base64"] = base64(r.value);
    }
    out.push_back(std::move(rec));
  }
  return out.dump();
}

Result<std::vector<events::KafkaRecord>> decode_records(const std::string& text) {
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_array()) return make_error(Errc::invalid_argument, "recorded outcome is not a JSON array");
  std::vector<events::KafkaRecord> out;
  try {
    for (const auto& r : j) {
      events::KafkaRecord rec;
      rec.topic = r.at("topic").get<std::string>();
      rec.key = r.at("key").get<std::string>();
      if (r.contains("value_base64")) {
        auto v = unbase64(r.at("value_base64").get<std::string>());
        if (!v) return std::move(v).error();
        rec.value = std::move(*v);
      } else {
        rec.value = r.at("value").get<std::string>();
      }
      for (const auto& h : r.at("headers")) rec.headers.emplace_back(h.at(0).get<std::string>(), h.at(1).get<std::string>());
      out.push_back(std::move(rec));
    }
  } catch (const nlohmann::json::exception& e) {
    return make_error(Errc::invalid_argument, std::string("recorded outcome malformed: ") + e.what());
  }
  return out;
}

bus::MessageHandler make_message_handler(const std::string& stage, const std::string& source, Handler handler,
                                         store::OutcomeStore& outcomes, bus::Producer& producer,
                                         const std::string& topic_prefix) {
  return [=, &outcomes, &producer](const events::KafkaRecord& message) -> Result<bus::Outcome> {
    auto request = events::request_from_kafka(message);
    if (!request) return make_error(Errc::invalid_argument, "malformed stage request: " + request.error().message);
    if (request->stage != stage) {
      return make_error(Errc::invalid_argument, "request for stage '" + request->stage + "' on the " + stage + " topic");
    }
    // Redelivery of a finished request: publish what it produced, do nothing else.
    auto recorded = outcomes.find(request->id);
    if (!recorded) return std::move(recorded).error();
    if (recorded->has_value()) {
      auto records = decode_records(**recorded);
      if (records) return bus::Outcome{std::move(*records)};
    }

    const events::RunContext& run = request->run;
    Publish publish = [&producer, &run, topic_prefix](const nlohmann::json& cdevent) -> Result<void> {
      return producer.produce_all({events::cdevent_record(cdevent, run, topic_prefix)});
    };
    // The first stage of a run announces that the run started.
    if (request->run.outputs.empty()) {
      auto started = events::pipelinerun_started(run, source);
      started["context"]["id"] = run.run_id + ":started";
      if (auto ok = publish(started); !ok) return std::move(ok).error();
    }
    auto result = handler(*request, publish);
    if (!result) return std::move(result).error();
    auto records = outcome_records(*request, *result, source, topic_prefix);
    if (auto saved = outcomes.save(request->id, encode_records(records), kOutcomeTtl); !saved) {
      return std::move(saved).error();
    }
    return bus::Outcome{std::move(records)};
  };
}

int run(runtime::Service& service, const StageServiceOptions& options, Handler handler) {
  auto& log = service.logger;
  const auto& cfg = service.config;

  auto producer = runtime::make_producer(service);
  if (!producer) {
    log.error("kafka producer", {{"error", producer.error().message}});
    return 1;
  }
  auto redis = runtime::connect_redis(service, options.concurrency + 1);
  if (!redis) {
    log.error("redis", {{"error", redis.error().message}});
    return 1;
  }
  store::OutcomeStore outcomes(*redis);

  bus::WorkerOptions worker_options;
  worker_options.brokers = cfg.kafka.brokers;
  // One group per service; a non-default topic prefix (another suite on the
  // same cluster, or a test) gets its own group too.
  worker_options.group_id = cfg.kafka.topic_prefix == "conveyor" ? "conveyor-" + service.name
                                                                   : cfg.kafka.topic_prefix + "-" + service.name;
  worker_options.topics = {events::stage_topic(options.stage, cfg.kafka.topic_prefix)};
  worker_options.dlq_topic = cfg.kafka.topic_prefix + ".dlq";
  worker_options.concurrency = options.concurrency;
  worker_options.max_attempts = cfg.kafka.max_attempts;
  worker_options.max_poll_interval = cfg.kafka.max_poll_interval;
  const std::string source = "/conveyor/" + service.name;
  auto worker = bus::Worker::create(
      worker_options, **producer,
      make_message_handler(options.stage, source, std::move(handler), outcomes, **producer, cfg.kafka.topic_prefix));
  if (!worker) {
    log.error("kafka consumer", {{"error", worker.error().message}});
    return 1;
  }
  bus::Worker& w = **worker;
  bus::on_stop_signal([&w] { w.stop(); });

  bus::Producer& kafka = **producer;
  auto admin = runtime::start_admin(service, runtime::dependency_checks(kafka, *redis));
  if (!admin) {
    log.error("cannot start admin endpoint", {{"error", admin.error().message}});
    return 1;
  }
  log.info("listening", {{"admin_port", std::to_string((*admin)->port())},
                         {"topic", worker_options.topics[0]},
                         {"group", worker_options.group_id}});
  auto ran = w.run();
  (void)kafka.flush(std::chrono::seconds(10));
  (*admin)->stop();
  if (!ran) {
    log.error("worker stopped", {{"error", ran.error().message}});
    return 1;
  }
  log.info("stopped");
  return 0;
}

}  // namespace conveyor::stage
