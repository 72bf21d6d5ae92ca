#include "conveyor/process/process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

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

// A close-on-exec pipe whose ends are >= 3, so that placing them on the
// child's 0/1/2 can never clobber one another.
Result<Pipe> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return make_error(Errc::unavailable, std::string("pipe: ") + ::strerror(errno));
  }
  for (int& fd : fds) {
    if (fd >= 3) continue;
    const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    ::close(fd);
    fd = moved;
  }
  if (fds[0] < 0 || fds[1] < 0) {
    if (fds[0] >= 0) ::close(fds[0]);
    if (fds[1] >= 0) ::close(fds[1]);
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

// In the forked child: only async-signal-safe calls until exec. Reports an
// errno on `report` (close-on-exec: EOF means exec succeeded) and exits 127
// on failure.
[[noreturn]] void child_failed(int report, int error) {
  (void)!::write(report, &error, sizeof error);
  ::_exit(127);
}

[[noreturn]] void exec_child(pid_t parent, const char* program, char* const* argv, char* const* envp,
                             const char* cwd, int in_fd, int out_fd, int err_fd, int report) {
  ::setpgid(0, 0);
  // Die with the service: if it is killed (kill -9), the step's leader does
  // not run on unsupervised. (Grandchildren are left to the service's
  // supervisor: systemd's or the container's cgroup.)
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);
  sigset_t empty;
  sigemptyset(&empty);
  ::sigprocmask(SIG_SETMASK, &empty, nullptr);
  if (in_fd < 0) {
    in_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (in_fd < 0) child_failed(report, errno);
  }
  if (::dup2(in_fd, STDIN_FILENO) < 0 || ::dup2(out_fd, STDOUT_FILENO) < 0 || ::dup2(err_fd, STDERR_FILENO) < 0) {
    child_failed(report, errno);
  }
  // Nothing else of the service (sockets, files) reaches the program.
  if (report > 3) ::syscall(SYS_close_range, 3u, static_cast<unsigned>(report - 1), 0u);
  ::syscall(SYS_close_range, static_cast<unsigned>(report + 1), ~0u, 0u);
  if (cwd != nullptr && ::chdir(cwd) != 0) child_failed(report, errno);
  ::execve(program, argv, envp);
  child_failed(report, errno);
}

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

// True while a process of group `pgid` is alive. Zombies do not count: an
// orphan that exited waits for init to reap it (which some inits do only
// now and then) but holds nothing and runs nothing.
bool group_alive(pid_t pgid) {
  if (::kill(-pgid, 0) != 0 && errno != EPERM) return false;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return true;
  bool alive = false;
  char path[300];  // "/proc/" + a d_name (at most 255) + "/stat"
  char stat[512];
  while (!alive) {
    const dirent* entry = ::readdir(proc);
    if (entry == nullptr) break;
    if (entry->d_name[0] < '1' || entry->d_name[0] > '9') continue;
    std::snprintf(path, sizeof path, "/proc/%s/stat", entry->d_name);
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    const ssize_t n = ::read(fd, stat, sizeof stat - 1);
    ::close(fd);
    if (n <= 0) continue;
    stat[n] = '\0';
    // "pid (comm) state ppid pgrp ...": comm may hold anything, so parse
    // after the last ')'.
    const char* after = std::strrchr(stat, ')');
    char state = 0;
    int ppid = 0, pgrp = 0;
    if (after && std::sscanf(after + 1, " %c %d %d", &state, &ppid, &pgrp) == 3 && pgrp == pgid) {
      alive = state != 'Z' && state != 'X';
    }
  }
  ::closedir(proc);
  return alive;
}

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
  auto report = make_pipe();
  if (!report) return std::move(report).error();

  // fork + exec rather than posix_spawn for PR_SET_PDEATHSIG; everything the
  // child needs is prepared above, so it only makes async-signal-safe calls.
  const auto start = Clock::now();
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return make_error(Errc::unavailable, std::string("fork: ") + ::strerror(errno));
  if (pid == 0) {
    exec_child(parent, program->c_str(), argv.data(), envp.data(), o.cwd.empty() ? nullptr : o.cwd.c_str(),
               o.stdin_data ? in_pipe.read.get() : -1, out->write.get(),
               o.merge_stderr ? out->write.get() : err_pipe.write.get(), report->write.get());
  }
  // Also set here: kill(-pid) must work as soon as fork() returned.
  ::setpgid(pid, pid);
  report->write.reset();
  int exec_errno = 0;
  ssize_t got;
  do {
    got = ::read(report->read.get(), &exec_errno, sizeof exec_errno);
  } while (got < 0 && errno == EINTR);
  if (got == static_cast<ssize_t>(sizeof exec_errno)) {
    ::waitpid(pid, nullptr, 0);
    const Errc code = (exec_errno == ENOENT || exec_errno == ENOTDIR || exec_errno == EACCES) ? Errc::not_found
                                                                                               : Errc::unavailable;
    return make_error(code, "cannot start '" + o.argv[0] + "': " + ::strerror(exec_errno));
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
