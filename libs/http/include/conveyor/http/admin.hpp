// The admin endpoint every service serves: /healthz (process alive),
// /readyz (dependencies reachable: Kafka and Redis) and /metrics (Prometheus
// text exposition format 0.0.4, from a prometheus-cpp registry).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <prometheus/registry.h>

#include "conveyor/http/server.hpp"

namespace conveyor::http {

// A readiness probe: a name ("kafka", "redis") and a check returning an
// error when the dependency is unreachable. Checks run on each /readyz call.
struct ReadinessCheck {
  std::string name;
  std::function<Result<void>()> check;
};

// Registers /healthz, /readyz and /metrics on `server`.
// /readyz answers 200 {"ready":true,...} or 503 with each failing check's name
// and message.
void add_admin_routes(Server& server, std::shared_ptr<prometheus::Registry> registry,
                      std::vector<ReadinessCheck> checks);

// Serializes a registry in the Prometheus text format.
std::string render_metrics(const prometheus::Registry& registry);

}  // namespace conveyor::http
