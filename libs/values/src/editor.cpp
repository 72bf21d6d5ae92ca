// The editor: locate with yaml-cpp, splice into the original bytes, verify by
// parsing again. See values.hpp for the contract.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "conveyor/values/values.hpp"
#include "internal.hpp"

namespace conveyor::values {
namespace {

// Bounds against pathological input (deep nesting; documents built to expand
// through aliases). Helm values files are far below both.
constexpr int kMaxDepth = 200;
constexpr std::size_t kMaxComparisons = 5'000'000;

const std::string kStrTag = "tag:yaml.org,2002:str";

Error path_error(Errc code, const std::string& path, const std::string& what) {
  return make_error(code, "'" + path + "': " + what);
}

std::string where_of(const KeyPath& path, std::size_t depth) {
  if (depth == 0) return "the document";
  KeyPath prefix{{path.segments.begin(), path.segments.begin() + static_cast<std::ptrdiff_t>(depth)}};
  return "'" + to_string(prefix) + "'";
}

const char* kind_of(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a sequence";
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Null: return "empty (null)";
    default: return "undefined";
  }
}

int line_of(const YAML::Node& n) { return n.Mark().line + 1; }

Result<std::vector<YAML::Node>> load_all(const std::string& text) {
  try {
    return YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    return make_error(Errc::invalid_argument, "not valid YAML: line " + std::to_string(e.mark.line + 1) + ", column " +
                                                  std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
}

Result<std::size_t> select_document(const std::vector<YAML::Node>& docs, const Options& options) {
  if (options.document) {
    if (*options.document >= docs.size()) {
      return make_error(Errc::invalid_argument, "document " + std::to_string(*options.document) +
                                                    " does not exist: the file holds " + std::to_string(docs.size()) +
                                                    " document(s), numbered from 0");
    }
    return *options.document;
  }
  std::vector<std::size_t> non_empty;
  for (std::size_t i = 0; i < docs.size(); ++i) {
    if (!docs[i].IsNull()) non_empty.push_back(i);
  }
  if (non_empty.empty()) return make_error(Errc::not_found, "the file holds no YAML document");
  if (non_empty.size() > 1) {
    return make_error(Errc::invalid_argument, "the file holds " + std::to_string(docs.size()) +
                                                  " YAML documents; select one (document index, from 0)");
  }
  return non_empty.front();
}

// Where a key path leads.
struct Located {
  YAML::Node node;                 // the target
  YAML::Node key;                  // its key, when the parent is a mapping
  bool in_map = false;
  bool flow = false;               // inside a flow collection ({...} or [...])
  std::vector<YAML::Node> chain;   // every node from the root down to the target
};

Result<Located> locate(const YAML::Node& root, const KeyPath& path, const std::string& text) {
  Located at;
  YAML::Node cur(root);
  at.chain.push_back(cur);
  for (std::size_t i = 0; i < path.segments.size(); ++i) {
    const auto& seg = path.segments[i];
    if (cur.Style() == YAML::EmitterStyle::Flow) at.flow = true;
    if (seg.index) {
      if (!cur.IsSequence()) {
        return path_error(Errc::not_found, text,
                          "not found: " + where_of(path, i) + " is " + kind_of(cur) + ", not a sequence");
      }
      if (*seg.index >= cur.size()) {
        return path_error(Errc::not_found, text,
                          "not found: " + where_of(path, i) + " has " + std::to_string(cur.size()) + " item(s)");
      }
      const YAML::Node& seq = cur;
      cur.reset(seq[*seg.index]);  // reset, not '=': Node::operator= writes through to the tree
      at.in_map = false;
      at.key.reset(YAML::Node());
    } else {
      if (!cur.IsMap()) {
        return path_error(Errc::not_found, text,
                          "not found: " + where_of(path, i) + " is " + kind_of(cur) + ", not a mapping with key '" +
                              seg.key + "'");
      }
      std::vector<std::pair<YAML::Node, YAML::Node>> hits;
      std::string keys;
      std::size_t listed = 0;
      for (auto it = cur.begin(); it != cur.end(); ++it) {
        if (!it->first.IsScalar()) continue;
        if (it->first.Scalar() == seg.key) hits.emplace_back(it->first, it->second);
        if (listed < 12) keys += (listed++ ? ", " : "") + it->first.Scalar();
      }
      if (listed < cur.size() && listed == 12) keys += ", ...";
      if (hits.empty()) {
        const bool merges = std::any_of(cur.begin(), cur.end(), [](const auto& kv) {
          return kv.first.IsScalar() && kv.first.Scalar() == "<<";
        });
        return path_error(Errc::not_found, text,
                          "not found: " + where_of(path, i) + " has no key '" + seg.key + "'" +
                              (keys.empty() ? "" : " (its keys: " + keys + ")") +
                              (merges ? "; keys merged in with '<<' are not followed: set them where they are defined"
                                      : ""));
      }
      if (hits.size() > 1) {
        return path_error(Errc::invalid_argument, text,
                          "key '" + seg.key + "' occurs " + std::to_string(hits.size()) + " times in " +
                              where_of(path, i) + " (lines " + std::to_string(line_of(hits[0].first)) + " and " +
                              std::to_string(line_of(hits[1].first)) + ")");
      }
      at.key.reset(hits[0].first);
      cur.reset(hits[0].second);
      at.in_map = true;
    }
    at.chain.push_back(cur);
  }
  at.node.reset(cur);
  return at;
}

// Identity of a parsed node: aliases share the node of their anchor, so the
// same (position, type) reached twice means "shared". Null nodes are left out
// (yaml-cpp gives an empty value the position of whatever follows it).
using NodeId = std::pair<std::size_t, int>;
NodeId id_of(const YAML::Node& n) { return {static_cast<std::size_t>(n.Mark().pos), static_cast<int>(n.Type())}; }

// Counts how often each non-null node is reached; shared nodes are descended once.
Result<void> count_nodes(const YAML::Node& n, std::map<NodeId, int>& counts, int depth) {
  if (depth > kMaxDepth) return make_error(Errc::invalid_argument, "nesting deeper than " + std::to_string(kMaxDepth));
  if (n.IsNull() || !n.IsDefined()) return {};
  if (++counts[id_of(n)] > 1) return {};
  if (n.IsMap()) {
    for (auto it = n.begin(); it != n.end(); ++it) {
      if (auto ok = count_nodes(it->second, counts, depth + 1); !ok) return ok;
    }
  } else if (n.IsSequence()) {
    for (auto it = n.begin(); it != n.end(); ++it) {
      if (auto ok = count_nodes(*it, counts, depth + 1); !ok) return ok;
    }
  }
  return {};
}

bool blank(char c) { return c == ' ' || c == '\t'; }
bool line_end(const std::string& t, std::size_t p) { return p >= t.size() || t[p] == '\n' || t[p] == '\r'; }
bool flow_indicator(char c) { return c == ',' || c == '[' || c == ']' || c == '{' || c == '}'; }

std::size_t skip_blanks(const std::string& t, std::size_t p) {
  while (p < t.size() && blank(t[p])) ++p;
  return p;
}

// Node properties before a scalar: `&anchor` and `!tag`, in any order.
struct Properties {
  std::string anchor;
  std::string tag;
  std::size_t end = 0;  // where the scalar itself starts
};

Result<Properties> read_properties(const std::string& t, std::size_t p, const std::string& path) {
  Properties props;
  while (p < t.size() && (t[p] == '&' || t[p] == '!')) {
    const std::size_t start = p;
    while (p < t.size() && !blank(t[p]) && !line_end(t, p)) ++p;
    (t[start] == '&' ? props.anchor : props.tag) = t.substr(start, p - start);
    p = skip_blanks(t, p);
    if (line_end(t, p)) {
      return path_error(Errc::invalid_argument, path, "the value after " + t.substr(start, p - start) +
                                                          " starts on another line; not supported");
    }
  }
  props.end = p;
  return props;
}

// Length of a null token (`~`, `null`, `Null`, `NULL`) at p, or 0.
std::size_t null_token(const std::string& t, std::size_t p, bool flow) {
  for (const char* word : {"~", "null", "Null", "NULL"}) {
    const std::string w(word);
    if (t.compare(p, w.size(), w) != 0) continue;
    const std::size_t after = p + w.size();
    if (line_end(t, after) || blank(t[after]) || (flow && flow_indicator(t[after]))) return w.size();
  }
  return 0;
}

// End of a plain scalar starting at p (trailing blanks excluded).
std::size_t plain_end(const std::string& t, std::size_t p, bool flow) {
  std::size_t q = p;
  while (!line_end(t, q)) {
    const char c = t[q];
    if (c == '#' && q > p && blank(t[q - 1])) break;
    if (flow) {
      if (flow_indicator(c)) break;
      if (c == ':' && (line_end(t, q + 1) || blank(t[q + 1]) || flow_indicator(t[q + 1]))) break;
    }
    ++q;
  }
  while (q > p && blank(t[q - 1])) --q;
  return q;
}

// End (one past the closing quote) of a quoted scalar starting at p.
std::size_t quoted_end(const std::string& t, std::size_t p) {
  const char quote = t[p];
  std::size_t q = p + 1;
  while (q < t.size()) {
    if (quote == '"' && t[q] == '\\') {
      q += 2;
    } else if (t[q] == quote) {
      if (quote == '\'' && q + 1 < t.size() && t[q + 1] == '\'') {
        q += 2;
      } else {
        return q + 1;
      }
    } else {
      ++q;
    }
  }
  return std::string::npos;
}

// End of a mapping key starting at p (plain or quoted), before the ':'.
std::size_t key_end(const std::string& t, std::size_t p, bool flow) {
  if (p < t.size() && (t[p] == '"' || t[p] == '\'')) return quoted_end(t, p);
  std::size_t q = p;
  while (!line_end(t, q)) {
    if (t[q] == ':' && (line_end(t, q + 1) || blank(t[q + 1]) || (flow && flow_indicator(t[q + 1])))) break;
    if (flow && (t[q] == ',' || t[q] == '}')) break;
    ++q;
  }
  while (q > p && blank(t[q - 1])) --q;
  return q;
}

// Where and how to write the new scalar.
struct Splice {
  std::size_t start = 0;
  std::size_t end = 0;  // start == end: an insertion (the old value was empty)
  ScalarStyle style = ScalarStyle::plain;
  bool explicit_string = false;
  std::string prefix, suffix;  // around the rendered scalar (insertions only)
};

// The span of an empty/null value of a mapping key: found from the key.
Result<Splice> null_value_in_map(const std::string& t, const Located& at, const std::string& path) {
  Splice s;
  const std::size_t key_start = at.key.Mark().pos;
  auto key_props = read_properties(t, key_start, path);
  if (!key_props) return std::move(key_props).error();
  const std::size_t kend = key_end(t, key_props->end, at.flow);
  const std::size_t colon = kend == std::string::npos ? kend : skip_blanks(t, kend);
  if (colon == std::string::npos || colon >= t.size() || t[colon] != ':') {
    return path_error(Errc::invalid_argument, path, "cannot locate the ':' after the key on line " +
                                                        std::to_string(line_of(at.key)) + " (explicit '? key'?)");
  }
  const std::size_t p = colon + 1;
  const std::size_t q = skip_blanks(t, p);
  if (q < t.size() && (t[q] == '&' || t[q] == '!')) {
    return path_error(Errc::invalid_argument, path, "the empty value carries an anchor or tag; not supported");
  }
  if (const std::size_t len = null_token(t, q, at.flow); len > 0) {
    s.start = q;
    s.end = q + len;
    return s;
  }
  s.start = s.end = q;
  if (line_end(t, q)) {
    if (q > p) {
      s.start = s.end = p + 1;  // after the first blank; blanks that followed stay after the value
    } else {
      s.prefix = " ";
    }
    return s;
  }
  if (t[q] == '#') {
    if (q == p) s.prefix = " ";
    s.suffix = " ";
    return s;
  }
  if (at.flow && (t[q] == ',' || t[q] == '}')) {
    if (q == p) s.prefix = " ";
    return s;
  }
  return path_error(Errc::invalid_argument, path, "cannot locate the empty value on line " +
                                                      std::to_string(line_of(at.key)));
}

Result<Splice> find_splice(const std::string& t, const Located& at, const std::string& path) {
  const YAML::Node& node = at.node;
  if (node.IsNull()) {
    if (at.in_map) return null_value_in_map(t, at, path);
    const std::size_t p = node.Mark().pos;
    if (p < t.size()) {
      if (const std::size_t len = null_token(t, p, at.flow); len > 0) {
        Splice s;
        s.start = p;
        s.end = p + len;
        return s;
      }
    }
    return path_error(Errc::invalid_argument, path, "is an empty sequence item; write a value (or ~) there first");
  }
  const std::size_t mark = node.Mark().pos;
  if (at.in_map && mark <= static_cast<std::size_t>(at.key.Mark().pos)) {
    return path_error(Errc::invalid_argument, path, "is an alias (*name) of a value defined on line " +
                                                        std::to_string(line_of(node)) + "; edit that one");
  }
  auto props = read_properties(t, mark, path);
  if (!props) return std::move(props).error();
  Splice s;
  s.start = props->end;
  const std::string& tag = node.Tag();
  if (tag != "?" && tag != "!" && tag != kStrTag) {
    return path_error(Errc::invalid_argument, path, "has the explicit tag " + (props->tag.empty() ? tag : props->tag) +
                                                        "; only strings can be set");
  }
  s.explicit_string = tag == kStrTag;
  if (s.start >= t.size()) return path_error(Errc::internal, path, "scalar position is past the end of the file");
  const char c = t[s.start];
  if (c == '|' || c == '>') {
    return path_error(Errc::invalid_argument, path, std::string("is a block scalar (") + c + ") on line " +
                                                        std::to_string(line_of(node)) +
                                                        "; only single-line scalars can be set");
  }
  if (c == '*') return path_error(Errc::invalid_argument, path, "is an alias; edit the anchored value instead");
  if (c == '\'' || c == '"') {
    s.style = c == '"' ? ScalarStyle::double_quoted : ScalarStyle::single_quoted;
    s.end = quoted_end(t, s.start);
    if (s.end == std::string::npos) return path_error(Errc::internal, path, "unterminated quoted scalar");
    return s;
  }
  s.end = plain_end(t, s.start, at.flow);
  if (t.compare(s.start, s.end - s.start, node.Scalar()) != 0) {
    return path_error(Errc::invalid_argument, path, "is a plain scalar spanning several lines (line " +
                                                        std::to_string(line_of(node)) +
                                                        "); only single-line scalars can be set");
  }
  return s;
}

// Compares the re-parsed document with the original: equal everywhere except
// at the edited path, which must hold `value` as a string.
class Verifier {
 public:
  Verifier(const KeyPath& path, const std::string& value) : path_(path), value_(value) {}

  Result<void> compare(const YAML::Node& a, const YAML::Node& b, int depth, const std::string& where) {
    if (++comparisons_ > kMaxComparisons) {
      return make_error(Errc::invalid_argument, "document too large to verify (alias expansion?)");
    }
    if (depth > kMaxDepth) return make_error(Errc::invalid_argument, "nesting too deep");
    const bool on_path = depth >= 0;
    if (on_path && static_cast<std::size_t>(depth) == path_.segments.size()) {
      const bool is_string = b.IsScalar() && b.Scalar() == value_ &&
                             (b.Tag() == "!" || b.Tag() == kStrTag || (b.Tag() == "?" && reads_as_string(value_)));
      if (!is_string) return differ(where, "does not read back as the new string value");
      return {};
    }
    if (a.Type() != b.Type()) return differ(where, std::string("changed from ") + kind_of(a) + " to " + kind_of(b));
    if (a.Tag() != b.Tag()) return differ(where, "changed its tag");
    if (a.IsScalar()) {
      if (a.Scalar() != b.Scalar()) return differ(where, "changed its value");
      return {};
    }
    if (!a.IsMap() && !a.IsSequence()) return {};
    if (!on_path && !seen_.insert({id_of(a), id_of(b)}).second) return {};  // shared node, compared already
    if (a.size() != b.size()) return differ(where, "changed its size");
    if (a.IsMap()) {
      auto ia = a.begin();
      auto ib = b.begin();
      for (; ia != a.end() && ib != b.end(); ++ia, ++ib) {
        if (auto ok = compare(ia->first, ib->first, -1, where + " (a key)"); !ok) return ok;
        const std::string key = ia->first.IsScalar() ? ia->first.Scalar() : "?";
        const bool next_on_path = on_path && !path_.segments[static_cast<std::size_t>(depth)].index &&
                                  ia->first.IsScalar() && key == path_.segments[static_cast<std::size_t>(depth)].key;
        if (auto ok = compare(ia->second, ib->second, next_on_path ? depth + 1 : -1, where + "." + key); !ok) return ok;
      }
    } else {
      std::size_t i = 0;
      auto ia = a.begin();
      auto ib = b.begin();
      for (; ia != a.end() && ib != b.end(); ++ia, ++ib, ++i) {
        const bool next_on_path = on_path && path_.segments[static_cast<std::size_t>(depth)].index == i;
        if (auto ok = compare(*ia, *ib, next_on_path ? depth + 1 : -1, where + "[" + std::to_string(i) + "]"); !ok) {
          return ok;
        }
      }
    }
    return {};
  }

 private:
  static Error differ(const std::string& where, const std::string& what) {
    return make_error(Errc::internal,
                      "verification failed after the edit: " + (where.empty() ? "the document" : where) + " " + what);
  }
  const KeyPath& path_;
  const std::string& value_;
  std::set<std::pair<NodeId, NodeId>> seen_;
  std::size_t comparisons_ = 0;
};

// One edit on `text`. Sets *change; returns the new text (unchanged when the
// value is already there).
Result<std::string> apply(const std::string& text, const Edit& edit, const Options& options, Change& change) {
  change.path = edit.path;
  auto path = parse_path(edit.path);
  if (!path) return std::move(path).error();
  if (!valid_utf8(edit.value)) return path_error(Errc::invalid_argument, edit.path, "the value is not valid UTF-8");
  auto docs = load_all(text);
  if (!docs) return std::move(docs).error();
  auto index = select_document(*docs, options);
  if (!index) return std::move(index).error();
  const YAML::Node& root = (*docs)[*index];
  auto at = locate(root, *path, edit.path);
  if (!at) return std::move(at).error();
  const YAML::Node& node = at->node;
  if (!node.IsScalar() && !node.IsNull()) {
    return path_error(Errc::invalid_argument, edit.path,
                      std::string("is ") + kind_of(node) + " (line " + std::to_string(line_of(node)) +
                          "), not a scalar value");
  }
  // Nothing on the way may be shared through an anchor: the edit would show
  // up under other keys too.
  std::map<NodeId, int> counts;
  if (auto ok = count_nodes(root, counts, 0); !ok) return std::move(ok).error();
  for (const auto& n : at->chain) {
    if (n.IsNull()) continue;
    if (auto it = counts.find(id_of(n)); it != counts.end() && it->second > 1) {
      return path_error(Errc::invalid_argument, edit.path,
                        "is reached through an anchor that aliases (*name) also use (line " +
                            std::to_string(line_of(n)) + "); editing it would change those too");
    }
  }
  auto splice = find_splice(text, *at, edit.path);
  if (!splice) return std::move(splice).error();
  change.line = static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(splice->start),
                                            '\n')) +
                1;
  if (node.IsScalar()) {
    change.previous = node.Scalar();
    const bool held_as_string = splice->style != ScalarStyle::plain || splice->explicit_string ||
                                reads_as_string(node.Scalar());
    if (node.Scalar() == edit.value && held_as_string) {
      change.changed = false;
      return text;
    }
  }
  const std::string rendered = render_scalar(edit.value, splice->style, at->flow, splice->explicit_string);
  std::string out;
  out.reserve(text.size() + rendered.size() + 2);
  out.append(text, 0, splice->start);
  out += splice->prefix;
  out += rendered;
  out += splice->suffix;
  out.append(text, splice->end, std::string::npos);

  // Verify: the same documents, equal but for the edited path.
  auto again = load_all(out);
  if (!again) return path_error(Errc::internal, edit.path, "the edit produced invalid YAML: " + again.error().message);
  if (again->size() != docs->size()) return path_error(Errc::internal, edit.path, "the edit changed the documents");
  Verifier verifier(*path, edit.value);
  for (std::size_t i = 0; i < docs->size(); ++i) {
    auto ok = verifier.compare((*docs)[i], (*again)[i], i == *index ? 0 : -1, "");
    if (!ok) return path_error(ok.error().code, edit.path, ok.error().message);
  }
  change.changed = true;
  return out;
}

}  // namespace

bool Edited::changed() const noexcept {
  return std::any_of(changes.begin(), changes.end(), [](const Change& c) { return c.changed; });
}

Result<std::optional<std::string>> get(std::string_view yaml, std::string_view path_text, const Options& options) {
  try {
    const std::string path_str(path_text);
    auto path = parse_path(path_text);
    if (!path) return std::move(path).error();
    auto docs = load_all(std::string(yaml));
    if (!docs) return std::move(docs).error();
    auto index = select_document(*docs, options);
    if (!index) return std::move(index).error();
    auto at = locate((*docs)[*index], *path, path_str);
    if (!at) return std::move(at).error();
    if (at->node.IsNull()) return std::optional<std::string>();
    if (!at->node.IsScalar()) {
      return path_error(Errc::invalid_argument, path_str, std::string("is ") + kind_of(at->node) + ", not a scalar value");
    }
    return std::optional<std::string>(at->node.Scalar());
  } catch (const YAML::Exception& e) {
    return make_error(Errc::internal, std::string("yaml-cpp: ") + e.what());
  }
}

Result<Edited> set(std::string_view yaml, const std::vector<Edit>& edits, const Options& options) {
  Edited result;
  // yaml-cpp's positions do not count a byte order mark: edit without it.
  static constexpr std::string_view kBom = "\xEF\xBB\xBF";
  const bool bom = yaml.substr(0, kBom.size()) == kBom;
  result.text = std::string(bom ? yaml.substr(kBom.size()) : yaml);
  std::set<KeyPath, bool (*)(const KeyPath&, const KeyPath&)> seen([](const KeyPath& a, const KeyPath& b) {
    return std::lexicographical_compare(a.segments.begin(), a.segments.end(), b.segments.begin(), b.segments.end(),
                                        [](const PathSegment& x, const PathSegment& y) {
                                          return std::tie(x.index, x.key) < std::tie(y.index, y.key);
                                        });
  });
  for (const auto& edit : edits) {
    auto path = parse_path(edit.path);
    if (!path) return std::move(path).error();
    if (!seen.insert(*path).second) return path_error(Errc::invalid_argument, edit.path, "is set twice");
  }
  try {
    for (const auto& edit : edits) {
      Change change;
      auto next = apply(result.text, edit, options, change);
      if (!next) return std::move(next).error();
      result.text = std::move(*next);
      result.changes.push_back(std::move(change));
    }
  } catch (const YAML::Exception& e) {
    return make_error(Errc::internal, std::string("yaml-cpp: ") + e.what());
  }
  if (bom) result.text.insert(0, kBom);
  return result;
}

}  // namespace conveyor::values
