#include "git_repository.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <sstream>
#include <utility>
#include <vector>

#include "plan.hpp"

namespace conveyor::version_tagger {
namespace {

namespace fs = std::filesystem;

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
// Output of small commands (rev-parse, ls-tree, push) is bounded by this.
constexpr std::size_t kMaxOutput = 1u << 20;
// `git log` of a long history since the last tag, or a big CHANGELOG.md:
// 256 MiB is about a million commit messages.
constexpr std::size_t kMaxHistory = 256u << 20;
// git's error output kept in a reason.
constexpr std::size_t kMaxReason = 800;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

std::string trim(std::string text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

bool is_sha(const std::string& s) {
  return (s.size() == 40 || s.size() == 64) &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// git's rules for a ref name component list (git check-ref-format), strict
// enough that a name can never be read as an option or a refspec.
bool valid_ref_name(const std::string& name) {
  if (name.empty() || name.front() == '-' || name.front() == '/' || name.back() == '/' || name.back() == '.') {
    return false;
  }
  if (name.find("..") != std::string::npos || name.find("@{") != std::string::npos ||
      name.find("//") != std::string::npos || name == "@") {
    return false;
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f || c == ' ' || c == '~' || c == '^' || c == ':' || c == '?' || c == '*' || c == '[' ||
        c == '\\') {
      return false;
    }
  }
  std::istringstream parts(name);
  for (std::string part; std::getline(parts, part, '/');) {
    if (part.empty() || part.front() == '.') return false;
    if (part.size() >= 5 && part.compare(part.size() - 5, 5, ".lock") == 0) return false;
  }
  return true;
}

std::string scheme_of(const std::string& url) {
  const auto colon = url.find("://");
  return colon == std::string::npos ? "" : lower(url.substr(0, colon));
}

// "scheme://host[:port]/" of a URL without credentials: the http.<url>.* scope.
std::string origin_of(const std::string& clean_url) {
  const auto start = clean_url.find("://");
  const auto slash = clean_url.find('/', start + 3);
  return (slash == std::string::npos ? clean_url : clean_url.substr(0, slash)) + "/";
}

// What git is given (gitops::remote_access), once the URL's scheme and the
// token's transport were checked.
using Access = gitops::RemoteAccess;

Result<Access> access_of(const Remote& remote) {
  const std::string url = redact_url(remote.url);
  const std::string scheme = scheme_of(url);
  const bool path = scheme.empty() && starts_with(url, "/");
  if (!path && scheme != "https" && scheme != "http" && scheme != "ssh" && scheme != "file") {
    return make_error(Errc::invalid_argument,
                      "clone URL " + url + ": only https://, http://, ssh://, file:// and absolute paths are supported");
  }
  if (remote.token && !remote.token->empty() && scheme != "https" && scheme != "http") {
    return make_error(Errc::invalid_argument, "clone URL " + url + ": a token is only sent over http(s)");
  }
  return gitops::remote_access(remote.url, remote.token);
}

process::Environment environment(const Access* access) {
  process::Environment env = process::inherit({"PATH", "HOME", "LANG", "http_proxy", "https_proxy", "no_proxy",
                                               "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "SSL_CERT_FILE",
                                               "SSL_CERT_DIR", "GIT_SSL_CAINFO", "SSH_AUTH_SOCK"});
  if (!env.count("PATH")) env["PATH"] = kDefaultPath;
  if (!env.count("HOME")) env["HOME"] = "/";
  env["LC_ALL"] = "C";                  // git's messages are classified by text
  env["TZ"] = "UTC";                    // release commits carry +0000: their date is the UTC date
  env["GIT_TERMINAL_PROMPT"] = "0";     // never wait for a password
  env["GIT_ASKPASS"] = "true";          // an empty answer, never a prompt
  env["SSH_ASKPASS"] = "true";
  env["GIT_CONFIG_NOSYSTEM"] = "1";     // no /etc/gitconfig
  env["GIT_CONFIG_GLOBAL"] = "/dev/null";
  env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes";
  std::vector<std::pair<std::string, std::string>> config = {
      {"commit.gpgsign", "false"},
      {"tag.gpgsign", "false"},
      {"core.hooksPath", "/dev/null"},
      {"protocol.ext.allow", "never"},
      {"init.defaultBranch", "main"},
      {"advice.detachedHead", "false"},
      {"fetch.recurseSubmodules", "false"},
      {"gc.auto", "0"},
      {"maintenance.auto", "false"},
  };
  if (access != nullptr) {
    config.emplace_back("remote.origin.url", access->url);
    if (access->header) config.emplace_back("http." + origin_of(access->url) + ".extraHeader", "Authorization: " + *access->header);
  }
  env["GIT_CONFIG_COUNT"] = std::to_string(config.size());
  for (std::size_t i = 0; i < config.size(); ++i) {
    env["GIT_CONFIG_KEY_" + std::to_string(i)] = config[i].first;
    env["GIT_CONFIG_VALUE_" + std::to_string(i)] = config[i].second;
  }
  return env;
}

// What a failed fetch / push / ls-remote means (see repository.hpp).
Errc classify_remote(const std::string& text) {
  const std::string s = lower(text);
  const auto has = [&s](const char* what) { return s.find(what) != std::string::npos; };
  if (has("authentication failed") || has("could not read username") || has("could not read password") ||
      has("terminal prompts disabled") || has("permission denied") || has("returned error: 403") ||
      has("returned error: 401") || has("access denied") || has("invalid username or password")) {
    return Errc::invalid_argument;
  }
  if (has("couldn't find remote ref")) return Errc::not_found;
  return Errc::unavailable;
}

struct Entry {
  std::string mode;
  std::string type;
  std::string object;
};

}  // namespace


struct GitRepository::Impl {
  std::string dir;
  GitOptions options;
  std::optional<Access> access;
  process::Environment env;

  std::string clean(std::string text) const {
    return access ? gitops::mask(*access, std::move(text)) : text;
  }

  std::string where() const { return access ? access->url : dir; }

  // Runs `git <args>` in the repository.
  Result<process::Captured> git(const std::vector<std::string>& args, std::optional<std::string> input = std::nullopt,
                                const process::Environment& extra_env = {}, std::size_t max_output = kMaxOutput) const {
    process::Options o;
    o.argv = {options.program};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.env = env;
    for (const auto& [k, v] : extra_env) o.env[k] = v;
    o.cwd = dir;
    o.stdin_data = std::move(input);
    o.timeout = options.timeout;
    o.kill_grace = std::chrono::seconds(2);
    auto ran = process::capture(o, max_output);
    if (!ran) return make_error(Errc::internal, "cannot run git " + args.front() + ": " + clean(ran.error().message));
    if (ran->exit.timed_out) {
      return make_error(Errc::timeout, "git " + args.front() + " " + ran->exit.describe() + " (" + where() + ")");
    }
    if (ran->out_truncated) {
      return make_error(Errc::internal, "git " + args.front() + ": output larger than " +
                                            std::to_string(max_output >> 20) + " MiB");
    }
    return ran;
  }

  // The end of what a failed git command said, plus how it ended.
  std::string reason(const process::Captured& c) const {
    std::string text;
    for (const auto& line : lines_of(c.err.empty() ? c.out : c.err)) {
      if (starts_with(line, "hint:") || starts_with(line, "Please make sure") ||
          starts_with(line, "and the repository exists")) {
        continue;
      }
      if (!text.empty()) text += "; ";
      text += line;
    }
    if (text.size() > kMaxReason) text = "..." + text.substr(text.size() - kMaxReason);
    text = to_valid_utf8(clean(text));
    const std::string how = c.exit.describe();
    return text.empty() ? how : text + " (" + how + ")";
  }

  Error failed(const std::string& step, const process::Captured& c, Errc code) const {
    return make_error(code, step + ": " + reason(c));
  }

  Result<void> need_remote() const {
    if (!access) return make_error(Errc::invalid_argument, "repository " + dir + " has no remote");
    return {};
  }

  // Checked output of a local command.
  Result<std::string> output(const std::vector<std::string>& args, std::optional<std::string> input = std::nullopt,
                             const process::Environment& extra_env = {}, std::size_t max_output = kMaxOutput) const {
    auto ran = git(args, std::move(input), extra_env, max_output);
    if (!ran) return std::move(ran).error();
    if (!ran->exit.ok()) return failed("git " + args.front(), *ran, Errc::internal);
    return std::move(ran->out);
  }

  Result<bool> has_commit(const std::string& sha) const {
    auto ran = git({"cat-file", "-e", sha + "^{commit}"});
    if (!ran) return std::move(ran).error();
    return ran->exit.ok();
  }

  // The tree entry of `path` in `commit`, if any.
  Result<std::optional<Entry>> entry(const std::string& commit, const std::string& path) const {
    auto out = output({"ls-tree", "-z", "--full-tree", commit, "--", path});
    if (!out) return std::move(out).error();
    // "<mode> SP <type> SP <object> TAB <path> NUL"
    const std::string& text = *out;
    std::size_t start = 0;
    while (start < text.size()) {
      const auto end = text.find('\0', start);
      const std::string record = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
      start = end == std::string::npos ? text.size() : end + 1;
      const auto tab = record.find('\t');
      if (tab == std::string::npos || record.substr(tab + 1) != path) continue;
      std::istringstream head(record.substr(0, tab));
      Entry e;
      head >> e.mode >> e.type >> e.object;
      return std::optional<Entry>(e);
    }
    return std::optional<Entry>{};
  }

  Result<std::optional<std::string>> ref(const std::string& name) const {
    auto ran = git({"rev-parse", "--verify", "--quiet", name});
    if (!ran) return std::move(ran).error();
    if (!ran->exit.ok()) return std::optional<std::string>{};
    return std::optional<std::string>(trim(ran->out));
  }
};

GitRepository::GitRepository(std::string dir, std::optional<Remote> remote, GitOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->dir = std::move(dir);
  impl_->options = std::move(options);
  if (remote) {
    auto access = access_of(*remote);
    // An unusable URL is reported by init(); until then nothing runs remotely.
    if (access) impl_->access = std::move(*access);
  }
  impl_->env = environment(impl_->access ? &*impl_->access : nullptr);
}

GitRepository::~GitRepository() = default;

Result<void> GitRepository::init() {
  auto ok = impl_->output({"init", "--quiet", "--bare", "."});
  if (!ok) return std::move(ok).error();
  return {};
}

Result<std::string> GitRepository::resolve(const std::string& revision) {
  if (revision.empty() || revision.front() == '-') {
    return make_error(Errc::invalid_argument, "'" + revision + "' is not a revision");
  }
  auto sha = impl_->ref(revision + "^{commit}");
  if (!sha) return std::move(sha).error();
  if (!*sha) return make_error(Errc::not_found, "'" + revision + "' does not name a commit in " + impl_->dir);
  return **sha;
}

Result<std::optional<std::string>> GitRepository::fetch(const std::string& branch, const std::string& sha) {
  if (auto ok = impl_->need_remote(); !ok) return std::move(ok).error();
  if (!is_sha(sha)) return make_error(Errc::invalid_argument, "'" + sha.substr(0, 80) + "' is not a commit SHA");
  if (!branch.empty() && !valid_ref_name(branch)) {
    return make_error(Errc::invalid_argument, "'" + branch + "' is not a valid branch name");
  }
  std::vector<std::string> args = {"fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules",
                                   "origin", "+refs/tags/*:refs/tags/*"};
  if (!branch.empty()) args.push_back("+refs/heads/" + branch + ":refs/heads/" + branch);
  auto ran = impl_->git(args);
  if (!ran) return std::move(ran).error();
  if (!ran->exit.ok()) {
    const Errc code = classify_remote(ran->err);
    if (code == Errc::not_found) {
      return make_error(Errc::not_found, "branch " + branch + " does not exist (" + impl_->reason(*ran) + ")");
    }
    if (code == Errc::invalid_argument) return impl_->failed("authentication failed", *ran, code);
    return impl_->failed("cannot fetch", *ran, code);
  }
  auto present = impl_->has_commit(sha);
  if (!present) return std::move(present).error();
  if (!*present) {
    // Not on the branch (a pull request's head, a branch that moved on):
    // ask for the commit itself, as servers that allow it answer.
    auto direct = impl_->git({"fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules",
                              "origin", sha});
    if (!direct) return std::move(direct).error();
    present = impl_->has_commit(sha);
    if (!present) return std::move(present).error();
    if (!*present) return make_error(Errc::not_found, "commit " + sha + " not found");
  }
  if (branch.empty()) return std::optional<std::string>{};
  auto tip = impl_->ref("refs/heads/" + branch);
  if (!tip) return std::move(tip).error();
  if (!*tip) return make_error(Errc::internal, "fetched branch " + branch + " is missing");
  return *tip;
}

Result<std::string> GitRepository::remote_tip(const std::string& branch) {
  if (auto ok = impl_->need_remote(); !ok) return std::move(ok).error();
  if (!valid_ref_name(branch)) return make_error(Errc::invalid_argument, "'" + branch + "' is not a valid branch name");
  const std::string ref = "refs/heads/" + branch;
  auto ran = impl_->git({"ls-remote", "--heads", "origin", ref});
  if (!ran) return std::move(ran).error();
  if (!ran->exit.ok()) return impl_->failed("cannot list the remote's branches", *ran, classify_remote(ran->err));
  for (const auto& line : lines_of(ran->out)) {
    const auto tab = line.find('\t');
    if (tab != std::string::npos && line.substr(tab + 1) == ref) return line.substr(0, tab);
  }
  return std::string();
}

Result<std::vector<std::string>> GitRepository::tags_merged(const std::string& sha) {
  if (!is_sha(sha)) return make_error(Errc::invalid_argument, "'" + sha.substr(0, 80) + "' is not a commit SHA");
  auto out = impl_->output({"tag", "--list", "--merged", sha}, std::nullopt, {}, kMaxHistory);
  if (!out) return std::move(out).error();
  return lines_of(*out);
}

Result<std::optional<TagInfo>> GitRepository::find_tag(const std::string& name) {
  if (!valid_ref_name(name)) return make_error(Errc::invalid_argument, "'" + name + "' is not a valid tag name");
  auto object = impl_->ref("refs/tags/" + name);
  if (!object) return std::move(object).error();
  if (!*object) return std::optional<TagInfo>{};
  TagInfo info;
  info.object = **object;
  auto commit = impl_->ref("refs/tags/" + name + "^{commit}");
  if (!commit) return std::move(commit).error();
  if (!*commit) return make_error(Errc::invalid_argument, "tag " + name + " does not point at a commit");
  info.commit = **commit;
  auto out = impl_->output({"log", "-1", "--no-walk", "--format=%P%n%cs%n%s", info.commit});
  if (!out) return std::move(out).error();
  std::istringstream in(*out);
  std::string parents;
  std::getline(in, parents);
  std::getline(in, info.date);
  std::getline(in, info.subject);
  std::istringstream each(parents);
  for (std::string p; each >> p;) info.parents.push_back(p);
  return std::optional<TagInfo>(std::move(info));
}

Result<std::vector<release::Commit>> GitRepository::commits_since(const std::string& since, const std::string& sha) {
  if (!is_sha(sha)) return make_error(Errc::invalid_argument, "'" + sha.substr(0, 80) + "' is not a commit SHA");
  std::string range = sha;
  if (!since.empty()) {
    if (!valid_ref_name(since)) return make_error(Errc::invalid_argument, "'" + since + "' is not a valid tag name");
    range = "refs/tags/" + since + ".." + sha;
  }
  // -z: one NUL after each commit; a message cannot hold a NUL.
  auto out = impl_->output({"log", "-z", "--format=%H%n%B", range, "--"}, std::nullopt, {}, kMaxHistory);
  if (!out) return std::move(out).error();
  std::vector<release::Commit> commits;
  const std::string& text = *out;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\0', start);
    if (end == std::string::npos) end = text.size();
    const auto newline = text.find('\n', start);
    if (newline != std::string::npos && newline < end) {
      commits.push_back({text.substr(start, newline - start),
                         to_valid_utf8(std::string_view(text).substr(newline + 1, end - newline - 1))});
    } else if (end > start) {
      commits.push_back({text.substr(start, end - start), ""});
    }
    start = end + 1;
  }
  return commits;
}

Result<std::optional<std::string>> GitRepository::read_file(const std::string& commit, const std::string& path) {
  auto e = impl_->entry(commit, path);
  if (!e) return std::move(e).error();
  if (!*e) return std::optional<std::string>{};
  if ((*e)->type != "blob" || ((*e)->mode != "100644" && (*e)->mode != "100755")) {
    return make_error(Errc::invalid_argument, path + " is not a regular file (mode " + (*e)->mode + ")");
  }
  auto content = impl_->output({"cat-file", "blob", (*e)->object}, std::nullopt, {}, kMaxHistory);
  if (!content) return std::move(content).error();
  return std::optional<std::string>(std::move(*content));
}

Result<std::string> GitRepository::commit_file(const std::string& parent, const std::string& path,
                                               const std::string& content, const std::string& message,
                                               const Author& author) {
  if (!is_sha(parent)) return make_error(Errc::invalid_argument, "'" + parent.substr(0, 80) + "' is not a commit SHA");
  auto e = impl_->entry(parent, path);
  if (!e) return std::move(e).error();
  std::string mode = "100644";
  if (*e) {
    if ((*e)->type != "blob" || ((*e)->mode != "100644" && (*e)->mode != "100755")) {
      return make_error(Errc::invalid_argument, path + " is not a regular file (mode " + (*e)->mode + ")");
    }
    mode = (*e)->mode;
  }
  auto blob = impl_->output({"hash-object", "-w", "--stdin"}, content);
  if (!blob) return std::move(blob).error();
  // A private index: the repository has no working tree, and nothing else
  // of the commit's tree changes.
  const std::string index = impl_->dir + "/conveyor-release.index";
  std::error_code ec;
  fs::remove(index, ec);
  const process::Environment with_index = {{"GIT_INDEX_FILE", index}};
  if (auto ok = impl_->output({"read-tree", parent + "^{tree}"}, std::nullopt, with_index); !ok) {
    return std::move(ok).error();
  }
  auto added = impl_->git({"update-index", "--add", "--cacheinfo", mode + "," + trim(*blob) + "," + path},
                          std::nullopt, with_index);
  if (!added) return std::move(added).error();
  if (!added->exit.ok()) return impl_->failed("cannot place " + path + " in the tree", *added, Errc::invalid_argument);
  auto tree = impl_->output({"write-tree"}, std::nullopt, with_index);
  fs::remove(index, ec);
  if (!tree) return std::move(tree).error();
  const process::Environment identity = {{"GIT_AUTHOR_NAME", author.name},
                                         {"GIT_AUTHOR_EMAIL", author.email},
                                         {"GIT_COMMITTER_NAME", author.name},
                                         {"GIT_COMMITTER_EMAIL", author.email}};
  auto commit = impl_->output({"commit-tree", trim(*tree), "-p", parent, "-F", "-"}, message, identity);
  if (!commit) return std::move(commit).error();
  return trim(*commit);
}

Result<std::string> GitRepository::create_tag(const std::string& name, const std::string& commit,
                                              const std::string& message, const Author& tagger) {
  if (!valid_ref_name(name)) return make_error(Errc::invalid_argument, "'" + name + "' is not a valid tag name");
  if (!is_sha(commit)) return make_error(Errc::invalid_argument, "'" + commit.substr(0, 80) + "' is not a commit SHA");
  const process::Environment identity = {{"GIT_COMMITTER_NAME", tagger.name}, {"GIT_COMMITTER_EMAIL", tagger.email}};
  auto ran = impl_->git({"tag", "-a", "-F", "-", "--", name, commit}, message, identity);
  if (!ran) return std::move(ran).error();
  if (!ran->exit.ok()) {
    const bool exists = ran->err.find("already exists") != std::string::npos;
    return impl_->failed("git tag " + name, *ran, exists ? Errc::conflict : Errc::internal);
  }
  auto object = impl_->ref("refs/tags/" + name);
  if (!object) return std::move(object).error();
  if (!*object) return make_error(Errc::internal, "tag " + name + " was not created");
  return **object;
}

Result<void> GitRepository::push_release(const std::string& branch, const std::string& expected,
                                         const std::string& commit, const std::string& tag) {
  if (auto ok = impl_->need_remote(); !ok) return std::move(ok).error();
  if (!valid_ref_name(branch)) return make_error(Errc::invalid_argument, "'" + branch + "' is not a valid branch name");
  if (!valid_ref_name(tag)) return make_error(Errc::invalid_argument, "'" + tag + "' is not a valid tag name");
  if (!is_sha(expected) || !is_sha(commit)) return make_error(Errc::invalid_argument, "push: malformed commit SHA");
  const std::string branch_ref = "refs/heads/" + branch;
  const std::string tag_ref = "refs/tags/" + tag;
  auto ran = impl_->git({"push", "--porcelain", "--atomic", "--force-with-lease=" + branch_ref + ":" + expected,
                         "origin", commit + ":" + branch_ref, tag_ref + ":" + tag_ref});
  if (!ran) return std::move(ran).error();
  if (ran->exit.ok()) return {};
  // --porcelain: "!\t<from>:<to>\t[rejected] (stale info)" per refused ref;
  // with --atomic the other refs say "(atomic push failed)".
  for (const auto& line : lines_of(ran->out)) {
    if (!starts_with(line, "!")) continue;
    if (line.find("atomic push failed") != std::string::npos) continue;
    const std::string what = impl_->clean(trim(line.substr(1)));
    if (line.find("[remote rejected]") != std::string::npos) {
      return make_error(Errc::invalid_argument, "refused by the remote: " + what);
    }
    if (line.find("[rejected]") != std::string::npos) {
      if (line.find(tag_ref + "\t") != std::string::npos || line.find("already exists") != std::string::npos) {
        return make_error(Errc::conflict, "tag " + tag + " already exists on the remote: " + what);
      }
      return make_error(Errc::conflict, "branch " + branch + " moved: " + what);
    }
  }
  const Errc code = classify_remote(ran->err);
  if (code == Errc::invalid_argument) return impl_->failed("authentication failed", *ran, code);
  return impl_->failed("git push", *ran, code == Errc::not_found ? Errc::unavailable : code);
}

GitRepositories::GitRepositories(GitOptions options) : options_(std::move(options)) {}

Result<std::unique_ptr<Repository>> GitRepositories::open(const Remote& remote, const std::string& dir) {
  // Refuse what git must never be given before anything runs.
  if (auto access = access_of(remote); !access) return std::move(access).error();
  auto repo = std::make_unique<GitRepository>(dir, remote, options_);
  if (auto ok = repo->init(); !ok) return std::move(ok).error();
  return std::unique_ptr<Repository>(std::move(repo));
}

}  // namespace conveyor::version_tagger
