// The _polaris extension: the C++ library as the Python package sees it.
// Kept thin on purpose: python/src/polaris/ holds the seed's Python API
// (loaders, ModelMetadata, MultiModelServer) over these few classes.
//
//   Runtime      one per process: the engine modules and the thread budget
//   LoadedModel  one model loaded by a Runtime (a loader's model)
//   Server       the C++ MultiModelServer over a Runtime's engines
//   FolderCall   what predict_folder() asks of a LoadedModel or a Server
//
// Metadata, statistics and device reports cross as JSON text made by the
// C++ to_json functions, so Python and `polaris info --json` never differ.
// Every call that runs or loads a model releases the GIL.
#include <nanobind/nanobind.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <spdlog/spdlog.h>

#include "batch_bindings.h"
#include "errors.h"
#include "runtime_bindings.h"
#include "server_bindings.h"

NB_MODULE(_polaris, m) {
  m.doc() = "Polaris's C++ runtime; use the `polaris` package, not this module";
  polaris::python::bind_runtime(m);
  polaris::python::bind_server(m);
  polaris::python::bind_batch(m);  // before the methods that take a FolderCall are called
  // The library logs (loads, evictions, provider choices) through spdlog to
  // stderr, as `polaris serve` does; the package starts it at "warning".
  m.def(
      "set_log_level",
      [](const std::string& level) {
        const auto parsed = spdlog::level::from_str(level == "warning" ? "warn" : level);
        if (parsed == spdlog::level::off && level != "off")
          polaris::python::raise(polaris::InvalidArgument(
              "log level must be one of trace, debug, info, warning, error, critical, off; not '" + level + "'"));
        spdlog::set_level(parsed);
      },
      nanobind::arg("level"));
}
