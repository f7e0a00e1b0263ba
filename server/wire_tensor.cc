#include "server/wire_tensor.h"

#include <algorithm>
#include <cstdint>

#include <fmt/format.h>

#include "core/quote.h"

namespace polaris {

Result<Tensor> tensor_from_wire(DataType dtype, const Shape& shape, const char* data, std::size_t size,
                                const std::shared_ptr<const void>& keepalive, const std::string& input) {
  // A BOOL byte other than 0 or 1 is not a bool: reading it as one is undefined.
  if (dtype == DataType::kBool)
    for (std::size_t i = 0; i < size; ++i)
      if (static_cast<unsigned char>(data[i]) > 1)
        return InvalidArgument(fmt::format("input {} holds a BOOL byte that is neither 0 nor 1 (byte {} is {}, not "
                                           "0 or 1)",
                                           in_quotes(input), i, static_cast<unsigned char>(data[i])));
  const std::size_t alignment = std::max<std::size_t>(element_size(dtype), 1);
  Result<Tensor> tensor = reinterpret_cast<std::uintptr_t>(data) % alignment == 0
                              ? Tensor::borrow(dtype, shape, const_cast<char*>(data), size, keepalive)
                              : Tensor::copy_of(dtype, shape, data, size);
  if (!tensor.ok()) return InvalidArgument("input " + in_quotes(input) + ": " + tensor.status().message());
  return tensor;
}

}  // namespace polaris
