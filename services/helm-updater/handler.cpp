#include "handler.hpp"

#include <cstdint>
#include <filesystem>
#include <regex>

#include "conveyor/events/cdevents.hpp"
#include "conveyor/events/cloudevent.hpp"
#include "conveyor/values/values.hpp"
#include "templates.hpp"

namespace conveyor::helm_updater {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr std::size_t kShortSha = 7;

Error setting_error(const std::string& key, const std::string& what) {
  return make_error(Errc::invalid_argument, "values." + key + ": " + what);
}

bool valid_branch(const std::string& b) {
  static const std::regex re("[A-Za-z0-9._][A-Za-z0-9._/-]*");
  return std::regex_match(b, re) && b.find("..") == std::string::npos && b.find("//") == std::string::npos &&
         b.back() != '/' && b.back() != '.' && (b.size() < 5 || b.substr(b.size() - 5) != ".lock");
}

bool valid_relative_file(const std::string& f) {
  if (f.empty() || f.front() == '/' || f.find('\0') != std::string::npos) return false;
  for (const auto& part : fs::path(f)) {
    if (part == "..") return false;
  }
  return f.back() != '/';
}

// "Name <email>".
std::optional<Author> parse_author_text(const std::string& text) {
  static const std::regex re("^([^<>]+) <([^<>]+)>$");
  std::smatch m;
  if (!std::regex_match(text, m, re)) return std::nullopt;
  return Author{m[1].str(), m[2].str()};
}

}  // namespace

Result<ValuesSettings> parse_settings(const json& settings) {
  if (!settings.is_object()) return make_error(Errc::invalid_argument, "values: settings must be a mapping");
  ValuesSettings s;
  for (const auto& [key, value] : settings.items()) {
    if (key == "repository") {
      if (!value.is_string() || value.get<std::string>().empty()) return setting_error(key, "must be a clone URL");
      s.repository = value.get<std::string>();
    } else if (key == "branch") {
      if (!value.is_string() || !valid_branch(value.get<std::string>())) {
        return setting_error(key, "must be a branch name (letters, digits, '.', '_', '-', '/')");
      }
      s.branch = value.get<std::string>();
    } else if (key == "file") {
      if (!value.is_string() || !valid_relative_file(value.get<std::string>())) {
        return setting_error(key, "must be a path relative to the repository root, without '..'");
      }
      s.file = value.get<std::string>();
    } else if (key == "set") {
      if (!value.is_object() || value.empty()) return setting_error(key, "must map key paths to value templates");
      for (const auto& [path, tmpl] : value.items()) {
        if (!tmpl.is_string()) return setting_error("set[\"" + path + "\"]", "must be a string");
        if (auto parsed = values::parse_path(path); !parsed) {
          return setting_error("set[\"" + path + "\"]", parsed.error().message);
        }
        s.set.emplace_back(path, tmpl.get<std::string>());
      }
    } else if (key == "author") {
      if (value.is_string()) {
        auto author = parse_author_text(value.get<std::string>());
        if (!author) return setting_error(key, "must be \"Name <email>\" or {name, email}");
        s.author = *author;
      } else if (value.is_object() && value.contains("name") && value.contains("email") &&
                 value["name"].is_string() && value["email"].is_string() && value.size() == 2 &&
                 !value["name"].get<std::string>().empty() && !value["email"].get<std::string>().empty()) {
        s.author = {value["name"].get<std::string>(), value["email"].get<std::string>()};
      } else {
        return setting_error(key, "must be \"Name <email>\" or {name, email}");
      }
    } else if (key == "token") {
      if (!value.is_object() || value.size() != 1 || !(value.contains("env") || value.contains("file")) ||
          !value.begin()->is_string()) {
        return setting_error(key, "must be {env: NAME} or {file: /path}");
      }
      config::SecretRef ref;
      (value.contains("env") ? ref.env : ref.file) = value.begin()->get<std::string>();
      s.token = ref;
    } else if (key == "document") {
      if (!value.is_number_integer() || value.get<std::int64_t>() < 0) {
        return setting_error(key, "must be a document index (0, 1, ...)");
      }
      s.document = static_cast<std::size_t>(value.get<std::int64_t>());
    } else {
      return setting_error(key, "unknown setting");
    }
  }
  if (s.repository.empty()) return setting_error("repository", "is required");
  if (s.file.empty()) return setting_error("file", "is required");
  if (s.set.empty()) return setting_error("set", "is required");
  return s;
}

std::string commit_subject(const events::StageRequest& request) {
  const auto values = template_values(request.run);
  const std::string version = values.version ? *values.version : request.run.sha.substr(0, kShortSha);
  std::string environment = "default";
  for (const auto& entry : request.slip) {
    if (entry.stage == "deploy" && entry.settings.is_object() && entry.settings.contains("environment") &&
        entry.settings["environment"].is_string()) {
      environment = entry.settings["environment"].get<std::string>();
      break;
    }
  }
  return "chore(deploy): " + request.run.pipeline + " " + version + " to " + environment + " [skip ci]";
}

// A secret reference as conveyor.yaml writes it: {"env": NAME} or {"file": PATH}.
static json token_ref(const config::SecretRef& ref) {
  return ref.env.empty() ? json{{"file", ref.file}} : json{{"env", ref.env}};
}

json values_committed(const events::RunContext& run, const std::string& source, const json& outputs) {
  json changes = json::object();
  for (const auto& [key, value] : outputs.at("values").items()) {
    changes[key] = {{"previous", outputs.at("previous").contains(key) ? outputs.at("previous").at(key) : json()},
                    {"value", value}};
  }
  events::Subject subject;
  subject.id = outputs.at("commit").get<std::string>();
  subject.content = {{"repository", outputs.at("repository")},
                     {"branch", outputs.at("branch")},
                     {"file", outputs.at("file")},
                     {"commit", outputs.at("commit")},
                     {"changes", changes}};
  return events::make_cdevent(kValuesCommittedType, source, run, subject);
}

Handler::Handler(HandlerOptions options, GitOps& git, Probe& probe, log::Logger logger)
    : options_(std::move(options)), git_(git), probe_(probe), log_(std::move(logger)) {}

Result<stage::StageResult> Handler::handle(const events::StageRequest& request, const stage::Publish& /*publish*/) {
  const events::RunContext& run = request.run;
  stage::StageResult result;
  auto fail = [&](const std::string& reason) -> Result<stage::StageResult> {
    probe_.failed();
    log_.warn("helm stage failed", {{"run_id", run.run_id}, {"reason", reason}});
    result.status = stage::StageResult::Status::failed;
    result.reason = reason;
    return result;
  };

  // Everything that can be decided before touching git.
  auto settings = parse_settings(request.settings);
  if (!settings) return fail(settings.error().message);
  const TemplateValues template_input = template_values(run);
  std::vector<values::Edit> edits;
  json new_values = json::object();
  for (const auto& [path, tmpl] : settings->set) {
    auto value = render(tmpl, template_input);
    if (!value) return fail("values.set[\"" + path + "\"]: " + value.error().message);
    edits.push_back({path, *value});
    new_values[path] = *value;
  }
  Remote remote{settings->repository, settings->branch, std::nullopt};
  if (settings->token) {
    auto token = settings->token->resolve();
    if (!token) return fail("values.token: " + token.error().message);
    remote.token = *token;
  }
  const std::string repository = redact_url(settings->repository);
  const std::string where = repository + " " + settings->branch + ":" + settings->file;

  auto workspace = gitops::Workspace::create(options_.work_dir, request.id);
  if (!workspace) return std::move(workspace).error();

  auto git_failure = [&](const std::string& step, Error e) -> Result<stage::StageResult> {
    if (gitops::permanent(e)) return fail(step + " " + where + ": " + e.message);
    return make_error(e.code, step + " " + where + ": " + e.message);
  };

  auto checkout = git_.clone(remote, (*workspace)->dir() + "/repo");
  if (!checkout) return git_failure("clone", std::move(checkout).error());
  Checkout& repo = **checkout;

  const std::string subject = commit_subject(request);
  for (int attempt = 1;; ++attempt) {
    auto text = repo.read(settings->file);
    if (!text) {
      if (text.error().code == Errc::not_found) return fail(where + ": the file does not exist");
      return git_failure("read", std::move(text).error());
    }
    auto edited = values::set(*text, edits, values::Options{settings->document});
    if (!edited) return fail(where + ": " + edited.error().message);

    json previous = json::object();
    std::string body;
    for (const auto& change : edited->changes) {
      previous[change.path] = change.previous ? json(*change.previous) : json();
      if (change.changed) {
        body += change.path + ": " + change.previous.value_or("null") + " -> " + new_values[change.path].get<std::string>() +
                "\n";
      }
    }
    result.outputs = {{"repository", repository}, {"branch", settings->branch}, {"file", settings->file},
                      {"commit", repo.head()},    {"changed", false},          {"previous", previous},
                      {"values", new_values}};
    // The token's reference, never its value: the deployer resolves it for the revert.
    if (settings->token) result.outputs["token-ref"] = token_ref(*settings->token);
    if (!edited->changed()) {
      probe_.unchanged();
      log_.info("values already set", {{"run_id", run.run_id}, {"repository", repository}, {"file", settings->file},
                                       {"commit", repo.head()}});
      return result;
    }

    if (auto ok = repo.write(settings->file, edited->text); !ok) return git_failure("write", std::move(ok).error());
    const std::string message = subject + "\n\n" + body + "\nConveyor-Run: " + run.run_id + "\n";
    auto commit = repo.commit(settings->file, message, settings->author);
    if (!commit) return git_failure("commit", std::move(commit).error());
    auto pushed = repo.push();
    if (pushed) {
      result.outputs["commit"] = *commit;
      result.outputs["changed"] = true;
      auto event = values_committed(run, options_.source, result.outputs);
      event["context"]["id"] = request.id + ":values.committed";  // the same id if the outcome is re-published
      result.cdevents.push_back(std::move(event));
      probe_.committed();
      log_.info("values committed", {{"run_id", run.run_id}, {"repository", repository}, {"file", settings->file},
                                     {"commit", *commit}, {"attempt", std::to_string(attempt)}});
      return result;
    }
    if (pushed.error().code != Errc::conflict) return git_failure("push", std::move(pushed).error());
    if (attempt >= options_.max_push_attempts) {
      return fail("push to " + where + " was rejected " + std::to_string(attempt) +
                  " times because the branch kept moving: " + pushed.error().message);
    }
    probe_.push_retried();
    log_.info("push rejected, the branch moved: re-applying on the new tip",
              {{"run_id", run.run_id}, {"repository", repository}, {"attempt", std::to_string(attempt)}});
    auto tip = repo.refresh();
    if (!tip) return git_failure("fetch", std::move(tip).error());
  }
}

}  // namespace conveyor::helm_updater
