// Where the running program's binary lives, for what ships beside it
// (engine modules in ../lib, data in ../share/polaris).
#pragma once

#include <string>

namespace polaris {

// The folder of /proc/self/exe; empty when it cannot be read.
std::string executable_dir();

}  // namespace polaris
