#include "compose.hpp"

#include <yaml-cpp/yaml.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <optional>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "conveyor/config/config.hpp"

namespace conveyor::deployer {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxReason = 400;

Error setting_error(const std::string& key, const std::string& what) {
  return make_error(Errc::invalid_argument, "deploy.compose." + key + ": " + what);
}

// The last non-empty line of a command's output, bounded: the reason of a failure.
std::string last_line(const std::string& text) {
  std::istringstream in(text);
  std::string line, last;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
  }
  if (last.size() > kMaxReason) last = last.substr(0, kMaxReason) + "...";
  return last;
}

// The last line that reports an error ("Error: ..."), else the last line.
// podman-compose stops and starts a container that may not exist around its
// `podman run`: those "no container with name" errors are noise.
std::string error_line(const std::string& text) {
  std::istringstream in(text);
  std::string line, found;
  while (std::getline(in, line)) {
    if ((line.find("Error") != std::string::npos || line.find("error") != std::string::npos) &&
        line.find("no container with name or ID") == std::string::npos) {
      found = line;
    }
  }
  return found.empty() ? last_line(text) : last_line(found);
}

// wait_healthy(): `up` left no container of the service at all.
constexpr const char* kNoContainer = "\x01no container";
// wait_healthy(): the Target's stop was requested.
constexpr const char* kStopped = "\x01stopped";

std::string seconds(std::chrono::milliseconds d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(d).count()) + "s";
}

Result<std::string> only_service(const std::string& file) {
  try {
    const YAML::Node doc = YAML::LoadFile(file);
    const YAML::Node services = doc["services"];
    if (!services || !services.IsMap()) return setting_error("file", file + " has no services mapping");
    if (services.size() != 1) {
      return setting_error("service", "is required: " + file + " has " + std::to_string(services.size()) + " services");
    }
    return services.begin()->first.as<std::string>();
  } catch (const YAML::Exception& e) {
    return setting_error("file", "cannot read " + file + ": " + e.what());
  }
}

bool write_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!(out << text)) return false;
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  return !ec;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class ComposeBackend : public Backend {
 public:
  explicit ComposeBackend(ComposeOptions options) : options_(std::move(options)) {}

  std::string name() const override { return "compose"; }

  Result<Outcome> deploy(const Target& target) override {
    if (target.image.empty()) return failed("no image to deploy: the run built none (run.outputs.build.images)");
    return apply(target, target.image);
  }

  Result<Outcome> rollback(const Target& target, const std::string& revision) override {
    if (revision.empty()) return failed("no previous image to roll back to");
    return apply(target, revision);
  }

 private:
  static Outcome failed(std::string reason) {
    Outcome o;
    o.reason = std::move(reason);
    return o;
  }

  process::Options command(std::vector<std::string> argv, const ComposeSettings& s,
                           std::chrono::milliseconds timeout, const std::stop_token& stop) const {
    process::Options o;
    o.argv = std::move(argv);
    o.env = options_.env;
    o.cwd = fs::path(s.file).parent_path().string();
    o.timeout = timeout;
    o.stop = stop;
    return o;
  }

  // Puts `image` in place and waits for it; the Outcome of deploy and rollback.
  Result<Outcome> apply(const Target& target, const std::string& image) {
    auto parsed = parse_compose_settings(target.settings);
    if (!parsed) return failed(parsed.error().message);
    const ComposeSettings& s = *parsed;
    const auto started = Clock::now();
    const fs::path dir = fs::path(options_.state_dir) / s.project;
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return make_error(Errc::unavailable, "cannot create " + dir.string() + ": " + ec.message());
    const std::string override_file = (dir / "override.yaml").string();
    const std::string next_file = (dir / "override.next.yaml").string();

    Outcome outcome;
    outcome.first_deploy = !fs::exists(override_file);
    outcome.previous_revision = outcome.first_deploy ? "" : override_image(read_text(override_file), s.service);
    outcome.revision = image;
    outcome.details = {{"service", s.project + "/" + s.service}, {"engine", s.engine}, {"project", s.project},
                       {"override", override_file}};
    if (!write_atomically(next_file, override_document(s.service, image))) {
      return make_error(Errc::unavailable, "cannot write " + next_file);
    }

    auto declared = compose_healthcheck(s.file, s.service);
    if (!declared) return failed(declared.error().message);
    const std::string tool = s.engine == "docker" ? "docker compose" : "podman-compose";
    const auto stopped = [&] {
      return make_error(Errc::unavailable, tool + " " + s.project + "/" + s.service +
                                               " stopped: the deployer is shutting down");
    };
    auto up = process::capture(command(up_argv(s, next_file), s, s.timeout, target.stop));
    if (!up) return make_error(up.error().code, tool + ": " + up.error().message);
    if (up->exit.stopped) return stopped();
    if (!up->exit.ok()) {
      outcome.reason = tool + " up " + s.service + " (" + s.project + ") failed, " + up->exit.describe() + ": " +
                       last_line(up->out + "\n" + up->err);
      restore(s, override_file, outcome);
      return outcome;
    }
    const auto deadline = started + s.timeout;
    // podman-compose 1.0.3 exits 0 even when its `podman run` failed: no
    // container after `up` is that failure.
    std::string state = wait_healthy(s, *declared, deadline, target.stop, outcome);
    if (state == kStopped) return stopped();
    if (state == kNoContainer) {
      state = tool + " up " + s.service + " (" + s.project + ") created no container: " +
              error_line(up->out + "\n" + up->err);
    }
    if (!state.empty()) {
      outcome.reason = state;
      restore(s, override_file, outcome);
      return outcome;
    }
    fs::rename(next_file, override_file, ec);
    if (ec) return make_error(Errc::unavailable, "cannot replace " + override_file + ": " + ec.message());
    outcome.ok = true;
    outcome.details["duration_ms"] =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
    return outcome;
  }

  // The ids of the service's containers (running or not); Error when `ps` fails.
  Result<std::vector<std::string>> containers(const ComposeSettings& s, std::chrono::milliseconds bound,
                                              const std::stop_token& stop) const {
    auto ps = process::capture(command({s.engine, "ps", "-a", "-q", "--no-trunc", "--filter",
                                        "label=com.docker.compose.project=" + s.project, "--filter",
                                        "label=com.docker.compose.service=" + s.service},
                                       s, bound, stop));
    if (!ps) return std::move(ps).error();
    if (!ps->exit.ok()) return make_error(Errc::unavailable, s.engine + " ps " + ps->exit.describe());
    std::vector<std::string> ids;
    std::istringstream in(ps->out);
    for (std::string line; std::getline(in, line);) {
      if (line.find_first_not_of(" \t\r") != std::string::npos) ids.push_back(line);
    }
    return ids;
  }

  // After a failed `up`: puts back what ran before, so the container matches
  // the override file and the deployer's state. With an override (an earlier
  // good deploy) its image is brought up again (not waited for); on a first
  // deploy the failed container is removed (`<engine> rm -f`). Says what in
  // outcome.reason and details.restored. Not run once the stop was requested
  // (the request is redelivered and repeats the deploy).
  void restore(const ComposeSettings& s, const std::string& override_file, Outcome& outcome) const {
    const std::stop_token none;  // the restore runs even while the deploy's own wait was cut short
    std::string done;
    if (!outcome.previous_revision.empty()) {
      auto up = process::capture(command(up_argv(s, override_file), s, options_.command_timeout, none));
      auto ids = containers(s, options_.command_timeout, none);
      if (up && up->exit.ok() && ids && !ids->empty()) {
        done = "restored the previous image " + outcome.previous_revision;
      } else {
        done = "restoring the previous image " + outcome.previous_revision + " failed: " +
               (!up ? up.error().message : !up->exit.ok() ? up->exit.describe() + ": " + last_line(up->out + "\n" + up->err)
                                         : error_line(up->out + "\n" + up->err));
      }
    } else {
      auto ids = containers(s, options_.command_timeout, none);
      if (!ids) {
        done = "removing the failed container failed: " + ids.error().message;
      } else if (ids->empty()) {
        done = "no previous image (first deploy), no container left";
      } else {
        std::vector<std::string> argv{s.engine, "rm", "-f"};
        argv.insert(argv.end(), ids->begin(), ids->end());
        auto rm = process::capture(command(argv, s, options_.command_timeout, none));
        done = rm && rm->exit.ok() ? "no previous image (first deploy): removed the failed container"
                                   : "removing the failed container failed: " +
                                         (rm ? rm->exit.describe() + ": " + last_line(rm->out + "\n" + rm->err)
                                             : rm.error().message);
      }
    }
    outcome.details["restored"] = done;
    outcome.reason += "; " + done;
  }

  // How one poll of a running container checks its health.
  struct Check {
    enum class Mode { none, command, docker_status } mode = Mode::none;
    std::vector<std::string> argv;  // Mode::command
    std::string health;             // Outcome.details.health
    ComposeHealthCheck timing;
  };

  // The check for a running container: the compose file's, else the image's (`config`: inspect's Config).
  static Check check_of(const ComposeSettings& s, const ComposeHealthCheck& declared, const std::string& id,
                        const json& config) {
    using Kind = ComposeHealthCheck::Kind;
    Check c;
    c.timing = declared;
    if (declared.kind == Kind::disabled) {
      c.health = "disabled in the compose file: running counts as healthy";
      return c;
    }
    if (declared.kind == Kind::exec) {
      c.mode = Check::Mode::command;
      c.argv = health_exec_argv(s.engine, id, declared);
      c.health = "compose healthcheck, " + s.engine + " exec";
      return c;
    }
    const json hc = config.value("Healthcheck", json());
    const bool image_check = hc.is_object() && hc.contains("Test") && hc["Test"].is_array() && !hc["Test"].empty() &&
                             hc["Test"][0] != "NONE";
    if (declared.kind == Kind::absent && !image_check) {
      c.health = "none declared: running counts as healthy";
      return c;
    }
    const std::string source = declared.kind == Kind::shell ? "compose healthcheck (shell form)" : "image HEALTHCHECK";
    if (declared.kind == Kind::absent) {
      // The image's timing (inspect reports nanoseconds).
      const auto ns = [&hc](const char* key, std::chrono::milliseconds fallback) {
        const long long v = hc.value(key, 0LL);
        return v > 0 ? std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::nanoseconds(v)) : fallback;
      };
      c.timing.interval = ns("Interval", c.timing.interval);
      c.timing.timeout = ns("Timeout", c.timing.timeout);
      c.timing.start_period = ns("StartPeriod", c.timing.start_period);
      if (hc.value("Retries", 0) > 0) c.timing.retries = hc.value("Retries", 0);
    }
    if (s.engine == "docker") {
      c.mode = Check::Mode::docker_status;
      c.health = source + ", docker's health status";
    } else {
      c.mode = Check::Mode::command;
      c.argv = {s.engine, "healthcheck", "run", id};
      c.health = source + ", podman healthcheck run";
    }
    return c;
  }

  // "" once the service's container runs healthy, else why not (timeout,
  // exited, unhealthy; kStopped when `stop` was requested).
  std::string wait_healthy(const ComposeSettings& s, const ComposeHealthCheck& declared, Clock::time_point deadline,
                           const std::stop_token& stop, Outcome& outcome) {
    const std::string& engine = s.engine;
    const std::string name = s.project + "/" + s.service;
    std::string last = "no container yet";
    std::optional<Clock::time_point> running_since;
    int failures = 0, checks = 0;
    for (bool first = true;; first = false) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) break;
      if (stop.stop_requested()) return kStopped;
      const auto bound = std::min(left, options_.command_timeout);
      auto ids = containers(s, bound, stop);
      const std::string id = ids && !ids->empty() ? ids->back() : "";
      if (first && ids && ids->empty()) return kNoContainer;
      auto pause = options_.poll_interval;
      if (!id.empty()) {
        outcome.details["container"] = id.substr(0, 12);
        auto inspect = process::capture(command({engine, "inspect", id}, s, bound, stop));
        json info = inspect && inspect->exit.ok() ? json::parse(inspect->out, nullptr, false) : json();
        if (info.is_array() && !info.empty()) info = info[0];
        if (info.is_object()) {
          const json st = info.value("State", json::object());
          const std::string status = st.value("Status", "");
          if (status == "exited" || status == "dead" || status == "stopped") {
            return "container " + id.substr(0, 12) + " of " + name + " " + status + " (exit code " +
                   std::to_string(st.value("ExitCode", -1)) + ")";
          }
          if (status == "running") {
            if (!running_since) running_since = Clock::now();
            const Check check = check_of(s, declared, id, info.value("Config", json::object()));
            outcome.details["health"] = check.health;
            if (check.mode == Check::Mode::none) return "";
            if (check.mode == Check::Mode::docker_status) {
              const std::string health = st.value("Health", json::object()).value("Status", "");
              if (health == "healthy") return "";
              last = health.empty() ? "health unknown" : health;
            } else {
              ++checks;
              auto run = process::capture(command(check.argv, s, std::min(left, check.timing.timeout), stop));
              if (stop.stop_requested()) return kStopped;
              if (run && run->exit.ok()) {
                outcome.details["health_checks"] = checks;
                return "";
              }
              last = "unhealthy" + (run ? " (" + run->exit.describe() + "): " + last_line(run->out + "\n" + run->err)
                                        : ": " + run.error().message);
              const bool starting = Clock::now() - *running_since < check.timing.start_period;
              if (!starting && ++failures >= check.timing.retries) {
                outcome.details["health_checks"] = checks;
                return name + " is unhealthy: " + std::to_string(failures) + " consecutive health checks failed (" +
                       check.health + "; last: " + last + ")";
              }
              pause = starting ? std::min(check.timing.start_interval, check.timing.interval) : check.timing.interval;
            }
          } else {
            last = status.empty() ? "unknown state" : status;
          }
        }
      }
      if (!sleep_until_next(pause, deadline, stop)) return kStopped;
    }
    return name + " did not run healthy within " + seconds(s.timeout) + " (last: " + last + ")";
  }

  // Waits `pause` (at most until `deadline`); false when `stop` was requested.
  static bool sleep_until_next(std::chrono::milliseconds pause, Clock::time_point deadline,
                               const std::stop_token& stop) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::max(deadline - Clock::now(), Clock::duration::zero()));
    std::mutex m;
    std::condition_variable_any cv;
    std::unique_lock lock(m);
    cv.wait_for(lock, stop, std::min(pause, left), [] { return false; });
    return !stop.stop_requested();
  }

  ComposeOptions options_;
};

}  // namespace

namespace {

// A Compose service name (the specification's [a-zA-Z0-9._-]+), not starting
// with '-' (the name ends podman-compose's argv) nor '.'; it is also a JSON
// pointer token of the override document, which '~' and '/' would break.
bool valid_service(const std::string& name) {
  static const std::regex re("[a-zA-Z0-9_][a-zA-Z0-9._-]*");
  return std::regex_match(name, re);
}

}  // namespace

Result<ComposeSettings> parse_compose_settings(const json& settings) {
  if (!settings.is_object()) return make_error(Errc::invalid_argument, "deploy.compose: must be a mapping");
  ComposeSettings s;
  static const std::regex project_re("[a-z0-9][a-z0-9_-]*");
  for (const auto& [key, value] : settings.items()) {
    if (key == "project") {
      if (!value.is_string() || !std::regex_match(value.get<std::string>(), project_re)) {
        return setting_error(key, "must be lower-case letters, digits, '_' and '-'");
      }
      s.project = value.get<std::string>();
    } else if (key == "file") {
      if (!value.is_string() || !fs::path(value.get<std::string>()).is_absolute()) {
        return setting_error(key, "must be an absolute path");
      }
      s.file = value.get<std::string>();
    } else if (key == "service") {
      if (!value.is_string() || !valid_service(value.get<std::string>())) {
        return setting_error(key, "must be a service name (letters, digits, '.', '_', '-'; not starting with '-')");
      }
      s.service = value.get<std::string>();
    } else if (key == "engine") {
      if (value != "podman" && value != "docker") return setting_error(key, "must be podman or docker");
      s.engine = value.get<std::string>();
    } else if (key == "image") {
      if (!value.is_string() || value.get<std::string>().empty()) return setting_error(key, "must be an image name");
      s.image = value.get<std::string>();
    } else if (key == "timeout") {
      auto d = config::parse_duration(value);
      if (!d) return setting_error(key, d.error().message);
      s.timeout = *d;
    } else {
      return setting_error(key, "unknown setting");
    }
  }
  if (s.project.empty()) return setting_error("project", "is required");
  if (s.file.empty()) return setting_error("file", "is required");
  if (s.service.empty()) {
    auto only = only_service(s.file);
    if (!only) return std::move(only).error();
    if (!valid_service(*only)) return setting_error("file", s.file + ": service name \"" + *only + "\" is not valid");
    s.service = *only;
  }
  return s;
}

namespace {

// A Compose duration: one or more <number><unit>, units us, ms, s, m, h ("1m30s").
std::optional<std::chrono::milliseconds> compose_duration(const std::string& text) {
  static const std::regex whole("([0-9]+(\\.[0-9]+)?(us|ms|s|m|h))+");
  static const std::regex part("([0-9]+(?:\\.[0-9]+)?)(us|ms|s|m|h)");
  if (!std::regex_match(text, whole)) return std::nullopt;
  double ms = 0;
  for (std::sregex_iterator it(text.begin(), text.end(), part), end; it != end; ++it) {
    const double n = std::stod((*it)[1].str());
    const std::string unit = (*it)[2].str();
    ms += unit == "us" ? n / 1000 : unit == "ms" ? n : unit == "s" ? n * 1e3 : unit == "m" ? n * 60e3 : n * 3600e3;
  }
  return std::chrono::milliseconds(static_cast<long long>(ms));
}

}  // namespace

Result<ComposeHealthCheck> compose_healthcheck(const std::string& file, const std::string& service) {
  const std::string where = file + ": services." + service + ".healthcheck";
  const auto bad = [&where](const std::string& what) { return make_error(Errc::invalid_argument, where + what); };
  ComposeHealthCheck check;
  try {
    const YAML::Node doc = YAML::LoadFile(file);
    const YAML::Node services = doc["services"];
    if (!services || !services.IsMap() || !services[service]) {
      return make_error(Errc::invalid_argument, file + ": no service " + service);
    }
    const YAML::Node hc = services[service]["healthcheck"];
    if (!hc || hc.IsNull()) return check;
    if (!hc.IsMap()) return bad(": must be a mapping");
    if (hc["disable"] && hc["disable"].as<bool>()) {
      check.kind = ComposeHealthCheck::Kind::disabled;
      return check;
    }
    for (const auto& [key, field] : {std::pair<const char*, std::chrono::milliseconds*>{"interval", &check.interval},
                                     {"timeout", &check.timeout},
                                     {"start_period", &check.start_period},
                                     {"start_interval", &check.start_interval}}) {
      if (!hc[key]) continue;
      const auto d = hc[key].IsScalar() ? compose_duration(hc[key].Scalar()) : std::nullopt;
      if (!d) return bad(std::string(".") + key + ": must be a duration like 30s, 1m30s or 500ms");
      *field = *d;
    }
    if (hc["retries"]) {
      check.retries = hc["retries"].as<int>();
      if (check.retries < 1) return bad(".retries: must be at least 1");
    }
    const YAML::Node test = hc["test"];
    if (!test) return check;  // timing only: the image's test
    if (test.IsScalar()) {
      check.kind = ComposeHealthCheck::Kind::shell;
      return check;
    }
    if (!test.IsSequence() || test.size() == 0) return bad(".test: must be a string or a list");
    const std::string form = test[0].as<std::string>();
    if (form == "NONE") {
      check.kind = ComposeHealthCheck::Kind::disabled;
    } else if (form == "CMD-SHELL") {
      check.kind = ComposeHealthCheck::Kind::shell;
    } else if (form == "CMD") {
      if (test.size() < 2) return bad(".test: [\"CMD\"] names no command");
      check.kind = ComposeHealthCheck::Kind::exec;
      for (std::size_t i = 1; i < test.size(); ++i) check.argv.push_back(test[i].as<std::string>());
    } else {
      return bad(".test: must start with CMD, CMD-SHELL or NONE");
    }
    return check;
  } catch (const YAML::Exception& e) {
    return make_error(Errc::invalid_argument, "cannot read " + where + ": " + e.what());
  }
}

std::vector<std::string> health_exec_argv(const std::string& engine, const std::string& container,
                                          const ComposeHealthCheck& check) {
  std::vector<std::string> argv{engine, "exec", container};
  argv.insert(argv.end(), check.argv.begin(), check.argv.end());
  return argv;
}

std::string override_document(const std::string& service, const std::string& image) {
  return json{{"services", {{service, {{"image", image}}}}}}.dump(2) + "\n";
}

std::string override_image(const std::string& document, const std::string& service) {
  const json doc = json::parse(document, nullptr, false);
  const json::json_pointer p("/services/" + service + "/image");
  if (doc.is_discarded() || !doc.contains(p) || !doc.at(p).is_string()) return "";
  return doc.at(p).get<std::string>();
}

std::vector<std::string> up_argv(const ComposeSettings& s, const std::string& override_file) {
  std::vector<std::string> argv =
      s.engine == "docker" ? std::vector<std::string>{"docker", "compose"} : std::vector<std::string>{"podman-compose"};
  for (const std::string& arg : {std::string("-p"), s.project, std::string("-f"), s.file, std::string("-f"),
                                 override_file, std::string("up"), std::string("-d"), std::string("--no-deps"),
                                 std::string("--force-recreate"), s.service}) {
    argv.push_back(arg);
  }
  return argv;
}

process::Environment compose_environment() {
  return process::inherit({"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME",
                           "XDG_DATA_HOME", "CONTAINERS_CONF", "CONTAINERS_STORAGE_CONF",
                           "CONTAINERS_REGISTRIES_CONF", "REGISTRY_AUTH_FILE", "DOCKER_HOST", "DOCKER_CONFIG",
                           "DOCKER_CONTEXT"});
}

std::unique_ptr<Backend> make_compose_backend(ComposeOptions options) {
  return std::make_unique<ComposeBackend>(std::move(options));
}

}  // namespace conveyor::deployer
