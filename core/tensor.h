// Tensor: a dtype, a shape and bytes, either owned or borrowed.
//
// A borrowed tensor is a view into memory someone else owns (a request body,
// an engine's output); `keepalive` holds that owner alive for as long as any
// copy of the view exists, so views can travel without copying data.
// BYTES tensors use the KServe binary layout: each element is a uint32
// little-endian length followed by that many bytes.
// Thread-safety: a Tensor is a value; copies share the same bytes, so
// concurrent writers to one buffer must synchronise themselves.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/data_type.h"
#include "core/shape.h"
#include "core/status.h"

namespace polaris {

class Tensor {
 public:
  Tensor() = default;

  // A zero-filled tensor that owns its bytes (fixed-size types only).
  static Result<Tensor> allocate(DataType type, const Shape& shape);
  // A view over `data`; the size must equal what dtype and shape imply (for
  // BYTES the buffer must hold exactly element_count well-formed strings).
  static Result<Tensor> borrow(DataType type, const Shape& shape, void* data, std::size_t bytes,
                               std::shared_ptr<const void> keepalive = nullptr);
  // Owning copies, convenient for tests and tools.
  static Result<Tensor> copy_of(DataType type, const Shape& shape, const void* data, std::size_t bytes);
  static Result<Tensor> from_strings(const Shape& shape, const std::vector<std::string>& values);
  template <typename T>
  static Result<Tensor> from_values(const Shape& shape, const std::vector<T>& values) {
    return copy_of(DataTypeOf<T>::value, shape, values.data(), values.size() * sizeof(T));
  }

  DataType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  std::size_t byte_size() const { return size_; }
  bool owns_data() const { return owned_; }
  bool empty() const { return dtype_ == DataType::kInvalid; }

  std::span<const std::byte> bytes() const { return {data_, size_}; }
  std::span<std::byte> mutable_bytes() { return {data_, size_}; }
  const void* data() const { return data_; }
  void* mutable_data() { return data_; }

  // Typed access, checked against dtype: values<float>() on an INT8 tensor
  // is an error, not a reinterpretation.
  template <typename T>
  Result<std::span<const T>> values() const {
    if (DataTypeOf<T>::value != dtype_)
      return InvalidArgument(std::string("tensor holds ") + std::string(to_string(dtype_)) +
                             ", not " + std::string(to_string(DataTypeOf<T>::value)));
    return std::span<const T>(reinterpret_cast<const T*>(data_), size_ / sizeof(T));
  }
  template <typename T>
  Result<std::span<T>> mutable_values() {
    auto v = std::as_const(*this).values<T>();
    if (!v.ok()) return v.status();
    return std::span<T>(const_cast<T*>(v->data()), v->size());
  }
  // BYTES elements as views into this tensor's buffer.
  Result<std::vector<std::string_view>> strings() const;

 private:
  Tensor(DataType type, Shape shape, std::byte* data, std::size_t size, std::shared_ptr<const void> owner,
         bool owned)
      : dtype_(type), shape_(std::move(shape)), data_(data), size_(size), owner_(std::move(owner)), owned_(owned) {}

  DataType dtype_ = DataType::kInvalid;
  Shape shape_;
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  std::shared_ptr<const void> owner_;  // keeps the bytes alive
  bool owned_ = false;
};

// Splits a KServe BYTES buffer into its elements, checking every length
// against the buffer's end; `expected_count` must match exactly.
Result<std::vector<std::string_view>> parse_bytes_elements(std::span<const std::byte> buffer, int64_t expected_count);
// The inverse: uint32 LE length + bytes per element.
std::string serialize_bytes_elements(const std::vector<std::string_view>& elements);

// Tensors travel by name: ordered, since protocols answer in order.
struct NamedTensor {
  std::string name;
  Tensor tensor;
};
using NamedTensors = std::vector<NamedTensor>;

}  // namespace polaris
