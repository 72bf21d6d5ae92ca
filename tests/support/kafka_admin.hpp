// Test helper: creates a uniquely named topic with librdkafka's Admin API
// (CreateTopics), so bus tests never share topics or consumer groups.
#pragma once

#include <librdkafka/rdkafka.h>

#include <stdexcept>
#include <string>

#include "conveyor/events/cloudevent.hpp"

namespace conveyor::testing {

// Creates the topic `name` exactly (e.g. "<unique prefix>.events" for a
// service configured with that kafka.topic-prefix); throws on failure.
inline void create_topic_named(const std::string& brokers, const std::string& name, int partitions = 3) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) throw std::runtime_error(std::string("rd_kafka_new: ") + err);
  rd_kafka_NewTopic_t* topic = rd_kafka_NewTopic_new(name.c_str(), partitions, 1, err, sizeof err);
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &topic, 1, nullptr, queue);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(queue, 15000);
  std::string failure;
  if (!ev) {
    failure = "CreateTopics timed out";
  } else if (rd_kafka_event_error(ev)) {
    failure = rd_kafka_event_error_string(ev);
  } else {
    const auto* res = rd_kafka_event_CreateTopics_result(ev);
    size_t n = 0;
    const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(res, &n);
    if (n == 1 && rd_kafka_topic_result_error(results[0])) failure = rd_kafka_topic_result_error_string(results[0]);
  }
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(queue);
  rd_kafka_NewTopic_destroy(topic);
  rd_kafka_destroy(rk);
  if (!failure.empty()) throw std::runtime_error("create topic " + name + ": " + failure);
}

inline std::string create_topic(const std::string& brokers, const std::string& tag, int partitions = 3) {
  const std::string name = "conveyor-it." + tag + "." + events::new_uuid().substr(0, 8);
  create_topic_named(brokers, name, partitions);
  return name;
}

}  // namespace conveyor::testing
