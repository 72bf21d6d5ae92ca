// The build stage: for each image of the pipeline, build one multi-platform
// image from the run's commit and push it under every tag; verify the index
// in the registry lists every requested platform; report it in CDEvents
// (build.started/finished, artifact.packaged/published) and in the run's
// outputs for later stages:
//
//   {"images": {"<name>": {"repository": "host/path", "digest": "sha256:...",
//               "tags": [...], "platforms": {"linux/amd64": "sha256:...", ...},
//               "artifact": "pkg:oci/<name>@sha256%3A...?repository_url=..."}}}
//
// Plain logic over three interfaces (Source, Backend, Registry): its unit
// tests need neither git, buildah nor a registry.
//
// Failures of the stage (a Dockerfile that fails, a registry that refuses the
// push or is down, a platform missing from the index, a tag template that
// cannot be expanded) end the run as failed with the reason; images already
// pushed and the tags a failed push did push are in the outputs and the
// reason. An Error is an infrastructure failure (a tool that cannot be
// started, a full disk), retried by the stage runtime.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend.hpp"
#include "checkout.hpp"
#include "conveyor/config/config.hpp"
#include "conveyor/events/run.hpp"
#include "conveyor/logging/log.hpp"
#include "conveyor/stage/stage.hpp"
#include "registry.hpp"

namespace conveyor::image_builder {

// One entry of the pipeline's `images` (schemas/conveyor.schema.json, definition image).
struct ImageSpec {
  std::string name;
  std::string context = ".";  // relative to the checkout
  std::string dockerfile;     // relative to the checkout; "" = <context>/Dockerfile
  std::vector<std::string> platforms{"linux/amd64", "linux/arm64"};
  std::string repository;
  std::vector<std::string> tags{"{{sha}}"};
  std::map<std::string, std::string> build_args;
  bool tls_verify = true;
  std::optional<config::SecretRef> registry_auth;  // a containers-auth.json (Docker config.json)
  // Layer cache (`cache: {enabled, repository}`): on by default, in
  // <repository>-cache unless `repository` names another one (completed with
  // the suite's registry like `repository`); same tls-verify and credentials.
  bool cache = true;
  std::string cache_repository;  // "" = <repository>-cache
};

// The cache repository an image's layers go to: "" when its cache is off.
// Errors as parse_repository's.
Result<std::string> cache_repository_of(const ImageSpec& spec, const ImageRepository& repository,
                                        std::string_view default_registry);

// The stage settings as ImageSpecs: {"images": [...]} (stage request
// settings are objects) or the bare `images` array. Errors (invalid_argument)
// name the entry and field.
Result<std::vector<ImageSpec>> parse_images(const nlohmann::json& settings);

struct HandlerOptions {
  std::string work_dir;          // workspaces live here, one per request, removed after use
  std::string default_registry;  // the suite's `registry`, for repositories without a host
  std::string source = "/conveyor/image-builder";  // CloudEvents / CDEvents source
  std::chrono::milliseconds build_timeout{std::chrono::hours(1)};
  std::chrono::milliseconds push_timeout{std::chrono::minutes(15)};
};

// What the app counts (metrics); the default does nothing. Called from the
// worker threads, possibly concurrently.
class Probe {
 public:
  virtual ~Probe() = default;
  virtual void build_started() {}
  virtual void build_failed() {}        // Dockerfile error, failing step, timeout
  virtual void push_failed() {}         // push refused or index not as expected
  virtual void image_published() {}     // pushed and verified
};

class Handler {
 public:
  Handler(HandlerOptions options, Source& source, Backend& backend, Registry& registry, Probe& probe,
          log::Logger logger = log::Logger("image-builder"));

  // The stage handler (stage::Handler).
  Result<stage::StageResult> handle(const events::StageRequest& request, const stage::Publish& publish);

  // Directory of a request's workspace: <work_dir>/<request id made file-safe>.
  std::string workspace_of(const events::StageRequest& request) const;

 private:
  HandlerOptions options_;
  Source& source_;
  Backend& backend_;
  Registry& registry_;
  Probe& probe_;
  log::Logger log_;
};

}  // namespace conveyor::image_builder
