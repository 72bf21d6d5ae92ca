// A CommandRunner for unit tests: records every call (argv, env, cwd,
// timeout) and answers from a script, so no tool ever runs.
#pragma once

#include <string>
#include <vector>

#include "command.hpp"

namespace conveyor::image_builder::testing {

inline CommandResult succeeded(const std::string& out = "") {
  CommandResult r;
  r.exit.exit_code = 0;
  r.out = out;
  return r;
}

inline CommandResult failed(int code, const std::string& err) {
  CommandResult r;
  r.exit.exit_code = code;
  r.err = err;
  return r;
}

struct FakeRunner {
  std::vector<process::Options> calls;
  std::vector<CommandResult> answers;  // consumed in order; when empty: success with no output
  CommandRunner runner() {
    return [this](const process::Options& o) -> Result<CommandResult> {
      calls.push_back(o);
      if (answers.empty()) return succeeded();
      auto next = answers.front();
      answers.erase(answers.begin());
      return next;
    };
  }
};

}  // namespace conveyor::image_builder::testing
