#include "conveyor/release/semver.hpp"

#include <gtest/gtest.h>

namespace conveyor::release {
namespace {

SemVer v(const char* text) {
  auto r = parse_semver(text);
  EXPECT_TRUE(r.ok()) << text;
  return r.ok() ? r.value() : SemVer{};
}

TEST(SemVer, ParsesAndPrints) {
  const SemVer a = v("1.2.3-beta.2+build.7");
  EXPECT_EQ(a.major, 1u);
  EXPECT_EQ(a.minor, 2u);
  EXPECT_EQ(a.patch, 3u);
  EXPECT_EQ(a.prerelease, (std::vector<std::string>{"beta", "2"}));
  EXPECT_EQ(a.build, (std::vector<std::string>{"build", "7"}));
  for (const char* s : {"0.0.0", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-0.3.7", "1.0.0-x.7.z.92",
                        "1.0.0-x-y-z.--", "1.0.0-alpha+001", "1.0.0+20130313144700", "1.0.0-beta+exp.sha.5114f85",
                        "1.0.0+21AF26D3----117B344092BD", "18446744073709551615.0.0"}) {
    EXPECT_EQ(v(s).to_string(), s);
  }
}

TEST(SemVer, RejectsWhatTheGrammarRejects) {
  for (const char* s : {"", "1", "1.2", "1.2.3.4", "v1.2.3", "01.2.3", "1.02.3", "1.2.03", "1.2.3-", "1.2.3-01",
                        "1.2.3-a..b", "1.2.3+", "1.2.3+a..b", "1.2.3-a_b", " 1.2.3", "1.2.3 ", "-1.2.3", "1.2.x",
                        "18446744073709551616.0.0", "1.2.3-beta!"}) {
    EXPECT_FALSE(parse_semver(s).ok()) << s;
  }
  EXPECT_TRUE(parse_semver("1.2.3+001").ok());  // leading zeros are fine in build metadata
}

TEST(SemVer, PrecedenceExamplesOfSection11) {
  // §11.2: 1.0.0 < 2.0.0 < 2.1.0 < 2.1.1
  // §11.3: 1.0.0-alpha < 1.0.0
  // §11.4: 1.0.0-alpha < 1.0.0-alpha.1 < 1.0.0-alpha.beta < 1.0.0-beta < 1.0.0-beta.2 < 1.0.0-beta.11 < 1.0.0-rc.1 < 1.0.0
  const char* ordered[] = {"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
                           "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "2.0.0", "2.1.0", "2.1.1"};
  const std::size_t n = sizeof(ordered) / sizeof(ordered[0]);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      const auto c = compare(v(ordered[i]), v(ordered[j]));
      if (i < j) {
        EXPECT_TRUE(c < 0) << ordered[i] << " < " << ordered[j];
      } else if (i == j) {
        EXPECT_TRUE(c == 0) << ordered[i];
      } else {
        EXPECT_TRUE(c > 0) << ordered[i] << " > " << ordered[j];
      }
    }
  }
}

TEST(SemVer, BuildMetadataIsIgnoredAndNumbersCompareNumerically) {
  EXPECT_TRUE(same_precedence(v("1.0.0+a"), v("1.0.0+b")));
  EXPECT_TRUE(v("1.9.0") < v("1.10.0"));
  EXPECT_TRUE(v("1.0.0-9") < v("1.0.0-10"));
  EXPECT_TRUE(v("1.0.0-999") < v("1.0.0-a"));  // numeric below alphanumeric
  EXPECT_TRUE(v("1.0.0-B") < v("1.0.0-a"));    // ASCII order
  EXPECT_TRUE(v("1.0.0-a") < v("1.0.0-a.0"));
}

}  // namespace
}  // namespace conveyor::release
