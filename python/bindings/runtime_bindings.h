// Runtime (engine modules + thread budget) and LoadedModel.
#pragma once

#include <nanobind/nanobind.h>

#include <memory>
#include <string>

#include "backends/registry.h"

namespace polaris::python {

// One per process (python/src/polaris/_runtime.py makes it): every loader
// and server shares its modules and the engines' one thread budget.
class Runtime {
 public:
  Runtime(int intra_op_threads, int inter_op_threads, const std::string& module_dir);
  BackendRegistry& registry() { return *registry_; }

 private:
  std::unique_ptr<BackendRegistry> registry_;
};

void bind_runtime(nanobind::module_& m);

}  // namespace polaris::python
