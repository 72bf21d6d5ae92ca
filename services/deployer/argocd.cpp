#include "argocd.hpp"

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <stop_token>
#include <utility>

#include "argocd_app.hpp"
#include "helm_release.hpp"  // reason_excerpt, go_duration

namespace conveyor::deployer {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// An answer, or the failed Outcome reason when Argo CD refused the request.
struct Reply {
  int status = 0;
  std::string body;
  std::string refused;  // "" when 2xx
};

// What the poll waits for.
enum class Mode { sync, rollback };

// One deploy or rollback: the client, the token and the target's stop.
class Session {
 public:
  Session(const ArgoCdOptions& options, const ArgoCdSettings& settings, const Target& target)
      : s_(settings), stop_(target.stop), on_stop_(target.stop, [this] {
          cancel_.store(true);
          std::lock_guard lock(mu_);
          cv_.notify_all();
        }) {
    webclient::Options http = options.http;
    if (const auto t = target.secrets.find("token"); t != target.secrets.end() && t->is_string()) {
      token_ = t->get<std::string>();
    }
    if (!token_.empty()) http.secrets.push_back(token_);
    http.cancel = &cancel_;
    client_.emplace(std::move(http));
  }

  // Sends; Error when no answer came (network, or 5xx after retries when
  // `server_error_is_error`), else the answer with `refused` set for non-2xx.
  Result<Reply> call(const std::string& method, const std::string& suffix, const std::string& what,
                     const std::optional<nlohmann::json>& body, bool server_error_is_error = true) {
    webclient::Request req;
    req.method = method;
    req.url = argocd_app_url(s_, suffix);
    req.headers["Accept"] = "application/json";
    if (!token_.empty()) req.headers["Authorization"] = "Bearer " + token_;
    if (body) {
      req.headers["Content-Type"] = "application/json";
      req.body = body->dump();
    }
    ++requests_;
    auto ex = client_->exchange(req);
    if (!ex) {
      if (cancel_.load()) return make_error(Errc::unavailable, what + " stopped: the deployer is shutting down");
      return make_error(ex.error().code, what + ": " + ex.error().message);
    }
    Reply r{ex->response.status, std::move(ex->response.body), ""};
    if (r.status >= 200 && r.status < 300) return r;
    if (r.status >= 500 && server_error_is_error) {
      return make_error(Errc::unavailable, what + " answered " + std::to_string(r.status) + " after " +
                                               std::to_string(ex->attempts) + " attempts");
    }
    std::string msg = argocd_error_message(r.body);
    if (msg.empty()) msg = r.body;
    msg = reason_excerpt(msg, {token_}, 1, 300);
    r.refused = what + " answered " + std::to_string(r.status);
    if (r.status == 401 || r.status == 403) r.refused += " (check deploy.argocd.token)";
    if (r.status == 404) r.refused += " (no application " + s_.app + ")";
    if (!msg.empty()) r.refused += ": " + msg;
    return r;
  }

  // Waits `d`; false when stopped.
  bool sleep(milliseconds d) {
    std::unique_lock lock(mu_);
    return !cv_.wait_for(lock, d, [this] { return cancel_.load(); });
  }

  bool stopped() const { return cancel_.load(); }
  int requests() const { return requests_; }
  const ArgoCdSettings& settings() const { return s_; }

 private:
  const ArgoCdSettings& s_;
  std::stop_token stop_;
  std::atomic<bool> cancel_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::stop_callback<std::function<void()>> on_stop_;
  std::string token_;
  std::optional<webclient::Client> client_;
  int requests_ = 0;
};

class ArgoCdBackend final : public Backend {
 public:
  explicit ArgoCdBackend(ArgoCdOptions options) : o_(std::move(options)) {
    defaults_.timeout = o_.default_timeout;
    defaults_.poll_interval = o_.default_poll_interval;
  }

  std::string name() const override { return "argocd"; }

  Result<Outcome> deploy(const Target& target) override {
    return operate(target, Mode::sync, "");
  }

  Result<Outcome> rollback(const Target& target, const std::string& revision) override {
    return operate(target, Mode::rollback, revision);
  }

 private:
  Result<Outcome> operate(const Target& target, Mode mode, const std::string& revision) const {
    const auto started = Clock::now();
    auto settings = parse_argocd_settings(target.settings, defaults_);
    if (!settings) return failed_outcome(settings.error().message);
    const ArgoCdSettings& s = *settings;
    Session session(o_, s, target);
    nlohmann::json details = {{"app", s.app}, {"server", webclient::origin_of(s.url)}};
    auto finish = [&](Outcome out) {
      details["requests"] = session.requests();
      details["duration_ms"] = std::chrono::duration_cast<milliseconds>(Clock::now() - started).count();
      out.details = std::move(details);
      return out;
    };
    const std::string app_ref = "Argo CD application " + s.app;

    auto before_reply = session.call("GET", "", "GET " + app_ref, std::nullopt);
    if (!before_reply) return before_reply.error();
    if (!before_reply->refused.empty()) return finish(failed_outcome(before_reply->refused));
    auto before = parse_argocd_app(before_reply->body);
    if (!before) return finish(failed_outcome(app_ref + ": " + before.error().message));
    const auto prev_id = before->last_history_id();

    std::string action;
    std::optional<nlohmann::json> body;
    if (mode == Mode::sync) {
      action = "sync";
      body = argocd_sync_body(s);
    } else {
      auto to = rollback_target(*before, revision, app_ref);
      if (!to) return finish(failed_outcome(to.error().message));
      details["rolled_back_to"] = *to;
      action = "rollback";
      body = argocd_rollback_body(s, *to);
    }
    auto posted = session.call("POST", "/" + action, "POST " + app_ref + " " + action, body);
    if (!posted) return posted.error();
    if (!posted->refused.empty()) return finish(failed_outcome(posted->refused));

    // Poll until our operation (a new operationState.startedAt) has settled.
    const auto deadline = Clock::now() + s.timeout;
    std::optional<ArgoAppState> last;
    std::string last_problem;
    int polls = 0;
    while (true) {
      if (Clock::now() >= deadline) break;
      if (!session.sleep(std::min<milliseconds>(
              s.poll_interval, std::chrono::duration_cast<milliseconds>(deadline - Clock::now()) + milliseconds(1)))) {
        return make_error(Errc::unavailable, app_ref + " " + action + " wait stopped: the deployer is shutting down");
      }
      ++polls;
      details["polls"] = polls;
      auto reply = session.call("GET", "", "GET " + app_ref, std::nullopt, false);
      if (!reply) {
        if (session.stopped()) return reply.error();
        last_problem = reply.error().message;  // transient: keep polling until the deadline
        continue;
      }
      if (!reply->refused.empty()) {
        if (reply->status >= 500) {
          last_problem = reply->refused;
          continue;
        }
        return finish(failed_outcome(reply->refused));
      }
      auto st = parse_argocd_app(reply->body);
      if (!st) return finish(failed_outcome(app_ref + ": " + st.error().message));
      last = std::move(*st);
      record(details, *last);
      const bool ours = !last->op_started_at.empty() && last->op_started_at != before->op_started_at;
      if (!ours) continue;
      if (last->op_phase == "Failed" || last->op_phase == "Error") {
        return finish(failed_outcome(app_ref + " " + action + " " + last->op_phase + ": " +
                                                     reason_excerpt(last->op_message, {}, 1, 300)));
      }
      if (last->op_phase != "Succeeded") continue;
      if (last->health_status == "Degraded") {
        return finish(failed_outcome(app_ref + " is Degraded after the " + action +
                                                     (last->health_message.empty()
                                                          ? std::string()
                                                          : ": " + reason_excerpt(last->health_message, {}, 1, 300))));
      }
      const auto now_id = last->last_history_id();
      const bool recorded = now_id && (!prev_id || *now_id > *prev_id);
      const bool synced = mode == Mode::rollback || last->sync_status == "Synced";
      if (last->health_status == "Healthy" && synced && recorded) {
        Outcome out = ok_outcome(std::to_string(*now_id));
        out.previous_revision = prev_id ? std::to_string(*prev_id) : "";
        out.first_deploy = !prev_id;
        details["git_revision"] = last->history.back().revision;
        return finish(std::move(out));
      }
    }
    std::string seen = "never polled";
    if (last) {
      seen = "sync " + or_unknown(last->sync_status) + ", health " + or_unknown(last->health_status) +
             ", operation " + or_unknown(last->op_phase);
    }
    if (!last_problem.empty()) seen += "; last error: " + last_problem;
    return finish(failed_outcome(app_ref + " not " + (mode == Mode::sync ? "Synced and " : "") +
                                                 "Healthy within " + go_duration(s.timeout) + " after " + action + " (" + seen + ")"));
  }

  // The history id a rollback goes to: `revision`, or the entry before the current one.
  static Result<long long> rollback_target(const ArgoAppState& st, const std::string& revision,
                                           const std::string& app_ref) {
    if (revision.empty()) {
      if (st.history.size() < 2) {
        return make_error(Errc::not_found, app_ref + " has no earlier history entry to roll back to");
      }
      return st.history[st.history.size() - 2].id;
    }
    if (revision.size() > 18 || revision.find_first_not_of("0123456789") != std::string::npos) {
      return make_error(Errc::invalid_argument, app_ref + " rollback: \"" + revision + "\" is not a history id");
    }
    const long long id = std::stoll(revision);
    for (const auto& e : st.history) {
      if (e.id == id) return id;
    }
    return make_error(Errc::not_found, app_ref + " has no history id " + revision);
  }

  static std::string or_unknown(const std::string& s) { return s.empty() ? "unknown" : s; }

  static void record(nlohmann::json& details, const ArgoAppState& st) {
    details["sync_status"] = st.sync_status;
    details["health_status"] = st.health_status;
    details["operation_phase"] = st.op_phase;
    if (!st.sync_revision.empty()) details["sync_revision"] = st.sync_revision;
  }

  ArgoCdOptions o_;
  ArgoCdSettings defaults_;
};

}  // namespace

std::unique_ptr<Backend> make_argocd_backend(ArgoCdOptions options) {
  return std::make_unique<ArgoCdBackend>(std::move(options));
}

}  // namespace conveyor::deployer
