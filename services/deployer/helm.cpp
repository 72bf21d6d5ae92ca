#include "helm.hpp"

#include <cstdlib>
#include <functional>
#include <optional>
#include <utility>

#include "helm_release.hpp"

namespace conveyor::deployer {
namespace {

using std::chrono::milliseconds;

// A helm command's end: ok, or a one-line reason why not.
struct CommandResult {
  bool ok = false;
  std::string out;
  std::string err;
  std::string reason;
};

// A step of deploy/rollback: either go on, or the Outcome is decided
// (failed), or an Error for the worker.
struct Step {
  std::optional<Outcome> done;
  static Step fail(std::string reason) { return Step{failed_outcome(std::move(reason))}; }
};

class HelmBackend final : public Backend {
 public:
  explicit HelmBackend(HelmOptions options) : o_(std::move(options)) {
    if (o_.program.empty()) {
      const char* env = std::getenv("CONVEYOR_HELM");
      o_.program = env != nullptr && *env != '\0' ? env : "helm";
    }
    env_ = process::inherit(o_.env_allowlist);
    for (const auto& [k, v] : o_.env) env_[k] = v;
  }

  std::string name() const override { return "helm"; }

  Result<Outcome> deploy(const Target& target) override {
    return with_history(target, [&](const HelmSettings& s, nlohmann::json& details,
                                    std::optional<std::vector<HelmRevision>>& history) {
      return upgrade(s, target, details, history);
    });
  }

  Result<Outcome> rollback(const Target& target, const std::string& revision) override {
    // helm rollback needs no chart: the handler gives a rollback no checkout.
    return with_history(
        target,
        [&](const HelmSettings& s, nlohmann::json& details, std::optional<std::vector<HelmRevision>>& history) {
          return roll_back(s, target, details, history, revision);
        },
        false);
  }

 private:
  using Body = std::function<Result<Outcome>(const HelmSettings&, nlohmann::json&,
                                             std::optional<std::vector<HelmRevision>>&)>;

  // Checks the settings, reads the history, runs `body`; the Outcome gets the
  // details (commands run, duration).
  // `resolve_paths`: see parse_helm_settings (false for a rollback).
  Result<Outcome> with_history(const Target& target, const Body& body, bool resolve_paths = true) const {
    const auto started = std::chrono::steady_clock::now();
    auto settings = parse_helm_settings(target.settings, target.checkout_dir, resolve_paths);
    if (!settings) return failed_outcome(settings.error().message);
    nlohmann::json details = base_details(*settings);
    std::optional<std::vector<HelmRevision>> history;
    Result<Outcome> out = failed_outcome("");
    if (auto st = read_history(*settings, target, details, history); !st) {
      return st.error();
    } else if (st->done) {
      out = std::move(*st->done);
    } else {
      out = body(*settings, details, history);
    }
    if (!out) return out;
    details["duration_ms"] =
        std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - started).count();
    out->details = std::move(details);
    return out;
  }

  Result<Outcome> upgrade(const HelmSettings& s, const Target& target, nlohmann::json& details,
                          std::optional<std::vector<HelmRevision>>& history) const {
    if (history && !history->empty() && is_pending_status(history->back().status)) {
      auto st = recover_pending(s, target, details, history);
      if (!st) return st.error();
      if (st->done) return std::move(*st->done);
    }

    const HelmRevision* before = history ? last_good_revision(*history) : nullptr;
    const std::string previous = before != nullptr ? std::to_string(before->revision) : "";

    auto up = run("helm upgrade", helm_upgrade_args(s, o_.create_namespace, o_.history_max), s.timeout + o_.margin,
                  target, details);
    if (!up) return up.error();
    if (!up->ok) return failed_outcome(up->reason);

    Outcome out = ok_outcome("");
    if (auto rel = parse_helm_release(up->out); rel && rel->revision > 0) {
      out.revision = std::to_string(rel->revision);
      details["status"] = rel->status;
      if (!rel->app_version.empty()) details["app_version"] = rel->app_version;
      if (rel->chart != "-") details["chart_version"] = rel->chart;
      if (rel->status != "deployed") {
        out.ok = false;
        out.reason = "helm upgrade of release " + s.release + " ended with status " + rel->status + " (revision " +
                     out.revision + ")";
      }
    } else {
      // Not the release JSON (an old helm, output cut): read it back.
      std::optional<std::vector<HelmRevision>> after;
      if (auto st = read_history(s, target, details, after); !st) return st.error();
      else if (st->done) return std::move(*st->done);
      if (!after || after->empty()) {
        return failed_outcome("helm history shows no revision of " + s.release + " after the upgrade");
      }
      out.revision = std::to_string(after->back().revision);
      details["status"] = after->back().status;
    }
    out.previous_revision = previous;
    out.first_deploy = previous.empty();
    return out;
  }

  Result<Outcome> roll_back(const HelmSettings& s, const Target& target, nlohmann::json& details,
                            std::optional<std::vector<HelmRevision>>& history, const std::string& revision) const {
    if (!history || history->empty()) {
      return failed_outcome("helm release " + s.release + " in namespace " + s.namespace_ +
                                                   " does not exist: nothing to roll back");
    }
    const int current = history->back().revision;
    int to = 0;
    if (revision.empty()) {
      const HelmRevision* good = last_good_revision(*history, current);
      if (good == nullptr) {
        return failed_outcome("helm release " + s.release +
                                                     " has no deployed or superseded revision before " +
                                                     std::to_string(current) + " to roll back to");
      }
      to = good->revision;
    } else {
      if (revision.size() > 9 || revision.find_first_not_of("0123456789") != std::string::npos ||
          std::stoi(revision) <= 0) {
        return failed_outcome("helm rollback: \"" + revision + "\" is not a revision number");
      }
      to = std::stoi(revision);
    }
    details["rolled_back_to"] = to;

    auto rb = run("helm rollback", helm_rollback_args(s, to), s.timeout + o_.margin, target, details);
    if (!rb) return rb.error();
    if (!rb->ok) return failed_outcome(rb->reason);

    std::optional<std::vector<HelmRevision>> after;
    if (auto st = read_history(s, target, details, after); !st) return st.error();
    else if (st->done) return std::move(*st->done);
    Outcome out = ok_outcome("");
    out.previous_revision = std::to_string(current);
    out.revision = after && !after->empty() ? std::to_string(after->back().revision) : std::to_string(to);
    if (after && !after->empty()) details["status"] = after->back().status;
    return out;
  }

  static nlohmann::json base_details(const HelmSettings& s) {
    return {{"release", s.release},
            {"namespace", s.namespace_},
            {"chart", s.chart_as_written},
            {"commands", nlohmann::json::array()}};
  }


  // Runs helm with `args`; records the command (name, exit, duration) in details.
  Result<CommandResult> run(const std::string& what, std::vector<std::string> args, milliseconds timeout,
                            const Target& target, nlohmann::json& details) const {
    process::Options po;
    po.argv.reserve(args.size() + 1);
    po.argv.push_back(o_.program);
    for (auto& a : args) po.argv.push_back(std::move(a));
    po.env = env_;
    if (!target.checkout_dir.empty()) po.cwd = target.checkout_dir;
    po.merge_stderr = false;
    po.timeout = timeout;
    po.kill_grace = o_.kill_grace;
    po.stop = target.stop;
    auto captured = process::capture(std::move(po), 64u << 20);
    CommandResult r;
    if (!captured) {
      if (captured.error().code == Errc::unavailable) return captured.error();
      r.reason = what + " could not run " + o_.program + ": " + captured.error().message;
      details["commands"].push_back({{"command", what}, {"error", captured.error().message}});
      return r;
    }
    const auto& exit = captured->exit;
    details["commands"].push_back({{"command", what}, {"exit", exit.describe()}, {"duration_ms", exit.duration.count()}});
    if (exit.stopped) return make_error(Errc::unavailable, what + " stopped: the deployer is shutting down");
    r.out = std::move(captured->out);
    r.err = std::move(captured->err);
    r.ok = exit.ok();
    if (!r.ok) {
      const auto secrets = secret_values(target);
      std::string tail = reason_excerpt(r.err, secrets);
      if (tail.empty()) tail = reason_excerpt(r.out, secrets);
      r.reason = what + (exit.timed_out ? " " : " failed (") + exit.describe() + (exit.timed_out ? "" : ")") +
                 (tail.empty() ? "" : ": " + tail);
    }
    return r;
  }

  static std::vector<std::string> secret_values(const Target& target) {
    std::vector<std::string> out;
    for (const auto& [k, v] : target.secrets.items()) {
      if (v.is_string()) out.push_back(v.get<std::string>());
    }
    return out;
  }

  // `helm history`: `history` = nullopt when the release does not exist.
  Result<Step> read_history(const HelmSettings& s, const Target& target, nlohmann::json& details,
                            std::optional<std::vector<HelmRevision>>& history) const {
    auto h = run("helm history", helm_history_args(s, o_.history_read), std::min(o_.query_timeout, s.timeout + o_.margin),
                 target, details);
    if (!h) return h.error();
    if (!h->ok) {
      if (is_release_not_found(h->err)) {
        history.reset();
        return Step{};
      }
      return Step::fail(h->reason);
    }
    auto parsed = parse_helm_history(h->out);
    if (!parsed) return Step::fail("helm history of " + s.release + ": " + parsed.error().message);
    history = std::move(*parsed);
    return Step{};
  }

  // The newest revision is pending-*: report, or roll back to the last good one.
  Result<Step> recover_pending(const HelmSettings& s, const Target& target, nlohmann::json& details,
                               std::optional<std::vector<HelmRevision>>& history) const {
    const HelmRevision stuck = history->back();
    const std::string what = "helm release " + s.release + " in namespace " + s.namespace_ + " is stuck in " +
                             stuck.status + " since " + (stuck.updated.empty() ? "an unknown time" : stuck.updated) +
                             " (revision " + std::to_string(stuck.revision) + ")";
    details["stuck"] = {{"revision", stuck.revision}, {"status", stuck.status}, {"since", stuck.updated}};
    if (!s.recover_pending) {
      return Step::fail(what + "; set deploy.helm.recover-pending to roll it back automatically");
    }
    const HelmRevision* good = last_good_revision(*history, stuck.revision);
    if (good == nullptr) {
      return Step::fail(what + " and has no deployed revision to roll back to; uninstall it (helm uninstall)");
    }
    const int to = good->revision;
    auto rb = run("helm rollback", helm_rollback_args(s, to), s.timeout + o_.margin, target, details);
    if (!rb) return rb.error();
    if (!rb->ok) return Step::fail(what + "; recovering it failed: " + rb->reason);
    details["recovered"] = {{"from", stuck.revision}, {"to", to}};
    return read_history(s, target, details, history);
  }

  HelmOptions o_;
  process::Environment env_;
};

}  // namespace

std::unique_ptr<Backend> make_helm_backend(HelmOptions options) {
  return std::make_unique<HelmBackend>(std::move(options));
}

}  // namespace conveyor::deployer
