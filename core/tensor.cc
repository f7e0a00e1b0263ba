#include "core/tensor.h"

namespace polaris {
namespace {

// The byte size a fixed-size tensor must have; BYTES is checked by parsing.
Status check_size(DataType type, const Shape& shape, std::size_t bytes) {
  if (type == DataType::kInvalid) return InvalidArgument("tensor data type is INVALID");
  if (type == DataType::kBytes) {
    POLARIS_ASSIGN_OR_RETURN(int64_t count, shape.element_count());
    (void)count;
    return Status::Ok();
  }
  POLARIS_ASSIGN_OR_RETURN(std::size_t want, shape.byte_size(type));
  if (want != bytes)
    return InvalidArgument("tensor of shape " + shape.to_string() + " and type " + std::string(to_string(type)) +
                           " needs " + std::to_string(want) + " bytes, got " + std::to_string(bytes));
  return Status::Ok();
}

}  // namespace

Result<std::vector<std::string_view>> parse_bytes_elements(std::span<const std::byte> buffer, int64_t expected_count) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos < buffer.size()) {
    if (static_cast<int64_t>(out.size()) >= expected_count)
      return InvalidArgument("BYTES tensor has more data than its " + std::to_string(expected_count) + " elements");
    if (buffer.size() - pos < 4) return InvalidArgument("BYTES tensor is truncated inside a length prefix");
    uint32_t len = 0;
    for (int i = 3; i >= 0; --i) len = (len << 8) | static_cast<uint8_t>(buffer[pos + i]);  // little-endian
    pos += 4;
    if (len > buffer.size() - pos)
      return InvalidArgument("BYTES element " + std::to_string(out.size()) + " claims " + std::to_string(len) +
                             " bytes but only " + std::to_string(buffer.size() - pos) + " remain");
    out.emplace_back(reinterpret_cast<const char*>(buffer.data() + pos), len);
    pos += len;
  }
  if (static_cast<int64_t>(out.size()) != expected_count)
    return InvalidArgument("BYTES tensor has " + std::to_string(out.size()) + " elements, shape needs " +
                           std::to_string(expected_count));
  return out;
}

std::string serialize_bytes_elements(const std::vector<std::string_view>& elements) {
  std::string out;
  for (auto e : elements) {
    const auto len = static_cast<uint32_t>(e.size());
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
    out.append(e);
  }
  return out;
}

Result<Tensor> Tensor::allocate(DataType type, const Shape& shape) {
  POLARIS_ASSIGN_OR_RETURN(std::size_t bytes, shape.byte_size(type));
  auto buffer = std::shared_ptr<std::byte[]>(new std::byte[bytes == 0 ? 1 : bytes]());
  std::byte* data = buffer.get();
  return Tensor(type, shape, data, bytes, std::move(buffer), true);
}

Result<Tensor> Tensor::borrow(DataType type, const Shape& shape, void* data, std::size_t bytes,
                              std::shared_ptr<const void> keepalive) {
  POLARIS_RETURN_IF_ERROR(check_size(type, shape, bytes));
  if (data == nullptr && bytes != 0) return InvalidArgument("tensor view has no data");
  Tensor t(type, shape, static_cast<std::byte*>(data), bytes, std::move(keepalive), false);
  if (type == DataType::kBytes) POLARIS_RETURN_IF_ERROR(t.strings().status());
  return t;
}

Result<Tensor> Tensor::copy_of(DataType type, const Shape& shape, const void* data, std::size_t bytes) {
  POLARIS_RETURN_IF_ERROR(check_size(type, shape, bytes));
  auto buffer = std::shared_ptr<std::byte[]>(new std::byte[bytes == 0 ? 1 : bytes]);
  if (bytes) std::memcpy(buffer.get(), data, bytes);
  std::byte* ptr = buffer.get();
  Tensor t(type, shape, ptr, bytes, std::move(buffer), true);
  if (type == DataType::kBytes) POLARIS_RETURN_IF_ERROR(t.strings().status());
  return t;
}

Result<Tensor> Tensor::from_strings(const Shape& shape, const std::vector<std::string>& values) {
  std::vector<std::string_view> views(values.begin(), values.end());
  const std::string buffer = serialize_bytes_elements(views);
  return copy_of(DataType::kBytes, shape, buffer.data(), buffer.size());
}

Result<std::vector<std::string_view>> Tensor::strings() const {
  if (dtype_ != DataType::kBytes)
    return InvalidArgument(std::string("tensor holds ") + std::string(to_string(dtype_)) + ", not BYTES");
  POLARIS_ASSIGN_OR_RETURN(int64_t count, shape_.element_count());
  return parse_bytes_elements(bytes(), count);
}

}  // namespace polaris
