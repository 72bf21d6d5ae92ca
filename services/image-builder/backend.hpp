// How an image gets built and pushed: one interface, two implementations
// (buildah.hpp: daemonless buildah, the default; buildx.hpp: `docker buildx`
// where a Docker engine exists). The handler only sees this interface.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "conveyor/result/result.hpp"

namespace conveyor::image_builder {

// One multi-platform image to build from a checked-out commit.
struct BuildSpec {
  std::string image;        // the image's name in conveyor.yaml ("imprun-server"), [a-z0-9][a-z0-9._-]*
  std::string workdir;      // scratch directory of this build (image store, temp files), absolute
  std::string context_dir;  // build context, absolute, inside the checkout
  std::string dockerfile;   // Dockerfile, absolute, inside the checkout
  std::vector<std::string> platforms;            // "linux/amd64", "linux/arm64", ...
  std::map<std::string, std::string> build_args;  // --build-arg K=V (not secrets: they land in the image history)
  std::map<std::string, std::string> labels;      // --label K=V (OCI annotations of the commit)
  std::optional<std::int64_t> timestamp;          // created and file times (epoch s): reproducible digests
  std::string repository;   // full repository "host[:port]/path" to push to
  bool tls_verify = true;   // HTTPS with verified certificates to the registry
  std::string auth_file;    // containers-auth.json / Docker config.json with the registry credentials; "" = none
  // Registry layer cache "host[:port]/path" read and written by the build
  // (buildah --layers --cache-from/--cache-to, buildx type=registry); same
  // tls_verify and auth_file as `repository`. "" = no cache.
  std::string cache_repository;
  std::chrono::milliseconds build_timeout{std::chrono::hours(1)};
  std::chrono::milliseconds push_timeout{std::chrono::minutes(15)};
};

// A build step that ran: ok, or why not (the tool's last error lines), and
// what the layer cache did.
struct StepResult {
  bool ok = true;
  std::string reason;
  int cache_hits = 0;         // build steps reused instead of run (local or registry cache)
  int cache_pulled = 0;       // of those, steps whose layer came from the registry cache
  std::string cache_warning;  // the cache could not be written and the build ran without it: why; "" = fine
};

// What a push did: the tags pushed, in order, and the first failure.
struct PushResult {
  std::vector<std::string> pushed;  // tags now in the registry (as far as the backend knows)
  std::string failed_tag;           // the tag that failed ("" when all went)
  std::string reason;               // why it failed
  bool ok() const { return reason.empty(); }
};

class Backend {
 public:
  virtual ~Backend() = default;
  // "buildah" or "buildx", for logs and events.
  virtual std::string name() const = 0;
  // Builds the image for every platform of `spec`. A build that fails (bad
  // Dockerfile, a step exiting non-zero, timeout) is a StepResult with
  // ok = false; an Error means the tool could not be started at all.
  virtual Result<StepResult> build(const BuildSpec& spec) = 0;
  // Pushes what build() made under each tag (one OCI image index plus the
  // manifest of every platform), in order, stopping at the first failure.
  virtual Result<PushResult> push(const BuildSpec& spec, const std::vector<std::string>& tags) = 0;
};

}  // namespace conveyor::image_builder
