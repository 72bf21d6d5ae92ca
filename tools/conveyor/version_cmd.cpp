// `conveyor version next --repo PATH [--branch NAME] [--tag-prefix v]`: the
// version the version stage would release for a local repository, and the
// commits that decided it. Reads the repository with git (the version-tagger's
// plan and git reader); changes nothing.
#include <cstdio>
#include <iostream>

#include "commands.hpp"
#include "git_repository.hpp"
#include "plan.hpp"

namespace conveyor::cli {
namespace {

// Beyond this many commits only those that call for a release are listed.
constexpr std::size_t kListAll = 200;

std::string first_line(const std::string& message) {
  const auto start = message.find_first_not_of("\r\n");
  if (start == std::string::npos) return "";
  std::string line = message.substr(start, message.find('\n', start) - start);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// not_found / invalid_argument are the user's to fix (exit 2); the rest is 1.
int exit_code_of(const Error& e) { return e.code == Errc::not_found || e.code == Errc::invalid_argument ? 2 : 1; }

int next_version(const std::string& repo_path, const std::string& branch, const std::string& tag_prefix,
                 const std::vector<std::string>& prerelease_branches, bool quiet) {
  version_tagger::GitRepository repo(repo_path, std::nullopt);
  std::string sha;
  if (branch.empty()) {
    auto head = repo.resolve("HEAD");
    if (!head) {
      std::cerr << "conveyor version next: " << head.error().message << "\n";
      return exit_code_of(head.error());
    }
    sha = *head;
  } else {
    auto tip = repo.resolve("refs/heads/" + branch);
    if (!tip) tip = repo.resolve(branch);
    if (!tip) {
      std::cerr << "conveyor version next: branch " << branch << ": " << tip.error().message << "\n";
      return exit_code_of(tip.error());
    }
    sha = *tip;
  }
  const std::string channel = branch.empty() ? "" : version_tagger::prerelease_channel(branch, prerelease_branches);
  auto plan = version_tagger::plan_version(repo, sha, tag_prefix, channel);
  if (!plan) {
    std::cerr << "conveyor version next: " << plan.error().message << "\n";
    return exit_code_of(plan.error());
  }
  std::cout << (plan->next ? plan->next->to_string() : "none") << "\n";
  if (quiet) return 0;

  const std::string previous = plan->last ? plan->last->tag : "";
  std::cout << "release: " << release::release_type_name(plan->analysis.type);
  if (plan->next) std::cout << " (tag " << plan->next_tag() << ")";
  if (!channel.empty()) std::cout << ", prerelease channel " << channel;
  std::cout << "\n";
  std::cout << "previous: " << (previous.empty() ? "none (no " + tag_prefix + "<semver> tag reachable)" : previous)
            << "\n";
  std::cout << "commits: " << plan->commits.size() << (previous.empty() ? " in the history" : " since " + previous)
            << " of " << sha << "\n";
  const bool all = plan->commits.size() <= kListAll;
  std::size_t hidden = 0;
  for (const auto& d : plan->analysis.decisions) {
    if (!all && d.release == release::ReleaseType::none) {
      ++hidden;
      continue;
    }
    const auto& commit = plan->commits.at(d.index);
    char row[32];
    std::snprintf(row, sizeof row, "  %-6s %.7s  ", release::release_type_name(d.release), commit.sha.c_str());
    std::cout << row << first_line(commit.message) << "  (" << release::reason_name(d.reason);
    if (d.reason == release::Reason::reverted || d.reason == release::Reason::reverts) {
      std::cout << " " << plan->commits.at(d.paired_with).sha.substr(0, 7);
    }
    std::cout << ")\n";
  }
  if (hidden > 0) std::cout << "  ... and " << hidden << " more commits that release nothing\n";
  return 0;
}

}  // namespace

void add_version_commands(CLI::App& app, int& exit_code) {
  auto* version = app.add_subcommand("version", "what the version stage decides, for a local repository");
  version->require_subcommand(1);

  auto* next = version->add_subcommand(
      "next", "print the next version (or `none`) from the Conventional Commits since the last tag, and why");
  static std::string repo = ".";
  static std::string branch;
  static std::string tag_prefix = "v";
  static std::vector<std::string> prerelease_branches;
  static bool quiet = false;
  next->add_option("--repo", repo, "the repository (a working tree or a bare repository)")->capture_default_str();
  next->add_option("--branch", branch, "the branch to release (default: HEAD)");
  next->add_option("--tag-prefix", tag_prefix, "the prefix of version tags")->capture_default_str();
  next->add_option("--prerelease-branch", prerelease_branches,
                   "a glob of prerelease branches (version `prerelease-branches`); repeatable");
  next->add_flag("--quiet,-q", quiet, "print the version only");
  next->callback([&exit_code] { exit_code = next_version(repo, branch, tag_prefix, prerelease_branches, quiet); });
}

}  // namespace conveyor::cli
