// The buildah backend: daemonless builds as root, `--isolation chroot` (no OCI
// runtime), the vfs storage driver (no overlay or fuse), one image store per
// build under BuildSpec::workdir (buildah's global --root/--runroot flags, so
// no storage.conf has to be generated), and the project's containers.conf /
// storage.conf (deploy/containers/) through CONTAINERS_CONF and
// CONTAINERS_STORAGE_CONF. Multi-platform: `build --platform a,b --manifest`
// makes one manifest list; `manifest push --all --format oci` pushes it as an
// OCI image index with every platform's manifest.
//
// Registry credentials reach buildah as REGISTRY_AUTH_FILE (a file path in
// the environment), never in argv.
#pragma once

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

// Exact argv of the build and of the push of one tag.
std::vector<std::string> buildah_build_argv(const BuildSpec& spec, const BuildahOptions& options = {});
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
  BuildahOptions options_;
  CommandRunner runner_;
};

}  // namespace conveyor::image_builder
