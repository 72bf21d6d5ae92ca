// Test helper: a real git "remote" (a bare repository) and a working clone
// that pushes commits to it, made with the git CLI. For stage services that
// check out code (test-runner, version-tagger, image-builder, helm-updater).
#pragma once

#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "conveyor/process/process.hpp"

namespace conveyor::testing {

class GitRepo {
 public:
  // Creates <dir>/remote.git (bare) and <dir>/work (its clone, branch main).
  explicit GitRepo(const std::string& dir) : bare_(dir + "/remote.git"), work_(dir + "/work") {
    std::filesystem::create_directories(work_);
    git(dir, {"init", "-q", "--bare", "-b", "main", bare_});
    git(work_, {"init", "-q", "-b", "main"});
    git(work_, {"remote", "add", "origin", bare_});
  }

  // Writes files (path relative to the work tree -> content; mode 0755 when the
  // path ends in ".sh"), commits them and pushes main. Returns the commit SHA.
  std::string commit(const std::map<std::string, std::string>& files, const std::string& message = "change") {
    for (const auto& [path, content] : files) {
      const auto full = std::filesystem::path(work_) / path;
      std::filesystem::create_directories(full.parent_path());
      std::ofstream(full, std::ios::binary) << content;
      if (path.size() > 3 && path.compare(path.size() - 3, 3, ".sh") == 0) {
        std::filesystem::permissions(full, std::filesystem::perms::owner_all, std::filesystem::perm_options::add);
      }
    }
    git(work_, {"add", "-A"});
    git(work_, {"commit", "-q", "--allow-empty", "-m", message});
    git(work_, {"push", "-q", "origin", "HEAD:refs/heads/main"});
    return head();
  }

  std::string head() const {
    std::string sha = git(work_, {"rev-parse", "HEAD"});
    while (!sha.empty() && (sha.back() == '\n' || sha.back() == '\r')) sha.pop_back();
    return sha;
  }

  const std::string& bare() const { return bare_; }
  const std::string& work() const { return work_; }
  std::string url() const { return "file://" + bare_; }

  // Runs git in `cwd` with a fixed identity; throws on failure. Returns stdout.
  static std::string git(const std::string& cwd, const std::vector<std::string>& args) {
    process::Options o;
    o.argv = {"git"};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.env = process::inherit({"PATH", "HOME"});
    o.env["GIT_CONFIG_GLOBAL"] = "/dev/null";
    o.env["GIT_AUTHOR_NAME"] = o.env["GIT_COMMITTER_NAME"] = "conveyor tests";
    o.env["GIT_AUTHOR_EMAIL"] = o.env["GIT_COMMITTER_EMAIL"] = "tests@conveyor.invalid";
    o.cwd = cwd;
    o.timeout = std::chrono::seconds(30);
    auto r = process::capture(o);
    if (!r) throw std::runtime_error("git: " + r.error().message);
    if (!r->exit.ok()) throw std::runtime_error("git " + args.front() + " failed: " + r->err);
    return r->out;
  }

 private:
  std::string bare_;
  std::string work_;
};

}  // namespace conveyor::testing
