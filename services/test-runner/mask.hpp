// Masking secret values in streamed output: every occurrence of a configured
// secret becomes "***", also when it is split across read chunks.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace conveyor::test_runner {

inline constexpr std::string_view kMask = "***";

// A streaming masker. feed() returns the text that is final so far; up to
// (longest secret - 1) bytes are held back until the next feed() or finish(),
// because they could be the start of a secret. Matching is leftmost-longest;
// empty secrets are ignored. Binary-safe.
class Masker {
 public:
  explicit Masker(std::vector<std::string> secrets);

  std::string feed(std::string_view chunk);
  std::string finish();  // the held-back rest

  // Masks a whole text at once.
  std::string mask(std::string_view text) const;

 private:
  std::string process(bool final);

  std::vector<std::string> secrets_;  // longest first
  std::size_t longest_ = 0;
  std::string pending_;
};

// `text` with every byte sequence that is not valid UTF-8 replaced by U+FFFD,
// so it can go into a JSON event.
std::string to_valid_utf8(std::string_view text);

// The last `max_bytes` (at most) of `text` starting at a UTF-8 character
// boundary, for tails of step output.
std::string_view utf8_tail(std::string_view text, std::size_t max_bytes);

}  // namespace conveyor::test_runner
