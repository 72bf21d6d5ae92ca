// `conveyor values set FILE KEY=VALUE...` and `conveyor values get FILE KEY`:
// the helm stage's comment-preserving edit (libs/values), by hand.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "commands.hpp"
#include "conveyor/values/values.hpp"

namespace conveyor::cli {
namespace {

namespace fs = std::filesystem;

bool read_all(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return static_cast<bool>(in) || in.eof();
}

// Replaces `path` (through a symlink: its target) atomically, keeping its mode.
bool write_in_place(const std::string& path, const std::string& text, std::string& error) {
  std::error_code ec;
  const fs::path target = fs::canonical(path, ec);
  if (ec) {
    error = ec.message();
    return false;
  }
  struct stat st {};
  if (::stat(target.c_str(), &st) != 0) {
    error = "cannot stat";
    return false;
  }
  std::string tmp = (target.parent_path() / ("." + target.filename().string() + ".conveyor-XXXXXX")).string();
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) {
    error = "cannot create a temporary file next to it";
    return false;
  }
  bool ok = ::fchmod(fd, st.st_mode & 07777) == 0;
  for (std::size_t done = 0; ok && done < text.size();) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) ok = false;
    else done += static_cast<std::size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  ok = ::close(fd) == 0 && ok;
  if (ok && ::rename(tmp.c_str(), target.c_str()) == 0) return true;
  ::unlink(tmp.c_str());
  error = "cannot write";
  return false;
}

// not_found / invalid_argument are the user's to fix (exit 2); the rest is 1.
int exit_code_of(const Error& e) { return e.code == Errc::not_found || e.code == Errc::invalid_argument ? 2 : 1; }

}  // namespace

void add_values_commands(CLI::App& app, int& exit_code) {
  auto* values = app.add_subcommand("values", "edit Helm values files keeping comments and formatting");
  values->require_subcommand(1);

  auto* set = values->add_subcommand(
      "set", "set scalars in FILE in place: KEY is a dotted path (a.b-c.d, list[0], annotations[\"x.io/y\"])");
  static std::string file;
  static std::vector<std::string> assignments;
  static int document = -1;
  static bool dry_run = false;
  set->add_option("file", file, "the YAML file")->required();
  set->add_option("assignments", assignments, "KEY=VALUE, one or more (VALUE is always a string)")->required();
  set->add_option("--document", document, "index (from 0) of the document to edit in a multi-document file")
      ->check(CLI::NonNegativeNumber);
  set->add_flag("--dry-run", dry_run, "print the edited file to stdout instead of writing it");
  set->callback([&exit_code] {
    std::vector<values::Edit> edits;
    for (const auto& a : assignments) {
      auto parsed = values::parse_assignment(a);
      if (!parsed) {
        std::fprintf(stderr, "conveyor: %s\n", parsed.error().message.c_str());
        exit_code = 2;
        return;
      }
      edits.push_back({parsed->path, parsed->value});
    }
    std::string text;
    if (!read_all(file, text)) {
      std::fprintf(stderr, "conveyor: cannot read %s\n", file.c_str());
      exit_code = 1;
      return;
    }
    values::Options options;
    if (document >= 0) options.document = static_cast<std::size_t>(document);
    auto edited = values::set(text, edits, options);
    if (!edited) {
      std::fprintf(stderr, "conveyor: %s: %s\n", file.c_str(), edited.error().message.c_str());
      exit_code = exit_code_of(edited.error());
      return;
    }
    if (dry_run) {
      std::fwrite(edited->text.data(), 1, edited->text.size(), stdout);
      return;
    }
    if (edited->changed()) {
      std::string error;
      if (!write_in_place(file, edited->text, error)) {
        std::fprintf(stderr, "conveyor: %s: %s\n", file.c_str(), error.c_str());
        exit_code = 1;
        return;
      }
    }
    for (std::size_t i = 0; i < edited->changes.size(); ++i) {
      const auto& c = edited->changes[i];
      const std::string before = c.previous ? *c.previous : "null";
      if (c.changed) {
        std::printf("%s:%d: %s: %s -> %s\n", file.c_str(), c.line, c.path.c_str(), before.c_str(),
                    edits[i].value.c_str());
      } else {
        std::printf("%s:%d: %s: unchanged (%s)\n", file.c_str(), c.line, c.path.c_str(), before.c_str());
      }
    }
  });

  auto* get = values->add_subcommand("get", "print the scalar at KEY (\"null\" when empty)");
  static std::string get_file, get_key;
  static int get_document = -1;
  get->add_option("file", get_file, "the YAML file")->required();
  get->add_option("key", get_key, "dotted key path")->required();
  get->add_option("--document", get_document, "index (from 0) of the document in a multi-document file")
      ->check(CLI::NonNegativeNumber);
  get->callback([&exit_code] {
    std::string text;
    if (!read_all(get_file, text)) {
      std::fprintf(stderr, "conveyor: cannot read %s\n", get_file.c_str());
      exit_code = 1;
      return;
    }
    values::Options options;
    if (get_document >= 0) options.document = static_cast<std::size_t>(get_document);
    auto value = values::get(text, get_key, options);
    if (!value) {
      std::fprintf(stderr, "conveyor: %s: %s\n", get_file.c_str(), value.error().message.c_str());
      exit_code = exit_code_of(value.error());
      return;
    }
    std::printf("%s\n", value->has_value() ? (*value)->c_str() : "null");
  });
}

}  // namespace conveyor::cli
