// An in-memory GitOps remote for the handler's unit tests: one branch with
// files and a commit history; checkouts push with fast-forward semantics.
#pragma once

#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "conveyor/gitops/gitops.hpp"

namespace conveyor::helm_updater::test {

using namespace conveyor::gitops;  // NOLINT: the fake implements libs/gitops

inline std::string fake_sha(int n) {
  char buf[41];
  std::snprintf(buf, sizeof buf, "%040x", n);
  return buf;
}

struct FakeCommit {
  std::string id;
  std::string message;
  Author author;
  std::map<std::string, std::string> files;
};

struct FakeRemote {
  std::vector<FakeCommit> commits;             // the branch, oldest first
  std::optional<Error> clone_error;            // the next clone fails with this
  std::optional<Error> push_error;             // every push fails with this (not a conflict)
  std::function<void(FakeRemote&)> before_push;  // runs before each push: another writer
  int next_id = 100;
  int clones = 0;
  int pushes = 0;
  int refreshes = 0;
  std::vector<Remote> remotes_seen;            // what clone() was given
  std::vector<std::string> dirs_seen;

  const FakeCommit& tip() const { return commits.back(); }
  // Another writer commits to the branch.
  void commit_by_someone_else(const std::string& path, const std::string& content) {
    FakeCommit c = tip();
    c.id = fake_sha(next_id++);
    c.message = "someone else";
    c.files[path] = content;
    commits.push_back(c);
  }
};

class FakeCheckout : public Checkout {
 public:
  explicit FakeCheckout(FakeRemote& remote) : remote_(remote) { reset_to_tip(); }
  // Detached at `c` (base_ stays the tip: a push from here is a fast-forward only from the tip).
  FakeCheckout(FakeRemote& remote, const FakeCommit& c) : remote_(remote) {
    base_ = remote_.tip().id;
    head_ = c.id;
    files_ = c.files;
  }
  std::string head() const override { return head_; }
  Result<std::string> read(const std::string& path) override {
    auto it = files_.find(path);
    if (it == files_.end()) return make_error(Errc::not_found, "'" + path + "' does not exist");
    return it->second;
  }
  Result<void> write(const std::string& path, const std::string& content) override {
    files_[path] = content;
    return {};
  }
  Result<std::string> commit(const std::string&, const std::string& message, const Author& author) override {
    pending_ = FakeCommit{fake_sha(remote_.next_id++), message, author, files_};
    head_ = pending_->id;
    return head_;
  }
  Result<void> push() override {
    ++remote_.pushes;
    if (remote_.before_push) remote_.before_push(remote_);
    if (remote_.push_error) return *remote_.push_error;
    if (!pending_) return {};
    if (remote_.tip().id != base_) return make_error(Errc::conflict, "[rejected] (fetch first)");
    remote_.commits.push_back(*pending_);
    base_ = pending_->id;
    pending_.reset();
    return {};
  }
  Result<std::string> refresh() override {
    ++remote_.refreshes;
    reset_to_tip();
    return head_;
  }

 private:
  void reset_to_tip() {
    base_ = head_ = remote_.tip().id;
    files_ = remote_.tip().files;
    pending_.reset();
  }
  FakeRemote& remote_;
  std::string base_, head_;
  std::map<std::string, std::string> files_;
  std::optional<FakeCommit> pending_;
};

class FakeGitOps : public GitOps {
 public:
  explicit FakeGitOps(FakeRemote& remote) : remote_(remote) {}
  Result<std::unique_ptr<Checkout>> clone(const Remote& remote, const std::string& dir) override {
    ++remote_.clones;
    remote_.remotes_seen.push_back(remote);
    remote_.dirs_seen.push_back(dir);
    if (remote_.clone_error) {
      Error e = *remote_.clone_error;
      remote_.clone_error.reset();
      return e;
    }
    return std::unique_ptr<Checkout>(std::make_unique<FakeCheckout>(remote_));
  }
  Result<std::unique_ptr<Checkout>> checkout(const Remote& remote, const std::string& commit,
                                             const std::string& dir) override {
    remote_.remotes_seen.push_back(remote);
    remote_.dirs_seen.push_back(dir);
    for (const auto& c : remote_.commits) {
      if (c.id == commit) return std::unique_ptr<Checkout>(std::make_unique<FakeCheckout>(remote_, c));
    }
    return make_error(Errc::not_found, "commit " + commit + " is not in the remote");
  }

 private:
  FakeRemote& remote_;
};

}  // namespace conveyor::helm_updater::test
