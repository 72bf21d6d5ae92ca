#include "conveyor/bus/producer.hpp"

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "kafka_util.hpp"

namespace conveyor::bus {
namespace {

// Per-record callback carried as the message opaque.
struct Pending {
  DeliveryCallback done;
};

class DeliveryReports : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    std::unique_ptr<Pending> pending(static_cast<Pending*>(message.msg_opaque()));
    if (!pending || !pending->done) return;
    if (message.err() == RdKafka::ERR_NO_ERROR) {
      pending->done({});
    } else {
      const auto code = message.err() == RdKafka::ERR__MSG_TIMED_OUT ? Errc::timeout : Errc::unavailable;
      pending->done(make_error(code, "kafka delivery to " + message.topic_name() + " failed: " +
                                         RdKafka::err2str(message.err())));
    }
  }
};

}  // namespace

struct Producer::Impl {
  DeliveryReports reports;
  std::unique_ptr<RdKafka::Producer> producer;
  std::chrono::milliseconds delivery_timeout{};
  std::atomic<bool> stopping{false};
  std::thread poller;
};

Producer::Producer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Producer::~Producer() {
  if (!impl_) return;
  impl_->producer->flush(static_cast<int>(impl_->delivery_timeout.count()));
  impl_->stopping = true;
  if (impl_->poller.joinable()) impl_->poller.join();
  // Records still queued now are failed by librdkafka on destruction; purge
  // so their callbacks run with an error instead of leaking.
  impl_->producer->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
  impl_->producer->poll(0);
}

Result<std::unique_ptr<Producer>> Producer::create(const ProducerOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->delivery_timeout = options.delivery_timeout;
  std::map<std::string, std::string> props = {
      {"bootstrap.servers", options.brokers},
      {"client.id", options.client_id},
      {"linger.ms", std::to_string(options.linger.count())},
      {"delivery.timeout.ms", std::to_string(options.delivery_timeout.count())},
      // Fail fast when no broker is up, rather than queueing for the whole
      // delivery timeout without a word.
      {"socket.connection.setup.timeout.ms", "5000"},
      {"reconnect.backoff.max.ms", "2000"},
  };
  for (const auto& [k, v] : options.properties) props[k] = v;
  // conveyor's guarantees win over anything passed in.
  props["enable.idempotence"] = "true";
  props["acks"] = "all";

  auto conf = detail::make_conf(props);
  if (!conf) return std::move(conf).error();
  std::string err;
  if ((*conf)->set("dr_cb", &impl->reports, err) != RdKafka::Conf::CONF_OK) {
    return make_error(Errc::internal, "kafka dr_cb: " + err);
  }
  impl->producer.reset(RdKafka::Producer::create(conf->get(), err));
  if (!impl->producer) return make_error(Errc::invalid_argument, "kafka producer: " + err);
  Impl* raw = impl.get();
  impl->poller = std::thread([raw] {
    while (!raw->stopping.load(std::memory_order_relaxed)) raw->producer->poll(50);
  });
  return std::unique_ptr<Producer>(new Producer(std::move(impl)));
}

void Producer::produce(const events::KafkaRecord& record, DeliveryCallback done) {
  RdKafka::Headers* headers = RdKafka::Headers::create();
  for (const auto& [name, value] : record.headers) headers->add(name, value.data(), value.size());
  auto* pending = new Pending{std::move(done)};
  const RdKafka::ErrorCode rc = impl_->producer->produce(
      record.topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
      const_cast<char*>(record.value.data()), record.value.size(), record.key.data(), record.key.size(), 0, headers,
      pending);
  if (rc != RdKafka::ERR_NO_ERROR) {
    delete headers;  // ownership passes to librdkafka only on success
    std::unique_ptr<Pending> owned(pending);
    if (owned->done) {
      owned->done(make_error(Errc::unavailable,
                             "kafka produce to " + record.topic + " refused: " + RdKafka::err2str(rc)));
    }
  }
}

Result<void> Producer::produce_all(const std::vector<events::KafkaRecord>& records) {
  if (records.empty()) return {};
  struct Wait {
    std::mutex mu;
    std::condition_variable cv;
    size_t left;
    std::optional<Error> first_error;
  };
  auto wait = std::make_shared<Wait>();
  wait->left = records.size();
  for (const auto& r : records) {
    produce(r, [wait](Result<void> res) {
      std::lock_guard lock(wait->mu);
      if (!res && !wait->first_error) wait->first_error = res.error();
      if (--wait->left == 0) wait->cv.notify_all();
    });
  }
  std::unique_lock lock(wait->mu);
  // librdkafka reports every record by delivery.timeout.ms; the margin covers
  // the poll interval.
  const bool done = wait->cv.wait_for(lock, impl_->delivery_timeout + std::chrono::seconds(5),
                                      [&] { return wait->left == 0; });
  if (!done) return make_error(Errc::timeout, "kafka delivery reports did not arrive in time");
  if (wait->first_error) return *wait->first_error;
  return {};
}

Result<void> Producer::flush(std::chrono::milliseconds timeout) {
  const auto rc = impl_->producer->flush(static_cast<int>(timeout.count()));
  if (rc != RdKafka::ERR_NO_ERROR) return make_error(Errc::timeout, "kafka flush: " + RdKafka::err2str(rc));
  return {};
}

Result<void> Producer::ping(std::chrono::milliseconds timeout) {
  return detail::ping(*impl_->producer, timeout);
}

}  // namespace conveyor::bus
