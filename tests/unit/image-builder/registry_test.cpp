#include "registry.hpp"

#include <gtest/gtest.h>

#include "fake_runner.hpp"

namespace conveyor::image_builder {
namespace {

// As the Debian docker-registry returned it for a buildah push (2 platforms).
const std::string kOciIndex =
    R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)"
    R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:6c44827920c4d28fa1ad9e9b143710f53d0a42f6c1e1840fec451ffe9572ef66","size":499,"platform":{"architecture":"arm64","os":"linux"}},)"
    R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:60ee1d3e1ca23a4107d94f6bb2b3864cc6318b8ea92237ae50e56b439c96f456","size":499,"platform":{"architecture":"amd64","os":"linux"}}]})";

// A Docker manifest list (buildx with docker media types), with a variant
// and a buildx attestation entry.
const std::string kDockerList = R"({
  "schemaVersion": 2,
  "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
  "manifests": [
    {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": 1, "digest": "sha256:aaaa",
     "platform": {"architecture": "amd64", "os": "linux"}},
    {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": 1, "digest": "sha256:bbbb",
     "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
    {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": 1, "digest": "sha256:cccc",
     "platform": {"architecture": "arm", "os": "linux", "variant": "v7"}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1, "digest": "sha256:dddd",
     "platform": {"architecture": "unknown", "os": "unknown"}}
  ]
})";

TEST(Registry, Sha256DigestOfExactBytes) {
  // The digest the registry reported (Docker-Content-Digest) for kOciIndex.
  EXPECT_EQ(sha256_digest(kOciIndex), "sha256:277f8b187e87f3dfd7b88b9fbeae669148b5b723937148c6f8891bd8f471789d");
  EXPECT_EQ(sha256_digest(""), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Registry, ParsesAnOciIndex) {
  auto index = parse_index(kOciIndex, sha256_digest(kOciIndex));
  ASSERT_TRUE(index.ok()) << index.error().message;
  EXPECT_EQ(index->media_type, "application/vnd.oci.image.index.v1+json");
  ASSERT_EQ(index->manifests.size(), 2u);
  EXPECT_EQ(index->manifests[0].platform, "linux/arm64");
  EXPECT_EQ(index->manifests[1].platform, "linux/amd64");
  auto matched = match_platforms(*index, {"linux/amd64", "linux/arm64"});
  ASSERT_TRUE(matched.ok()) << matched.error().message;
  EXPECT_EQ(matched->at("linux/amd64"), "sha256:60ee1d3e1ca23a4107d94f6bb2b3864cc6318b8ea92237ae50e56b439c96f456");
  EXPECT_EQ(matched->at("linux/arm64"), "sha256:6c44827920c4d28fa1ad9e9b143710f53d0a42f6c1e1840fec451ffe9572ef66");
}

TEST(Registry, MissingPlatformsAreAllNamed) {
  auto index = parse_index(kOciIndex, "sha256:x");
  ASSERT_TRUE(index.ok());
  auto matched = match_platforms(*index, {"linux/amd64", "linux/s390x", "linux/arm/v7"});
  ASSERT_FALSE(matched.ok());
  EXPECT_EQ(matched.error().code, Errc::not_found);
  EXPECT_NE(matched.error().message.find("lacks linux/s390x, linux/arm/v7"), std::string::npos)
      << matched.error().message;
  EXPECT_NE(matched.error().message.find("it lists: linux/arm64, linux/amd64"), std::string::npos);
}

TEST(Registry, VariantsAndDockerLists) {
  auto index = parse_index(kDockerList, "sha256:list");
  ASSERT_TRUE(index.ok()) << index.error().message;
  auto matched = match_platforms(*index, {"linux/amd64", "linux/arm64", "linux/arm/v7"});
  ASSERT_TRUE(matched.ok()) << matched.error().message;
  EXPECT_EQ(matched->at("linux/arm64"), "sha256:bbbb");
  EXPECT_EQ(matched->at("linux/arm/v7"), "sha256:cccc");
  EXPECT_FALSE(match_platforms(*index, {"linux/arm/v6"}).ok());
  EXPECT_TRUE(platform_matches("linux/arm64/v8", "linux/arm64"));
  EXPECT_TRUE(platform_matches("linux/arm", "linux/arm/v7"));
  EXPECT_FALSE(platform_matches("linux/amd64", "windows/amd64"));
}

TEST(Registry, SingleManifestIsNotAnIndex) {
  const std::string manifest =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]})";
  auto index = parse_index(manifest, "sha256:x");
  ASSERT_FALSE(index.ok());
  EXPECT_NE(index.error().message.find("single-platform"), std::string::npos);
  EXPECT_FALSE(parse_index("not json", "sha256:x").ok());
  EXPECT_FALSE(parse_index(R"({"manifests":[{"platform":{}}]})", "sha256:x").ok());
}

TEST(Registry, RepositorySplitting) {
  auto r = parse_repository("127.0.0.1:15000/conveyor-it/app", "");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->host, "127.0.0.1:15000");
  EXPECT_EQ(r->path, "conveyor-it/app");
  EXPECT_EQ(r->full(), "127.0.0.1:15000/conveyor-it/app");
  r = parse_repository("registry.example.com/imprun/imprun-server", "other:5000");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->host, "registry.example.com");
  r = parse_repository("team/app", "registry.local:5000");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->full(), "registry.local:5000/team/app");
  r = parse_repository("localhost/app", "");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->host, "localhost");
  EXPECT_TRUE(parse_repository("a/b__c/d.e-f--g", "r.io").ok());

  auto no_host = parse_repository("team/app", "");
  ASSERT_FALSE(no_host.ok());
  EXPECT_NE(no_host.error().message.find("registry"), std::string::npos);
  EXPECT_FALSE(parse_repository("r.io/Team/app", "").ok());
  EXPECT_FALSE(parse_repository("r.io/", "").ok());
  EXPECT_FALSE(parse_repository("r.io/a//b", "").ok());
  EXPECT_FALSE(parse_repository("r.io/a-/b", "").ok());
  EXPECT_FALSE(parse_repository("r.io/a._b", "").ok());
  EXPECT_FALSE(parse_repository("r.io:port/a", "").ok());
}

TEST(Registry, SkopeoArgvAndAuthByEnvironment) {
  testing::FakeRunner fake;
  fake.answers.push_back(testing::succeeded(kOciIndex));
  SkopeoRegistry skopeo(fake.runner());
  const ImageRepository repo{"registry.example.com", "team/app"};
  auto index = skopeo.fetch_index(repo, "1.2.3", RegistryAccess{true, "/run/secrets/auth.json"});
  ASSERT_TRUE(index.ok()) << index.error().message;
  EXPECT_EQ(index->digest, "sha256:277f8b187e87f3dfd7b88b9fbeae669148b5b723937148c6f8891bd8f471789d");
  ASSERT_EQ(fake.calls.size(), 1u);
  EXPECT_EQ(fake.calls[0].argv, (std::vector<std::string>{"skopeo", "inspect", "--raw", "--tls-verify=true",
                                                          "docker://registry.example.com/team/app:1.2.3"}));
  EXPECT_EQ(fake.calls[0].env.at("REGISTRY_AUTH_FILE"), "/run/secrets/auth.json");

  fake.answers.push_back(testing::failed(1, "time=x level=fatal msg=\"Error parsing image name: reading manifest "
                                            "1.2.4 in registry.example.com/team/app: manifest unknown\""));
  auto missing = skopeo.fetch_index(repo, "1.2.4", RegistryAccess{false, ""});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::not_found);
  EXPECT_EQ(fake.calls[1].argv[3], "--tls-verify=false");
  EXPECT_FALSE(fake.calls[1].env.count("REGISTRY_AUTH_FILE"));
  fake.answers.push_back(testing::failed(1, "connection refused"));
  auto down = skopeo.fetch_index(repo, "1.2.4", RegistryAccess{});
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().code, Errc::unavailable);
}

TEST(Registry, ToolRegistryUsesSkopeoForVerifiedOrAuthenticatedRegistries) {
  testing::FakeRunner fake;
  fake.answers.push_back(testing::succeeded(kOciIndex));
  fake.answers.push_back(testing::succeeded(kOciIndex));
  ToolRegistry registry(fake.runner());
  // Port 1 on loopback: nothing answers, so plain http falls back to skopeo.
  const ImageRepository closed{"127.0.0.1:1", "team/app"};
  ASSERT_TRUE(registry.fetch_index(closed, "x", RegistryAccess{false, ""}).ok());
  ASSERT_TRUE(registry.fetch_index(closed, "x", RegistryAccess{true, ""}).ok());
  EXPECT_EQ(fake.calls.size(), 2u);
}

}  // namespace
}  // namespace conveyor::image_builder
