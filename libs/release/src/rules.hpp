// commit-analyzer's release rules (lib/default-release-rules.js of
// @semantic-release/commit-analyzer 13) applied to one parsed commit, in rule
// order; a later rule replaces the result only when strictly higher
// (lib/analyze-commit.js). Rule values match exactly (micromatch with a
// pattern free of glob characters is string equality).
#pragma once

#include <string_view>

#include "conveyor/release/analysis.hpp"
#include "parser.hpp"

namespace conveyor::release::detail {

struct RuleOutcome {
  ReleaseType release = ReleaseType::none;
  Reason reason = Reason::no_rule;
};

inline RuleOutcome apply_rules(const Parsed& p, bool no_release_scope) {
  RuleOutcome o;
  // Custom rule {scope: "no-release", release: false}: matching it yields
  // `false`, which is not undefined, so the default rules are not consulted.
  if (no_release_scope && p.scope.get() == "no-release") {
    o.reason = Reason::no_release_scope;
    return o;
  }
  const auto offer = [&o](ReleaseType r, Reason why) {
    if (r > o.release) {
      o.release = r;
      o.reason = why;
    }
  };
  if (p.note_count > 0) offer(ReleaseType::major, Reason::breaking);  // {breaking: true}
  if (o.release == ReleaseType::major) return o;
  if (p.revert) offer(ReleaseType::patch, Reason::revert);  // {revert: true}
  const std::string_view type = p.type.get();
  if (type == "feat") offer(ReleaseType::minor, Reason::type);
  if (type == "fix" || type == "perf") offer(ReleaseType::patch, Reason::type);
  if (!p.fields.empty()) {
    const std::string_view emoji = p.field("emoji");
    if (emoji == ":racehorse:" || emoji == ":bug:" || emoji == ":penguin:" || emoji == ":apple:" ||
        emoji == ":checkered_flag:") {
      offer(ReleaseType::patch, Reason::field);
    }
    const std::string_view tag = p.field("tag");
    if (tag == "BUGFIX" || tag == "SECURITY" || tag == "Fix") offer(ReleaseType::patch, Reason::field);
    if (tag == "FEATURE" || tag == "Update" || tag == "New") offer(ReleaseType::minor, Reason::field);
    if (tag == "Breaking") offer(ReleaseType::major, Reason::field);
    const std::string_view component = p.field("component");
    if (component == "perf" || component == "deps") offer(ReleaseType::patch, Reason::field);
  }
  if (type == "FEAT") offer(ReleaseType::minor, Reason::type);
  if (type == "FIX") offer(ReleaseType::patch, Reason::type);
  return o;
}

}  // namespace conveyor::release::detail
