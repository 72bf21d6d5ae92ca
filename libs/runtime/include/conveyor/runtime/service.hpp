// What every conveyor service does the same way before its own work starts:
// flags, config load and validation (all issues reported with key paths,
// exit 2, before any socket opens), `--check-config`, the admin endpoint
// (/healthz, /readyz, /metrics), the stop signal, and the "listening" log
// line that tells operators and tests the bound ports.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <prometheus/registry.h>

#include "conveyor/bus/producer.hpp"
#include "conveyor/config/config.hpp"
#include "conveyor/http/admin.hpp"
#include "conveyor/http/server.hpp"
#include "conveyor/logging/log.hpp"
#include "conveyor/store/redis.hpp"

namespace conveyor::runtime {

// A running service's shared parts, built by runtime::main.
struct Service {
  std::string name;  // "webhook", "test-runner", ...
  config::Config config;
  std::shared_ptr<prometheus::Registry> metrics = std::make_shared<prometheus::Registry>();
  log::Logger logger{"service"};
};

// Parses the common flags and loads the config, then runs `body`:
//   --config FILE      (default $CONVEYOR_CONFIG, else ./conveyor.yaml)
//   --check-config     validate, print "config ok" or every issue, exit 0/2
//   --admin HOST:PORT  admin endpoint (overrides admin.listen)
// Returns the process exit code: 2 for bad flags or config, else body's.
int main(int argc, char** argv, const std::string& name, const std::function<int(Service&)>& body);

// Starts the admin server (/healthz, /readyz with `checks`, /metrics).
// Errors: unavailable when the address cannot be bound.
Result<std::unique_ptr<http::Server>> start_admin(Service& service, std::vector<http::ReadinessCheck> checks);

// The service's Kafka producer (client id "conveyor-<name>", brokers from
// config). `delivery_timeout` bounds how long a record may wait for the broker.
Result<std::unique_ptr<bus::Producer>> make_producer(const Service& service,
                                                     std::chrono::milliseconds delivery_timeout = std::chrono::seconds(30));

// The service's Redis pool (url and timeout from config). Errors: unavailable.
Result<std::shared_ptr<store::Redis>> connect_redis(const Service& service, int connections);

// /readyz checks for Kafka (metadata request) and Redis (PING).
std::vector<http::ReadinessCheck> dependency_checks(bus::Producer& producer, std::shared_ptr<store::Redis> redis);

// Resolves every secret reference; the error names the reference, never a value.
Result<std::vector<std::string>> resolve_secrets(const std::vector<config::SecretRef>& refs);

}  // namespace conveyor::runtime
