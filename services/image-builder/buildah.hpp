// The buildah backend: daemonless builds as root, `--isolation chroot` (no OCI
// runtime), the vfs storage driver (no overlay or fuse), one image store per
// build under BuildSpec::workdir (buildah's global --root/--runroot flags, so
// no storage.conf has to be generated), and the project's containers.conf /
// storage.conf (deploy/containers/) through CONTAINERS_CONF and
// CONTAINERS_STORAGE_CONF.
//
// Multi-platform: one `build --platform P --manifest M` per platform, in
// order, all adding to the same manifest list; `manifest push --all --format
// oci` pushes it as an OCI image index with every platform's manifest. One
// run per platform (not `--platform a,b`) because of buildah < 1.41's layer
// cache: it does not compare a cached layer's platform, so with `--layers` a
// `FROM scratch` stage of the second platform reuses the first platform's
// image and the list ends up with one entry (containers/podman#18723, fixed by
// containers/buildah#6269). Every platform's image therefore also gets the
// label dev.conveyor.platform=<platform> as its last step: the steps before
// it may be shared between platforms only where their content is identical
// (a RUN's history names its TARGETARCH etc., so platform-specific RUNs never
// are), and the final images always differ.
//
// Layer cache (BuildSpec::cache_repository set): `--layers --cache-from R
// --cache-to R`: every step's layer is looked up in the registry repository R
// under a key of its base image, instruction and content, and pushed there
// after it ran. A cache that cannot be written (registry refuses the
// repository) does not fail the build: that platform is built again without
// the cache, and so is every later one; StepResult::cache_warning says why.
//
// Registry credentials reach buildah as REGISTRY_AUTH_FILE (a file path in
// the environment), never in argv; they serve the cache repository too.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "backend.hpp"
#include "command.hpp"

namespace conveyor::image_builder {

struct BuildahOptions {
  std::string program = "buildah";
  std::string containers_conf;  // CONTAINERS_CONF for every call; "" = leave unset
  std::string storage_conf;     // CONTAINERS_STORAGE_CONF for every call; "" = leave unset
};

// The local name of the manifest list a build makes ("localhost/<image>:conveyor").
std::string buildah_manifest_name(const BuildSpec& spec);

// The label naming the platform of each image (see above).
inline constexpr const char* kPlatformLabel = "dev.conveyor.platform";

// Exact argv of the build of one platform of `spec` ("linux/arm64") and of
// the push of one tag.
std::vector<std::string> buildah_build_argv(const BuildSpec& spec, const std::string& platform,
                                            const BuildahOptions& options = {});
std::vector<std::string> buildah_push_argv(const BuildSpec& spec, const std::string& tag,
                                           const BuildahOptions& options = {});

// The environment of every buildah call: tool_environment() plus TMPDIR (in
// the workdir), CONTAINERS_CONF / CONTAINERS_STORAGE_CONF when configured,
// and REGISTRY_AUTH_FILE when the spec has an auth file.
process::Environment buildah_environment(const BuildSpec& spec, const BuildahOptions& options = {});

class BuildahBackend : public Backend {
 public:
  BuildahBackend(BuildahOptions options, CommandRunner runner);
  std::string name() const override { return "buildah"; }
  Result<StepResult> build(const BuildSpec& spec) override;
  Result<PushResult> push(const BuildSpec& spec, const std::vector<std::string>& tags) override;

 private:
  Result<CommandResult> build_platform(const BuildSpec& spec, const std::string& platform,
                                       std::chrono::milliseconds timeout);
  BuildahOptions options_;
  CommandRunner runner_;
};

}  // namespace conveyor::image_builder
