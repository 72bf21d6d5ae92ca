#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "conveyor/gitops/gitops.hpp"

namespace conveyor::gitops {

bool permanent(const Error& e) {
  return e.code == Errc::not_found || e.code == Errc::invalid_argument || e.code == Errc::conflict;
}

Result<std::unique_ptr<Workspace>> Workspace::create(const std::string& base, const std::string& request_id) {
  std::error_code ec;
  std::filesystem::create_directories(base, ec);
  if (ec) return make_error(Errc::unavailable, "cannot create " + base + ": " + ec.message());
  std::string name = request_id;
  for (char& c : name) {
    const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!safe) c = '_';
  }
  std::string path = base + "/" + name + "-XXXXXX";
  std::vector<char> buf(path.begin(), path.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    return make_error(Errc::unavailable, "cannot create a workspace in " + base + ": " + std::strerror(errno));
  }
  return std::unique_ptr<Workspace>(new Workspace(buf.data()));
}

Workspace::~Workspace() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

}  // namespace conveyor::gitops
