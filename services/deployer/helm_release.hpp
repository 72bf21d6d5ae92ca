// Plain pieces of the helm backend, kept apart from running helm so they are
// tested alone: the checked settings (deploy.helm of conveyor.yaml), the argv
// of each helm command, and parsing of helm's JSON outputs (Helm v3:
// `helm history -o json` is cmd/helm/history.go's releaseInfo list,
// `helm upgrade -o json` / `helm status -o json` a pkg/release Release).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend.hpp"
#include "conveyor/result/result.hpp"

namespace conveyor::deployer {

// deploy.helm after checking (schemas/conveyor.schema.json#/definitions/deployStage).
struct HelmSettings {
  std::string release;                    // a Helm release name (DNS-1123 subdomain, <= 53)
  std::string namespace_ = "default";     // a Kubernetes namespace (DNS-1123 label)
  std::string chart;                      // absolute chart directory inside the checkout, or an oci:// reference
  std::string chart_as_written;           // as in conveyor.yaml, for events
  std::optional<std::string> values_file; // absolute path inside the checkout
  std::optional<std::string> kube_context;
  std::chrono::milliseconds timeout{std::chrono::minutes(10)};  // helm --timeout
  bool recover_pending = false;
};

// Checks `settings` (deploy.helm) against `checkout_dir`. Release and
// namespace must be valid Kubernetes names (so none starts with '-' and is
// read by helm as a flag); the chart (unless oci://) and the values file are
// relative paths that stay inside the checkout, symlinks included, and exist.
// With `resolve_paths` false (a rollback: `helm history` and `helm rollback`
// read neither the chart nor the values file, and the deployer has no
// checkout then) the chart is required but kept as written, not looked up,
// and `values_file` stays empty; `checkout_dir` is ignored.
// Errors: invalid_argument with the offending key.
Result<HelmSettings> parse_helm_settings(const nlohmann::json& settings, const std::string& checkout_dir,
                                         bool resolve_paths = true);

// A duration as helm's --timeout takes it (Go syntax): "600s", "1500ms".
std::string go_duration(std::chrono::milliseconds d);

// argv (without the program) of each command the backend runs. Every value
// is given as --flag=value, so no value is ever taken for another flag.
std::vector<std::string> helm_history_args(const HelmSettings& s, int max);
std::vector<std::string> helm_upgrade_args(const HelmSettings& s, bool create_namespace, int history_max);
std::vector<std::string> helm_rollback_args(const HelmSettings& s, int revision);

// One entry of `helm history -o json`.
struct HelmRevision {
  int revision = 0;
  std::string updated;      // RFC 3339 as helm prints it
  std::string status;       // deployed, superseded, failed, pending-install, ...
  std::string chart;        // "<name>-<version>"
  std::string app_version;
  std::string description;
};

// Parses `helm history -o json` output, sorted by revision. invalid_argument
// when it is not that JSON.
Result<std::vector<HelmRevision>> parse_helm_history(std::string_view json_text);

// The release fields the backend uses from `helm upgrade -o json` /
// `helm status -o json`.
struct HelmReleaseInfo {
  int revision = 0;   // "version"
  std::string status; // info.status
  std::string app_version;
  std::string chart;  // "<name>-<version>" from chart.metadata
};
Result<HelmReleaseInfo> parse_helm_release(std::string_view json_text);

// True for pending-install, pending-upgrade and pending-rollback.
bool is_pending_status(std::string_view status);

// The newest revision whose status is deployed or superseded with a number
// below `below` (0 = any): what ran last. nullptr when there is none.
const HelmRevision* last_good_revision(const std::vector<HelmRevision>& history, int below = 0);

// Helm's "not found" answers to status/history of an unknown release.
bool is_release_not_found(std::string_view helm_stderr);

// `text` as one line for an Outcome reason: each value of `secrets` replaced
// by "[redacted]", the last `lines` non-empty lines joined by " | ",
// at most `max_chars` (cut at a UTF-8 boundary). Shared by both cluster backends.
std::string reason_excerpt(std::string_view text, const std::vector<std::string>& secrets, int lines = 2,
                           std::size_t max_chars = 400);

// Outcome shorthands shared by both cluster backends: a failed one with
// `reason`, a successful one running `revision`.
inline Outcome failed_outcome(std::string reason) {
  Outcome o;
  o.reason = std::move(reason);
  return o;
}
inline Outcome ok_outcome(std::string revision) {
  Outcome o;
  o.ok = true;
  o.revision = std::move(revision);
  return o;
}

}  // namespace conveyor::deployer
