// Wiring of conveyor-health-verifier: the stage runtime (Kafka, Redis, admin
// endpoint, idempotency) around the verify handler with the real HTTP probe,
// Prometheus API and clock. No decisions are made here (see handler.hpp).
#pragma once

#include "conveyor/runtime/service.hpp"

namespace conveyor::health_verifier {

// Runs the service until SIGTERM/SIGINT; returns the exit code. A
// verification in flight is finished first (the worker drains), which can
// take settle + soak; a killed process loses nothing (the request is redelivered).
int run(runtime::Service& service);

}  // namespace conveyor::health_verifier
