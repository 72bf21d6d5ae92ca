#include "command.hpp"

#include <cstdlib>

namespace conveyor::image_builder {
namespace {

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::string trim(std::string text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

}  // namespace

CommandRunner process_runner() {
  return [](const process::Options& options) -> Result<CommandResult> {
    CommandResult result;
    process::Options o = options;
    o.merge_stderr = false;
    o.on_stdout = [&result](std::string_view chunk) {
      const std::size_t room = kMaxStdout - result.out.size();
      if (chunk.size() > room) result.out_truncated = true;
      result.out.append(chunk.substr(0, room));
    };
    o.on_stderr = [&result](std::string_view chunk) {
      result.err.append(chunk);
      if (result.err.size() > 2 * kErrTail) result.err.erase(0, result.err.size() - kErrTail);
    };
    auto exit = process::run(o);
    if (!exit) return std::move(exit).error();
    if (result.err.size() > kErrTail) result.err.erase(0, result.err.size() - kErrTail);
    result.exit = *exit;
    return result;
  };
}

process::Environment tool_environment() {
  process::Environment env = process::inherit({"PATH", "HOME", "LANG", "LC_ALL", "TZ", "http_proxy", "https_proxy",
                                               "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "SSL_CERT_FILE",
                                               "SSL_CERT_DIR"});
  if (!env.count("PATH")) env["PATH"] = kDefaultPath;
  if (!env.count("HOME")) env["HOME"] = "/";
  return env;
}

std::string failure_summary(const CommandResult& result, std::size_t max_chars) {
  std::string text = trim(result.err.empty() ? result.out : result.err);
  if (text.size() > max_chars) {
    text.erase(0, text.size() - max_chars);
    // Start at a line boundary when there is one.
    if (const auto nl = text.find('\n'); nl != std::string::npos && nl + 1 < text.size()) text.erase(0, nl + 1);
    text = "..." + text;
  }
  const std::string how = result.exit.describe();
  return text.empty() ? how : text + " (" + how + ")";
}

int count_lines_with(std::string_view text, std::string_view needle) {
  int n = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    if (text.substr(start, end - start).find(needle) != std::string_view::npos) ++n;
    start = end + 1;
  }
  return n;
}

}  // namespace conveyor::image_builder
