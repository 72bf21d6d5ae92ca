// Benchmark: Conventional Commits analysis of a 100,000-commit history,
// conveyor::release::analyze against @semantic-release/commit-analyzer's
// analyzeCommits (preset conventionalcommits, the no-release rule) on the same
// commits in the same run. Prints both best-of-N times, the ratio and whether
// both decided the same release type.
//
//   release_bench [commits=100000] [runs=7] [reference runs=2; 0 = skip commit-analyzer]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "conveyor/release/analysis.hpp"
#include "histories.hpp"

using namespace conveyor::release;

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::stoul(argv[1]) : 100000;
  const int runs = argc > 2 ? std::stoi(argv[2]) : 7;
  // commit-analyzer needs about a minute per run for 100,000 commits.
  const int node_runs = argc > 3 ? std::stoi(argv[3]) : 2;
  try {
    testing::Rng rng(42);
    // A realistic mix: mostly feat/fix/chore/docs, 2% reverts (of one of the
    // last 20 commits), 12% merges, 6% free-form messages, breaking changes rare.
    const std::vector<Commit> commits = testing::generate_history(rng, n, testing::Mix{false, 1});
    std::size_t bytes = 0;
    for (const Commit& c : commits) bytes += c.message.size();

    double best_ms = 1e300;
    ReleaseType ours = ReleaseType::none;
    for (int i = 0; i < runs; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      const Analysis a = analyze(commits);
      const auto t1 = std::chrono::steady_clock::now();
      best_ms = std::min(best_ms, std::chrono::duration<double, std::milli>(t1 - t0).count());
      ours = a.type;
    }

    if (node_runs <= 0) {  // conveyor only
      std::printf("commits: %zu, conveyor analyze: %.1f ms (best of %d) -> %s\n", commits.size(), best_ms, runs,
                  release_type_name(ours));
      return 0;
    }
    const std::string npm_dir = testing::ensure_reference_installed();
    char dir_template[] = "/tmp/conveyor-release-bench-XXXXXX";
    if (::mkdtemp(dir_template) == nullptr) throw std::runtime_error("mkdtemp failed");
    const std::string dir = dir_template;
    nlohmann::json input;
    input["histories"] = nlohmann::json::array({testing::history_json(commits, nullptr)});
    testing::write_file(dir + "/history.json", input.dump());
    const nlohmann::json ref = nlohmann::json::parse(testing::run_command(
        "node --max-old-space-size=4096 '" + testing::node_dir() + "/reference.mjs' bench '" + dir +
        "/history.json' '" + npm_dir + "' " + std::to_string(node_runs)));
    std::filesystem::remove_all(dir);
    const double ref_ms = ref["best_ms"].get<double>();
    const std::string ref_type = ref["type"].is_null() ? "none" : ref["type"].get<std::string>();

    std::printf("commits:               %zu (%.1f MB of messages)\n", commits.size(), bytes / 1e6);
    std::printf("conveyor analyze:      %.1f ms (best of %d)  -> %s\n", best_ms, runs, release_type_name(ours));
    std::printf("commit-analyzer 13.0.1: %.1f ms (best of %d) -> %s\n", ref_ms, node_runs, ref_type.c_str());
    std::printf("speed-up:              %.1fx\n", ref_ms / best_ms);
    std::printf("same release type:     %s\n", ref_type == release_type_name(ours) ? "yes" : "NO");
    return ref_type == release_type_name(ours) ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "release_bench: %s\n", e.what());
    return 2;
  }
}
