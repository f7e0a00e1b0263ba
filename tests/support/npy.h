// Test support: reads the .npy test vectors scripts/make-models writes.
//
// Only what the generator emits: little-endian, C order, numeric dtypes,
// and fixed-width byte strings ("|S<n>", NUL padded) for BYTES tensors.
// Sizes are bounded by the file's own length before anything is allocated.
#pragma once

#include <optional>
#include <string>

#include "core/status.h"
#include "core/tensor.h"

namespace polaris::testing {

// Reads `path` into an owning Tensor. `as_type` reinterprets same-size data
// (the generator stores BF16 as uint16 bit patterns).
Result<Tensor> read_npy(const std::string& path, std::optional<DataType> as_type = std::nullopt);

// Largest absolute difference between two numeric tensors of one dtype and
// shape (FP16/BF16 compared after widening); an error when they differ in
// dtype, shape, or (for BYTES/BOOL/integers) in any element.
Result<double> max_abs_diff(const Tensor& a, const Tensor& b);

}  // namespace polaris::testing
