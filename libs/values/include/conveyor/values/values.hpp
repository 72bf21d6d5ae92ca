// A comment-preserving YAML scalar editor for Helm values files: set the
// scalar at a key path and change nothing else. Comments, key order,
// indentation, quoting style, anchors and blank lines stay byte-identical;
// the diff of one edit is the one line that holds the scalar.
//
// How: yaml-cpp parses the text and gives the position (Mark) of the node at
// the key path; the editor finds the extent of the old scalar in the original
// bytes (plain, 'single' or "double" quoted) and splices the new scalar text
// in at exactly that place. The result is parsed again and compared, node by
// node, with the original: only the edited path may differ, and it must now
// hold the new value as a string. Anything it cannot do safely is an error,
// never a guess or an append:
//
// - a missing key or index (not_found, naming the deepest part that exists);
// - a file with several YAML documents and no document selected;
// - a target that is a mapping or sequence, a block scalar (`|`, `>`), a
//   plain scalar spanning several lines, an alias or an anchor that aliases
//   refer to (editing it would change other keys), a non-string tag (`!!int`);
// - a key that occurs twice in its mapping.
//
// A value that YAML would read as something other than a string (`1.10`,
// `on`, `1e3`, `null`, `~`, `yes`, `0x1F`, `.inf`, `2024-01-02`, under YAML
// 1.1 or 1.2 rules) is written quoted. A quoted old scalar keeps its quote
// style ('...' or "...", escaped as that style needs); a plain one stays plain
// when the new value can be plain, else becomes "double quoted".
//
// Pure: strings in, strings out, no I/O. Errors use conveyor::Result.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conveyor/result/result.hpp"

namespace conveyor::values {

// One step of a key path: a mapping key or a sequence index.
struct PathSegment {
  std::string key;                   // when index is empty
  std::optional<std::size_t> index;  // `[N]`
  bool operator==(const PathSegment&) const = default;
};

// A parsed key path. Syntax: keys separated by '.', e.g.
// `imprun-server.image.tag`; a key holding dots or other special characters
// in brackets with quotes, `annotations["app.kubernetes.io/version"]` (or
// single quotes; `\` escapes a quote or backslash); a sequence index in
// brackets, `containers[0].image`; Helm's `\.` escape in bare keys
// (`annotations.app\.kubernetes\.io/version`) works too.
struct KeyPath {
  std::vector<PathSegment> segments;
  bool operator==(const KeyPath&) const = default;
};

// Parses a key path; invalid_argument (with the position) when malformed:
// empty, an empty key (`a..b`), an unterminated bracket or quote, `[x]`
// without quotes.
Result<KeyPath> parse_path(std::string_view path);

// The canonical text of a path: bare keys where possible, else `["..."]`.
std::string to_string(const KeyPath& path);

// One `KEY=VALUE` argument (split at the first '=' outside brackets and
// quotes, so `a["x=y"]=1` works). invalid_argument without '=' or with a bad key.
struct Assignment {
  std::string path;
  std::string value;
};
Result<Assignment> parse_assignment(std::string_view text);

// Which document of a multi-document file to edit.
struct Options {
  // 0-based index into the file's documents. Without it the file must hold
  // exactly one non-empty document.
  std::optional<std::size_t> document;
};

// True when `text`, written as a plain (unquoted) scalar, reads back as this
// very string for YAML 1.2 (core schema) and YAML 1.1 loaders (go-yaml, which
// Helm uses; PyYAML): false for booleans (`on`, `yes`, `n`, `True`), nulls
// (`~`, `null`, ""), numbers (`1.10`, `1e3`, `0x1F`, `017`, `1_000`, `1:30`,
// `.inf`, `+nan`) and timestamps (`2024-01-02`). Syntax is not checked here.
bool reads_as_string(std::string_view text);

enum class ScalarStyle { plain, single_quoted, double_quoted };

// The text to write for `value` in a scalar of `style`: plain when the value
// can be plain (safe characters only and reads_as_string(), or
// `explicit_string` for a `!!str`-tagged scalar), else "double quoted";
// single-quoted stays single-quoted unless the value holds control
// characters; double-quoted escapes `"`, `\` and control characters. In
// `flow` context (inside `{...}` / `[...]`) commas, brackets and colons force
// quotes. `value` must be valid UTF-8.
std::string render_scalar(std::string_view value, ScalarStyle style, bool flow = false, bool explicit_string = false);

// The scalar at `path`: its string value, or nullopt when it is null/empty.
// Errors as for set(): not_found for a missing path, invalid_argument for a
// non-scalar target or a file that is not valid YAML.
Result<std::optional<std::string>> get(std::string_view yaml, std::string_view path, const Options& options = {});

// One assignment to make.
struct Edit {
  std::string path;
  std::string value;
};

// What one edit found and did.
struct Change {
  std::string path;                     // as given
  std::optional<std::string> previous;  // the old value; nullopt when it was null/empty
  bool changed = false;                 // false: it already held the value (as a string)
  int line = 0;                         // 1-based line of the scalar
};

struct Edited {
  std::string text;             // the whole new file
  std::vector<Change> changes;  // one per edit, in order
  bool changed() const noexcept;
};

// Applies the edits in order and verifies each (see the top of this file).
// A value already present as a string is left alone (changed = false); a
// string that was held as another type (`tag: 1.10` set to "1.10") is
// rewritten quoted. Errors: not_found (missing path), invalid_argument (bad
// path or value, several documents, unsupported target, invalid YAML, the same
// path twice), internal (the verification failed: a bug, nothing returned).
Result<Edited> set(std::string_view yaml, const std::vector<Edit>& edits, const Options& options = {});

}  // namespace conveyor::values
