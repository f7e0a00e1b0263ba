#include "server/shared_memory_io.h"

#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "core/quote.h"
#include "server/wire_tensor.h"

namespace polaris {

namespace {

Status no_registry(const std::string& what) {
  return InvalidArgument(what + ": system shared memory is not available on this endpoint");
}

}  // namespace

Result<SharedMemoryRef> shared_memory_ref(std::string region, std::optional<int64_t> byte_size,
                                          std::optional<int64_t> offset, const std::string& what) {
  if (!byte_size)
    return InvalidArgument(what + ": parameter 'shared_memory_byte_size' must be given with 'shared_memory_region'");
  if (*byte_size < 0)
    return InvalidArgument(fmt::format("{}: parameter 'shared_memory_byte_size' is {}; it must be non-negative", what,
                                       *byte_size));
  if (offset && *offset < 0)
    return InvalidArgument(fmt::format("{}: parameter 'shared_memory_offset' is {}; it must be non-negative", what,
                                       *offset));
  return SharedMemoryRef{std::move(region), offset ? static_cast<uint64_t>(*offset) : 0,
                         static_cast<uint64_t>(*byte_size)};
}

Result<Tensor> tensor_from_shared_memory(const SharedMemoryRegistry* registry, DataType dtype, const Shape& shape,
                                         const SharedMemoryRef& ref, const std::string& input) {
  const std::string what = "input " + in_quotes(input);
  if (registry == nullptr) return no_registry(what);
  Result<SharedMemoryWindow> window = registry->window(ref.region, ref.offset, ref.byte_size);
  if (!window.ok()) return window.status().with_context(what);
  if (is_fixed_size(dtype)) {
    Result<std::size_t> need = shape.byte_size(dtype);
    if (!need.ok()) return need.status().with_context(what);
    if (ref.byte_size != *need)
      return InvalidArgument(fmt::format("{}: shared_memory_byte_size {} does not match the {} bytes its shape {} of "
                                         "{} needs",
                                         what, ref.byte_size, *need, shape.to_string(), to_string(dtype)));
  }
  const char* data = reinterpret_cast<const char*>(window->data);
  const auto size = static_cast<std::size_t>(ref.byte_size);
  if (dtype == DataType::kBytes || dtype == DataType::kBool) {
    // Checked bytes must stay as checked: a private copy (see the header).
    auto copy = std::make_shared<const std::string>(data, size);
    return tensor_from_wire(dtype, shape, copy->data(), copy->size(), copy, input);
  }
  // The tensor holds the region: it stays mapped while the request uses it.
  return tensor_from_wire(dtype, shape, data, size, window->region, input);
}

Result<SharedMemoryWindow> output_window(const SharedMemoryRegistry* registry, const SharedMemoryRef& ref,
                                         const std::string& output) {
  const std::string what = "output " + in_quotes(output);
  if (registry == nullptr) return no_registry(what);
  Result<SharedMemoryWindow> window = registry->window(ref.region, ref.offset, ref.byte_size);
  if (!window.ok()) return window.status().with_context(what);
  return window;
}

Status write_to_shared_memory(const Tensor& tensor, const SharedMemoryWindow& window, const std::string& output) {
  if (tensor.byte_size() > window.byte_size)
    return InvalidArgument(fmt::format("shared memory size specified with the request for output {} ({} bytes) should "
                                       "be at least {} bytes to hold the results",
                                       in_quotes(output), window.byte_size, tensor.byte_size()));
  if (tensor.byte_size() > 0) std::memcpy(window.data, tensor.data(), tensor.byte_size());
  return Status::Ok();
}

}  // namespace polaris
