// SIGTERM/SIGINT handling for services: a dedicated thread waits for the
// signals (sigwait, so no work happens in a signal handler) and runs the
// registered callback once, e.g. Worker::stop() and Server::stop().
#pragma once

#include <functional>

namespace conveyor::bus {

// Blocks SIGTERM and SIGINT in the calling thread, so every thread created
// afterwards inherits the mask and the signals wait for on_stop_signal's
// waiter. runtime::main calls it first thing.
void block_stop_signals();

// Blocks SIGTERM and SIGINT in the calling thread (call first in main, before
// any thread starts, so all threads inherit the mask) and starts a waiter
// thread that calls `on_stop` when either arrives. Call once per process.
void on_stop_signal(std::function<void()> on_stop);

}  // namespace conveyor::bus
