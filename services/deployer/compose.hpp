// The compose backend: single-host deploys of a container image with
// podman-compose (engine podman, the default) or `docker compose` (engine
// docker).
//
// The user's compose file is never edited. The deployer keeps its own
// override file per project, <state_dir>/<project>/override.yaml, that sets
// `services.<service>.image`, and runs
//   podman-compose -p <project> -f <file> -f <override> up -d --no-deps --force-recreate <service>
// (flags podman-compose 1.0.3 and docker compose both support), then polls
// the container until it runs and is healthy, by the health check of the
// service in the user's compose file (compose_healthcheck()):
//   - exec form `test: ["CMD", args...]`: `<engine> exec <container> args...`
//     (argv, no shell; exit 0 = healthy). podman-compose 1.0.3 would hand it
//     to podman as `/bin/sh -c ...`, which a FROM-scratch image cannot run;
//   - `["CMD-SHELL", cmd]` or a string: podman: `podman healthcheck run <id>`
//     (exit 0), because without systemd podman runs no checks on its own;
//     docker: State.Health.Status == "healthy" from `docker inspect`;
//   - no healthcheck key: the image's HEALTHCHECK the same way, and with none
//     (OCI images carry none) running counts as healthy;
//   - `disable: true` / `["NONE"]`: running counts as healthy.
//   Outcome.details.health says which (e.g. "none declared").
//   Checks run every `interval` (`start_interval`, default 5s, during
//   `start_period`), each bounded by `timeout`; `retries` consecutive
//   failures after `start_period` fail the deploy at once.
// A container that exits, or a timeout (settings.timeout, default 5m), is a
// failed Outcome with the reason; the Target's stop (the service drains) is
// Error unavailable. The override file is only replaced once the
// new image runs healthy, so it always names the last good image. A deploy
// that fails after `up` (up failed, no container, exited, unhealthy,
// timeout) puts that back: `up` again with the override (the previous image,
// not waited for), or on a first deploy `<engine> rm -f` of the failed
// container, so what runs is what the override and the deployer's state
// name; the reason ends with what was done ("; restored the previous image
// X"), also in details.restored.
// Rollback = the same with an earlier image (Outcome::revision is the image).
//
// Every command is an argv vector (libs/process) with a timeout, run in the
// compose file's directory, with an allow-listed environment (see
// compose_environment()).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend.hpp"
#include "conveyor/process/process.hpp"

namespace conveyor::deployer {

// deploy.compose of conveyor.yaml (schema definition deployStage.compose).
struct ComposeSettings {
  std::string project;
  std::string file;     // absolute path of the user's compose file
  std::string service;  // the service whose image is replaced
  std::string engine = "podman";
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};
  // images[].name of the build stage to run ("" = the run's only image); the
  // handler resolves it (run_image() in handler.hpp) into Target::image.
  std::string image;
};

// Parses and checks the settings; a missing `service` is the file's only
// service (read with yaml-cpp). A service name is letters, digits, '.', '_'
// and '-', starting with a letter, digit or '_' (never read as a flag).
// Errors (invalid_argument) name the setting.
Result<ComposeSettings> parse_compose_settings(const nlohmann::json& settings);

// services.<service>.healthcheck of a compose file (Compose specification).
struct ComposeHealthCheck {
  enum class Kind {
    absent,    // no healthcheck key: the image's HEALTHCHECK, if any
    disabled,  // disable: true, or test: ["NONE"]
    exec,      // test: ["CMD", args...]: run as argv in the container
    shell,     // test: ["CMD-SHELL", command] or a string: the engine's own check
  };
  Kind kind = Kind::absent;
  std::vector<std::string> argv;  // exec: the arguments after "CMD" (no ${VAR} interpolation)
  std::chrono::milliseconds interval{std::chrono::seconds(30)};       // between checks
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};        // bound of one check
  std::chrono::milliseconds start_period{0};                          // failures in it do not count
  std::chrono::milliseconds start_interval{std::chrono::seconds(5)};  // between checks during start_period
  int retries = 3;  // consecutive failures that make the container unhealthy
};

// Reads the service's healthcheck from `file` (yaml-cpp). Durations are
// Compose's ("1m30s", "500ms", "2s"). Errors (invalid_argument) name the key.
Result<ComposeHealthCheck> compose_healthcheck(const std::string& file, const std::string& service);

// `<engine> exec <container> args...` for an exec-form check.
std::vector<std::string> health_exec_argv(const std::string& engine, const std::string& container,
                                          const ComposeHealthCheck& check);

// The override document (JSON, which is YAML): {"services": {<service>: {"image": <image>}}}.
std::string override_document(const std::string& service, const std::string& image);

// The image an override document sets for `service`; "" when none.
std::string override_image(const std::string& document, const std::string& service);

// The `up` command line for `settings` with the override file.
std::vector<std::string> up_argv(const ComposeSettings& settings, const std::string& override_file);

// The environment of every command: PATH, HOME, locale, TMPDIR, XDG_* of this
// process, the containers configuration (CONTAINERS_CONF,
// CONTAINERS_STORAGE_CONF, CONTAINERS_REGISTRIES_CONF, REGISTRY_AUTH_FILE)
// and Docker's (DOCKER_HOST, DOCKER_CONFIG, DOCKER_CONTEXT); nothing else.
process::Environment compose_environment();

struct ComposeOptions {
  std::string state_dir;                                  // override files live here, per project
  process::Environment env = compose_environment();
  std::chrono::milliseconds command_timeout{std::chrono::minutes(5)};  // bound of one up/inspect command
  std::chrono::milliseconds poll_interval{std::chrono::milliseconds(500)};
};

// The backend; `name()` is "compose".
std::unique_ptr<Backend> make_compose_backend(ComposeOptions options);

}  // namespace conveyor::deployer
