#include "mask.hpp"

#include <algorithm>

namespace conveyor::test_runner {

Masker::Masker(std::vector<std::string> secrets) {
  for (auto& s : secrets) {
    if (!s.empty()) secrets_.push_back(std::move(s));
  }
  std::sort(secrets_.begin(), secrets_.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  secrets_.erase(std::unique(secrets_.begin(), secrets_.end()), secrets_.end());
  longest_ = secrets_.empty() ? 0 : secrets_.front().size();
}

std::string Masker::feed(std::string_view chunk) {
  if (secrets_.empty()) return std::string(chunk);
  pending_.append(chunk);
  return process(false);
}

std::string Masker::finish() { return process(true); }

std::string Masker::mask(std::string_view text) const {
  Masker copy(secrets_);
  std::string out = copy.feed(text);
  out += copy.finish();
  return out;
}

std::string Masker::process(bool final) {
  std::string out;
  const std::string& buf = pending_;
  // Bytes before `limit` cannot begin a secret that is still incomplete.
  const std::size_t limit = final ? buf.size() : (buf.size() >= longest_ ? buf.size() - (longest_ - 1) : 0);
  std::size_t i = 0;
  while (i < buf.size()) {
    std::size_t best = std::string::npos, best_len = 0;
    for (const auto& s : secrets_) {  // longest first: ties keep the longest
      const std::size_t at = buf.find(s, i);
      if (at < best) {
        best = at;
        best_len = s.size();
      }
    }
    if (best != std::string::npos && best < limit) {
      out.append(buf, i, best - i);
      out.append(kMask);
      i = best + best_len;
      continue;
    }
    const std::size_t safe = std::max(i, std::min(limit, best));
    out.append(buf, i, safe - i);
    i = safe;
    break;
  }
  pending_.erase(0, i);
  return out;
}

namespace {

// Length of the valid UTF-8 sequence at `s[i]`, or 0 if invalid (RFC 3629:
// no overlongs, no surrogates, nothing above U+10FFFF).
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (b(1) < lo || b(1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k) {
    if (b(k) < 0x80 || b(k) > 0xBF) return 0;
  }
  return n;
}

}  // namespace

std::string to_valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = utf8_sequence(text, i);
    if (n == 0) {
      out.append("\xEF\xBF\xBD");  // U+FFFD REPLACEMENT CHARACTER
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string_view utf8_tail(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::size_t start = text.size() - max_bytes;
  // Skip continuation bytes of a character cut in half (at most 3).
  for (int k = 0; k < 3 && start < text.size() && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80; ++k) {
    ++start;
  }
  return text.substr(start);
}

}  // namespace conveyor::test_runner
