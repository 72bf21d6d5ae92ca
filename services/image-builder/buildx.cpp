#include "buildx.hpp"

#include <filesystem>
#include <system_error>

namespace conveyor::image_builder {
namespace {

std::string join(const std::vector<std::string>& items, char sep) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += sep;
    out += item;
  }
  return out;
}

std::string docker_config_dir(const BuildSpec& spec) { return spec.workdir + "/docker-config"; }

// The registry cache's attributes shared by --cache-from and --cache-to.
std::string cache_ref(const BuildSpec& spec) {
  std::string ref = "type=registry,ref=" + spec.cache_repository + ":" + kBuildxCacheTag;
  if (!spec.tls_verify) ref += ",registry.insecure=true";
  return ref;
}

// `docker buildx build` and the flags both steps share.
std::vector<std::string> common_argv(const BuildSpec& spec, const BuildxOptions& options) {
  std::vector<std::string> argv{options.program, "buildx", "build"};
  if (!options.builder.empty()) argv.insert(argv.end(), {"--builder", options.builder});
  argv.insert(argv.end(), {"--progress", "plain", "--platform", join(spec.platforms, ','), "--file", spec.dockerfile,
                           "--provenance=false"});
  if (!spec.cache_repository.empty()) argv.insert(argv.end(), {"--cache-from", cache_ref(spec)});
  for (const auto& [k, v] : spec.build_args) argv.insert(argv.end(), {"--build-arg", k + "=" + v});
  for (const auto& [k, v] : spec.labels) argv.insert(argv.end(), {"--label", k + "=" + v});
  return argv;
}

}  // namespace

std::vector<std::string> buildx_build_argv(const BuildSpec& spec, const BuildxOptions& options) {
  auto argv = common_argv(spec, options);
  if (!spec.cache_repository.empty()) {
    argv.insert(argv.end(), {"--cache-to", cache_ref(spec) + ",mode=max,oci-mediatypes=true,ignore-error=true"});
  }
  argv.insert(argv.end(), {"--output", "type=cacheonly", spec.context_dir});
  return argv;
}

std::vector<std::string> buildx_push_argv(const BuildSpec& spec, const std::vector<std::string>& tags,
                                          const BuildxOptions& options) {
  auto argv = common_argv(spec, options);
  for (const auto& tag : tags) argv.insert(argv.end(), {"--tag", spec.repository + ":" + tag});
  std::string output = "type=image,push=true,oci-mediatypes=true";
  if (!spec.tls_verify) output += ",registry.insecure=true";
  argv.insert(argv.end(), {"--output", output, spec.context_dir});
  return argv;
}

process::Environment buildx_environment(const BuildSpec& spec) {
  auto env = tool_environment();
  if (!spec.auth_file.empty()) env["DOCKER_CONFIG"] = docker_config_dir(spec);
  if (spec.timestamp) env["SOURCE_DATE_EPOCH"] = std::to_string(*spec.timestamp);
  return env;
}

BuildxBackend::BuildxBackend(BuildxOptions options, CommandRunner runner)
    : options_(std::move(options)), runner_(std::move(runner)) {}

Result<void> BuildxBackend::prepare_docker_config(const BuildSpec& spec) const {
  if (spec.auth_file.empty()) return {};
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(docker_config_dir(spec), ec);
  if (!ec) fs::permissions(docker_config_dir(spec), fs::perms::owner_all, fs::perm_options::replace, ec);
  if (!ec) {
    fs::copy_file(spec.auth_file, docker_config_dir(spec) + "/config.json", fs::copy_options::overwrite_existing, ec);
  }
  if (ec) return make_error(Errc::unavailable, "cannot prepare the Docker config for buildx: " + ec.message());
  return {};
}

Result<StepResult> BuildxBackend::build(const BuildSpec& spec) {
  if (auto ok = prepare_docker_config(spec); !ok) return std::move(ok).error();
  process::Options o;
  o.argv = buildx_build_argv(spec, options_);
  o.env = buildx_environment(spec);
  o.cwd = spec.context_dir;
  o.timeout = spec.build_timeout;
  auto ran = runner_(o);
  if (!ran) return make_error(ran.error().code, "docker buildx build: " + ran.error().message);
  StepResult result;
  result.cache_hits = count_lines_with(ran->out, " CACHED") + count_lines_with(ran->err, " CACHED");
  if (!ran->exit.ok()) {
    result.ok = false;
    result.reason = failure_summary(*ran);
  }
  return result;
}

Result<PushResult> BuildxBackend::push(const BuildSpec& spec, const std::vector<std::string>& tags) {
  if (auto ok = prepare_docker_config(spec); !ok) return std::move(ok).error();
  process::Options o;
  o.argv = buildx_push_argv(spec, tags, options_);
  o.env = buildx_environment(spec);
  o.cwd = spec.context_dir;
  o.timeout = spec.push_timeout;
  auto ran = runner_(o);
  if (!ran) return make_error(ran.error().code, "docker buildx build --push: " + ran.error().message);
  PushResult result;
  if (ran->exit.ok()) {
    result.pushed = tags;
  } else {
    result.failed_tag = join(tags, ',');
    result.reason = failure_summary(*ran);
  }
  return result;
}

}  // namespace conveyor::image_builder
