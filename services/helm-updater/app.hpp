// Wiring of conveyor-helm-updater: the stage runtime (Kafka, Redis, admin
// endpoint) around the Handler with the git CLI. No decisions here.
#pragma once

#include "conveyor/runtime/service.hpp"

namespace conveyor::helm_updater {

// Runs the service until SIGTERM/SIGINT; returns the exit code.
int run(runtime::Service& service);

}  // namespace conveyor::helm_updater
