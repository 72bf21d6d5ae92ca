// JSON Schema validation (valijson, draft-07) and the translation of its
// findings into conveyor's key paths and plain messages.
//
// valijson reports a flat list of (context, description) where the context is
// ["<root>", "[pipelines]", "[0]", ...] and several descriptions only repeat
// that a child failed. We map the context onto the document (to tell keys
// from indexes), look up the schema node at that path to phrase what was
// expected, report every unknown key (valijson names only the first), fold
// the alternatives of a failed anyOf into one message, and drop the wrappers.
#ifndef VALIJSON_USE_EXCEPTIONS
#define VALIJSON_USE_EXCEPTIONS 1
#endif

#include <algorithm>
#include <string>
#include <vector>

#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include "internal.hpp"

namespace conveyor::config::detail {
namespace {

using nlohmann::json;

bool starts_with(const std::string& s, std::string_view prefix) { return s.rfind(prefix, 0) == 0; }

// The text between the first and the last single quote of a valijson message.
std::string quoted(const std::string& s) {
  const auto a = s.find('\'');
  const auto b = s.rfind('\'');
  return (a == std::string::npos || b <= a) ? std::string() : s.substr(a + 1, b - a - 1);
}

// ----- the document at a valijson context -----

KeyPath to_path(const std::vector<std::string>& context, const json& doc) {
  KeyPath path;
  const json* node = &doc;
  for (std::size_t i = 0; i < context.size(); ++i) {
    std::string s = context[i];
    if (i == 0 && s == "<root>") continue;
    if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
    const bool digits = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (node && node->is_array() && digits) {
      const std::size_t index = std::stoul(s);
      path.push_back(PathSegment::of_index(index));
      node = (node && index < node->size()) ? &(*node)[index] : nullptr;
    } else {
      path.push_back(PathSegment::of_key(s));
      if (node && node->is_object()) {
        auto it = node->find(s);
        node = it != node->end() ? &*it : nullptr;
      } else {
        node = nullptr;
      }
    }
  }
  return path;
}

const json* doc_at(const json& doc, const KeyPath& path) {
  const json* node = &doc;
  for (const auto& seg : path) {
    if (seg.is_index) {
      if (!node->is_array() || seg.index >= node->size()) return nullptr;
      node = &(*node)[seg.index];
    } else {
      if (!node->is_object()) return nullptr;
      auto it = node->find(seg.key);
      if (it == node->end()) return nullptr;
      node = &*it;
    }
  }
  return node;
}

// ----- the schema at a document path -----

// A schema node, and what a definition it was reached through says is
// expected there: definitions whose description is a noun phrase ("a
// duration such as ...") name the expected value in messages.
struct SchemaAt {
  const json* node = nullptr;
  std::string expected;
};

SchemaAt deref(const json& root, const json* node) {
  SchemaAt at{node, {}};
  for (int hops = 0; at.node && hops < 16; ++hops) {
    auto ref = at.node->find("$ref");
    if (!at.node->is_object() || ref == at.node->end() || !ref->is_string()) break;
    const std::string target = ref->get<std::string>();
    if (!starts_with(target, "#")) return {};
    try {
      at.node = &root.at(json::json_pointer(target.substr(1)));
    } catch (const std::exception&) {
      return {};
    }
    auto desc = at.node->find("description");
    if (at.expected.empty() && desc != at.node->end() && desc->is_string()) {
      const std::string d = desc->get<std::string>();
      if (starts_with(d, "a ") || starts_with(d, "an ")) at.expected = d;
    }
  }
  return at;
}

SchemaAt schema_at(const json& root, const KeyPath& path) {
  SchemaAt at = deref(root, &root);
  for (const auto& seg : path) {
    if (!at.node || !at.node->is_object()) return {};
    const json* next = nullptr;
    if (seg.is_index) {
      auto items = at.node->find("items");
      if (items != at.node->end() && items->is_object()) next = &*items;
    } else {
      auto props = at.node->find("properties");
      if (props != at.node->end() && props->contains(seg.key)) {
        next = &(*props)[seg.key];
      } else {
        auto extra = at.node->find("additionalProperties");
        if (extra != at.node->end() && extra->is_object()) next = &*extra;
      }
    }
    if (!next) return {};
    at = deref(root, next);
  }
  return at;
}

// ----- phrasing -----

std::string type_phrase(const std::string& type) {
  if (type == "string") return "a string";
  if (type == "integer") return "an integer";
  if (type == "number") return "a number";
  if (type == "boolean") return "a boolean (true or false)";
  if (type == "object") return "a map";
  if (type == "array") return "a list";
  if (type == "null") return "null";
  return type;
}

std::string value_phrase(const json* value) {
  if (!value) return "nothing";
  switch (value->type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    case json::value_t::number_float: return "a decimal number";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "a list";
    case json::value_t::object: return "a map";
    default: return "an unsupported value";
  }
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

std::string plural(std::size_t n, const std::string& word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

std::string number_text(const json& n) { return n.is_number() ? n.dump() : std::string("?"); }

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string unknown_key_message(const std::string& key, const std::vector<std::string>& allowed) {
  if (allowed.empty()) return "unknown key";
  std::string best;
  std::size_t best_distance = 3;  // suggest only close spellings
  for (const auto& a : allowed) {
    const std::size_t d = edit_distance(key, a);
    if (d < best_distance) {
      best_distance = d;
      best = a;
    }
  }
  if (!best.empty()) return "unknown key (did you mean '" + best + "'?)";
  return "unknown key; allowed here: " + join(allowed, ", ");
}

// The message for a failed constraint at `path`, phrased from the schema.
std::string constraint_message(const std::string& description, const SchemaAt& at, const json* value) {
  const json empty = json::object();
  const json& s = (at.node && at.node->is_object()) ? *at.node : empty;
  auto str = [&](const char* key) { return s.contains(key) && s[key].is_string() ? s[key].get<std::string>() : ""; };

  if (description == "Value type not permitted by 'type' constraint.") {
    std::string want = at.expected;
    if (want.empty() && s.contains("type")) {
      std::vector<std::string> types;
      if (s["type"].is_string()) types.push_back(type_phrase(s["type"].get<std::string>()));
      if (s["type"].is_array()) {
        for (const auto& t : s["type"]) {
          if (t.is_string()) types.push_back(type_phrase(t.get<std::string>()));
        }
      }
      for (std::size_t i = 0; i < types.size(); ++i) {
        want += (i == 0 ? "" : i + 1 == types.size() ? " or " : ", ") + types[i];
      }
    }
    return want.empty() ? "has the wrong type" : "must be " + want + ", not " + value_phrase(value);
  }
  if (!at.expected.empty() && !starts_with(description, "Elements at indexes")) return "must be " + at.expected;

  if (description == "Failed to match regex specified by 'pattern' constraint.") {
    const std::string hint = str("description");
    return "must match " + str("pattern") + (hint.empty() ? "" : " (" + hint + ")");
  }
  if (description == "Failed to match against any enum values.") {
    std::vector<std::string> options;
    if (s.contains("enum") && s["enum"].is_array()) {
      for (const auto& e : s["enum"]) options.push_back(e.is_string() ? e.get<std::string>() : e.dump());
    }
    return "must be one of: " + join(options, ", ");
  }
  if (starts_with(description, "Expected number")) {
    const bool has_min = s.contains("minimum");
    const bool has_max = s.contains("maximum");
    if (has_min && has_max) return "must be between " + number_text(s["minimum"]) + " and " + number_text(s["maximum"]);
    if (has_min) return "must be at least " + number_text(s["minimum"]);
    if (has_max) return "must be at most " + number_text(s["maximum"]);
    return description;
  }
  if (starts_with(description, "String should be no fewer than") && s.contains("minLength")) {
    const auto n = s["minLength"].get<std::size_t>();
    return n == 1 ? std::string("must not be empty") : "must be at least " + plural(n, "character") + " long";
  }
  if (starts_with(description, "String should be no more than") && s.contains("maxLength")) {
    return "must be at most " + plural(s["maxLength"].get<std::size_t>(), "character") + " long";
  }
  if (starts_with(description, "Array should contain no fewer than") && s.contains("minItems")) {
    const auto n = s["minItems"].get<std::size_t>();
    return n == 1 ? std::string("must not be empty") : "must have at least " + plural(n, "item");
  }
  if (starts_with(description, "Array should contain no more than") && s.contains("maxItems")) {
    return "must have at most " + plural(s["maxItems"].get<std::size_t>(), "item");
  }
  if (starts_with(description, "Object should have no fewer than") && s.contains("minProperties")) {
    const auto n = s["minProperties"].get<std::size_t>();
    return n == 1 ? std::string("must not be empty") : "must have at least " + plural(n, "key");
  }
  if (starts_with(description, "Object should have no more than") && s.contains("maxProperties")) {
    return "must have at most " + plural(s["maxProperties"].get<std::size_t>(), "key");
  }
  if (starts_with(description, "Elements at indexes #")) {
    // "Elements at indexes #0 and #2 violate uniqueness constraint."
    std::string rest = description.substr(std::string("Elements at indexes #").size());
    const auto and_pos = rest.find(" and #");
    if (and_pos != std::string::npos) {
      const std::string a = rest.substr(0, and_pos);
      const std::string b = rest.substr(and_pos + 6, rest.find(' ', and_pos + 6) - (and_pos + 6));
      return "has duplicate entries ([" + a + "] and [" + b + "])";
    }
    return "has duplicate entries";
  }
  return description;
}

// One translated finding. Wrappers only say "a child failed"; they are
// dropped when a finding below them explains the failure.
struct Finding {
  KeyPath path;
  std::string message;
  bool wrapper = false;
  std::string missing_key;  // set for "is required" findings
};

bool is_wrapper(const std::string& d) {
  return starts_with(d, "Failed to validate item #") ||
         starts_with(d, "Failed to validate against schema associated with property name") ||
         starts_with(d, "Failed to validate against additional properties schema") ||
         starts_with(d, "Failed to validate against child schema #") ||
         starts_with(d, "Failed to validate against schema associated with pattern") ||
         starts_with(d, "Failed to validate against a conditional schema") ||
         starts_with(d, "Failed to validate against dependent schema");
}

bool is_alternatives(const std::string& d) {
  return d == "Failed to validate against any schemas allowed by anyOf constraint." ||
         d == "Failed to validate against any child schemas allowed by oneOf constraint.";
}

}  // namespace

std::vector<RawIssue> schema_issues(const json& schema_json, const json& doc) {
  valijson::Schema schema;
  valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
  valijson::adapters::NlohmannJsonAdapter schema_adapter(schema_json);
  parser.populateSchema(schema_adapter, schema);  // throws std::runtime_error on a bad schema

  valijson::Validator validator(valijson::Validator::kStrongTypes);
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter target(doc);
  validator.validate(schema, target, &results);

  std::vector<Finding> findings;
  for (const auto& error : results) {
    const KeyPath path = to_path(error.context, doc);
    const std::string& d = error.description;

    if (is_alternatives(d)) {
      // The alternatives' findings were pushed right before this one.
      std::vector<Finding> alternatives;
      while (!findings.empty() && is_within(findings.back().path, path)) {
        alternatives.insert(alternatives.begin(), std::move(findings.back()));
        findings.pop_back();
      }
      std::vector<std::string> keys;
      std::vector<std::string> messages;
      bool all_missing = !alternatives.empty();
      for (const auto& a : alternatives) {
        if (a.wrapper) continue;
        if (a.missing_key.empty() || a.path.size() != path.size() + 1) all_missing = false;
        keys.push_back(a.missing_key);
        KeyPath relative(a.path.begin() + static_cast<std::ptrdiff_t>(path.size()), a.path.end());
        messages.push_back(relative.empty() ? a.message : format_path(relative) + " " + a.message);
      }
      if (all_missing) {
        findings.push_back({path, "needs at least one of: " + join(keys, ", "), false, {}});
      } else if (messages.empty()) {
        findings.push_back({path, "matches none of the allowed forms", false, {}});
      } else {
        findings.push_back({path, "matches none of the allowed forms (" + join(messages, "; or ") + ")", false, {}});
      }
      continue;
    }
    if (d == "Failed to validate against exactly one child schema.") {
      findings.push_back({path, "matches more than one of the allowed forms", false, {}});
      continue;
    }
    if (is_wrapper(d)) {
      KeyPath where = path;
      if (starts_with(d, "Failed to validate against schema associated with property name")) {
        where = child(path, quoted(d));
      } else if (starts_with(d, "Failed to validate item #")) {
        const std::string index = d.substr(std::string_view("Failed to validate item #").size());
        where = child(path, static_cast<std::size_t>(std::stoul(index)));
      }
      findings.push_back({where, "is invalid", true, {}});
      continue;
    }
    if (starts_with(d, "Missing required property '")) {
      const std::string key = quoted(d);
      findings.push_back({child(path, key), "is required", false, key});
      continue;
    }
    if (starts_with(d, "Object contains a property that could not be validated")) {
      // valijson names only the first unknown key; report all of them.
      const SchemaAt at = schema_at(schema_json, path);
      const json* object = doc_at(doc, path);
      std::vector<std::string> allowed;
      bool listed = false;
      if (at.node && at.node->contains("properties") && object && object->is_object()) {
        for (const auto& [name, sub] : (*at.node)["properties"].items()) allowed.push_back(name);
        for (const auto& [name, value] : object->items()) {
          if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
            findings.push_back({child(path, name), unknown_key_message(name, allowed), false, {}});
            listed = true;
          }
        }
      }
      if (!listed) findings.push_back({child(path, quoted(d)), unknown_key_message(quoted(d), allowed), false, {}});
      continue;
    }
    findings.push_back({path, constraint_message(d, schema_at(schema_json, path), doc_at(doc, path)), false, {}});
  }

  std::vector<RawIssue> issues;
  for (const auto& f : findings) {
    if (f.wrapper) {
      const bool explained = std::any_of(findings.begin(), findings.end(), [&](const Finding& other) {
        return !other.wrapper && is_within(other.path, f.path);
      });
      if (explained) continue;
    }
    const bool seen = std::any_of(issues.begin(), issues.end(), [&](const RawIssue& i) {
      return i.path == f.path && i.message == f.message;
    });
    if (!seen) issues.push_back(RawIssue{f.path, f.message});
  }
  return issues;
}

}  // namespace conveyor::config::detail
