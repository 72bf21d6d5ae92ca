// services/notifier/text.cpp: UTF-8-safe truncation and chat markup escaping.
#include "text.hpp"

#include <gtest/gtest.h>

#include <string>

namespace conveyor::notifier::text {
namespace {

const std::string kE = "\xC3\xA9";            // é: 2 bytes, 1 unit
const std::string kEuro = "\xE2\x82\xAC";     // €: 3 bytes, 1 unit
const std::string kRocket = "\xF0\x9F\x9A\x80";  // 🚀: 4 bytes, 2 units (a surrogate pair)
const std::string kEllipsisS(kEllipsis);

bool is_valid_utf8(const std::string& s) { return valid_utf8(s) == s; }

TEST(Text, LengthCountsUtf16Units) {
  EXPECT_EQ(length(""), 0u);
  EXPECT_EQ(length("abc"), 3u);
  EXPECT_EQ(length(kE + kEuro), 2u);
  EXPECT_EQ(length(kRocket), 2u);
  EXPECT_EQ(length("\xFF"), 1u);  // invalid byte: one U+FFFD
}

TEST(Text, ValidUtf8ReplacesEveryMalformedSequence) {
  EXPECT_EQ(valid_utf8("ok " + kRocket), "ok " + kRocket);
  EXPECT_EQ(valid_utf8("a\xFF" "b"), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(valid_utf8("\xC3"), "\xEF\xBF\xBD");                    // truncated sequence
  EXPECT_EQ(valid_utf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");   // overlong '/'
  EXPECT_EQ(valid_utf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate
}

TEST(Text, TruncateKeepsShortTextAndMarksTheCut) {
  EXPECT_EQ(truncate("hello", 5), "hello");
  EXPECT_EQ(truncate("hello!", 5), "hell" + kEllipsisS);
  EXPECT_EQ(length(truncate(std::string(5000, 'x'), 3000)), 3000u);
}

TEST(Text, TruncateNeverSplitsAMultiByteSequence) {
  // Every cut position over 2-, 3- and 4-byte characters: always valid UTF-8
  // and within the limit.
  const std::string text = "a" + kE + kEuro + kRocket + "b" + kRocket + kEuro + kE;
  for (std::size_t max = 1; max <= length(text) + 1; ++max) {
    const std::string cut = truncate(text, max);
    EXPECT_TRUE(is_valid_utf8(cut)) << max;
    EXPECT_LE(length(cut), max) << max;
  }
  // The rocket needs two units: with one left it is dropped whole.
  EXPECT_EQ(truncate("ab" + kRocket + "cd", 4), "ab" + kEllipsisS);
  EXPECT_EQ(truncate("ab" + kRocket + "cd", 5), "ab" + kRocket + kEllipsisS);
  EXPECT_EQ(truncate("ab" + kRocket + "c", 5), "ab" + kRocket + "c");  // fits exactly
  EXPECT_EQ(truncate(kEuro + kEuro + kEuro, 2), kEuro + kEllipsisS);
}

TEST(Text, SlackEscapesItsThreeCharacters) {
  EXPECT_EQ(slack_escape("a & b <c> <!channel> <https://evil|click>"),
            "a &amp; b &lt;c&gt; &lt;!channel&gt; &lt;https://evil|click&gt;");
  EXPECT_EQ(slack_escape("*bold* _it_ " + kRocket), "*bold* _it_ " + kRocket);
}

TEST(Text, SlackTextNeverCutsAnEntity) {
  // "a&" is 1 + 5 units escaped; with 5 units the whole entity goes.
  EXPECT_EQ(slack_text("a&b", 5), "a" + kEllipsisS);
  EXPECT_EQ(slack_text("a&b", 7), "a&amp;b");
  EXPECT_EQ(slack_text("a&b", 6), "a" + kEllipsisS);
  const std::string long_text(4000, '<');
  const std::string cut = slack_text(long_text, 3000);
  EXPECT_LE(length(cut), 3000u);
  EXPECT_EQ(cut.substr(cut.size() - kEllipsisS.size()), kEllipsisS);
  EXPECT_EQ((cut.size() - kEllipsisS.size()) % 4, 0u);  // only whole "&lt;"
}

TEST(Text, DiscordEscapesMarkdownAndBreaksMentions) {
  EXPECT_EQ(discord_escape(R"(*a* _b_ ~c~ `d` |e| > f \ g)"), R"(\*a\* \_b\_ \~c\~ \`d\` \|e\| \> f \\ g)");
  EXPECT_EQ(discord_escape("ping @everyone and @here, not @hero"),
            "ping @\xE2\x80\x8B" "everyone and @\xE2\x80\x8B" "here, not @hero");
  EXPECT_EQ(discord_escape("mail me@example.com"), "mail me@example.com");
}

TEST(Text, DiscordTextNeverCutsAnEscape) {
  EXPECT_EQ(discord_text("ab*c", 4), "ab" + kEllipsisS);
  EXPECT_EQ(discord_text("ab*c", 5), "ab\\*c");
  const std::string cut = discord_text(std::string(300, '_'), 256);
  EXPECT_LE(length(cut), 256u);
  EXPECT_EQ((cut.size() - kEllipsisS.size()) % 2, 0u);  // only whole "\_"
}

}  // namespace
}  // namespace conveyor::notifier::text
