#include "conveyor/bus/stop_signals.hpp"

#include <pthread.h>
#include <signal.h>

#include <thread>

namespace conveyor::bus {

void block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void on_stop_signal(std::function<void()> on_stop) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set, on_stop = std::move(on_stop)]() {
    int sig = 0;
    sigwait(&set, &sig);
    on_stop();
  }).detach();
}

}  // namespace conveyor::bus
