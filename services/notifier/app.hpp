// conveyor-notifier wiring: the worker on `<prefix>.events` (group
// conveyor-notifier), Redis for the sent-once records and GitHub deployment
// ids, one provider per route, the shared webclient, the admin endpoint.
#pragma once

#include "conveyor/runtime/service.hpp"

namespace conveyor::notifier {

// Runs the notifier until SIGTERM; returns the exit code.
int run(runtime::Service& service);

}  // namespace conveyor::notifier
