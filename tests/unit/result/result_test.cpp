#include "conveyor/result/result.hpp"

#include <gtest/gtest.h>

#include <memory>

namespace conveyor {
namespace {

Result<int> half(int x) {
  if (x % 2) return make_error(Errc::invalid_argument, "odd: " + std::to_string(x));
  return x / 2;
}

TEST(Result, ValueOrError) {
  auto a = half(4);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, 2);
  auto b = half(3);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code, Errc::invalid_argument);
  EXPECT_EQ(b.error().message, "odd: 3");
  Result<void> fine;
  EXPECT_TRUE(fine.ok());
  Result<void> bad = make_error(Errc::timeout, "slow");
  EXPECT_FALSE(bad.ok());
  EXPECT_STREQ(errc_name(bad.error().code), "timeout");
}

TEST(Result, MoveOnlyValues) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 7);
}

TEST(Result, EveryErrcHasAName) {
  for (auto c : {Errc::invalid_argument, Errc::not_found, Errc::unavailable, Errc::timeout, Errc::conflict,
                 Errc::internal}) {
    EXPECT_GT(std::string(errc_name(c)).size(), 3u);
  }
}

}  // namespace
}  // namespace conveyor
