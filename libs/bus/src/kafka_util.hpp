// Private helpers shared by the producer and the worker (librdkafka C++ API).
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "conveyor/events/cloudevent.hpp"
#include "conveyor/result/result.hpp"

namespace conveyor::bus::detail {

// A global Conf with every property set; the first property librdkafka
// refuses is an invalid_argument naming it (never its value: it may be a secret).
Result<std::unique_ptr<RdKafka::Conf>> make_conf(const std::map<std::string, std::string>& props);

// Metadata request as a liveness probe of the cluster.
Result<void> ping(RdKafka::Handle& handle, std::chrono::milliseconds timeout);

// Copies a consumed message into a plain record.
events::KafkaRecord to_record(RdKafka::Message& message);

}  // namespace conveyor::bus::detail
