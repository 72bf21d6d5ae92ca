#include "conveyor/release/analysis.hpp"

#include "js_text.hpp"
#include "parser.hpp"
#include "revert_filter.hpp"
#include "rules.hpp"

namespace conveyor::release {

const char* release_type_name(ReleaseType type) noexcept {
  switch (type) {
    case ReleaseType::none: return "none";
    case ReleaseType::patch: return "patch";
    case ReleaseType::minor: return "minor";
    case ReleaseType::major: return "major";
  }
  return "none";
}

const char* reason_name(Reason reason) noexcept {
  switch (reason) {
    case Reason::empty_message: return "empty message";
    case Reason::reverted: return "reverted";
    case Reason::reverts: return "reverts a commit in range";
    case Reason::no_release_scope: return "scope no-release";
    case Reason::breaking: return "breaking change";
    case Reason::revert: return "revert";
    case Reason::type: return "type";
    case Reason::field: return "meta field";
    case Reason::no_rule: return "no rule matched";
  }
  return "no rule matched";
}

Analysis analyze(const std::vector<Commit>& commits, const AnalyzeOptions& options) {
  const std::size_t n = commits.size();
  Analysis result;
  std::vector<Decision> decisions(n);
  std::vector<unsigned char> dropped(n, 0);

  detail::Parsed parsed;
  detail::HeldReverts held;

  for (std::size_t i = 0; i < n; ++i) {
    Decision& d = decisions[i];
    d.index = i;
    const Commit& c = commits[i];
    if (detail::js_trim(c.message).empty()) {
      d.reason = Reason::empty_message;
      dropped[i] = 1;
      continue;
    }
    detail::parse_message(c.sha, c.message, detail::ParseMode::analysis, parsed);

    // conventional-commits-filter: does a held revert name this commit?
    if (parsed.has_header) {
      const std::size_t r = held.take(parsed.hash.get(), parsed.header.get());
      if (r != detail::HeldReverts::npos) {
        dropped[i] = dropped[r] = 1;
        d.reason = Reason::reverted;
        d.paired_with = r;
        decisions[r].release = ReleaseType::none;
        decisions[r].reason = Reason::reverts;
        decisions[r].paired_with = i;
        continue;
      }
    }
    if (parsed.revert && parsed.revert_matchable) held.hold(parsed.revert_hash, parsed.revert_header, i);
    const detail::RuleOutcome o = detail::apply_rules(parsed, options.no_release_scope);
    d.release = o.release;
    d.reason = o.reason;
  }

  for (std::size_t i = 0; i < n; ++i) {
    if (!dropped[i] && decisions[i].release > result.type) result.type = decisions[i].release;
  }
  if (options.with_decisions) result.decisions = std::move(decisions);
  return result;
}

}  // namespace conveyor::release
