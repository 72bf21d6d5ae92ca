#include "buildah.hpp"

#include <algorithm>
#include <filesystem>
#include <system_error>

namespace conveyor::image_builder {
namespace {

// Global flags: this build's own image store, vfs.
std::vector<std::string> global_argv(const BuildSpec& spec, const BuildahOptions& options) {
  return {options.program, "--root",        spec.workdir + "/storage/root", "--runroot",
          spec.workdir + "/storage/run",    "--storage-driver", "vfs"};
}

std::string tls_flag(bool verify) { return verify ? "--tls-verify=true" : "--tls-verify=false"; }

// buildah's error when a --cache-to push fails ("failed pushing cache to ...").
constexpr const char* kCachePushFailed = "failed pushing cache to";

}  // namespace

std::string buildah_manifest_name(const BuildSpec& spec) { return "localhost/" + spec.image + ":conveyor"; }

std::vector<std::string> buildah_build_argv(const BuildSpec& spec, const std::string& platform,
                                            const BuildahOptions& options) {
  auto argv = global_argv(spec, options);
  argv.insert(argv.end(), {"build", "--isolation", "chroot", "--platform", platform, "--manifest",
                           buildah_manifest_name(spec), "--file", spec.dockerfile, "--format", "oci",
                           tls_flag(spec.tls_verify)});
  if (!spec.cache_repository.empty()) {
    argv.insert(argv.end(),
                {"--layers", "--cache-from", spec.cache_repository, "--cache-to", spec.cache_repository});
  }
  if (spec.timestamp) argv.insert(argv.end(), {"--timestamp", std::to_string(*spec.timestamp)});
  for (const auto& [k, v] : spec.build_args) argv.insert(argv.end(), {"--build-arg", k + "=" + v});
  auto labels = spec.labels;
  labels[kPlatformLabel] = platform;
  for (const auto& [k, v] : labels) argv.insert(argv.end(), {"--label", k + "=" + v});
  argv.push_back(spec.context_dir);
  return argv;
}

std::vector<std::string> buildah_push_argv(const BuildSpec& spec, const std::string& tag,
                                           const BuildahOptions& options) {
  auto argv = global_argv(spec, options);
  argv.insert(argv.end(), {"manifest", "push", "--all", "--format", "oci", "--quiet", tls_flag(spec.tls_verify),
                           buildah_manifest_name(spec), "docker://" + spec.repository + ":" + tag});
  return argv;
}

process::Environment buildah_environment(const BuildSpec& spec, const BuildahOptions& options) {
  auto env = tool_environment();
  env["TMPDIR"] = spec.workdir + "/tmp";
  if (!options.containers_conf.empty()) env["CONTAINERS_CONF"] = options.containers_conf;
  if (!options.storage_conf.empty()) env["CONTAINERS_STORAGE_CONF"] = options.storage_conf;
  if (!spec.auth_file.empty()) env["REGISTRY_AUTH_FILE"] = spec.auth_file;
  return env;
}

BuildahBackend::BuildahBackend(BuildahOptions options, CommandRunner runner)
    : options_(std::move(options)), runner_(std::move(runner)) {}

Result<CommandResult> BuildahBackend::build_platform(const BuildSpec& spec, const std::string& platform,
                                                     std::chrono::milliseconds timeout) {
  process::Options o;
  o.argv = buildah_build_argv(spec, platform, options_);
  o.env = buildah_environment(spec, options_);
  o.cwd = spec.context_dir;
  o.timeout = timeout;
  auto ran = runner_(o);
  if (!ran) return make_error(ran.error().code, "buildah build: " + ran.error().message);
  return ran;
}

Result<StepResult> BuildahBackend::build(const BuildSpec& spec) {
  std::error_code ec;
  std::filesystem::create_directories(spec.workdir + "/tmp", ec);
  if (ec) return make_error(Errc::unavailable, "cannot create " + spec.workdir + "/tmp: " + ec.message());
  using std::chrono::milliseconds;
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + spec.build_timeout;
  auto remaining = [&] {
    return std::max(milliseconds(1), std::chrono::duration_cast<milliseconds>(deadline - clock::now()));
  };
  StepResult result;
  BuildSpec current = spec;  // loses its cache repository when that cannot be written
  for (const auto& platform : spec.platforms) {
    auto ran = build_platform(current, platform, remaining());
    if (!ran) return std::move(ran).error();
    if (!ran->exit.ok() && !current.cache_repository.empty() &&
        count_lines_with(ran->err, kCachePushFailed) > 0) {
      result.cache_warning = "layer cache " + current.cache_repository +
                             " could not be written, built without it: " + failure_summary(*ran, 500);
      current.cache_repository.clear();
      ran = build_platform(current, platform, remaining());
      if (!ran) return std::move(ran).error();
    }
    if (!ran->exit.ok()) {
      result.ok = false;
      result.reason = "[" + platform + "] " + failure_summary(*ran);
      return result;
    }
    result.cache_hits += count_lines_with(ran->out, "--> Using cache ");
    result.cache_pulled += count_lines_with(ran->out, "--> Cache pulled from remote ");
  }
  return result;
}

Result<PushResult> BuildahBackend::push(const BuildSpec& spec, const std::vector<std::string>& tags) {
  PushResult result;
  for (const auto& tag : tags) {
    process::Options o;
    o.argv = buildah_push_argv(spec, tag, options_);
    o.env = buildah_environment(spec, options_);
    o.cwd = spec.workdir;
    o.timeout = spec.push_timeout;
    auto ran = runner_(o);
    if (!ran) return make_error(ran.error().code, "buildah manifest push: " + ran.error().message);
    if (!ran->exit.ok()) {
      result.failed_tag = tag;
      result.reason = failure_summary(*ran);
      return result;
    }
    result.pushed.push_back(tag);
  }
  return result;
}

}  // namespace conveyor::image_builder
