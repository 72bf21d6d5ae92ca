// conventional-commits-filter 5's reverted-commits filter, reduced to what
// changes the outcome. Used by analysis and the changelog alike.
#pragma once

#include <cstddef>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "js_text.hpp"

namespace conveyor::release::detail {

// conventional-commits-filter's hold set, reduced to what changes the
// outcome: the held revert commits, by the SHA they name, in holding order.
// A commit pairs with the first held revert whose trimmed header and trimmed
// SHA equal its own (isMatch over the revert's {header, hash}).
class HeldReverts {
 public:
  void hold(std::string_view sha, std::string_view header, std::size_t index) {
    by_sha_[js_trim(sha)].push_back(Held{js_trim(header), index});
    ++count_;
  }
  // Index of the revert that pairs with a commit, removing it; npos if none.
  std::size_t take(std::string_view sha, std::string_view header) {
    if (count_ == 0) return npos;
    auto it = by_sha_.find(js_trim(sha));
    if (it == by_sha_.end()) return npos;
    const std::string_view h = js_trim(header);
    auto& list = it->second;
    for (auto held = list.begin(); held != list.end(); ++held) {
      if (held->header != h) continue;
      const std::size_t index = held->index;
      list.erase(held);
      if (list.empty()) by_sha_.erase(it);
      --count_;
      return index;
    }
    return npos;
  }
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

 private:
  struct Held {
    std::string_view header;  // views into the revert commits' messages
    std::size_t index;
  };
  std::unordered_map<std::string_view, std::vector<Held>> by_sha_;
  std::size_t count_ = 0;
};

}  // namespace conveyor::release::detail
