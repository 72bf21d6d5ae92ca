// In-memory stand-ins for the version handler's interfaces: a "remote" with
// commits, branches and tags, repositories copied from it, GitHub Releases
// and the created-tag ledger. One shared journal records what happened in
// which order (fetch, record, push, release), so tests can assert on it.
#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "repository.hpp"

namespace conveyor::version_tagger::testing {

struct FakeCommit {
  std::string sha;
  std::string message;
  std::vector<std::string> parents;
  std::map<std::string, std::string> files;
  std::string date = "2024-05-01";
  int order = 0;  // creation order: newer commits have higher numbers
};

struct FakeTag {
  std::string object;
  std::string commit;
};

class FakeRemote {
 public:
  // A commit on `branch` (its tip becomes the parent); returns its SHA.
  std::string commit(const std::string& branch, const std::string& message,
                     std::map<std::string, std::string> files = {}) {
    FakeCommit c;
    c.sha = next_sha();
    c.message = message;
    if (branches.count(branch)) {
      c.parents = {branches[branch]};
      c.files = commits.at(branches[branch]).files;
    }
    for (auto& [k, v] : files) c.files[k] = v;
    c.order = ++counter_;
    commits[c.sha] = c;
    branches[branch] = c.sha;
    return c.sha;
  }
  // A merge commit of `other` into `branch`.
  std::string merge(const std::string& branch, const std::string& other, const std::string& message) {
    const std::string sha = commit(branch, message);
    commits[sha].parents.push_back(branches.at(other));
    return sha;
  }
  void tag(const std::string& name, const std::string& sha) { tags[name] = {"tagobj-" + sha.substr(0, 8), sha}; }

  std::string next_sha() {
    static const char* hex = "0123456789abcdef";
    std::string s(40, '0');
    unsigned v = ++sha_counter_ * 2654435761u;
    for (int i = 0; i < 40; ++i) s[i] = hex[(v >> ((i % 8) * 4)) & 15];
    s[0] = hex[sha_counter_ % 16];
    s[1] = hex[(sha_counter_ / 16) % 16];
    return s;
  }

  std::map<std::string, FakeCommit> commits;
  std::map<std::string, std::string> branches;
  std::map<std::string, FakeTag> tags;
  std::vector<std::string> journal;  // "fetch", "record v1.2.0", "push v1.2.0", "release v1.2.0"

  // Scripted failures and races.
  std::optional<Error> open_error, fetch_error, push_error;
  std::function<void()> before_push;  // e.g. someone else pushes meanwhile
  int pushes = 0;
  std::vector<std::string> opened_urls;
  std::vector<std::optional<std::string>> opened_tokens;
  Author last_author;             // of the last commit_file
  std::string last_tag_message;   // of the last create_tag

 private:
  int counter_ = 0;
  unsigned sha_counter_ = 0;
};

class FakeRepository : public Repository {
 public:
  explicit FakeRepository(FakeRemote& remote) : remote_(remote) {}

  Result<std::optional<std::string>> fetch(const std::string& branch, const std::string& sha) override {
    remote_.journal.push_back("fetch");
    if (remote_.fetch_error) return *remote_.fetch_error;
    tags_ = remote_.tags;
    if (!remote_.commits.count(sha)) return make_error(Errc::not_found, "commit " + sha + " not found");
    if (branch.empty()) return std::optional<std::string>{};
    if (!remote_.branches.count(branch)) return make_error(Errc::not_found, "branch " + branch + " does not exist");
    return std::optional<std::string>(remote_.branches.at(branch));
  }

  Result<std::string> remote_tip(const std::string& branch) override {
    return remote_.branches.count(branch) ? remote_.branches.at(branch) : std::string();
  }

  Result<std::vector<std::string>> tags_merged(const std::string& sha) override {
    const auto reach = ancestors(sha);
    std::vector<std::string> out;
    for (const auto& [name, t] : tags_) {
      if (reach.count(t.commit)) out.push_back(name);
    }
    return out;
  }

  Result<std::optional<TagInfo>> find_tag(const std::string& name) override {
    if (!tags_.count(name)) return std::optional<TagInfo>{};
    const auto& t = tags_.at(name);
    const auto& c = remote_.commits.at(t.commit);
    std::string subject = c.message.substr(0, c.message.find('\n'));
    return std::optional<TagInfo>(TagInfo{t.object, t.commit, c.parents, subject, c.date});
  }

  Result<std::vector<release::Commit>> commits_since(const std::string& since, const std::string& sha) override {
    auto reach = ancestors(sha);
    if (!since.empty()) {
      for (const auto& s : ancestors(tags_.at(since).commit)) reach.erase(s);
    }
    std::vector<const FakeCommit*> list;
    for (const auto& s : reach) list.push_back(&remote_.commits.at(s));
    std::sort(list.begin(), list.end(), [](auto* a, auto* b) { return a->order > b->order; });
    std::vector<release::Commit> out;
    for (auto* c : list) out.push_back({c->sha, c->message});
    return out;
  }

  Result<std::optional<std::string>> read_file(const std::string& commit, const std::string& path) override {
    const auto& files = remote_.commits.at(commit).files;
    if (path == "link.md") return make_error(Errc::invalid_argument, "link.md is not a regular file (mode 120000)");
    if (!files.count(path)) return std::optional<std::string>{};
    return std::optional<std::string>(files.at(path));
  }

  Result<std::string> commit_file(const std::string& parent, const std::string& path, const std::string& content,
                                  const std::string& message, const Author& author) override {
    FakeCommit c;
    c.sha = remote_.next_sha();
    c.message = message;
    c.parents = {parent};
    c.files = remote_.commits.at(parent).files;
    c.files[path] = content;
    c.date = "2024-06-15";
    c.order = 100000 + static_cast<int>(remote_.commits.size());
    remote_.commits[c.sha] = c;
    remote_.last_author = author;
    return c.sha;
  }

  Result<std::string> create_tag(const std::string& name, const std::string& commit, const std::string& message,
                                 const Author&) override {
    if (tags_.count(name)) return make_error(Errc::conflict, "tag " + name + " already exists");
    tags_[name] = {"tagobj-" + commit.substr(0, 8), commit};
    remote_.last_tag_message = message;
    return tags_[name].object;
  }

  Result<void> push_release(const std::string& branch, const std::string& expected, const std::string& commit,
                            const std::string& tag) override {
    ++remote_.pushes;
    if (remote_.before_push) remote_.before_push();
    remote_.journal.push_back("push " + tag);
    if (remote_.push_error) return *remote_.push_error;
    if (remote_.branches[branch] != expected) return make_error(Errc::conflict, "branch " + branch + " moved: stale info");
    if (remote_.tags.count(tag)) return make_error(Errc::conflict, "tag " + tag + " already exists on the remote");
    remote_.branches[branch] = commit;
    remote_.tags[tag] = tags_.at(tag);
    return {};
  }


 private:
  std::set<std::string> ancestors(const std::string& sha) const {
    std::set<std::string> seen;
    std::vector<std::string> todo{sha};
    while (!todo.empty()) {
      const std::string s = todo.back();
      todo.pop_back();
      if (!remote_.commits.count(s) || !seen.insert(s).second) continue;
      for (const auto& p : remote_.commits.at(s).parents) todo.push_back(p);
    }
    return seen;
  }

  FakeRemote& remote_;
  std::map<std::string, FakeTag> tags_;
};

class FakeRepositories : public Repositories {
 public:
  explicit FakeRepositories(FakeRemote& remote) : remote_(remote) {}
  Result<std::unique_ptr<Repository>> open(const Remote& remote, const std::string&) override {
    remote_.opened_urls.push_back(remote.url);
    remote_.opened_tokens.push_back(remote.token);
    if (remote_.open_error) return *remote_.open_error;
    return std::unique_ptr<Repository>(std::make_unique<FakeRepository>(remote_));
  }

 private:
  FakeRemote& remote_;
};

class FakeReleases : public Releases {
 public:
  explicit FakeReleases(FakeRemote& remote) : remote_(remote) {}
  Result<std::string> create(const ReleaseRequest& release) override {
    remote_.journal.push_back("release " + release.tag);
    requests.push_back(release);
    if (error) return *error;
    return "https://github.example/" + release.repository + "/releases/tag/" + release.tag;
  }
  std::vector<ReleaseRequest> requests;
  std::optional<Error> error;

 private:
  FakeRemote& remote_;
};

class FakeLedger : public CreatedTagLedger {
 public:
  explicit FakeLedger(FakeRemote& remote) : remote_(remote) {}
  Result<void> record(const std::string& repository, const std::string& tag,
                      const std::vector<std::string>& shas) override {
    remote_.journal.push_back("record " + tag);
    if (error) return *error;
    records.push_back({repository, tag, shas});
    return {};
  }
  struct Entry {
    std::string repository, tag;
    std::vector<std::string> shas;
  };
  std::vector<Entry> records;
  std::optional<Error> error;

 private:
  FakeRemote& remote_;
};

}  // namespace conveyor::version_tagger::testing
