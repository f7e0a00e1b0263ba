// NumPy .npy files as Tensors: `polaris predict --input x=file.npy` and the
// test vectors scripts/make-models writes.
//
// Little-endian, C order, numeric dtypes, and fixed-width byte strings
// ("|S<n>", NUL padded) for BYTES. Sizes are checked against the file's own
// length before anything is allocated. Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>

#include "core/status.h"
#include "core/tensor.h"

namespace polaris {

// Reads `path` into an owning Tensor. `as_type` reinterprets same-size data
// (the generator stores BF16 as uint16 bit patterns).
Result<Tensor> read_npy(const std::string& path, std::optional<DataType> as_type = std::nullopt);

// Writes a Tensor as .npy (BYTES as fixed-width "|S<n>").
Status write_npy(const std::string& path, const Tensor& tensor);

// Element i of a numeric tensor as a double (FP16/BF16 widened); 0 for BYTES.
double element_as_double(const Tensor& tensor, std::size_t i);

// Largest absolute difference between two tensors of one dtype and shape
// (FP16/BF16 compared after widening); an error when dtype or shape differ,
// or when BYTES elements differ.
Result<double> max_abs_diff(const Tensor& a, const Tensor& b);

}  // namespace polaris
