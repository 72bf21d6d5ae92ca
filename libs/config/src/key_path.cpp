#include <algorithm>

#include "internal.hpp"

namespace conveyor::config::detail {

namespace {
bool plain_key(const std::string& key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}
}  // namespace

std::string format_path(const KeyPath& path) {
  std::string out;
  for (const auto& seg : path) {
    if (seg.is_index) {
      out += '[' + std::to_string(seg.index) + ']';
    } else if (plain_key(seg.key)) {
      if (!out.empty()) out += '.';
      out += seg.key;
    } else {
      out += '[' + nlohmann::json(seg.key).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + ']';
    }
  }
  return out;
}

KeyPath child(KeyPath path, std::string key) {
  path.push_back(PathSegment::of_key(std::move(key)));
  return path;
}

KeyPath child(KeyPath path, std::size_t index) {
  path.push_back(PathSegment::of_index(index));
  return path;
}

bool is_within(const KeyPath& path, const KeyPath& ancestor) {
  return path.size() >= ancestor.size() && std::equal(ancestor.begin(), ancestor.end(), path.begin());
}

}  // namespace conveyor::config::detail
