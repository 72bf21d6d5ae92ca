#include "conveyor/release/commit.hpp"

#include <string_view>

#include "js_text.hpp"
#include "parser.hpp"

namespace conveyor::release {
namespace {

bool blank(std::string_view line) { return detail::js_trim(line).empty(); }

// A Conventional Commits footer line: `Token: value` or `Token #value`, the
// token being a word of [A-Za-z0-9-] or exactly `BREAKING CHANGE` (upper
// case, spec item 15).
bool footer_line(std::string_view line, Footer* out) {
  std::size_t t = 0;
  const bool breaking_token = line.substr(0, 15) == "BREAKING CHANGE";
  if (breaking_token) {
    t = 15;
  } else {
    while (t < line.size() && (detail::is_word(line[t]) || line[t] == '-') && line[t] != '_') ++t;
    if (t == 0 || line[0] == '-') return false;
  }
  std::string_view sep;
  if (line.substr(t, 2) == ": ") {
    sep = ": ";
  } else if (line.substr(t, 2) == " #" && !breaking_token) {
    sep = " #";
  } else if (t == line.size() - 1 && line[t] == ':') {
    sep = ":";  // `Token:` with the value on the next lines
  } else {
    return false;
  }
  if (out != nullptr) {
    out->token = std::string(line.substr(0, t));
    out->separator = sep == ":" ? std::string(": ") : std::string(sep);
    out->value = std::string(line.substr(std::min(line.size(), t + sep.size())));
  }
  return true;
}

std::string_view trim_blank_lines(std::string_view s) { return detail::trim_newlines(s); }

// Splits the lines after the header into body and footers per the
// specification: the footers are the trailing paragraphs that each start with
// a footer line; within them, a line that is not a footer continues the value
// of the footer before it.
void split_body_and_footers(const std::vector<std::string_view>& lines, ParsedCommit& out) {
  std::size_t begin = 1;
  while (begin < lines.size() && blank(lines[begin])) ++begin;
  std::size_t end = lines.size();
  while (end > begin && blank(lines[end - 1])) --end;
  // Paragraph starts, from the last one backwards.
  std::size_t footer_start = end;
  std::size_t i = end;
  while (i > begin) {
    std::size_t p = i;  // find the start of the paragraph ending before i
    while (p > begin && !blank(lines[p - 1])) --p;
    if (!footer_line(lines[p], nullptr)) break;
    footer_start = p;
    i = p;
    while (i > begin && blank(lines[i - 1])) --i;
  }
  std::string body;
  for (std::size_t k = begin; k < footer_start; ++k) {
    if (k > begin) body.push_back('\n');
    body.append(lines[k]);
  }
  out.body = std::string(trim_blank_lines(body));
  for (std::size_t k = footer_start; k < end; ++k) {
    Footer f;
    if (footer_line(lines[k], &f)) {
      out.footers.push_back(std::move(f));
    } else if (!out.footers.empty()) {
      std::string& v = out.footers.back().value;
      if (!v.empty() || !blank(lines[k])) {
        if (!v.empty()) v.push_back('\n');
        v.append(lines[k]);
      }
    }
  }
  for (Footer& f : out.footers) f.value = std::string(trim_blank_lines(f.value));
}

bool merge_header(std::string_view h) {
  for (std::string_view p : {"Merge pull request ", "Merge branch ", "Merge remote-tracking branch ", "Merge tag ",
                             "Merge commit "}) {
    if (h.substr(0, p.size()) == p) return true;
  }
  return false;
}

}  // namespace

Result<ParsedCommit> parse_commit(const Commit& commit) {
  if (detail::js_trim(commit.message).empty()) {
    return make_error(Errc::invalid_argument, "empty commit message");
  }
  detail::Parsed p;
  detail::parse_message(commit.sha, commit.message, detail::ParseMode::full, p);

  ParsedCommit out;
  out.sha = std::string(p.hash.get());
  out.header = std::string(p.header.get());
  out.conventional = p.header_matched;
  out.type = std::string(p.type.get());
  out.scope = std::string(p.scope.get());
  out.subject = std::string(p.subject.get());
  out.bang = p.bang;
  out.merge = merge_header(out.header);
  out.notes = std::move(p.notes);
  out.references = std::move(p.references);
  if (p.revert) {
    out.revert = Revert{std::string(p.revert_header), std::string(p.revert_hash), p.revert_matchable};
  }
  out.fields = std::move(p.fields);

  // The specification's body and footers, from the raw lines.
  std::vector<std::string_view> lines;
  const std::string_view text = detail::trim_newlines(commit.message);
  std::size_t start = 0;
  for (;;) {
    const std::size_t nl = text.find('\n', start);
    std::string_view line = text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.substr(detail::skip_js_space(line, 0), 4) != "gpg:") lines.push_back(line);  // as the parser does
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  split_body_and_footers(lines, out);
  return out;
}

}  // namespace conveyor::release
