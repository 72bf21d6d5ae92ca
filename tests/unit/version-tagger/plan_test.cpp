// The pure parts of the version plan: CHANGELOG.md prepending, prerelease
// channels, changelog links, UTF-8 cleaning, URL redaction.
#include "plan.hpp"

#include <gtest/gtest.h>

namespace conveyor::version_tagger {
namespace {

const std::string kSection = "## [1.2.0](https://x/compare/v1.1.0...v1.2.0) (2024-06-15)\n\n### Features\n\n* a\n";

TEST(PrependChangelog, AfterTheTitleKeepingTheRestByteForByte) {
  const std::string old = "# Changelog\n\nAll notable changes.\n\n## 1.1.0 (2024-01-01)\n\n* old  \n\n\n";
  EXPECT_EQ(prepend_changelog(old, kSection),
            "# Changelog\n\n" + kSection + "\nAll notable changes.\n\n## 1.1.0 (2024-01-01)\n\n* old  \n\n\n");
  // Any top-level title is kept as written.
  EXPECT_EQ(prepend_changelog(std::string("# Release notes\n## 1.0.0\n"), kSection),
            "# Release notes\n\n" + kSection + "\n## 1.0.0\n");
  // CRLF title line.
  EXPECT_EQ(prepend_changelog(std::string("# Changelog\r\n\r\n## 1.0.0\r\n"), kSection),
            "# Changelog\n\n" + kSection + "\n## 1.0.0\r\n");
}

TEST(PrependChangelog, WithoutTitleOrFile) {
  EXPECT_EQ(prepend_changelog(std::string("## 1.0.0\n\n* x\n"), kSection), kSection + "\n## 1.0.0\n\n* x\n");
  EXPECT_EQ(prepend_changelog(std::nullopt, kSection), "# Changelog\n\n" + kSection);
  EXPECT_EQ(prepend_changelog(std::string(" \n\n"), kSection), "# Changelog\n\n" + kSection);
  EXPECT_EQ(prepend_changelog(std::string("# Changelog\n"), kSection), "# Changelog\n\n" + kSection);
  // Extra trailing blank lines of the section are trimmed to one newline.
  EXPECT_EQ(prepend_changelog(std::nullopt, kSection + "\n\n"), "# Changelog\n\n" + kSection);
  // "## x" on the first line is not a title.
  EXPECT_EQ(prepend_changelog(std::string("#NoSpace\n"), kSection), kSection + "\n#NoSpace\n");
}

TEST(PrereleaseChannel, BranchNameWhenAGlobMatches) {
  EXPECT_EQ(prerelease_channel("beta", {"beta"}), "beta");
  EXPECT_EQ(prerelease_channel("main", {"beta"}), "");
  EXPECT_EQ(prerelease_channel("release/next", {"release/*"}), "release-next");
  EXPECT_EQ(prerelease_channel("rc_2.x", {"rc*"}), "rc-2-x");
  EXPECT_EQ(prerelease_channel("beta", {}), "");
}

TEST(ChangelogContext, WebHostFromTheCloneUrl) {
  auto c = changelog_context("https://x:tok@ghe.example.com:8443/acme/app.git", "acme/app");
  EXPECT_EQ(c.host, "https://ghe.example.com:8443");
  EXPECT_EQ(c.owner, "acme");
  EXPECT_EQ(c.repository, "app");
  EXPECT_EQ(changelog_context("file:///srv/git/app.git", "acme/app").host, "https://github.com");
  EXPECT_EQ(changelog_context("git@github.com:acme/app.git", "acme/app").host, "https://github.com");
}

TEST(TruncateNotes, CutsAtALineEndAndSaysWhereTheRestIs) {
  const std::string notes = "## 1.0.0\n\n* one\n* two\n* three\n* four\n* five\n* six\n* seven\n* eight\n";
  EXPECT_EQ(truncate_notes(notes, notes.size(), "CHANGELOG.md"), notes);
  const std::string tail = "\n_(truncated: the full notes are in CHANGELOG.md)_\n";
  EXPECT_EQ(truncate_notes(notes, 60, "CHANGELOG.md"), "## 1.0.0\n" + tail);
  EXPECT_EQ(truncate_notes(notes, 65, "CHANGELOG.md"), "## 1.0.0\n\n" + tail);
  EXPECT_EQ(truncate_notes(notes, 30, "CHANGELOG.md"), tail);  // too small for any line
}

TEST(Text, Utf8RedactionAndSubject) {
  EXPECT_EQ(to_valid_utf8("caf\xc3\xa9 ok"), "caf\xc3\xa9 ok");
  EXPECT_EQ(to_valid_utf8("latin1 caf\xe9!"), "latin1 caf\xef\xbf\xbd!");
  EXPECT_EQ(to_valid_utf8("\xc0\x80"), "\xef\xbf\xbd\xef\xbf\xbd");  // overlong
  EXPECT_EQ(to_valid_utf8("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // surrogate
  EXPECT_EQ(to_valid_utf8("\xf0\x9f\x9a\x80"), "\xf0\x9f\x9a\x80");
  EXPECT_EQ(redact_url("https://user:pw@host/x.git"), "https://host/x.git");
  EXPECT_EQ(redact_url("https://host/x@y.git"), "https://host/x@y.git");
  EXPECT_EQ(redact_url("/srv/git/x.git"), "/srv/git/x.git");
  EXPECT_EQ(release_commit_subject("1.2.0"), "chore(release): 1.2.0 [skip ci]");
}

}  // namespace
}  // namespace conveyor::version_tagger
