#include "junit.hpp"

#include <pugixml.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "conveyor/config/config.hpp"

namespace conveyor::test_runner {
namespace {

int count_attribute(const pugi::xml_node& node, const char* name) {
  const auto attr = node.attribute(name);
  if (!attr) return 0;
  const int v = attr.as_int(0);
  return v > 0 ? v : 0;
}

bool has_child(const pugi::xml_node& node, const char* name) { return static_cast<bool>(node.child(name)); }

void add_case(const pugi::xml_node& tc, JUnitSummary& s) {
  ++s.tests;
  const bool failure = has_child(tc, "failure");
  const bool error = has_child(tc, "error");
  if (failure) {
    ++s.failures;
  } else if (error) {
    ++s.errors;
  } else if (has_child(tc, "skipped")) {
    ++s.skipped;
  }
  if (failure || error) {
    const std::string classname = tc.attribute("classname").as_string();
    const std::string name = tc.attribute("name").as_string();
    s.failing.push_back(classname.empty() ? name : classname + "." + name);
  }
}

// A <testsuite>: its own cases, its nested suites, or else its totals.
void add_suite(const pugi::xml_node& suite, JUnitSummary& s) {
  bool has_content = false;
  for (const auto& child : suite.children()) {
    const std::string_view name = child.name();
    if (name == "testcase") {
      add_case(child, s);
      has_content = true;
    } else if (name == "testsuite") {
      add_suite(child, s);
      has_content = true;
    }
  }
  if (!has_content) {
    s.tests += count_attribute(suite, "tests");
    s.failures += count_attribute(suite, "failures");
    s.errors += count_attribute(suite, "errors");
    s.skipped += count_attribute(suite, "skipped") + count_attribute(suite, "disabled");
  }
}

}  // namespace

JUnitSummary& JUnitSummary::operator+=(const JUnitSummary& o) {
  tests += o.tests;
  failures += o.failures;
  errors += o.errors;
  skipped += o.skipped;
  failing.insert(failing.end(), o.failing.begin(), o.failing.end());
  return *this;
}

Result<JUnitSummary> parse_junit(std::string_view xml) {
  pugi::xml_document doc;
  const auto parsed = doc.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_auto);
  if (!parsed) {
    return make_error(Errc::invalid_argument, std::string("not well-formed XML (") + parsed.description() +
                                                  " at offset " + std::to_string(parsed.offset) + ")");
  }
  const pugi::xml_node root = doc.document_element();
  const std::string_view root_name = root.name();
  JUnitSummary summary;
  if (root_name == "testsuite") {
    add_suite(root, summary);
  } else if (root_name == "testsuites") {
    bool any_suite = false;
    for (const auto& suite : root.children("testsuite")) {
      add_suite(suite, summary);
      any_suite = true;
    }
    if (!any_suite) {  // totals only
      summary.tests = count_attribute(root, "tests");
      summary.failures = count_attribute(root, "failures");
      summary.errors = count_attribute(root, "errors");
      summary.skipped = count_attribute(root, "skipped") + count_attribute(root, "disabled");
    }
  } else {
    return make_error(Errc::invalid_argument, "the root element is <" + std::string(root_name) +
                                                  ">, not <testsuites> or <testsuite>");
  }
  return summary;
}

Result<JUnitSummary> parse_junit_file(const std::filesystem::path& file) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(file, ec);
  if (ec) return make_error(Errc::not_found, "cannot read JUnit report " + file.string() + ": " + ec.message());
  if (size > kMaxJUnitBytes) {
    return make_error(Errc::invalid_argument, "JUnit report " + file.string() + " is " + std::to_string(size) +
                                                  " bytes, more than the " + std::to_string(kMaxJUnitBytes) +
                                                  " accepted");
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return make_error(Errc::not_found, "cannot open JUnit report " + file.string());
  std::ostringstream text;
  text << in.rdbuf();
  auto summary = parse_junit(text.str());
  if (!summary) return make_error(Errc::invalid_argument, "JUnit report " + file.string() + ": " + summary.error().message);
  return summary;
}

namespace {

// The directory part of a glob before its first wildcard segment ("" = root).
std::string literal_prefix(const std::string& glob) {
  std::string prefix;
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = glob.find('/', start);
    if (slash == std::string::npos) return prefix;  // the last segment is the file pattern
    const std::string segment = glob.substr(start, slash - start);
    if (segment.find_first_of("*?[") != std::string::npos) return prefix;
    prefix += segment + "/";
    start = slash + 1;
  }
}

// config::glob_match, where "**/" may also match no directory at all (as in
// .gitignore and bash's globstar): "**/*.xml" matches "report.xml" too.
bool report_glob_match(std::string_view glob, std::string_view path, int depth = 0) {
  if (config::glob_match(glob, path)) return true;
  if (depth > 4) return false;
  for (std::size_t at = glob.find("**/"); at != std::string_view::npos; at = glob.find("**/", at + 1)) {
    if (at > 0 && glob[at - 1] != '/') continue;
    std::string shorter(glob.substr(0, at));
    shorter += glob.substr(at + 3);
    if (report_glob_match(shorter, path, depth + 1)) return true;
  }
  return false;
}

bool inside(const std::filesystem::path& root, const std::filesystem::path& p) {
  std::error_code ec;
  const auto real = std::filesystem::canonical(p, ec);
  if (ec) return false;
  const auto rel = real.lexically_relative(root);
  return !rel.empty() && *rel.begin() != "..";
}

}  // namespace

std::vector<std::filesystem::path> find_reports(const std::filesystem::path& root_in, const std::vector<std::string>& globs) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path root = fs::canonical(root_in, ec);
  if (ec) return {};
  std::set<fs::path> found;
  for (const auto& glob : globs) {
    const std::string prefix = literal_prefix(glob);
    const fs::path start = root / prefix;
    if (!inside(root, start) && !prefix.empty()) continue;
    if (!fs::is_directory(start, ec)) continue;
    for (auto it = fs::recursive_directory_iterator(start, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const fs::path& p = it->path();
      if (it->is_directory(ec) && p.filename() == ".git") {
        it.disable_recursion_pending();
        continue;
      }
      if (!it->is_regular_file(ec)) continue;
      const std::string rel = p.lexically_relative(root).generic_string();
      if (report_glob_match(glob, rel) && inside(root, p)) found.insert(p);
    }
  }
  return {found.begin(), found.end()};
}

}  // namespace conveyor::test_runner
