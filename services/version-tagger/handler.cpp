#include "handler.hpp"

#include <time.h>

#include <filesystem>
#include <regex>

#include "conveyor/events/cdevents.hpp"
#include "conveyor/events/cloudevent.hpp"
#include "conveyor/release/semver.hpp"
#include "plan.hpp"

namespace conveyor::version_tagger {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Status = stage::StageResult::Status;

// The changelog section travels in run.outputs, i.e. in every later stage
// request (Kafka's default message limit is 1 MB); longer notes are cut
// there, the file keeps them whole.
constexpr std::size_t kMaxOutputNotes = 64 * 1024;
// GitHub refuses a release body over 125,000 characters (422).
constexpr std::size_t kMaxReleaseBody = 120 * 1024;

Error setting_error(const std::string& key, const std::string& what) {
  return make_error(Errc::invalid_argument, "version." + key + ": " + what);
}

bool starts_with(const std::string& s, std::string_view p) { return s.rfind(p, 0) == 0; }

// A path inside the repository: relative, no "..", not into .git.
bool valid_relative_file(const std::string& f) {
  if (f.empty() || f.front() == '/' || f.back() == '/' || f.find('\0') != std::string::npos) return false;
  bool first = true;
  for (const auto& part : fs::path(f)) {
    if (part == ".." || part == "." || (first && part == ".git")) return false;
    first = false;
  }
  return f.find("//") == std::string::npos;
}

// "Name <email>".
std::optional<Author> parse_author_text(const std::string& text) {
  static const std::regex re("^([^<>]+) <([^<>]+)>$");
  std::smatch m;
  if (!std::regex_match(text, m, re)) return std::nullopt;
  return Author{m[1].str(), m[2].str()};
}

Result<std::vector<std::string>> string_list(const json& value, const std::string& key) {
  if (!value.is_array()) return setting_error(key, "must be a list of strings");
  std::vector<std::string> out;
  for (const auto& item : value) {
    if (!item.is_string() || item.get<std::string>().empty()) return setting_error(key, "must be a list of strings");
    out.push_back(item.get<std::string>());
  }
  return out;
}

// Removes a directory tree when it goes out of scope.
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

std::string workspace_name(const std::string& request_id) {
  std::string name = request_id;
  for (char& c : name) {
    const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!safe) c = '_';
  }
  // Unique per attempt: a redelivery racing a slow first attempt gets its own tree.
  return name + "-" + events::new_uuid().substr(0, 8);
}

}  // namespace

Result<VersionSettings> parse_settings(const json& settings) {
  VersionSettings s;
  if (settings.is_null()) return s;
  if (!settings.is_object()) return make_error(Errc::invalid_argument, "version: settings must be a mapping");
  for (const auto& [key, value] : settings.items()) {
    if (key == "tag-prefix") {
      static const std::regex re("[A-Za-z0-9._/-]*");
      if (!value.is_string() || !std::regex_match(value.get<std::string>(), re)) {
        return setting_error(key, "must be letters, digits, '.', '_', '/' or '-'");
      }
      s.tag_prefix = value.get<std::string>();
    } else if (key == "changelog") {
      if (!value.is_string() || !valid_relative_file(value.get<std::string>())) {
        return setting_error(key, "must be a file path relative to the repository root, without '..'");
      }
      s.changelog = value.get<std::string>();
    } else if (key == "prerelease-branches") {
      auto list = string_list(value, key);
      if (!list) return std::move(list).error();
      s.prerelease_branches = std::move(*list);
    } else if (key == "github-release") {
      if (!value.is_boolean()) return setting_error(key, "must be true or false");
      s.github_release = value.get<bool>();
    } else if (key == "on-no-release") {
      if (!value.is_string() || (value != "stop" && value != "continue")) {
        return setting_error(key, "must be stop or continue");
      }
      s.continue_without_release = value == "continue";
    } else if (key == "author") {
      if (value.is_string()) {
        auto author = parse_author_text(value.get<std::string>());
        if (!author) return setting_error(key, "must be \"Name <email>\" or {name, email}");
        s.author = *author;
      } else if (value.is_object() && value.size() == 2 && value.contains("name") && value.contains("email") &&
                 value["name"].is_string() && value["email"].is_string() &&
                 !value["name"].get<std::string>().empty() && !value["email"].get<std::string>().empty()) {
        s.author = {value["name"].get<std::string>(), value["email"].get<std::string>()};
      } else {
        return setting_error(key, "must be \"Name <email>\" or {name, email}");
      }
    } else if (key == "token") {
      if (!value.is_object() || value.size() != 1 || !(value.contains("env") || value.contains("file")) ||
          !value.begin()->is_string() || value.begin()->get<std::string>().empty()) {
        return setting_error(key, "must be {env: NAME} or {file: /path}");
      }
      config::SecretRef ref;
      (value.contains("env") ? ref.env : ref.file) = value.begin()->get<std::string>();
      s.token = ref;
    } else {
      return setting_error(key, "unknown setting");
    }
  }
  return s;
}

std::string utc_today() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

json version_released(const events::RunContext& run, const std::string& source, const json& outputs, bool prerelease) {
  events::Subject subject;
  subject.id = outputs.at("tag").get<std::string>();
  subject.content = {{"repository", run.repository},
                     {"version", outputs.at("version")},
                     {"tag", outputs.at("tag")},
                     {"previous", outputs.at("previous")},
                     {"releaseType", outputs.at("release-type")},
                     {"commit", outputs.at("commit")},
                     {"branch", run.ref_name},
                     {"prerelease", prerelease}};
  if (outputs.contains("release-url")) subject.content["releaseUrl"] = outputs["release-url"];
  return events::make_cdevent(kVersionReleasedType, source, run, subject);
}

Handler::Handler(HandlerOptions options, Repositories& repositories, Releases* releases, CreatedTagLedger& ledger,
                 Probe& probe, log::Logger logger)
    : options_(std::move(options)),
      repositories_(repositories),
      releases_(releases),
      ledger_(ledger),
      probe_(probe),
      log_(std::move(logger)) {
  if (!options_.today) options_.today = utc_today;
}

Result<stage::StageResult> Handler::handle(const events::StageRequest& request, const stage::Publish& /*publish*/) {
  const events::RunContext& run = request.run;
  stage::StageResult result;
  const std::string where = redact_url(run.clone_url);

  auto fail = [&](const std::string& reason) -> Result<stage::StageResult> {
    probe_.failed();
    log_.warn("version stage failed", {{"run_id", run.run_id}, {"repository", run.repository}, {"reason", reason}});
    result = stage::StageResult{};
    result.status = Status::failed;
    result.reason = to_valid_utf8(reason);
    return result;
  };
  // A git error: the stage fails with it, unless git itself broke locally
  // (then the runtime retries the request).
  auto git_failure = [&](const std::string& step, Error e) -> Result<stage::StageResult> {
    if (e.code == Errc::internal) return make_error(e.code, step + " " + where + ": " + e.message);
    return fail(step + " " + where + ": " + e.message);
  };

  auto settings = parse_settings(request.settings);
  if (!settings) return fail(settings.error().message);
  const std::string& prefix = settings->tag_prefix;
  const bool branch_run = run.trigger == "push" && run.ref_kind == "branch";

  // The outputs without a release: the version as it stands.
  auto current = [&](const std::optional<release::TaggedVersion>& last) {
    const std::string tag = last ? last->tag : "";
    return json{{"version", last ? last->version.to_string() : "0.0.0"},
                {"tag", tag},
                {"previous", tag},
                {"release-type", "none"},
                {"commit", run.sha},
                {"changelog", ""}};
  };
  auto no_release = [&](const std::string& reason, const std::optional<release::TaggedVersion>& last)
      -> Result<stage::StageResult> {
    probe_.no_release();
    result.outputs = current(last);
    result.status = settings->continue_without_release ? Status::succeeded : Status::stopped;
    if (!settings->continue_without_release) result.reason = reason;
    log_.info("no release", {{"run_id", run.run_id},
                             {"repository", run.repository},
                             {"ref", run.ref},
                             {"reason", reason},
                             {"version", result.outputs["version"].get<std::string>()},
                             {"continue", settings->continue_without_release ? "true" : "false"}});
    return result;
  };

  // A run for a version tag builds that version; nothing to ask git.
  if (run.ref_kind == "tag" && starts_with(run.ref_name, prefix)) {
    if (auto v = release::parse_semver(run.ref_name.substr(prefix.size())); v) {
      result.outputs = {{"version", v->to_string()}, {"tag", run.ref_name}, {"previous", ""},
                        {"release-type", "none"},    {"commit", run.sha},    {"changelog", ""}};
      log_.info("version from the tag", {{"run_id", run.run_id}, {"tag", run.ref_name}});
      return result;
    }
  }
  const std::string not_releasing = run.ref_kind == "tag"            ? "no release (tag runs do not release)"
                                    : run.trigger == "pull_request" ? "no release (pull request runs do not release)"
                                                                     : "no release (only branch pushes release)";
  if (!branch_run && !settings->continue_without_release) return no_release(not_releasing, std::nullopt);

  Remote remote{run.clone_url, std::nullopt};
  if (settings->token) {
    auto token = options_.resolve(*settings->token);
    if (!token) return fail("version.token (" + settings->token->describe() + "): " + token.error().message);
    remote.token = std::move(*token);
  }

  Workspace workspace(options_.work_dir + "/" + workspace_name(request.id));
  std::error_code ec;
  fs::create_directories(workspace.dir(), ec);
  if (ec) return make_error(Errc::unavailable, "cannot create workspace " + workspace.dir() + ": " + ec.message());

  auto opened = repositories_.open(remote, workspace.dir());
  if (!opened) return git_failure("open", std::move(opened).error());
  Repository& repo = **opened;
  const std::string branch = branch_run ? run.ref_name : "";
  auto fetched = repo.fetch(branch, run.sha);
  if (!fetched) return git_failure("fetch", std::move(fetched).error());

  const std::string channel = branch_run ? prerelease_channel(run.ref_name, settings->prerelease_branches) : "";
  auto plan = plan_version(repo, run.sha, prefix, channel);
  if (!plan) {
    if (plan.error().code == Errc::invalid_argument) {
      return fail("version of branch " + run.ref_name + " (prerelease '" + channel + "'): " + plan.error().message);
    }
    return git_failure("history of", std::move(plan).error());
  }
  if (!branch_run) return no_release(not_releasing, plan->last);
  if (!plan->next) return no_release("no release", plan->last);

  const std::string version = plan->next->to_string();
  const std::string tag = plan->next_tag();
  const std::string previous = plan->last ? plan->last->tag : "";
  const std::string type = release::release_type_name(plan->analysis.type);
  const bool prerelease = !plan->next->prerelease.empty();
  const std::string subject = release_commit_subject(version);
  release::ChangelogContext context = changelog_context(run.clone_url, run.repository);
  context.version = version;
  context.previous_tag = previous;
  context.current_tag = tag;

  // Carries out everything after the push: outputs, GitHub Release, event.
  auto released = [&](const std::string& commit, const std::string& section,
                      bool reused) -> Result<stage::StageResult> {
    result.outputs = {{"version", version},
                      {"tag", tag},
                      {"previous", previous},
                      {"release-type", type},
                      {"commit", commit},
                      {"changelog", truncate_notes(section, kMaxOutputNotes, settings->changelog)}};
    if (settings->github_release) {
      if (releases_ == nullptr) {
        log_.warn("github-release is set but no github.token is configured: no GitHub Release",
                  {{"run_id", run.run_id}, {"tag", tag}});
      } else {
        auto created = releases_->create(
            {run.repository, tag, tag, truncate_notes(section, kMaxReleaseBody, settings->changelog), prerelease});
        if (!created) {
          const Error& e = created.error();
          if (e.code == Errc::unavailable || e.code == Errc::timeout) {
            // Retried by the runtime: the retry finds the pushed tag and only creates the release.
            return make_error(e.code, tag + " was pushed; GitHub Release: " + e.message);
          }
          return fail(tag + " was pushed, but GitHub refused the release: " + e.message);
        }
        if (!created->empty()) result.outputs["release-url"] = *created;
      }
    }
    auto event = version_released(run, options_.source, result.outputs, prerelease);
    event["context"]["id"] = request.id + ":released";  // the same id if the outcome is repeated
    result.cdevents.push_back(std::move(event));
    if (reused) {
      probe_.reused();
    } else {
      probe_.released(type);
    }
    log_.info(reused ? "release already pushed" : "released",
              {{"run_id", run.run_id}, {"repository", run.repository}, {"branch", run.ref_name}, {"tag", tag},
               {"previous", previous}, {"release_type", type}, {"commit", commit},
               {"commits", std::to_string(plan->commits.size())}});
    return result;
  };

  auto existing = repo.find_tag(tag);
  if (!existing) return git_failure("read tag " + tag + " of", std::move(existing).error());
  if (*existing) {
    const TagInfo& t = **existing;
    const bool ours = t.parents == std::vector<std::string>{run.sha} && t.subject == subject;
    if (!ours) {
      return fail("tag " + tag + " already exists on commit " + t.commit + ", which is not a release of " + run.sha +
                  "; not releasing");
    }
    // An earlier attempt pushed this release: the same outputs, nothing pushed.
    context.date = t.date;
    const std::string section = release::render_changelog_section(plan->commits, context);
    if (auto ok = ledger_.record(run.repository, tag, {t.commit, t.object}); !ok) return std::move(ok).error();
    return released(t.commit, section, true);
  }

  if (*fetched && **fetched != run.sha) {
    return fail("branch " + branch + " moved from " + run.sha + " to " + **fetched + "; not releasing");
  }

  context.date = options_.today();
  const std::string section = release::render_changelog_section(plan->commits, context);
  auto file = repo.read_file(run.sha, settings->changelog);
  if (!file) {
    if (file.error().code == Errc::invalid_argument) return fail("version.changelog: " + file.error().message);
    return git_failure("read " + settings->changelog + " of", std::move(file).error());
  }
  const std::string content = prepend_changelog(*file, section);
  auto commit = repo.commit_file(run.sha, settings->changelog, content, subject + "\n", settings->author);
  if (!commit) return git_failure("commit to", std::move(commit).error());
  auto tag_object = repo.create_tag(tag, *commit, "Release " + version + "\n\n" + section, settings->author);
  if (!tag_object) {
    if (tag_object.error().code == Errc::invalid_argument) return fail("tag " + tag + ": " + tag_object.error().message);
    return git_failure("tag in", std::move(tag_object).error());
  }
  // Recorded before the push: GitHub's push webhook for the tag may arrive
  // before the push command returns.
  if (auto ok = ledger_.record(run.repository, tag, {*commit, *tag_object}); !ok) return std::move(ok).error();

  auto pushed = repo.push_release(branch, run.sha, *commit, tag);
  if (!pushed) {
    const Error& e = pushed.error();
    if (e.code == Errc::conflict) {
      auto tip = repo.remote_tip(branch);
      if (tip && !tip->empty() && *tip != run.sha) {
        return fail("branch " + branch + " moved from " + run.sha + " to " + *tip + "; not releasing");
      }
      return fail("push of " + tag + " to " + where + " was rejected: " + e.message + "; not releasing");
    }
    if (e.code == Errc::internal) return make_error(e.code, "push to " + where + ": " + e.message);
    return fail("push of " + tag + " to " + where + " failed: " + e.message);
  }
  return released(*commit, section, false);
}

}  // namespace conveyor::version_tagger
