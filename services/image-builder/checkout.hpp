// Checking out the run's commit into a fresh directory with the git CLI
// (argv only, never a shell): `git init`, `git fetch --depth 1 origin <sha>`
// (falling back to a full fetch for servers that refuse to serve a commit by
// id), `git checkout --detach FETCH_HEAD` / `<sha>`.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "command.hpp"
#include "conveyor/events/run.hpp"
#include "conveyor/result/result.hpp"

namespace conveyor::image_builder {

// The commit, checked out.
struct CheckoutResult {
  bool ok = true;
  std::string reason;               // why not (git's last error lines)
  std::int64_t commit_time = 0;     // committer time (epoch seconds): the image's timestamp
};

class Source {
 public:
  virtual ~Source() = default;
  // Checks out run.sha of run.clone_url into `dir` (which exists and is
  // empty). A commit that cannot be had is a CheckoutResult with ok = false;
  // an Error means git could not be started.
  virtual Result<CheckoutResult> checkout(const events::RunContext& run, const std::string& dir) = 0;
};

// True for 40 (SHA-1) or 64 (SHA-256) lower-case hex characters.
bool is_commit_id(const std::string& sha) noexcept;

class GitSource : public Source {
 public:
  explicit GitSource(CommandRunner runner, std::string program = "git",
                     std::chrono::milliseconds timeout = std::chrono::minutes(10));
  Result<CheckoutResult> checkout(const events::RunContext& run, const std::string& dir) override;

 private:
  Result<CommandResult> git(const std::string& dir, std::vector<std::string> args);
  CommandRunner runner_;
  std::string program_;
  std::chrono::milliseconds timeout_;
};

}  // namespace conveyor::image_builder
