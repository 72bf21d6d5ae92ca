#include "conveyor/bus/reader.hpp"

#include <librdkafka/rdkafkacpp.h>

#include <set>

#include "kafka_util.hpp"
#include "conveyor/events/cloudevent.hpp"

namespace conveyor::bus {

struct Reader::Impl {
  std::unique_ptr<RdKafka::KafkaConsumer> consumer;
  std::set<int32_t> pending_eof;  // partitions not yet read to their end
};

Reader::Reader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Reader::~Reader() {
  if (impl_ && impl_->consumer) impl_->consumer->close();
}

Result<std::unique_ptr<Reader>> Reader::open(const ReaderOptions& options) {
  auto conf = detail::make_conf({
      {"bootstrap.servers", options.brokers},
      // A group id is required by the consumer API, but nothing is committed
      // and partitions are assigned by hand, so no group is joined.
      {"group.id", "conveyor-reader-" + events::new_uuid()},
      {"enable.auto.commit", "false"},
      {"enable.partition.eof", "true"},
      {"fetch.wait.max.ms", "10"},
      {"socket.connection.setup.timeout.ms", "5000"},
  });
  if (!conf) return std::move(conf).error();
  std::string err;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf->get(), err));
  if (!consumer) return make_error(Errc::invalid_argument, "kafka consumer: " + err);

  std::unique_ptr<RdKafka::Topic> topic(RdKafka::Topic::create(consumer.get(), options.topic, nullptr, err));
  RdKafka::Metadata* md = nullptr;
  const auto rc = consumer->metadata(false, topic.get(), &md, 5000);
  std::unique_ptr<RdKafka::Metadata> owned(md);
  if (rc != RdKafka::ERR_NO_ERROR || !md || md->topics()->empty()) {
    return make_error(Errc::unavailable, "kafka metadata for " + options.topic + ": " + RdKafka::err2str(rc));
  }
  const auto* tm = md->topics()->at(0);
  if (tm->err() != RdKafka::ERR_NO_ERROR) {
    return make_error(Errc::unavailable, "topic " + options.topic + ": " + RdKafka::err2str(tm->err()));
  }
  auto impl = std::make_unique<Impl>();
  std::vector<RdKafka::TopicPartition*> parts;
  for (const auto* pm : *tm->partitions()) {
    int64_t start = RdKafka::Topic::OFFSET_BEGINNING;
    if (!options.from_beginning) {
      // The end as of now, resolved here rather than at first fetch, so
      // records produced right after open() are never skipped.
      int64_t low = 0, high = 0;
      const auto wrc = consumer->query_watermark_offsets(options.topic, pm->id(), &low, &high, 5000);
      if (wrc != RdKafka::ERR_NO_ERROR) {
        RdKafka::TopicPartition::destroy(parts);
        return make_error(Errc::unavailable, "kafka watermarks of " + options.topic + ": " + RdKafka::err2str(wrc));
      }
      start = high;
    }
    parts.push_back(RdKafka::TopicPartition::create(options.topic, pm->id(), start));
    impl->pending_eof.insert(pm->id());
  }
  const auto arc = consumer->assign(parts);
  RdKafka::TopicPartition::destroy(parts);
  if (arc != RdKafka::ERR_NO_ERROR) return make_error(Errc::unavailable, "kafka assign: " + RdKafka::err2str(arc));
  impl->consumer = std::move(consumer);
  return std::unique_ptr<Reader>(new Reader(std::move(impl)));
}

Result<std::optional<ReadRecord>> Reader::next(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::optional<ReadRecord>{};
    std::unique_ptr<RdKafka::Message> msg(impl_->consumer->consume(static_cast<int>(left.count())));
    if (!msg) continue;
    switch (msg->err()) {
      case RdKafka::ERR_NO_ERROR: {
        ReadRecord r;
        r.record = detail::to_record(*msg);
        r.partition = msg->partition();
        r.offset = msg->offset();
        r.timestamp_ms = msg->timestamp().timestamp;
        return std::optional<ReadRecord>{std::move(r)};
      }
      case RdKafka::ERR__PARTITION_EOF:
        impl_->pending_eof.erase(msg->partition());
        break;
      case RdKafka::ERR__TIMED_OUT:
        return std::optional<ReadRecord>{};
      default:
        return make_error(Errc::unavailable, "kafka read: " + msg->errstr());
    }
  }
}

bool Reader::caught_up() const { return impl_->pending_eof.empty(); }

}  // namespace conveyor::bus
