#include "text.hpp"

#include <functional>

namespace conveyor::notifier::text {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
constexpr std::string_view kZeroWidthSpace = "\xE2\x80\x8B";  // U+200B

// One code point at `i`: its byte length (0 when the bytes there are not a
// well-formed sequence per RFC 3629) and its UTF-16 length.
struct CodePoint {
  std::size_t bytes = 0;
  std::size_t units = 1;
};

CodePoint next(std::string_view s, std::size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return {1, 1};
  std::size_t n = 0;
  unsigned cp = 0;
  unsigned min = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2, cp = b0 & 0x1F, min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3, cp = b0 & 0x0F, min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return {0, 1};
  }
  if (i + n > s.size()) return {0, 1};
  for (std::size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return {0, 1};
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {0, 1};
  return {n, cp >= 0x10000 ? std::size_t{2} : std::size_t{1}};
}

// Calls `each(piece, units)` for every code point (invalid bytes as U+FFFD).
void for_each_code_point(std::string_view s, const std::function<void(std::string_view, std::size_t)>& each) {
  for (std::size_t i = 0; i < s.size();) {
    const CodePoint cp = next(s, i);
    if (cp.bytes == 0) {
      each(kReplacement, 1);
      ++i;
    } else {
      each(s.substr(i, cp.bytes), cp.units);
      i += cp.bytes;
    }
  }
}

// Escapes code point by code point with `escape` (which maps one code
// point's bytes to its escaped form), and stops before the piece that would
// pass `max` units, leaving room for the ellipsis.
std::string escape_within(std::string_view utf8, std::size_t max,
                          const std::function<std::string(std::string_view)>& escape) {
  std::string full;
  std::size_t units = 0;
  for_each_code_point(utf8, [&](std::string_view piece, std::size_t) {
    const std::string escaped = escape(piece);
    full += escaped;
    units += length(escaped);
  });
  if (units <= max) return full;
  if (max == 0) return "";
  std::string out;
  std::size_t used = 0;
  bool full_up = false;
  for_each_code_point(utf8, [&](std::string_view piece, std::size_t) {
    if (full_up) return;
    const std::string escaped = escape(piece);
    const std::size_t n = length(escaped);
    if (used + n > max - 1) {
      full_up = true;
      return;
    }
    out += escaped;
    used += n;
  });
  out += kEllipsis;
  return out;
}

std::string slack_piece(std::string_view cp) {
  if (cp == "&") return "&amp;";
  if (cp == "<") return "&lt;";
  if (cp == ">") return "&gt;";
  return std::string(cp);
}

std::string discord_piece(std::string_view cp) {
  if (cp.size() == 1 && std::string_view("\\*_~`|>").find(cp[0]) != std::string_view::npos) {
    return "\\" + std::string(cp);
  }
  return std::string(cp);
}

// "@everyone" and "@here" with a zero-width space after the '@': shown the
// same, but no longer a mention (allowed_mentions is set too, belt and braces).
std::string break_mentions(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    out.push_back(s[i]);
    if (s[i] == '@' && (s.substr(i + 1, 8) == "everyone" || s.substr(i + 1, 4) == "here")) out += kZeroWidthSpace;
  }
  return out;
}

}  // namespace

std::size_t length(std::string_view utf8) {
  std::size_t units = 0;
  for_each_code_point(utf8, [&](std::string_view, std::size_t n) { units += n; });
  return units;
}

std::string valid_utf8(std::string_view utf8) {
  std::string out;
  out.reserve(utf8.size());
  for_each_code_point(utf8, [&](std::string_view piece, std::size_t) { out += piece; });
  return out;
}

std::string truncate(std::string_view utf8, std::size_t max) {
  return escape_within(utf8, max, [](std::string_view cp) { return std::string(cp); });
}

std::string slack_escape(std::string_view utf8) { return slack_text(utf8, std::string_view::npos); }

std::string discord_escape(std::string_view utf8) { return discord_text(utf8, std::string_view::npos); }

std::string slack_text(std::string_view utf8, std::size_t max) { return escape_within(utf8, max, slack_piece); }

std::string discord_text(std::string_view utf8, std::size_t max) {
  return escape_within(break_mentions(utf8), max, discord_piece);
}

}  // namespace conveyor::notifier::text
