"""What predict() accepts, as the (name, array) pairs the extension takes."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ._metadata import ModelMetadata, TensorSpec


def _bf16_bits(values: np.ndarray) -> np.ndarray:
    """float values as bfloat16 bit patterns (round to nearest even; NaN stays NaN)."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
    return np.where(np.isnan(values), np.uint16(0x7FC0), rounded)


def _array(spec: TensorSpec, value: Any) -> Any:
    # Arrays and DLPack tensors (torch, ...) go to the extension as they are: a C-contiguous
    # one is read in place, anything else is copied there once. Lists and scalars become
    # arrays of the input's dtype. numpy has no bfloat16: a BF16 input takes float arrays
    # (rounded here) or uint16 bit patterns.
    if isinstance(value, (list, tuple, int, float, bool, str, bytes)):
        value = np.asarray(value, dtype=spec.dtype if spec.dtype and spec.datatype != "BF16" else None)
    if spec.datatype == "BF16" and isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return _bf16_bits(value)
    if isinstance(value, np.ndarray) or hasattr(value, "__dlpack__"):
        return value
    raise ValueError(f"input '{spec.name}': expected a numpy array, got {type(value).__name__}")


def named_inputs(metadata: ModelMetadata, inputs: Any) -> list[tuple[str, Any]]:
    """One array (a model with one input), a dict name -> array, or a list in input order."""
    if isinstance(inputs, Mapping):
        unknown = [k for k in inputs if k not in metadata.input_names]
        if unknown:
            raise ValueError(f"model '{metadata.name}' has no input {', '.join(repr(k) for k in unknown)} "
                             f"(inputs: {', '.join(metadata.input_names)})")
        return [(name, _array(metadata.input(name), value)) for name, value in inputs.items()]
    if isinstance(inputs, Sequence) and not isinstance(inputs, (str, bytes)) and len(metadata.inputs) > 1:
        if len(inputs) != len(metadata.inputs):
            raise ValueError(f"model '{metadata.name}' takes {len(metadata.inputs)} inputs "
                             f"({', '.join(metadata.input_names)}), got {len(inputs)} arrays")
        return [(spec.name, _array(spec, value)) for spec, value in zip(metadata.inputs, inputs)]
    spec = metadata.input()
    return [(spec.name, _array(spec, inputs))]


def requested(outputs: Sequence[str] | str | None) -> list[str]:
    if outputs is None:
        return []
    return [outputs] if isinstance(outputs, str) else list(outputs)
