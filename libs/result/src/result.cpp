#include "conveyor/result/result.hpp"

namespace conveyor {

const char* errc_name(Errc code) noexcept {
  switch (code) {
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::not_found: return "not_found";
    case Errc::unavailable: return "unavailable";
    case Errc::timeout: return "timeout";
    case Errc::conflict: return "conflict";
    case Errc::internal: return "internal";
  }
  return "internal";
}

}  // namespace conveyor
