// Checking out exactly one commit of a repository into an empty directory
// with the git CLI: `git init`, a shallow fetch of the SHA
// (`git fetch --depth 1 origin <sha>`), falling back to a full fetch of
// branches and tags where the server refuses unadvertised objects, then
// `git checkout --detach`. Nothing from the webhook reaches git's argv but the
// validated SHA; the clone URL and any token travel in git's environment
// (GIT_CONFIG_COUNT / GIT_CONFIG_KEY_n / GIT_CONFIG_VALUE_n), never in argv,
// logs or events.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "conveyor/process/process.hpp"
#include "conveyor/result/result.hpp"

namespace conveyor::test_runner {

struct CheckoutSpec {
  std::string clone_url;  // https://, http://, ssh://, file:// or an absolute path
  std::string sha;        // 40 or 64 lower-case hex
  std::string directory;  // existing, empty
  // Token for an http(s) clone URL, sent as "Authorization: Basic
  // base64(x-access-token:<token>)" to that URL's host only. Refused for
  // http:// unless the host is loopback (a token never crosses a network in
  // clear text).
  std::optional<std::string> token;
  process::Environment base_env;  // PATH, HOME, ... (see handler.cpp)
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

struct CheckoutInfo {
  bool shallow = true;  // false when the full-fetch fallback was needed
  std::chrono::milliseconds duration{0};
};

// Checks out `spec.sha`. Errors carry a reason fit for an event (URL without
// credentials, secrets masked): invalid_argument (malformed SHA or URL,
// a token over plain http), unavailable ("authentication failed for ...",
// "repository ... is unreachable: ..."), not_found ("commit ... not found
// in ..."), timeout, internal (git missing or misbehaving).
Result<CheckoutInfo> checkout(const CheckoutSpec& spec);

// --- building blocks, exposed for tests ---

// 40 or 64 lower-case hex digits.
bool is_commit_sha(const std::string& sha);

// The URL without userinfo ("https://user:pw@host/x" -> "https://host/x").
std::string redact_url(const std::string& url);

// Values to mask in git's output: the token, its Basic credential, and a
// password in the URL's userinfo.
std::vector<std::string> checkout_secrets(const CheckoutSpec& spec);

// git's environment for `spec`: base_env plus non-interactive settings and
// the configuration (remote URL, auth header) as GIT_CONFIG_* variables.
// Errors: invalid_argument for a URL scheme other than those above, or a
// token with a URL that must not carry one.
Result<process::Environment> git_environment(const CheckoutSpec& spec);

}  // namespace conveyor::test_runner
