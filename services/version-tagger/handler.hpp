// The version stage, free of Kafka and Redis: a stage request in, a
// StageResult out, over the Repository / Releases / CreatedTagLedger
// interfaces (repository.hpp).
//
// A branch push releases like semantic-release with the conventionalcommits
// preset: the last "<prefix><SemVer>" tag reachable from the run's commit,
// the commits since it (merges included) analysed by libs/release, the next
// version (a `-<channel>.N` prerelease on a branch matching
// `prerelease-branches`). With a release:
//   1. CHANGELOG.md (setting `changelog`) gets the new section prepended, in
//      a commit `chore(release): X.Y.Z [skip ci]` on top of the run's commit;
//   2. an annotated tag `<prefix>X.Y.Z` on that commit;
//   3. the tag is recorded as created by conveyor (before the push, so the
//      tag push webhook that follows finds it);
//   4. `git push --atomic` of the branch (only if still at the run's
//      commit) and the tag: both or neither;
//   5. a GitHub Release when `github-release: true` and a token is set.
// Idempotent: when the tag already exists on a release commit whose parent
// is the run's commit (a redelivery after a crash between the push and the
// recorded outcome), nothing is pushed again; the outputs are the same.
//
// No release: with `on-no-release: stop` (the default) the run ends
// successfully here (status stopped, reason "no release"); with `continue`
// the stage succeeds with the current version. Tag and pull-request runs
// never release: a run for a "<prefix><SemVer>" tag succeeds with that
// version, any other follows `on-no-release`.
//
// Stage failures (bad settings, repository unreachable or refusing access,
// missing branch or commit, the branch moved, the push refused, the tag taken
// by another commit, GitHub refusing the release) are a StageResult with
// status failed and a reason. An Error is an infrastructure failure the
// runtime retries: a local git failure, Redis, GitHub unavailable after the
// shared client's retries (the retry then finds the pushed tag and only
// creates the release).
//
// Outputs (run.outputs.version):
//   {"version": "1.2.0", "tag": "v1.2.0", "previous": "v1.1.0",
//    "release-type": "minor", "commit": "<release commit>", "changelog": "..."}
// plus "release-url" when a GitHub Release was created. Without a release:
// the current version, "release-type": "none", "commit": the run's commit,
// "changelog": "" (version "0.0.0" and tag "" when nothing was released yet).
// Events: dev.conveyor.version.released.0.1.0 (schemas/events/
// version-released.schema.json), context id "<request id>:released".
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "conveyor/config/config.hpp"
#include "conveyor/events/run.hpp"
#include "conveyor/logging/log.hpp"
#include "conveyor/stage/stage.hpp"
#include "repository.hpp"

namespace conveyor::version_tagger {

inline constexpr const char* kVersionReleasedType = "dev.conveyor.version.released.0.1.0";

// The stage settings (conveyor.yaml `version`, schema definition versionStage).
struct VersionSettings {
  std::string tag_prefix = "v";
  std::string changelog = "CHANGELOG.md";
  std::vector<std::string> prerelease_branches;
  bool github_release = false;
  bool continue_without_release = false;  // on-no-release: continue
  Author author;
  std::optional<config::SecretRef> token;
};

// Parses and checks the settings; errors (invalid_argument) name the setting
// ("version.changelog: ...").
Result<VersionSettings> parse_settings(const nlohmann::json& settings);

// What the app counts; the default does nothing. Called from worker threads.
class Probe {
 public:
  virtual ~Probe() = default;
  virtual void released(const std::string& /*release_type*/) {}  // a tag was pushed
  virtual void reused() {}                                        // the tag existed from an earlier attempt
  virtual void no_release() {}
  virtual void failed() {}
};

struct HandlerOptions {
  std::string work_dir;                               // a fresh directory per request, removed afterwards
  std::string source = "/conveyor/version-tagger";    // CDEvents source
  // Today's date (UTC) for a new changelog section, "YYYY-MM-DD".
  std::function<std::string()> today;                // default: the system clock
  // Reads a secret reference (tests substitute their own).
  std::function<Result<std::string>(const config::SecretRef&)> resolve = [](const config::SecretRef& ref) {
    return ref.resolve();
  };
};

class Handler {
 public:
  // `releases` may be null: no GitHub token configured, so `github-release`
  // is skipped with a warning.
  Handler(HandlerOptions options, Repositories& repositories, Releases* releases, CreatedTagLedger& ledger,
          Probe& probe, log::Logger logger = log::Logger("version-tagger"));

  // The stage::Handler: never throws.
  Result<stage::StageResult> handle(const events::StageRequest& request, const stage::Publish& publish);

 private:
  HandlerOptions options_;
  Repositories& repositories_;
  Releases* releases_;
  CreatedTagLedger& ledger_;
  Probe& probe_;
  log::Logger log_;
};

// dev.conveyor.version.released.0.1.0 for a release (outputs as above);
// subject id = the tag.
nlohmann::json version_released(const events::RunContext& run, const std::string& source,
                                 const nlohmann::json& outputs, bool prerelease);

// Today's date in UTC, "YYYY-MM-DD".
std::string utc_today();

}  // namespace conveyor::version_tagger
