#include <gtest/gtest.h>

#include "conveyor/store/redis.hpp"

namespace conveyor::store {
namespace {

TEST(RedisUrl, Parses) {
  auto a = parse_redis_url("redis://127.0.0.1:16379");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 16379);
  EXPECT_EQ(a->db, 0);
  auto b = parse_redis_url("redis://redis/2");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "redis");
  EXPECT_EQ(b->port, 6379);
  EXPECT_EQ(b->db, 2);
}

TEST(RedisUrl, RejectsWithTheReason) {
  for (const char* bad : {"http://x:1", "redis://", "redis://h:0", "redis://h:99999", "redis://h:x", "redis://h:1/x",
                          "redis://user:pw@h:1"}) {
    auto r = parse_redis_url(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, Errc::invalid_argument);
    EXPECT_EQ(r.error().message.find("pw"), std::string::npos) << "credentials must not be echoed";
  }
}

}  // namespace
}  // namespace conveyor::store
