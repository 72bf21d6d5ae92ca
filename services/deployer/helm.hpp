// The `helm` deploy backend: `helm upgrade --install` of the chart in the
// GitOps checkout with its values file, `--wait --timeout`, and
// `helm rollback` to the last good revision (Helm v3 CLI, run through
// libs/process: argv only, an environment allowlist, a timeout per command).
//
// deploy:
//   1. `helm history <release> -o json`: "release: not found" -> first deploy;
//      the newest revision pending-install/-upgrade/-rollback -> the release is
//      stuck: failed Outcome naming status and time, or, with
//      deploy.helm.recover-pending, `helm rollback` to the last
//      deployed/superseded revision first (none -> failed Outcome).
//   2. `helm upgrade --install <release> <chart> --namespace=<ns>
//      [--values=<file>] --wait --timeout=<d> --history-max=N --output=json
//      [--kube-context=<c>]`; the printed release gives the new revision.
//      No --create-namespace unless HelmOptions::create_namespace (namespaces
//      usually belong to the cluster's admins, and creating one needs
//      cluster-wide rights).
//   Outcome: revision = the new release revision, previous_revision = the
//   newest deployed/superseded revision before it ("" and first_deploy on the
//   first install).
// rollback(revision): "" -> the newest deployed/superseded revision below the
//   current one (from history); `helm rollback <release> <rev> --wait
//   --timeout`, then history for the resulting revision. Needs no checkout
//   (the handler gives a rollback none): the chart and values file of the
//   settings are not looked at.
//
// A helm command that fails, or outlives deploy.helm.timeout plus
// HelmOptions::margin, is a failed Outcome whose reason names the command and
// ends with helm's last stderr lines. Bad settings (an invalid release name,
// a chart or values path leaving the checkout) are failed Outcomes too: a
// retry cannot fix them. An Error is returned only when helm could not be
// started for lack of resources, or when Target::stop ended a command (the
// service is draining; the request is redelivered).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "backend.hpp"
#include "conveyor/process/process.hpp"

namespace conveyor::deployer {

// How the helm backend runs helm.
struct HelmOptions {
  // The helm program: a path or a name looked up in PATH. "" = $CONVEYOR_HELM
  // when set, else "helm".
  std::string program;
  // Variables of the deployer's environment handed to helm (when set). Only
  // these: the service's own secrets never reach helm.
  std::vector<std::string> env_allowlist{"PATH",           "HOME",           "KUBECONFIG",
                                         "HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME",
                                         "HELM_DRIVER",     "XDG_CACHE_HOME", "XDG_CONFIG_HOME",
                                         "XDG_DATA_HOME"};
  // Set on top of the allowlisted ones (tests, or a fixed KUBECONFIG).
  process::Environment env;
  // A command may run this much longer than deploy.helm.timeout before it is
  // ended (helm needs time to report its own timeout).
  std::chrono::milliseconds margin{std::chrono::seconds(60)};
  // Upper bound for the read-only commands (history).
  std::chrono::milliseconds query_timeout{std::chrono::seconds(120)};
  // SIGTERM -> SIGKILL grace when a command is ended.
  std::chrono::milliseconds kill_grace{std::chrono::seconds(5)};
  int history_max = 10;     // helm upgrade --history-max
  int history_read = 50;    // helm history --max
  bool create_namespace = false;
};

// A Backend running helm as described above. Safe to share between threads.
std::unique_ptr<Backend> make_helm_backend(HelmOptions options = {});

}  // namespace conveyor::deployer
