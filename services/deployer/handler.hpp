// The deploy stage (topic <prefix>.stage.deploy): one deploy at a time per
// environment, through the backend the pipeline names, with the state a
// rollback needs.
//
// Deploy request (settings = conveyor.yaml `deploy`, schema definition
// deployStage):
//   1. a commit marked bad in the environment by a rollback is refused (the
//      stage fails with the reason); a new commit deploys normally;
//   2. the environment's lock (store::Locks "deploy:<env>", TTL
//      HandlerOptions::lock_ttl, extended by a heartbeat while the backend
//      runs, so a dead holder's lock expires) is polled for until
//      `lock-timeout` (default 30m) passes, then the stage fails;
//   3. Backend::deploy; on success the environment's state (state.hpp) gets
//      the new entry, written with the lock's fencing token;
//   4. service.deployed (the environment's state has no entry yet, whatever
//      the backend saw there, so a deploy redelivered after the backend ran
//      but before the state was saved is still the first) or
//      service.upgraded, with the environment and the artifact purl (the
//      image compose deploys; for helm/argocd the run's only built image, else
//      pkg:generic/<pipeline>@<version>).
// Outputs (run.outputs.deploy): {environment, backend, revision, previous,
// image, first, service, artifact, fence, settings (the backend's, as in
// conveyor.yaml), details}.
//
// Rollback request (stage::is_rollback: settings.action == "rollback", from
// the health verifier or `conveyor rollback`; settings.environment names the
// environment): marks the run's commit bad there, takes the lock, restores
// the entry that ran before the run's deploy with Backend::rollback, records
// it as current, emits service.rolledback, and when the run's helm stage
// changed a GitOps values file (run.outputs.helm.changed), commits and pushes
// the revert of those keys ("revert: <the helm commit subject>"), re-applied
// on a branch that moved. No previous deployment, or a run that is not what
// runs in the environment: the stage fails with the reason. A rollback
// publishes no further request (no rollback of a rollback).
//
// Errors (Redis, git unreachable) are returned for the worker to retry; a
// redelivered request repeats idempotently (the same state entry, a revert
// already in Git is not committed twice).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>

#include <nlohmann/json.hpp>

#include "backend.hpp"
#include "conveyor/events/run.hpp"
#include "conveyor/gitops/gitops.hpp"
#include "conveyor/logging/log.hpp"
#include "conveyor/stage/stage.hpp"
#include "conveyor/store/store.hpp"
#include "state.hpp"

namespace conveyor::deployer {

// The backend for a `deploy` settings key ("compose", "helm", "argocd");
// Error invalid_argument when that backend is not available.
using BackendFactory = std::function<Result<std::unique_ptr<Backend>>(const std::string& name)>;

struct HandlerOptions {
  std::string source = "/conveyor/deployer";  // CDEvents source
  std::string owner = "deployer";             // lock owner (host:pid of the service)
  std::chrono::milliseconds lock_ttl{std::chrono::seconds(60)};
  std::chrono::milliseconds lock_poll{std::chrono::seconds(1)};
  std::chrono::seconds bad_ttl{std::chrono::hours(24 * 30)};  // how long a rolled-back commit stays refused
  std::string work_dir;                       // GitOps workspaces (removed after use)
  gitops::Author author;                      // author of revert commits
  int max_push_attempts = 5;
};

// The parts of a `deploy` settings object the handler reads.
struct DeploySettings {
  std::string environment;
  std::chrono::milliseconds lock_timeout{std::chrono::minutes(30)};
  std::string backend;                                     // "compose", "helm" or "argocd"
  nlohmann::json backend_settings = nlohmann::json::object();
};

// Parses a deploy request's settings; exactly one backend key. Errors
// (invalid_argument) name the setting.
Result<DeploySettings> parse_settings(const nlohmann::json& settings);

// The image of a run: "<repository>@<digest>" of image `name` of
// run.outputs.build.images (the image-builder's outputs, an object keyed by
// the build stage's image names, which keeps no order), and its artifact
// purl. `name` "" = the only image the run built; both fields "" when it
// built none. Errors (invalid_argument, message "image: ..."): `name` was not
// built, or no name and several images (deploy.compose.image must pick one).
struct RunImage {
  std::string image;
  std::string artifact;
};
Result<RunImage> run_image(const events::RunContext& run, const std::string& name = "");

class Handler {
 public:
  Handler(HandlerOptions options, BackendFactory backends, store::Locks& locks, DeployState& state,
          gitops::GitOps& git, log::Logger logger = log::Logger("deployer"));

  // The stage::Handler: never throws. `stop` (stage::current_stop_token() in
  // the service) is requested when the service drains: lock waits and the
  // backend's waits end early, and a request that did not finish returns
  // Error unavailable ("stopped: ..."), so the worker hands it back
  // uncommitted for the next instance (idempotency and the lock make the
  // repeat safe) instead of recording a failure.
  Result<stage::StageResult> handle(const events::StageRequest& request, const stage::Publish& publish,
                                    std::stop_token stop = {});

 private:
  Result<stage::StageResult> deploy(const events::StageRequest& request, const std::stop_token& stop);
  Result<stage::StageResult> rollback(const events::StageRequest& request, const std::stop_token& stop);
  // Commits the revert of run.outputs.helm; outputs {commit, changed} or a
  // failure reason (Result of a string error message in `failure`).
  Result<nlohmann::json> revert_values(const events::StageRequest& request, const std::string& environment,
                                       std::string& failure);

  HandlerOptions options_;
  BackendFactory backends_;
  store::Locks& locks_;
  DeployState& state_;
  gitops::GitOps& git_;
  log::Logger log_;
};

}  // namespace conveyor::deployer
