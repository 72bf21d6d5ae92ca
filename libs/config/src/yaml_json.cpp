// YAML -> JSON for conveyor.yaml, with the line of every key kept for messages.
#include <cstdint>
#include <exception>
#include <limits>
#include <regex>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "internal.hpp"

namespace conveyor::config::detail {
namespace {

// Nesting deeper than this is certainly a mistake (or an alias loop).
constexpr int kMaxDepth = 64;
// Aliases can expand a small file exponentially ("billion laughs"); a real
// conveyor.yaml has a few thousand nodes at most.
constexpr std::size_t kMaxNodes = 200000;

const std::string kTagStr = "tag:yaml.org,2002:str";
const std::string kTagInt = "tag:yaml.org,2002:int";
const std::string kTagFloat = "tag:yaml.org,2002:float";
const std::string kTagBool = "tag:yaml.org,2002:bool";
const std::string kTagNull = "tag:yaml.org,2002:null";

bool is_null_word(const std::string& s) { return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL"; }

// Integer per the YAML 1.2 core schema: decimal, 0o octal, 0x hex.
bool parse_int(const std::string& s, nlohmann::json& out) {
  static const std::regex dec("[-+]?[0-9]+");
  static const std::regex oct("0o[0-7]+");
  static const std::regex hex("0x[0-9a-fA-F]+");
  int base = 10;
  std::string digits = s;
  if (std::regex_match(s, dec)) {
    base = 10;
  } else if (std::regex_match(s, oct)) {
    base = 8;
    digits = s.substr(2);
  } else if (std::regex_match(s, hex)) {
    base = 16;
    digits = s.substr(2);
  } else {
    return false;
  }
  try {
    std::size_t used = 0;
    if (!digits.empty() && digits[0] == '-') {
      long long v = std::stoll(digits, &used, base);
      out = static_cast<std::int64_t>(v);
    } else {
      unsigned long long v = std::stoull(digits[0] == '+' ? digits.substr(1) : digits, &used, base);
      if (v <= static_cast<unsigned long long>(std::numeric_limits<std::int64_t>::max())) {
        out = static_cast<std::int64_t>(v);
      } else {
        out = static_cast<std::uint64_t>(v);
      }
    }
    return true;
  } catch (const std::exception&) {
    return false;  // out of range: left as a string, the schema says what it expected
  }
}

// Float per the core schema; .inf and .nan are not accepted (JSON has no such
// numbers), so they stay strings.
bool parse_float(const std::string& s, nlohmann::json& out) {
  static const std::regex flt("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
  if (!std::regex_match(s, flt)) return false;
  try {
    out = std::stod(s);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

class Converter {
 public:
  explicit Converter(YamlResult& result) : r_(result) {}

  nlohmann::json convert(const YAML::Node& node, const KeyPath& path, Position at) {
    if (++nodes_ > kMaxNodes) {
      if (nodes_ == kMaxNodes + 1) {
        add(path, "the document expands to more than " + std::to_string(kMaxNodes) + " values (alias bomb?)");
      }
      return nullptr;
    }
    if (depth_ >= kMaxDepth) {
      add(path, "nested deeper than " + std::to_string(kMaxDepth) + " levels");
      return nullptr;
    }
    for (const auto& ancestor : ancestors_) {
      if (ancestor.is(node)) {
        add(path, "an alias refers to a node that contains it");
        return nullptr;
      }
    }
    r_.lines.emplace(format_path(path), at);

    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return nullptr;
      case YAML::NodeType::Scalar:
        return scalar(node, path);
      case YAML::NodeType::Sequence: {
        Scope scope(*this, node);
        nlohmann::json out = nlohmann::json::array();
        std::size_t i = 0;
        for (const auto& item : node) {
          out.push_back(convert(item, child(path, i), position_of(item, at)));
          ++i;
        }
        return out;
      }
      case YAML::NodeType::Map: {
        Scope scope(*this, node);
        nlohmann::json out = nlohmann::json::object();
        std::unordered_map<std::string, int> first_line;
        for (const auto& kv : node) {
          const YAML::Node& key = kv.first;
          const Position key_at = position_of(key, at);
          const int key_line = key_at.line;
          if (!key.IsScalar()) {
            add(path, "line " + std::to_string(key_line) + ": keys must be plain strings, not " +
                          (key.IsNull() ? std::string("null") : std::string("a list or map")));
            continue;
          }
          const std::string& name = key.Scalar();
          auto [it, inserted] = first_line.emplace(name, key_line);
          if (!inserted) {
            add(child(path, name), "duplicate key (line " + std::to_string(key_line) + "; first at line " +
                                       std::to_string(it->second) + ")");
            continue;
          }
          out[name] = convert(kv.second, child(path, name), key_at);
        }
        return out;
      }
    }
    return nullptr;
  }

 private:
  struct Scope {
    Scope(Converter& c, const YAML::Node& n) : c_(c) {
      c_.ancestors_.push_back(n);
      ++c_.depth_;
    }
    ~Scope() {
      c_.ancestors_.pop_back();
      --c_.depth_;
    }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    Converter& c_;
  };

  static Position position_of(const YAML::Node& node, Position fallback) {
    const YAML::Mark mark = node.Mark();
    return mark.line >= 0 ? Position{mark.line + 1, mark.column + 1} : fallback;
  }

  nlohmann::json scalar(const YAML::Node& node, const KeyPath& path) {
    const std::string& text = node.Scalar();
    const std::string& tag = node.Tag();
    nlohmann::json out;
    if (tag == "!" || tag == kTagStr) return text;  // quoted, block (| >) or !!str
    if (tag == "?") {                                // plain: resolve per the core schema
      if (is_null_word(text)) return nullptr;
      if (text == "true" || text == "True" || text == "TRUE") return true;
      if (text == "false" || text == "False" || text == "FALSE") return false;
      if (parse_int(text, out) || parse_float(text, out)) return out;
      return text;
    }
    if (tag == kTagInt && parse_int(text, out)) return out;
    if (tag == kTagFloat && (parse_int(text, out) || parse_float(text, out))) {
      return out.is_number_float() ? out : nlohmann::json(out.get<double>());
    }
    if (tag == kTagBool && (text == "true" || text == "false")) return text == "true";
    if (tag == kTagNull && is_null_word(text)) return nullptr;
    if (tag == kTagInt || tag == kTagFloat || tag == kTagBool || tag == kTagNull) {
      add(path, "value is not a valid " + tag.substr(tag.rfind(':') + 1) + " (tag " + tag + ")");
    } else {
      add(path, "unsupported YAML tag " + tag + " (only the core schema's !!str, !!int, !!float, !!bool, !!null)");
    }
    return text;
  }

  void add(const KeyPath& path, std::string message) { r_.issues.push_back(RawIssue{path, std::move(message)}); }

  YamlResult& r_;
  std::vector<YAML::Node> ancestors_;
  int depth_ = 0;
  std::size_t nodes_ = 0;
};

}  // namespace

YamlResult yaml_to_json(std::string_view text) {
  YamlResult r;
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    std::string where = e.mark.is_null() ? std::string() : "line " + std::to_string(e.mark.line + 1) + ", column " +
                                                               std::to_string(e.mark.column + 1) + ": ";
    r.issues.push_back(RawIssue{{}, "YAML syntax error: " + where + e.msg});
    if (!e.mark.is_null()) r.lines.emplace("", Position{e.mark.line + 1, e.mark.column + 1});
    return r;
  }
  if (docs.size() > 1) {
    const int line = docs[1].Mark().line >= 0 ? docs[1].Mark().line + 1 : 0;
    r.issues.push_back(RawIssue{{}, "holds " + std::to_string(docs.size()) +
                                        " YAML documents (separated by '---'); conveyor.yaml must be exactly one" +
                                        (line > 0 ? " (the second starts at line " + std::to_string(line) + ")" : "")});
    return r;
  }
  if (docs.empty() || docs[0].IsNull()) {
    r.issues.push_back(RawIssue{{}, "the file is empty"});
    return r;
  }
  Converter converter(r);
  r.doc = converter.convert(docs[0], {}, Position{1, 1});
  r.parsed = true;
  return r;
}

}  // namespace conveyor::config::detail
