#include "app.hpp"

#include <prometheus/counter.h>

#include <cstdlib>
#include <filesystem>
#include <memory>

#include "buildah.hpp"
#include "buildx.hpp"
#include "checkout.hpp"
#include "command.hpp"
#include "conveyor/stage/stage.hpp"
#include "handler.hpp"
#include "registry.hpp"

namespace conveyor::image_builder {
namespace {

namespace fs = std::filesystem;

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

std::string default_work_dir() {
  const std::string state = env_or("CONVEYOR_STATE", env_or("HOME", "/root") + "/.local/state/conveyor");
  return env_or("CONVEYOR_IMAGE_BUILDER_DIR", state + "/image-builder");
}

// The directory holding containers.conf and storage.conf, or "".
std::string containers_dir() {
  if (const char* d = std::getenv("CONVEYOR_CONTAINERS_DIR"); d != nullptr && *d != '\0') return d;
  for (const char* candidate : {CONVEYOR_SOURCE_CONTAINERS_DIR, "/etc/conveyor/containers"}) {
    std::error_code ec;
    if (fs::is_regular_file(std::string(candidate) + "/containers.conf", ec)) return candidate;
  }
  return "";
}

class MetricsProbe : public Probe {
 public:
  explicit MetricsProbe(prometheus::Registry& r)
      : builds_(prometheus::BuildCounter()
                    .Name("conveyor_image_builder_builds_total")
                    .Help("Image builds started")
                    .Register(r)
                    .Add({})),
        build_failures_(prometheus::BuildCounter()
                            .Name("conveyor_image_builder_build_failures_total")
                            .Help("Image builds that failed (Dockerfile, failing step, timeout)")
                            .Register(r)
                            .Add({})),
        push_failures_(prometheus::BuildCounter()
                           .Name("conveyor_image_builder_push_failures_total")
                           .Help("Pushes refused, or indexes in the registry not as expected")
                           .Register(r)
                           .Add({})),
        published_(prometheus::BuildCounter()
                       .Name("conveyor_image_builder_images_published_total")
                       .Help("Images pushed under every tag and verified in the registry")
                       .Register(r)
                       .Add({})) {}
  void build_started() override { builds_.Increment(); }
  void build_failed() override { build_failures_.Increment(); }
  void push_failed() override { push_failures_.Increment(); }
  void image_published() override { published_.Increment(); }

 private:
  prometheus::Counter& builds_;
  prometheus::Counter& build_failures_;
  prometheus::Counter& push_failures_;
  prometheus::Counter& published_;
};

}  // namespace

int run(runtime::Service& service) {
  auto& log = service.logger;
  const CommandRunner runner = process_runner();

  const std::string backend_name = env_or("CONVEYOR_IMAGE_BUILDER_BACKEND", "buildah");
  std::unique_ptr<Backend> backend;
  std::vector<std::string> version_argv;
  if (backend_name == "buildah") {
    BuildahOptions options;
    if (const auto dir = containers_dir(); !dir.empty()) {
      options.containers_conf = dir + "/containers.conf";
      options.storage_conf = dir + "/storage.conf";
    } else {
      log.warn("no containers.conf/storage.conf found; buildah uses its defaults plus conveyor's flags");
    }
    version_argv = {options.program, "--version"};
    log.info("buildah configuration", {{"containers_conf", options.containers_conf},
                                       {"storage_conf", options.storage_conf}});
    backend = std::make_unique<BuildahBackend>(options, runner);
  } else if (backend_name == "buildx") {
    BuildxOptions options;
    version_argv = {options.program, "buildx", "version"};
    backend = std::make_unique<BuildxBackend>(options, runner);
  } else {
    log.error("CONVEYOR_IMAGE_BUILDER_BACKEND must be buildah or buildx", {{"value", backend_name}});
    return 2;
  }
  // A missing tool is an operator's problem: say so now, not at the first build.
  process::Options probe_tool;
  probe_tool.argv = version_argv;
  probe_tool.env = tool_environment();
  probe_tool.timeout = std::chrono::seconds(30);
  auto tool = runner(probe_tool);
  if (!tool || !tool->exit.ok()) {
    log.error("image build tool unavailable",
              {{"backend", backend_name}, {"error", tool ? failure_summary(*tool) : tool.error().message}});
    return 1;
  }

  HandlerOptions options;
  options.work_dir = default_work_dir();
  options.default_registry = service.config.registry;
  options.source = "/conveyor/" + service.name;
  std::error_code ec;
  fs::create_directories(options.work_dir, ec);
  if (ec) {
    log.error("cannot create the work directory", {{"dir", options.work_dir}, {"error", ec.message()}});
    return 1;
  }
  log.info("image builder", {{"backend", backend->name()}, {"work_dir", options.work_dir},
                             {"default_registry", options.default_registry}});

  GitSource source(runner);
  ToolRegistry registry(runner);
  MetricsProbe probe(*service.metrics);
  Handler handler(options, source, *backend, registry, probe, log);

  stage::StageServiceOptions stage_options;
  stage_options.stage = "build";
  stage_options.concurrency = 1;  // a build takes the machine's CPU and disk; scale with instances
  return stage::run(service, stage_options,
                    [&handler](const events::StageRequest& request, const stage::Publish& publish) {
                      return handler.handle(request, publish);
                    });
}

}  // namespace conveyor::image_builder
