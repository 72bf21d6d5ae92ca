#include "conveyor/http/admin.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include "conveyor/http/client.hpp"

namespace conveyor::http {
namespace {

using namespace std::chrono_literals;

class AdminTest : public ::testing::Test {
 protected:
  void start(std::vector<ReadinessCheck> checks) {
    registry_ = std::make_shared<prometheus::Registry>();
    auto& family = prometheus::BuildCounter()
                       .Name("conveyor_test_requests_total")
                       .Help("Requests seen by the test")
                       .Register(*registry_);
    family.Add({{"outcome", "ok"}}).Increment(3);
    server_ = std::make_unique<Server>(ServerOptions{});
    add_admin_routes(*server_, registry_, std::move(checks));
    ASSERT_TRUE(server_->start().ok());
  }
  Result<ClientResponse> get(const std::string& path) {
    return request("GET", "http://127.0.0.1:" + std::to_string(server_->port()) + path, {}, "", 5s);
  }

  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Server> server_;
};

ReadinessCheck ok_check(std::string name) {
  return {std::move(name), [] { return Result<void>{}; }};
}

TEST_F(AdminTest, HealthzIsOk) {
  start({});
  auto r = get("/healthz");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(nlohmann::json::parse(r->body), nlohmann::json({{"status", "ok"}}));
  EXPECT_EQ(r->headers["content-type"], "application/json");
}

TEST_F(AdminTest, ReadyzReportsEveryCheckWhenReady) {
  start({ok_check("kafka"), ok_check("redis")});
  auto r = get("/readyz");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  auto j = nlohmann::json::parse(r->body);
  EXPECT_EQ(j["ready"], true);
  EXPECT_EQ(j["checks"]["kafka"], "ok");
  EXPECT_EQ(j["checks"]["redis"], "ok");
}

TEST_F(AdminTest, ReadyzIs503AndNamesTheFailingCheck) {
  start({ok_check("kafka"),
         {"redis", [] { return Result<void>(make_error(Errc::unavailable, "connection refused")); }},
         {"thrower", []() -> Result<void> { throw std::runtime_error("boom"); }}});
  auto r = get("/readyz");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 503);
  auto j = nlohmann::json::parse(r->body);
  EXPECT_EQ(j["ready"], false);
  EXPECT_EQ(j["checks"]["kafka"], "ok");
  const std::string redis = j["checks"]["redis"];
  EXPECT_NE(redis.find("connection refused"), std::string::npos) << redis;
  const std::string thrower = j["checks"]["thrower"];
  EXPECT_NE(thrower.find("boom"), std::string::npos) << thrower;
}

TEST_F(AdminTest, MetricsServesTheRegistryInTextFormat) {
  start({});
  auto r = get("/metrics");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers["content-type"].rfind("text/plain; version=0.0.4", 0), 0u) << r->headers["content-type"];
  EXPECT_NE(r->body.find("# TYPE conveyor_test_requests_total counter"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("conveyor_test_requests_total{outcome=\"ok\"} 3"), std::string::npos) << r->body;
}

TEST_F(AdminTest, AdminRoutesAreGetOnly) {
  start({});
  auto r = request("POST", "http://127.0.0.1:" + std::to_string(server_->port()) + "/healthz", {}, "", 5s);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->headers["allow"], "GET");
}

TEST(RenderMetricsTest, SerializesARegistry) {
  prometheus::Registry registry;
  prometheus::BuildCounter().Name("conveyor_x_total").Help("x").Register(registry).Add({}).Increment();
  const std::string text = render_metrics(registry);
  EXPECT_NE(text.find("conveyor_x_total 1"), std::string::npos) << text;
}

}  // namespace
}  // namespace conveyor::http
