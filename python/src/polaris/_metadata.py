"""ModelMetadata: what a loaded model is, with the seed's fields."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional, Union

# KServe datatypes (what the C++ library reports) as numpy names.
NUMPY_DTYPES = {
    "BOOL": "bool", "INT8": "int8", "INT16": "int16", "INT32": "int32", "INT64": "int64",
    "UINT8": "uint8", "UINT16": "uint16", "UINT32": "uint32", "UINT64": "uint64",
    "FP16": "float16", "FP32": "float32", "FP64": "float64", "BF16": "bfloat16", "BYTES": "object",
}

Dim = Union[int, str, None]


def _dims(tensor: dict) -> list[Dim]:
    """A shape as ONNX Runtime's Python API gives it: a dynamic dim is its symbolic name, or None."""
    names = tensor.get("dim_names") or []
    dims: list[Dim] = []
    for i, d in enumerate(tensor["shape"]):
        dims.append(d if d >= 0 else (names[i] if i < len(names) and names[i] else None))
    return dims


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: str        # numpy name ("float32"; "object" for strings; "" when the engine does not say)
    datatype: str     # KServe name ("FP32")
    shape: list[Dim]  # dynamic dims: their name, or None


@dataclass
class ModelMetadata:
    """The seed's fields (name ... extra_info) plus what Polaris measures.

    input_shapes/output_shapes: one list per tensor; a dynamic dim is its symbolic name
    (e.g. "batch") when the model names it, else None. *_dtypes: numpy names.
    estimated_memory_mb: the prediction before loading (file size x the engine's factor);
    measured_memory_mb: what loading and warming up actually took.
    """
    name: str
    framework: str  # "onnx" | "torchscript"
    input_names: list[str]
    output_names: list[str]
    input_shapes: list[list[Dim]]
    output_shapes: list[list[Dim]]
    input_dtypes: list[str]
    output_dtypes: list[str]
    file_size_mb: float
    estimated_memory_mb: float
    provider: str
    optimization_level: int
    extra_info: dict[str, str] = field(default_factory=dict)
    measured_memory_mb: float = 0.0
    path: str = ""
    inputs: list[TensorSpec] = field(default_factory=list)
    outputs: list[TensorSpec] = field(default_factory=list)

    @classmethod
    def from_json(cls, text: str) -> "ModelMetadata":
        j: dict[str, Any] = json.loads(text)

        def specs(side: str) -> list[TensorSpec]:
            return [TensorSpec(t["name"], NUMPY_DTYPES.get(t["datatype"], ""), t["datatype"], _dims(t))
                    for t in j[side]]
        inputs, outputs = specs("inputs"), specs("outputs")
        return cls(
            name=j["name"], framework=j["framework"],
            input_names=[t.name for t in inputs], output_names=[t.name for t in outputs],
            input_shapes=[t.shape for t in inputs], output_shapes=[t.shape for t in outputs],
            input_dtypes=[t.dtype for t in inputs], output_dtypes=[t.dtype for t in outputs],
            file_size_mb=j["file_size_mb"], estimated_memory_mb=j["estimated_memory_mb"],
            provider=j["provider"], optimization_level=j["optimization_level"],
            extra_info=dict(j.get("extra_info", {})), measured_memory_mb=j["measured_memory_mb"],
            path=j.get("path", ""), inputs=inputs, outputs=outputs)

    def input(self, name: Optional[str] = None) -> TensorSpec:
        """The named input, or the only one."""
        if name is None:
            if len(self.inputs) != 1:
                raise ValueError(f"model '{self.name}' has {len(self.inputs)} inputs ({', '.join(self.input_names)}): "
                                 "name the one you mean")
            return self.inputs[0]
        for spec in self.inputs:
            if spec.name == name:
                return spec
        raise ValueError(f"model '{self.name}' has no input '{name}' (inputs: {', '.join(self.input_names)})")
