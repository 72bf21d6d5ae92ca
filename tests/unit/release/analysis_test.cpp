#include "conveyor/release/analysis.hpp"

#include <gtest/gtest.h>

namespace conveyor::release {
namespace {

std::vector<Commit> history(std::initializer_list<const char*> messages_newest_first) {
  std::vector<Commit> out;
  int i = 0;
  for (const char* m : messages_newest_first) out.push_back(Commit{"sha" + std::to_string(i++), m});
  return out;
}

ReleaseType type_of(std::initializer_list<const char*> messages, AnalyzeOptions options = {}) {
  return analyze(history(messages), options).type;
}

TEST(Analyze, EmptyHistoryReleasesNothing) {
  EXPECT_EQ(analyze({}).type, ReleaseType::none);
  EXPECT_TRUE(analyze({}).decisions.empty());
}

TEST(Analyze, DefaultRules) {
  EXPECT_EQ(type_of({"feat: x"}), ReleaseType::minor);
  EXPECT_EQ(type_of({"fix: x"}), ReleaseType::patch);
  EXPECT_EQ(type_of({"perf(db): x"}), ReleaseType::patch);
  EXPECT_EQ(type_of({"docs: x", "chore: y", "refactor: z", "Update README"}), ReleaseType::none);
  EXPECT_EQ(type_of({"feat!: x"}), ReleaseType::major);
  EXPECT_EQ(type_of({"chore: x\n\nBREAKING CHANGE: y"}), ReleaseType::major);
  EXPECT_EQ(type_of({"docs: x\n\nBREAKING-CHANGE: y"}), ReleaseType::major);
}

TEST(Analyze, HighestWins) {
  EXPECT_EQ(type_of({"fix: a", "feat: b", "chore: c"}), ReleaseType::minor);
  EXPECT_EQ(type_of({"fix: a", "feat: b", "refactor!: c"}), ReleaseType::major);
}

TEST(Analyze, TypesAreCaseSensitiveExceptTheJsHintSpellings) {
  EXPECT_EQ(type_of({"FEAT: x"}), ReleaseType::minor);
  EXPECT_EQ(type_of({"FIX: x"}), ReleaseType::patch);
  EXPECT_EQ(type_of({"Feat: x"}), ReleaseType::none);
  EXPECT_EQ(type_of({"Fix: x"}), ReleaseType::none);
  EXPECT_EQ(type_of({"PERF: x"}), ReleaseType::none);
  EXPECT_EQ(type_of({"feature: x"}), ReleaseType::none);
}

TEST(Analyze, NoReleaseScope) {
  EXPECT_EQ(type_of({"feat(no-release): x"}), ReleaseType::none);
  EXPECT_EQ(type_of({"feat(no-release)!: x"}), ReleaseType::none);  // the custom rule hides the defaults
  EXPECT_EQ(type_of({"feat(no-release): x", "fix: y"}), ReleaseType::patch);
  EXPECT_EQ(type_of({"feat(No-Release): x"}), ReleaseType::minor);   // exact match
  AnalyzeOptions plain;
  plain.no_release_scope = false;  // commit-analyzer's bare defaults
  EXPECT_EQ(type_of({"feat(no-release): x"}, plain), ReleaseType::minor);
  const Analysis a = analyze(history({"feat(no-release): x"}));
  ASSERT_EQ(a.decisions.size(), 1u);
  EXPECT_EQ(a.decisions[0].reason, Reason::no_release_scope);
}

TEST(Analyze, RevertedCommitAndItsRevertBothDropOut) {
  // Newest first: the revert comes before the commit it reverts.
  std::vector<Commit> h = {
      {"r1", "Revert \"feat: add x\"\n\nThis reverts commit f1."},
      {"f1", "feat: add x"},
      {"c1", "chore: y"},
  };
  Analysis a = analyze(h);
  EXPECT_EQ(a.type, ReleaseType::none);
  EXPECT_EQ(a.decisions[0].reason, Reason::reverts);
  EXPECT_EQ(a.decisions[0].paired_with, 1u);
  EXPECT_EQ(a.decisions[1].reason, Reason::reverted);
  EXPECT_EQ(a.decisions[1].paired_with, 0u);

  h[0].message = "revert: feat: add x\n\nThis reverts commit f1.";
  EXPECT_EQ(analyze(h).type, ReleaseType::none);
}

TEST(Analyze, RevertOfACommitOutsideTheRangeIsAPatch) {
  EXPECT_EQ(type_of({"Revert \"feat: add x\"\n\nThis reverts commit 0000000.", "chore: y"}), ReleaseType::patch);
  // Header must match too.
  EXPECT_EQ(analyze({{"r", "Revert \"feat: add y\"\n\nThis reverts commit f1."}, {"f1", "feat: add x"}}).type,
            ReleaseType::minor);
  // Order matters: a revert older than its target pairs with nothing.
  EXPECT_EQ(analyze({{"f1", "feat: add x"}, {"r", "Revert \"feat: add x\"\n\nThis reverts commit f1."}}).type,
            ReleaseType::minor);
}

TEST(Analyze, RevertWithoutTheReferenceReleasesNothing) {
  EXPECT_EQ(type_of({"revert: feat: x"}), ReleaseType::none);
  EXPECT_EQ(type_of({"Revert \"feat: x\""}), ReleaseType::none);
}

TEST(Analyze, RevertOfARevert) {
  std::vector<Commit> h = {
      {"rr", "Revert \"Revert \"feat: x\"\"\n\nThis reverts commit r."},
      {"r", "Revert \"feat: x\"\n\nThis reverts commit f."},
      {"f", "feat: x"},
  };
  // rr pairs with r; f stays.
  EXPECT_EQ(analyze(h).type, ReleaseType::minor);
}

TEST(Analyze, BreakingRevertedCommitDropsOut) {
  EXPECT_EQ(analyze({{"r", "Revert \"feat!: x\"\n\nThis reverts commit f."}, {"f", "feat!: x"}, {"g", "fix: y"}}).type,
            ReleaseType::patch);
}

TEST(Analyze, MergeCommitsAreAnalysedLikeAnyOther) {
  // No mergePattern in the preset: the header is not conventional, the body's
  // "feat:" line is just body, but a note in the body still counts.
  EXPECT_EQ(type_of({"Merge pull request #3 from o/b\n\nfeat: x"}), ReleaseType::none);
  EXPECT_EQ(type_of({"Merge branch 'b'\n\nBREAKING CHANGE: y"}), ReleaseType::major);
}

TEST(Analyze, EmptyMessagesAreSkipped) {
  const Analysis a = analyze(history({"", "  \n", "fix: x"}));
  EXPECT_EQ(a.type, ReleaseType::patch);
  EXPECT_EQ(a.decisions[0].reason, Reason::empty_message);
  EXPECT_EQ(a.decisions[1].reason, Reason::empty_message);
}

TEST(Analyze, MetaFieldRules) {
  EXPECT_EQ(type_of({"chore: x\n\n-tag-\nFEATURE"}), ReleaseType::minor);
  EXPECT_EQ(type_of({"chore: x\n\n-tag-\nBreaking"}), ReleaseType::major);
  EXPECT_EQ(type_of({"chore: x\n\n-emoji-\n:bug:"}), ReleaseType::patch);
  EXPECT_EQ(type_of({"chore: x\n\n-component-\ndeps"}), ReleaseType::patch);
  EXPECT_EQ(type_of({"Update\n\n-type-\nfeat"}), ReleaseType::minor);
}

TEST(Analyze, DecisionsExplain) {
  const Analysis a = analyze(history({"feat!: a", "fix: b", "chore: c"}));
  ASSERT_EQ(a.decisions.size(), 3u);
  EXPECT_EQ(a.decisions[0].release, ReleaseType::major);
  EXPECT_EQ(a.decisions[0].reason, Reason::breaking);
  EXPECT_EQ(a.decisions[1].release, ReleaseType::patch);
  EXPECT_EQ(a.decisions[1].reason, Reason::type);
  EXPECT_EQ(a.decisions[2].release, ReleaseType::none);
  EXPECT_EQ(a.decisions[2].reason, Reason::no_rule);
  EXPECT_STREQ(release_type_name(ReleaseType::minor), "minor");
  AnalyzeOptions quiet;
  quiet.with_decisions = false;
  EXPECT_TRUE(analyze(history({"feat: a"}), quiet).decisions.empty());
}

}  // namespace
}  // namespace conveyor::release
