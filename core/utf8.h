// UTF-8 validity: strings a client or a config file hands over and the
// server writes back into JSON (an "id", names) must be UTF-8, or strict
// clients cannot decode the reply. Thread-safety: pure functions.
#pragma once

#include <string_view>

namespace polaris {

// RFC 3629 UTF-8: no overlong forms, no surrogates (U+D800..U+DFFF),
// nothing above U+10FFFF.
bool is_valid_utf8(std::string_view text);

}  // namespace polaris
