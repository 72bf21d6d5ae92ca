// Differential test: conveyor::release against the npm packages it ports
// (@semantic-release/commit-analyzer 13.0.1, release-notes-generator 14.1.1,
// conventional-changelog-conventionalcommits 9.3.1; pinned in node/), on
// random histories from a fixed seed. Installs the packages into a cache
// directory outside the repository first and fails if it cannot.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <cstdlib>
#include <iostream>

#include <gtest/gtest.h>

#include "conveyor/release/analysis.hpp"
#include "conveyor/release/changelog.hpp"
#include "histories.hpp"

namespace conveyor::release {
namespace {

using testing::ChangelogCase;
using testing::Mix;
using testing::Rng;

constexpr std::uint64_t kSeed = 20240501;
constexpr std::size_t kHistories = 300;

std::string answer(const nlohmann::json& v) { return v.is_null() ? "none" : v.get<std::string>(); }

std::string dump(const std::vector<Commit>& commits) {
  std::string s;
  for (std::size_t i = 0; i < commits.size(); ++i) {
    s += "  [" + std::to_string(i) + "] " + commits[i].sha.substr(0, 8) + " " + nlohmann::json(commits[i].message).dump() + "\n";
  }
  return s;
}

TEST(ReleaseDifferential, MatchesSemanticRelease) {
  const auto started = std::chrono::steady_clock::now();
  const std::string npm_dir = testing::ensure_reference_installed();
  ASSERT_FALSE(npm_dir.empty());

  Rng rng(kSeed);
  std::vector<std::vector<Commit>> histories;
  std::vector<ChangelogCase> cases;
  nlohmann::json input;
  input["histories"] = nlohmann::json::array();
  std::size_t total_commits = 0;
  for (std::size_t i = 0; i < kHistories; ++i) {
    const std::size_t len = i % 25 == 0 ? 0 : 1 + rng.below(i % 7 == 0 ? 120 : i % 2 == 0 ? 5 : 30);
    // Vary how often breaking changes occur, or nearly every history is major.
    static const unsigned breaking[] = {0, 0, 2, 5, 10, 30, 100};
    histories.push_back(testing::generate_history(rng, len, Mix{true, breaking[rng.below(7)]}));
    ChangelogCase cc;
    if (rng.chance(20)) cc.previous_tag.clear();  // first release: no compare link
    cases.push_back(cc);
    input["histories"].push_back(testing::history_json(histories.back(), &cases.back()));
    total_commits += len;
  }
  char dir_template[] = "/tmp/conveyor-release-diff-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  testing::write_file(dir + "/histories.json", input.dump());
  const std::string out = testing::run_command("node '" + testing::node_dir() + "/reference.mjs' diff '" + dir +
                                               "/histories.json' '" + npm_dir + "'");
  const nlohmann::json reference = nlohmann::json::parse(out);
  ASSERT_EQ(reference.size(), histories.size());

  std::size_t same_default = 0, same_no_release = 0, same_notes = 0;
  std::size_t reported = 0;
  std::size_t release_kinds[4] = {0, 0, 0, 0};
  struct {
    std::size_t reverts = 0, paired_reverts = 0, merges = 0, bangs = 0, breaking = 0, no_release = 0, empty = 0,
                non_conventional = 0, empty_histories = 0;
  } tally;
  for (std::size_t i = 0; i < histories.size(); ++i) {
    AnalyzeOptions plain;
    plain.no_release_scope = false;
    const std::string ours_default = release_type_name(analyze(histories[i], plain).type);
    const Analysis analysis = analyze(histories[i]);
    const ReleaseType ours_nr_type = analysis.type;
    for (const Decision& dec : analysis.decisions) {
      if (dec.reason == Reason::reverts) ++tally.paired_reverts;
      if (dec.reason == Reason::empty_message) ++tally.empty;
      if (dec.reason == Reason::no_release_scope) ++tally.no_release;
    }
    for (const Commit& commit : histories[i]) {
      auto parsed = parse_commit(commit);
      if (!parsed) continue;
      tally.merges += parsed->merge;
      tally.bangs += parsed->bang;
      tally.reverts += parsed->revert.has_value();
      tally.breaking += parsed->breaking();
      tally.non_conventional += !parsed->conventional;
    }
    tally.empty_histories += histories[i].empty();
    const std::string ours_no_release = release_type_name(ours_nr_type);
    ++release_kinds[static_cast<int>(ours_nr_type)];
    ChangelogContext ctx;
    ctx.version = cases[i].version;
    ctx.date = cases[i].date;
    ctx.owner = "o";
    ctx.repository = "r";
    ctx.previous_tag = cases[i].previous_tag;
    ctx.current_tag = cases[i].current_tag;
    const std::string ours_notes = render_changelog_section(histories[i], ctx);

    const bool d = ours_default == answer(reference[i]["default"]);
    const bool n = ours_no_release == answer(reference[i]["noRelease"]);
    const bool c = ours_notes == reference[i]["notes"].get<std::string>();
    same_default += d;
    same_no_release += n;
    same_notes += c;
    if ((!d || !n || !c) && reported++ < 5) {
      ADD_FAILURE() << "history " << i << ": default ours=" << ours_default << " ref=" << answer(reference[i]["default"])
                    << ", no-release ours=" << ours_no_release << " ref=" << answer(reference[i]["noRelease"])
                    << (c ? "" : "\nchangelog ours:\n" + ours_notes + "\nchangelog reference:\n" +
                                     reference[i]["notes"].get<std::string>())
                    << "\ncommits:\n"
                    << dump(histories[i]);
    }
  }
  std::filesystem::remove_all(dir);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << "release differential: " << histories.size() << " histories, " << total_commits
            << " commits (none/patch/minor/major: " << release_kinds[0] << "/" << release_kinds[1] << "/"
            << release_kinds[2] << "/" << release_kinds[3] << "); equal release type: " << same_default << "/"
            << histories.size() << " (default rules), " << same_no_release << "/" << histories.size()
            << " (no-release rule); equal changelog: " << same_notes << "/" << histories.size() << "; " << secs
            << " s\n  covered: " << tally.empty_histories << " empty histories, " << tally.reverts << " reverts ("
            << tally.paired_reverts << " paired with a commit in range), " << tally.merges << " merges, " << tally.bangs
            << " `!` headers, " << tally.breaking << " breaking commits, " << tally.no_release
            << " no-release scopes, " << tally.non_conventional << " non-conventional headers, " << tally.empty
            << " empty messages\n";
  EXPECT_EQ(same_default, histories.size());
  EXPECT_EQ(same_no_release, histories.size());
  EXPECT_EQ(same_notes, histories.size());
}

}  // namespace
}  // namespace conveyor::release
