// The next version, as semantic-release 24 computes it (lib/get-last-release.js
// and lib/get-next-version.js), from the repository's tags and a ReleaseType.
//
// Tags are "<prefix><SemVer 2.0.0>" (semantic-release's tagFormat
// "v${version}"); other tags are ignored.
//
// Release branch (`prerelease` empty):
//   last release = highest tag without prerelease identifiers;
//   next = last bumped by the release type (1.2.3 + minor -> 1.3.0);
//   no previous release -> 1.0.0.
// Prerelease branch (`prerelease` = e.g. "beta"):
//   last release = highest tag that is a release, or a prerelease whose
//   identifiers contain "beta" (semantic-release also requires the tag's git
//   note to name the channel; conveyor treats the identifier as the channel);
//   if it is a release X.Y.Z: next = bump(X.Y.Z, type) + "-beta.1";
//   if it is a prerelease: next = highest of
//     - the last release with its last numeric identifier + 1
//       (1.1.0-beta.2 -> 1.1.0-beta.3, semver.inc "prerelease"), and
//     - bump(highest tag of all, type) + "-beta.1", where bumping a
//       prerelease first drops it as node-semver's inc does
//       (1.1.0-beta.2 + minor -> 1.1.0; + major -> 2.0.0);
//   so more commits of the same kind add -beta.N, a bigger change restarts
//   at a higher X.Y.Z with -beta.1;
//   no previous release -> 1.0.0-beta.1.
// ReleaseType::none -> no version (std::nullopt).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "conveyor/release/analysis.hpp"
#include "conveyor/release/semver.hpp"
#include "conveyor/result/result.hpp"

namespace conveyor::release {

struct TaggedVersion {
  std::string tag;  // e.g. "v1.2.3"
  SemVer version;
};

// The tag the next release builds on (see above), if any. Commits since this
// tag are the ones to analyse.
std::optional<TaggedVersion> last_release(const std::vector<std::string>& tags, const std::string& tag_prefix = "v",
                                          const std::string& prerelease = "");

struct VersionRequest {
  std::vector<std::string> tags;  // the tags reachable from the branch head
  std::string tag_prefix = "v";
  std::string prerelease;         // "" on a release branch; e.g. "beta"
  ReleaseType release = ReleaseType::none;
};

// The next version, std::nullopt when `release` is none. Fails
// (invalid_argument) when `prerelease` is not a valid SemVer identifier or is
// purely numeric, and (invalid_argument) when a number would overflow.
Result<std::optional<SemVer>> next_version(const VersionRequest& request);

// node-semver's inc(version, type) for major/minor/patch: a prerelease of
// X.0.0 / X.Y.0 / X.Y.Z becomes that release instead of bumping further.
Result<SemVer> bump(const SemVer& version, ReleaseType type);

}  // namespace conveyor::release
