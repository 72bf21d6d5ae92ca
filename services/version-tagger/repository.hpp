// What the version stage's handler talks to, as small interfaces over plain
// types: the run's git repository (git_repository.hpp implements it with the
// git CLI), GitHub Releases (github_releases.hpp, over libs/webclient), and
// the record of tags conveyor created (app.cpp, over store::CreatedTags).
// Unit tests substitute fakes for all three.
//
// Error codes carry the decision the handler makes:
//   not_found         the branch, the commit or the file does not exist
//   conflict          the branch moved (push rejected) or the tag appeared meanwhile
//   invalid_argument  refused for good: authentication, a protected branch, a
//                     path that is not a regular file, a malformed name
//   unavailable       the remote cannot be reached (network, server errors)
//   timeout           a git command ran out of time
//   internal          git itself misbehaved locally (disk, a bug)
// Messages never contain a token, and URLs in them have no credentials.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "conveyor/release/commit.hpp"
#include "conveyor/result/result.hpp"

namespace conveyor::version_tagger {

// Author and committer of the release commit, tagger of the tag.
struct Author {
  std::string name = "conveyor";
  std::string email = "conveyor@localhost";
};

// Where the repository lives.
struct Remote {
  std::string url;                   // clone URL (https, http, ssh, file, or an absolute path)
  std::optional<std::string> token;  // https token, sent as an Authorization header
};

// A tag and the commit it points at.
struct TagInfo {
  std::string object;                // what refs/tags/<name> holds (the tag object when annotated)
  std::string commit;                // the commit it peels to
  std::vector<std::string> parents;  // that commit's parents
  std::string subject;               // that commit's first line
  std::string date;                  // that commit's committer date, YYYY-MM-DD (UTC when conveyor made it)
};

// One repository as the stage needs it: a private copy of its history
// (bare; no working tree) that can read tags and commits, make the release
// commit and tag, and push them.
class Repository {
 public:
  virtual ~Repository() = default;

  // Fetches every tag, `branch` (when not empty) and `sha` (with its
  // history). Returns the fetched tip of `branch` (std::nullopt when `branch`
  // is empty). not_found when the branch or the commit does not exist.
  virtual Result<std::optional<std::string>> fetch(const std::string& branch, const std::string& sha) = 0;

  // The branch's tip on the remote now (ls-remote); "" when it does not exist.
  virtual Result<std::string> remote_tip(const std::string& branch) = 0;

  // Tags reachable from `sha` (`git tag --merged`), any name.
  virtual Result<std::vector<std::string>> tags_merged(const std::string& sha) = 0;

  // The tag `name` as fetched (or created), std::nullopt when there is none.
  virtual Result<std::optional<TagInfo>> find_tag(const std::string& name) = 0;

  // Commits after tag `since` up to `sha` (all of `sha`'s history when
  // `since` is empty), newest first, merge commits included: full SHA and raw
  // message (`git log --format=%H%n%B`).
  virtual Result<std::vector<release::Commit>> commits_since(const std::string& since, const std::string& sha) = 0;

  // A file of `commit` by its path from the repository root; std::nullopt
  // when absent. invalid_argument when the path is not a regular file there
  // (a directory, a symbolic link, a submodule).
  virtual Result<std::optional<std::string>> read_file(const std::string& commit, const std::string& path) = 0;

  // A new commit whose only parent is `parent` and whose tree is `parent`'s
  // with `path` set to `content` (mode kept, 100644 for a new file). Returns
  // its SHA. Nothing is pushed.
  virtual Result<std::string> commit_file(const std::string& parent, const std::string& path,
                                          const std::string& content, const std::string& message,
                                          const Author& author) = 0;

  // An annotated tag `name` on `commit`; returns the tag object's SHA.
  virtual Result<std::string> create_tag(const std::string& name, const std::string& commit,
                                         const std::string& message, const Author& tagger) = 0;

  // Pushes `commit` to `branch` and tag `tag` in one atomic push, only if
  // the remote branch is still at `expected` (nothing is forced: `commit`'s
  // parent is `expected`). conflict when the branch moved or the tag exists
  // on the remote; invalid_argument when the remote refused the push.
  virtual Result<void> push_release(const std::string& branch, const std::string& expected,
                                    const std::string& commit, const std::string& tag) = 0;
};

class Repositories {
 public:
  virtual ~Repositories() = default;
  // A private copy of `remote` in `dir` (an existing, empty directory).
  virtual Result<std::unique_ptr<Repository>> open(const Remote& remote, const std::string& dir) = 0;
};

// A GitHub Release for a pushed tag.
struct ReleaseRequest {
  std::string repository;  // "owner/repo"
  std::string tag;         // tag_name
  std::string name;        // release title
  std::string body;        // the changelog section (Markdown)
  bool prerelease = false;
};

class Releases {
 public:
  virtual ~Releases() = default;
  // Creates the release; a release that already exists for the tag is fine.
  // Returns its html_url ("" when unknown). invalid_argument when refused
  // (4xx), unavailable when GitHub could not be reached after retries.
  virtual Result<std::string> create(const ReleaseRequest& release) = 0;
};

// Tags conveyor is about to push, so the push webhook GitHub sends for them
// starts no second run (store::CreatedTags; the webhook consults it).
class CreatedTagLedger {
 public:
  virtual ~CreatedTagLedger() = default;
  // `shas`: the tagged commit and the annotated tag object.
  virtual Result<void> record(const std::string& repository, const std::string& tag,
                              const std::vector<std::string>& shas) = 0;
};

}  // namespace conveyor::version_tagger
