// numpy <-> Tensor without copies where the engine allows.
//
// In: a C-contiguous CPU array (numpy, or anything speaking DLPack, such as
// a torch tensor) is borrowed, not copied; the caller keeps it alive for the
// call, which is synchronous. Other arrays (strided, lists) are copied once. Object/bytes/str arrays become BYTES tensors
// (a copy: KServe's length-prefixed layout differs from numpy's).
// Out: the array views the engine's output buffer and keeps it alive (a
// capsule owns the Tensor), so nothing is copied either. numpy has no
// bfloat16: BF16 outputs come back as float32, and a BF16 input takes uint16
// bit patterns (the package's Python layer rounds float arrays to them).
// Thread-safety: call with the GIL held.
#pragma once

#include <nanobind/nanobind.h>

#include <string>
#include <utility>
#include <vector>

#include "core/model_metadata.h"
#include "core/tensor.h"

namespace polaris::python {

// `value`: an array-like as above; `name` only for error messages.
Tensor tensor_from_python(const std::string& name, nanobind::handle value);
NamedTensors tensors_from_python(const std::vector<std::pair<std::string, nanobind::object>>& inputs);
// uint16 tensors given for the model's BF16 inputs become BF16 (same bits).
void relabel_bf16_inputs(NamedTensors& inputs, const ModelMetadata& metadata);

nanobind::object tensor_to_python(Tensor tensor);
nanobind::list tensors_to_python(NamedTensors tensors);  // [(name, array), ...]

}  // namespace polaris::python
