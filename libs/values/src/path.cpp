// Key paths: `a.b-c["x.y"][0]`, and KEY=VALUE assignments.
#include <cctype>

#include "conveyor/values/values.hpp"

namespace conveyor::values {
namespace {

Error bad_path(std::string_view path, std::size_t at, const std::string& what) {
  return make_error(Errc::invalid_argument,
                    "key path '" + std::string(path) + "': " + what + " at character " + std::to_string(at + 1));
}

// A key that needs no brackets: no '.', brackets, quotes, backslashes,
// whitespace or control characters, and not empty.
bool bare_ok(const std::string& key) {
  if (key.empty()) return false;
  for (unsigned char c : key) {
    if (c == '.' || c == '[' || c == ']' || c == '"' || c == '\'' || c == '\\' || c == '=' || c <= 0x20 || c == 0x7f) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<KeyPath> parse_path(std::string_view path) {
  KeyPath out;
  if (path.empty()) return make_error(Errc::invalid_argument, "key path is empty");
  std::size_t i = 0;
  const std::size_t n = path.size();
  // Each iteration reads one dotted part: an optional bare key, then any
  // number of [..] suffixes.
  while (true) {
    const std::size_t part_start = i;
    std::string bare;
    bool has_bare = false;
    while (i < n && path[i] != '.' && path[i] != '[') {
      if (path[i] == ']' || path[i] == '"' || path[i] == '\'') {
        return bad_path(path, i, std::string("unexpected '") + path[i] + "'");
      }
      if (path[i] == '\\') {
        if (i + 1 >= n) return bad_path(path, i, "trailing backslash");
        bare.push_back(path[i + 1]);  // Helm's escape: `a\.b` is the key "a.b"
        i += 2;
      } else {
        bare.push_back(path[i++]);
      }
      has_bare = true;
    }
    if (has_bare) out.segments.push_back({bare, std::nullopt});
    bool has_bracket = false;
    while (i < n && path[i] == '[') {
      has_bracket = true;
      ++i;
      if (i >= n) return bad_path(path, i - 1, "unterminated '['");
      if (path[i] == '"' || path[i] == '\'') {
        const char quote = path[i++];
        std::string key;
        bool closed = false;
        while (i < n) {
          if (path[i] == '\\' && i + 1 < n) {
            key.push_back(path[i + 1]);
            i += 2;
          } else if (path[i] == quote) {
            closed = true;
            ++i;
            break;
          } else {
            key.push_back(path[i++]);
          }
        }
        if (!closed) return bad_path(path, n - 1, "unterminated quote");
        if (i >= n || path[i] != ']') return bad_path(path, i, "expected ']' after the quoted key");
        ++i;
        out.segments.push_back({key, std::nullopt});
      } else {
        const std::size_t digits_start = i;
        std::size_t index = 0;
        while (i < n && std::isdigit(static_cast<unsigned char>(path[i]))) {
          if (index > 100000000) return bad_path(path, i, "index too large");
          index = index * 10 + static_cast<std::size_t>(path[i] - '0');
          ++i;
        }
        if (i == digits_start || i >= n || path[i] != ']') {
          return bad_path(path, digits_start, "expected a number or a quoted key in brackets");
        }
        ++i;
        out.segments.push_back({"", index});
      }
    }
    if (!has_bare && !has_bracket) return bad_path(path, part_start, "empty key");
    if (i >= n) break;
    if (path[i] != '.') return bad_path(path, i, std::string("unexpected '") + path[i] + "'");
    ++i;
    if (i >= n) return bad_path(path, i - 1, "empty key after '.'");
  }
  return out;
}

std::string to_string(const KeyPath& path) {
  std::string out;
  for (const auto& s : path.segments) {
    if (s.index) {
      out += "[" + std::to_string(*s.index) + "]";
    } else if (bare_ok(s.key)) {
      if (!out.empty()) out += ".";
      out += s.key;
    } else {
      out += "[\"";
      for (char c : s.key) {
        if (c == '"' || c == '\\') out.push_back('\\');
        out.push_back(c);
      }
      out += "\"]";
    }
  }
  return out;
}

Result<Assignment> parse_assignment(std::string_view text) {
  char quote = 0;
  int depth = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quote) {
      if (c == '\\') {
        ++i;
      } else if (c == quote) {
        quote = 0;
      }
      continue;
    }
    if (c == '\\') {
      ++i;
    } else if (depth > 0 && (c == '"' || c == '\'')) {
      quote = c;
    } else if (c == '[') {
      ++depth;
    } else if (c == ']') {
      --depth;
    } else if (c == '=' && depth == 0) {
      Assignment a{std::string(text.substr(0, i)), std::string(text.substr(i + 1))};
      auto path = parse_path(a.path);
      if (!path) return std::move(path).error();
      return a;
    }
  }
  return make_error(Errc::invalid_argument, "'" + std::string(text) + "' is not KEY=VALUE");
}

}  // namespace conveyor::values
