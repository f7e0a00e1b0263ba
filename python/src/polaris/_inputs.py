"""What predict() accepts, as the (name, array) pairs the extension takes."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ._metadata import ModelMetadata


def _array(name: str, value: Any) -> Any:
    # Arrays and DLPack tensors (torch, ...) go to the extension as they are: a C-contiguous
    # one is read in place, anything else is copied there once. Lists and scalars become arrays.
    if isinstance(value, np.ndarray) or hasattr(value, "__dlpack__"):
        return value
    if isinstance(value, (list, tuple, int, float, bool, str, bytes)):
        return np.asarray(value)
    raise ValueError(f"input '{name}': expected a numpy array, got {type(value).__name__}")


def named_inputs(metadata: ModelMetadata, inputs: Any) -> list[tuple[str, Any]]:
    """One array (a model with one input), a dict name -> array, or a list in input order."""
    if isinstance(inputs, Mapping):
        unknown = [k for k in inputs if k not in metadata.input_names]
        if unknown:
            raise ValueError(f"model '{metadata.name}' has no input {', '.join(repr(k) for k in unknown)} "
                             f"(inputs: {', '.join(metadata.input_names)})")
        return [(name, _array(name, value)) for name, value in inputs.items()]
    if isinstance(inputs, Sequence) and not isinstance(inputs, (str, bytes)) and len(metadata.inputs) > 1:
        if len(inputs) != len(metadata.inputs):
            raise ValueError(f"model '{metadata.name}' takes {len(metadata.inputs)} inputs "
                             f"({', '.join(metadata.input_names)}), got {len(inputs)} arrays")
        return [(spec.name, _array(spec.name, value)) for spec, value in zip(metadata.inputs, inputs)]
    spec = metadata.input()
    return [(spec.name, _array(spec.name, inputs))]


def requested(outputs: Sequence[str] | str | None) -> list[str]:
    if outputs is None:
        return []
    return [outputs] if isinstance(outputs, str) else list(outputs)
