// A deploy backend: how one pipeline's release reaches its environment
// (compose on a single host, helm, or Argo CD). The deployer's handler picks
// one per request from the pipeline's `deploy` settings (exactly one of
// `compose`, `helm`, `argocd`), holds the environment's lock around it, and
// turns the result into CDEvents (service.deployed / upgraded / rolledback).
//
// Failure policy, shared by every backend:
// - a deploy or rollback that ran and did not succeed (the command failed,
//   timed out, the app never became healthy, Argo CD reported Degraded)
//   is a value: Outcome{ok = false, reason} -> the stage fails with `reason`;
// - an Error return means the backend could not find out (Redis, a network
//   error before anything was changed): the worker retries the request.
// Reasons are one line, name the command or endpoint, and never contain a
// secret (tokens are masked) or a URL's credentials.
#pragma once

#include <chrono>
#include <optional>
#include <stop_token>
#include <string>

#include <nlohmann/json.hpp>

#include "conveyor/result/result.hpp"

namespace conveyor::deployer {

// What a request asks to deploy, resolved by the handler from the run.
struct Target {
  std::string environment;   // deploy.environment ("production")
  std::string repository;    // "<owner>/<repo>" of the run
  std::string run_id;
  std::string sha;           // the run's commit
  std::string version;       // run.outputs.version.version, else the short SHA
  // The image to run: "<repository>@<digest>" of the first built image
  // (run.outputs.build), or "" when the pipeline built none. Compose uses it.
  std::string image;
  // A checkout of the GitOps repository at the commit the helm stage made
  // (run.outputs.helm.commit), or of the app repository at `sha` when there is
  // no helm stage; "" when the backend needs none (argocd, compose). Helm
  // reads its chart and values file relative to it.
  std::string checkout_dir;
  // The backend's own settings: the pipeline's deploy.<backend> object as in
  // conveyor.yaml (schema: schemas/conveyor.schema.json#/definitions/deployStage),
  // with secret references already resolved into `secrets`.
  nlohmann::json settings = nlohmann::json::object();
  nlohmann::json secrets = nlohmann::json::object();  // e.g. {"token": "..."} for argocd; never logged
  std::stop_token stop;      // the service is draining: give up promptly
};

// The result of a deploy or a rollback.
struct Outcome {
  bool ok = false;
  std::string reason;        // why it failed (ok == false), one line
  // The backend's identifier of what now runs: helm release revision ("7"),
  // Argo CD history id ("12"), compose image reference.
  std::string revision;
  // What ran before this deploy ("" on the first deploy of the environment):
  // what a rollback goes back to.
  std::string previous_revision;
  bool first_deploy = false; // nothing of this app ran there before -> service.deployed
  // Extra facts for the event and the run outputs (commands run, timings,
  // container id, Argo CD sync/health status ...). Must hold no secret.
  nlohmann::json details = nlohmann::json::object();
};

class Backend {
 public:
  virtual ~Backend() = default;
  // "compose", "helm" or "argocd".
  virtual std::string name() const = 0;
  // Deploys `target` and waits until it runs healthy or its timeout
  // (settings.timeout, default 5m) passes.
  virtual Result<Outcome> deploy(const Target& target) = 0;
  // Goes back to `revision` (an earlier Outcome::revision of this
  // environment; "" = the backend's own notion of the last good one, e.g.
  // `helm rollback <release>` with revision 0) and waits as deploy does.
  virtual Result<Outcome> rollback(const Target& target, const std::string& revision) = 0;
};

}  // namespace conveyor::deployer
