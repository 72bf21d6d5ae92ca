// docker buildx cannot run here (no Docker engine): its argv is the contract.
#include "buildx.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "fake_runner.hpp"
#include "service_process.hpp"

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
  s.build_args = {{"NODE_VERSION", "20"}};
  s.labels = {{"org.opencontainers.image.revision", "abc"}};
  s.timestamp = 1700000000;
  s.repository = "registry.example.com/team/app";
  return s;
}

TEST(BuildxArgv, BuildIntoCacheOnly) {
  EXPECT_EQ(buildx_build_argv(spec()),
            (Argv{"docker", "buildx", "build", "--progress", "plain", "--platform", "linux/amd64,linux/arm64",
                  "--file", "/w/src/server/Dockerfile", "--provenance=false", "--build-arg", "NODE_VERSION=20",
                  "--label", "org.opencontainers.image.revision=abc", "--output", "type=cacheonly",
                  "/w/src/server"}));
}

TEST(BuildxArgv, PushAllTagsAtOnce) {
  BuildxOptions o;
  o.builder = "multiarch";
  EXPECT_EQ(buildx_push_argv(spec(), {"1.2.3", "latest"}, o),
            (Argv{"docker", "buildx", "build", "--builder", "multiarch", "--progress", "plain", "--platform",
                  "linux/amd64,linux/arm64", "--file", "/w/src/server/Dockerfile", "--provenance=false",
                  "--build-arg", "NODE_VERSION=20", "--label", "org.opencontainers.image.revision=abc", "--tag",
                  "registry.example.com/team/app:1.2.3", "--tag", "registry.example.com/team/app:latest", "--output",
                  "type=image,push=true,oci-mediatypes=true", "/w/src/server"}));
}

TEST(BuildxArgv, InsecureRegistry) {
  auto s = spec();
  s.tls_verify = false;
  const auto argv = buildx_push_argv(s, {"x"});
  ASSERT_GE(argv.size(), 2u);
  EXPECT_EQ(argv[argv.size() - 2], "type=image,push=true,oci-mediatypes=true,registry.insecure=true");
}

TEST(BuildxArgv, RegistryCacheReadOnBothStepsWrittenByTheBuild) {
  auto s = spec();
  s.cache_repository = "registry.example.com/team/app-cache";
  const std::string ref = "type=registry,ref=registry.example.com/team/app-cache:buildcache";
  EXPECT_EQ(buildx_build_argv(s),
            (Argv{"docker", "buildx", "build", "--progress", "plain", "--platform", "linux/amd64,linux/arm64",
                  "--file", "/w/src/server/Dockerfile", "--provenance=false", "--cache-from", ref, "--build-arg",
                  "NODE_VERSION=20", "--label", "org.opencontainers.image.revision=abc", "--cache-to",
                  ref + ",mode=max,oci-mediatypes=true,ignore-error=true", "--output", "type=cacheonly",
                  "/w/src/server"}));
  const auto push = buildx_push_argv(s, {"x"});
  EXPECT_EQ(std::count(push.begin(), push.end(), "--cache-from"), 1);
  EXPECT_EQ(std::count(push.begin(), push.end(), "--cache-to"), 0);
  // An insecure registry is insecure for the cache too.
  s.tls_verify = false;
  const auto insecure = buildx_build_argv(s);
  EXPECT_EQ(std::count(insecure.begin(), insecure.end(), ref + ",registry.insecure=true"), 1);
  EXPECT_EQ(std::count(insecure.begin(), insecure.end(),
                       ref + ",registry.insecure=true,mode=max,oci-mediatypes=true,ignore-error=true"),
            1);
}

TEST(BuildxEnv, DockerConfigAndSourceDateEpoch) {
  auto s = spec();
  s.auth_file = "/secrets/auth.json";
  const auto env = buildx_environment(s);
  EXPECT_EQ(env.at("DOCKER_CONFIG"), "/w/build-0/docker-config");
  EXPECT_EQ(env.at("SOURCE_DATE_EPOCH"), "1700000000");
  for (const auto& a : buildx_push_argv(s, {"x"})) EXPECT_EQ(a.find("auth"), std::string::npos);
}

TEST(BuildxBackend, CopiesTheAuthFileIntoAPrivateDockerConfig) {
  const auto dir = conveyor::testing::temp_dir("buildx-unit");
  conveyor::testing::write_file(dir + "/auth.json", R"({"auths":{}})");
  testing::FakeRunner fake;
  BuildxBackend backend({}, fake.runner());
  auto s = spec();
  s.workdir = dir;
  s.auth_file = dir + "/auth.json";
  fake.answers.push_back(testing::failed(0, "#4 [2/3] COPY a /a\n#4 CACHED\n#5 [3/3] COPY b /b\n#5 CACHED\n"));
  auto built = backend.build(s);
  ASSERT_TRUE(built.ok());
  EXPECT_TRUE(built->ok);
  EXPECT_EQ(built->cache_hits, 2);  // from the progress output on stderr
  EXPECT_TRUE(std::filesystem::is_regular_file(dir + "/docker-config/config.json"));
  fake.answers.push_back(testing::failed(1, "ERROR: failed to push: unauthorized"));
  auto pushed = backend.push(s, {"a", "b"});
  ASSERT_TRUE(pushed.ok());
  EXPECT_FALSE(pushed->ok());
  EXPECT_TRUE(pushed->pushed.empty());
  EXPECT_EQ(pushed->failed_tag, "a,b");
  ASSERT_EQ(fake.calls.size(), 2u);
  EXPECT_EQ(fake.calls[1].argv, buildx_push_argv(s, {"a", "b"}));
  EXPECT_EQ(fake.calls[1].env.at("DOCKER_CONFIG"), dir + "/docker-config");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace conveyor::image_builder
