// Plain pieces of the argocd backend: the checked settings (deploy.argocd of
// conveyor.yaml), the request bodies and what the backend reads of an Argo CD
// Application (`GET /api/v1/applications/{name}`, Argo CD v2 REST API:
// status.sync, status.health, status.operationState, status.history).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "conveyor/result/result.hpp"

namespace conveyor::deployer {

// deploy.argocd after checking.
struct ArgoCdSettings {
  std::string url;  // base URL without a trailing '/', e.g. "https://argocd.example.com"
  std::string app;  // Application name
  std::chrono::milliseconds timeout{std::chrono::minutes(10)};      // until Synced/Healthy
  std::chrono::milliseconds poll_interval{std::chrono::seconds(5)}; // between status reads
};

// Checks deploy.argocd: url http(s) without credentials, app non-empty,
// durations valid and positive; timeout and poll-interval default to those
// of `defaults`. invalid_argument naming the key.
Result<ArgoCdSettings> parse_argocd_settings(const nlohmann::json& settings, const ArgoCdSettings& defaults = {});

// "<url>/api/v1/applications/<app percent-encoded>" plus `suffix` ("/sync").
std::string argocd_app_url(const ArgoCdSettings& s, std::string_view suffix = "");

// Body of POST .../sync (ApplicationSyncRequest): {"name", "prune": false}.
nlohmann::json argocd_sync_body(const ArgoCdSettings& s);
// Body of POST .../rollback (ApplicationRollbackRequest): {"name", "id", "prune": false}.
nlohmann::json argocd_rollback_body(const ArgoCdSettings& s, long long history_id);

// One status.history[] entry (RevisionHistory).
struct ArgoHistoryEntry {
  long long id = 0;
  std::string revision;     // the Git revision deployed
  std::string deployed_at;
};

// What the backend reads of an Application.
struct ArgoAppState {
  std::string sync_status;       // status.sync.status: Synced, OutOfSync, Unknown
  std::string sync_revision;     // status.sync.revision
  std::string health_status;     // status.health.status: Healthy, Progressing, Degraded, Suspended, Missing, Unknown
  std::string health_message;    // status.health.message
  bool operation_requested = false;  // top-level `operation` set (not yet picked up)
  std::string op_phase;          // status.operationState.phase: Running, Succeeded, Failed, Error, Terminating
  std::string op_message;        // status.operationState.message
  std::string op_started_at;     // status.operationState.startedAt: tells operations apart
  std::vector<ArgoHistoryEntry> history;  // sorted by id

  // The newest history id, or nullopt when the app was never deployed.
  std::optional<long long> last_history_id() const;
};

// Parses an Application JSON. invalid_argument when it is not one (no
// metadata/status object). History ids may be numbers or strings (int64 in
// grpc-gateway JSON).
Result<ArgoAppState> parse_argocd_app(std::string_view json_text);

// Argo CD's error message from an error answer ({"error": ..., "message": ...}),
// else "" .
std::string argocd_error_message(std::string_view body);

}  // namespace conveyor::deployer
