// Wiring of conveyor-test-runner: the stage runtime (Kafka, Redis, admin
// endpoint, idempotency) around the test handler. No decisions are made here
// (see handler.hpp).
#pragma once

#include "conveyor/runtime/service.hpp"

namespace conveyor::test_runner {

// Runs the service until SIGTERM/SIGINT; returns the exit code.
int run(runtime::Service& service);

}  // namespace conveyor::test_runner
