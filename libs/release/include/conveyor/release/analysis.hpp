// Release type of a range of commits, as `@semantic-release/commit-analyzer`
// 13 computes it with `preset: "conventionalcommits"` and its default
// releaseRules (lib/default-release-rules.js):
//   - commits with an empty message are skipped;
//   - reverted commits drop out: walking newest to oldest, a revert commit
//     (see Revert) is held until an older commit with the same trimmed header
//     and SHA shows up; then both drop out (conventional-commits-filter 5);
//   - per commit, the highest of: breaking note -> major; revert -> patch;
//     type `feat` or `FEAT` -> minor; `fix`, `perf`, `FIX` -> patch (types are
//     case-sensitive: `Feat`, `PERF` release nothing); meta fields `tag`,
//     `emoji`, `component` per the default rules (`-tag-` FEATURE -> minor ...);
//   - the highest over all commits wins; none -> no release.
// With AnalyzeOptions::no_release_scope (the default), a commit whose scope is
// exactly `no-release` releases nothing even when breaking: that is
// commit-analyzer with `releaseRules: [{scope: "no-release", release: false}]`
// (the README's example), whose matching custom rule hides the defaults.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "conveyor/release/commit.hpp"

namespace conveyor::release {

enum class ReleaseType { none, patch, minor, major };

// "none", "patch", "minor", "major".
const char* release_type_name(ReleaseType type) noexcept;

// Why a commit got its release type.
enum class Reason {
  empty_message,     // skipped, like commit-analyzer
  reverted,          // dropped: reverted by the commit at `paired_with`
  reverts,           // dropped: reverts the commit at `paired_with`
  no_release_scope,  // scope `no-release` suppressed it
  breaking,          // breaking-change note (footer, `!`, or lenient line)
  revert,            // a revert whose target is not in the range -> patch
  type,              // type feat/FEAT -> minor, fix/perf/FIX -> patch
  field,             // a `-tag-`, `-emoji-` or `-component-` meta field
  no_rule,           // nothing matched
};

// "empty message", "reverted", ...
const char* reason_name(Reason reason) noexcept;

// One commit's outcome, for the CLI's explanation.
struct Decision {
  std::size_t index = 0;  // position in the input (0 = newest)
  ReleaseType release = ReleaseType::none;
  Reason reason = Reason::no_rule;
  std::size_t paired_with = 0;  // for reverted / reverts
};

struct AnalyzeOptions {
  bool no_release_scope = true;  // see the header comment
  bool with_decisions = true;    // fill Analysis::decisions (one per commit)
};

struct Analysis {
  ReleaseType type = ReleaseType::none;
  std::vector<Decision> decisions;  // same order as the input
};

// Analyses commits given newest first (git log order, as semantic-release
// passes them; the order decides which revert pairs with which commit).
Analysis analyze(const std::vector<Commit>& commits_newest_first, const AnalyzeOptions& options = {});

}  // namespace conveyor::release
