// The `argocd` deploy backend: syncs an Argo CD Application through Argo CD's
// REST API (v2, https://argo-cd.readthedocs.io/en/stable/developer-guide/api-docs/)
// and waits until it runs what Git says, healthy.
//
// deploy:
//   1. GET  /api/v1/applications/{app}: what ran before (status.history) and
//      the last operation (status.operationState.startedAt);
//   2. POST /api/v1/applications/{app}/sync {"name", "prune": false}
//      (ApplicationSyncRequest; no revision: the app's targetRevision, which
//      for a GitOps pipeline holds the helm stage's commit);
//   3. GET the app every deploy.argocd.poll-interval (default 5s) until the
//      new operation Succeeded, status.sync.status == Synced,
//      status.health.status == Healthy and a new status.history entry exists;
//      operationState Failed/Error or health Degraded after the sync -> failed
//      Outcome with Argo CD's message; deploy.argocd.timeout (default 10m)
//      passing -> failed Outcome with the last seen statuses.
//   Outcome: revision = the new history id, previous_revision = the newest
//   id before it ("" and first_deploy when the history was empty).
// rollback(revision): POST /api/v1/applications/{app}/rollback {"name", "id",
//   "prune": false} (ApplicationRollbackRequest) with `revision` as the
//   history id, "" = the entry before the current one; then the same polling
//   (without Synced: a rolled back app is OutOfSync with Git by design).
//
// Every request carries `Authorization: Bearer <secrets.token>` (when given)
// and goes through libs/webclient (retries on 5xx / network, the token
// redacted). A refused request (401, 403, 404 app not found, 400 e.g.
// "another operation is already in progress") is a failed Outcome. Argo CD
// unreachable or answering 5xx before the sync was requested is an Error (the
// worker retries); while polling, such failures are tolerated until the
// timeout.
#pragma once

#include <memory>

#include "backend.hpp"
#include "conveyor/webclient/webclient.hpp"

namespace conveyor::deployer {

// How the argocd backend talks to Argo CD.
struct ArgoCdOptions {
  // The HTTP client (retry policy, per-attempt timeout; tests shorten the
  // backoff). Secrets and cancel are set per call by the backend.
  webclient::Options http = default_http();
  // Used when deploy.argocd leaves them out.
  std::chrono::milliseconds default_timeout{std::chrono::minutes(10)};
  std::chrono::milliseconds default_poll_interval{std::chrono::seconds(5)};

  // webclient defaults with a 15 s attempt timeout and a 30 s budget per call.
  static webclient::Options default_http() {
    webclient::Options o;
    o.attempt_timeout = std::chrono::seconds(15);
    o.retry.budget = std::chrono::seconds(30);
    return o;
  }
};

// A Backend driving Argo CD as described above. Safe to share between threads.
std::unique_ptr<Backend> make_argocd_backend(ArgoCdOptions options = {});

}  // namespace conveyor::deployer
