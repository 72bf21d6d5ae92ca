// JUnit XML reports (the de-facto format of JUnit/Surefire, pytest, jest-junit,
// go-junit-report, ctest --output-junit): counts and the failing cases.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "conveyor/result/result.hpp"

namespace conveyor::test_runner {

// A JUnit report larger than this is refused rather than loaded.
inline constexpr std::uintmax_t kMaxJUnitBytes = 64ull << 20;

struct JUnitSummary {
  int tests = 0;
  int failures = 0;  // cases with <failure>
  int errors = 0;    // cases with <error> (and no <failure>)
  int skipped = 0;   // cases with <skipped>
  // Failing (failure or error) cases as "<classname>.<name>" (or "<name>"
  // without a classname), in document order.
  std::vector<std::string> failing;

  JUnitSummary& operator+=(const JUnitSummary& other);
};

// Parses one report. Roots: <testsuites> or a bare <testsuite>; suites may
// nest. Counts come from the <testcase> elements; a suite without any
// testcase (some tools write only totals) contributes its tests / failures /
// errors / skipped (or disabled) attributes instead. Errors
// (invalid_argument): not well-formed XML (with the offset), or another root.
Result<JUnitSummary> parse_junit(std::string_view xml);

// Reads and parses a file (errors name it; a file above kMaxJUnitBytes is
// refused).
Result<JUnitSummary> parse_junit_file(const std::filesystem::path& file);

// Regular files under `root` whose path relative to `root` matches any of
// `globs` (config::glob_match: `*` within a segment, `**` across, and "**/"
// also matching no directory), sorted.
// The .git directory is skipped, symlinks are not followed out of `root`.
std::vector<std::filesystem::path> find_reports(const std::filesystem::path& root, const std::vector<std::string>& globs);

}  // namespace conveyor::test_runner
