#include "conveyor/release/changelog.hpp"

#include <gtest/gtest.h>

namespace conveyor::release {
namespace {

std::string sha(char c) { return std::string(40, c); }

ChangelogContext github_context() {
  ChangelogContext ctx;
  ctx.version = "2.0.0";
  ctx.date = "2024-05-01";
  ctx.owner = "o";
  ctx.repository = "r";
  ctx.previous_tag = "v1.0.0";
  ctx.current_tag = "v2.0.0";
  return ctx;
}

// Expected output produced by @semantic-release/release-notes-generator
// 14.1.1 with conventional-changelog-conventionalcommits 9.3.1 for the same
// commits and context (see tests/integration/release).
TEST(Changelog, MatchesReleaseNotesGenerator) {
  const std::vector<Commit> commits = {
      {sha('a'), "feat(api)!: drop v1\n\nCloses #12"},
      {sha('b'), "fix: crash (#7)"},
      {sha('c'), "perf(db): faster"},
      {sha('d'), "chore: x\n\nBREAKING CHANGE: big\nmore"},
      {sha('e'), "Revert \"feat: y\"\n\nThis reverts commit 1234."},
      {sha('f'), "docs: readme"},
      {sha('9'), "feat: B thing"},
      {sha('8'), "feat: a thing"},
  };
  const std::string expected =
      "## [2.0.0](https://github.com/o/r/compare/v1.0.0...v2.0.0) (2024-05-01)\n"
      "\n"
      "### ⚠ BREAKING CHANGES\n"
      "\n"
      "* **api:** drop v1\n"
      "* big\n"
      "more\n"
      "\n"
      "### Features\n"
      "\n"
      "* a thing ([8888888](https://github.com/o/r/commit/8888888888888888888888888888888888888888))\n"
      "* **api:** drop v1 ([aaaaaaa](https://github.com/o/r/commit/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa)), closes "
      "[#12](https://github.com/o/r/issues/12)\n"
      "* B thing ([9999999](https://github.com/o/r/commit/9999999999999999999999999999999999999999))\n"
      "\n"
      "### Bug Fixes\n"
      "\n"
      "* crash ([#7](https://github.com/o/r/issues/7)) "
      "([bbbbbbb](https://github.com/o/r/commit/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb))\n"
      "\n"
      "### Performance Improvements\n"
      "\n"
      "* **db:** faster ([ccccccc](https://github.com/o/r/commit/cccccccccccccccccccccccccccccccccccccccc))\n"
      "\n"
      "### Reverts\n"
      "\n"
      "* Revert \"feat: y\" ([eeeeeee](https://github.com/o/r/commit/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee))\n"
      "\n"
      "### Miscellaneous Chores\n"
      "\n"
      "* x ([ddddddd](https://github.com/o/r/commit/dddddddddddddddddddddddddddddddddddddddd))\n";
  EXPECT_EQ(render_changelog_section(commits, github_context()), expected);
}

TEST(Changelog, FirstReleaseHasNoCompareLink) {
  ChangelogContext ctx = github_context();
  ctx.version = "1.0.0";
  ctx.previous_tag.clear();
  EXPECT_EQ(render_changelog_section({{sha('1'), "fix(core): x"}}, ctx),
            "## 1.0.0 (2024-05-01)\n\n### Bug Fixes\n\n"
            "* **core:** x ([1111111](https://github.com/o/r/commit/1111111111111111111111111111111111111111))\n");
}

TEST(Changelog, WithoutRepositoryNoLinks) {
  ChangelogContext ctx;
  ctx.version = "1.1.0";
  ctx.date = "2024-01-02";
  EXPECT_EQ(render_changelog_section({{sha('1'), "feat: x (#3)\n\nCloses #4"}}, ctx),
            "## 1.1.0 (2024-01-02)\n\n### Features\n\n* x (#3) 1111111, closes #4\n");
}

TEST(Changelog, ReversAndHiddenTypesDropOut) {
  const std::vector<Commit> commits = {
      {sha('r'), "Revert \"feat: add x\"\n\nThis reverts commit " + sha('f') + "."},
      {sha('f'), "feat: add x"},
      {sha('c'), "chore: tidy"},
      {sha('d'), "ci: pipeline"},
  };
  EXPECT_EQ(render_changelog_section(commits, github_context()),
            "## [2.0.0](https://github.com/o/r/compare/v1.0.0...v2.0.0) (2024-05-01)\n");
}

TEST(Changelog, EntriesSortByScopeThenSubjectLikeLocaleCompare) {
  const std::vector<Commit> commits = {
      {"", "fix: Zeta"}, {"", "fix: alpha"}, {"", "fix(ui): beta"}, {"", "fix: _under"}, {"", "fix: 9 lives"},
  };
  ChangelogContext ctx;
  ctx.version = "1.0.1";
  ctx.date = "2024-01-02";
  EXPECT_EQ(render_changelog_section(commits, ctx),
            "## 1.0.1 (2024-01-02)\n\n### Bug Fixes\n\n* _under\n* 9 lives\n* alpha\n* **ui:** beta\n* Zeta\n");
}

}  // namespace
}  // namespace conveyor::release
