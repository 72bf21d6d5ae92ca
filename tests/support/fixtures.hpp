// Test helpers: locating the repository and ../shared test data, reading files.
#pragma once

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace conveyor::testing {

// $CONVEYOR_SHARED_DIR (set by ctest), e.g. /work/shared.
inline std::string shared_dir() {
  const char* d = std::getenv("CONVEYOR_SHARED_DIR");
  return d ? d : "../shared";
}

// $CONVEYOR_SOURCE_DIR (set by ctest): the repository root.
inline std::string source_dir() {
  const char* d = std::getenv("CONVEYOR_SOURCE_DIR");
  return d ? d : ".";
}

// $CONVEYOR_BIN_DIR (set by ctest): build/bin with the service binaries.
inline std::string bin_dir() {
  const char* d = std::getenv("CONVEYOR_BIN_DIR");
  return d ? d : "build/bin";
}

// Whole file as bytes; throws if unreadable (a test setup error).
inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string fixture(const std::string& relative) {
  return read_file(shared_dir() + "/fixtures/github/" + relative);
}

}  // namespace conveyor::testing
