#include "mask.hpp"

#include <gtest/gtest.h>

#include <random>

namespace conveyor::test_runner {
namespace {

// Feeds `text` to a fresh masker split at the given sizes, cycling.
std::string masked_in_chunks(const std::vector<std::string>& secrets, const std::string& text,
                             const std::vector<std::size_t>& sizes) {
  Masker m(secrets);
  std::string out;
  std::size_t i = 0, k = 0;
  while (i < text.size()) {
    const std::size_t n = std::min(sizes[k++ % sizes.size()], text.size() - i);
    out += m.feed(std::string_view(text).substr(i, n));
    i += n;
  }
  return out + m.finish();
}

TEST(Masker, MasksEveryOccurrence) {
  const Masker m({"hunter2"});
  EXPECT_EQ(m.mask("pw=hunter2 and hunter2hunter2."), "pw=*** and ******.");
  EXPECT_EQ(m.mask("nothing here"), "nothing here");
  EXPECT_EQ(Masker({}).mask("abc"), "abc");
  EXPECT_EQ(Masker({""}).mask("abc"), "abc");
}

TEST(Masker, SecretSplitAcrossEveryChunkBoundary) {
  const std::string secret = "s3cr3t-T0KEN";
  const std::string text = "before " + secret + " middle " + secret + secret + " end";
  const std::string expected = "before *** middle ****** end";
  for (std::size_t size = 1; size <= text.size(); ++size) {
    EXPECT_EQ(masked_in_chunks({secret}, text, {size}), expected) << "chunk size " << size;
  }
  EXPECT_EQ(masked_in_chunks({secret}, text, {1, 7, 2, 13, 3}), expected);
}

TEST(Masker, OverlappingAndNestedSecretsLeftmostLongest) {
  const Masker m({"abc", "abcdef", "cd"});
  EXPECT_EQ(m.mask("xabcdefx"), "x***x");
  EXPECT_EQ(m.mask("xabcdx"), "x***dx");
  EXPECT_EQ(m.mask("xcdx"), "x***x");
  for (std::size_t size = 1; size < 8; ++size) {
    EXPECT_EQ(masked_in_chunks({"abc", "abcdef", "cd"}, "xabcdefx", {size}), "x***x");
  }
}

TEST(Masker, PartialPrefixAtTheEndIsReleasedByFinish) {
  Masker m({"secret"});
  std::string out = m.feed("my secre");
  EXPECT_EQ(out, "my ");  // "secre" could still become the secret
  out += m.finish();
  EXPECT_EQ(out, "my secre");
}

TEST(Masker, BinaryDataAndRandomSplits) {
  std::mt19937 rng(42);
  const std::string secret("\x00\xffkey\x01", 6);
  std::string text, expected;
  for (int i = 0; i < 2000; ++i) {
    if (rng() % 10 == 0) {
      text += secret;
      expected += "***";
    } else {
      char c = static_cast<char>(rng() % 256);
      if (c == '\0') c = 'z';  // keep the secret's first byte for the secret
      text += c;
      expected += c;
    }
  }
  std::vector<std::size_t> sizes;
  for (int i = 0; i < 50; ++i) sizes.push_back(1 + rng() % 17);
  EXPECT_EQ(masked_in_chunks({secret}, text, sizes), expected);
}

TEST(Utf8, InvalidBytesAreReplaced) {
  EXPECT_EQ(to_valid_utf8("plain"), "plain");
  EXPECT_EQ(to_valid_utf8("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(to_valid_utf8("a\xff" "b"), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(to_valid_utf8("\xc3"), "\xEF\xBF\xBD");                 // truncated sequence
  EXPECT_EQ(to_valid_utf8("\xc0\xaf"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
  EXPECT_EQ(to_valid_utf8("\xed\xa0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(to_valid_utf8("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");  // emoji
}

TEST(Utf8, TailStartsAtACharacterBoundary) {
  const std::string text = "xx\xc3\xa9\xc3\xa9";  // xxéé
  EXPECT_EQ(utf8_tail(text, 3), "\xc3\xa9");      // cut inside the first é: skip its rest
  EXPECT_EQ(utf8_tail(text, 4), "\xc3\xa9\xc3\xa9");
  EXPECT_EQ(utf8_tail(text, 100), text);
}

}  // namespace
}  // namespace conveyor::test_runner
