#include "conveyor/bus/worker.hpp"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <deque>
#include <list>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include "conveyor/logging/log.hpp"
#include "kafka_util.hpp"

namespace conveyor::bus {
namespace {

using TopicPartition = std::pair<std::string, int32_t>;

// A job handed to a worker thread: one consumed message.
struct Job {
  TopicPartition tp;
  int64_t offset = 0;
  events::KafkaRecord record;
};

struct Completion {
  TopicPartition tp;
  int64_t offset = 0;
  bool commit = true;  // false: hand the message back (seek to it) instead of committing
};

std::unique_ptr<RdKafka::TopicPartition> make_tp(const TopicPartition& tp, int64_t offset = RdKafka::Topic::OFFSET_INVALID) {
  return std::unique_ptr<RdKafka::TopicPartition>(RdKafka::TopicPartition::create(tp.first, tp.second, offset));
}

// The stop token of the worker thread's Worker (current_stop_token()).
thread_local std::stop_token handler_stop;

}  // namespace

struct Worker::Impl : public RdKafka::RebalanceCb {
  WorkerOptions options;
  Producer* producer = nullptr;
  MessageHandler handler;
  WorkerStats stats;
  log::Logger logger{"bus"};
  std::unique_ptr<RdKafka::KafkaConsumer> consumer;
  // The consumer's queue: a finished handler yields it so the loop's
  // consume() returns at once and resumes the partition (instead of after
  // the poll timeout, which would delay the next message of that partition).
  rd_kafka_queue_t* wake = nullptr;
  std::atomic<bool> stopping{false};
  std::stop_source stop_source;  // requested with `stopping`; handlers see its token

  // Owned by the loop thread.
  std::set<TopicPartition> in_flight;   // partitions with a message being handled (paused)
  std::deque<Job> backlog;              // consumed while at capacity (their partitions paused)
  std::list<std::thread> threads;

  // Shared with worker threads.
  std::mutex mu;
  std::vector<Completion> completions;
  std::vector<std::thread::id> finished_threads;

  // Keeps partitions whose message is in flight paused across rebalances
  // (an eager rebalance re-assigns them, which would resume fetching).
  void rebalance_cb(RdKafka::KafkaConsumer* c, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      c->assign(partitions);
      std::vector<RdKafka::TopicPartition*> keep_paused;
      for (auto* p : partitions) {
        if (in_flight.count({p->topic(), p->partition()}) || stopping) keep_paused.push_back(p);
      }
      if (!keep_paused.empty()) c->pause(keep_paused);
    } else {
      c->unassign();
      // Backlogged messages of revoked partitions belong to the next owner now.
      std::erase_if(backlog, [&](const Job& j) {
        for (auto* p : partitions) {
          if (p->topic() == j.tp.first && p->partition() == j.tp.second) return true;
        }
        return false;
      });
    }
  }

  void pause(const TopicPartition& tp) {
    auto p = make_tp(tp);
    std::vector<RdKafka::TopicPartition*> v{p.get()};
    consumer->pause(v);
  }
  void resume(const TopicPartition& tp) {
    auto p = make_tp(tp);
    std::vector<RdKafka::TopicPartition*> v{p.get()};
    consumer->resume(v);
  }

  // Runs on a worker thread: handler with retries, then outcome or DLQ.
  void work(Job job) {
    Result<Outcome> result = make_error(Errc::internal, "not run");
    int attempt = 0;
    auto backoff = options.retry_backoff;
    for (;;) {
      ++attempt;
      try {
        result = handler(job.record);
      } catch (const std::exception& e) {
        result = make_error(Errc::internal, std::string("handler threw: ") + e.what());
      } catch (...) {
        result = make_error(Errc::internal, "handler threw");
      }
      if (result.ok()) {
        auto produced = producer->produce_all(result->records);
        if (produced.ok()) break;
        result = std::move(produced).error();
      }
      const bool permanent = result.error().code == Errc::invalid_argument;
      if (permanent || attempt >= options.max_attempts || stopping) break;
      stats.retried++;
      logger.warn("handler failed, retrying",
                  {{"topic", job.tp.first}, {"error", result.error().message}, {"attempt", std::to_string(attempt)}});
      std::this_thread::sleep_for(backoff);
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(30));
    }

    bool commit = true;
    if (result.ok()) {
      stats.handled++;
    } else if (stopping && result.error().code != Errc::invalid_argument) {
      // Shutting down (a handler given up because of the stop, or mid-retry):
      // hand the message back (no commit) for redelivery, whatever the
      // attempt count; only malformed input is dead-lettered while stopping.
      commit = false;
    } else {
      commit = dead_letter(job, result.error(), attempt);
    }
    {
      std::lock_guard lock(mu);
      completions.push_back({job.tp, job.offset, commit});
      finished_threads.push_back(std::this_thread::get_id());
    }
    if (wake) rd_kafka_queue_yield(wake);
  }

  // After every worker thread was joined.
  void close_consumer() {
    if (wake) rd_kafka_queue_destroy(wake);
    wake = nullptr;
    if (consumer) consumer->close();
  }

  // Sends the original record to the DLQ with the error in headers; true when
  // the DLQ acknowledged it (only then may the offset be committed).
  bool dead_letter(const Job& job, const Error& error, int attempts) {
    events::KafkaRecord dlq = job.record;
    dlq.topic = options.dlq_topic;
    dlq.headers.emplace_back("conveyor-error", error.message);
    dlq.headers.emplace_back("conveyor-error-code", errc_name(error.code));
    dlq.headers.emplace_back("conveyor-original-topic", job.tp.first);
    dlq.headers.emplace_back("conveyor-original-partition", std::to_string(job.tp.second));
    dlq.headers.emplace_back("conveyor-original-offset", std::to_string(job.offset));
    dlq.headers.emplace_back("conveyor-attempts", std::to_string(attempts));
    auto sent = producer->produce_all({dlq});
    if (!sent) {
      logger.error("dead-letter produce failed; message will be redelivered",
                   {{"topic", job.tp.first}, {"error", sent.error().message}});
      return false;
    }
    stats.dead_lettered++;
    logger.error("message dead-lettered", {{"topic", job.tp.first},
                                           {"offset", std::to_string(job.offset)},
                                           {"error", error.message}});
    return true;
  }

  void start(Job job) {
    in_flight.insert(job.tp);
    stats.in_flight++;
    threads.emplace_back([this, job = std::move(job)]() mutable {
      handler_stop = stop_source.get_token();
      work(std::move(job));
    });
  }

  // Commits finished messages, resumes their partitions, joins their threads,
  // and starts backlogged jobs when slots free up.
  void drain_completions() {
    std::vector<Completion> done;
    std::vector<std::thread::id> finished;
    {
      std::lock_guard lock(mu);
      done.swap(completions);
      finished.swap(finished_threads);
    }
    for (const auto& c : done) {
      if (c.commit) {
        auto p = make_tp(c.tp, c.offset + 1);
        std::vector<RdKafka::TopicPartition*> v{p.get()};
        const auto rc = consumer->commitSync(v);
        if (rc != RdKafka::ERR_NO_ERROR) {
          logger.warn("offset commit failed; message may be redelivered",
                      {{"topic", c.tp.first}, {"error", RdKafka::err2str(rc)}});
        }
      } else if (!stopping) {
        // Not committed: rewind so the message is consumed again after resume.
        auto p = make_tp(c.tp, c.offset);
        const auto rc = consumer->seek(*p, 5000);
        if (rc != RdKafka::ERR_NO_ERROR) {
          logger.warn("seek back failed", {{"topic", c.tp.first}, {"error", RdKafka::err2str(rc)}});
        }
      }
      in_flight.erase(c.tp);
      stats.in_flight--;
      if (!stopping) resume(c.tp);
    }
    for (const auto& id : finished) {
      for (auto it = threads.begin(); it != threads.end(); ++it) {
        if (it->get_id() == id) {
          it->join();
          threads.erase(it);
          break;
        }
      }
    }
    while (!stopping && !backlog.empty() && static_cast<int>(in_flight.size()) < options.concurrency) {
      Job j = std::move(backlog.front());
      backlog.pop_front();
      start(std::move(j));
    }
  }

  void pause_all() {
    std::vector<RdKafka::TopicPartition*> assigned;
    if (consumer->assignment(assigned) == RdKafka::ERR_NO_ERROR && !assigned.empty()) {
      consumer->pause(assigned);
    }
    RdKafka::TopicPartition::destroy(assigned);
  }
};

Worker::Worker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Worker::~Worker() {
  if (!impl_) return;
  impl_->stopping = true;
  impl_->stop_source.request_stop();
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
  impl_->close_consumer();
}

Result<std::unique_ptr<Worker>> Worker::create(const WorkerOptions& options, Producer& producer,
                                               MessageHandler handler) {
  if (options.topics.empty()) return make_error(Errc::invalid_argument, "worker needs at least one topic");
  if (options.group_id.empty()) return make_error(Errc::invalid_argument, "worker needs a group id");
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->options.concurrency = std::clamp(options.concurrency, 1, 64);
  impl->options.max_attempts = std::clamp(options.max_attempts, 1, 20);
  impl->producer = &producer;
  impl->handler = std::move(handler);

  std::map<std::string, std::string> props = {
      {"bootstrap.servers", options.brokers},
      {"group.id", options.group_id},
      {"client.id", options.group_id},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},
      {"max.poll.interval.ms", std::to_string(options.max_poll_interval.count())},
      {"session.timeout.ms", std::to_string(options.session_timeout.count())},
      {"heartbeat.interval.ms", std::to_string(std::max<long long>(100, options.session_timeout.count() / 5))},
      {"fetch.wait.max.ms", "10"},
      {"socket.connection.setup.timeout.ms", "5000"},
  };
  for (const auto& [k, v] : options.properties) props[k] = v;
  auto conf = detail::make_conf(props);
  if (!conf) return std::move(conf).error();
  std::string err;
  if ((*conf)->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(impl.get()), err) != RdKafka::Conf::CONF_OK) {
    return make_error(Errc::internal, "kafka rebalance_cb: " + err);
  }
  impl->consumer.reset(RdKafka::KafkaConsumer::create(conf->get(), err));
  if (!impl->consumer) return make_error(Errc::invalid_argument, "kafka consumer: " + err);
  impl->wake = rd_kafka_queue_get_consumer(impl->consumer->c_ptr());
  const auto rc = impl->consumer->subscribe(options.topics);
  if (rc != RdKafka::ERR_NO_ERROR) return make_error(Errc::unavailable, "kafka subscribe: " + RdKafka::err2str(rc));
  return std::unique_ptr<Worker>(new Worker(std::move(impl)));
}

Result<void> Worker::run() {
  Impl& s = *impl_;
  bool paused_for_stop = false;
  for (;;) {
    s.drain_completions();
    if (s.stopping) {
      if (!paused_for_stop) {
        s.pause_all();
        s.backlog.clear();  // uncommitted: redelivered to whoever consumes next
        paused_for_stop = true;
      }
      if (s.in_flight.empty()) break;
    }
    std::unique_ptr<RdKafka::Message> msg(s.consumer->consume(s.stopping ? 20 : 50));
    if (!msg) continue;
    switch (msg->err()) {
      case RdKafka::ERR_NO_ERROR: {
        if (s.stopping) break;  // not committed: redelivered later
        Job job{{msg->topic_name(), msg->partition()}, msg->offset(), detail::to_record(*msg)};
        s.pause(job.tp);
        if (static_cast<int>(s.in_flight.size()) < s.options.concurrency) {
          s.start(std::move(job));
        } else {
          s.backlog.push_back(std::move(job));
        }
        break;
      }
      case RdKafka::ERR__TIMED_OUT:
      case RdKafka::ERR__PARTITION_EOF:
        break;
      default:
        s.logger.warn("kafka consumer error", {{"error", msg->errstr()}});
        break;
    }
  }
  s.drain_completions();
  for (auto& t : s.threads) {
    if (t.joinable()) t.join();
  }
  s.threads.clear();
  s.close_consumer();
  s.consumer.reset();
  return {};
}

void Worker::stop() {
  impl_->stopping = true;
  impl_->stop_source.request_stop();
}

std::stop_token current_stop_token() noexcept { return handler_stop; }

const WorkerStats& Worker::stats() const { return impl_->stats; }

}  // namespace conveyor::bus
