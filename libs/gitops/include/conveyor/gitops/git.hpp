// GitOps over the git CLI (libs/process: argv vectors, never a shell).
//
// - Every command gets a minimal environment: PATH, HOME, locale and proxy
//   variables of the service, no terminal prompts, no system or global git
//   config (GIT_CONFIG_NOSYSTEM, GIT_CONFIG_GLOBAL=/dev/null), no commit
//   signing, no hooks.
// - An https token travels as `http.extraHeader: Authorization: Basic ...`
//   through GIT_CONFIG_COUNT/KEY/VALUE in the environment: never in argv or a
//   URL. Credentials written into the URL (https://user:pass@host/...) are
//   moved into that header too (unless a token is set), so git's argv and the
//   clone's .git/config only ever hold the URL without them. Error messages
//   have the token and passwords (plain and encoded) masked and the URL's
//   credentials removed.
// - Shallow: `clone --depth 1 --single-branch --branch <b>`; a rejected push
//   is followed by `fetch --depth 1` + `reset --hard FETCH_HEAD`.
// - An exact commit: `init`, `fetch --depth 1 origin <sha>` (GitHub, GitLab
//   and protocol v2 servers serve any reachable commit by id); when the
//   server refuses a commit it does not advertise (protocol v0 without
//   uploadpack.allowReachableSHA1InWant), a full fetch of its branches; then
//   `checkout --detach <sha>`.
// - Files are read and written only when they are regular files inside the
//   clone, reached without symbolic links.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "conveyor/process/process.hpp"
#include "conveyor/gitops/gitops.hpp"

namespace conveyor::gitops {

struct GitOptions {
  std::string program = "git";
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};  // per git command
};

class GitCli : public GitOps {
 public:
  explicit GitCli(GitOptions options = {});
  Result<std::unique_ptr<Checkout>> clone(const Remote& remote, const std::string& dir) override;
  Result<std::unique_ptr<Checkout>> checkout(const Remote& remote, const std::string& commit,
                                             const std::string& dir) override;

 private:
  GitOptions options_;
};

// The environment of every git command (see above); with a token, the
// GIT_CONFIG_* entries carrying the Authorization header.
process::Environment git_environment(const std::optional<std::string>& token);

// The value of the Authorization header for a token: "Basic " +
// base64("x-access-token:<token>") (what GitHub and most servers accept).
std::string authorization_header(const std::string& token);

// How git reaches a remote without credentials in argv, URLs or messages
// (shared by every git user: gitops, the version-tagger's repository).
struct RemoteAccess {
  std::string url;                    // the URL without user information (redact_url)
  std::optional<std::string> header;  // Authorization value: from the token, else from the URL's user:password
  // What must never leave the process, longest first, each with its
  // replacement: "***" for the token and passwords (plain, base64, inside the
  // header), the redacted URL for the URL as configured.
  std::vector<std::pair<std::string, std::string>> masks;
};

// The access for `url` (any scheme; only scheme://user:password@ URLs carry
// credentials) and an optional https token (empty = none); never fails.
RemoteAccess remote_access(const std::string& url, const std::optional<std::string>& token);

// `text` with every mask of `access` applied (for error messages and logs).
std::string mask(const RemoteAccess& access, std::string text);

}  // namespace conveyor::gitops
