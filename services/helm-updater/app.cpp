#include "app.hpp"

#include <prometheus/counter.h>

#include <cstdlib>
#include <filesystem>

#include "conveyor/stage/stage.hpp"
#include "conveyor/gitops/git.hpp"
#include "handler.hpp"

namespace conveyor::helm_updater {
namespace {

namespace fs = std::filesystem;

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

// Workspaces: $CONVEYOR_HELM_UPDATER_DIR, else <state>/helm-updater.
std::string default_work_dir() {
  const std::string state = env_or("CONVEYOR_STATE", env_or("HOME", "/root") + "/.local/state/conveyor");
  return env_or("CONVEYOR_HELM_UPDATER_DIR", state + "/helm-updater");
}

prometheus::Counter& counter(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({});
}

class MetricsProbe : public Probe {
 public:
  explicit MetricsProbe(prometheus::Registry& r)
      : commits_(counter(r, "conveyor_helm_updater_commits_total", "GitOps commits pushed")),
        unchanged_(counter(r, "conveyor_helm_updater_unchanged_total", "Requests whose values were already set")),
        push_retries_(counter(r, "conveyor_helm_updater_push_retries_total",
                              "Pushes rejected because the branch moved (re-applied on the new tip)")),
        failures_(counter(r, "conveyor_helm_updater_failures_total", "Helm stages that failed")) {}
  void committed() override { commits_.Increment(); }
  void unchanged() override { unchanged_.Increment(); }
  void push_retried() override { push_retries_.Increment(); }
  void failed() override { failures_.Increment(); }

 private:
  prometheus::Counter& commits_;
  prometheus::Counter& unchanged_;
  prometheus::Counter& push_retries_;
  prometheus::Counter& failures_;
};

}  // namespace

int run(runtime::Service& service) {
  auto& log = service.logger;
  HandlerOptions options;
  options.work_dir = default_work_dir();
  options.source = "/conveyor/" + service.name;
  std::error_code ec;
  fs::create_directories(options.work_dir, ec);
  if (ec) {
    log.error("cannot create the work directory", {{"dir", options.work_dir}, {"error", ec.message()}});
    return 1;
  }
  log.info("helm updater", {{"work_dir", options.work_dir}});

  gitops::GitCli git;
  MetricsProbe probe(*service.metrics);
  Handler handler(options, git, probe, log);

  stage::StageServiceOptions stage_options;
  stage_options.stage = "helm";
  // Short, I/O-bound work; concurrent pushes to one GitOps branch are what
  // the fetch-and-re-apply loop is for.
  stage_options.concurrency = 2;
  return stage::run(service, stage_options,
                    [&handler](const events::StageRequest& request, const stage::Publish& publish) {
                      return handler.handle(request, publish);
                    });
}

}  // namespace conveyor::helm_updater
