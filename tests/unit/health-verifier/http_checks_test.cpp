// One HTTP probe judged against a check: status ranges, JSON pointer and
// expect, transport errors.
#include "http_checks.hpp"

#include <gtest/gtest.h>

namespace conveyor::health_verifier {
namespace {

using json = nlohmann::json;

TEST(StatusRange, NumbersRangesAndClasses) {
  auto single = parse_status_range(204);
  ASSERT_TRUE(single.ok());
  EXPECT_EQ(single->min, 204);
  EXPECT_EQ(single->max, 204);
  EXPECT_EQ(single->to_string(), "204");

  auto text = parse_status_range("204");
  ASSERT_TRUE(text.ok());
  EXPECT_TRUE(text->contains(204));
  EXPECT_FALSE(text->contains(200));

  auto range = parse_status_range("200-399");
  ASSERT_TRUE(range.ok());
  EXPECT_TRUE(range->contains(200));
  EXPECT_TRUE(range->contains(302));
  EXPECT_TRUE(range->contains(399));
  EXPECT_FALSE(range->contains(400));
  EXPECT_FALSE(range->contains(199));
  EXPECT_EQ(range->to_string(), "200-399");

  auto klass = parse_status_range("2xx");
  ASSERT_TRUE(klass.ok());
  EXPECT_EQ(klass->min, 200);
  EXPECT_EQ(klass->max, 299);
  EXPECT_TRUE(parse_status_range("5XX").ok());

  const StatusRange def;
  EXPECT_EQ(def.to_string(), "200-299") << "the default is 2xx";
}

TEST(StatusRange, RefusesNonsense) {
  for (const json& bad : {json(99), json(600), json("abc"), json("300-200"), json("2xx-3xx"), json("6xx"),
                          json("20"), json("200-"), json(2.5), json(nullptr), json::array()}) {
    auto r = parse_status_range(bad);
    EXPECT_FALSE(r.ok()) << bad.dump();
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, Errc::invalid_argument);
    }
  }
}

HttpCheck check() {
  HttpCheck c;
  c.url = "http://app/health";
  return c;
}

TEST(Judge, StatusInRangePasses) {
  const auto o = judge(check(), HttpResponse{200, "anything"});
  EXPECT_TRUE(o.passed);
  EXPECT_EQ(o.status, 200);
  EXPECT_TRUE(o.error.empty());
  EXPECT_TRUE(judge(check(), HttpResponse{204, ""}).passed);
}

TEST(Judge, StatusOutsideRangeFails) {
  const auto o = judge(check(), HttpResponse{500, "oops"});
  EXPECT_FALSE(o.passed);
  EXPECT_EQ(o.status, 500);
  EXPECT_EQ(o.error, "status 500 is outside 200-299");
  auto c = check();
  c.status = *parse_status_range(204);
  EXPECT_FALSE(judge(c, HttpResponse{200, ""}).passed);
  EXPECT_TRUE(judge(c, HttpResponse{204, ""}).passed);
}

TEST(Judge, TransportErrorFailsWithItsMessage) {
  const auto o = judge(check(), make_error(Errc::timeout, "GET http://app:80: timed out after 5000 ms (read)"));
  EXPECT_FALSE(o.passed);
  EXPECT_EQ(o.status, 0);
  EXPECT_NE(o.error.find("timed out"), std::string::npos);
  EXPECT_TRUE(to_json(o)["status"].is_null());
}

TEST(Judge, JsonPointerWithExpect) {
  auto c = check();
  c.json_pointer = "/status";
  c.expect = "up";
  EXPECT_TRUE(judge(c, HttpResponse{200, R"({"status":"up","checks":[]})"}).passed);

  // A 200 whose body says unhealthy fails.
  const auto down = judge(c, HttpResponse{200, R"({"status":"down"})"});
  EXPECT_FALSE(down.passed);
  EXPECT_EQ(down.value, "down");
  EXPECT_EQ(down.error, R"(json-pointer /status is "down", expected "up")");
  EXPECT_EQ(to_json(down)["value"], "down");

  EXPECT_FALSE(judge(c, HttpResponse{200, "<html>up</html>"}).passed) << "not JSON";
  EXPECT_FALSE(judge(c, HttpResponse{200, R"({"state":"up"})"}).passed) << "pointer missing";
  EXPECT_FALSE(judge(c, HttpResponse{503, R"({"status":"up"})"}).passed) << "status first";
}

TEST(Judge, JsonPointerTypesAndNesting) {
  auto c = check();
  c.json_pointer = "/checks/0/healthy";
  c.expect = true;
  EXPECT_TRUE(judge(c, HttpResponse{200, R"({"checks":[{"healthy":true}]})"}).passed);
  EXPECT_FALSE(judge(c, HttpResponse{200, R"({"checks":[{"healthy":"true"}]})"}).passed) << "types must match";
  EXPECT_FALSE(judge(c, HttpResponse{200, R"({"checks":[]})"}).passed);
  EXPECT_FALSE(judge(c, HttpResponse{200, R"({"checks":{"x":1}})"}).passed);

  c.json_pointer = "/replicas";
  c.expect = 3;
  EXPECT_TRUE(judge(c, HttpResponse{200, R"({"replicas":3})"}).passed);
  EXPECT_TRUE(judge(c, HttpResponse{200, R"({"replicas":3.0})"}).passed) << "numbers compare by value";

  // Without expect the pointer only has to resolve.
  c.expect.reset();
  EXPECT_TRUE(judge(c, HttpResponse{200, R"({"replicas":0})"}).passed);
  EXPECT_FALSE(judge(c, HttpResponse{200, R"({})"}).passed);
}

}  // namespace
}  // namespace conveyor::health_verifier
