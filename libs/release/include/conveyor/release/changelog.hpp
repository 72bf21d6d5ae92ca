// One release's CHANGELOG.md section, as semantic-release renders release
// notes with `preset: "conventionalcommits"`: @semantic-release/
// release-notes-generator 14 + conventional-changelog-writer 8 + the
// handlebars templates of conventional-changelog-conventionalcommits 9 (the
// preset major that writer accepts), for a GitHub repository.
//
//   ## [1.2.0](https://github.com/o/r/compare/v1.1.0...v1.2.0) (2024-05-01)
//
//   ### ⚠ BREAKING CHANGES
//
//   * **api:** the note text
//
//   ### Features
//
//   * **api:** subject ([abc1234](https://github.com/o/r/commit/<sha>)), closes [#12](https://github.com/o/r/issues/12)
//
// Commits are parsed and reverted pairs dropped as for analysis. Sections, in
// order: breaking changes (every note, in commit order), then one per type:
// unknown types shown only because of a note (titled by the raw type) first,
// then Features (feat, feature), Bug Fixes, Performance Improvements, Reverts
// (any revert), Documentation, Styles, Miscellaneous Chores, Code
// Refactoring, Tests, Build System, Continuous Integration. Hidden types
// (docs ... ci) and unknown types appear only with a breaking note or a
// `Release-As: x.y.z` line. Entries sort by scope + subject like JS
// localeCompare; `#N` in subjects and `@user` become links; references the
// parser found elsewhere are listed as ", closes ...". Pure function.
#pragma once

#include <string>
#include <vector>

#include "conveyor/release/commit.hpp"

namespace conveyor::release {

struct ChangelogContext {
  std::string version;                    // "1.2.0"
  std::string date;                       // "YYYY-MM-DD"
  std::string host = "https://github.com";
  std::string owner;                      // "o"
  std::string repository;                 // "r"; empty -> no links at all
  std::string previous_tag;               // compare link when both tags are set
  std::string current_tag;
};

// Markdown for the commits (newest first), ending with one newline.
std::string render_changelog_section(const std::vector<Commit>& commits_newest_first, const ChangelogContext& context);

}  // namespace conveyor::release
