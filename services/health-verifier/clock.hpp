// Time for the verifier: a monotonic clock to schedule checks on, the wall
// clock for timestamps in events, and a way to wait. Unit tests substitute a
// simulated clock whose sleep_until() only moves time forward, so nothing in
// them really sleeps.
#pragma once

#include <chrono>
#include <thread>

namespace conveyor::health_verifier {

class Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual time_point now() = 0;
  virtual std::chrono::system_clock::time_point wall_now() = 0;
  // Returns at `t` or later (at once when `t` has passed).
  virtual void sleep_until(time_point t) = 0;
};

// The real clocks and a real sleep.
class SystemClock final : public Clock {
 public:
  time_point now() override { return std::chrono::steady_clock::now(); }
  std::chrono::system_clock::time_point wall_now() override { return std::chrono::system_clock::now(); }
  void sleep_until(time_point t) override { std::this_thread::sleep_until(t); }
};

}  // namespace conveyor::health_verifier
