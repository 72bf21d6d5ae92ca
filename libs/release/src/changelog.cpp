#include "conveyor/release/changelog.hpp"

#include <algorithm>
#include <memory>
#include <string_view>

#include "collate.hpp"
#include "js_text.hpp"
#include "parser.hpp"
#include "revert_filter.hpp"

namespace conveyor::release {
namespace {

struct TypeEntry {
  std::string_view type;
  std::string_view section;
  bool hidden;
};

// DEFAULT_COMMIT_TYPES of conventional-changelog-conventionalcommits 9.
constexpr TypeEntry kTypes[] = {
    {"feat", "Features", false},         {"feature", "Features", false},
    {"fix", "Bug Fixes", false},         {"perf", "Performance Improvements", false},
    {"revert", "Reverts", false},        {"docs", "Documentation", true},
    {"style", "Styles", true},           {"chore", "Miscellaneous Chores", true},
    {"refactor", "Code Refactoring", true}, {"test", "Tests", true},
    {"build", "Build System", true},     {"ci", "Continuous Integration", true},
};

const TypeEntry* find_type(std::string_view key) {
  for (const TypeEntry& e : kTypes) {
    if (e.type == key) return &e;
  }
  return nullptr;
}

int group_rank(std::string_view title) {
  int i = 0;
  for (const TypeEntry& e : kTypes) {
    if (e.section == title) return i;
    ++i;
  }
  return -1;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum_ci(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// /release-as:\s*\w*@?([0-9]+\.[0-9]+\.[0-9a-z]+(-[0-9a-z.]+)?)\s*/i
bool has_release_as(std::string_view s) {
  for (std::size_t p = 0; p + 11 <= s.size(); ++p) {
    if (!detail::ci_at(s, p, "release-as:")) continue;
    const std::size_t q = detail::skip_js_space(s, p + 11);
    std::size_t w = q;
    while (w < s.size() && detail::is_word(s[w])) ++w;
    for (std::size_t start = q; start <= w; ++start) {
      for (int at = 0; at < 2; ++at) {
        std::size_t i = start;
        if (at == 1) {
          if (i >= s.size() || s[i] != '@') continue;
          ++i;
        }
        const auto digits = [&](std::size_t& k) {
          const std::size_t b = k;
          while (k < s.size() && is_digit(s[k])) ++k;
          return k > b;
        };
        if (!digits(i) || i >= s.size() || s[i] != '.') continue;
        ++i;
        if (!digits(i) || i >= s.size() || s[i] != '.') continue;
        ++i;
        if (i < s.size() && is_alnum_ci(s[i])) return true;
      }
    }
  }
  return false;
}

// Array-index-like keys come first in a JS object's key order.
bool integer_key(const std::string& k) {
  if (k.empty() || k.size() > 10) return false;
  if (k.size() > 1 && k[0] == '0') return false;
  if (!std::all_of(k.begin(), k.end(), is_digit)) return false;
  return std::stoull(k) < 4294967295ULL;
}

// The first paragraph of the message, lines joined by spaces (git's %s, which
// semantic-release passes as `subject` and the parse result only overrides
// when the header is conventional).
std::string git_subject(std::string_view message) {
  std::string out;
  std::size_t start = 0;
  // skip leading blank lines
  for (;;) {
    const std::size_t nl = message.find('\n', start);
    std::string_view line = message.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    const bool is_blank = line.find_first_not_of(" \t\r") == std::string_view::npos;
    if (is_blank && out.empty()) {
      if (nl == std::string_view::npos) break;
      start = nl + 1;
      continue;
    }
    if (is_blank) break;
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) line.remove_suffix(1);
    if (!out.empty()) out.push_back(' ');
    out.append(line);
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  return out;
}

struct Entry {
  std::string title;  // group
  std::string scope;
  std::string subject;  // transformed; empty -> header shown
  bool has_subject = false;
  std::string header;
  std::string hash;
  std::vector<Reference> references;
  std::vector<std::string> notes;
};

class Renderer {
 public:
  explicit Renderer(const ChangelogContext& ctx) : ctx_(ctx), link_(!ctx.repository.empty()) {}

  std::string issue_url(std::string_view owner, std::string_view repository, std::string_view issue) const {
    std::string u = ctx_.host + "/";
    u += owner.empty() ? std::string_view(ctx_.owner) : owner;
    u += "/";
    u += repository.empty() ? std::string_view(ctx_.repository) : repository;
    u += "/issues/";
    u += issue;
    return u;
  }

  // The preset's subject transform: issue links, then user links.
  std::string link_subject(std::string_view subject, std::vector<std::string>& issues) const {
    std::string a;
    for (std::size_t i = 0; i < subject.size();) {
      if (subject[i] == '#') {
        std::size_t e = i + 1;
        while (e < subject.size() && (is_digit(subject[e]) || (subject[e] >= 'a' && subject[e] <= 'z'))) ++e;
        if (e > i + 1) {
          const std::string_view id = subject.substr(i + 1, e - i - 1);
          issues.push_back("#" + std::string(id));
          a += "[#" + std::string(id) + "](" + ctx_.host + "/" + ctx_.owner + "/" + ctx_.repository + "/issues/" +
               std::string(id) + ")";
          i = e;
          continue;
        }
      }
      a.push_back(subject[i++]);
    }
    // /`[^`]*`|\B@([a-z0-9](?:-?[a-z0-9/]){0,38})/g
    const auto user_char = [](char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || c == '/'; };
    std::string b;
    for (std::size_t i = 0; i < a.size();) {
      if (a[i] == '`') {
        const std::size_t close = a.find('`', i + 1);
        if (close != std::string::npos) {
          b.append(a, i, close + 1 - i);
          i = close + 1;
          continue;
        }
      } else if (a[i] == '@' && (i == 0 || !detail::is_word(a[i - 1])) && i + 1 < a.size() &&
                 (is_digit(a[i + 1]) || (a[i + 1] >= 'a' && a[i + 1] <= 'z'))) {
        std::size_t e = i + 2;
        for (int rep = 0; rep < 38; ++rep) {
          if (e + 1 < a.size() && a[e] == '-' && user_char(a[e + 1])) {
            e += 2;
          } else if (e < a.size() && user_char(a[e])) {
            e += 1;
          } else {
            break;
          }
        }
        const std::string user = a.substr(i + 1, e - i - 1);
        if (user.find('/') != std::string::npos) {
          b += "@" + user;
        } else {
          b += "[@" + user + "](" + ctx_.host + "/" + user + ")";
        }
        i = e;
        continue;
      }
      b.push_back(a[i++]);
    }
    return b;
  }

  std::string reference_text(const Reference& r) const {
    std::string label;
    if (!r.owner.empty()) label += r.owner + "/";
    label += r.repository + r.prefix + r.issue;
    if (!link_) return label;
    return "[" + label + "](" + issue_url(r.owner, r.repository, r.issue) + ")";
  }

  std::string commit_line(const Entry& e) const {
    std::string s = "*";
    if (!e.scope.empty()) s += " **" + e.scope + ":**";
    s += " ";
    s += e.has_subject && !e.subject.empty() ? e.subject : e.header;
    if (!e.hash.empty()) {
      const std::string short_hash = e.hash.substr(0, 7);
      s += " ";
      if (link_) {
        s += "([" + short_hash + "](" + ctx_.host + "/" + ctx_.owner + "/" + ctx_.repository + "/commit/" + e.hash +
             "))";
      } else {
        s += short_hash;
      }
    }
    if (!e.references.empty()) {
      s += ", closes";
      for (const Reference& r : e.references) s += " " + reference_text(r);
    }
    return s;
  }

  const ChangelogContext& ctx_;
  bool link_;
};

}  // namespace

std::string render_changelog_section(const std::vector<Commit>& commits, const ChangelogContext& ctx) {
  // Parse and drop reverted pairs exactly as analysis does.
  std::vector<std::unique_ptr<detail::Parsed>> parsed(commits.size());
  std::vector<unsigned char> keep(commits.size(), 0);
  detail::HeldReverts held;
  for (std::size_t i = 0; i < commits.size(); ++i) {
    if (detail::js_trim(commits[i].message).empty()) continue;
    parsed[i] = std::make_unique<detail::Parsed>();
    detail::Parsed& p = *parsed[i];
    detail::parse_message(commits[i].sha, commits[i].message, detail::ParseMode::full, p);
    keep[i] = 1;
    if (p.has_header) {
      const std::size_t r = held.take(p.hash.get(), p.header.get());
      if (r != detail::HeldReverts::npos) {
        keep[r] = keep[i] = 0;
        continue;
      }
    }
    if (p.revert && p.revert_matchable) held.hold(p.revert_hash, p.revert_header, i);
  }

  Renderer r(ctx);
  std::vector<Entry> entries;
  for (std::size_t i = 0; i < commits.size(); ++i) {
    if (!keep[i]) continue;
    const detail::Parsed& p = *parsed[i];
    std::string type_key(p.revert ? std::string_view("revert") : p.type.get());
    for (char& c : type_key) c = detail::ascii_lower(c);
    const TypeEntry* entry = find_type(type_key);
    bool discard = !(has_release_as(p.footer) || has_release_as(p.body));
    if (!p.notes.empty()) discard = false;
    if (discard && (entry == nullptr || entry->hidden)) continue;

    Entry e;
    e.title = entry != nullptr ? std::string(entry->section) : std::string(p.type.get());
    e.scope = p.scope.get() == "*" ? std::string() : std::string(p.scope.get());
    e.header = std::string(p.header.get());
    e.hash = std::string(p.hash.get());
    std::vector<std::string> issues;
    // The parse result sets `subject` only for a conventional header (or a
    // -subject- field); otherwise semantic-release's git subject stays.
    std::string subject = p.header_matched || p.subject.owned ? std::string(p.subject.get()) : git_subject(commits[i].message);
    e.has_subject = !subject.empty();
    if (e.has_subject) {
      // Issues named in the subject are not repeated as references, linked or not.
      const std::string linked = r.link_subject(subject, issues);
      e.subject = r.link_ ? linked : subject;
    }
    for (const Reference& ref : p.references) {
      if (std::find(issues.begin(), issues.end(), ref.prefix + ref.issue) == issues.end()) e.references.push_back(ref);
    }
    for (const Note& n : p.notes) e.notes.push_back(n.text);
    entries.push_back(std::move(e));
  }

  // Group by title in JS object key order, then by rank (stable).
  std::vector<std::string> titles;
  for (const Entry& e : entries) {
    if (std::find(titles.begin(), titles.end(), e.title) == titles.end()) titles.push_back(e.title);
  }
  std::stable_partition(titles.begin(), titles.end(), integer_key);
  {
    auto end_int = std::find_if_not(titles.begin(), titles.end(), integer_key);
    std::sort(titles.begin(), end_int, [](const std::string& a, const std::string& b) { return std::stoull(a) < std::stoull(b); });
  }
  std::stable_sort(titles.begin(), titles.end(),
                   [](const std::string& a, const std::string& b) { return group_rank(a) < group_rank(b); });

  std::string out = "## ";
  const bool compare_link = !ctx.current_tag.empty() && !ctx.previous_tag.empty();
  if (compare_link) {
    out += "[" + ctx.version + "](" + ctx.host + "/" + ctx.owner + "/" + ctx.repository + "/compare/" +
           ctx.previous_tag + "..." + ctx.current_tag + ")";
  } else {
    out += ctx.version;
  }
  if (!ctx.date.empty()) out += " (" + ctx.date + ")\n";

  bool any_note = false;
  for (const Entry& e : entries) any_note = any_note || !e.notes.empty();
  if (any_note) {
    out += "\n### ⚠ BREAKING CHANGES\n\n";
    for (const Entry& e : entries) {
      for (const std::string& text : e.notes) {
        out += "* ";
        if (!e.scope.empty()) out += "**" + e.scope + ":** ";
        out += text + "\n";
      }
    }
  }
  for (const std::string& title : titles) {
    std::vector<const Entry*> group;
    for (const Entry& e : entries) {
      if (e.title == title) group.push_back(&e);
    }
    std::stable_sort(group.begin(), group.end(), [](const Entry* a, const Entry* b) {
      return detail::locale_compare(a->scope + a->subject, b->scope + b->subject) < 0;
    });
    out += "\n";
    if (!title.empty()) out += "### " + title + "\n\n";
    for (const Entry* e : group) out += r.commit_line(*e) + "\n";
  }
  std::string result(detail::js_trim(out));
  if (!result.empty()) result += "\n";
  return result;
}

}  // namespace conveyor::release
