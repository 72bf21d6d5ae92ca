#include "app.hpp"

#include <prometheus/counter.h>

#include <cstdlib>
#include <filesystem>

#include "conveyor/stage/stage.hpp"
#include "conveyor/store/store.hpp"
#include "git_repository.hpp"
#include "github_releases.hpp"
#include "handler.hpp"

namespace conveyor::version_tagger {
namespace {

namespace fs = std::filesystem;

// How long a created tag is remembered: GitHub sends the tag's push webhook
// within seconds; a day covers redeliveries of it too.
constexpr std::chrono::seconds kCreatedTagTtl{24 * 3600};

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

// Workspaces: $CONVEYOR_VERSION_TAGGER_DIR, else <state>/version-tagger.
std::string default_work_dir() {
  const std::string state = env_or("CONVEYOR_STATE", env_or("HOME", "/root") + "/.local/state/conveyor");
  return env_or("CONVEYOR_VERSION_TAGGER_DIR", state + "/version-tagger");
}

prometheus::Counter& counter(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({});
}

class MetricsProbe : public Probe {
 public:
  explicit MetricsProbe(prometheus::Registry& r)
      : releases_(prometheus::BuildCounter()
                      .Name("conveyor_version_tagger_releases_total")
                      .Help("Releases pushed (tag + release commit), by release type")
                      .Register(r)),
        reused_(counter(r, "conveyor_version_tagger_reused_total",
                        "Requests whose release an earlier attempt had already pushed")),
        no_release_(counter(r, "conveyor_version_tagger_no_release_total", "Version stages without a release")),
        failures_(counter(r, "conveyor_version_tagger_failures_total", "Version stages that failed")) {}
  void released(const std::string& release_type) override { releases_.Add({{"type", release_type}}).Increment(); }
  void reused() override { reused_.Increment(); }
  void no_release() override { no_release_.Increment(); }
  void failed() override { failures_.Increment(); }

 private:
  prometheus::Family<prometheus::Counter>& releases_;
  prometheus::Counter& reused_;
  prometheus::Counter& no_release_;
  prometheus::Counter& failures_;
};

class RedisLedger : public CreatedTagLedger {
 public:
  explicit RedisLedger(std::shared_ptr<store::Redis> redis) : tags_(std::move(redis)) {}
  Result<void> record(const std::string& repository, const std::string& tag,
                      const std::vector<std::string>& shas) override {
    return tags_.record(repository, tag, shas, kCreatedTagTtl);
  }

 private:
  store::CreatedTags tags_;
};

}  // namespace

int run(runtime::Service& service) {
  auto& log = service.logger;
  const auto& cfg = service.config;
  HandlerOptions options;
  options.work_dir = default_work_dir();
  options.source = "/conveyor/" + service.name;
  std::error_code ec;
  fs::create_directories(options.work_dir, ec);
  if (ec) {
    log.error("cannot create the work directory", {{"dir", options.work_dir}, {"error", ec.message()}});
    return 1;
  }

  // GitHub Releases need the suite's token; without one, `github-release`
  // is skipped with a warning per run.
  std::unique_ptr<GitHubReleases> releases;
  if (cfg.github.token) {
    auto token = cfg.github.token->resolve();
    if (!token) {
      log.error("cannot resolve github.token", {{"ref", cfg.github.token->describe()}, {"error", token.error().message}});
      return 2;
    }
    webclient::Options client_options;
    client_options.secrets = {*token};
    releases = std::make_unique<GitHubReleases>(cfg.github.api_url, *token, webclient::Client(client_options));
  }
  auto redis = runtime::connect_redis(service, 2);
  if (!redis) {
    log.error("redis", {{"error", redis.error().message}});
    return 1;
  }
  log.info("version tagger", {{"work_dir", options.work_dir},
                              {"github_api", cfg.github.api_url},
                              {"github_releases", releases ? "enabled" : "no github.token"}});

  GitRepositories git;
  RedisLedger ledger(*redis);
  MetricsProbe probe(*service.metrics);
  Handler handler(options, git, releases.get(), ledger, probe, log);

  stage::StageServiceOptions stage_options;
  stage_options.stage = "version";
  // Short, I/O-bound work; one repository's runs stay in order (partition key).
  stage_options.concurrency = 2;
  return stage::run(service, stage_options,
                    [&handler](const events::StageRequest& request, const stage::Publish& publish) {
                      return handler.handle(request, publish);
                    });
}

}  // namespace conveyor::version_tagger
