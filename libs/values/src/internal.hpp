// Helpers shared by the editor's sources; not part of the public header.
#pragma once

#include <string_view>

namespace conveyor::values {

// True when `s` is well-formed UTF-8 (no overlong forms, no surrogates).
bool valid_utf8(std::string_view s);

}  // namespace conveyor::values
