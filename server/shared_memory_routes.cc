#include "server/shared_memory_routes.h"

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/quote.h"

namespace polaris {

namespace http = boost::beast::http;
using nlohmann::json;

namespace {

// A region name as it came in its path segment: tritonclient quotes names
// (urllib's quote), so "%XX" escapes are decoded; a malformed one is an error.
Result<std::string> percent_decoded(const std::string& segment) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(segment.size());
  for (std::size_t i = 0; i < segment.size(); ++i) {
    if (segment[i] != '%') {
      out += segment[i];
      continue;
    }
    if (i + 2 >= segment.size() || hex(segment[i + 1]) < 0 || hex(segment[i + 2]) < 0)
      return InvalidArgument("the region name " + in_quotes(segment) + " has a malformed %-escape");
    out += static_cast<char>(hex(segment[i + 1]) * 16 + hex(segment[i + 2]));
    i += 2;
  }
  return out;
}

HttpResponse ok(const HttpRequest& request, const std::string& body = "") {
  return make_response(request, http::status::ok, body);
}

HttpResponse method_not_allowed(const HttpRequest& request) {
  return make_response(request, http::status::method_not_allowed,
                       error_body("method " + std::string(request.method_string()) + " is not allowed on " +
                                  std::string(request.target())));
}

HttpResponse not_found(const HttpRequest& request) {
  return make_error(request, NotFound("no such endpoint: " + std::string(request.target())));
}

// {"key": "/name", "offset": 0, "byte_size": 64}: offset may be left out.
Status register_from_body(SharedMemoryRegistry& registry, const std::string& name, const std::string& body) {
  const json parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object())
    return InvalidArgument("the register request for shared memory region " + in_quotes(name) +
                           " must be a JSON object: {\"key\": ..., \"offset\": ..., \"byte_size\": ...}");
  const auto key = parsed.find("key");
  if (key == parsed.end() || !key->is_string())
    return InvalidArgument("the register request for shared memory region " + in_quotes(name) +
                           " needs 'key', a string (the POSIX shared memory object's name)");
  uint64_t numbers[2] = {0, 0};
  const char* fields[2] = {"offset", "byte_size"};
  for (int i = 0; i < 2; ++i) {
    const auto it = parsed.find(fields[i]);
    if (it == parsed.end()) {
      if (i == 0) continue;  // offset defaults to 0
      return InvalidArgument("the register request for shared memory region " + in_quotes(name) +
                             " needs 'byte_size', a non-negative integer");
    }
    if (!it->is_number_unsigned())
      return InvalidArgument("the register request for shared memory region " + in_quotes(name) + ": '" +
                             fields[i] + "' must be a non-negative integer");
    numbers[i] = it->get<uint64_t>();
  }
  return registry.register_region(name, key->get_ref<const std::string&>(), numbers[0], numbers[1]);
}

struct RegionPath {
  std::string name;  // decoded; empty when the path names no region
  std::string action;
};

// ".../<action>" or ".../region/<name>/<action>"; nothing when the path is
// neither, an error when the name does not decode.
std::optional<Result<RegionPath>> region_path(const std::vector<std::string>& parts) {
  if (parts.size() == 3) return Result<RegionPath>(RegionPath{"", parts[2]});
  if (parts.size() != 5 || parts[2] != "region") return std::nullopt;
  auto decoded = percent_decoded(parts[3]);
  if (!decoded.ok()) return Result<RegionPath>(decoded.status());
  return Result<RegionPath>(RegionPath{std::move(*decoded), parts[4]});
}

HttpResponse system_route(SharedMemoryRegistry& registry, const HttpRequest& request,
                          const std::vector<std::string>& parts, const std::string& body) {
  const bool get = request.method() == http::verb::get || request.method() == http::verb::head;
  const bool post = request.method() == http::verb::post;
  auto path = region_path(parts);
  if (!path) return not_found(request);
  if (!path->ok()) return make_error(request, path->status());
  const auto& [name, action] = **path;  // name empty: every region
  if (name.empty() && action == "register") return not_found(request);  // register needs a region name
  if (action == "status") {
    if (!get) return method_not_allowed(request);
    auto rows = registry.status(name);
    if (!rows.ok()) return make_error(request, rows.status());
    json out = json::array();
    for (const SharedMemoryStatus& r : *rows)
      out.push_back({{"name", r.name}, {"key", r.key}, {"offset", r.offset}, {"byte_size", r.byte_size}});
    return ok(request, out.dump(-1, ' ', false, json::error_handler_t::replace));
  }
  if (action == "register") {
    if (!post) return method_not_allowed(request);
    Status registered = register_from_body(registry, name, body);
    return registered.ok() ? ok(request) : make_error(request, registered);
  }
  if (action == "unregister") {
    if (!post) return method_not_allowed(request);
    registry.unregister(name);
    return ok(request);
  }
  return not_found(request);
}

// CUDA shared memory, in a build without CUDA: nothing can be registered,
// so there is never anything to list or unregister.
HttpResponse cuda_route(const HttpRequest& request, const std::vector<std::string>& parts) {
  const bool get = request.method() == http::verb::get || request.method() == http::verb::head;
  const bool post = request.method() == http::verb::post;
  auto path = region_path(parts);
  if (!path) return not_found(request);
  if (!path->ok()) return make_error(request, path->status());
  const auto& [name, action] = **path;
  if (action == "status") {
    if (!get) return method_not_allowed(request);
    if (name.empty()) return ok(request, "[]");
    return make_error(request, NotFound("Unable to find cuda shared memory region: " + in_quotes(name)));
  }
  if (action == "register" && !name.empty()) {
    if (!post) return method_not_allowed(request);
    return make_error(request, Unimplemented("CUDA shared memory is not supported: this Polaris server has no "
                                             "CUDA; use system shared memory (/v2/systemsharedmemory)"));
  }
  if (action == "unregister") {
    if (!post) return method_not_allowed(request);
    return ok(request);
  }
  return not_found(request);
}

}  // namespace

HttpResponse shared_memory_route(SharedMemoryRegistry& registry, const HttpRequest& request,
                                 const std::vector<std::string>& parts, const std::string& body) {
  if (parts.size() >= 2 && parts[1] == "cudasharedmemory") return cuda_route(request, parts);
  return system_route(registry, request, parts, body);
}

}  // namespace polaris
