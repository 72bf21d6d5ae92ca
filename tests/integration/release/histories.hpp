// Random commit histories for the release differential test and benchmark,
// and the plumbing to run the npm reference (node/reference.mjs) on them.
// Deterministic: a fixed seed gives the same histories on every machine (no
// std:: distributions, whose output is implementation-defined).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "conveyor/release/commit.hpp"

namespace conveyor::release::testing {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed ? seed : 1) {}
  std::uint64_t next() {  // xorshift64*
    s_ ^= s_ >> 12;
    s_ ^= s_ << 25;
    s_ ^= s_ >> 27;
    return s_ * 0x2545F4914F6CDD1DULL;
  }
  std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(next() % n); }
  bool chance(unsigned percent) { return below(1000) < percent * 10; }
  bool permille(unsigned p) { return below(1000) < p; }
  template <typename T>
  const T& pick(const std::vector<T>& v) { return v[below(v.size())]; }

 private:
  std::uint64_t s_;
};

// `adversarial` adds the corner cases (case variants, lenient notes, meta
// fields, gpg lines, CRLF, odd reverts); otherwise the mix looks like a real
// project's log.
struct Mix {
  bool adversarial = true;
  unsigned breaking_permille = 10;  // chance of `!` per commit; footers get twice that
};

inline std::string random_sha(Rng& r) {
  static const char* hex = "0123456789abcdef";
  std::string s(40, '0');
  for (char& c : s) c = hex[r.below(16)];
  return s;
}

inline std::string words(Rng& r, std::size_t min, std::size_t max, bool adversarial) {
  static const std::vector<std::string> vocab = {
      "add", "remove", "update", "the", "parser", "cache", "support", "for", "config", "handle", "error", "in",
      "user", "login", "page", "api", "endpoint", "timeout", "retry", "docs", "build", "on", "windows", "memory",
      "leak", "when", "closing", "Fix", "fixes", "prefix", "a", "of", "to", "release", "version", "reverts", "this"};
  static const std::vector<std::string> odd = {"über", "naïve", "日本", "(#12)", "@octocat", "`code`", "#42",
                                               "https://example.com/#7", "a\xc2\xa0" "b", "gh-9"};
  std::string out;
  const std::size_t n = min + r.below(max - min + 1);
  for (std::size_t i = 0; i < n; ++i) {
    if (i) out += ' ';
    out += adversarial && r.chance(5) ? r.pick(odd) : r.pick(vocab);
  }
  return out;
}

inline std::string conventional_message(Rng& r, const Mix& mix) {
  static const std::vector<std::string> realistic_types = {"feat", "feat", "feat", "fix", "fix", "fix", "fix",
                                                           "chore", "chore", "docs", "docs", "refactor", "test",
                                                           "ci", "build", "perf", "style"};
  static const std::vector<std::string> odd_types = {"Feat", "FEAT", "FIX", "Fix", "PERF", "feature", "",
                                                     "revert", "wip", "123"};
  static const std::vector<std::string> scopes = {"api", "core", "ui", "deps", "parser", "no-release", "ui,core"};
  static const std::vector<std::string> odd_scopes = {"*", "No-Release", "no-release ", "a(b)c", "", "no-release/x"};
  std::string type = mix.adversarial && r.chance(15) ? r.pick(odd_types) : r.pick(realistic_types);
  std::string header = type;
  if (r.chance(45)) {
    const std::string scope = mix.adversarial && r.chance(15) ? r.pick(odd_scopes) : r.pick(scopes);
    header += "(" + scope + ")";
  }
  if (r.permille(mix.breaking_permille)) header += "!";
  header += ": " + words(r, 1, 7, mix.adversarial);
  std::string msg = header;
  if (r.chance(50)) {
    const std::size_t paragraphs = 1 + r.below(3);
    for (std::size_t p = 0; p < paragraphs; ++p) {
      msg += "\n\n" + words(r, 3, 12, mix.adversarial);
      if (r.chance(30)) msg += "\n" + words(r, 3, 12, mix.adversarial);
      if (mix.adversarial && r.chance(4)) msg += "\nthis is a BREAKING CHANGE: in the middle of a line";
    }
  }
  if (mix.adversarial && r.chance(4)) msg += "\n\n---\n" + words(r, 2, 5, true);
  if (r.chance(40)) {
    static const std::vector<std::string> footers = {
        "Closes #123", "Fixes #7", "Refs #99", "Reviewed-by: Jane Doe <jane@example.com>",
        "Signed-off-by: Bob <bob@example.com>", "Co-authored-by: Ann <ann@example.com>", "Closes octo/repo#5"};
    static const std::vector<std::string> breaking = {"BREAKING CHANGE: ", "BREAKING-CHANGE: "};
    static const std::vector<std::string> odd_breaking = {"breaking change: ", "BREAKING CHANGE ", "BREAKING CHANGES: ",
                                                          "  * BREAKING CHANGE: ", "Breaking-Change:", "BREAKING CHANGE:"};
    msg += "\n";
    const std::size_t n = 1 + r.below(3);
    for (std::size_t i = 0; i < n; ++i) {
      msg += "\n";
      if (r.permille(2 * mix.breaking_permille)) {
        msg += (mix.adversarial && r.chance(40) ? r.pick(odd_breaking) : r.pick(breaking)) + words(r, 2, 8, mix.adversarial);
        if (r.chance(30)) msg += "\n" + words(r, 2, 8, mix.adversarial);
      } else {
        msg += r.pick(footers);
      }
    }
  }
  if (mix.adversarial && r.chance(2)) {
    msg += "\n\n-tag-\n" + std::string(r.permille(10 * mix.breaking_permille) ? "Breaking" : "FEATURE");
  }
  if (mix.adversarial && r.chance(1)) msg += "\n\n-emoji-\n:bug:";
  if (mix.adversarial && r.chance(1)) msg = "Update things\n\n-type-\nfeat";
  return msg;
}

inline std::string header_of(const std::string& message) { return message.substr(0, message.find('\n')); }

// One history of `n` commits, newest first.
inline std::vector<Commit> generate_history(Rng& r, std::size_t n, const Mix& mix) {
  std::vector<Commit> old_first;
  old_first.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    Commit c{random_sha(r), {}};
    // Realistic: 2% reverts, of one of the last 20 commits (a revert far from
    // its target makes commit-analyzer's filter quadratic); adversarial: 8%,
    // of any earlier commit.
    const std::size_t kind = r.below(100);
    const std::size_t revert_below = mix.adversarial ? 8 : 2;
    if (kind < revert_below && !old_first.empty()) {
      const std::size_t window = mix.adversarial ? old_first.size() : std::min<std::size_t>(20, old_first.size());
      const Commit& target = old_first[old_first.size() - 1 - r.below(window)];
      std::string h = header_of(target.message);
      if (!h.empty() && h.back() == '\r') h.pop_back();
      std::string sha = target.sha;
      if (mix.adversarial && r.chance(5)) sha = sha.substr(0, 7);         // abbreviated: matches nothing
      if (mix.adversarial && r.chance(5)) sha = random_sha(r);            // outside the range
      std::string because = mix.adversarial && r.chance(5) ? "\n\nBecause it broke things." : "";
      std::string ref = mix.adversarial && r.chance(5) ? "this reverts commit " : "This reverts commit ";
      c.message = (r.chance(65) ? "Revert \"" + h + "\"" : "revert: " + h) + because + "\n\n" + ref + sha + ".";
    } else if (kind < 14) {
      static const std::vector<std::string> merges = {"Merge pull request #", "Merge branch '", "Merge remote-tracking branch '"};
      const std::string& m = r.pick(merges);
      if (m == "Merge pull request #") {
        c.message = m + std::to_string(1 + r.below(900)) + " from octo/feature-" + std::to_string(r.below(99)) + "\n\n" +
                    (r.chance(50) ? conventional_message(r, mix) : words(r, 2, 6, mix.adversarial));
      } else {
        c.message = m + "feature-" + std::to_string(r.below(99)) + "' into main";
        if (r.chance(20)) c.message += "\n\n" + words(r, 2, 6, mix.adversarial);
        if (mix.adversarial && r.permille(5 * mix.breaking_permille)) {
          c.message += "\n\nBREAKING CHANGE: merged a breaking change";
        }
      }
    } else if (kind < 20) {
      static const std::vector<std::string> free = {"Update README.md", "WIP", "fixed the thing", "Initial commit",
                                                    "feat:missing space", "feat (api): space before scope",
                                                    "Bump version", "release 1.2.3"};
      c.message = r.pick(free);
    } else if (kind < 21 && mix.adversarial) {
      static const std::vector<std::string> empty = {"", "   ", "\n\n", " \n\t"};
      c.message = r.pick(empty);
    } else {
      c.message = conventional_message(r, mix);
    }
    if (mix.adversarial && r.chance(2)) c.message = "gpg: Signature made today\n" + c.message;
    if (mix.adversarial && r.chance(3)) {
      std::string crlf;
      for (char ch : c.message) {
        if (ch == '\n') crlf += '\r';
        crlf += ch;
      }
      c.message = crlf;
    }
    old_first.push_back(std::move(c));
  }
  return std::vector<Commit>(old_first.rbegin(), old_first.rend());
}

struct ChangelogCase {
  std::string version = "1.1.0";
  std::string date = "2024-05-01";
  std::string previous_tag = "v1.0.0";
  std::string current_tag = "v1.1.0";
};

inline nlohmann::json history_json(const std::vector<Commit>& commits, const ChangelogCase* changelog) {
  nlohmann::json h;
  h["commits"] = nlohmann::json::array();
  for (const Commit& c : commits) h["commits"].push_back({{"hash", c.sha}, {"message", c.message}});
  if (changelog != nullptr) {
    h["changelog"] = {{"version", changelog->version},
                      {"date", changelog->date},
                      {"previousTag", changelog->previous_tag},
                      {"currentTag", changelog->current_tag}};
  }
  return h;
}

// Runs a shell command; returns its stdout, throws with the exit status on failure.
inline std::string run_command(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) throw std::runtime_error("popen failed: " + command);
  char buf[65536];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = ::pclose(p);
  if (status != 0) throw std::runtime_error("command failed (status " + std::to_string(status) + "): " + command);
  return out;
}

inline std::string source_dir() {
  const char* s = std::getenv("CONVEYOR_SOURCE_DIR");
#ifdef CONVEYOR_RELEASE_SOURCE_DIR
  if (s == nullptr) s = CONVEYOR_RELEASE_SOURCE_DIR;
#endif
  if (s == nullptr) throw std::runtime_error("CONVEYOR_SOURCE_DIR is not set");
  return s;
}

inline std::string node_dir() { return source_dir() + "/tests/integration/release/node"; }

// Installs the pinned npm packages if needed; returns their directory.
inline std::string ensure_reference_installed() {
  std::string dir = run_command("bash '" + node_dir() + "/ensure-installed.sh'");
  while (!dir.empty() && (dir.back() == '\n' || dir.back() == '\r')) dir.pop_back();
  const std::size_t nl = dir.rfind('\n');
  return nl == std::string::npos ? dir : dir.substr(nl + 1);
}

inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  if (!f) throw std::runtime_error("cannot write " + path);
}

}  // namespace conveyor::release::testing
