#include "checkout.hpp"

#include <algorithm>
#include <array>

#include "mask.hpp"

namespace conveyor::test_runner {
namespace {

using Clock = std::chrono::steady_clock;

// One git command may take this long at most (within the run's deadline).
constexpr std::chrono::minutes kGitTimeout{10};
// git's error output kept for a reason.
constexpr std::size_t kMaxReason = 600;

std::string base64(const std::string& in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string basic_credential(const std::string& token) { return base64("x-access-token:" + token); }

bool starts_with(const std::string& s, std::string_view p) { return s.rfind(p, 0) == 0; }

std::string scheme_of(const std::string& url) {
  const auto colon = url.find("://");
  return colon == std::string::npos ? "" : url.substr(0, colon);
}

// "host" of scheme://[userinfo@]host[:port]/path.
std::string host_of(const std::string& url) {
  const auto start = url.find("://");
  if (start == std::string::npos) return "";
  std::string authority = url.substr(start + 3, url.find('/', start + 3) - (start + 3));
  if (const auto at = authority.rfind('@'); at != std::string::npos) authority.erase(0, at + 1);
  if (!authority.empty() && authority.front() == '[') return authority.substr(0, authority.find(']') + 1);
  return authority.substr(0, authority.find(':'));
}

// "scheme://host[:port]/" of a URL without userinfo: the http.<url>.* scope.
std::string origin_of(const std::string& url) {
  const std::string clean = redact_url(url);
  const auto start = clean.find("://");
  const auto slash = clean.find('/', start + 3);
  return (slash == std::string::npos ? clean : clean.substr(0, slash)) + "/";
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "[::1]" || starts_with(host, "127.");
}

bool contains_any(const std::string& text, std::initializer_list<std::string_view> needles) {
  return std::any_of(needles.begin(), needles.end(), [&](std::string_view n) { return text.find(n) != std::string::npos; });
}

bool auth_failure(const std::string& err) {
  return contains_any(err, {"Authentication failed", "could not read Username", "could not read Password",
                            "terminal prompts disabled", "The requested URL returned error: 401",
                            "The requested URL returned error: 403", "Permission denied (publickey",
                            "Invalid username or password"});
}

bool unreachable(const std::string& err) {
  return contains_any(err, {"does not appear to be a git repository", "Could not resolve host", "Failed to connect",
                            "Couldn't connect", "Connection refused", "Connection timed out", "unable to access",
                            "Repository not found", "The requested URL returned error: 404",
                            "No route to host", "Could not read from remote repository"});
}

// The last meaningful lines of git's stderr, masked and bounded.
std::string git_says(const std::string& err, const CheckoutSpec& spec) {
  Masker masker(checkout_secrets(spec));
  std::string text = masker.mask(err);
  // Never show the URL with credentials, whatever git printed.
  const std::string clean = redact_url(spec.clone_url);
  if (clean != spec.clone_url) {
    for (std::size_t at; (at = text.find(spec.clone_url)) != std::string::npos;) text.replace(at, spec.clone_url.size(), clean);
  }
  // Keep "fatal:"/"error:" lines; drop git's hints.
  std::string out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || starts_with(line, "hint:") || starts_with(line, "Please make sure") ||
        starts_with(line, "and the repository exists")) {
      continue;
    }
    if (!out.empty()) out += "; ";
    out += line;
  }
  if (out.size() > kMaxReason) out = "..." + std::string(utf8_tail(out, kMaxReason));
  return to_valid_utf8(out);
}

struct Git {
  const CheckoutSpec& spec;
  process::Environment env;

  Result<process::Captured> run(std::vector<std::string> args) const {
    const auto now = Clock::now();
    if (now >= spec.deadline) return make_error(Errc::timeout, "checkout timed out");
    process::Options o;
    o.argv = {"git"};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.env = env;
    o.cwd = spec.directory;
    o.timeout = std::min<std::chrono::milliseconds>(
        kGitTimeout, std::chrono::duration_cast<std::chrono::milliseconds>(spec.deadline - now));
    o.kill_grace = std::chrono::seconds(2);
    auto r = process::capture(o, 64 * 1024);
    if (!r) return make_error(Errc::internal, "cannot run git: " + r.error().message);
    if (r->exit.timed_out) {
      return make_error(Errc::timeout, "git " + args.front() + " " + r->exit.describe() + " (" +
                                           redact_url(spec.clone_url) + ")");
    }
    return r;
  }
};

}  // namespace

bool is_commit_sha(const std::string& sha) {
  if (sha.size() != 40 && sha.size() != 64) return false;
  return std::all_of(sha.begin(), sha.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string redact_url(const std::string& url) {
  const auto start = url.find("://");
  if (start == std::string::npos) return url;
  const auto host_start = start + 3;
  const auto path_start = url.find('/', host_start);
  const auto at = url.rfind('@', path_start == std::string::npos ? std::string::npos : path_start);
  if (at == std::string::npos || at < host_start) return url;
  return url.substr(0, host_start) + url.substr(at + 1);
}

std::vector<std::string> checkout_secrets(const CheckoutSpec& spec) {
  std::vector<std::string> out;
  if (spec.token && !spec.token->empty()) {
    out.push_back(*spec.token);
    out.push_back(basic_credential(*spec.token));
  }
  const auto start = spec.clone_url.find("://");
  if (start != std::string::npos) {
    const std::string clean = redact_url(spec.clone_url);
    if (clean != spec.clone_url) {
      const std::string userinfo = spec.clone_url.substr(start + 3, spec.clone_url.size() - clean.size());
      const std::string info = userinfo.substr(0, userinfo.size() - 1);  // without '@'
      const auto colon = info.find(':');
      out.push_back(colon == std::string::npos ? info : info.substr(colon + 1));
    }
  }
  return out;
}

Result<process::Environment> git_environment(const CheckoutSpec& spec) {
  const std::string scheme = scheme_of(spec.clone_url);
  const bool local_path = scheme.empty() && starts_with(spec.clone_url, "/");
  if (!local_path && scheme != "https" && scheme != "http" && scheme != "ssh" && scheme != "file") {
    return make_error(Errc::invalid_argument, "clone URL " + redact_url(spec.clone_url) +
                                                  ": only https://, http://, ssh://, file:// and absolute paths are supported");
  }
  process::Environment env = spec.base_env;
  env["LC_ALL"] = "C";                  // git's messages are classified by text
  env["GIT_TERMINAL_PROMPT"] = "0";     // fail instead of asking for a password
  env["GIT_CONFIG_GLOBAL"] = "/dev/null";  // no user config (credential helpers, url rewrites)
  env["GIT_ASKPASS"] = "true";          // never prompt; an empty answer fails auth
  env["SSH_ASKPASS"] = "true";
  env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes";
  std::vector<std::pair<std::string, std::string>> config = {
      {"remote.origin.url", spec.clone_url},
      {"uploadpack.allowReachableSHA1InWant", "true"},  // file:// remotes: fetch a SHA directly
      {"protocol.ext.allow", "never"},
      {"advice.detachedHead", "false"},
      {"init.defaultBranch", "main"},
      {"fetch.recurseSubmodules", "false"},
      {"gc.auto", "0"},
      {"maintenance.auto", "false"},
  };
  if (spec.token && !spec.token->empty()) {
    if (scheme != "https" && !(scheme == "http" && is_loopback(host_of(spec.clone_url)))) {
      return make_error(Errc::invalid_argument, "clone URL " + redact_url(spec.clone_url) +
                                                    ": a clone token is only sent over https");
    }
    config.emplace_back("http." + origin_of(spec.clone_url) + ".extraHeader",
                        "Authorization: Basic " + basic_credential(*spec.token));
  }
  env["GIT_CONFIG_COUNT"] = std::to_string(config.size());
  for (std::size_t i = 0; i < config.size(); ++i) {
    env["GIT_CONFIG_KEY_" + std::to_string(i)] = config[i].first;
    env["GIT_CONFIG_VALUE_" + std::to_string(i)] = config[i].second;
  }
  return env;
}

Result<CheckoutInfo> checkout(const CheckoutSpec& spec) {
  const auto start = Clock::now();
  const std::string where = redact_url(spec.clone_url);
  if (!is_commit_sha(spec.sha)) {
    return make_error(Errc::invalid_argument, "refusing to check out '" + to_valid_utf8(spec.sha.substr(0, 80)) +
                                                  "': not a 40- or 64-hex commit SHA");
  }
  auto env = git_environment(spec);
  if (!env) return std::move(env).error();
  const Git git{spec, std::move(*env)};

  std::vector<std::string> init = {"init", "-q"};
  if (spec.sha.size() == 64) init.push_back("--object-format=sha256");
  auto r = git.run(init);
  if (!r) return std::move(r).error();
  if (!r->exit.ok()) return make_error(Errc::internal, "git init failed: " + git_says(r->err, spec));

  CheckoutInfo info;
  r = git.run({"fetch", "-q", "--no-tags", "--no-write-fetch-head", "--depth", "1", "origin", spec.sha});
  // --no-write-fetch-head keeps FETCH_HEAD out of it: the SHA itself is checked out.
  if (!r) return std::move(r).error();
  if (!r->exit.ok()) {
    const std::string err = r->err;
    if (auth_failure(err)) return make_error(Errc::unavailable, "authentication failed for " + where + ": " + git_says(err, spec));
    if (unreachable(err)) return make_error(Errc::unavailable, "repository " + where + " is unreachable: " + git_says(err, spec));
    // The server does not serve unadvertised objects (or the commit is not
    // there): fetch every branch and tag, then look for the commit.
    info.shallow = false;
    r = git.run({"fetch", "-q", "--no-tags", "origin", "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"});
    if (!r) return std::move(r).error();
    if (!r->exit.ok()) {
      const std::string full_err = r->err;
      if (auth_failure(full_err)) {
        return make_error(Errc::unavailable, "authentication failed for " + where + ": " + git_says(full_err, spec));
      }
      if (unreachable(full_err)) {
        return make_error(Errc::unavailable, "repository " + where + " is unreachable: " + git_says(full_err, spec));
      }
      return make_error(Errc::unavailable, "cannot fetch " + where + ": " + git_says(full_err, spec));
    }
    r = git.run({"cat-file", "-e", spec.sha + "^{commit}"});
    if (!r) return std::move(r).error();
    if (!r->exit.ok()) return make_error(Errc::not_found, "commit " + spec.sha + " not found in " + where);
  }
  r = git.run({"checkout", "-q", "--detach", spec.sha});
  if (!r) return std::move(r).error();
  if (!r->exit.ok()) return make_error(Errc::internal, "git checkout " + spec.sha + " failed: " + git_says(r->err, spec));
  r = git.run({"rev-parse", "HEAD"});
  if (!r) return std::move(r).error();
  std::string head = r->out;
  while (!head.empty() && (head.back() == '\n' || head.back() == '\r')) head.pop_back();
  if (!r->exit.ok() || head != spec.sha) {
    return make_error(Errc::internal, "checked out " + head + " instead of " + spec.sha);
  }
  info.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  return info;
}

}  // namespace conveyor::test_runner
