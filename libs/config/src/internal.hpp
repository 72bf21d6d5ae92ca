// Private pieces of the config loader shared between its source files: key
// paths, issues with paths still structured, and the three checking passes
// (YAML -> JSON, JSON Schema, semantic rules).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "conveyor/config/config.hpp"

namespace conveyor::config::detail {

// One step of a key path: an object key or an array index.
struct PathSegment {
  std::string key;        // when !is_index
  std::size_t index = 0;  // when is_index
  bool is_index = false;

  static PathSegment of_key(std::string k) { return PathSegment{std::move(k), 0, false}; }
  static PathSegment of_index(std::size_t i) { return PathSegment{{}, i, true}; }
  bool operator==(const PathSegment&) const = default;
};
using KeyPath = std::vector<PathSegment>;

// "pipelines[0].values.set[\"a.b\"]": plain keys ([A-Za-z0-9_-]+) joined by
// '.', indexes in brackets, other keys as JSON strings in brackets. "" = root.
std::string format_path(const KeyPath& path);

// KeyPath + child, for building paths inline.
KeyPath child(KeyPath path, std::string key);
KeyPath child(KeyPath path, std::size_t index);

// True if `path` equals `ancestor` or lies below it.
bool is_within(const KeyPath& path, const KeyPath& ancestor);

// An issue whose path is still structured (so it can be sorted by position).
struct RawIssue {
  KeyPath path;
  std::string message;
};

// Where a key / item starts in the YAML text (1-based), by format_path().
struct Position {
  int line = 0;
  int column = 0;
};
using LineIndex = std::unordered_map<std::string, Position>;

// Pass 1: YAML text -> JSON. Scalars follow the YAML 1.2 core schema (quoted
// scalars stay strings); duplicate keys, several documents, non-scalar keys,
// unsupported tags and self-referencing aliases are issues. On a syntax error
// `doc` is left null and the only issue says where.
struct YamlResult {
  nlohmann::json doc;
  LineIndex lines;
  std::vector<RawIssue> issues;
  bool parsed = false;  // false: nothing usable (syntax error, empty, several documents)
};
YamlResult yaml_to_json(std::string_view text);

// Pass 2: validate `doc` against the JSON Schema (already parsed as JSON) and
// translate valijson's findings into key paths and plain messages.
std::vector<RawIssue> schema_issues(const nlohmann::json& schema, const nlohmann::json& doc);

// Pass 3: rules the schema cannot express (duplicate pipeline names, trigger
// stages that are not configured, paths escaping the checkout, ...). Written
// defensively: runs on documents that failed the schema too.
std::vector<RawIssue> semantic_issues(const nlohmann::json& doc);

}  // namespace conveyor::config::detail
