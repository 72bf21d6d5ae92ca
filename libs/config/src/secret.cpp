#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "conveyor/config/config.hpp"

namespace conveyor::config {

// Messages name the variable or file, never any part of the value.
Result<std::string> SecretRef::resolve() const {
  if (env.empty() == file.empty()) {
    return make_error(Errc::invalid_argument, "secret reference must name exactly one of env or file");
  }
  if (!env.empty()) {
    const char* value = std::getenv(env.c_str());
    if (value == nullptr) return make_error(Errc::not_found, "secret env:" + env + ": environment variable is not set");
    if (*value == '\0') {
      return make_error(Errc::invalid_argument, "secret env:" + env + ": environment variable is empty");
    }
    return std::string(value);
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    const int err = errno;
    return make_error(err == ENOENT ? Errc::not_found : Errc::unavailable,
                      "secret file:" + file + ": cannot open (" + std::strerror(err) + ")");
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return make_error(Errc::unavailable, "secret file:" + file + ": read error");
  std::string value = buffer.str();
  // One trailing newline, as `echo secret > file` writes it.
  if (!value.empty() && value.back() == '\n') {
    value.pop_back();
    if (!value.empty() && value.back() == '\r') value.pop_back();
  }
  if (value.empty()) return make_error(Errc::invalid_argument, "secret file:" + file + ": file is empty");
  return value;
}

std::string SecretRef::describe() const {
  if (!env.empty()) return "env:" + env;
  if (!file.empty()) return "file:" + file;
  return "(none)";
}

}  // namespace conveyor::config
