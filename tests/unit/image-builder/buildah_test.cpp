#include "buildah.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "fake_runner.hpp"
#include "service_process.hpp"  // temp_dir

namespace conveyor::image_builder {
namespace {

using Argv = std::vector<std::string>;

BuildSpec spec() {
  BuildSpec s;
  s.image = "app";
  s.workdir = "/w/build-0";
  s.context_dir = "/w/src/server";
  s.dockerfile = "/w/src/server/Dockerfile";
  s.platforms = {"linux/amd64", "linux/arm64"};
  s.build_args = {{"NODE_VERSION", "20"}, {"A", "x y"}};
  s.labels = {{"org.opencontainers.image.revision", "abc"}};
  s.timestamp = 1700000000;
  s.repository = "registry.example.com/team/app";
  return s;
}

const Argv kGlobal{"buildah", "--root", "/w/build-0/storage/root", "--runroot", "/w/build-0/storage/run",
                   "--storage-driver", "vfs"};

Argv concat(Argv a, const Argv& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(BuildahArgv, BuildOnePlatformWithoutCache) {
  EXPECT_EQ(buildah_build_argv(spec(), "linux/arm64"),
            concat(kGlobal, {"build", "--isolation", "chroot", "--platform", "linux/arm64", "--manifest",
                             "localhost/app:conveyor", "--file", "/w/src/server/Dockerfile", "--format", "oci",
                             "--tls-verify=true", "--timestamp", "1700000000", "--build-arg", "A=x y",
                             "--build-arg", "NODE_VERSION=20", "--label", "dev.conveyor.platform=linux/arm64",
                             "--label", "org.opencontainers.image.revision=abc", "/w/src/server"}));
}

TEST(BuildahArgv, CacheReadAndWrittenInTheCacheRepository) {
  auto s = spec();
  s.cache_repository = "registry.example.com/team/app-cache";
  const auto argv = buildah_build_argv(s, "linux/amd64");
  EXPECT_EQ(argv, concat(kGlobal, {"build", "--isolation", "chroot", "--platform", "linux/amd64", "--manifest",
                                   "localhost/app:conveyor", "--file", "/w/src/server/Dockerfile", "--format", "oci",
                                   "--tls-verify=true", "--layers", "--cache-from",
                                   "registry.example.com/team/app-cache", "--cache-to",
                                   "registry.example.com/team/app-cache", "--timestamp", "1700000000", "--build-arg",
                                   "A=x y", "--build-arg", "NODE_VERSION=20", "--label",
                                   "dev.conveyor.platform=linux/amd64", "--label",
                                   "org.opencontainers.image.revision=abc", "/w/src/server"}));
  // One --tls-verify governs the image and the cache alike.
  s.tls_verify = false;
  const auto insecure = buildah_build_argv(s, "linux/amd64");
  EXPECT_EQ(std::count(insecure.begin(), insecure.end(), "--tls-verify=false"), 1);
  EXPECT_EQ(std::count(insecure.begin(), insecure.end(), "--tls-verify=true"), 0);
  EXPECT_EQ(std::count(insecure.begin(), insecure.end(), "--layers"), 1);
}

TEST(BuildahArgv, BuildWithoutTimestampAndInsecure) {
  auto s = spec();
  s.timestamp.reset();
  s.tls_verify = false;
  s.build_args.clear();
  s.labels.clear();
  s.platforms = {"linux/amd64"};
  BuildahOptions o;
  o.program = "/usr/bin/buildah";
  EXPECT_EQ(buildah_build_argv(s, "linux/amd64", o),
            (Argv{"/usr/bin/buildah", "--root", "/w/build-0/storage/root", "--runroot", "/w/build-0/storage/run",
                  "--storage-driver", "vfs", "build", "--isolation", "chroot", "--platform", "linux/amd64",
                  "--manifest", "localhost/app:conveyor", "--file", "/w/src/server/Dockerfile", "--format", "oci",
                  "--tls-verify=false", "--label", "dev.conveyor.platform=linux/amd64", "/w/src/server"}));
}

TEST(BuildahArgv, PushOneTag) {
  auto s = spec();
  s.tls_verify = false;
  EXPECT_EQ(buildah_push_argv(s, "1.2.3"),
            (Argv{"buildah", "--root", "/w/build-0/storage/root", "--runroot", "/w/build-0/storage/run",
                  "--storage-driver", "vfs", "manifest", "push", "--all", "--format", "oci", "--quiet",
                  "--tls-verify=false", "localhost/app:conveyor", "docker://registry.example.com/team/app:1.2.3"}));
}

TEST(BuildahEnv, ConfigFilesTmpAndAuthFileButNoSecrets) {
  ::setenv("CONVEYOR_TEST_SECRET_FOR_ENV", "s3cr3t", 1);
  auto s = spec();
  s.auth_file = "/w/build-0/auth.json";
  BuildahOptions o;
  o.containers_conf = "/repo/deploy/containers/containers.conf";
  o.storage_conf = "/repo/deploy/containers/storage.conf";
  const auto env = buildah_environment(s, o);
  EXPECT_EQ(env.at("CONTAINERS_CONF"), o.containers_conf);
  EXPECT_EQ(env.at("CONTAINERS_STORAGE_CONF"), o.storage_conf);
  EXPECT_EQ(env.at("REGISTRY_AUTH_FILE"), "/w/build-0/auth.json");
  EXPECT_EQ(env.at("TMPDIR"), "/w/build-0/tmp");
  EXPECT_TRUE(env.count("PATH"));
  EXPECT_FALSE(env.count("CONVEYOR_TEST_SECRET_FOR_ENV"));
  for (const auto& a : buildah_push_argv(s, "x")) EXPECT_EQ(a.find("auth"), std::string::npos) << a;
  // Without configuration nothing is set.
  const auto bare = buildah_environment(spec());
  EXPECT_FALSE(bare.count("CONTAINERS_CONF"));
  EXPECT_FALSE(bare.count("REGISTRY_AUTH_FILE"));
}

using testing::failed;
using testing::FakeRunner;

// A build in a scratch workdir, answered by the fake.
class BuildahBuild : public ::testing::Test {
 protected:
  void SetUp() override {
    spec_ = spec();
    spec_.workdir = conveyor::testing::temp_dir("buildah-unit");
  }
  void TearDown() override { std::filesystem::remove_all(spec_.workdir); }
  Result<StepResult> build() { return BuildahBackend({}, fake_.runner()).build(spec_); }
  FakeRunner fake_;
  BuildSpec spec_;
};

TEST_F(BuildahBuild, OneBuildPerPlatformInContextWithinTheTimeout) {
  fake_.answers.push_back(testing::succeeded(
      "STEP 1/2: FROM scratch\nSTEP 2/2: COPY a /a\n--> Cache pulled from remote r/app-cache:1a2b\n"
      "--> Using cache 1a2b\n--> 1a2b\n"));
  fake_.answers.push_back(testing::succeeded("STEP 2/2: COPY a /a\n--> Using cache 1a2b\n"));
  spec_.cache_repository = "r/app-cache";
  spec_.build_timeout = std::chrono::minutes(7);
  auto r = build();
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->ok);
  EXPECT_EQ(r->cache_hits, 2);
  EXPECT_EQ(r->cache_pulled, 1);
  EXPECT_EQ(r->cache_warning, "");
  ASSERT_EQ(fake_.calls.size(), 2u);
  EXPECT_EQ(fake_.calls[0].argv, buildah_build_argv(spec_, "linux/amd64"));
  EXPECT_EQ(fake_.calls[1].argv, buildah_build_argv(spec_, "linux/arm64"));
  for (const auto& call : fake_.calls) {
    EXPECT_EQ(call.cwd, spec_.context_dir);
    EXPECT_GT(call.timeout, std::chrono::minutes(6));  // what is left of the 7 minutes
    EXPECT_LE(call.timeout, std::chrono::minutes(7));
  }
  EXPECT_TRUE(std::filesystem::is_directory(spec_.workdir + "/tmp"));
}

TEST_F(BuildahBuild, CacheThatCannotBeWrittenIsDroppedNotFatal) {
  fake_.answers.push_back(failed(125, "Error: failed pushing cache to {{{\"r\" \"app-cache\"} \"e9ad\"}}: "
                                      "requested access to the resource is denied\n"));
  spec_.cache_repository = "r/app-cache";
  auto r = build();
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->ok) << r->reason;
  EXPECT_NE(r->cache_warning.find("r/app-cache could not be written"), std::string::npos) << r->cache_warning;
  EXPECT_NE(r->cache_warning.find("denied"), std::string::npos) << r->cache_warning;
  // amd64 with the cache, amd64 again without, arm64 without.
  ASSERT_EQ(fake_.calls.size(), 3u);
  auto without = spec_;
  without.cache_repository.clear();
  EXPECT_EQ(fake_.calls[0].argv, buildah_build_argv(spec_, "linux/amd64"));
  EXPECT_EQ(fake_.calls[1].argv, buildah_build_argv(without, "linux/amd64"));
  EXPECT_EQ(fake_.calls[2].argv, buildah_build_argv(without, "linux/arm64"));
}

TEST_F(BuildahBuild, FailedBuildGivesTheErrorLines) {
  fake_.answers.push_back(failed(125, "STEP 2/2: COPY missing.txt /x\nError: building at STEP \"COPY missing.txt /x\": "
                                      "no such file or directory\n"));
  auto r = build();
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ok);
  EXPECT_NE(r->reason.find("no such file or directory"), std::string::npos) << r->reason;
  EXPECT_NE(r->reason.find("exit code 125"), std::string::npos) << r->reason;
  EXPECT_EQ(r->reason.rfind("[linux/amd64] ", 0), 0u) << r->reason;  // which platform failed
  EXPECT_EQ(fake_.calls.size(), 1u);                                 // the next platform is not tried
}

TEST(BuildahBackend, PushStopsAtFirstFailureAndReportsPushedTags) {
  FakeRunner fake;
  fake.answers.push_back(testing::succeeded());
  fake.answers.push_back(failed(125, "Error: pinging container registry: connection refused"));
  BuildahBackend backend({}, fake.runner());
  auto r = backend.push(spec(), {"1.2.3", "abc", "latest"});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ok());
  EXPECT_EQ(r->pushed, (std::vector<std::string>{"1.2.3"}));
  EXPECT_EQ(r->failed_tag, "abc");
  EXPECT_NE(r->reason.find("connection refused"), std::string::npos);
  ASSERT_EQ(fake.calls.size(), 2u);
  EXPECT_EQ(fake.calls[1].argv, buildah_push_argv(spec(), "abc"));
}

TEST(BuildahBackend, ToolThatCannotStartIsAnError) {
  BuildahBackend backend({}, [](const process::Options&) -> Result<CommandResult> {
    return make_error(Errc::not_found, "buildah: not found");
  });
  const auto dir = conveyor::testing::temp_dir("buildah-unit");
  auto s = spec();
  s.workdir = dir;
  auto r = backend.build(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::not_found);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace conveyor::image_builder
