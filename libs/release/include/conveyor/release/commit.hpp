// Commit messages as Conventional Commits 1.0.0 (https://www.conventionalcommits.org/en/v1.0.0/)
// and as semantic-release reads them: `@semantic-release/commit-analyzer` with
// `preset: "conventionalcommits"` (conventional-commits-parser 6 with the
// preset's parser options). Where the two disagree, ParsedCommit carries both
// views: `footers` follow the specification's grammar, `notes`, `revert` and
// `fields` follow the parser that decides releases. Pure logic, no git.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "conveyor/result/result.hpp"

namespace conveyor::release {

// One commit as `git log` gives it: full SHA and raw message.
struct Commit {
  std::string sha;
  std::string message;
};

// A Conventional Commits footer: `Token: value` or `Token #value`. The token is
// a word with `-` for spaces, or the two spellings `BREAKING CHANGE` and
// `BREAKING-CHANGE`; the value runs (over several lines) up to the next footer.
struct Footer {
  std::string token;
  std::string separator;  // ": " or " #"
  std::string value;      // for " #", the value without the '#'
};

// A breaking-change note as conventional-commits-parser finds it: a line of
// the body or footer that starts (after spaces, `*` or `|`) with
// `BREAKING CHANGE` or `BREAKING-CHANGE` in any case, followed by `:` or
// whitespace; or, when there is no such line, the `!` of the header (title
// "BREAKING CHANGE", text = subject).
struct Note {
  std::string title;  // the keyword as written, e.g. "BREAKING CHANGE"
  std::string text;
};

// An issue reference (`#12`, `owner/repo#12`), with its closing action
// (`Closes`, `fixes`, ...) when one precedes it; conventional-commits-parser
// semantics, used by the changelog.
struct Reference {
  std::string action;      // empty when none
  std::string owner;       // empty when none
  std::string repository;  // empty when none
  std::string prefix;      // "#"
  std::string issue;
  std::string raw;
};

// What a revert commit says it reverts: the preset's revertPattern
// `^(?:Revert|revert:)\s"?(header)"?\s*This reverts commit (sha)\.` (case-
// insensitive), matched against the raw message. A revert with an empty SHA,
// or one set by a `-revert-` meta field, pairs with no commit (`matchable`
// false) but still counts as a revert.
struct Revert {
  std::string header;
  std::string sha;
  bool matchable = true;
};

// A `-name-` meta field line (conventional-commits-parser's fieldPattern
// `^-(.*?)-$`): the lines after it, up to the next field line, are its value.
// Note this swallows text after a markdown `---` rule (field name "-").
struct Field {
  std::string name;
  std::string value;
};

// A parsed commit. `type` is empty when the header is not conventional (merge
// commits, free text); that is not an error.
struct ParsedCommit {
  std::string sha;      // input SHA, or a `-hash-` meta field's value
  std::string header;   // first line (after `gpg:` lines are dropped)
  bool conventional = false;  // header matched `type(scope)!: subject`
  std::string type;     // as written: analysis matches `feat`/`FEAT` exactly
  std::string scope;
  std::string subject;
  bool bang = false;    // `!` before the colon
  bool merge = false;   // header starts "Merge pull request", "Merge branch", ...
  std::string body;     // Conventional Commits body: between header and footers
  std::vector<Footer> footers;       // Conventional Commits footers
  std::vector<Note> notes;           // breaking-change notes (parser semantics)
  std::vector<Reference> references; // issue references (parser semantics)
  std::optional<Revert> revert;
  std::vector<Field> fields;         // meta fields other than the ones applied above

  // True when the commit carries a breaking change as commit-analyzer sees it
  // (`notes` non-empty). Differs from the specification on purpose: e.g.
  // "BREAKING CHANGE without colon" at a line start counts, a `!` header
  // whose footer is swallowed by a `---` line still counts.
  bool breaking() const { return !notes.empty(); }
};

// Parses one commit. Fails (invalid_argument) only for a message that is
// empty or whitespace-only, which semantic-release skips.
Result<ParsedCommit> parse_commit(const Commit& commit);

}  // namespace conveyor::release
