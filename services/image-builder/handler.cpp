#include "handler.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>

#include "conveyor/events/cdevents.hpp"
#include "templates.hpp"

namespace conveyor::image_builder {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

Error settings_error(std::size_t index, const std::string& field, const std::string& what) {
  return make_error(Errc::invalid_argument,
                    "images[" + std::to_string(index) + "]" + (field.empty() ? "" : "." + field) + ": " + what);
}

Result<std::vector<std::string>> string_list(const json& j, std::size_t index, const std::string& field) {
  if (!j.is_array() || j.empty()) return settings_error(index, field, "must be a non-empty list of strings");
  std::vector<std::string> out;
  for (const auto& item : j) {
    if (!item.is_string() || item.get<std::string>().empty()) {
      return settings_error(index, field, "must be a non-empty list of strings");
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

// The clone URL without user information (a token in "https://x:token@host/...").
std::string public_url(const std::string& url) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  const auto host_start = scheme + 3;
  const auto path_start = url.find('/', host_start);
  const auto at = url.rfind('@', path_start == std::string::npos ? std::string::npos : path_start);
  if (at == std::string::npos || at < host_start) return url;
  return url.substr(0, host_start) + url.substr(at + 1);
}

// `relative` inside `root` (after resolving symlinks), of the wanted kind.
Result<std::string> resolve_inside(const fs::path& root, const std::string& relative, bool directory,
                                   const std::string& what) {
  if (relative.empty() || fs::path(relative).is_absolute()) {
    return make_error(Errc::invalid_argument, what + " '" + relative + "' must be a path relative to the repository");
  }
  std::error_code ec;
  const fs::path base = fs::canonical(root, ec);
  if (ec) return make_error(Errc::unavailable, "checkout directory: " + ec.message());
  const fs::path path = fs::weakly_canonical(base / relative, ec);
  if (ec) return make_error(Errc::invalid_argument, what + " '" + relative + "': " + ec.message());
  const auto rel = path.lexically_relative(base);
  if (rel.empty() || *rel.begin() == "..") {
    return make_error(Errc::invalid_argument, what + " '" + relative + "' leads outside the repository");
  }
  const bool ok = directory ? fs::is_directory(path, ec) : fs::is_regular_file(path, ec);
  if (!ok) {
    return make_error(Errc::not_found, what + " '" + relative + "' is not " +
                                           (directory ? "a directory" : "a file") + " in the commit");
  }
  return path.string();
}

// Removes and recreates a directory.
Result<void> fresh_dir(const std::string& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (!ec) fs::create_directories(dir, ec);
  if (ec) return make_error(Errc::unavailable, "cannot prepare " + dir + ": " + ec.message());
  return {};
}

// A request's workspace: emptied on entry (a killed attempt may have left
// one behind) and removed on exit.
class Workspace {
 public:
  explicit Workspace(std::string dir) : dir_(std::move(dir)) {}
  ~Workspace() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

// Writes `content` to a new file readable by the owner only.
Result<void> write_private_file(const std::string& path, const std::string& content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(Errc::unavailable, "cannot create " + path);
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n <= 0) {
      ::close(fd);
      return make_error(Errc::unavailable, "cannot write " + path);
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return {};
}

// A failed build.finished: no artifact, the reason in customData.
json build_failed_event(const events::RunContext& run, const std::string& source, const std::string& build_id,
                        const json& details) {
  auto event = events::build_finished(run, source, build_id, "");
  event["context"]["id"] = build_id + ":finished";
  event["customData"] = details;
  event["customDataContentType"] = "application/json";
  return event;
}

// What the layer cache did for a build, for events: {"enabled": false} or
// {"enabled": true, "repository", "hits", "pulled"[, "warning"]}.
json cache_details(const std::string& repository, const StepResult& built) {
  if (repository.empty()) return {{"enabled", false}};
  json out = {
      {"enabled", true}, {"repository", repository}, {"hits", built.cache_hits}, {"pulled", built.cache_pulled}};
  if (!built.cache_warning.empty()) out["warning"] = built.cache_warning;
  return out;
}

std::string list(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

}  // namespace

Result<std::vector<ImageSpec>> parse_images(const nlohmann::json& stage_settings) {
  // Stage requests carry settings as an object ({"images": [...]}); the bare
  // list is accepted too.
  const json& settings = stage_settings.is_object() && stage_settings.contains("images")
                             ? stage_settings["images"]
                             : stage_settings;
  if (!settings.is_array() || settings.empty()) {
    return make_error(Errc::invalid_argument, "images: the build stage needs a non-empty list of images");
  }
  std::vector<ImageSpec> specs;
  for (std::size_t i = 0; i < settings.size(); ++i) {
    const auto& s = settings[i];
    if (!s.is_object()) return settings_error(i, "", "must be an object");
    ImageSpec spec;
    for (const auto& [key, value] : s.items()) {
      if (key == "name" || key == "context" || key == "dockerfile" || key == "repository") {
        if (!value.is_string() || value.get<std::string>().empty()) {
          return settings_error(i, key, "must be a non-empty string");
        }
        const auto text = value.get<std::string>();
        if (key == "name") spec.name = text;
        if (key == "context") spec.context = text;
        if (key == "dockerfile") spec.dockerfile = text;
        if (key == "repository") spec.repository = text;
      } else if (key == "platforms" || key == "tags") {
        auto items = string_list(value, i, key);
        if (!items) return std::move(items).error();
        (key == "platforms" ? spec.platforms : spec.tags) = std::move(*items);
      } else if (key == "build-args") {
        if (!value.is_object()) return settings_error(i, key, "must be a map of strings");
        for (const auto& [k, v] : value.items()) {
          if (!v.is_string()) return settings_error(i, key + "." + k, "must be a string");
          spec.build_args[k] = v.get<std::string>();
        }
      } else if (key == "tls-verify") {
        if (!value.is_boolean()) return settings_error(i, key, "must be true or false");
        spec.tls_verify = value.get<bool>();
      } else if (key == "cache") {
        if (!value.is_object()) return settings_error(i, key, "must be {enabled: true|false, repository: ...}");
        for (const auto& [ck, cv] : value.items()) {
          if (ck == "enabled" && cv.is_boolean()) {
            spec.cache = cv.get<bool>();
          } else if (ck == "repository" && cv.is_string() && !cv.get<std::string>().empty()) {
            spec.cache_repository = cv.get<std::string>();
          } else if (ck == "enabled" || ck == "repository") {
            return settings_error(i, key + "." + ck,
                                  ck == "enabled" ? "must be true or false" : "must be a non-empty string");
          } else {
            return settings_error(i, key + "." + ck, "unknown key");
          }
        }
      } else if (key == "registry-auth") {
        if (!value.is_object() || value.size() != 1 || !(value.contains("env") || value.contains("file")) ||
            !value.begin()->is_string()) {
          return settings_error(i, key, "must be {env: NAME} or {file: /path}");
        }
        config::SecretRef ref;
        (value.contains("env") ? ref.env : ref.file) = value.begin()->get<std::string>();
        spec.registry_auth = ref;
      } else {
        return settings_error(i, key, "unknown key");
      }
    }
    if (spec.name.empty()) return settings_error(i, "name", "is required");
    if (spec.repository.empty()) return settings_error(i, "repository", "is required");
    for (const auto& other : specs) {
      if (other.name == spec.name) return settings_error(i, "name", "'" + spec.name + "' is used twice");
    }
    specs.push_back(std::move(spec));
  }
  return specs;
}

Result<std::string> cache_repository_of(const ImageSpec& spec, const ImageRepository& repository,
                                        std::string_view default_registry) {
  if (!spec.cache) return std::string();
  if (spec.cache_repository.empty()) return repository.full() + "-cache";
  auto cache = parse_repository(spec.cache_repository, default_registry);
  if (!cache) return make_error(cache.error().code, "cache.repository: " + cache.error().message);
  if (cache->full() == repository.full()) {
    return make_error(Errc::invalid_argument, "cache.repository must differ from the image repository");
  }
  return cache->full();
}

Handler::Handler(HandlerOptions options, Source& source, Backend& backend, Registry& registry, Probe& probe,
                 log::Logger logger)
    : options_(std::move(options)),
      source_(source),
      backend_(backend),
      registry_(registry),
      probe_(probe),
      log_(std::move(logger)) {}

std::string Handler::workspace_of(const events::StageRequest& request) const {
  std::string name = request.id;
  for (char& c : name) {
    const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '_' || c == '.';
    if (!safe) c = '_';
  }
  if (name.empty() || name.front() == '.') name = "_" + name;
  return options_.work_dir + "/" + name;
}

Result<stage::StageResult> Handler::handle(const events::StageRequest& request, const stage::Publish& publish) {
  const events::RunContext& run = request.run;
  stage::StageResult result;
  json images = json::object();
  auto fail = [&](const std::string& reason) -> Result<stage::StageResult> {
    log_.warn("build stage failed", {{"run_id", run.run_id}, {"reason", reason}});
    result.status = stage::StageResult::Status::failed;
    result.reason = reason;
    result.outputs = {{"images", images}};
    return result;
  };

  // Everything that can be checked before any work: settings, repositories, tags.
  auto specs = parse_images(request.settings);
  if (!specs) return fail("build settings: " + specs.error().message);
  struct Planned {
    ImageSpec spec;
    ImageRepository repository;
    std::vector<std::string> tags;
    std::string cache_repository;
  };
  std::vector<Planned> plan;
  const auto values = template_values(run);
  for (const auto& spec : *specs) {
    auto repository = parse_repository(spec.repository, options_.default_registry);
    if (!repository) return fail("image " + spec.name + ": " + repository.error().message);
    auto tags = render_tags(spec.tags, values);
    if (!tags) return fail("image " + spec.name + ": " + tags.error().message);
    auto cache = cache_repository_of(spec, *repository, options_.default_registry);
    if (!cache) return fail("image " + spec.name + ": " + cache.error().message);
    plan.push_back({spec, *repository, *tags, *cache});
  }

  Workspace workspace(workspace_of(request));
  const std::string src = workspace.dir() + "/src";
  if (auto ok = fresh_dir(workspace.dir()); !ok) return std::move(ok).error();
  if (auto ok = fresh_dir(src); !ok) return std::move(ok).error();
  auto checkout = source_.checkout(run, src);
  if (!checkout) return std::move(checkout).error();
  if (!checkout->ok) return fail("checkout of " + run.sha + " failed: " + checkout->reason);
  log_.info("checked out", {{"run_id", run.run_id}, {"sha", run.sha}});

  for (std::size_t i = 0; i < plan.size(); ++i) {
    const auto& [spec, repository, tags, cache_repository] = plan[i];
    const std::string build_id = run.run_id + ":build:" + spec.name;
    const std::string what = "image " + spec.name;

    BuildSpec build;
    build.image = spec.name;
    build.workdir = workspace.dir() + "/build-" + std::to_string(i);
    if (auto ok = fresh_dir(build.workdir); !ok) return std::move(ok).error();
    auto context_dir = resolve_inside(src, spec.context, true, "context");
    if (!context_dir) return fail(what + ": " + context_dir.error().message);
    const std::string dockerfile_rel =
        spec.dockerfile.empty() ? (fs::path(spec.context) / "Dockerfile").lexically_normal().string() : spec.dockerfile;
    auto dockerfile = resolve_inside(src, dockerfile_rel, false, "dockerfile");
    if (!dockerfile) return fail(what + ": " + dockerfile.error().message);
    build.context_dir = *context_dir;
    build.dockerfile = *dockerfile;
    build.platforms = spec.platforms;
    build.build_args = spec.build_args;
    build.labels = {{"org.opencontainers.image.revision", run.sha},
                    {"org.opencontainers.image.source", public_url(run.clone_url)}};
    build.timestamp = checkout->commit_time;
    build.repository = repository.full();
    build.tls_verify = spec.tls_verify;
    build.cache_repository = cache_repository;
    build.build_timeout = options_.build_timeout;
    build.push_timeout = options_.push_timeout;
    if (spec.registry_auth) {
      if (!spec.registry_auth->file.empty()) {
        build.auth_file = spec.registry_auth->file;
      } else {
        auto content = spec.registry_auth->resolve();
        if (!content) return fail(what + ": registry credentials: " + content.error().message);
        build.auth_file = build.workdir + "/auth.json";
        if (auto ok = write_private_file(build.auth_file, *content); !ok) return std::move(ok).error();
      }
    }

    auto started = events::build_started(run, options_.source, build_id);
    started["context"]["id"] = build_id + ":started";  // the same id if a redelivery starts it again
    if (auto ok = publish(started); !ok) return std::move(ok).error();
    probe_.build_started();
    log_.info("build started", {{"run_id", run.run_id},
                                {"image", spec.name},
                                {"backend", backend_.name()},
                                {"platforms", list(spec.platforms)},
                                {"cache", cache_repository.empty() ? "off" : cache_repository}});
    const auto build_start = std::chrono::steady_clock::now();
    auto built = backend_.build(build);
    if (!built) return std::move(built).error();
    const auto build_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                                build_start).count();
    const json cache = cache_details(cache_repository, *built);
    log_.info("build finished", {{"run_id", run.run_id},
                                 {"image", spec.name},
                                 {"ok", built->ok ? "true" : "false"},
                                 {"build_ms", std::to_string(build_ms)},
                                 {"cache_hits", std::to_string(built->cache_hits)},
                                 {"cache_pulled", std::to_string(built->cache_pulled)}});
    if (!built->cache_warning.empty()) {
      log_.warn("layer cache not used",
                {{"run_id", run.run_id}, {"image", spec.name}, {"reason", built->cache_warning}});
    }
    if (!built->ok) {
      probe_.build_failed();
      const std::string reason = what + ": build failed: " + built->reason;
      result.cdevents.push_back(build_failed_event(
          run, options_.source, build_id,
          {{"image", spec.name}, {"outcome", "failure"}, {"reason", reason}, {"cache", cache}}));
      return fail(reason);
    }

    log_.info("pushing", {{"run_id", run.run_id}, {"image", spec.name}, {"repository", build.repository},
                          {"tags", list(tags)}});
    auto pushed = backend_.push(build, tags);
    if (!pushed) return std::move(pushed).error();
    if (!pushed->ok()) {
      probe_.push_failed();
      const std::string pushed_tags = pushed->pushed.empty()
                                          ? "; no tag was pushed"
                                          : "; tags pushed before the failure: " + list(pushed->pushed);
      const std::string reason = what + ": push of " + build.repository + ":" + pushed->failed_tag +
                                 " failed: " + pushed->reason + pushed_tags;
      images[spec.name] = {{"repository", build.repository}, {"tags", pushed->pushed}, {"complete", false}};
      result.cdevents.push_back(build_failed_event(run, options_.source, build_id,
                                                   {{"image", spec.name},
                                                    {"outcome", "failure"},
                                                    {"reason", reason},
                                                    {"pushedTags", pushed->pushed}}));
      return fail(reason);
    }

    // What the registry now holds under every tag: one index, every platform.
    const RegistryAccess access{spec.tls_verify, build.auth_file};
    std::string digest;
    std::map<std::string, std::string> platforms;
    std::string verify_error;
    for (const auto& tag : tags) {
      auto index = registry_.fetch_index(repository, tag, access);
      if (!index) {
        verify_error = "reading back " + build.repository + ":" + tag + ": " + index.error().message;
        break;
      }
      if (digest.empty()) {
        auto matched = match_platforms(*index, spec.platforms);
        if (!matched) {
          verify_error = build.repository + ":" + tag + ": " + matched.error().message;
          break;
        }
        digest = index->digest;
        platforms = std::move(*matched);
      } else if (index->digest != digest) {
        verify_error = build.repository + ":" + tag + " names " + index->digest + ", not " + digest +
                       " (pushed over by someone else?)";
        break;
      }
    }
    if (!verify_error.empty()) {
      probe_.push_failed();
      const std::string reason = what + ": pushed, but the registry does not hold it as expected: " + verify_error;
      images[spec.name] = {{"repository", build.repository}, {"tags", tags}, {"complete", false}};
      result.cdevents.push_back(build_failed_event(
          run, options_.source, build_id,
          {{"image", spec.name}, {"outcome", "failure"}, {"reason", reason}, {"pushedTags", tags}}));
      return fail(reason);
    }

    const std::string artifact = events::oci_purl(build.repository, digest);
    const json details = {{"image", spec.name},     {"outcome", "success"}, {"repository", build.repository},
                          {"digest", digest},       {"tags", tags},         {"platforms", platforms},
                          {"backend", backend_.name()}, {"cache", cache},     {"buildMs", build_ms}};
    auto finished = events::build_finished(run, options_.source, build_id, artifact);
    finished["context"]["id"] = build_id + ":finished";
    finished["customData"] = details;
    finished["customDataContentType"] = "application/json";
    auto packaged = events::artifact_packaged(run, options_.source, artifact);
    packaged["context"]["id"] = build_id + ":packaged";
    auto published = events::artifact_published(run, options_.source, artifact);
    published["context"]["id"] = build_id + ":published";
    published["customData"] = details;
    published["customDataContentType"] = "application/json";
    result.cdevents.push_back(std::move(finished));
    result.cdevents.push_back(std::move(packaged));
    result.cdevents.push_back(std::move(published));
    images[spec.name] = {{"repository", build.repository}, {"digest", digest},     {"tags", tags},
                         {"platforms", platforms},         {"artifact", artifact}, {"complete", true}};
    probe_.image_published();
    log_.info("image published", {{"run_id", run.run_id},
                                  {"image", spec.name},
                                  {"repository", build.repository},
                                  {"digest", digest},
                                  {"tags", list(tags)}});
    // vfs stores are full copies: free the space before the next image.
    std::error_code ec;
    fs::remove_all(build.workdir, ec);
  }
  result.outputs = {{"images", images}};
  return result;
}

}  // namespace conveyor::image_builder
