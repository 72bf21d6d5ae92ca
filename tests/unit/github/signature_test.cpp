#include "conveyor/github/signature.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fixtures.hpp"

namespace conveyor::github {
namespace {

nlohmann::json vectors() {
  return nlohmann::json::parse(testing::read_file(testing::shared_dir() + "/fixtures/github/signature-vectors.json"));
}

TEST(Signature, EveryVectorInSharedFixtures) {
  const auto vs = vectors();
  ASSERT_GE(vs.size(), 4u);
  for (const auto& v : vs) {
    SCOPED_TRACE(v["name"].get<std::string>());
    const std::string secret = v["secret"];
    const std::string body = v.contains("body_file") ? testing::fixture(v["body_file"]) : v["body"].get<std::string>();
    EXPECT_EQ(body, v["body"].get<std::string>());
    const std::string expected = v["x_hub_signature_256"];
    EXPECT_EQ(signature_header(secret, body), expected);
    EXPECT_TRUE(verify_signature(expected, body, {secret}));
  }
}

TEST(Signature, GitHubDocumentedVector) {
  EXPECT_EQ(signature_header("It's a Secret to Everybody", "Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
}

TEST(Signature, RejectsWrongSecretBodyOrFormat) {
  const std::string body = "Hello, World!";
  const std::string good = signature_header("s3cret", body);
  EXPECT_FALSE(verify_signature(good, body, {"other"}));
  EXPECT_FALSE(verify_signature(good, body + " ", {"s3cret"}));
  EXPECT_FALSE(verify_signature("", body, {"s3cret"}));
  EXPECT_FALSE(verify_signature("sha1=" + good.substr(7), body, {"s3cret"}));
  EXPECT_FALSE(verify_signature(good.substr(0, good.size() - 1), body, {"s3cret"}));
  EXPECT_FALSE(verify_signature(good + "0", body, {"s3cret"}));
  std::string not_hex = good;
  not_hex.back() = 'z';
  EXPECT_FALSE(verify_signature(not_hex, body, {"s3cret"}));
  EXPECT_FALSE(verify_signature(good, body, {}));
  EXPECT_FALSE(verify_signature(signature_header("", body), body, {""}));
}

TEST(Signature, AcceptsUpperCaseHexAndAnyRotatedSecret) {
  const std::string body = "{}";
  std::string sig = signature_header("new", body);
  for (size_t i = 7; i < sig.size(); ++i) sig[i] = static_cast<char>(std::toupper(sig[i]));
  EXPECT_TRUE(verify_signature(sig, body, {"old", "new"}));
  EXPECT_TRUE(verify_signature(signature_header("old", body), body, {"old", "new"}));
}

}  // namespace
}  // namespace conveyor::github
