// Semantic Versioning 2.0.0 (https://semver.org/spec/v2.0.0.html): parse,
// print and order versions by §11 precedence.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "conveyor/result/result.hpp"

namespace conveyor::release {

struct SemVer {
  std::uint64_t major = 0;
  std::uint64_t minor = 0;
  std::uint64_t patch = 0;
  std::vector<std::string> prerelease;  // dot-separated identifiers, e.g. {"beta", "2"}
  std::vector<std::string> build;       // build metadata, ignored by precedence

  // "1.2.3-beta.2+sha.abc".
  std::string to_string() const;
};

// Parses "MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]" exactly per the §2-§10
// grammar: no leading zeros in numbers or numeric prerelease identifiers, no
// empty identifiers, [0-9A-Za-z-] only, no "v" prefix, numbers that fit 64 bits.
Result<SemVer> parse_semver(std::string_view text);

// §11 precedence: numbers numerically; a prerelease ranks below its release;
// prerelease identifiers left to right, numeric ones numerically and below
// alphanumeric ones (compared in ASCII order); more identifiers rank higher
// when all before are equal. Build metadata is ignored.
std::strong_ordering compare(const SemVer& a, const SemVer& b);

inline bool operator<(const SemVer& a, const SemVer& b) { return compare(a, b) < 0; }
// Equal precedence (build metadata ignored).
inline bool same_precedence(const SemVer& a, const SemVer& b) { return compare(a, b) == 0; }

}  // namespace conveyor::release
