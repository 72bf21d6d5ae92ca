// JavaScript regular-expression character classes over UTF-8 text, so that the
// parser port matches conventional-commits-parser (which runs on UTF-16 JS
// strings) without a regex engine: `\s` (WhiteSpace + LineTerminator), `.`
// (anything but a line terminator), `\w` and `\b` (ASCII only), and the
// ASCII-only case folding of the `i` flag without `u`.
#pragma once

#include <cstddef>
#include <string_view>

namespace conveyor::release::detail {

inline bool is_word(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

inline char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// Length in bytes of the JS `\s` character starting at s[i], or 0 if none.
inline std::size_t js_space_at(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c == ' ' || (c >= 0x09 && c <= 0x0d)) return 1;
  if (c < 0xc2) return 0;
  const auto at = [&](std::size_t k) -> unsigned char {
    return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0;
  };
  if (c == 0xc2) return at(1) == 0xa0 ? 2 : 0;                               // U+00A0
  if (c == 0xe1) return (at(1) == 0x9a && at(2) == 0x80) ? 3 : 0;            // U+1680
  if (c == 0xe2) {
    if (at(1) == 0x80) {
      const unsigned char d = at(2);
      if ((d >= 0x80 && d <= 0x8a) || d == 0xa8 || d == 0xa9 || d == 0xaf) return 3;  // U+2000-200A, 2028, 2029, 202F
      return 0;
    }
    if (at(1) == 0x81 && at(2) == 0x9f) return 3;                            // U+205F
    return 0;
  }
  if (c == 0xe3) return (at(1) == 0x80 && at(2) == 0x80) ? 3 : 0;            // U+3000
  if (c == 0xef) return (at(1) == 0xbb && at(2) == 0xbf) ? 3 : 0;            // U+FEFF
  return 0;
}

// Length in bytes of a JS line terminator at s[i] other than '\n' (which
// never occurs inside a split line): '\r', U+2028, U+2029; 0 if none.
inline std::size_t js_terminator_at(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c == '\r' || c == '\n') return 1;
  if (c == 0xe2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80) {
    const auto d = static_cast<unsigned char>(s[i + 2]);
    if (d == 0xa8 || d == 0xa9) return 3;
  }
  return 0;
}

// Position of the first line terminator in s[from..), or s.size().
inline std::size_t find_terminator(std::string_view s, std::size_t from = 0) {
  for (std::size_t i = from; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\r' || c == '\n' || c == 0xe2) {
      if (js_terminator_at(s, i) != 0) return i;
    }
  }
  return s.size();
}

inline bool has_terminator(std::string_view s) { return find_terminator(s) != s.size(); }

// Skips JS whitespace from i; returns the first non-space position.
inline std::size_t skip_js_space(std::string_view s, std::size_t i) {
  while (i < s.size()) {
    const std::size_t n = js_space_at(s, i);
    if (n == 0) break;
    i += n;
  }
  return i;
}

// Start of the maximal JS whitespace run that ends exactly at `end`.
inline std::size_t space_run_start(std::string_view s, std::size_t end) {
  // Walk back over 1-, 2- and 3-byte whitespace characters (valid UTF-8).
  std::size_t i = end;
  while (i > 0) {
    if (js_space_at(s, i - 1) == 1) { --i; continue; }
    if (i >= 2 && js_space_at(s, i - 2) == 2) { i -= 2; continue; }
    if (i >= 3 && js_space_at(s, i - 3) == 3) { i -= 3; continue; }
    break;
  }
  return i;
}

// JS String.prototype.trim.
inline std::string_view js_trim(std::string_view s) {
  std::size_t b = skip_js_space(s, 0);
  std::size_t e = space_run_start(s, s.size());
  if (e < b) e = b;
  return s.substr(b, e - b);
}

// conventional-commits-parser's trimNewLines: strips '\r' and '\n' at both ends.
inline std::string_view trim_newlines(std::string_view s) {
  std::size_t b = 0;
  while (b < s.size() && (s[b] == '\r' || s[b] == '\n')) ++b;
  std::size_t e = s.size();
  while (e > b && (s[e - 1] == '\r' || s[e - 1] == '\n')) --e;
  return s.substr(b, e - b);
}

// Case-insensitive (ASCII) prefix test of s[i..] against a lower-case word.
inline bool ci_at(std::string_view s, std::size_t i, std::string_view lower_word) {
  if (i + lower_word.size() > s.size()) return false;
  for (std::size_t k = 0; k < lower_word.size(); ++k) {
    if (ascii_lower(s[i + k]) != lower_word[k]) return false;
  }
  return true;
}

}  // namespace conveyor::release::detail
