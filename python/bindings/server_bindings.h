// Server: the C++ MultiModelServer (model manager: budget, LRU eviction,
// schedulers and batching) over the process's Runtime.
#pragma once

#include <nanobind/nanobind.h>

namespace polaris::python {

void bind_server(nanobind::module_& m);

}  // namespace polaris::python
