#include "conveyor/release/commit.hpp"

#include <gtest/gtest.h>

namespace conveyor::release {
namespace {

ParsedCommit parse(const std::string& message, const std::string& sha = "0123456789abcdef0123456789abcdef01234567") {
  auto r = parse_commit(Commit{sha, message});
  EXPECT_TRUE(r.ok()) << message;
  return r.ok() ? r.value() : ParsedCommit{};
}

TEST(ParseCommit, HeaderWithTypeScopeSubject) {
  const ParsedCommit c = parse("feat(api): add the thing");
  EXPECT_TRUE(c.conventional);
  EXPECT_EQ(c.type, "feat");
  EXPECT_EQ(c.scope, "api");
  EXPECT_EQ(c.subject, "add the thing");
  EXPECT_FALSE(c.bang);
  EXPECT_FALSE(c.breaking());
  EXPECT_EQ(c.header, "feat(api): add the thing");
}

TEST(ParseCommit, HeaderWithoutScope) {
  const ParsedCommit c = parse("fix: crash on start");
  EXPECT_EQ(c.type, "fix");
  EXPECT_EQ(c.scope, "");
  EXPECT_EQ(c.subject, "crash on start");
}

TEST(ParseCommit, BangMakesABreakingNoteFromTheSubject) {
  const ParsedCommit c = parse("feat(api)!: drop v1");
  EXPECT_TRUE(c.bang);
  ASSERT_EQ(c.notes.size(), 1u);
  EXPECT_EQ(c.notes[0].title, "BREAKING CHANGE");
  EXPECT_EQ(c.notes[0].text, "drop v1");
  EXPECT_TRUE(parse("refactor!: x").breaking());
}

TEST(ParseCommit, ScopeIsGreedyUpToTheLastParenthesisColon) {
  // headerPattern's (.*) scope is greedy.
  const ParsedCommit c = parse("feat(a): b (c): d");
  EXPECT_EQ(c.scope, "a): b (c");
  EXPECT_EQ(c.subject, "d");
  // breakingHeaderPattern is tried first and needs ")!: ".
  const ParsedCommit d = parse("feat(a)!: x (b): y");
  EXPECT_TRUE(d.bang);
  EXPECT_EQ(d.scope, "a");
  EXPECT_EQ(d.subject, "x (b): y");
}

TEST(ParseCommit, NonConventionalHeadersAreNotErrors) {
  for (const char* m : {"Update README", "feat:no space", "feat (api): space before scope", "feat(api) : x",
                        "feat-x: dash is not a word char"}) {
    const ParsedCommit c = parse(m);
    EXPECT_FALSE(c.conventional) << m;
    EXPECT_EQ(c.type, "") << m;
  }
  EXPECT_FALSE(parse_commit(Commit{"a", ""}).ok());
  EXPECT_FALSE(parse_commit(Commit{"a", " \n\t\n"}).ok());
}

TEST(ParseCommit, TypeKeepsItsCase) {
  EXPECT_EQ(parse("FEAT: x").type, "FEAT");
  EXPECT_EQ(parse("Feat: x").type, "Feat");
  // An empty type still matches the pattern (\w*).
  const ParsedCommit c = parse(": x");
  EXPECT_TRUE(c.conventional);
  EXPECT_EQ(c.type, "");
}

TEST(ParseCommit, BreakingChangeFooterBothSpellings) {
  for (const char* m : {"feat: x\n\nBREAKING CHANGE: the api changed", "feat: x\n\nBREAKING-CHANGE: the api changed"}) {
    const ParsedCommit c = parse(m);
    ASSERT_EQ(c.notes.size(), 1u) << m;
    EXPECT_EQ(c.notes[0].text, "the api changed");
    ASSERT_EQ(c.footers.size(), 1u) << m;
    EXPECT_EQ(c.footers[0].value, "the api changed");
    EXPECT_FALSE(c.bang);
  }
}

TEST(ParseCommit, FooterWinsOverBangForTheNoteText) {
  const ParsedCommit c = parse("feat!: subject\n\nBREAKING CHANGE: details");
  ASSERT_EQ(c.notes.size(), 1u);
  EXPECT_EQ(c.notes[0].text, "details");
}

TEST(ParseCommit, MultiLineNoteAndFooterValues) {
  const ParsedCommit c = parse("feat: x\n\nBREAKING CHANGE: first line\nsecond line\nReviewed-by: Z");
  ASSERT_EQ(c.notes.size(), 1u);
  EXPECT_EQ(c.notes[0].text, "first line\nsecond line\nReviewed-by: Z");  // the parser keeps going
  ASSERT_EQ(c.footers.size(), 2u);
  EXPECT_EQ(c.footers[0].token, "BREAKING CHANGE");
  EXPECT_EQ(c.footers[0].value, "first line\nsecond line");
  EXPECT_EQ(c.footers[1].token, "Reviewed-by");
  EXPECT_EQ(c.footers[1].value, "Z");
}

TEST(ParseCommit, HashFootersAndReferences) {
  const ParsedCommit c = parse("fix: x\n\nbody text\n\nCloses #12\nRefs #7");
  ASSERT_EQ(c.footers.size(), 2u);
  EXPECT_EQ(c.footers[0].token, "Closes");
  EXPECT_EQ(c.footers[0].separator, " #");
  EXPECT_EQ(c.footers[0].value, "12");
  EXPECT_EQ(c.body, "body text");
  ASSERT_EQ(c.references.size(), 2u);
  EXPECT_EQ(c.references[0].action, "Closes");
  EXPECT_EQ(c.references[0].issue, "12");
  EXPECT_EQ(c.references[1].action, "");
  EXPECT_EQ(c.references[1].issue, "7");
}

TEST(ParseCommit, ReferenceWithRepository) {
  const ParsedCommit c = parse("fix: x\n\nfixes octo/repo#5, #6");
  ASSERT_EQ(c.references.size(), 2u);
  EXPECT_EQ(c.references[0].owner, "octo");
  EXPECT_EQ(c.references[0].repository, "repo");
  EXPECT_EQ(c.references[0].issue, "5");
  EXPECT_EQ(c.references[1].issue, "6");
  EXPECT_TRUE(parse("fix: x\n\nsee https://example.com/#5").references.empty());  // URLs are skipped
}

TEST(ParseCommit, MultiParagraphBodyAndFooters) {
  const ParsedCommit c = parse("feat: x\n\npara one\nstill one\n\nNote: para two\n\npara three\n\nAcked-by: A\nRefs #1");
  EXPECT_EQ(c.body, "para one\nstill one\n\nNote: para two\n\npara three");
  ASSERT_EQ(c.footers.size(), 2u);
  EXPECT_EQ(c.footers[0].token, "Acked-by");
}

TEST(ParseCommit, BreakingChangeInBodyWithoutColonIsNoFooterButIsANote) {
  // The specification needs "BREAKING CHANGE: "; the parser's notes regex
  // takes any ':' or whitespace after the keyword, at a line start.
  const ParsedCommit c = parse("chore: x\n\nBREAKING CHANGE the config format changed");
  EXPECT_TRUE(c.footers.empty());
  EXPECT_EQ(c.body, "BREAKING CHANGE the config format changed");
  ASSERT_TRUE(c.breaking());
  EXPECT_EQ(c.notes[0].text, "the config format changed");
  // Mid-line it is nothing.
  EXPECT_FALSE(parse("chore: x\n\nthis is a BREAKING CHANGE: really").breaking());
  // Plural keyword is nothing.
  EXPECT_FALSE(parse("chore: x\n\nBREAKING CHANGES: y").breaking());
}

TEST(ParseCommit, NoteKeywordsAreCaseInsensitiveAndMayBeBulleted) {
  EXPECT_TRUE(parse("chore: x\n\nbreaking change: y").breaking());
  EXPECT_TRUE(parse("chore: x\n\nBreaking-Change: y").breaking());
  EXPECT_TRUE(parse("chore: x\n\n  * BREAKING CHANGE: y").breaking());
  EXPECT_TRUE(parse("chore: x\n\n| BREAKING CHANGE: y").breaking());
  // The spec footer must be upper case.
  EXPECT_TRUE(parse("chore: x\n\nbreaking change: y").footers.empty());
}

TEST(ParseCommit, MarkdownRuleStartsAMetaFieldThatSwallowsTheRest) {
  const ParsedCommit c = parse("feat: x\n\n---\nBREAKING CHANGE: hidden");
  EXPECT_FALSE(c.breaking());
  ASSERT_EQ(c.fields.size(), 1u);
  EXPECT_EQ(c.fields[0].name, "-");
  EXPECT_EQ(c.fields[0].value, "BREAKING CHANGE: hidden");
}

TEST(ParseCommit, MetaFieldsOverrideParsedValues) {
  EXPECT_EQ(parse("Update things\n\n-type-\nfeat").type, "feat");
  EXPECT_EQ(parse("chore: x\n\n-type-\nfeat").type, "chore\nfeat");
  EXPECT_EQ(parse("chore: x\n\n-hash-\nabc").sha, "abc");
  const ParsedCommit c = parse("chore: x\n\n-tag-\nFEATURE\n--\nafter");
  ASSERT_EQ(c.fields.size(), 1u);
  EXPECT_EQ(c.fields[0].value, "FEATURE");
}

TEST(ParseCommit, GpgLinesAreDropped) {
  const ParsedCommit c = parse("gpg: Signature made\nfeat: x");
  EXPECT_EQ(c.header, "feat: x");
  EXPECT_EQ(c.type, "feat");
}

TEST(ParseCommit, CrLfLineEndings) {
  const ParsedCommit c = parse("feat(api): x\r\n\r\nBREAKING CHANGE: y\r\n");
  EXPECT_EQ(c.type, "feat");
  EXPECT_EQ(c.subject, "x");
  ASSERT_TRUE(c.breaking());
  EXPECT_EQ(c.notes[0].text, "y");
}

TEST(ParseCommit, RevertForms) {
  const ParsedCommit a = parse("Revert \"feat: x\"\n\nThis reverts commit abc123.");
  ASSERT_TRUE(a.revert.has_value());
  EXPECT_EQ(a.revert->header, "feat: x");
  EXPECT_EQ(a.revert->sha, "abc123");
  EXPECT_FALSE(a.conventional);

  const ParsedCommit b = parse("revert: feat(api): x\n\nThis reverts commit abc123.");
  ASSERT_TRUE(b.revert.has_value());
  EXPECT_EQ(b.revert->header, "feat(api): x");
  EXPECT_EQ(b.type, "revert");
  EXPECT_EQ(b.subject, "feat(api): x");

  // Case-insensitive, and text before "This reverts" joins the header.
  const ParsedCommit c = parse("REVERT \"fix: y\"\n\nbecause reasons\n\nthis reverts commit def.");
  ASSERT_TRUE(c.revert.has_value());
  EXPECT_EQ(c.revert->header, "fix: y\"\n\nbecause reasons");

  EXPECT_FALSE(parse("revert: feat: x").revert.has_value());  // needs "This reverts commit <sha>."
  EXPECT_FALSE(parse("Revert \"feat: x\"\n\nThis reverts commit abc").revert.has_value());  // no period
  EXPECT_FALSE(parse("\nRevert \"feat: x\"\n\nThis reverts commit abc.").revert.has_value());  // raw message start
}

TEST(ParseCommit, MergeCommitsAreNotConventional) {
  const ParsedCommit c = parse("Merge pull request #12 from octo/feat-x\n\nfeat: add x");
  EXPECT_TRUE(c.merge);
  EXPECT_FALSE(c.conventional);
  EXPECT_EQ(c.type, "");
  EXPECT_EQ(c.header, "Merge pull request #12 from octo/feat-x");
  EXPECT_TRUE(parse("Merge branch 'main' into feature").merge);
  // Their bodies still carry notes.
  EXPECT_TRUE(parse("Merge branch 'x'\n\nBREAKING CHANGE: y").breaking());
}

TEST(ParseCommit, NonAsciiWhitespace) {
  // U+00A0 is JS whitespace: "BREAKING CHANGE\u00a0x" is a note.
  EXPECT_TRUE(parse("chore: x\n\nBREAKING CHANGE\xc2\xa0y").breaking());
  // U+2028 is a JS line terminator: the header cannot match.
  EXPECT_FALSE(parse("feat: a\xe2\x80\xa8" "b").conventional);
}

}  // namespace
}  // namespace conveyor::release
