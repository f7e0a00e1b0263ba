// Shape: tensor dimensions, -1 for a dynamic dimension.
//
// Element and byte counts are overflow-checked and bounded, because shapes
// arrive from the network: nothing may be allocated from an unchecked size.
// Thread-safety: value type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "core/data_type.h"
#include "core/status.h"

namespace polaris {

class Shape {
 public:
  static constexpr int64_t kDynamic = -1;
  // No tensor Polaris handles may have more elements than this (2^48: far
  // beyond any real model, far below overflow of element counts times 8).
  static constexpr int64_t kMaxElements = int64_t{1} << 48;
  static constexpr std::size_t kMaxRank = 32;

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) : dims_(dims) {}
  explicit Shape(std::vector<int64_t> dims) : dims_(std::move(dims)) {}

  const std::vector<int64_t>& dims() const { return dims_; }
  std::size_t rank() const { return dims_.size(); }
  int64_t operator[](std::size_t i) const { return dims_[i]; }
  bool operator==(const Shape& other) const = default;

  // True when any dimension is -1.
  bool is_dynamic() const;
  // Checks that every dimension is >= 0 and the element count is bounded.
  Status validate_concrete() const;
  // Product of dimensions (1 for a scalar); an error when a dimension is
  // negative or the product exceeds kMaxElements.
  Result<int64_t> element_count() const;
  // element_count() * element_size(type); BYTES has no fixed size (error).
  Result<std::size_t> byte_size(DataType type) const;
  // True when this concrete shape fits `pattern`, whose -1 dims match any size.
  bool matches(const Shape& pattern) const;
  // "[1,3,224,224]", "[-1,1000]"
  std::string to_string() const;

 private:
  std::vector<int64_t> dims_;
};

}  // namespace polaris
