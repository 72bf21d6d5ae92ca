// Running external programs (git, bash, buildah, helm) safely from a
// multi-threaded service.
//
// - argv vector only, never a shell string: nothing is ever parsed by a shell
//   unless the caller runs a shell itself (`bash -c <script>`), so data such as
//   branch names or commit messages should travel as environment values.
// - The child gets exactly the environment given (no inheritance by default:
//   a service's environment holds secrets), stdin from /dev/null (or the given
//   bytes), all other file descriptors closed, default signal dispositions
//   and an empty signal mask.
// - The child leads a new process group, so a timeout, a cancellation, and
//   the clean-up after the leader exits reach every process it started
//   (grandchildren included): SIGTERM to the group, then SIGKILL after a grace.
//   Processes that leave the group (setsid, double fork into a new group)
//   escape this, as they would any job control.
// - Output is streamed to callbacks chunk by chunk (no size limit, binary
//   safe) while the child runs; capture() collects it with a bound.
//
// - The leader gets PR_SET_PDEATHSIG(SIGKILL): if the service dies (kill -9),
//   the program it ran does not go on unsupervised. Its own children are
//   left to the service's supervisor (systemd's KillMode=control-group, a
//   container's cgroup), as only those see the whole tree.
//
// Implemented with fork + execve (everything prepared before fork, only
// async-signal-safe calls in the child, so it is safe in threaded programs),
// pipes, poll(2) and a pidfd for exit notification. Linux, glibc >= 2.34.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "conveyor/result/result.hpp"

namespace conveyor::process {

// Receives output as it arrives (any bytes, any chunk size). Called on the
// thread that called run(), never concurrently.
using OutputSink = std::function<void(std::string_view chunk)>;

// Environment of a child: exactly these NAME=value pairs.
using Environment = std::map<std::string, std::string>;

// The variables of this process's environment whose names are in `names`
// (those that are set). Building a child's environment from an allowlist
// keeps the service's own secrets away from it.
Environment inherit(const std::vector<std::string>& names);

struct Options {
  // Program and arguments; argv[0] is looked up in the child environment's
  // PATH (else this process's PATH) unless it contains a '/'.
  std::vector<std::string> argv;
  Environment env;                 // the child's whole environment
  std::string cwd;                 // working directory; "" = this process's
  std::optional<std::string> stdin_data;  // bytes written to stdin, then EOF; nullopt = /dev/null

  // Output: with merge_stderr (the default) stderr goes into the stdout pipe,
  // keeping the order a terminal would show, and only on_stdout is called.
  OutputSink on_stdout;
  OutputSink on_stderr;
  bool merge_stderr = true;

  // Limits. timeout 0 = none. On timeout or a stop request the process group
  // gets SIGTERM, then SIGKILL after kill_grace if anything is left.
  std::chrono::milliseconds timeout{0};
  std::chrono::milliseconds kill_grace{5000};
  std::stop_token stop;  // request_stop() ends the child like a timeout (Exit::stopped)

  // When the leader exits, processes it left running in its group (e.g. a
  // server started with `&`) are ended too (SIGTERM, grace, SIGKILL), and
  // output is read until the pipes close. Set false to leave them running;
  // reading then stops `drain` after the leader's exit.
  bool kill_leftovers = true;
  std::chrono::milliseconds drain{2000};
};

// How the child ended.
struct Exit {
  int exit_code = -1;      // 0..255 when it exited, -1 when killed by a signal
  int signal = 0;          // the signal that ended it, 0 when it exited
  bool timed_out = false;  // ended because of Options::timeout
  bool stopped = false;    // ended because of Options::stop
  std::chrono::milliseconds duration{0};
  std::size_t stdout_bytes = 0;  // bytes read from each stream
  std::size_t stderr_bytes = 0;

  // Exited on its own with code 0.
  bool ok() const noexcept { return exit_code == 0 && !timed_out && !stopped; }
  // "exit code 2", "killed by signal 9 (SIGKILL)", "timed out after 10s", "stopped".
  std::string describe() const;
};

// Runs the program to completion (or timeout / stop). Errors, with nothing
// left running: invalid_argument (empty argv, a NUL byte in argv/env, a
// variable name with '='), not_found (the program or the working directory
// does not exist), unavailable (pipes, spawn or poll failed: resources).
// An exit code other than 0 is not an error: see Exit.
Result<Exit> run(const Options& options);

// run() with stdout and stderr (separately, regardless of merge_stderr)
// collected up to `max_bytes` each (beyond that the output is still read but
// dropped, and *_truncated is set). For small tools: git rev-parse, helm list.
struct Captured {
  Exit exit;
  std::string out;
  std::string err;
  bool out_truncated = false;
  bool err_truncated = false;
};
Result<Captured> capture(Options options, std::size_t max_bytes = 1u << 20);

// The name of a signal, "SIGKILL"; "signal N" when unknown.
std::string signal_name(int signal);

}  // namespace conveyor::process
