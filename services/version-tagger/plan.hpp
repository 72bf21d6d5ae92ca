// The version decision, shared by the version stage and `conveyor version
// next`: the last release reachable from a commit, the commits since it, their
// Conventional Commits analysis and the next SemVer (libs/release), plus the
// CHANGELOG.md edit. No git here beyond the Repository interface.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conveyor/gitops/gitops.hpp"
#include "conveyor/release/analysis.hpp"
#include "conveyor/release/changelog.hpp"
#include "conveyor/release/next_version.hpp"
#include "repository.hpp"

namespace conveyor::version_tagger {

struct VersionPlan {
  std::string tag_prefix;                      // "v"
  std::string prerelease;                      // channel, "" on a release branch
  std::optional<release::TaggedVersion> last;  // the release the next one builds on
  std::vector<release::Commit> commits;        // since `last` (or all), newest first
  release::Analysis analysis;                  // one decision per commit
  std::optional<release::SemVer> next;         // std::nullopt: nothing to release

  // "<prefix><next>"; "" without a next version.
  std::string next_tag() const;
};

// Reads the tags reachable from `sha` and the commits since the last
// release, and decides. Tags that are not "<prefix><SemVer>" are ignored.
// Errors: the repository's; invalid_argument for a prerelease identifier
// SemVer refuses (see release::next_version).
Result<VersionPlan> plan_version(Repository& repo, const std::string& sha, const std::string& tag_prefix,
                                 const std::string& prerelease);

// The prerelease identifier of `branch` when it matches one of `globs`
// (config::glob_match): the branch name with every character outside
// [0-9A-Za-z-] replaced by '-' ("beta" -> "beta", "release/next" ->
// "release-next"); "" when no glob matches.
std::string prerelease_channel(const std::string& branch, const std::vector<std::string>& globs);

// The changelog file with `section` prepended, as @semantic-release/changelog
// does with a title: after the first line when it is a top-level `# ` title
// (kept as is), separated by one blank line from what follows, which is kept
// byte for byte. A missing or empty file becomes "# Changelog" + the section.
std::string prepend_changelog(const std::optional<std::string>& existing, const std::string& section);

// Links for the changelog: the web host of an http(s) clone URL (credentials
// dropped; "https://github.com" for any other URL), owner and repository
// from "owner/repo".
release::ChangelogContext changelog_context(const std::string& clone_url, const std::string& repository);

// `url` without user information ("https://user:token@host/x" ->
// "https://host/x"): safe for logs, events and outputs (shared with gitops).
using gitops::redact_url;

// `text` with every byte that is not part of valid UTF-8 replaced by U+FFFD:
// commit messages and git's output reach JSON (outputs, events) only so.
std::string to_valid_utf8(std::string_view text);

// `notes` cut to at most `max_bytes` at a line end, followed by a line
// saying where the rest is; unchanged when it fits.
std::string truncate_notes(const std::string& notes, std::size_t max_bytes, const std::string& rest_at);

// "chore(release): <version> [skip ci]".
std::string release_commit_subject(const std::string& version);

}  // namespace conveyor::version_tagger
