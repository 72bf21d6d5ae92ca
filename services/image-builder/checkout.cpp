#include "checkout.hpp"

#include <algorithm>

namespace conveyor::image_builder {

bool is_commit_id(const std::string& sha) noexcept {
  return (sha.size() == 40 || sha.size() == 64) &&
         std::all_of(sha.begin(), sha.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

GitSource::GitSource(CommandRunner runner, std::string program, std::chrono::milliseconds timeout)
    : runner_(std::move(runner)), program_(std::move(program)), timeout_(timeout) {}

Result<CommandResult> GitSource::git(const std::string& dir, std::vector<std::string> args) {
  process::Options o;
  o.argv = {program_, "-C", dir};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.env = tool_environment();
  o.env["GIT_TERMINAL_PROMPT"] = "0";  // never wait for a password
  o.env["GIT_CONFIG_NOSYSTEM"] = "1";
  o.timeout = timeout_;
  auto ran = runner_(o);
  if (!ran) {
    return make_error(ran.error().code, "git " + (args.empty() ? "" : args.front()) + ": " + ran.error().message);
  }
  return ran;
}

Result<CheckoutResult> GitSource::checkout(const events::RunContext& run, const std::string& dir) {
  if (!is_commit_id(run.sha)) return CheckoutResult{false, "'" + run.sha + "' is not a commit id", 0};
  auto fail = [](const std::string& step, const CommandResult& r) {
    return CheckoutResult{false, step + ": " + failure_summary(r), 0};
  };
  for (auto args : std::vector<std::vector<std::string>>{{"init", "--quiet"},
                                                         {"remote", "add", "origin", "--", run.clone_url}}) {
    auto r = git(dir, args);
    if (!r) return std::move(r).error();
    if (!r->exit.ok()) return fail("git " + args.front(), *r);
  }
  // "--" ends the options: neither the URL nor the sha can pass as a flag.
  auto shallow = git(dir, {"fetch", "--quiet", "--depth", "1", "--no-tags", "origin", "--", run.sha});
  if (!shallow) return std::move(shallow).error();
  std::string target = "FETCH_HEAD";
  if (!shallow->exit.ok()) {
    // Not every server hands out a commit by id: fetch the branches and tags.
    auto full = git(dir, {"fetch", "--quiet", "--tags", "origin", "--", "+refs/heads/*:refs/remotes/origin/*"});
    if (!full) return std::move(full).error();
    if (!full->exit.ok()) return fail("git fetch", *full);
    target = run.sha;
  }
  auto co = git(dir, {"checkout", "--quiet", "--detach", target});
  if (!co) return std::move(co).error();
  if (!co->exit.ok()) return fail("git checkout " + run.sha, *co);
  auto head = git(dir, {"show", "-s", "--format=%H %ct", "HEAD"});
  if (!head) return std::move(head).error();
  if (!head->exit.ok()) return fail("git show", *head);
  const auto space = head->out.find(' ');
  if (space == std::string::npos || head->out.substr(0, space) != run.sha) {
    return CheckoutResult{false, "checked out " + head->out.substr(0, space) + ", not " + run.sha, 0};
  }
  CheckoutResult result;
  try {
    result.commit_time = std::stoll(head->out.substr(space + 1));
  } catch (const std::exception&) {
    return CheckoutResult{false, "git show printed no commit time", 0};
  }
  return result;
}

}  // namespace conveyor::image_builder
