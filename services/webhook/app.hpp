// Wiring of conveyor-webhook: HTTP endpoint -> Handler -> Redis dedupe ->
// Kafka, plus the admin endpoint. No decisions are made here (see handler.hpp).
#pragma once

#include "conveyor/runtime/service.hpp"

namespace conveyor::webhook {

// Runs the service until SIGTERM/SIGINT; returns the exit code.
int run(runtime::Service& service);

}  // namespace conveyor::webhook
