#include "handler.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "checkout.hpp"
#include "conveyor/events/cdevents.hpp"
#include "junit.hpp"
#include "mask.hpp"
#include "settings.hpp"
#include "step_log.hpp"

namespace conveyor::test_runner {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Failing case names listed in the event; the rest are counted.
constexpr std::size_t kMaxFailingNames = 50;
// A reason longer than this is cut (it is also pipelinerun.finished's errors).
constexpr std::size_t kMaxReasonBytes = 2000;

long long ms(milliseconds d) { return static_cast<long long>(d.count()); }

// "10m", "30s", "1500ms": a configured duration for messages.
std::string format_duration(milliseconds d) {
  const auto n = d.count();
  if (n % 60000 == 0) return std::to_string(n / 60000) + "m";
  if (n % 1000 == 0) return std::to_string(n / 1000) + "s";
  return std::to_string(n) + "ms";
}

// A file-name-safe version of `s`: [A-Za-z0-9._-], others '_', bounded.
std::string path_safe(const std::string& s, std::size_t max = 64) {
  std::string out;
  for (char c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    out += ok ? c : '_';
    if (out.size() >= max) break;
  }
  if (out.empty() || out.find_first_not_of('.') == std::string::npos) out = "run";
  return out;
}

std::string step_file_name(std::size_t index, const std::string& name) {
  std::string slug;
  for (char c : name) {
    if ((c >= 'A' && c <= 'Z')) c = static_cast<char>(c - 'A' + 'a');
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (ok) {
      slug += c;
    } else if (!slug.empty() && slug.back() != '-') {
      slug += '-';
    }
    if (slug.size() >= 40) break;
  }
  while (!slug.empty() && slug.back() == '-') slug.pop_back();
  std::string prefix = std::to_string(index + 1);
  if (prefix.size() < 2) prefix.insert(0, "0");
  return prefix + (slug.empty() ? "" : "-" + slug) + ".log";
}

// Environment values from the webhook may hold anything but NUL.
std::string env_value(std::string s) {
  s.erase(std::remove(s.begin(), s.end(), '\0'), s.end());
  return s;
}

constexpr const char* kLockFile = ".conveyor-lock";
constexpr const char* kKeepFile = ".conveyor-keep";

}  // namespace

namespace {

// The checkout directory of a run, removed on scope exit unless kept.
class Workspace {
 public:
  static Result<std::unique_ptr<Workspace>> create(const std::string& root, const std::string& run_id, bool keep) {
    std::error_code ec;
    fs::create_directories(root, ec);
    if (ec) return make_error(Errc::unavailable, "cannot create workspace root " + root + ": " + ec.message());
    std::string tmpl = root + "/" + path_safe(run_id) + "-XXXXXX";
    if (!::mkdtemp(tmpl.data())) {
      return make_error(Errc::unavailable, "cannot create a workspace under " + root + ": " + std::strerror(errno));
    }
    auto ws = std::unique_ptr<Workspace>(new Workspace(tmpl, keep));
    // Held while the run lasts: sweep_stale_workspaces() leaves it alone.
    ws->lock_ = ::open((tmpl + "/" + kLockFile).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (ws->lock_ < 0 || ::flock(ws->lock_, LOCK_EX | LOCK_NB) != 0) {
      return make_error(Errc::unavailable, "cannot lock workspace " + tmpl + ": " + std::strerror(errno));
    }
    if (keep) std::ofstream(tmpl + "/" + kKeepFile) << "kept by keep-workspaces\n";
    fs::create_directory(ws->src(), ec);
    if (!ec) fs::create_directory(ws->tmp(), ec);
    if (ec) return make_error(Errc::unavailable, "cannot prepare workspace " + tmpl + ": " + ec.message());
    return ws;
  }
  ~Workspace() {
    if (!keep_) remove_workspace(dir_);
    if (lock_ >= 0) ::close(lock_);
  }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

  std::string src() const { return dir_ + "/src"; }
  std::string tmp() const { return dir_ + "/tmp"; }
  const std::string& dir() const { return dir_; }
  bool kept() const { return keep_; }

 private:
  Workspace(std::string dir, bool keep) : dir_(std::move(dir)), keep_(keep) {}
  std::string dir_;
  bool keep_;
  int lock_ = -1;
};

}  // namespace

void remove_workspace(const std::string& dir) {
  {
    std::error_code ec;
    fs::remove_all(dir, ec);
    if (ec) {
      // A step may have left directories without write permission.
      for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
           it.increment(ec)) {
        if (it->is_directory(ec) && !it->is_symlink(ec)) ::chmod(it->path().c_str(), 0700);
      }
      fs::remove_all(dir, ec);
    }
  }
}

std::vector<std::string> sweep_stale_workspaces(const std::string& root) {
  std::vector<std::string> removed;
  std::error_code ec;
  for (auto it = fs::directory_iterator(root, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const fs::path dir = it->path();
    if (!it->is_directory(ec) || it->is_symlink(ec)) continue;
    const fs::path lock = dir / kLockFile;
    if (!fs::exists(lock) || fs::exists(dir / kKeepFile)) continue;  // not a workspace, or kept on purpose
    const int fd = ::open(lock.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) continue;
    const bool stale = ::flock(fd, LOCK_EX | LOCK_NB) == 0;  // its run holds the lock while it lasts
    if (stale) {
      remove_workspace(dir.string());
      removed.push_back(dir.string());
    }
    ::close(fd);
  }
  return removed;
}

namespace {

// The step's working directory, checked to stay inside the checkout (also
// through symlinks the repository may contain).
Result<std::string> step_directory(const std::string& checkout, const std::string& relative) {
  if (!is_inside_relative(relative)) {
    return make_error(Errc::invalid_argument, "working-directory '" + relative + "' is outside the checkout");
  }
  std::error_code ec;
  const fs::path root = fs::canonical(checkout, ec);
  if (ec) return make_error(Errc::internal, "checkout directory vanished: " + ec.message());
  const fs::path dir = fs::canonical(root / relative, ec);
  if (ec || !fs::is_directory(dir)) {
    return make_error(Errc::not_found, "working-directory '" + relative + "' does not exist in the checkout");
  }
  const auto rel = dir.lexically_relative(root);
  if (rel.empty() || *rel.begin() == "..") {
    return make_error(Errc::invalid_argument, "working-directory '" + relative + "' leads outside the checkout");
  }
  return dir.string();
}

struct StepReport {
  std::string name;
  std::string status = "skipped";  // passed | failed | timed_out | skipped
  std::string verdict;             // "exit code 1", "timed out after 2.0s"
  std::optional<process::Exit> exit;
  std::string log;
  std::string tail;  // failing steps only

  json to_json() const {
    json j = {{"name", name}, {"status", status}};
    if (exit) {
      if (exit->signal == 0) j["exitCode"] = exit->exit_code;
      if (exit->signal != 0) j["signal"] = process::signal_name(exit->signal);
      j["durationMs"] = ms(exit->duration);
      j["outputBytes"] = exit->stdout_bytes;
    }
    if (!log.empty()) j["log"] = log;
    return j;
  }
};

class Run {
 public:
  Run(const events::StageRequest& request, const stage::Publish& publish, const Environment& env)
      : request_(request), run_(request.run), publish_(publish), env_(env), started_at_(Clock::now()) {
    suite_.id = request.id.empty() ? run_.run_id + ":test" : request.id;
    suite_.suite_id = (run_.pipeline.empty() ? std::string("pipeline") : run_.pipeline) + "/test";
    suite_.suite_name = run_.pipeline.empty() ? "tests" : run_.pipeline + " tests";
    suite_.environment = env.environment_id;
    masks_ = env.secrets;
  }

  Result<stage::StageResult> go() {
    auto started = events::testsuiterun_started(run_, env_.source, suite_);
    started["context"]["id"] = suite_.id + ":testsuiterun.started";
    if (auto ok = publish_(started); !ok) return std::move(ok).error();

    auto parsed = parse_test_settings(request_.settings);
    if (!parsed) return finish("error", parsed.error().message);
    settings_ = std::move(*parsed);
    deadline_ = started_at_ + settings_.timeout;

    // Secrets: resolved here, exported to the steps, masked everywhere.
    std::map<std::string, std::string> secret_env;
    for (const auto& [name, ref] : settings_.secrets) {
      auto value = env_.resolve(ref);
      if (!value) return finish("error", "secret " + name + " (" + ref.describe() + "): " + value.error().message);
      masks_.push_back(*value);
      secret_env[name] = std::move(*value);
    }
    std::optional<std::string> token;
    if (settings_.clone_token) {
      auto value = env_.resolve(*settings_.clone_token);
      if (!value) {
        return finish("error", "clone-token (" + settings_.clone_token->describe() + "): " + value.error().message);
      }
      token = std::move(*value);
    }

    auto ws = Workspace::create(env_.workspace_root, run_.run_id, env_.keep_workspaces || settings_.keep_workspaces);
    if (!ws) return std::move(ws).error();  // the service cannot work: retried
    workspace_ = std::move(*ws);

    CheckoutSpec spec;
    spec.clone_url = run_.clone_url;
    spec.sha = run_.sha;
    spec.directory = workspace_->src();
    spec.token = token;
    spec.base_env = env_.base_env;
    spec.deadline = deadline_;
    for (auto& s : checkout_secrets(spec)) masks_.push_back(std::move(s));
    auto checked_out = checkout(spec);
    if (!checked_out) {
      const Error& e = checked_out.error();
      if (e.code == Errc::timeout && Clock::now() >= deadline_) {
        return finish("error", "test stage timed out after " + format_duration(settings_.timeout) + " during checkout");
      }
      return finish("error", "checkout of " + run_.sha + " failed: " + e.message);
    }
    checkout_ = *checked_out;

    run_steps(secret_env);
    read_reports();
    return conclude();
  }

 private:
  void run_steps(const std::map<std::string, std::string>& secret_env) {
    for (std::size_t i = 0; i < settings_.steps.size(); ++i) {
      const StepSettings& step = settings_.steps[i];
      StepReport report;
      report.name = step.name;
      if (failed_step_) {
        steps_.push_back(std::move(report));  // skipped after a failure
        continue;
      }
      const auto now = Clock::now();
      if (now >= deadline_) {
        report.status = "timed_out";
        report.verdict = "not started: the test stage ran out of time";
        stage_timed_out_ = true;
        fail_step(std::move(report));
        continue;
      }
      auto dir = step_directory(workspace_->src(), step.working_directory);
      if (!dir) {
        report.status = "failed";
        report.verdict = dir.error().message;
        if (dir.error().code == Errc::invalid_argument) config_error_ = true;
        fail_step(std::move(report));
        continue;
      }
      const std::string log_path = env_.log_root + "/" + path_safe(run_.run_id) + "/test/" + step_file_name(i, step.name);
      auto log = StepLog::open(log_path, masks_);
      if (!log) {
        infra_error_ = log.error();
        return;
      }
      StepLog& out = **log;
      report.log = log_path;

      process::Options o;
      o.argv = {"bash", "-e", "-o", "pipefail", "-c", step.run};
      o.env = env_.base_env;
      o.env["TMPDIR"] = workspace_->tmp();
      for (const auto& [k, v] : step.env) o.env[k] = v;
      for (const auto& [k, v] : secret_env) o.env[k] = v;
      o.env["CI"] = "true";
      o.env["CONVEYOR_RUN_ID"] = env_value(run_.run_id);
      o.env["CONVEYOR_REPOSITORY"] = env_value(run_.repository);
      o.env["CONVEYOR_REF"] = env_value(run_.ref);
      o.env["CONVEYOR_SHA"] = env_value(run_.sha);
      o.cwd = *dir;
      o.on_stdout = [&out](std::string_view chunk) { out.write(chunk); };
      const auto left = std::chrono::duration_cast<milliseconds>(deadline_ - now);
      const bool stage_limits = !step.timeout || left < *step.timeout;
      o.timeout = stage_limits ? left : *step.timeout;
      o.kill_grace = env_.kill_grace;

      auto exit = process::run(o);
      if (!exit) {
        report.status = "failed";
        report.verdict = "cannot run bash: " + exit.error().message;
        out.note("step \"" + step.name + "\" " + report.verdict);
        out.close();
        report.tail = out.tail();
        fail_step(std::move(report));
        continue;
      }
      report.exit = *exit;
      if (exit->timed_out) {
        report.status = "timed_out";
        if (stage_limits) {
          stage_timed_out_ = true;
          report.verdict = "timed out: the test stage's timeout of " + format_duration(settings_.timeout) + " ran out";
        } else {
          report.verdict = "timed out after " + format_duration(*step.timeout);
        }
      } else {
        report.status = exit->ok() ? "passed" : "failed";
        report.verdict = exit->describe();
      }
      out.note("step \"" + step.name + "\" " + report.verdict + " (" + exit->describe() + ")");
      out.close();
      if (!exit->ok()) {
        report.tail = out.tail();
        fail_step(std::move(report));
      } else {
        steps_.push_back(std::move(report));
      }
    }
  }

  void fail_step(StepReport report) {
    failed_step_ = steps_.size();
    steps_.push_back(std::move(report));
  }

  void read_reports() {
    if (settings_.junit.empty()) return;
    const auto files = find_reports(workspace_->src(), settings_.junit);
    std::error_code ec;
    const fs::path root = fs::canonical(workspace_->src(), ec);
    for (const auto& file : files) {
      const std::string rel = file.lexically_relative(root).generic_string();
      reports_.push_back(rel);
      auto summary = parse_junit_file(file);
      if (!summary) {
        std::string message = summary.error().message;
        // Name the report relative to the checkout, not by its workspace path.
        if (auto at = message.find(file.string()); at != std::string::npos) message.replace(at, file.string().size(), rel);
        report_errors_.push_back(message);
        continue;
      }
      summary_ += *summary;
    }
  }

  Result<stage::StageResult> conclude() {
    if (infra_error_) return *infra_error_;
    std::vector<std::string> reasons;
    std::string outcome = "success";
    if (failed_step_) {
      const StepReport& s = steps_[*failed_step_];
      outcome = config_error_ ? "error" : "failure";
      reasons.push_back("step \"" + s.name + "\" " + (s.status == "timed_out" ? "" : "failed: ") + s.verdict);
    }
    if (!report_errors_.empty()) {
      outcome = "failure";
      std::string r = "unparsable JUnit report: " + report_errors_.front();
      if (report_errors_.size() > 1) r += " (and " + std::to_string(report_errors_.size() - 1) + " more)";
      reasons.push_back(r);
    }
    const int failing = summary_.failures + summary_.errors;
    if (failing > 0) {
      outcome = outcome == "error" ? outcome : "failure";
      std::string r = std::to_string(failing) + " of " + std::to_string(summary_.tests) + " tests failed: ";
      for (std::size_t i = 0; i < summary_.failing.size() && i < 5; ++i) r += (i ? ", " : "") + summary_.failing[i];
      if (summary_.failing.size() > 5) r += ", ...";
      reasons.push_back(r);
    }
    if (!settings_.junit.empty() && reports_.empty() && !failed_step_) {
      outcome = "failure";
      std::string globs;
      for (const auto& g : settings_.junit) globs += (globs.empty() ? "" : ", ") + g;
      reasons.push_back("no JUnit report matched " + globs);
    }
    std::string reason;
    for (const auto& r : reasons) reason += (reason.empty() ? "" : "; ") + r;

    json custom = {
        {"tests", summary_.tests},
        {"failures", summary_.failures},
        {"errors", summary_.errors},
        {"skipped", summary_.skipped},
    };
    const Masker masker(masks_);
    json failing_cases = json::array();
    for (std::size_t i = 0; i < summary_.failing.size() && i < kMaxFailingNames; ++i) {
      failing_cases.push_back(to_valid_utf8(masker.mask(summary_.failing[i])));
    }
    custom["failingCases"] = failing_cases;
    if (summary_.failing.size() > kMaxFailingNames) custom["failingCasesOmitted"] = summary_.failing.size() - kMaxFailingNames;
    custom["reports"] = reports_;
    json steps = json::array();
    for (const auto& s : steps_) steps.push_back(s.to_json());
    custom["steps"] = steps;
    if (failed_step_ && steps_[*failed_step_].exit) {
      custom["failedStep"] = {{"name", steps_[*failed_step_].name}, {"outputTail", steps_[*failed_step_].tail}};
    }
    custom["checkout"] = {{"shallow", checkout_.shallow}, {"durationMs", ms(checkout_.duration)}};
    if (stage_timed_out_) custom["stageTimedOut"] = true;
    return finish(outcome, reason, std::move(custom));
  }

  stage::StageResult finish(const std::string& outcome, std::string reason, json custom = json::object()) {
    const Masker masker(masks_);
    reason = to_valid_utf8(masker.mask(reason));
    if (reason.size() > kMaxReasonBytes) reason = to_valid_utf8(reason.substr(0, kMaxReasonBytes)) + "...";
    if (!custom.contains("tests")) custom.update({{"tests", 0}, {"failures", 0}, {"errors", 0}, {"skipped", 0}});
    custom["durationMs"] = ms(std::chrono::duration_cast<milliseconds>(Clock::now() - started_at_));
    if (workspace_ && workspace_->kept()) custom["workspace"] = workspace_->dir();

    auto finished = events::testsuiterun_finished(run_, env_.source, suite_, outcome, reason);
    finished["context"]["id"] = suite_.id + ":testsuiterun.finished";
    finished["customData"] = custom;
    finished["customDataContentType"] = "application/json";

    stage::StageResult result;
    result.status = outcome == "success" ? stage::StageResult::Status::succeeded : stage::StageResult::Status::failed;
    result.reason = reason;
    result.outputs = {{"tests", custom["tests"]},
                      {"failures", custom["failures"]},
                      {"errors", custom["errors"]},
                      {"skipped", custom["skipped"]},
                      {"outcome", outcome}};
    result.cdevents.push_back(std::move(finished));
    return result;
  }

  const events::StageRequest& request_;
  const events::RunContext& run_;
  const stage::Publish& publish_;
  const Environment& env_;
  const Clock::time_point started_at_;
  events::TestSuiteRun suite_;
  std::vector<std::string> masks_;
  TestSettings settings_;
  Clock::time_point deadline_;
  std::unique_ptr<Workspace> workspace_;
  CheckoutInfo checkout_;
  std::vector<StepReport> steps_;
  std::optional<std::size_t> failed_step_;
  bool stage_timed_out_ = false;
  bool config_error_ = false;
  std::optional<Error> infra_error_;
  std::vector<std::string> reports_;
  std::vector<std::string> report_errors_;
  JUnitSummary summary_;
};

}  // namespace

Result<stage::StageResult> handle(const events::StageRequest& request, const stage::Publish& publish,
                                  const Environment& env) {
  try {
    Run run(request, publish, env);
    return run.go();
  } catch (const std::exception& e) {
    return make_error(Errc::internal, std::string("test-runner: unexpected failure: ") + e.what());
  }
}

}  // namespace conveyor::test_runner
