// String order of JavaScript's String.prototype.localeCompare under Node's
// ICU root/en collation, which conventional-changelog-writer uses to sort
// changelog entries. Exact for ASCII text (punctuation is not ignorable and
// sorts before digits, digits before letters, letters case-insensitively
// first and lower case before upper case on ties); Unicode spaces sort as a
// space and accented Latin letters (U+00C0..U+024F with a decomposition) as
// their base letter, the accent breaking ties; other code points sort after
// ASCII letters by code point.
#pragma once

#include <string_view>

namespace conveyor::release::detail {

// <0, 0 or >0 like localeCompare.
int locale_compare(std::string_view a, std::string_view b);

}  // namespace conveyor::release::detail
