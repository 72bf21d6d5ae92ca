// The `docker buildx` backend, for hosts with a Docker engine (and a buildx
// builder that can reach the target platforms). It cannot run on conveyor's
// own build machines (no Docker engine there); its argv is unit-tested.
//
// build() runs the build into the builder's cache only (`--output
// type=cacheonly`), so a broken Dockerfile fails before anything is pushed;
// push() repeats it from that cache with every tag and `push=true`: one
// OCI image index with one manifest per platform (`--provenance=false` keeps
// attestation manifests out of the index). buildx pushes all tags at once, so
// a failed push reports no tag as known-pushed.
//
// Layer cache (BuildSpec::cache_repository set): BuildKit's registry cache
// in <cache repository>:buildcache (kBuildxCacheTag), `--cache-from` on both
// steps, `--cache-to ...,mode=max,ignore-error=true` on the build (every
// stage's layers exported; a cache that cannot be written does not fail the
// build). StepResult::cache_hits counts the "CACHED" steps of the progress
// output that is still in the kept stderr tail.
//
// Credentials: DOCKER_CONFIG points at a directory in the workdir whose
// config.json is a copy of the auth file; nothing in argv.
#pragma once

#include <string>
#include <vector>

#include "backend.hpp"
#include "command.hpp"

namespace conveyor::image_builder {

// The tag of the BuildKit cache manifest in the cache repository.
inline constexpr const char* kBuildxCacheTag = "buildcache";

struct BuildxOptions {
  std::string program = "docker";
  std::string builder;  // --builder NAME; "" = the current builder
};

std::vector<std::string> buildx_build_argv(const BuildSpec& spec, const BuildxOptions& options = {});
std::vector<std::string> buildx_push_argv(const BuildSpec& spec, const std::vector<std::string>& tags,
                                          const BuildxOptions& options = {});
// tool_environment() plus DOCKER_CONFIG (when the spec has an auth file) and
// SOURCE_DATE_EPOCH (when it has a timestamp).
process::Environment buildx_environment(const BuildSpec& spec);

class BuildxBackend : public Backend {
 public:
  BuildxBackend(BuildxOptions options, CommandRunner runner);
  std::string name() const override { return "buildx"; }
  Result<StepResult> build(const BuildSpec& spec) override;
  Result<PushResult> push(const BuildSpec& spec, const std::vector<std::string>& tags) override;

 private:
  Result<void> prepare_docker_config(const BuildSpec& spec) const;
  BuildxOptions options_;
  CommandRunner runner_;
};

}  // namespace conveyor::image_builder
