#include "plan.hpp"

#include <algorithm>

#include "conveyor/config/config.hpp"

namespace conveyor::version_tagger {
namespace {

bool starts_with(const std::string& s, std::string_view p) { return s.rfind(p, 0) == 0; }

}  // namespace

std::string VersionPlan::next_tag() const { return next ? tag_prefix + next->to_string() : ""; }

Result<VersionPlan> plan_version(Repository& repo, const std::string& sha, const std::string& tag_prefix,
                                 const std::string& prerelease) {
  VersionPlan plan;
  plan.tag_prefix = tag_prefix;
  plan.prerelease = prerelease;
  auto tags = repo.tags_merged(sha);
  if (!tags) return std::move(tags).error();
  plan.last = release::last_release(*tags, tag_prefix, prerelease);
  auto commits = repo.commits_since(plan.last ? plan.last->tag : "", sha);
  if (!commits) return std::move(commits).error();
  plan.commits = std::move(*commits);
  plan.analysis = release::analyze(plan.commits);
  release::VersionRequest request;
  request.tags = std::move(*tags);
  request.tag_prefix = tag_prefix;
  request.prerelease = prerelease;
  request.release = plan.analysis.type;
  auto next = release::next_version(request);
  if (!next) return std::move(next).error();
  plan.next = std::move(*next);
  return plan;
}

std::string prerelease_channel(const std::string& branch, const std::vector<std::string>& globs) {
  const bool match = std::any_of(globs.begin(), globs.end(),
                                 [&](const std::string& g) { return config::glob_match(g, branch); });
  if (!match) return "";
  std::string id = branch;
  for (char& c : id) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
    if (!ok) c = '-';
  }
  return id;
}

std::string prepend_changelog(const std::optional<std::string>& existing, const std::string& section) {
  std::string notes = section;
  while (!notes.empty() && (notes.back() == '\n' || notes.back() == '\r' || notes.back() == ' ')) notes.pop_back();
  notes += "\n";
  std::string text = existing.value_or("");
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return "# Changelog\n\n" + notes;

  std::string title;
  std::string rest = text;
  const auto eol = text.find('\n');
  const std::string first = text.substr(0, eol);
  if (starts_with(first, "# ")) {
    title = first;
    if (!title.empty() && title.back() == '\r') title.pop_back();
    rest = eol == std::string::npos ? "" : text.substr(eol + 1);
  }
  // Blank lines between the title and the first entry give way to ours.
  std::size_t skip = 0;
  while (skip < rest.size()) {
    const auto line_end = rest.find('\n', skip);
    const std::string line = rest.substr(skip, line_end == std::string::npos ? std::string::npos : line_end - skip);
    if (line.find_first_not_of(" \t\r") != std::string::npos) break;
    skip = line_end == std::string::npos ? rest.size() : line_end + 1;
  }
  rest.erase(0, skip);
  std::string out = title.empty() ? "" : title + "\n\n";
  out += notes;
  if (!rest.empty()) out += "\n" + rest;
  return out;
}

release::ChangelogContext changelog_context(const std::string& clone_url, const std::string& repository) {
  release::ChangelogContext context;
  const auto slash = repository.find('/');
  if (slash != std::string::npos) {
    context.owner = repository.substr(0, slash);
    context.repository = repository.substr(slash + 1);
  }
  for (std::string_view scheme : {"https://", "http://"}) {
    if (!starts_with(clone_url, scheme)) continue;
    std::string authority = clone_url.substr(scheme.size());
    authority = authority.substr(0, authority.find('/'));
    if (const auto at = authority.rfind('@'); at != std::string::npos) authority.erase(0, at + 1);
    if (!authority.empty()) context.host = std::string(scheme) + authority;
  }
  return context;
}

std::string to_valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  for (std::size_t i = 0; i < text.size();) {
    const unsigned char c = byte(i);
    std::size_t n = 0;
    unsigned min = 0;
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    if ((c & 0xE0) == 0xC0) { n = 2; min = 0x80; }
    else if ((c & 0xF0) == 0xE0) { n = 3; min = 0x800; }
    else if ((c & 0xF8) == 0xF0) { n = 4; min = 0x10000; }
    bool ok = n != 0 && i + n <= text.size();
    unsigned cp = n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
    for (std::size_t k = 1; ok && k < n; ++k) {
      if ((byte(i + k) & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (byte(i + k) & 0x3F);
    }
    ok = ok && cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    if (ok) {
      out.append(text.substr(i, n));
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

std::string truncate_notes(const std::string& notes, std::size_t max_bytes, const std::string& rest_at) {
  if (notes.size() <= max_bytes) return notes;
  const std::string tail = "\n_(truncated: the full notes are in " + rest_at + ")_\n";
  const std::size_t room = max_bytes > tail.size() ? max_bytes - tail.size() : 0;
  const auto cut = room == 0 ? std::string::npos : notes.rfind('\n', room - 1);
  return (cut == std::string::npos ? std::string() : notes.substr(0, cut + 1)) + tail;
}

std::string release_commit_subject(const std::string& version) {
  return "chore(release): " + version + " [skip ci]";
}

}  // namespace conveyor::version_tagger
