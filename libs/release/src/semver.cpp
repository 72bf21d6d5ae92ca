#include "conveyor/release/semver.hpp"

#include <limits>

namespace conveyor::release {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ident_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}
bool all_digits(std::string_view s) {
  for (char c : s) {
    if (!is_digit(c)) return false;
  }
  return !s.empty();
}

Result<std::uint64_t> parse_number(std::string_view s, std::string_view what) {
  if (!all_digits(s)) return make_error(Errc::invalid_argument, std::string(what) + " is not a number");
  if (s.size() > 1 && s[0] == '0') return make_error(Errc::invalid_argument, std::string(what) + " has a leading zero");
  std::uint64_t v = 0;
  for (char c : s) {
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) {
      return make_error(Errc::invalid_argument, std::string(what) + " is too large");
    }
    v = v * 10 + d;
  }
  return v;
}

Result<std::vector<std::string>> parse_identifiers(std::string_view s, bool prerelease) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t dot = s.find('.', start);
    const std::string_view id = s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (id.empty()) return make_error(Errc::invalid_argument, "empty identifier");
    for (char c : id) {
      if (!is_ident_char(c)) return make_error(Errc::invalid_argument, "identifier has a character outside [0-9A-Za-z-]");
    }
    if (prerelease && all_digits(id) && id.size() > 1 && id[0] == '0') {
      return make_error(Errc::invalid_argument, "numeric prerelease identifier has a leading zero");
    }
    out.emplace_back(id);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return out;
}

std::strong_ordering compare_identifier(const std::string& a, const std::string& b) {
  const bool an = all_digits(a);
  const bool bn = all_digits(b);
  if (an && bn) {
    // No leading zeros: a longer number is larger.
    if (a.size() != b.size()) return a.size() <=> b.size();
    return a.compare(b) <=> 0;
  }
  if (an) return std::strong_ordering::less;
  if (bn) return std::strong_ordering::greater;
  return a.compare(b) <=> 0;
}

}  // namespace

std::string SemVer::to_string() const {
  std::string s = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  for (std::size_t i = 0; i < prerelease.size(); ++i) {
    s += i == 0 ? '-' : '.';
    s += prerelease[i];
  }
  for (std::size_t i = 0; i < build.size(); ++i) {
    s += i == 0 ? '+' : '.';
    s += build[i];
  }
  return s;
}

Result<SemVer> parse_semver(std::string_view text) {
  const auto fail = [&](const std::string& why) {
    return make_error(Errc::invalid_argument, "not a SemVer 2.0.0 version (" + why + "): " + std::string(text));
  };
  SemVer v;
  std::string_view core = text;
  const std::size_t plus = text.find('+');
  if (plus != std::string_view::npos) {
    auto build = parse_identifiers(text.substr(plus + 1), false);
    if (!build) return fail("build: " + build.error().message);
    v.build = std::move(build.value());
    core = text.substr(0, plus);
  }
  const std::size_t dash = core.find('-');
  if (dash != std::string_view::npos) {
    auto pre = parse_identifiers(core.substr(dash + 1), true);
    if (!pre) return fail("prerelease: " + pre.error().message);
    v.prerelease = std::move(pre.value());
    core = core.substr(0, dash);
  }
  const std::size_t d1 = core.find('.');
  const std::size_t d2 = d1 == std::string_view::npos ? d1 : core.find('.', d1 + 1);
  if (d1 == std::string_view::npos || d2 == std::string_view::npos || core.find('.', d2 + 1) != std::string_view::npos) {
    return fail("expected MAJOR.MINOR.PATCH");
  }
  auto major = parse_number(core.substr(0, d1), "major");
  if (!major) return fail(major.error().message);
  auto minor = parse_number(core.substr(d1 + 1, d2 - d1 - 1), "minor");
  if (!minor) return fail(minor.error().message);
  auto patch = parse_number(core.substr(d2 + 1), "patch");
  if (!patch) return fail(patch.error().message);
  v.major = *major;
  v.minor = *minor;
  v.patch = *patch;
  return v;
}

std::strong_ordering compare(const SemVer& a, const SemVer& b) {
  if (auto c = a.major <=> b.major; c != 0) return c;
  if (auto c = a.minor <=> b.minor; c != 0) return c;
  if (auto c = a.patch <=> b.patch; c != 0) return c;
  if (a.prerelease.empty() || b.prerelease.empty()) {
    // A release ranks above any prerelease of the same version.
    return b.prerelease.size() == a.prerelease.size() ? std::strong_ordering::equal
           : a.prerelease.empty()                    ? std::strong_ordering::greater
                                                     : std::strong_ordering::less;
  }
  const std::size_t n = std::min(a.prerelease.size(), b.prerelease.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (auto c = compare_identifier(a.prerelease[i], b.prerelease[i]); c != 0) return c;
  }
  return a.prerelease.size() <=> b.prerelease.size();
}

}  // namespace conveyor::release
