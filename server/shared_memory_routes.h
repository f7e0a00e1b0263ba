// The shared memory endpoints of the KServe v2 REST API, Triton's URLs and
// JSON (docs/server.md, "Shared memory"):
//   GET  /v2/systemsharedmemory[/region/<name>]/status
//   POST /v2/systemsharedmemory/region/<name>/register  {"key", "offset", "byte_size"}
//   POST /v2/systemsharedmemory[/region/<name>]/unregister
// and the same under /v2/cudasharedmemory, which this build answers as a
// server without CUDA: register is 501, status lists nothing, unregister
// has nothing to do (perf_analyzer unregisters both kinds before it starts).
// Kept apart from http_routes.cc: only the registry and the request here.
// Thread-safety: a pure function over the (thread-safe) registry.
#pragma once

#include <string>
#include <vector>

#include "server/http_server.h"
#include "server/shared_memory_registry.h"

namespace polaris {

// `parts`: the path's segments, parts[1] "systemsharedmemory" or
// "cudasharedmemory"; `body`: the request body, decompressed.
HttpResponse shared_memory_route(SharedMemoryRegistry& registry, const HttpRequest& request,
                                 const std::vector<std::string>& parts, const std::string& body);

}  // namespace polaris
