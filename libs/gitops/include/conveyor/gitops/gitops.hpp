// A GitOps repository as conveyor's services see it (helm-updater writes
// values, the deployer commits their revert on rollback): clone a branch, read
// and write a file, commit, push, and catch up with the remote when a push was
// rejected. git.hpp implements it with the git CLI; unit tests use a fake.
//
// Error codes carry the decision the handler makes:
//   conflict          push rejected because the branch moved (fetch, re-apply, retry)
//   not_found         the branch or the file does not exist
//   invalid_argument  refused for good: authentication, a protected branch, a
//                     file that is a symlink or outside the repository
//   unavailable       anything else (network, server errors): retried later
// Messages never contain the token, and URLs in them have no credentials.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "conveyor/result/result.hpp"

namespace conveyor::gitops {

// Commit author (and committer).
struct Author {
  std::string name = "conveyor";
  std::string email = "conveyor@localhost";
};

// Where to clone from and push to.
struct Remote {
  std::string url;                   // clone URL (https, ssh, file, or a path)
  std::string branch = "main";
  std::optional<std::string> token;  // https token, sent as an Authorization header
};

// A clone of one branch in a private directory.
class Checkout {
 public:
  virtual ~Checkout() = default;
  // The commit checked out (after commit(): the new commit).
  virtual std::string head() const = 0;
  // A file of the working tree by its path relative to the repository root.
  virtual Result<std::string> read(const std::string& path) = 0;
  virtual Result<void> write(const std::string& path, const std::string& content) = 0;
  // Commits the file; returns the new commit id.
  virtual Result<std::string> commit(const std::string& path, const std::string& message, const Author& author) = 0;
  // Pushes HEAD to the branch (never forced).
  virtual Result<void> push() = 0;
  // Fetches the branch and resets the working tree to its tip, dropping a
  // local commit the remote refused; returns the tip.
  virtual Result<std::string> refresh() = 0;
};

class GitOps {
 public:
  virtual ~GitOps() = default;
  // Clones `remote.branch` into `dir` (which must not exist yet).
  virtual Result<std::unique_ptr<Checkout>> clone(const Remote& remote, const std::string& dir) = 0;
  // Checks out exactly `commit` (a full hex object id) of `remote` into `dir`
  // (which must not exist yet), detached: what a deploy reads must be the
  // commit a stage made, not wherever the branch has moved since.
  // `remote.branch` is where push() would go. Errors: invalid_argument (not
  // a full object id, authentication), not_found (the remote does not have
  // the commit), unavailable.
  virtual Result<std::unique_ptr<Checkout>> checkout(const Remote& remote, const std::string& commit,
                                                     const std::string& dir) = 0;
};

// Is an error of the interfaces above the caller's final answer (not_found,
// invalid_argument, conflict left after its retries) rather than a reason to
// retry later (unavailable)?
bool permanent(const Error& e);

// A private directory for one request's clone, <base>/<request id with
// characters other than [A-Za-z0-9_-] as '_'>-XXXXXX (mkdtemp: unique per
// attempt, so a redelivery racing a slow first attempt gets its own tree),
// removed with everything in it when the Workspace is destroyed.
class Workspace {
 public:
  // Creates `base` if needed and the directory. Errors: unavailable.
  static Result<std::unique_ptr<Workspace>> create(const std::string& base, const std::string& request_id);
  ~Workspace();
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  const std::string& dir() const { return dir_; }

 private:
  explicit Workspace(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

// `url` without user information ("https://user:token@host/x" -> "https://host/x"),
// safe for logs, events and outputs.
std::string redact_url(const std::string& url);

}  // namespace conveyor::gitops
