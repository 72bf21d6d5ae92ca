#include "conveyor/process/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace conveyor::process {
namespace {

using Clock = std::chrono::steady_clock;

// Bytes read per read(2); a step printing megabytes is read in these chunks.
constexpr std::size_t kChunk = 64 * 1024;
// Longest poll(2) wait: how often a stop request is noticed without a wakeup.
constexpr std::chrono::milliseconds kTick{100};

// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.release();
    }
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  bool open() const { return fd_ >= 0; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  Fd read, write;
};

Result<Pipe> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return make_error(Errc::unavailable, std::string("pipe: ") + ::strerror(errno));
  }
  return Pipe{Fd(fds[0]), Fd(fds[1])};
}

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

bool has_nul(const std::string& s) { return s.find('\0') != std::string::npos; }

bool is_executable_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// argv[0] -> a path to exec: as is when it has a '/', else the first
// executable file of that name in PATH.
Result<std::string> resolve_program(const std::string& name, const Environment& env) {
  if (name.find('/') != std::string::npos) {
    if (!is_executable_file(name)) return make_error(Errc::not_found, "program '" + name + "' is not an executable file");
    return name;
  }
  std::string path;
  if (auto it = env.find("PATH"); it != env.end()) {
    path = it->second;
  } else if (const char* p = std::getenv("PATH")) {
    path = p;
  } else {
    path = "/usr/local/bin:/usr/bin:/bin";
  }
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t end = std::min(path.find(':', start), path.size());
    std::string dir = path.substr(start, end - start);
    if (dir.empty()) dir = ".";
    const std::string candidate = dir + "/" + name;
    if (is_executable_file(candidate)) return candidate;
    start = end + 1;
  }
  return make_error(Errc::not_found, "program '" + name + "' not found in PATH");
}

Result<void> validate(const Options& o) {
  if (o.argv.empty() || o.argv[0].empty()) return make_error(Errc::invalid_argument, "process: empty argv");
  for (const auto& a : o.argv) {
    if (has_nul(a)) return make_error(Errc::invalid_argument, "process: NUL byte in an argument");
  }
  for (const auto& [k, v] : o.env) {
    if (k.empty() || k.find('=') != std::string::npos || has_nul(k)) {
      return make_error(Errc::invalid_argument, "process: invalid environment variable name '" + k + "'");
    }
    if (has_nul(v)) return make_error(Errc::invalid_argument, "process: NUL byte in the value of " + k);
  }
  if (!o.cwd.empty()) {
    struct stat st {};
    if (::stat(o.cwd.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return make_error(Errc::not_found, "process: working directory '" + o.cwd + "' does not exist");
    }
  }
  return {};
}

// posix_spawn attributes and file actions, destroyed on scope exit.
struct SpawnSetup {
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  SpawnSetup() {
    ::posix_spawnattr_init(&attr);
    ::posix_spawn_file_actions_init(&actions);
  }
  ~SpawnSetup() {
    ::posix_spawn_file_actions_destroy(&actions);
    ::posix_spawnattr_destroy(&attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

// Writes to a pipe whose reader may be gone without raising SIGPIPE in this
// process: SIGPIPE is blocked on this thread for the write, and a pending one
// caused by it is consumed.
ssize_t write_no_sigpipe(int fd, const char* data, std::size_t size) {
  sigset_t pipe_set, old_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  ::pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
  const ssize_t n = ::write(fd, data, size);
  const int saved = errno;
  if (n < 0 && saved == EPIPE) {
    const timespec zero{0, 0};
    while (::sigtimedwait(&pipe_set, nullptr, &zero) == SIGPIPE) {
    }
  }
  ::pthread_sigmask(SIG_SETMASK, &old_set, nullptr);
  errno = saved;
  return n;
}

// True while any process of group `pgid` exists.
bool group_alive(pid_t pgid) { return ::kill(-pgid, 0) == 0 || errno == EPERM; }

}  // namespace

Environment inherit(const std::vector<std::string>& names) {
  Environment env;
  for (const auto& name : names) {
    if (const char* v = std::getenv(name.c_str())) env[name] = v;
  }
  return env;
}

std::string signal_name(int signal) {
  if (const char* abbrev = ::sigabbrev_np(signal)) return std::string("SIG") + abbrev;
  return "signal " + std::to_string(signal);
}

std::string Exit::describe() const {
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.1fs", static_cast<double>(duration.count()) / 1000.0);
  if (timed_out) return std::string("timed out after ") + seconds;
  if (stopped) return "stopped";
  if (signal != 0) return "killed by signal " + std::to_string(signal) + " (" + signal_name(signal) + ")";
  return "exit code " + std::to_string(exit_code);
}

Result<Exit> run(const Options& o) {
  if (auto ok = validate(o); !ok) return std::move(ok).error();
  auto program = resolve_program(o.argv[0], o.env);
  if (!program) return std::move(program).error();

  auto out = make_pipe();
  if (!out) return std::move(out).error();
  Pipe err_pipe, in_pipe;
  if (!o.merge_stderr) {
    auto p = make_pipe();
    if (!p) return std::move(p).error();
    err_pipe = std::move(*p);
  }
  if (o.stdin_data) {
    auto p = make_pipe();
    if (!p) return std::move(p).error();
    in_pipe = std::move(*p);
  }

  SpawnSetup setup;
  if (o.stdin_data) {
    ::posix_spawn_file_actions_adddup2(&setup.actions, in_pipe.read.get(), STDIN_FILENO);
  } else {
    ::posix_spawn_file_actions_addopen(&setup.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  }
  ::posix_spawn_file_actions_adddup2(&setup.actions, out->write.get(), STDOUT_FILENO);
  ::posix_spawn_file_actions_adddup2(&setup.actions, o.merge_stderr ? out->write.get() : err_pipe.write.get(),
                                     STDERR_FILENO);
  ::posix_spawn_file_actions_addclosefrom_np(&setup.actions, 3);
  if (!o.cwd.empty()) ::posix_spawn_file_actions_addchdir_np(&setup.actions, o.cwd.c_str());
  sigset_t empty_mask, all_signals;
  sigemptyset(&empty_mask);
  sigfillset(&all_signals);
  ::posix_spawnattr_setflags(&setup.attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  ::posix_spawnattr_setpgroup(&setup.attr, 0);
  ::posix_spawnattr_setsigmask(&setup.attr, &empty_mask);
  ::posix_spawnattr_setsigdefault(&setup.attr, &all_signals);

  std::vector<char*> argv;
  argv.reserve(o.argv.size() + 1);
  for (const auto& a : o.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  env_strings.reserve(o.env.size());
  for (const auto& [k, v] : o.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  envp.reserve(env_strings.size() + 1);
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);

  const auto start = Clock::now();
  pid_t pid = -1;
  const int spawned = ::posix_spawn(&pid, program->c_str(), &setup.actions, &setup.attr, argv.data(), envp.data());
  if (spawned != 0) {
    const Errc code = (spawned == ENOENT || spawned == ENOTDIR || spawned == EACCES) ? Errc::not_found : Errc::unavailable;
    return make_error(code, "cannot start '" + o.argv[0] + "': " + ::strerror(spawned));
  }
  // The child holds its ends now.
  out->write.reset();
  err_pipe.write.reset();
  in_pipe.read.reset();

  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  Fd out_fd = std::move(out->read);
  Fd err_fd = std::move(err_pipe.read);
  Fd in_fd = std::move(in_pipe.write);
  set_nonblocking(out_fd.get());
  if (err_fd.open()) set_nonblocking(err_fd.get());
  if (in_fd.open()) set_nonblocking(in_fd.get());
  std::size_t in_written = 0;
  if (in_fd.open() && o.stdin_data->empty()) in_fd.reset();

  Exit exit;
  const auto never = Clock::time_point::max();
  const auto deadline = o.timeout.count() > 0 ? start + o.timeout : never;
  auto kill_at = never;        // when SIGKILL goes to the group
  auto drain_until = never;    // after the leader's exit: stop reading then
  bool term_sent = false, kill_sent = false, leader_done = false, group_gone = false;
  std::string buffer(kChunk, '\0');

  auto signal_group = [&](int sig) {
    if (!group_gone && ::kill(-pid, sig) != 0 && errno == ESRCH) group_gone = leader_done;
  };
  auto terminate = [&](Clock::time_point now) {
    if (term_sent) return;
    term_sent = true;
    signal_group(SIGTERM);
    kill_at = now + o.kill_grace;
  };
  auto read_from = [&](Fd& fd, const OutputSink& sink, std::size_t& count) {
    // A bounded number of reads per wakeup keeps timers checked under a flood.
    for (int i = 0; i < 16 && fd.open(); ++i) {
      const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
      if (n > 0) {
        count += static_cast<std::size_t>(n);
        if (sink) sink(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
        continue;
      }
      if (n < 0 && (errno == EINTR)) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      fd.reset();  // EOF or error: every writer is gone
    }
  };
  auto reap = [&](Clock::time_point now) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r != pid) return;
    leader_done = true;
    pidfd.reset();
    if (WIFEXITED(status)) exit.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) exit.signal = WTERMSIG(status);
    exit.duration = std::chrono::duration_cast<std::chrono::milliseconds>(now - start);
    drain_until = now + o.drain;
    if (!group_alive(pid)) {
      group_gone = true;
    } else if (o.kill_leftovers) {
      terminate(now);
    }
  };

  while (true) {
    auto now = Clock::now();
    if (!term_sent && !leader_done) {
      if (now >= deadline) {
        exit.timed_out = true;
        terminate(now);
      } else if (o.stop.stop_requested()) {
        exit.stopped = true;
        terminate(now);
      }
    }
    if (term_sent && !kill_sent && now >= kill_at) {
      kill_sent = true;
      signal_group(SIGKILL);
    }
    if (leader_done) {
      if (!group_gone && !group_alive(pid)) group_gone = true;
      // After a timeout or stop, and with kill_leftovers, nothing of the group
      // may outlive run(): wait for SIGKILL to take effect.
      const bool clear_group = o.kill_leftovers || term_sent;
      if (!clear_group || group_gone) {
        const bool pipes_closed = !out_fd.open() && !err_fd.open();
        // Output held open by a process outside the group (or left running on
        // purpose): stop reading after the drain period.
        if (pipes_closed || now >= drain_until) break;
      }
    }

    std::array<pollfd, 4> fds{};
    nfds_t n = 0;
    int out_i = -1, err_i = -1, in_i = -1, pid_i = -1;
    if (out_fd.open()) fds[out_i = static_cast<int>(n++)] = {out_fd.get(), POLLIN, 0};
    if (err_fd.open()) fds[err_i = static_cast<int>(n++)] = {err_fd.get(), POLLIN, 0};
    if (in_fd.open()) fds[in_i = static_cast<int>(n++)] = {in_fd.get(), POLLOUT, 0};
    if (pidfd.open()) fds[pid_i = static_cast<int>(n++)] = {pidfd.get(), POLLIN, 0};
    auto wait = kTick;
    // Without a pidfd (old kernel) the leader is polled for on each tick.
    if (!leader_done && !pidfd.open()) wait = std::chrono::milliseconds(10);
    for (auto t : {deadline, kill_at, drain_until}) {
      if (t != never && t > now) wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(t - now) + std::chrono::milliseconds(1));
    }
    const int ready = ::poll(fds.data(), n, static_cast<int>(wait.count()));
    if (ready < 0 && errno != EINTR) {
      // Should not happen; end the child rather than spin.
      signal_group(SIGKILL);
      ::waitpid(pid, nullptr, 0);
      return make_error(Errc::unavailable, std::string("poll: ") + ::strerror(errno));
    }
    if (out_i >= 0 && fds[out_i].revents != 0) read_from(out_fd, o.on_stdout, exit.stdout_bytes);
    if (err_i >= 0 && fds[err_i].revents != 0) read_from(err_fd, o.on_stderr, exit.stderr_bytes);
    if (in_i >= 0 && fds[in_i].revents != 0) {
      const std::string& data = *o.stdin_data;
      const ssize_t w = write_no_sigpipe(in_fd.get(), data.data() + in_written, data.size() - in_written);
      if (w > 0) in_written += static_cast<std::size_t>(w);
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || in_written == data.size()) in_fd.reset();
    }
    if (!leader_done && (pid_i < 0 || fds[pid_i].revents != 0)) reap(Clock::now());
  }
  if (exit.duration.count() == 0) {
    exit.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  }
  return exit;
}

Result<Captured> capture(Options options, std::size_t max_bytes) {
  Captured c;
  auto collect = [max_bytes](std::string& into, bool& truncated) {
    return [&into, &truncated, max_bytes](std::string_view chunk) {
      const std::size_t room = max_bytes > into.size() ? max_bytes - into.size() : 0;
      if (chunk.size() > room) truncated = true;
      into.append(chunk.substr(0, room));
    };
  };
  options.merge_stderr = false;
  options.on_stdout = collect(c.out, c.out_truncated);
  options.on_stderr = collect(c.err, c.err_truncated);
  auto exit = run(options);
  if (!exit) return std::move(exit).error();
  c.exit = *exit;
  return c;
}

}  // namespace conveyor::process
