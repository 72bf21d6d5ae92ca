// Repository over the git CLI (libs/process: argv vectors, never a shell).
//
// - A bare repository per request (`git init --bare`), filled by `git fetch`
//   of every tag, the branch and the commit: the whole history the tags need,
//   and no working tree. The release commit is made with plumbing
//   (hash-object, a private index, write-tree, commit-tree), so nothing in
//   the repository's files is ever checked out or run (no hooks, no filters).
// - Every command gets a minimal environment: PATH, HOME, locale and proxy
//   variables of the service, TZ=UTC, LC_ALL=C, no terminal prompts, no
//   system or global git config, no signing, no hooks.
// - The remote URL and an https token travel as configuration in the
//   environment (GIT_CONFIG_COUNT/KEY/VALUE: remote.origin.url, and
//   `http.<origin>/.extraHeader: Authorization: Basic ...`), never in argv.
//   Credentials written into the URL (https://user:pass@host/...) are moved
//   into that header too (unless a token is set). Error messages have the
//   token and passwords (plain and encoded) masked and URLs without them.
// - Push: `git push --porcelain --atomic --force-with-lease=refs/heads/<b>:<sha>
//   origin <commit>:refs/heads/<b> refs/tags/<tag>`: the branch only moves
//   from the run's commit, and branch and tag land together or not at all.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "conveyor/gitops/git.hpp"
#include "conveyor/process/process.hpp"
#include "repository.hpp"

namespace conveyor::version_tagger {

struct GitOptions {
  std::string program = "git";
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};  // per git command
};

// One repository: a private bare copy of a remote (GitRepositories::open),
// or a local repository read in place (`conveyor version next`: without a
// remote, fetch, remote_tip and push_release fail with invalid_argument and
// nothing else writes to it but commit_file / create_tag, which the CLI
// does not call).
class GitRepository : public Repository {
 public:
  // `dir`: the git directory or working tree commands run in.
  GitRepository(std::string dir, std::optional<Remote> remote, GitOptions options = {});
  ~GitRepository() override;

  // `git init --bare` in the directory (for a copy of a remote).
  Result<void> init();

  // The full SHA of `revision` (a branch, tag or SHA) as a commit.
  // not_found when it does not name a commit.
  Result<std::string> resolve(const std::string& revision);

  Result<std::optional<std::string>> fetch(const std::string& branch, const std::string& sha) override;
  Result<std::string> remote_tip(const std::string& branch) override;
  Result<std::vector<std::string>> tags_merged(const std::string& sha) override;
  Result<std::optional<TagInfo>> find_tag(const std::string& name) override;
  Result<std::vector<release::Commit>> commits_since(const std::string& since, const std::string& sha) override;
  Result<std::optional<std::string>> read_file(const std::string& commit, const std::string& path) override;
  Result<std::string> commit_file(const std::string& parent, const std::string& path, const std::string& content,
                                  const std::string& message, const Author& author) override;
  Result<std::string> create_tag(const std::string& name, const std::string& commit, const std::string& message,
                                 const Author& tagger) override;
  Result<void> push_release(const std::string& branch, const std::string& expected, const std::string& commit,
                            const std::string& tag) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class GitRepositories : public Repositories {
 public:
  explicit GitRepositories(GitOptions options = {});
  Result<std::unique_ptr<Repository>> open(const Remote& remote, const std::string& dir) override;

 private:
  GitOptions options_;
};

// The value of the Authorization header for a token (shared with gitops).
using gitops::authorization_header;

}  // namespace conveyor::version_tagger
