// Port of conventional-commits-parser 6 (CommitParser.parse) with the option
// set commit-analyzer 13 uses for `preset: "conventionalcommits"`
// (conventional-changelog-conventionalcommits 9/10 createParserOpts merged
// over the parser's defaultOptions). The regular expressions are replaced by
// hand-written scanners with the same JavaScript semantics; the comments name
// the expression each one stands for.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "conveyor/release/commit.hpp"

namespace conveyor::release::detail {

// The header regexes of the preset:
//   breakingHeaderPattern /^(\w*)(?:\((.*)\))?!: (.*)$/   (tried first)
//   headerPattern         /^(\w*)(?:\((.*)\))?!?: (.*)$/
struct HeaderMatch {
  bool matched = false;
  bool breaking = false;  // matched breakingHeaderPattern
  std::string_view type, scope, subject;
};
HeaderMatch match_header(std::string_view header);

// noteKeywords ['BREAKING CHANGE', 'BREAKING-CHANGE'] as the parser's notes
// regex /^[\s|*]*(BREAKING CHANGE|BREAKING-CHANGE)[:\s]+(.*)/i.
bool match_note(std::string_view line, std::string_view& title, std::string_view& text);

// True when parseReferences(line) would find at least one reference.
bool has_references(std::string_view line);

// parseReferences(line), appended to `out`.
void parse_references(std::string_view line, std::vector<Reference>& out);

enum class ParseMode {
  analysis,  // what release analysis needs: header, notes present, revert, fields
  full,      // plus note texts, references, parser-style body and footer
};

// A string that starts as a view into the message and is copied on the first
// append (the parser's appendLine for `-name-` meta fields).
struct Slot {
  std::string_view view;
  std::string own;
  bool owned = false;
  std::string_view get() const { return owned ? std::string_view(own) : view; }
  void set(std::string_view v) { view = v; owned = false; }
  void append_line(std::string_view line);  // appendLine(src, line): src ? src + "\n" + line : line
};

struct Parsed {
  bool has_header = false;     // commit.header is a non-empty string
  Slot header, type, scope, subject, hash;
  bool header_matched = false;
  bool bang = false;
  std::size_t note_count = 0;  // notes.length
  std::vector<Note> notes;     // full mode only
  // commit.revert: an object from revertPattern, or a string from `-revert-`.
  bool revert = false;
  bool revert_matchable = false;
  std::string_view revert_header, revert_hash;
  Slot revert_field;
  std::vector<Field> fields;   // other meta fields (tag, emoji, component, ...)
  // full mode only
  std::string body, footer;
  std::vector<Reference> references;
  // scratch
  std::vector<std::string_view> lines;

  // The value of meta field `name`, or empty.
  std::string_view field(std::string_view name) const;
};

// Parses `message` (whose JS trim() must be non-empty) into `out`, reusing its
// buffers. `sha` is the commit's hash, overridden by a `-hash-` field.
void parse_message(std::string_view sha, std::string_view message, ParseMode mode, Parsed& out);

// The revertPattern of the preset, matched against the raw message:
// /^(?:Revert|revert:)\s"?([\s\S]+?)"?\s*This reverts commit (\w*)\./i
bool match_revert(std::string_view message, std::string_view& header, std::string_view& hash);

}  // namespace conveyor::release::detail
