// Test helper: runs a conveyor service binary as a child process, with its
// stderr (JSON log lines) captured to a file, and reads the ports it bound
// from its "listening" log line. Header-only; POSIX.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace conveyor::testing {

class ServiceProcess {
 public:
  // Starts `binary` with `args`; extra environment entries are added to the
  // inherited environment. stderr goes to `log_path`.
  ServiceProcess(const std::string& binary, const std::vector<std::string>& args, const std::string& log_path,
                 const std::map<std::string, std::string>& env = {})
      : log_path_(log_path) {
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        ::dup2(fd, STDERR_FILENO);
        ::dup2(fd, STDOUT_FILENO);
      }
      for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(binary.c_str()));
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(binary.c_str(), argv.data());
      ::_exit(127);
    }
  }
  ~ServiceProcess() {
    if (running()) {
      kill(SIGKILL);
      wait_exit(std::chrono::seconds(5));
    }
  }
  ServiceProcess(const ServiceProcess&) = delete;
  ServiceProcess& operator=(const ServiceProcess&) = delete;

  pid_t pid() const { return pid_; }

  // The fields of the first log line whose msg is `msg`, waiting up to
  // `timeout`; std::nullopt if it did not appear (or the process exited).
  std::optional<nlohmann::json> wait_for_log(const std::string& msg, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream in(log_path_);
      std::string line;
      while (std::getline(in, line)) {
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (!j.is_discarded() && j.is_object() && j.value("msg", "") == msg) return j;
      }
      if (!running()) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return std::nullopt;
  }

  // Port numbers from the "listening" line (fields like "webhook_port").
  int port(const std::string& field, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    auto line = wait_for_log("listening", timeout);
    if (!line || !line->contains(field)) throw std::runtime_error("service did not log " + field + ":\n" + log());
    return std::stoi((*line)[field].get<std::string>());
  }

  bool running() {
    if (exited_) return false;
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exited_ = true;
      status_ = status;
      return false;
    }
    return true;
  }

  void kill(int sig) { ::kill(pid_, sig); }

  // Exit code (or 128+signal) once the process ended within `timeout`.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (running()) {
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (WIFEXITED(status_)) return WEXITSTATUS(status_);
    if (WIFSIGNALED(status_)) return 128 + WTERMSIG(status_);
    return -1;
  }

  std::string log() const {
    std::ifstream in(log_path_);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  std::string log_path_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int status_ = 0;
};

// Environment value or a default (integration tests read the infra's addresses).
inline std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

inline std::string kafka_brokers() { return env_or("CONVEYOR_KAFKA_BROKERS", "127.0.0.1:19092"); }
inline std::string redis_url() { return env_or("CONVEYOR_REDIS_URL", "redis://127.0.0.1:16379"); }

// A fresh temporary directory for one test.
inline std::string temp_dir(const std::string& tag) {
  std::string tmpl = "/tmp/conveyor-" + tag + "-XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace conveyor::testing
