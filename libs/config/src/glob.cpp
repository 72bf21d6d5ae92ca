#include <algorithm>
#include <vector>

#include "conveyor/config/config.hpp"

namespace conveyor::config {

namespace {
enum class Token { literal, one, star, double_star };
}  // namespace

// Dynamic programming over (pattern token, text position): patterns and ref
// names are short, so O(|pattern| * |text|) time and O(|text|) space.
bool glob_match(std::string_view pattern, std::string_view text) {
  std::vector<std::pair<Token, char>> tokens;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '*') {
      std::size_t run = 1;
      while (i + 1 < pattern.size() && pattern[i + 1] == '*') {
        ++i;
        ++run;
      }
      tokens.emplace_back(run >= 2 ? Token::double_star : Token::star, '*');
    } else if (c == '?') {
      tokens.emplace_back(Token::one, c);
    } else {
      tokens.emplace_back(Token::literal, c);
    }
  }

  const std::size_t n = text.size();
  // next[t]: tokens[i+1..] match text[t..]; cur[t]: tokens[i..] match text[t..].
  std::vector<char> next(n + 1, 0);
  std::vector<char> cur(n + 1, 0);
  next[n] = 1;
  for (std::size_t i = tokens.size(); i-- > 0;) {
    const auto [kind, c] = tokens[i];
    for (std::size_t t = n + 1; t-- > 0;) {
      const bool has = t < n;
      switch (kind) {
        case Token::literal: cur[t] = has && text[t] == c && next[t + 1]; break;
        case Token::one: cur[t] = has && text[t] != '/' && next[t + 1]; break;
        case Token::star: cur[t] = next[t] || (has && text[t] != '/' && cur[t + 1]); break;
        case Token::double_star: cur[t] = next[t] || (has && cur[t + 1]); break;
      }
    }
    std::swap(next, cur);
  }
  return next[0] != 0;
}

}  // namespace conveyor::config
