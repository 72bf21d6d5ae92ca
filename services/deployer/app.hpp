// Wiring of conveyor-deployer: the stage runtime (Kafka, Redis, admin
// endpoint) around the Handler with the compose, helm and Argo CD backends,
// Redis locks and state, and the git CLI for GitOps reverts. No decisions here.
#pragma once

#include "conveyor/runtime/service.hpp"

namespace conveyor::deployer {

// Runs the service until SIGTERM/SIGINT; returns the exit code.
int run(runtime::Service& service);

}  // namespace conveyor::deployer
