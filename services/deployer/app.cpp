#include "app.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "argocd.hpp"
#include "compose.hpp"
#include "conveyor/gitops/git.hpp"
#include "conveyor/runtime/service.hpp"
#include "conveyor/stage/stage.hpp"
#include "handler.hpp"
#include "helm.hpp"

namespace conveyor::deployer {
namespace {

namespace fs = std::filesystem;

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

// Deployer state (compose override files, GitOps workspaces):
// $CONVEYOR_DEPLOYER_DIR, else <$CONVEYOR_STATE or ~/.local/state/conveyor>/deployer.
std::string default_state_dir() {
  const std::string state = env_or("CONVEYOR_STATE", env_or("HOME", "/root") + "/.local/state/conveyor");
  return env_or("CONVEYOR_DEPLOYER_DIR", state + "/deployer");
}

// podman's configuration when the service's environment names none:
// $CONVEYOR_CONTAINERS_DIR, else deploy/containers of the source tree, else
// /etc/conveyor/containers (registries.conf there lets podman pull from the
// plain-HTTP local registry).
void default_containers_config(process::Environment& env) {
  std::string dir = env_or("CONVEYOR_CONTAINERS_DIR", "");
  for (const char* candidate : {CONVEYOR_SOURCE_CONTAINERS_DIR, "/etc/conveyor/containers"}) {
    std::error_code ec;
    if (dir.empty() && fs::is_regular_file(std::string(candidate) + "/containers.conf", ec)) dir = candidate;
  }
  if (dir.empty()) return;
  for (const auto& [variable, file] : {std::pair<const char*, const char*>{"CONTAINERS_CONF", "containers.conf"},
                                       {"CONTAINERS_STORAGE_CONF", "storage.conf"},
                                       {"CONTAINERS_REGISTRIES_CONF", "registries.conf"}}) {
    std::error_code ec;
    if (!env.contains(variable) && fs::is_regular_file(dir + "/" + file, ec)) env[variable] = dir + "/" + file;
  }
}

std::string lock_owner() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + std::to_string(getpid());
}

}  // namespace

int run(runtime::Service& service) {
  auto& log = service.logger;
  const std::string state_dir = default_state_dir();
  std::error_code ec;
  fs::create_directories(state_dir + "/work", ec);
  if (ec) {
    log.error("cannot create the state directory", {{"dir", state_dir}, {"error", ec.message()}});
    return 1;
  }
  auto redis = runtime::connect_redis(service, 4);
  if (!redis) {
    log.error("cannot connect to Redis", {{"error", redis.error().message}});
    return 1;
  }
  store::Locks locks(*redis);
  DeployState state(*redis);
  gitops::GitCli git;

  HandlerOptions options;
  options.source = "/conveyor/" + service.name;
  options.owner = lock_owner();
  options.work_dir = state_dir + "/work";
  ComposeOptions compose;
  compose.state_dir = state_dir + "/compose";
  default_containers_config(compose.env);
  const auto setting = [&compose](const char* name) { return compose.env.contains(name) ? compose.env.at(name) : ""; };
  log.info("deployer", {{"state_dir", state_dir},
                        {"owner", options.owner},
                        {"containers_conf", setting("CONTAINERS_CONF")},
                        {"registries_conf", setting("CONTAINERS_REGISTRIES_CONF")}});

  BackendFactory backends = [compose](const std::string& name) -> Result<std::unique_ptr<Backend>> {
    if (name == "compose") return make_compose_backend(compose);
    if (name == "helm") return make_helm_backend();
    if (name == "argocd") return make_argocd_backend();
    return make_error(Errc::invalid_argument, "unknown deploy backend " + name);
  };
  Handler handler(options, backends, locks, state, git, log);

  stage::StageServiceOptions stage_options;
  stage_options.stage = "deploy";
  // Different environments deploy in parallel; one environment waits on its lock.
  stage_options.concurrency = 4;
  return stage::run(service, stage_options,
                    [&handler](const events::StageRequest& request, const stage::Publish& publish) {
                      return handler.handle(request, publish, stage::current_stop_token());
                    });
}

}  // namespace conveyor::deployer
