// How a string is written as a YAML scalar so that it reads back as that
// string, for YAML 1.2 and for the YAML 1.1 loaders Helm and friends use.
#include <regex>

#include "conveyor/values/values.hpp"
#include "internal.hpp"

namespace conveyor::values {
namespace {

// Plain scalars that a YAML 1.1 or 1.2 loader resolves to something other
// than a string. The union of: YAML 1.2 core schema, YAML 1.1 types (bool,
// null, int incl. base 2/8/16, '_' separators and base 60, float, timestamp)
// and go-yaml v2's resolver (strconv.ParseInt/ParseFloat on anything starting
// with a sign, dot or digit: "+inf", "-Infinity", hex floats).
const std::regex& non_string_pattern() {
  static const std::regex re(
      // null
      "~|null|Null|NULL"
      // bool (1.1 and 1.2)
      "|y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF"
      // int: binary, octal (1.1 and 1.2), decimal, hex, base 60
      "|[-+]?0b[01_]+"
      "|[-+]?0o?[0-7_]+"
      "|[-+]?(0|[1-9][0-9_]*)"
      "|[-+]?0x[0-9a-fA-F_]+"
      "|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\\.[0-9_]*)?"
      // float: 1.10, .5, 1., 1e3, 1.5e-3, 1_000.5; hex floats
      "|[-+]?([0-9][0-9_]*)?\\.[0-9_]*([eE][-+]?[0-9]+)?"
      "|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+"
      "|[-+]?0x[0-9a-fA-F_]*\\.?[0-9a-fA-F_]*[pP][-+]?[0-9]+"
      // infinity and not-a-number, YAML spellings and Go's ParseFloat ones
      "|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN)"
      "|[-+]([iI][nN][fF]([iI][nN][iI][tT][yY])?|[nN][aA][nN])"
      // timestamps: 2001-12-14, 2001-12-14t21:59:43.10-05:00, 2001-12-14 21:59:43.10 -5
      "|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt \\t].*)?"
      // YAML 1.1 merge and value keys
      "|<<|=",
      std::regex::ECMAScript | std::regex::optimize);
  return re;
}

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

// Characters that keep a plain scalar unambiguous in any position but the
// first. Deliberately small: everything else gets quotes.
bool plain_char(unsigned char c, bool flow) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '-':
    case '.':
    case '_':
    case '/':
    case '+':
    case '@':
    case '=':
    case '~':
    case '^':
    case '%':
      return true;
    case ':':   // "sha256:abc" is a plain scalar in block context; libyaml refuses it in flow context
    case ',':
      return !flow;
    default:
      return c >= 0x80;  // non-ASCII letters (valid UTF-8 checked by the caller)
  }
}

// Can `value` be written unquoted (ignoring what it resolves to)?
bool plain_syntax_ok(std::string_view value, bool flow) {
  if (value.empty()) return false;
  const unsigned char first = static_cast<unsigned char>(value.front());
  const bool first_ok = (first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z') ||
                        (first >= '0' && first <= '9') || first == '.' || first == '/' || first == '_' ||
                        first == '+' || first >= 0x80;
  if (!first_ok) return false;
  for (unsigned char c : value) {
    if (!plain_char(c, flow)) return false;
  }
  if (value.back() == ':') return false;
  return true;
}

std::string double_quoted(std::string_view value) {
  static const char* hex = "0123456789ABCDEF";
  std::string out = "\"";
  for (unsigned char c : value) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '\0': out += "\\0"; break;
      default:
        if (is_control(c)) {
          out += "\\x";
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 0xf]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out += "\"";
  return out;
}

std::string single_quoted(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'') out.push_back('\'');
    out.push_back(c);
  }
  out += "'";
  return out;
}

}  // namespace

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    unsigned min = 0;
    unsigned cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      len = 2, min = 0x80, cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3, min = 0x800, cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4, min = 0x10000, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
  }
  return true;
}

bool reads_as_string(std::string_view text) {
  if (text.empty()) return false;  // an empty plain scalar is null
  return !std::regex_match(text.begin(), text.end(), non_string_pattern());
}

std::string render_scalar(std::string_view value, ScalarStyle style, bool flow, bool explicit_string) {
  switch (style) {
    case ScalarStyle::plain:
      if (plain_syntax_ok(value, flow) && (explicit_string || reads_as_string(value))) return std::string(value);
      return double_quoted(value);
    case ScalarStyle::single_quoted:
      for (unsigned char c : value) {
        if (is_control(c) && c != '\t') return double_quoted(value);
      }
      return single_quoted(value);
    case ScalarStyle::double_quoted:
      break;
  }
  return double_quoted(value);
}

}  // namespace conveyor::values
