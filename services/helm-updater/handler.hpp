// The helm stage: set key paths of a Helm values file in a GitOps repository
// to values rendered from the run (version, sha, image digests), commit
// `chore(deploy): <pipeline> <version> to <environment> [skip ci]`, push.
//
// - The edit is libs/values: only the scalars set change; the diff is one line
//   per key. A missing key or file, invalid YAML, a template that cannot be
//   expanded: the stage fails with the reason (nothing is committed).
// - Already at the values: no commit, success (changed = false). This also
//   makes a redelivery after a crash between push and outcome harmless.
// - Push rejected because the branch moved: fetch, re-apply on the new tip,
//   push again, up to HandlerOptions::max_push_attempts times.
// - Git unreachable or a server error: an Error, so the stage runtime retries
//   (and finally dead-letters) the request.
//
// Outputs (run.outputs.helm), which the deployer uses to revert on rollback:
//   {"repository": "<url without credentials>", "branch": "main",
//    "file": "k8s/values.yaml", "commit": "<sha of the tip holding the values>",
//    "changed": true, "previous": {"<key>": "<old value>" | null},
//    "values": {"<key>": "<new value>"},
//    "token-ref": {"env": "NAME"} | {"file": "/path"}   (only with values.token:
//    the reference as configured, never the token itself)}
// Events: dev.conveyor.values.committed.0.1.0 when a commit was pushed
// (schemas/events/values-committed.schema.json).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "conveyor/config/config.hpp"
#include "conveyor/events/run.hpp"
#include "conveyor/logging/log.hpp"
#include "conveyor/stage/stage.hpp"
#include "conveyor/gitops/gitops.hpp"

namespace conveyor::helm_updater {

// The GitOps plumbing lives in libs/gitops (shared with the deployer).
using gitops::Author;
using gitops::Checkout;
using gitops::GitOps;
using gitops::Remote;
using gitops::redact_url;

inline constexpr const char* kValuesCommittedType = "dev.conveyor.values.committed.0.1.0";

// The stage settings (conveyor.yaml `values`, schema definition valuesStage).
struct ValuesSettings {
  std::string repository;
  std::string branch = "main";
  std::string file;
  std::vector<std::pair<std::string, std::string>> set;  // key path -> template
  Author author;
  std::optional<config::SecretRef> token;
  std::optional<std::size_t> document;
};

// Parses and checks the settings (key paths parse, branch is a plain branch
// name, file is relative and stays inside the repository). Errors
// (invalid_argument) name the setting.
Result<ValuesSettings> parse_settings(const nlohmann::json& settings);

// "chore(deploy): <pipeline> <version> to <environment> [skip ci]": version
// from the run (else the short sha), environment from the deploy stage still
// in the slip (else "default").
std::string commit_subject(const events::StageRequest& request);

// dev.conveyor.values.committed.0.1.0 for a pushed commit; subject id = the
// commit, content {repository, branch, file, commit, changes: {key: {previous, value}}}.
nlohmann::json values_committed(const events::RunContext& run, const std::string& source,
                                const nlohmann::json& outputs);

struct HandlerOptions {
  std::string work_dir;  // a fresh workspace per request lives here and is removed afterwards
  std::string source = "/conveyor/helm-updater";  // CDEvents source
  int max_push_attempts = 5;                       // pushes before "the branch keeps moving" fails the stage
};

// What the app counts; the default does nothing. Called from worker threads.
class Probe {
 public:
  virtual ~Probe() = default;
  virtual void committed() {}     // a commit was pushed
  virtual void unchanged() {}     // the values were already there
  virtual void push_retried() {}  // a push was rejected because the branch moved
  virtual void failed() {}        // the stage failed
};

class Handler {
 public:
  Handler(HandlerOptions options, GitOps& git, Probe& probe, log::Logger logger = log::Logger("helm-updater"));

  // The stage::Handler: never throws.
  Result<stage::StageResult> handle(const events::StageRequest& request, const stage::Publish& publish);

 private:
  HandlerOptions options_;
  GitOps& git_;
  Probe& probe_;
  log::Logger log_;
};

}  // namespace conveyor::helm_updater
