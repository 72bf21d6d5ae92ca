#include "conveyor/gitops/git.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

namespace conveyor::gitops {
namespace {

namespace fs = std::filesystem;

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
// git prints little; a values file is small. Both bounded all the same.
constexpr std::size_t kMaxOutput = 1u << 20;
constexpr std::size_t kMaxReason = 800;

std::string base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

void replace_all(std::string& text, const std::string& what, const std::string& with) {
  if (what.empty()) return;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + with.size())) {
    text.replace(at, what.size(), with);
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// "scheme://user:password@host/..." -> "user:password" (decoded), if any.
std::optional<std::string> url_credentials(const std::string& url) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) return std::nullopt;
  const auto start = scheme + 3;
  const auto slash = url.find('/', start);
  const auto at = url.rfind('@', slash == std::string::npos ? url.size() : slash);
  if (at == std::string::npos || at < start) return std::nullopt;
  const std::string userinfo = url.substr(start, at - start);
  if (userinfo.find(':') == std::string::npos) return std::nullopt;  // a user name alone is no secret
  return percent_decode(userinfo);
}

// Masks what must never leave the process (see RemoteAccess).
class Sanitizer {
 public:
  explicit Sanitizer(RemoteAccess access) : access_(std::move(access)) {}
  std::string operator()(std::string text) const { return mask(access_, std::move(text)); }

 private:
  RemoteAccess access_;
};

std::string trim(std::string text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

// The end of what a failed git command said, plus how it ended.
std::string reason_of(const process::Captured& c, const Sanitizer& clean) {
  std::string text = trim(c.err.empty() ? c.out : c.err);
  if (text.size() > kMaxReason) text = "..." + text.substr(text.size() - kMaxReason);
  text = clean(text);
  const std::string how = c.exit.describe();
  return text.empty() ? how : text + " (" + how + ")";
}

// What a failed clone/fetch/push means for the handler (see gitops.hpp).
Errc classify(const std::string& stderr_text) {
  const std::string s = lower(stderr_text);
  const auto has = [&s](const char* what) { return s.find(what) != std::string::npos; };
  if (has("remote branch") && has("not found")) return Errc::not_found;
  if (has("couldn't find remote ref")) return Errc::not_found;
  if (has("repository") && (has("not found") || has("does not exist"))) return Errc::not_found;
  if (has("does not appear to be a git repository")) return Errc::not_found;
  if (has("authentication failed") || has("could not read username") || has("could not read password") ||
      has("permission denied") || has("returned error: 403") || has("returned error: 401") ||
      has("access denied")) {
    return Errc::invalid_argument;
  }
  return Errc::unavailable;
}

process::Environment environment(const std::optional<std::string>& authorization) {
  process::Environment env = process::inherit({"PATH", "HOME", "LANG", "LC_ALL", "TZ", "http_proxy", "https_proxy",
                                               "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "SSL_CERT_FILE",
                                               "SSL_CERT_DIR", "GIT_SSL_CAINFO", "SSH_AUTH_SOCK"});
  if (!env.count("PATH")) env["PATH"] = kDefaultPath;
  if (!env.count("HOME")) env["HOME"] = "/";
  env["GIT_TERMINAL_PROMPT"] = "0";   // never wait for a password
  env["GIT_CONFIG_NOSYSTEM"] = "1";   // no /etc/gitconfig
  env["GIT_CONFIG_GLOBAL"] = "/dev/null";
  env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes";
  std::vector<std::pair<std::string, std::string>> config = {
      {"commit.gpgsign", "false"},
      {"core.hooksPath", "/dev/null"},
      {"protocol.ext.allow", "never"},
      {"init.defaultBranch", "main"},
      {"advice.detachedHead", "false"},
  };
  if (authorization) config.emplace_back("http.extraHeader", "Authorization: " + *authorization);
  env["GIT_CONFIG_COUNT"] = std::to_string(config.size());
  for (std::size_t i = 0; i < config.size(); ++i) {
    env["GIT_CONFIG_KEY_" + std::to_string(i)] = config[i].first;
    env["GIT_CONFIG_VALUE_" + std::to_string(i)] = config[i].second;
  }
  return env;
}

class GitCheckout : public Checkout {
 public:
  GitCheckout(GitOptions options, const Remote& remote, std::string dir)
      : options_(std::move(options)),
        access_(remote_access(remote.url, remote.token)),
        branch_(remote.branch),
        dir_(std::move(dir)),
        env_(environment(access_.header)),
        clean_(access_) {}

  // Runs `git <args>` in the clone (or `cwd`).
  Result<process::Captured> git(std::vector<std::string> args, std::optional<std::string> input = std::nullopt,
                                const process::Environment& extra_env = {}, const std::string& cwd = "") const {
    process::Options o;
    o.argv = {options_.program};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.env = env_;
    for (const auto& [k, v] : extra_env) o.env[k] = v;
    o.cwd = cwd.empty() ? dir_ : cwd;
    o.stdin_data = std::move(input);
    o.timeout = options_.timeout;
    auto ran = process::capture(o, kMaxOutput);
    if (!ran) return make_error(ran.error().code, "git " + args.front() + ": " + clean_(ran.error().message));
    return ran;
  }

  Error failed(const std::string& step, const process::Captured& c, std::optional<Errc> code = std::nullopt) const {
    return make_error(code ? *code : classify(c.err + c.out), step + ": " + reason_of(c, clean_));
  }

  Result<void> clone() {
    const fs::path target(dir_);
    auto ran = git({"clone", "--quiet", "--no-tags", "--single-branch", "--depth", "1", "--branch", branch_, "--",
                    access_.url, target.filename().string()},
                   std::nullopt, {}, target.parent_path().string());
    if (!ran) return std::move(ran).error();
    if (!ran->exit.ok()) return failed("git clone", *ran);
    return update_head();
  }

  // init + fetch of exactly `commit` + detached checkout (see git.hpp).
  Result<void> checkout_commit(const std::string& commit) {
    const bool hex = std::all_of(commit.begin(), commit.end(), [](unsigned char c) { return std::isxdigit(c); });
    if (!hex || (commit.size() != 40 && commit.size() != 64)) {
      return make_error(Errc::invalid_argument, "'" + commit + "' is not a full commit id");
    }
    std::error_code ec;
    if (!fs::create_directory(dir_, ec)) {
      return make_error(Errc::unavailable, "cannot create " + dir_ + (ec ? ": " + ec.message() : ": it exists"));
    }
    for (const std::vector<std::string>& args : {std::vector<std::string>{"init", "--quiet"},
                                                 std::vector<std::string>{"remote", "add", "--", "origin", access_.url}}) {
      auto ran = git(args);
      if (!ran) return std::move(ran).error();
      if (!ran->exit.ok()) return failed("git " + args.front(), *ran, Errc::internal);
    }
    auto fetched = git({"fetch", "--quiet", "--no-tags", "--depth", "1", "origin", commit});
    if (!fetched) return std::move(fetched).error();
    if (!fetched->exit.ok()) {
      if (classify(fetched->err + fetched->out) == Errc::invalid_argument) return failed("git fetch", *fetched);
      // The server does not serve unadvertised commits by id: fetch its branches.
      fetched = git({"fetch", "--quiet", "--no-tags", "origin", "+refs/heads/*:refs/remotes/origin/*"});
      if (!fetched) return std::move(fetched).error();
      if (!fetched->exit.ok()) return failed("git fetch", *fetched);
    }
    auto checked = git({"checkout", "--quiet", "--detach", commit});
    if (!checked) return std::move(checked).error();
    if (!checked->exit.ok()) {
      return make_error(Errc::not_found, "commit " + commit + " is not in " + access_.url + ": " +
                                             reason_of(*checked, clean_));
    }
    return update_head();
  }

  std::string head() const override { return head_; }

  Result<std::string> read(const std::string& path) override {
    auto full = safe_path(path);
    if (!full) return std::move(full).error();
    std::ifstream in(*full, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    if (!in && !in.eof()) return make_error(Errc::unavailable, "cannot read " + path);
    return ss.str();
  }

  Result<void> write(const std::string& path, const std::string& content) override {
    auto full = safe_path(path);
    if (!full) return std::move(full).error();
    std::ofstream out(*full, std::ios::binary | std::ios::trunc);
    out << content;
    out.flush();
    if (!out) return make_error(Errc::unavailable, "cannot write " + path);
    return {};
  }

  Result<std::string> commit(const std::string& path, const std::string& message, const Author& author) override {
    auto added = git({"add", "--", path});
    if (!added) return std::move(added).error();
    if (!added->exit.ok()) return failed("git add", *added, Errc::internal);
    const process::Environment identity = {{"GIT_AUTHOR_NAME", author.name},
                                           {"GIT_AUTHOR_EMAIL", author.email},
                                           {"GIT_COMMITTER_NAME", author.name},
                                           {"GIT_COMMITTER_EMAIL", author.email}};
    // The message on stdin: it holds pipeline and version names, data only.
    auto committed = git({"commit", "--quiet", "--no-verify", "--file", "-"}, message, identity);
    if (!committed) return std::move(committed).error();
    if (!committed->exit.ok()) return failed("git commit", *committed, Errc::internal);
    if (auto ok = update_head(); !ok) return std::move(ok).error();
    return head_;
  }

  Result<void> push() override {
    auto pushed = git({"push", "--porcelain", "origin", "HEAD:refs/heads/" + branch_});
    if (!pushed) return std::move(pushed).error();
    if (pushed->exit.ok()) return {};
    // --porcelain: "!\t<from>:<to>\t[rejected] (fetch first)" for refused refs.
    std::istringstream lines(pushed->out);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("!", 0) != 0) continue;
      if (line.find("[remote rejected]") != std::string::npos) {
        return make_error(Errc::invalid_argument, "git push: refused by the remote: " + clean_(trim(line.substr(1))));
      }
      if (line.find("[rejected]") != std::string::npos) {
        return make_error(Errc::conflict, "git push: " + clean_(trim(line.substr(1))));
      }
    }
    return failed("git push", *pushed);
  }

  Result<std::string> refresh() override {
    const std::string tracking = "refs/remotes/origin/" + branch_;
    auto fetched = git({"fetch", "--quiet", "--no-tags", "--depth", "1", "origin",
                        "+refs/heads/" + branch_ + ":" + tracking});
    if (!fetched) return std::move(fetched).error();
    if (!fetched->exit.ok()) return failed("git fetch", *fetched);
    auto reset = git({"reset", "--quiet", "--hard", tracking});
    if (!reset) return std::move(reset).error();
    if (!reset->exit.ok()) return failed("git reset", *reset, Errc::internal);
    if (auto ok = update_head(); !ok) return std::move(ok).error();
    return head_;
  }

 private:
  Result<void> update_head() {
    auto rev = git({"rev-parse", "--verify", "HEAD"});
    if (!rev) return std::move(rev).error();
    if (!rev->exit.ok()) return failed("git rev-parse", *rev, Errc::internal);
    head_ = trim(rev->out);
    return {};
  }

  // The file inside the clone, reached without symbolic links; a regular file.
  Result<fs::path> safe_path(const std::string& relative) const {
    const fs::path rel(relative);
    if (relative.empty() || rel.is_absolute()) {
      return make_error(Errc::invalid_argument, "'" + relative + "' is not a relative path");
    }
    fs::path cur(dir_);
    std::size_t i = 0;
    const std::size_t n = static_cast<std::size_t>(std::distance(rel.begin(), rel.end()));
    for (const auto& part : rel) {
      ++i;
      if (part == ".." || (i == 1 && part == ".git")) {
        return make_error(Errc::invalid_argument, "'" + relative + "' leaves the working tree");
      }
      if (part == "." || part.empty()) continue;
      cur /= part;
      std::error_code ec;
      const auto st = fs::symlink_status(cur, ec);
      if (ec || !fs::exists(st)) return make_error(Errc::not_found, "'" + relative + "' does not exist");
      if (fs::is_symlink(st)) {
        return make_error(Errc::invalid_argument, "'" + relative + "' is or is inside a symbolic link; refusing");
      }
      if (i < n && !fs::is_directory(st)) return make_error(Errc::not_found, "'" + relative + "' does not exist");
      if (i == n && !fs::is_regular_file(st)) {
        return make_error(Errc::invalid_argument, "'" + relative + "' is not a regular file");
      }
    }
    return cur;
  }

  GitOptions options_;
  RemoteAccess access_;
  std::string branch_;
  std::string dir_;
  process::Environment env_;
  Sanitizer clean_;
  std::string head_;
};

}  // namespace

std::string redact_url(const std::string& url) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  const auto start = scheme + 3;
  const auto slash = url.find('/', start);
  const auto authority_end = slash == std::string::npos ? url.size() : slash;
  const auto at = url.rfind('@', authority_end);
  if (at == std::string::npos || at < start) return url;
  return url.substr(0, start) + url.substr(at + 1);
}

std::string authorization_header(const std::string& token) { return "Basic " + base64("x-access-token:" + token); }

RemoteAccess remote_access(const std::string& url, const std::optional<std::string>& token) {
  RemoteAccess a;
  a.url = redact_url(url);
  const auto userpass = url_credentials(url);
  if (token && !token->empty()) {
    a.header = authorization_header(*token);
    a.masks.emplace_back(*a.header, "***");
    a.masks.emplace_back(base64("x-access-token:" + *token), "***");
    a.masks.emplace_back(*token, "***");
  } else if (userpass) {
    a.header = "Basic " + base64(*userpass);
    a.masks.emplace_back(*a.header, "***");
  }
  if (userpass) {
    a.masks.emplace_back(base64(*userpass), "***");
    a.masks.emplace_back(userpass->substr(userpass->find(':') + 1), "***");
  }
  if (a.url != url) a.masks.emplace_back(url, a.url);
  std::erase_if(a.masks, [](const auto& m) { return m.first.empty(); });
  // Longest first, so a secret inside another is not half-masked.
  std::stable_sort(a.masks.begin(), a.masks.end(),
                   [](const auto& x, const auto& y) { return x.first.size() > y.first.size(); });
  return a;
}

std::string mask(const RemoteAccess& access, std::string text) {
  for (const auto& [what, with] : access.masks) replace_all(text, what, with);
  return text;
}

process::Environment git_environment(const std::optional<std::string>& token) {
  return environment(token && !token->empty() ? std::optional<std::string>(authorization_header(*token)) : std::nullopt);
}


GitCli::GitCli(GitOptions options) : options_(std::move(options)) {}

Result<std::unique_ptr<Checkout>> GitCli::clone(const Remote& remote, const std::string& dir) {
  auto checkout = std::make_unique<GitCheckout>(options_, remote, dir);
  if (auto ok = checkout->clone(); !ok) return std::move(ok).error();
  return std::unique_ptr<Checkout>(std::move(checkout));
}

Result<std::unique_ptr<Checkout>> GitCli::checkout(const Remote& remote, const std::string& commit,
                                                   const std::string& dir) {
  auto checkout = std::make_unique<GitCheckout>(options_, remote, dir);
  if (auto ok = checkout->checkout_commit(commit); !ok) return std::move(ok).error();
  return std::unique_ptr<Checkout>(std::move(checkout));
}

}  // namespace conveyor::gitops
