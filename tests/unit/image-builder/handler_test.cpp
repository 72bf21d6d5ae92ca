#include "handler.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "conveyor/events/cdevents.hpp"
#include "schema_validation.hpp"
#include "service_process.hpp"  // temp_dir, write_file

namespace conveyor::image_builder {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
const std::string kSha = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";
const std::string kRunId = "5f0c3b9e-4a7d-4e59-9a57-2f9f7a1a0c11";

// Writes a small repository into the checkout directory.
struct FakeSource : Source {
  CheckoutResult answer{true, "", 1700000000};
  std::map<std::string, std::string> files{{"Dockerfile", "FROM scratch\nCOPY hello.txt /\n"},
                                           {"hello.txt", "hello\n"},
                                           {"server/Dockerfile", "FROM scratch\n"}};
  int calls = 0;
  std::string last_dir;
  Result<CheckoutResult> checkout(const events::RunContext&, const std::string& dir) override {
    ++calls;
    last_dir = dir;
    for (const auto& [path, text] : files) {
      fs::create_directories(fs::path(dir / fs::path(path)).parent_path());
      conveyor::testing::write_file(dir + "/" + path, text);
    }
    return answer;
  }
};

struct FakeBackend : Backend {
  std::vector<BuildSpec> builds;
  std::vector<std::vector<std::string>> pushes;
  StepResult build_answer;
  std::optional<PushResult> push_answer;  // default: all tags pushed
  std::optional<Error> build_error;
  std::string auth_file_content;          // what the auth file held during the build
  std::string name() const override { return "fake"; }
  Result<StepResult> build(const BuildSpec& spec) override {
    builds.push_back(spec);
    if (!spec.auth_file.empty() && fs::exists(spec.auth_file)) {
      auth_file_content = conveyor::testing::read_file(spec.auth_file);
      struct stat st {};
      ::stat(spec.auth_file.c_str(), &st);
      auth_mode = st.st_mode & 0777;
    }
    if (build_error) return *build_error;
    return build_answer;
  }
  Result<PushResult> push(const BuildSpec&, const std::vector<std::string>& tags) override {
    pushes.push_back(tags);
    if (push_answer) return *push_answer;
    return PushResult{tags, "", ""};
  }
  unsigned auth_mode = 0;
};

ImageIndex index_of(const std::string& digest, std::vector<std::string> platforms) {
  ImageIndex index;
  index.digest = digest;
  index.media_type = "application/vnd.oci.image.index.v1+json";
  int n = 0;
  for (const auto& p : platforms) {
    index.manifests.push_back({p, "sha256:" + std::string(63, 'a') + std::to_string(n++), ""});
  }
  return index;
}

struct FakeRegistry : Registry {
  std::map<std::string, Result<ImageIndex>> by_tag;  // "<repo>:<tag>"
  std::vector<std::pair<std::string, RegistryAccess>> reads;
  Result<ImageIndex> fetch_index(const ImageRepository& repository, const std::string& tag,
                                 const RegistryAccess& access) override {
    reads.emplace_back(repository.full() + ":" + tag, access);
    auto it = by_tag.find(repository.full() + ":" + tag);
    if (it != by_tag.end()) return it->second;
    return index_of("sha256:" + std::string(64, 'd'), {"linux/amd64", "linux/arm64"});
  }
};

struct CountingProbe : Probe {
  int started = 0, build_failures = 0, push_failures = 0, published = 0;
  void build_started() override { ++started; }
  void build_failed() override { ++build_failures; }
  void push_failed() override { ++push_failures; }
  void image_published() override { ++published; }
};

class HandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = conveyor::testing::temp_dir("image-builder-unit");
    HandlerOptions options;
    options.work_dir = work_;
    options.default_registry = "registry.local:5000";
    handler_ = std::make_unique<Handler>(options, source_, backend_, registry_, probe_);
    request_.id = kRunId + ":build";
    request_.stage = "build";
    request_.run.run_id = kRunId;
    request_.run.pipeline = "hello";
    request_.run.repository = "owner/repo";
    request_.run.clone_url = "https://user:token@github.com/owner/repo.git";
    request_.run.trigger = "push";
    request_.run.ref = "refs/heads/main";
    request_.run.ref_kind = "branch";
    request_.run.ref_name = "main";
    request_.run.sha = kSha;
    request_.run.outputs = {{"test", json::object()}, {"version", {{"version", "1.2.3"}, {"tag", "v1.2.3"}}}};
    request_.settings["images"] = json::array({{{"name", "app"},
                                      {"repository", "127.0.0.1:15000/team/app"},
                                      {"tags", {"{{version}}", "{{short-sha}}", "latest"}},
                                      {"build-args", {{"GREETING", "hi"}}},
                                      {"tls-verify", false}}});
  }
  void TearDown() override { fs::remove_all(work_); }

  Result<stage::StageResult> handle() {
    published_.clear();
    return handler_->handle(request_, [this](const json& e) -> Result<void> {
      published_.push_back(e);
      return {};
    });
  }

  static void expect_valid(const json& event, const std::string& schema) {
    const auto dir = conveyor::testing::shared_dir() + "/cdevents-v0.5.1/schemas";
    const auto errors = conveyor::testing::validate_file(dir + "/" + schema, event);
    EXPECT_TRUE(errors.empty()) << schema << ": " << ::testing::PrintToString(errors) << "\n" << event.dump(2);
  }

  std::string work_;
  FakeSource source_;
  FakeBackend backend_;
  FakeRegistry registry_;
  CountingProbe probe_;
  std::unique_ptr<Handler> handler_;
  events::StageRequest request_;
  std::vector<json> published_;
};

TEST_F(HandlerTest, BuildsPushesVerifiesAndReports) {
  backend_.build_answer.cache_hits = 3;
  backend_.build_answer.cache_pulled = 2;
  auto r = handle();
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->status, stage::StageResult::Status::succeeded) << r->reason;

  // What was built.
  ASSERT_EQ(backend_.builds.size(), 1u);
  const auto& b = backend_.builds[0];
  EXPECT_EQ(b.image, "app");
  EXPECT_EQ(b.platforms, (std::vector<std::string>{"linux/amd64", "linux/arm64"}));
  EXPECT_EQ(b.repository, "127.0.0.1:15000/team/app");
  EXPECT_FALSE(b.tls_verify);
  EXPECT_EQ(b.timestamp.value_or(0), 1700000000);
  EXPECT_EQ(b.build_args.at("GREETING"), "hi");
  EXPECT_EQ(b.cache_repository, "127.0.0.1:15000/team/app-cache");  // the layer cache is on by default
  EXPECT_EQ(b.labels.at("org.opencontainers.image.revision"), kSha);
  EXPECT_EQ(b.labels.at("org.opencontainers.image.source"), "https://github.com/owner/repo.git");
  EXPECT_EQ(fs::path(b.dockerfile).filename(), "Dockerfile");
  EXPECT_TRUE(fs::path(b.context_dir).is_absolute());
  EXPECT_EQ(fs::path(b.dockerfile).parent_path(), fs::path(b.context_dir));
  ASSERT_EQ(backend_.pushes.size(), 1u);
  EXPECT_EQ(backend_.pushes[0], (std::vector<std::string>{"1.2.3", "6113728", "latest"}));
  // Every tag was read back.
  ASSERT_EQ(registry_.reads.size(), 3u);
  EXPECT_EQ(registry_.reads[2].first, "127.0.0.1:15000/team/app:latest");
  EXPECT_FALSE(registry_.reads[2].second.tls_verify);

  // Outputs for later stages.
  const std::string digest = "sha256:" + std::string(64, 'd');
  const auto& image = r->outputs["images"]["app"];
  EXPECT_EQ(image["repository"], "127.0.0.1:15000/team/app");
  EXPECT_EQ(image["digest"], digest);
  EXPECT_EQ(image["tags"], json({"1.2.3", "6113728", "latest"}));
  EXPECT_EQ(image["platforms"].size(), 2u);
  EXPECT_TRUE(image["platforms"].contains("linux/arm64"));
  EXPECT_EQ(image["complete"], true);
  EXPECT_EQ(image["artifact"], events::oci_purl("127.0.0.1:15000/team/app", digest));

  // Events: build.started right away; the rest in the result.
  ASSERT_EQ(published_.size(), 1u);
  EXPECT_EQ(published_[0]["context"]["type"], *events::cdevent_type("build.started"));
  EXPECT_EQ(published_[0]["context"]["id"], kRunId + ":build:app:started");
  expect_valid(published_[0], "buildstarted.json");
  ASSERT_EQ(r->cdevents.size(), 3u);
  EXPECT_EQ(r->cdevents[0]["subject"]["content"]["artifactId"], image["artifact"]);
  expect_valid(r->cdevents[0], "buildfinished.json");
  EXPECT_EQ(r->cdevents[1]["subject"]["id"], image["artifact"]);
  expect_valid(r->cdevents[1], "artifactpackaged.json");
  EXPECT_EQ(r->cdevents[2]["subject"]["id"], image["artifact"]);
  EXPECT_EQ(r->cdevents[2]["customData"]["digest"], digest);
  EXPECT_EQ(r->cdevents[2]["customData"]["cache"],
            json({{"enabled", true}, {"repository", "127.0.0.1:15000/team/app-cache"}, {"hits", 3}, {"pulled", 2}}));
  expect_valid(r->cdevents[2], "artifactpublished.json");
  for (const auto& e : r->cdevents) EXPECT_EQ(e["context"]["chainId"], kRunId);
  EXPECT_EQ(probe_.started, 1);
  EXPECT_EQ(probe_.published, 1);

  // The workspace is gone.
  EXPECT_FALSE(fs::exists(handler_->workspace_of(request_)));
}

TEST_F(HandlerTest, SeveralImagesDefaultsAndTheSuiteRegistry) {
  request_.settings["images"] = json::array({{{"name", "a"}, {"repository", "team/a"}},
                                   {{"name", "b"},
                                    {"repository", "127.0.0.1:15000/team/b"},
                                    {"context", "server"},
                                    {"platforms", {"linux/amd64"}},
                                    {"tags", {"{{branch}}"}}}});
  registry_.by_tag.insert_or_assign("127.0.0.1:15000/team/b:main",
                                    index_of("sha256:" + std::string(64, 'b'), {"linux/amd64"}));
  auto r = handle();
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, stage::StageResult::Status::succeeded) << r->reason;
  ASSERT_EQ(backend_.builds.size(), 2u);
  EXPECT_EQ(backend_.builds[0].repository, "registry.local:5000/team/a");
  EXPECT_TRUE(backend_.builds[0].tls_verify);
  EXPECT_EQ(backend_.pushes[0], (std::vector<std::string>{kSha}));  // default tag {{sha}}
  EXPECT_EQ(fs::path(backend_.builds[1].context_dir).filename(), "server");
  EXPECT_EQ(backend_.builds[1].dockerfile, backend_.builds[1].context_dir + "/Dockerfile");
  EXPECT_EQ(r->outputs["images"]["b"]["digest"], "sha256:" + std::string(64, 'b'));
  EXPECT_EQ(r->cdevents.size(), 6u);
  EXPECT_EQ(published_.size(), 2u);
  EXPECT_EQ(source_.calls, 1);  // one checkout for all images
}

TEST_F(HandlerTest, CacheOffCustomRepositoryAndWarnings) {
  request_.settings["images"] = json::array({{{"name", "off"},
                                              {"repository", "team/off"},
                                              {"cache", {{"enabled", false}}}},
                                             {{"name", "own"},
                                              {"repository", "team/own"},
                                              {"cache", {{"repository", "cache.example.com/ci/layers"}}}},
                                             {{"name", "short"}, {"repository", "team/short"},
                                              {"cache", {{"repository", "ci/short-layers"}}}}});
  backend_.build_answer.cache_warning = "layer cache x could not be written, built without it: denied";
  auto r = handle();
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, stage::StageResult::Status::succeeded) << r->reason;
  ASSERT_EQ(backend_.builds.size(), 3u);
  EXPECT_EQ(backend_.builds[0].cache_repository, "");
  EXPECT_EQ(backend_.builds[1].cache_repository, "cache.example.com/ci/layers");
  EXPECT_EQ(backend_.builds[2].cache_repository, "registry.local:5000/ci/short-layers");  // the suite's registry
  ASSERT_EQ(r->cdevents.size(), 9u);
  EXPECT_EQ(r->cdevents[2]["customData"]["cache"], json({{"enabled", false}}));
  EXPECT_EQ(r->cdevents[5]["customData"]["cache"]["warning"], backend_.build_answer.cache_warning);

  // A cache repository that is the image repository itself, or malformed, fails before any work.
  backend_.builds.clear();
  request_.settings["images"] = json::array({{{"name", "a"}, {"repository", "r.io/team/a"},
                                              {"cache", {{"repository", "r.io/team/a"}}}}});
  r = handle();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, stage::StageResult::Status::failed);
  EXPECT_NE(r->reason.find("cache.repository must differ"), std::string::npos) << r->reason;
  request_.settings["images"][0]["cache"]["repository"] = "r.io/Team/A";
  r = handle();
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->reason.find("image a: cache.repository: "), std::string::npos) << r->reason;
  EXPECT_TRUE(backend_.builds.empty());
}

TEST_F(HandlerTest, FailingBuildFailsTheRunWithTheReason) {
  backend_.build_answer.ok = false;
  backend_.build_answer.reason = "Error: building at STEP \"COPY missing.txt /x\": no such file (exit code 125)";
  auto r = handle();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, stage::StageResult::Status::failed);
  EXPECT_NE(r->reason.find("image app: build failed: Error: building at STEP"), std::string::npos) << r->reason;
  EXPECT_TRUE(backend_.pushes.empty());
  ASSERT_EQ(r->cdevents.size(), 1u);
  EXPECT_EQ(r->cdevents[0]["context"]["type"], *events::cdevent_type("build.finished"));
  EXPECT_FALSE(r->cdevents[0]["subject"]["content"].contains("artifactId"));
  EXPECT_EQ(r->cdevents[0]["customData"]["outcome"], "failure");
  expect_valid(r->cdevents[0], "buildfinished.json");
  EXPECT_EQ(probe_.build_failures, 1);
  EXPECT_FALSE(fs::exists(handler_->workspace_of(request_)));
}

TEST_F(HandlerTest, RefusedPushReportsWhichTagsWerePushed) {
  backend_.push_answer = PushResult{{"1.2.3"}, "6113728", "unauthorized: authentication required (exit code 125)"};
  auto r = handle();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, stage::StageResult::Status::failed);
  EXPECT_NE(r->reason.find("push of 127.0.0.1:15000/team/app:6113728 failed: unauthorized"), std::string::npos)
      << r->reason;
  EXPECT_NE(r->reason.find("tags pushed before the failure: 1.2.3"), std::string::npos) << r->reason;
  EXPECT_EQ(r->outputs["images"]["app"]["tags"], json({"1.2.3"}));
  EXPECT_EQ(r->outputs["images"]["app"]["complete"], false);
  ASSERT_EQ(r->cdevents.size(), 1u);
  EXPECT_EQ(r->cdevents[0]["customData"]["pushedTags"], json({"1.2.3"}));
  EXPECT_EQ(probe_.push_failures, 1);
  EXPECT_TRUE(registry_.reads.empty());
}

TEST_F(HandlerTest, NothingPushedIsSaid) {
  backend_.push_answer = PushResult{{}, "1.2.3", "connection refused"};
  auto r = handle();
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->reason.find("no tag was pushed"), std::string::npos) << r->reason;
}

TEST_F(HandlerTest, IndexLackingAPlatformFailsTheRun) {
  registry_.by_tag.insert_or_assign("127.0.0.1:15000/team/app:1.2.3",
                                    index_of("sha256:" + std::string(64, 'e'), {"linux/amd64"}));
  auto r = handle();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, stage::StageResult::Status::failed);
  EXPECT_NE(r->reason.find("lacks linux/arm64"), std::string::npos) << r->reason;
  EXPECT_EQ(r->outputs["images"]["app"]["complete"], false);
}

TEST_F(HandlerTest, TagsNamingDifferentIndexesFailTheRun) {
  registry_.by_tag.insert_or_assign("127.0.0.1:15000/team/app:latest",
                                    index_of("sha256:" + std::string(64, 'f'), {"linux/amd64", "linux/arm64"}));
  auto r = handle();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, stage::StageResult::Status::failed);
  EXPECT_NE(r->reason.find(":latest names sha256:ffff"), std::string::npos) << r->reason;
}

TEST_F(HandlerTest, RegistryDownWhileReadingBackFailsTheRun) {
  registry_.by_tag.insert_or_assign("127.0.0.1:15000/team/app:1.2.3",
                                    Result<ImageIndex>(make_error(Errc::unavailable, "connection refused")));
  auto r = handle();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, stage::StageResult::Status::failed);
  EXPECT_NE(r->reason.find("reading back 127.0.0.1:15000/team/app:1.2.3: connection refused"), std::string::npos)
      << r->reason;
}

TEST_F(HandlerTest, VersionTagWithoutVersionOutputFailsBeforeAnyWork) {
  request_.run.outputs = json::object();
  auto r = handle();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, stage::StageResult::Status::failed);
  EXPECT_NE(r->reason.find("image app: tag template '{{version}}'"), std::string::npos) << r->reason;
  EXPECT_EQ(source_.calls, 0);
  EXPECT_TRUE(published_.empty());
}

TEST_F(HandlerTest, PathsOutsideTheRepositoryAreRefused) {
  request_.settings["images"][0]["dockerfile"] = "../../etc/passwd";
  auto r = handle();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, stage::StageResult::Status::failed);
  EXPECT_NE(r->reason.find("leads outside the repository"), std::string::npos) << r->reason;

}

TEST_F(HandlerTest, SymlinkedContextOutsideIsRefused) {
  struct LinkingSource : FakeSource {
    Result<CheckoutResult> checkout(const events::RunContext& run, const std::string& dir) override {
      auto r = FakeSource::checkout(run, dir);
      fs::create_symlink("/etc", dir + "/link");
      return r;
    }
  } linking;
  HandlerOptions options;
  options.work_dir = work_;
  Handler handler(options, linking, backend_, registry_, probe_);
  request_.settings["images"][0]["context"] = "link";
  auto r = handler.handle(request_, [](const json&) -> Result<void> { return {}; });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, stage::StageResult::Status::failed);
  EXPECT_NE(r->reason.find("context 'link' leads outside the repository"), std::string::npos) << r->reason;
  EXPECT_TRUE(backend_.builds.empty());
}

TEST_F(HandlerTest, MissingDockerfileIsAClearFailure) {
  request_.settings["images"][0]["dockerfile"] = "nope/Dockerfile";
  auto r = handle();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, stage::StageResult::Status::failed);
  EXPECT_NE(r->reason.find("dockerfile 'nope/Dockerfile' is not a file in the commit"), std::string::npos)
      << r->reason;
}

TEST_F(HandlerTest, CheckoutFailureFailsTheRun) {
  source_.answer = CheckoutResult{false, "git fetch: fatal: repository not found (exit code 128)", 0};
  auto r = handle();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, stage::StageResult::Status::failed);
  EXPECT_NE(r->reason.find("checkout of " + kSha + " failed: git fetch: fatal: repository not found"),
            std::string::npos);
  EXPECT_TRUE(backend_.builds.empty());
}

TEST_F(HandlerTest, CredentialsFromTheEnvironmentGoToAPrivateFile) {
  const std::string secret = R"({"auths":{"127.0.0.1:15000":{"auth":"dXNlcjpzM2NyM3Q="}}})";
  ::setenv("IT_IMAGE_BUILDER_AUTH", secret.c_str(), 1);
  request_.settings["images"][0]["registry-auth"] = {{"env", "IT_IMAGE_BUILDER_AUTH"}};
  auto r = handle();
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, stage::StageResult::Status::succeeded) << r->reason;
  EXPECT_EQ(backend_.auth_file_content, secret);
  EXPECT_EQ(backend_.auth_mode, 0600u);
  EXPECT_EQ(registry_.reads[0].second.auth_file, backend_.builds[0].auth_file);
  EXPECT_EQ(r->outputs.dump().find("dXNlcjpzM2NyM3Q"), std::string::npos);
  for (const auto& e : r->cdevents) EXPECT_EQ(e.dump().find("dXNlcjpzM2NyM3Q"), std::string::npos);
  EXPECT_FALSE(fs::exists(backend_.builds[0].auth_file));  // removed with the workspace

  ::unsetenv("IT_IMAGE_BUILDER_AUTH");
  auto missing = handle();
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, stage::StageResult::Status::failed);
  EXPECT_NE(missing->reason.find("IT_IMAGE_BUILDER_AUTH"), std::string::npos) << missing->reason;

  request_.settings["images"][0]["registry-auth"] = {{"file", "/run/secrets/registry.json"}};
  auto from_file = handle();
  ASSERT_TRUE(from_file.ok());
  EXPECT_EQ(backend_.builds.back().auth_file, "/run/secrets/registry.json");
}

TEST_F(HandlerTest, LeftoversOfAKilledAttemptAreCleared) {
  const auto ws = handler_->workspace_of(request_);
  fs::create_directories(ws + "/build-0/storage/root");
  fs::create_directories(ws + "/src");
  conveyor::testing::write_file(ws + "/src/stale.txt", "x");
  auto r = handle();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, stage::StageResult::Status::succeeded);
  EXPECT_FALSE(fs::exists(ws));
  EXPECT_EQ(fs::path(ws).filename(), kRunId + "_build");
}

TEST_F(HandlerTest, ToolFailureIsAnInfrastructureError) {
  backend_.build_error = make_error(Errc::not_found, "buildah: not found");
  auto r = handle();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::not_found);
}

TEST_F(HandlerTest, PublishFailureIsAnError) {
  auto r = handler_->handle(request_, [](const json&) -> Result<void> {
    return make_error(Errc::unavailable, "kafka down");
  });
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(backend_.builds.empty());
}

TEST(ParseImages, DefaultsAndErrors) {
  auto specs = parse_images(json::array({{{"name", "a"}, {"repository", "r.io/a"}}}));
  ASSERT_TRUE(specs.ok());
  EXPECT_EQ(specs->at(0).context, ".");
  EXPECT_EQ(specs->at(0).dockerfile, "");
  EXPECT_EQ(specs->at(0).platforms, (std::vector<std::string>{"linux/amd64", "linux/arm64"}));
  EXPECT_EQ(specs->at(0).tags, (std::vector<std::string>{"{{sha}}"}));
  EXPECT_TRUE(specs->at(0).tls_verify);
  // As stage requests carry it: an object.
  auto wrapped = parse_images({{"images", json::array({{{"name", "a"}, {"repository", "r.io/a"}}})}});
  ASSERT_TRUE(wrapped.ok()) << wrapped.error().message;
  EXPECT_EQ(wrapped->at(0).name, "a");

  auto expect_error = [](const json& settings, const std::string& text) {
    auto r = parse_images(settings);
    ASSERT_FALSE(r.ok()) << settings.dump();
    EXPECT_NE(r.error().message.find(text), std::string::npos) << r.error().message;
  };
  expect_error(json::object(), "non-empty list");
  expect_error({{"images", json::array()}}, "non-empty list");
  expect_error(json::array(), "non-empty list");
  expect_error(json::array({{{"name", "a"}}}), "images[0].repository: is required");
  expect_error(json::array({{{"name", "a"}, {"repository", "r"}, {"bogus", 1}}}), "images[0].bogus: unknown key");
  expect_error(json::array({{{"name", "a"}, {"repository", "r"}, {"platforms", json::array()}}}),
               "images[0].platforms");
  expect_error(json::array({{{"name", "a"}, {"repository", "r"}}, {{"name", "a"}, {"repository", "s"}}}),
               "images[1].name: 'a' is used twice");
  expect_error(json::array({{{"name", "a"}, {"repository", "r"}, {"build-args", {{"X", 1}}}}}),
               "images[0].build-args.X");
  expect_error(json::array({{{"name", "a"}, {"repository", "r"}, {"registry-auth", {{"env", "A"}, {"file", "b"}}}}}),
               "registry-auth");
  EXPECT_TRUE(specs->at(0).cache);
  EXPECT_EQ(specs->at(0).cache_repository, "");
  auto cache = parse_images(json::array(
      {{{"name", "a"}, {"repository", "r.io/a"}, {"cache", {{"enabled", false}, {"repository", "r.io/c"}}}}}));
  ASSERT_TRUE(cache.ok()) << cache.error().message;
  EXPECT_FALSE(cache->at(0).cache);
  EXPECT_EQ(cache->at(0).cache_repository, "r.io/c");
  expect_error(json::array({{{"name", "a"}, {"repository", "r"}, {"cache", true}}}), "images[0].cache: must be");
  expect_error(json::array({{{"name", "a"}, {"repository", "r"}, {"cache", {{"enabled", "yes"}}}}}),
               "images[0].cache.enabled: must be true or false");
  expect_error(json::array({{{"name", "a"}, {"repository", "r"}, {"cache", {{"repository", ""}}}}}),
               "images[0].cache.repository: must be a non-empty string");
  expect_error(json::array({{{"name", "a"}, {"repository", "r"}, {"cache", {{"ttl", "1h"}}}}}),
               "images[0].cache.ttl: unknown key");
}

}  // namespace
}  // namespace conveyor::image_builder
