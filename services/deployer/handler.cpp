#include "handler.hpp"

#include <algorithm>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "conveyor/config/config.hpp"
#include "conveyor/events/cdevents.hpp"
#include "conveyor/events/cloudevent.hpp"
#include "conveyor/values/values.hpp"

namespace conveyor::deployer {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kShortSha = 7;

std::string str(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

std::string short_sha(const std::string& sha) { return sha.substr(0, kShortSha); }

std::string run_version(const events::RunContext& run) {
  const std::string v = str(run.outputs.value("version", json::object()), "version");
  return v.empty() ? short_sha(run.sha) : v;
}

std::string human(std::chrono::milliseconds d) {
  if (d.count() % 1000 != 0) return std::to_string(d.count()) + "ms";
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  return s >= 60 && s % 60 == 0 ? std::to_string(s / 60) + "m" : std::to_string(s) + "s";
}

// Keeps a held lease alive (extend every ttl/3) and releases it on destruction.
class Heartbeat {
 public:
  Heartbeat(store::Locks& locks, store::LockLease lease, std::chrono::milliseconds ttl, const log::Logger& log)
      : locks_(locks), lease_(std::move(lease)) {
    thread_ = std::jthread([this, ttl, &log](std::stop_token stop) {
      std::mutex m;
      std::condition_variable_any cv;
      std::unique_lock lock(m);
      while (!stop.stop_requested()) {
        cv.wait_for(lock, stop, ttl / 3, [] { return false; });
        if (stop.stop_requested()) break;
        if (auto ok = locks_.extend(lease_, ttl); !ok) {
          log.warn("deploy lock heartbeat failed", {{"lock", lease_.name}, {"error", ok.error().message}});
        }
      }
    });
  }
  ~Heartbeat() {
    thread_.request_stop();
    thread_.join();
    (void)locks_.release(lease_);
  }
  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;
  long long token() const { return lease_.token; }

 private:
  store::Locks& locks_;
  store::LockLease lease_;
  std::jthread thread_;
};

// A secret reference as conveyor.yaml writes it ({env: NAME} / {file: PATH}); nullopt for anything else.
std::optional<config::SecretRef> secret_ref(const json& value) {
  if (!value.is_object() || value.size() != 1 || !(value.contains("env") || value.contains("file")) ||
      !value.begin()->is_string()) {
    return std::nullopt;
  }
  config::SecretRef ref;
  (value.contains("env") ? ref.env : ref.file) = value.begin()->get<std::string>();
  return ref;
}

// Resolves secret references among the backend's settings.
Result<json> resolve_secrets(const json& settings) {
  json secrets = json::object();
  for (const auto& [key, value] : settings.items()) {
    const auto ref = secret_ref(value);
    if (!ref) continue;
    auto secret = ref->resolve();
    if (!secret) return make_error(Errc::invalid_argument, key + ": " + secret.error().message);
    secrets[key] = *secret;
  }
  return secrets;
}

// The GitOps token of a run: run.outputs.helm["token-ref"] (helm-updater's
// values.token reference, never the value) resolved in this process; nullopt
// when the helm stage used none. Errors name the reference, not the value.
Result<std::optional<std::string>> gitops_token(const json& helm) {
  if (!helm.is_object() || !helm.contains("token-ref")) return std::optional<std::string>();
  const auto ref = secret_ref(helm["token-ref"]);
  if (!ref) return make_error(Errc::invalid_argument, "run.outputs.helm.token-ref: must be {env: NAME} or {file: PATH}");
  auto token = ref->resolve();
  if (!token) return make_error(Errc::invalid_argument, "GitOps token " + ref->describe() + ": " + token.error().message);
  return std::optional<std::string>(std::move(*token));
}

// Waits `d` unless `stop` is requested first; false when stopped.
bool wait_for(std::chrono::milliseconds d, const std::stop_token& stop) {
  std::mutex m;
  std::condition_variable_any cv;
  std::unique_lock lock(m);
  return !cv.wait_for(lock, stop, d, [] { return false; }) && !stop.stop_requested();
}

}  // namespace

Result<DeploySettings> parse_settings(const json& settings) {
  if (!settings.is_object()) return make_error(Errc::invalid_argument, "deploy: settings must be a mapping");
  DeploySettings s;
  s.environment = str(settings, "environment");
  if (s.environment.empty()) return make_error(Errc::invalid_argument, "deploy.environment: is required");
  if (settings.contains("lock-timeout")) {
    auto d = config::parse_duration(settings["lock-timeout"]);
    if (!d) return make_error(Errc::invalid_argument, "deploy.lock-timeout: " + d.error().message);
    s.lock_timeout = *d;
  }
  for (const char* name : {"compose", "helm", "argocd"}) {
    if (!settings.contains(name)) continue;
    if (!s.backend.empty()) {
      return make_error(Errc::invalid_argument, "deploy: exactly one of compose, helm, argocd (found " + s.backend +
                                                    " and " + name + ")");
    }
    s.backend = name;
    s.backend_settings = settings[name];
  }
  if (s.backend.empty()) return make_error(Errc::invalid_argument, "deploy: one of compose, helm, argocd is required");
  return s;
}

Result<RunImage> run_image(const events::RunContext& run, const std::string& name) {
  const json build = run.outputs.value("build", json::object());
  const json images = build.is_object() ? build.value("images", json::object()) : json::object();
  std::vector<std::string> built;  // names of the images with a digest, by name
  if (images.is_object()) {
    for (const auto& [key, image] : images.items()) {
      if (!str(image, "repository").empty() && !str(image, "digest").empty()) built.push_back(key);
    }
  }
  std::string names;
  for (const auto& n : built) names += (names.empty() ? "" : ", ") + n;
  std::string chosen = name;
  if (chosen.empty()) {
    if (built.empty()) return RunImage{};
    if (built.size() > 1) {
      return make_error(Errc::invalid_argument,
                        "image: the run built " + std::to_string(built.size()) + " images (" + names +
                            "): name the one to deploy");
    }
    chosen = built.front();
  } else if (std::find(built.begin(), built.end(), chosen) == built.end()) {
    return make_error(Errc::invalid_argument, "image: the run built no image " + chosen +
                                                  (names.empty() ? " (none)" : " (built: " + names + ")"));
  }
  const json& image = images[chosen];
  const std::string repository = str(image, "repository");
  const std::string digest = str(image, "digest");
  std::string artifact = str(image, "artifact");
  if (artifact.empty()) artifact = events::oci_purl(repository, digest);
  return RunImage{repository + "@" + digest, artifact};
}

Handler::Handler(HandlerOptions options, BackendFactory backends, store::Locks& locks, DeployState& state,
                 gitops::GitOps& git, log::Logger logger)
    : options_(std::move(options)),
      backends_(std::move(backends)),
      locks_(locks),
      state_(state),
      git_(git),
      log_(std::move(logger)) {}

Result<stage::StageResult> Handler::handle(const events::StageRequest& request, const stage::Publish& /*publish*/,
                                           std::stop_token stop) {
  auto result = stage::is_rollback(request) ? rollback(request, stop) : deploy(request, stop);
  // Draining: whatever the wait turned into, the request is handed back
  // uncommitted (an Error) and redelivered to the next instance.
  if (stop.stop_requested() && (!result || result->status == stage::StageResult::Status::failed)) {
    log_.info("stopped while handling; the request will be redelivered", {{"id", request.id}});
    return make_error(Errc::unavailable, "stopped: the deployer is shutting down (" +
                                             (result ? result->reason : result.error().message) + ")");
  }
  return result;
}

namespace {

stage::StageResult failure(const log::Logger& log, const events::StageRequest& request, const std::string& reason,
                           json outputs = json::object()) {
  log.warn(stage::is_rollback(request) ? "rollback failed" : "deploy failed",
           {{"run_id", request.run.run_id}, {"reason", reason}});
  stage::StageResult result;
  result.status = stage::StageResult::Status::failed;
  result.reason = reason;
  result.outputs = std::move(outputs);
  return result;
}

// Polls for the environment's lock until `timeout`; std::nullopt when it stayed taken.
// A stop request ends the wait like the timeout (the handler then hands the request back).
Result<std::optional<store::LockLease>> acquire(store::Locks& locks, const std::string& environment,
                                                const HandlerOptions& options, std::chrono::milliseconds timeout,
                                                const std::stop_token& stop) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    auto lease = locks.try_acquire("deploy:" + environment, options.owner, options.lock_ttl);
    if (!lease) return std::move(lease).error();
    if (*lease || Clock::now() >= deadline) return *lease;
    if (!wait_for(options.lock_poll, stop)) return *lease;
  }
}

Target target_of(const json& entry, const std::string& environment) {
  Target t;
  t.environment = environment;
  t.repository = str(entry.value("run", json::object()), "repository");
  t.run_id = str(entry, "run_id");
  t.sha = str(entry, "sha");
  t.version = str(entry, "version");
  t.image = str(entry, "image");
  t.settings = entry.value("settings", json::object());
  return t;
}

}  // namespace

Result<stage::StageResult> Handler::deploy(const events::StageRequest& request, const std::stop_token& stop) {
  const events::RunContext& run = request.run;
  auto settings = parse_settings(request.settings);
  if (!settings) return failure(log_, request, settings.error().message);
  const std::string& env = settings->environment;

  auto bad = state_.bad_reason(env, run.sha);
  if (!bad) return std::move(bad).error();
  if (*bad) {
    return failure(log_, request, "commit " + short_sha(run.sha) + " is marked bad in " + env + " (" + **bad +
                                      "): push a new commit to deploy");
  }
  auto backend = backends_(settings->backend);
  if (!backend) return failure(log_, request, "deploy." + settings->backend + ": " + backend.error().message);

  // compose names the image to run (deploy.compose.image) when the run built several; the
  // cluster backends deploy what their chart / Argo CD app names, so the artifact of their
  // events is the only built image, else the pipeline's version.
  const bool compose = settings->backend == "compose";
  auto chosen = run_image(run, compose ? str(settings->backend_settings, "image") : "");
  if (!chosen && compose) return failure(log_, request, "deploy.compose." + chosen.error().message);
  const RunImage image = chosen ? *chosen : RunImage{};
  Target target;
  target.environment = env;
  target.repository = run.repository;
  target.run_id = run.run_id;
  target.sha = run.sha;
  target.version = run_version(run);
  target.image = image.image;
  target.stop = stop;
  target.settings = settings->backend_settings;
  auto secrets = resolve_secrets(target.settings);
  if (!secrets) return failure(log_, request, "deploy." + settings->backend + "." + secrets.error().message);
  target.secrets = std::move(*secrets);

  // helm reads its chart and values from the GitOps commit (else the app repository).
  std::unique_ptr<gitops::Workspace> workspace;
  if (settings->backend == "helm") {
    auto created = gitops::Workspace::create(options_.work_dir, request.id);
    if (!created) return std::move(created).error();
    workspace = std::move(*created);
    // Exactly the commit the helm stage made (or the run's commit), wherever the branch is now.
    const json helm = run.outputs.value("helm", json::object());
    gitops::Remote remote{str(helm, "repository"), str(helm, "branch"), std::nullopt};
    std::string commit = str(helm, "commit");
    if (remote.url.empty()) {
      remote = {run.clone_url, run.ref_name, std::nullopt};
      commit = run.sha;
    } else {
      auto token = gitops_token(helm);
      if (!token) return failure(log_, request, token.error().message);
      remote.token = std::move(*token);
    }
    if (remote.branch.empty()) remote.branch = "main";
    auto checkout = commit.empty() ? git_.clone(remote, workspace->dir() + "/repo")
                                   : git_.checkout(remote, commit, workspace->dir() + "/repo");
    if (!checkout) {
      const std::string what = (commit.empty() ? "clone " : "checkout of " + short_sha(commit) + " from ") +
                               gitops::redact_url(remote.url) + ": " + checkout.error().message;
      if (gitops::permanent(checkout.error())) return failure(log_, request, what);
      return make_error(checkout.error().code, what);
    }
    target.checkout_dir = workspace->dir() + "/repo";
  }

  auto lease = acquire(locks_, env, options_, settings->lock_timeout, stop);
  if (!lease) return std::move(lease).error();
  if (!*lease) {
    return failure(log_, request, "the deploy lock of " + env + " was not free within lock-timeout " +
                                      human(settings->lock_timeout) + ": another deploy holds it");
  }
  Heartbeat heartbeat(locks_, **lease, options_.lock_ttl, log_);
  log_.info("deploying", {{"run_id", run.run_id}, {"environment", env}, {"backend", settings->backend},
                          {"image", target.image}, {"fence", std::to_string(heartbeat.token())}});

  auto snapshot = state_.load(env);
  if (!snapshot) return std::move(snapshot).error();
  auto outcome = (*backend)->deploy(target);
  if (!outcome) return std::move(outcome).error();
  if (!outcome->ok) {
    return failure(log_, request, settings->backend + " deploy of " + target.version + " to " + env + " failed: " +
                                      outcome->reason,
                   {{"environment", env}, {"backend", settings->backend}, {"image", target.image},
                    {"details", outcome->details}});
  }

  // A redelivery of this very deploy keeps the entry it wrote (first, previous).
  const json& current = snapshot->current;
  const bool again = current.is_object() && str(current, "run_id") == run.run_id && !current.contains("restored_from");
  // First = nothing recorded for the environment in the deployer's own state, not the backend's
  // view: a deploy redelivered after the backend deployed but before the state was saved finds
  // its own image there. (No entry also means no rollback target, as service.deployed says.)
  const bool recorded = current.is_object() || !snapshot->history.empty();
  const bool first = again ? current.value("first", false) : !recorded;
  std::string previous = again ? str(current, "previous") : outcome->previous_revision;
  if (!recorded && !target.image.empty() && previous == target.image) previous.clear();  // our own earlier attempt
  if (previous.empty() && !again && current.is_object()) previous = str(current, "revision");
  std::string service = str(outcome->details, "service");
  if (service.empty()) service = run.pipeline;
  const std::string artifact =
      image.artifact.empty() ? "pkg:generic/" + run.pipeline + "@" + target.version : image.artifact;

  json entry = {{"run_id", run.run_id},         {"sha", run.sha},
                {"version", target.version},    {"backend", settings->backend},
                {"settings", target.settings},  {"revision", outcome->revision},
                {"previous", previous},         {"image", target.image},
                {"artifact", artifact},         {"service", service},
                {"first", first},               {"gitops", run.outputs.value("helm", json())},
                {"run", events::to_json(run)},  {"fence", heartbeat.token()},
                {"deployed_at", events::now_rfc3339()}};
  Snapshot next = *snapshot;
  if (!again && current.is_object()) next.history.insert(next.history.begin(), current);
  next.current = entry;
  if (auto saved = state_.save(env, next, heartbeat.token()); !saved) {
    if (saved.error().code == Errc::conflict) {
      return failure(log_, request, "lost the deploy lock of " + env + " while deploying: " + saved.error().message);
    }
    return std::move(saved).error();
  }

  stage::StageResult result;
  result.outputs = {{"environment", env},     {"backend", settings->backend}, {"revision", outcome->revision},
                    {"previous", previous},   {"image", target.image},        {"first", first},
                    {"service", service},     {"artifact", artifact},         {"fence", heartbeat.token()},
                    {"settings", target.settings}, {"details", outcome->details}};
  auto event = first ? events::service_deployed(run, options_.source, service, env, artifact)
                     : events::service_upgraded(run, options_.source, service, env, artifact);
  event["context"]["id"] = request.id + (first ? ":service.deployed" : ":service.upgraded");
  result.cdevents.push_back(std::move(event));
  log_.info(first ? "deployed" : "upgraded", {{"run_id", run.run_id}, {"environment", env},
                                             {"revision", outcome->revision}, {"previous", previous}});
  return result;
}

Result<stage::StageResult> Handler::rollback(const events::StageRequest& request, const std::stop_token& stop) {
  const events::RunContext& run = request.run;
  const std::string env = str(request.settings, "environment");
  if (env.empty()) return failure(log_, request, "rollback: settings.environment is required");
  std::chrono::milliseconds lock_timeout = DeploySettings{}.lock_timeout;
  if (request.settings.contains("lock-timeout")) {
    if (auto d = config::parse_duration(request.settings["lock-timeout"])) lock_timeout = *d;
  }
  const std::string why = str(request.settings, "reason").empty() ? "rollback requested" : str(request.settings, "reason");
  // The failed commit stays refused in this environment, whatever the rollback's fate.
  if (auto ok = state_.mark_bad(env, run.sha, "rolled back by run " + run.run_id + ": " + why, options_.bad_ttl); !ok) {
    return std::move(ok).error();
  }

  auto lease = acquire(locks_, env, options_, lock_timeout, stop);
  if (!lease) return std::move(lease).error();
  if (!*lease) {
    return failure(log_, request, "the deploy lock of " + env + " was not free within lock-timeout " +
                                      human(lock_timeout) + ": another deploy holds it");
  }
  Heartbeat heartbeat(locks_, **lease, options_.lock_ttl, log_);
  auto snapshot = state_.load(env);
  if (!snapshot) return std::move(snapshot).error();

  const json current = snapshot->current;
  Snapshot next = *snapshot;
  json restore;
  if (current.is_object() && str(current, "restored_from") == run.run_id) {
    restore = current;  // a redelivery: this rollback already restored it
  } else if (current.is_object() && str(current, "run_id") == run.run_id) {
    if (next.history.empty()) {
      return failure(log_, request, "no previous deployment in " + env + " to roll back to (run " + run.run_id +
                                        " was the first)");
    }
    restore = next.history.front();
    next.history.erase(next.history.begin());
  } else if (current.is_null()) {
    return failure(log_, request, "nothing was deployed in " + env + ": nothing to roll back");
  } else {
    return failure(log_, request, "run " + run.run_id + " is not what runs in " + env + " (run " +
                                      str(current, "run_id") + ", version " + str(current, "version") +
                                      "): nothing to roll back");
  }

  const std::string backend_name = str(restore, "backend");
  auto backend = backends_(backend_name);
  if (!backend) return failure(log_, request, "rollback with " + backend_name + ": " + backend.error().message);
  Target target = target_of(restore, env);
  target.stop = stop;
  auto secrets = resolve_secrets(target.settings);
  if (!secrets) return failure(log_, request, "deploy." + backend_name + "." + secrets.error().message);
  target.secrets = std::move(*secrets);
  log_.info("rolling back", {{"run_id", run.run_id}, {"environment", env}, {"to_run", target.run_id},
                             {"revision", str(restore, "revision")}});
  auto outcome = (*backend)->rollback(target, str(restore, "revision"));
  if (!outcome) return std::move(outcome).error();
  const std::string failed_revision = restore == current ? str(current, "previous") : str(current, "revision");
  json outputs = {{"environment", env},
                  {"backend", backend_name},
                  {"action", "rollback"},
                  {"revision", str(restore, "revision")},
                  {"previous", failed_revision},
                  {"image", target.image},
                  {"version", target.version},
                  {"restored_run", target.run_id},
                  {"service", str(restore, "service")},
                  {"artifact", str(restore, "artifact")},
                  {"bad_sha", run.sha},
                  {"fence", heartbeat.token()}};
  if (!outcome->ok) {
    return failure(log_, request, "rollback of " + env + " to " + target.version + " failed: " + outcome->reason,
                   outputs);
  }
  json restored = restore;
  restored["restored_from"] = run.run_id;
  if (restore != current) restored["previous"] = str(current, "revision");
  restored["restored_at"] = events::now_rfc3339();
  restored["fence"] = heartbeat.token();
  next.current = restored;
  if (auto saved = state_.save(env, next, heartbeat.token()); !saved) {
    if (saved.error().code == Errc::conflict) {
      return failure(log_, request, "lost the deploy lock of " + env + " while rolling back: " + saved.error().message,
                     outputs);
    }
    return std::move(saved).error();
  }

  std::string revert_failure;
  auto revert = revert_values(request, env, revert_failure);
  if (!revert) return std::move(revert).error();
  outputs["revert"] = *revert;

  stage::StageResult result;
  auto event = events::service_rolledback(run, options_.source, str(restore, "service"), env, str(restore, "artifact"));
  event["context"]["id"] = request.id + ":service.rolledback";
  result.cdevents.push_back(std::move(event));
  if (!revert_failure.empty()) {
    auto failed = failure(log_, request, "rolled back " + env + " to " + target.version +
                                             ", but the GitOps revert failed: " + revert_failure, outputs);
    failed.cdevents = std::move(result.cdevents);
    return failed;
  }
  result.outputs = std::move(outputs);
  log_.info("rolled back", {{"run_id", run.run_id}, {"environment", env}, {"revision", str(restore, "revision")}});
  return result;
}

Result<json> Handler::revert_values(const events::StageRequest& request, const std::string& environment,
                                    std::string& failure_reason) {
  const events::RunContext& run = request.run;
  const json helm = run.outputs.value("helm", json());
  if (!helm.is_object() || helm.value("changed", false) != true) return json{{"changed", false}};
  const std::string file = str(helm, "file");
  const json previous = helm.value("previous", json::object());
  const json values = helm.value("values", json::object());
  gitops::Remote remote{str(helm, "repository"), str(helm, "branch"), std::nullopt};
  if (remote.branch.empty()) remote.branch = "main";
  const std::string where = gitops::redact_url(remote.url) + " " + remote.branch + ":" + file;
  auto git_failure = [&](const std::string& step, Error e) -> Result<json> {
    if (!gitops::permanent(e)) return make_error(e.code, step + " " + where + ": " + e.message);
    failure_reason = step + " " + where + ": " + e.message;
    return json{{"changed", false}, {"error", failure_reason}};
  };
  if (remote.url.empty() || file.empty() || !previous.is_object()) {
    failure_reason = "run.outputs.helm names no repository, file or previous values";
    return json{{"changed", false}, {"error", failure_reason}};
  }

  auto token = gitops_token(helm);
  if (!token) {
    failure_reason = where + ": " + token.error().message;
    return json{{"changed", false}, {"error", failure_reason}};
  }
  remote.token = std::move(*token);

  auto workspace = gitops::Workspace::create(options_.work_dir, request.id);
  if (!workspace) return std::move(workspace).error();
  auto checkout = git_.clone(remote, (*workspace)->dir() + "/repo");
  if (!checkout) return git_failure("clone", std::move(checkout).error());
  gitops::Checkout& repo = **checkout;

  const std::string subject = "revert: chore(deploy): " + run.pipeline + " " + run_version(run) + " to " +
                              environment + " [skip ci]";
  for (int attempt = 1;; ++attempt) {
    auto text = repo.read(file);
    if (!text) return git_failure("read", std::move(text).error());
    // Only keys still at the value this run wrote go back: a newer change stays.
    std::vector<values::Edit> edits;
    std::string body;
    for (const auto& [key, old] : previous.items()) {
      auto now = values::get(*text, key);
      if (!now) {
        failure_reason = where + ": " + now.error().message;
        return json{{"changed", false}, {"error", failure_reason}};
      }
      if (!*now || **now != str(values, key.c_str())) continue;
      const std::string back = old.is_string() ? old.get<std::string>() : "";
      edits.push_back({key, back});
      body += key + ": " + **now + " -> " + back + "\n";
    }
    auto edited = values::set(*text, edits);
    if (!edited) {
      failure_reason = where + ": " + edited.error().message;
      return json{{"changed", false}, {"error", failure_reason}};
    }
    if (!edited->changed()) return json{{"changed", false}, {"commit", repo.head()}};
    if (auto ok = repo.write(file, edited->text); !ok) return git_failure("write", std::move(ok).error());
    auto commit = repo.commit(file, subject + "\n\n" + body + "\nConveyor-Run: " + run.run_id + "\n", options_.author);
    if (!commit) return git_failure("commit", std::move(commit).error());
    auto pushed = repo.push();
    if (pushed) {
      log_.info("values reverted", {{"run_id", run.run_id}, {"repository", remote.url}, {"commit", *commit}});
      return json{{"changed", true}, {"commit", *commit}, {"repository", remote.url}, {"file", file}};
    }
    if (pushed.error().code != Errc::conflict || attempt >= options_.max_push_attempts) {
      return git_failure("push", std::move(pushed).error());
    }
    auto tip = repo.refresh();
    if (!tip) return git_failure("fetch", std::move(tip).error());
  }
}

}  // namespace conveyor::deployer
