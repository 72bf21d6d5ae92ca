// Wiring of conveyor-version-tagger: the stage runtime (Kafka, Redis, admin
// endpoint, idempotency) around the version handler, with git, GitHub
// Releases (the suite's `github` settings) and the created-tag record in
// Redis. No decisions are made here (see handler.hpp).
#pragma once

#include "conveyor/runtime/service.hpp"

namespace conveyor::version_tagger {

// Runs the service until SIGTERM/SIGINT; returns the exit code.
int run(runtime::Service& service);

}  // namespace conveyor::version_tagger
