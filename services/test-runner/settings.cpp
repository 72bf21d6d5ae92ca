#include "settings.hpp"

#include <cstdlib>
#include <filesystem>

namespace conveyor::test_runner {
namespace {

using nlohmann::json;

Error bad(const std::string& where, const std::string& what) {
  return make_error(Errc::invalid_argument, "test settings: " + where + ": " + what);
}

bool is_env_name(const std::string& s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  for (char c : s) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

Result<config::SecretRef> secret_ref(const json& j, const std::string& where) {
  if (!j.is_object() || j.size() != 1) return bad(where, "must be {env: NAME} or {file: /path}");
  config::SecretRef ref;
  if (auto it = j.find("env"); it != j.end() && it->is_string()) ref.env = it->get<std::string>();
  if (auto it = j.find("file"); it != j.end() && it->is_string()) ref.file = it->get<std::string>();
  if (ref.env.empty() && ref.file.empty()) return bad(where, "must be {env: NAME} or {file: /path}");
  return ref;
}

Result<std::chrono::milliseconds> duration_at(const json& j, const std::string& where) {
  auto d = config::parse_duration(j);
  if (!d) return bad(where, d.error().message);
  return *d;
}

}  // namespace

ServiceSettings service_settings(const config::Config& config) {
  ServiceSettings s;
  const char* tmp = std::getenv("TMPDIR");
  s.workspace_dir = std::string(tmp && *tmp ? tmp : "/tmp") + "/conveyor-test-runner";
  if (auto it = config.raw.find("test-runner"); it != config.raw.end() && it->is_object()) {
    s.concurrency = it->value("concurrency", s.concurrency);
    s.workspace_dir = it->value("workspace-dir", s.workspace_dir);
    s.log_dir = it->value("log-dir", std::string());
    s.keep_workspaces = it->value("keep-workspaces", false);
  }
  if (s.log_dir.empty()) s.log_dir = s.workspace_dir + "/logs";
  return s;
}

bool is_inside_relative(const std::string& path) {
  if (path.empty()) return true;
  const std::filesystem::path p(path);
  if (p.is_absolute()) return false;
  int depth = 0;
  for (const auto& part : p) {
    if (part == "..") {
      if (--depth < 0) return false;
    } else if (part != "." && !part.empty()) {
      ++depth;
    }
  }
  return true;
}

Result<TestSettings> parse_test_settings(const json& settings) {
  if (!settings.is_object()) return bad("test", "must be an object");
  TestSettings out;
  const auto steps = settings.find("steps");
  if (steps == settings.end() || !steps->is_array() || steps->empty()) return bad("steps", "at least one step is required");
  for (std::size_t i = 0; i < steps->size(); ++i) {
    const json& s = (*steps)[i];
    const std::string at = "steps[" + std::to_string(i) + "]";
    if (!s.is_object()) return bad(at, "must be an object");
    StepSettings step;
    step.name = s.value("name", "step " + std::to_string(i + 1));
    const auto run = s.find("run");
    if (run == s.end() || !run->is_string() || run->get<std::string>().empty()) return bad(at + ".run", "a script is required");
    step.run = run->get<std::string>();
    if (auto wd = s.find("working-directory"); wd != s.end()) {
      if (!wd->is_string()) return bad(at + ".working-directory", "must be a string");
      step.working_directory = wd->get<std::string>();
      if (!is_inside_relative(step.working_directory)) {
        return bad(at + ".working-directory", "'" + step.working_directory + "' is outside the checkout");
      }
    }
    if (auto env = s.find("env"); env != s.end()) {
      if (!env->is_object()) return bad(at + ".env", "must be a map of strings");
      for (const auto& [k, v] : env->items()) {
        if (!is_env_name(k)) return bad(at + ".env." + k, "not a valid environment variable name");
        if (!v.is_string()) return bad(at + ".env." + k, "must be a string");
        step.env[k] = v.get<std::string>();
      }
    }
    if (auto t = s.find("timeout"); t != s.end()) {
      auto d = duration_at(*t, at + ".timeout");
      if (!d) return std::move(d).error();
      step.timeout = *d;
    }
    out.steps.push_back(std::move(step));
  }
  if (auto junit = settings.find("junit"); junit != settings.end()) {
    if (!junit->is_array()) return bad("junit", "must be a list of globs");
    for (std::size_t i = 0; i < junit->size(); ++i) {
      const json& g = (*junit)[i];
      const std::string at = "junit[" + std::to_string(i) + "]";
      if (!g.is_string() || g.get<std::string>().empty()) return bad(at, "must be a glob");
      if (!is_inside_relative(g.get<std::string>())) return bad(at, "'" + g.get<std::string>() + "' is outside the checkout");
      out.junit.push_back(g.get<std::string>());
    }
  }
  if (auto t = settings.find("timeout"); t != settings.end()) {
    auto d = duration_at(*t, "timeout");
    if (!d) return std::move(d).error();
    out.timeout = *d;
  }
  if (auto k = settings.find("keep-workspaces"); k != settings.end() && k->is_boolean()) out.keep_workspaces = k->get<bool>();
  if (auto secrets = settings.find("secrets"); secrets != settings.end()) {
    if (!secrets->is_object()) return bad("secrets", "must map environment variable names to secret references");
    for (const auto& [name, ref] : secrets->items()) {
      if (!is_env_name(name)) return bad("secrets." + name, "not a valid environment variable name");
      auto r = secret_ref(ref, "secrets." + name);
      if (!r) return std::move(r).error();
      out.secrets[name] = *r;
    }
  }
  if (auto token = settings.find("clone-token"); token != settings.end()) {
    auto r = secret_ref(*token, "clone-token");
    if (!r) return std::move(r).error();
    out.clone_token = *r;
  }
  return out;
}

}  // namespace conveyor::test_runner
