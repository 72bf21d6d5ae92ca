#include "parser.hpp"

#include <array>

#include "js_text.hpp"

namespace conveyor::release::detail {
namespace {

// The reference actions of the parser's defaultOptions, in alternation order.
constexpr std::array<std::string_view, 9> kActions = {"close",   "closes",   "closed",   "fix",     "fixes",
                                                      "fixed",   "resolve",  "resolves", "resolved"};

bool is_ref_repo_char(char c) { return is_word(c) || c == '-' || c == '.' || c == '/'; }
bool is_issue_char(char c) { return is_word(c) || c == '-'; }

// The lookahead (?=(?:close|closes|...)) reduces to the three stems.
bool action_stem_at(std::string_view s, std::size_t i) {
  return ci_at(s, i, "close") || ci_at(s, i, "fix") || ci_at(s, i, "resolve");
}

// One match of /(close|...|resolved)(?:\s+(.*?))(?=(?:close|...)|$)/gi at or
// after `from`; on success sets action, sentence and `next` (lastIndex).
bool next_action(std::string_view s, std::size_t from, std::string_view& action, std::string_view& sentence,
                 std::size_t& next) {
  for (std::size_t i = from; i < s.size(); ++i) {
    const char c = ascii_lower(s[i]);
    if (c != 'c' && c != 'f' && c != 'r') continue;
    for (std::string_view alt : kActions) {
      if (!ci_at(s, i, alt)) continue;
      const std::size_t e = i + alt.size();
      if (e >= s.size() || js_space_at(s, e) == 0) continue;
      const std::size_t start = skip_js_space(s, e);
      const std::size_t stop = find_terminator(s, start);
      std::size_t j = start;
      bool found = false;
      for (; j <= stop; ++j) {
        if (j == s.size() || (j < stop && action_stem_at(s, j))) {
          found = true;
          break;
        }
        if (j == stop) break;
      }
      if (!found) continue;
      action = s.substr(i, alt.size());
      sentence = s.substr(start, j - start);
      next = j;
      return true;
    }
  }
  return false;
}

// /\b(?:https?):\/\/(?:www\.)?([-a-zA-Z0-9@:%_+.~#?&//=])+\b/
bool has_url(std::string_view s) {
  const auto url_char = [](char c) {
    return is_word(c) || c == '-' || c == '@' || c == ':' || c == '%' || c == '+' || c == '.' || c == '~' ||
           c == '#' || c == '?' || c == '&' || c == '/' || c == '=';
  };
  for (std::size_t p = s.find("http"); p != std::string_view::npos; p = s.find("http", p + 1)) {
    if (p > 0 && is_word(s[p - 1])) continue;
    std::size_t q = p + 4;
    if (q < s.size() && s[q] == 's') ++q;
    if (s.substr(q, 3) != "://") continue;
    q += 3;
    for (; q < s.size() && url_char(s[q]); ++q) {
      if (is_word(s[q])) return true;
    }
  }
  return false;
}

// One exec of /(?:.*?)??\s*([\w-\.\/]*?)??(#)([\w-]+)(?=\s|$|[,;)\]])/gi on a
// sentence from `from`. Returns false when there is none.
bool next_reference(std::string_view s, std::size_t from, Reference* out, std::size_t& next) {
  for (std::size_t h = s.find('#', from); h != std::string_view::npos; h = s.find('#', h + 1)) {
    std::size_t end = h + 1;
    while (end < s.size() && is_issue_char(s[end])) ++end;
    if (end == h + 1) continue;
    if (end < s.size()) {
      const char c = s[end];
      if (js_space_at(s, end) == 0 && c != ',' && c != ';' && c != ')' && c != ']') continue;
    }
    if (out != nullptr) {
      std::size_t r = h;
      while (r > from && is_ref_repo_char(s[r - 1])) --r;
      std::size_t w0 = space_run_start(s, r);
      if (w0 < from) w0 = from;
      // The lazy prefix (?:.*?)?? cannot cross a line terminator: the match
      // starts after the last terminator before the whitespace run.
      std::size_t st = from;
      for (std::size_t t = from; t < w0;) {
        const std::size_t n = js_terminator_at(s, t);
        if (n != 0) {
          t += n;
          st = t;
        } else {
          ++t;
        }
      }
      const std::size_t k = st > w0 ? st : w0;
      const std::size_t repo_start = k > r ? k : r;
      std::string_view repo = s.substr(repo_start, h - repo_start);
      out->action.clear();
      out->owner.clear();
      out->repository.clear();
      if (!repo.empty()) {
        const std::size_t slash = repo.find('/');
        if (slash != std::string_view::npos) {
          out->owner = std::string(repo.substr(0, slash));
          out->repository = std::string(repo.substr(slash + 1));
        } else {
          out->repository = std::string(repo);
        }
      }
      out->prefix = "#";
      out->issue = std::string(s.substr(h + 1, end - h - 1));
      out->raw = std::string(s.substr(st, end - st));
    }
    next = end;
    return true;
  }
  return false;
}

// Calls f(action, sentence) for each sentence parseReferences looks at.
template <typename F>
void for_each_sentence(std::string_view line, F&& f) {
  std::string_view action, sentence;
  std::size_t next = 0;
  if (next_action(line, 0, action, sentence, next)) {
    do {
      if (!f(action, sentence)) return;
    } while (next_action(line, next, action, sentence, next));
    return;
  }
  // Fallback /()(.+)/gi: each run of non-terminator characters.
  std::size_t i = 0;
  while (i < line.size()) {
    const std::size_t n = js_terminator_at(line, i);
    if (n != 0) {
      i += n;
      continue;
    }
    const std::size_t stop = find_terminator(line, i);
    if (!f(std::string_view{}, line.substr(i, stop - i))) return;
    i = stop;
  }
}

bool is_field_line(std::string_view line, std::string_view& name) {
  // /^-(.*?)-$/
  if (line.size() < 2 || line.front() != '-' || line.back() != '-') return false;
  if (has_terminator(line)) return false;
  name = line.substr(1, line.size() - 2);
  return true;
}

bool is_gpg_line(std::string_view line) {
  // /^\s*gpg:/
  const std::size_t i = skip_js_space(line, 0);
  return line.substr(i, 4) == "gpg:";
}

void append_line(std::string& dst, std::string_view line) {
  if (dst.empty()) {
    dst.assign(line);
  } else {
    dst.push_back('\n');
    dst.append(line);
  }
}

std::string trimmed_newlines(std::string_view s) { return std::string(trim_newlines(s)); }

class Parser {
 public:
  Parser(ParseMode mode, Parsed& out) : full_(mode == ParseMode::full), c_(out) {}

  void run() {
    const auto& lines = c_.lines;
    // parseMerge: the preset has no mergePattern.
    // parseHeader
    if (idx_ < lines.size()) {
      const std::string_view h = lines[idx_++];
      if (!h.empty()) {
        c_.has_header = true;
        c_.header.set(h);
        const HeaderMatch m = match_header(h);
        first_match_ = m;
        if (m.matched) {
          c_.header_matched = true;
          c_.bang = m.breaking;
          c_.type.set(m.type);
          c_.scope.set(m.scope);
          c_.subject.set(m.subject);
        }
        if (full_) parse_references(h, c_.references);
      }
    }
    bool is_body = true;
    while (avail()) {
      parse_meta();
      if (parse_notes()) is_body = false;
      if (!parse_body_and_footer(is_body)) is_body = false;
    }
    // parseBreakingHeader (on the header as meta fields may have changed it)
    if (c_.note_count == 0 && !c_.header.get().empty()) {
      const HeaderMatch m = c_.header.owned ? match_header(c_.header.get()) : first_match_;
      if (m.matched && m.breaking) {
        ++c_.note_count;
        if (full_) c_.notes.push_back(Note{"BREAKING CHANGE", std::string(m.subject)});
      }
    }
  }

 private:
  bool avail() const { return idx_ < c_.lines.size(); }
  std::string_view cur() const { return c_.lines[idx_]; }

  void assign_field(std::string_view name, std::string_view line) {
    if (name == "type") {
      c_.type.append_line(line);
    } else if (name == "scope") {
      c_.scope.append_line(line);
    } else if (name == "subject") {
      c_.subject.append_line(line);
    } else if (name == "header") {
      c_.header.append_line(line);
    } else if (name == "hash") {
      c_.hash.append_line(line);
    } else if (name == "revert") {
      c_.revert_field.append_line(line);
    } else if (name == "notes" || name == "references" || name == "mentions" || name == "body" ||
               name == "footer" || name == "merge") {
      // The JS parser turns these arrays/strings into garbage (notes and
      // references then throw a TypeError); we keep the parsed values.
    } else {
      for (Field& f : c_.fields) {
        if (f.name == name) {
          append_line(f.value, line);
          return;
        }
      }
      c_.fields.push_back(Field{std::string(name), std::string(line)});
    }
  }

  // parseMeta: a `-name-` line starts a field; the lines after it are its
  // value until the next field line; `--` (empty name) ends the field.
  bool parse_meta() {
    if (!avail()) return false;
    std::string_view field;
    bool has_field = false;
    bool parsed = false;
    while (avail()) {
      std::string_view name;
      if (is_field_line(cur(), name)) {
        field = name;
        has_field = !name.empty();
        ++idx_;
        continue;
      }
      if (!has_field) break;
      parsed = true;
      assign_field(field, cur());
      ++idx_;
    }
    return parsed;
  }

  // parseNotes, with its tail recursion turned into a loop.
  bool parse_notes() {
    if (!avail()) return false;
    std::string_view title, text;
    if (!match_note(cur(), title, text)) return false;
    for (;;) {
      ++c_.note_count;
      Note* note = nullptr;
      if (full_) {
        c_.notes.push_back(Note{std::string(title), std::string(text)});
        note = &c_.notes.back();
        append_line(c_.footer, cur());
      }
      ++idx_;
      bool nested = false;
      while (avail()) {
        if (parse_meta()) return true;
        if (match_note(cur(), title, text)) {
          nested = true;
          break;
        }
        bool refs = false;
        if (full_) {
          const std::size_t before = c_.references.size();
          parse_references(cur(), c_.references);
          refs = c_.references.size() > before;
          note = &c_.notes.back();
          if (!refs) append_line(note->text, cur());
          append_line(c_.footer, cur());
        } else {
          refs = has_references(cur());
        }
        ++idx_;
        if (refs) return true;
      }
      if (!nested) return true;
    }
  }

  bool parse_body_and_footer(bool is_body) {
    if (!avail()) return is_body;
    if (!full_) {
      ++idx_;
      return is_body;  // the body/footer split does not matter to analysis
    }
    const std::size_t before = c_.references.size();
    parse_references(cur(), c_.references);
    const bool still_body = c_.references.size() == before && is_body;
    append_line(still_body ? c_.body : c_.footer, cur());
    ++idx_;
    return still_body;
  }

  bool full_;
  Parsed& c_;
  std::size_t idx_ = 0;
  HeaderMatch first_match_;
};

}  // namespace

void Slot::append_line(std::string_view line) {
  const std::string_view src = get();
  if (src.empty()) {
    own.assign(line);
  } else {
    std::string joined;
    joined.reserve(src.size() + 1 + line.size());
    joined.append(src);
    joined.push_back('\n');
    joined.append(line);
    own = std::move(joined);
  }
  owned = true;
}

std::string_view Parsed::field(std::string_view name) const {
  for (const Field& f : fields) {
    if (f.name == name) return f.value;
  }
  return {};
}

HeaderMatch match_header(std::string_view h) {
  HeaderMatch m;
  if (has_terminator(h)) return m;  // `.` and `$` cannot pass a line terminator
  std::size_t t = 0;
  while (t < h.size() && is_word(h[t])) ++t;
  const std::string_view rest = h.substr(t);
  m.type = h.substr(0, t);
  if (!rest.empty() && rest.front() == '(') {
    // Greedy (.*) in the scope: the last ')' followed by the separator wins.
    for (int pass = 0; pass < 2; ++pass) {
      for (std::size_t j = rest.size(); j-- > 1;) {
        if (rest[j] != ')') continue;
        const std::string_view after = rest.substr(j + 1);
        if (after.substr(0, 3) == "!: ") {
          m.matched = true;
          m.breaking = pass == 0;
          m.scope = rest.substr(1, j - 1);
          m.subject = after.substr(3);
          return m;
        }
        if (pass == 1 && after.substr(0, 2) == ": ") {
          m.matched = true;
          m.scope = rest.substr(1, j - 1);
          m.subject = after.substr(2);
          return m;
        }
      }
    }
    return m;
  }
  if (rest.substr(0, 3) == "!: ") {
    m.matched = m.breaking = true;
    m.subject = rest.substr(3);
  } else if (rest.substr(0, 2) == ": ") {
    m.matched = true;
    m.subject = rest.substr(2);
  }
  return m;
}

bool match_note(std::string_view line, std::string_view& title, std::string_view& text) {
  std::size_t i = 0;
  while (i < line.size()) {
    if (line[i] == '|' || line[i] == '*') {
      ++i;
      continue;
    }
    const std::size_t n = js_space_at(line, i);
    if (n == 0) break;
    i += n;
  }
  if (!ci_at(line, i, "breaking change") && !ci_at(line, i, "breaking-change")) return false;
  title = line.substr(i, 15);
  std::size_t j = i + 15;
  while (j < line.size()) {
    if (line[j] == ':') {
      ++j;
      continue;
    }
    const std::size_t n = js_space_at(line, j);
    if (n == 0) break;
    j += n;
  }
  if (j == i + 15) return false;
  text = line.substr(j, find_terminator(line, j) - j);
  return true;
}

bool has_references(std::string_view line) {
  if (line.find('#') == std::string_view::npos) return false;
  bool found = false;
  for_each_sentence(line, [&](std::string_view, std::string_view sentence) {
    std::size_t next = 0;
    if (!has_url(sentence) && next_reference(sentence, 0, nullptr, next)) found = true;
    return !found;
  });
  return found;
}

void parse_references(std::string_view line, std::vector<Reference>& out) {
  if (line.find('#') == std::string_view::npos) return;
  for_each_sentence(line, [&](std::string_view action, std::string_view sentence) {
    if (has_url(sentence)) return true;
    std::size_t pos = 0;
    Reference ref;
    while (next_reference(sentence, pos, &ref, pos)) {
      ref.action = std::string(action);
      out.push_back(ref);
    }
    return true;
  });
}

bool match_revert(std::string_view s, std::string_view& header, std::string_view& hash) {
  if (!ci_at(s, 0, "revert")) return false;
  std::size_t p = 6;
  if (p < s.size() && s[p] == ':') ++p;
  if (p >= s.size()) return false;
  const std::size_t ws = js_space_at(s, p);
  if (ws == 0) return false;
  p += ws;
  const std::size_t starts[2] = {p + 1, p};
  const int options = (p < s.size() && s[p] == '"') ? 2 : 1;
  for (int o = 0; o < options; ++o) {
    const std::size_t s0 = options == 2 ? starts[o] : p;
    for (std::size_t t = s0 + 1; t + 20 <= s.size(); ++t) {
      if (ascii_lower(s[t]) != 't' || !ci_at(s, t, "this reverts commit ")) continue;
      std::size_t e = t + 20;
      while (e < s.size() && is_word(s[e])) ++e;
      if (e >= s.size() || s[e] != '.') continue;
      std::size_t q = space_run_start(s, t);
      if (q > 0 && s[q - 1] == '"') --q;
      if (q < s0 + 1) q = s0 + 1;
      header = s.substr(s0, q - s0);
      hash = s.substr(t + 20, e - t - 20);
      return true;
    }
  }
  return false;
}

void parse_message(std::string_view sha, std::string_view message, ParseMode mode, Parsed& out) {
  out.has_header = false;
  out.header = Slot{};
  out.type.set({});
  out.type.owned = false;
  out.scope.set({});
  out.subject.set({});
  out.hash.set(sha);
  out.hash.owned = false;
  out.header_matched = out.bang = false;
  out.note_count = 0;
  out.notes.clear();
  out.revert = out.revert_matchable = false;
  out.revert_header = out.revert_hash = {};
  out.revert_field = Slot{};
  out.fields.clear();
  out.body.clear();
  out.footer.clear();
  out.references.clear();
  out.lines.clear();

  // trimNewLines(input).split(/\r?\n/), without `gpg:` lines.
  const std::string_view text = trim_newlines(message);
  std::size_t start = 0;
  for (;;) {
    const std::size_t nl = text.find('\n', start);
    std::string_view line = text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    if (nl != std::string_view::npos && !line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!is_gpg_line(line)) out.lines.push_back(line);
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }

  // The hash starts as the commit's own; a `-hash-` field replaces it
  // (appendLine on the parser's commit object, which has no hash).
  out.hash.set({});
  Parser(mode, out).run();
  if (!out.hash.owned) out.hash.set(sha);

  // parseRevert(input) on the raw message.
  std::string_view rh, rs;
  if (match_revert(message, rh, rs)) {
    out.revert = true;
    out.revert_header = rh;
    out.revert_hash = rs;
    out.revert_matchable = !rs.empty();  // (\w*) empty -> null, which equals no hash
  } else if (!out.revert_field.get().empty()) {
    out.revert = true;  // a string: truthy, but matches no commit
    out.revert_matchable = false;
  }

  if (mode == ParseMode::full) {
    // cleanupCommit
    out.body = trimmed_newlines(out.body);
    out.footer = trimmed_newlines(out.footer);
    for (Note& n : out.notes) n.text = trimmed_newlines(n.text);
    std::vector<Reference> unique;
    std::vector<std::string> seen;
    for (Reference& r : out.references) {
      std::string uid = (r.action.empty() ? std::string("null") : r.action) + " " + r.raw;
      for (char& c : uid) c = ascii_lower(c);
      bool dup = false;
      for (const std::string& s : seen) {
        if (s == uid) {
          dup = true;
          break;
        }
      }
      if (!dup) {
        seen.push_back(std::move(uid));
        unique.push_back(std::move(r));
      }
    }
    out.references = std::move(unique);
  }
}

}  // namespace conveyor::release::detail
