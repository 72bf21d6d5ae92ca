// The one seam through which the image builder starts external tools (git,
// buildah, skopeo, docker): a CommandRunner over conveyor::process, so the
// backends and the checkout can be unit-tested with a fake that records the
// exact argv and environment.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "conveyor/process/process.hpp"
#include "conveyor/result/result.hpp"

namespace conveyor::image_builder {

// What a finished command left behind.
struct CommandResult {
  process::Exit exit;
  std::string out;             // stdout, from the start, up to kMaxStdout bytes
  std::string err;             // the last kErrTail bytes of stderr
  bool out_truncated = false;  // stdout was longer than kMaxStdout
};

// stdout is kept whole up to this size (`skopeo inspect --raw` prints an index
// of a few KiB; build progress is larger and only its end matters).
inline constexpr std::size_t kMaxStdout = 4u << 20;
// The end of stderr, enough for buildah's "Error: ..." and the lines before it.
inline constexpr std::size_t kErrTail = 16u << 10;

// Runs a command to completion. Errors only when it could not be started
// (process::run's errors); a non-zero exit is a CommandResult.
using CommandRunner = std::function<Result<CommandResult>(const process::Options& options)>;

// The real runner: process::run with stdout and stderr apart.
CommandRunner process_runner();

// The environment every tool starts from: PATH (a default when unset), HOME,
// locale, time zone and proxy variables of this process. Nothing else of the
// service's environment (its secrets) reaches a tool.
process::Environment tool_environment();

// The last lines of a failed command's stderr (else stdout), at most
// `max_chars`, trimmed: the reason shown in events and logs. Appends the
// exit description ("exit code 125", "timed out after 10s").
std::string failure_summary(const CommandResult& result, std::size_t max_chars = 1500);

// How many lines of `text` contain `needle` (build logs: "--> Using cache", "CACHED").
int count_lines_with(std::string_view text, std::string_view needle);

}  // namespace conveyor::image_builder
