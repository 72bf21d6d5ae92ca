// services/deployer/helm_release: settings checks, exact argv, and parsing of
// real helm v3.19 outputs (fixtures/ were printed by the real helm binary
// with the memory storage driver loaded from fixtures/helm_releases_pending.yaml).
#include "helm_release.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include <gtest/gtest.h>

namespace fs = std::filesystem;
using conveyor::deployer::HelmSettings;
namespace d = conveyor::deployer;

namespace {

std::string fixture(const std::string& name) {
  const char* src = std::getenv("CONVEYOR_SOURCE_DIR");
  std::ifstream in(fs::path(src != nullptr ? src : ".") / "tests/unit/deployer/fixtures" / name);
  std::stringstream ss;
  ss << in.rdbuf();
  if (ss.str().empty()) throw std::runtime_error("missing fixture " + name);
  return ss.str();
}

class HelmSettingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("h2-helm-settings-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "checkout/charts/web");
    std::ofstream(root_ / "checkout/charts/web/Chart.yaml") << "apiVersion: v2\nname: web\nversion: 0.1.0\n";
    std::ofstream(root_ / "checkout/values prod \"eu\".yaml") << "image: {tag: x}\n";
    std::ofstream(root_ / "outside.yaml") << "secret: 1\n";
    fs::create_symlink(root_ / "outside.yaml", root_ / "checkout/link.yaml");
    checkout_ = (root_ / "checkout").string();
  }
  void TearDown() override { fs::remove_all(root_); }

  nlohmann::json base() const { return {{"release", "web"}, {"chart", "charts/web"}, {"namespace", "prod"}}; }

  fs::path root_;
  std::string checkout_;
};

TEST_F(HelmSettingsTest, ResolvesPathsInsideTheCheckout) {
  auto j = base();
  j["values-file"] = "values prod \"eu\".yaml";
  j["timeout"] = "90s";
  j["kube-context"] = "kind-dev";
  j["recover-pending"] = true;
  auto s = d::parse_helm_settings(j, checkout_);
  ASSERT_TRUE(s) << s.error().message;
  const auto canon = fs::canonical(checkout_).string();
  EXPECT_EQ(s->chart, canon + "/charts/web");
  EXPECT_EQ(*s->values_file, canon + "/values prod \"eu\".yaml");
  EXPECT_EQ(s->timeout, std::chrono::seconds(90));
  EXPECT_TRUE(s->recover_pending);

  // Exact argv: every value as --flag=value, odd characters kept verbatim.
  EXPECT_EQ(d::helm_upgrade_args(*s, false, 10),
            (std::vector<std::string>{"upgrade", "--install", "web", canon + "/charts/web", "--namespace=prod",
                                      "--kube-context=kind-dev", "--values=" + canon + "/values prod \"eu\".yaml",
                                      "--wait", "--timeout=90s", "--history-max=10", "--output=json"}));
  EXPECT_EQ(d::helm_history_args(*s, 50),
            (std::vector<std::string>{"history", "web", "--namespace=prod", "--kube-context=kind-dev", "--output=json",
                                      "--max=50"}));
  EXPECT_EQ(d::helm_rollback_args(*s, 4),
            (std::vector<std::string>{"rollback", "web", "4", "--namespace=prod", "--kube-context=kind-dev", "--wait",
                                      "--timeout=90s"}));
  auto with_ns = d::helm_upgrade_args(*s, true, 3);
  EXPECT_NE(std::find(with_ns.begin(), with_ns.end(), "--create-namespace"), with_ns.end());
}

TEST_F(HelmSettingsTest, RefusesNamesHelmWouldReadAsFlagsOrReject) {
  for (const std::string& release :
       std::vector<std::string>{"-rf", "--dry-run", "Web", "web app", "web;rm", "", std::string(54, 'a')}) {
    auto j = base();
    j["release"] = release;
    auto s = d::parse_helm_settings(j, checkout_);
    ASSERT_FALSE(s) << release;
    EXPECT_NE(s.error().message.find("deploy.helm.release"), std::string::npos);
  }
  auto j = base();
  j["namespace"] = "--all-namespaces";
  EXPECT_FALSE(d::parse_helm_settings(j, checkout_));
  j = base();
  j["kube-context"] = "a\nb";
  EXPECT_FALSE(d::parse_helm_settings(j, checkout_));
  j = base();
  j["timeout"] = "soon";
  EXPECT_FALSE(d::parse_helm_settings(j, checkout_));
}

TEST_F(HelmSettingsTest, RefusesPathsLeavingTheCheckout) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"chart", "../outside"},           {"chart", "charts/../../x"},   {"chart", "/etc"},
      {"values-file", "../outside.yaml"}, {"values-file", "link.yaml"}, {"values-file", "/etc/passwd"},
      {"chart", "charts/missing"},       {"chart", "."}};
  for (const auto& [key, value] : cases) {
    auto j = base();
    j[key] = value;
    auto s = d::parse_helm_settings(j, checkout_);
    ASSERT_FALSE(s) << key << "=" << value;
    EXPECT_NE(s.error().message.find("deploy.helm." + key), std::string::npos) << s.error().message;
  }
  EXPECT_FALSE(d::parse_helm_settings(base(), ""));  // a chart directory needs a checkout
}

TEST_F(HelmSettingsTest, OciChartReferencePassesAsIs) {
  auto j = base();
  j["chart"] = "oci://registry.example/charts/web";
  auto s = d::parse_helm_settings(j, "");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->chart, "oci://registry.example/charts/web");
  EXPECT_EQ(s->timeout, std::chrono::minutes(10));
  EXPECT_EQ(d::go_duration(std::chrono::milliseconds(1500)), "1500ms");
}

TEST(HelmOutputs, ParsesRealHistoryAndFindsStuckAndLastGood) {
  auto h = d::parse_helm_history(fixture("helm_history_pending.json"));
  ASSERT_TRUE(h) << h.error().message;
  ASSERT_EQ(h->size(), 3u);
  EXPECT_EQ(h->back().revision, 3);
  EXPECT_EQ(h->back().status, "pending-upgrade");
  EXPECT_EQ(h->back().updated, "2025-01-04T10:00:00Z");
  EXPECT_EQ(h->back().chart, "mychart-0.1.0");
  EXPECT_EQ(h->back().app_version, "1.2.0");
  EXPECT_TRUE(d::is_pending_status(h->back().status));
  EXPECT_FALSE(d::is_pending_status("deployed"));
  const auto* good = d::last_good_revision(*h);
  ASSERT_NE(good, nullptr);
  EXPECT_EQ(good->revision, 2);
  good = d::last_good_revision(*h, 2);
  ASSERT_NE(good, nullptr);
  EXPECT_EQ(good->revision, 1);
  EXPECT_EQ(d::last_good_revision(*h, 1), nullptr);

  EXPECT_FALSE(d::parse_helm_history("Error: release: not found"));
  EXPECT_FALSE(d::parse_helm_history(R"([{"status":"deployed"}])"));
  EXPECT_TRUE(d::is_release_not_found("Error: release: not found\n"));
}

TEST(HelmOutputs, ParsesRealStatusAndUpgradeReleases) {
  auto st = d::parse_helm_release(fixture("helm_status_pending.json"));
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(st->revision, 3);
  EXPECT_EQ(st->status, "pending-upgrade");

  auto up = d::parse_helm_release(fixture("helm_upgrade_output.json"));
  ASSERT_TRUE(up) << up.error().message;
  EXPECT_EQ(up->revision, 3);
  EXPECT_EQ(up->status, "deployed");
  EXPECT_EQ(up->chart, "mychart-0.1.0");
  EXPECT_EQ(up->app_version, "1.16.0");
  EXPECT_FALSE(d::parse_helm_release("[]"));
}

TEST(ReasonExcerpt, KeepsLastLinesMasksSecretsAndBoundsLength) {
  const std::string err = "line one\n\nWARNING: x\r\nError: token s3cr3t refused\n\n";
  EXPECT_EQ(d::reason_excerpt(err, {"s3cr3t"}), "WARNING: x | Error: token [redacted] refused");
  EXPECT_EQ(d::reason_excerpt(err, {}, 1), "Error: token s3cr3t refused");
  const std::string long_utf8 = std::string(10, 'a') + "\xc3\xa9\xc3\xa9\xc3\xa9";
  const auto cut = d::reason_excerpt(long_utf8, {}, 1, 11);
  EXPECT_EQ(cut, std::string(10, 'a') + "...");
  EXPECT_EQ(d::reason_excerpt("", {}), "");
}

}  // namespace
