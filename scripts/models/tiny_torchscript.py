"""Tiny TorchScript (.pt) counterparts of the tiny ONNX models, plus output-naming cases.

Naming convention (Triton's PyTorch backend convention): inputs are named after forward()'s
arguments; a returned tensor or tuple yields outputs output__0, output__1, ...; a returned
Dict[str, Tensor] yields outputs named by its keys. Manifest entries are "<name>_pt".
torch has no uint16/uint32/uint64 or string tensors, so those dtypes are ONNX-only.
"""
from typing import Dict, Tuple

import numpy as np
import torch
from torch import Tensor, nn

from common import assert_close, log, test_case
from tiny_data import MATMUL_W, cases, save_vectors


class Identity(nn.Module):
    def forward(self, input: Tensor) -> Tensor:
        return input.clone()  # a fresh tensor: the server must not see the caller's buffer back


class LogicalNot(nn.Module):
    def forward(self, input: Tensor) -> Tensor:
        return torch.logical_not(input)


class Add(nn.Module):
    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        return a + b


class Simple(nn.Module):
    def forward(self, INPUT0: Tensor, INPUT1: Tensor) -> Tuple[Tensor, Tensor]:  # noqa: N803
        return INPUT0 + INPUT1, INPUT0 - INPUT1


class MatMul(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("weight", torch.from_numpy(MATMUL_W.copy()))

    def forward(self, input: Tensor) -> Tensor:
        return torch.matmul(input, self.weight)


class Relu(nn.Module):
    def forward(self, input: Tensor) -> Tensor:
        return torch.relu(input)


class MultiIO(nn.Module):
    def forward(self, a: Tensor, b: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        return a + b.to(torch.float32), b.to(torch.int64) * 2, a > 0


class DictOutput(nn.Module):
    def forward(self, input: Tensor) -> Dict[str, Tensor]:
        return {"doubled": input * 2, "negated": -input}


class TupleOutput(nn.Module):
    def forward(self, input: Tensor) -> Tuple[Tensor, Tensor]:
        return input * 2, -input


class ScaleByInt(nn.Module):
    """forward() takes a non-tensor argument: the server must convert a 1-element tensor."""

    def forward(self, input: Tensor, factor: int) -> Tensor:
        return input * factor


MODULES = {
    "identity": Identity, "add": Add, "simple": Simple, "matmul": MatMul,
    "dynamic_batch": Relu, "multi_io": MultiIO, "dict_output": DictOutput,
    "tuple_output": TupleOutput, "scale_by_int": ScaleByInt,
}
TORCH_DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "fp16", "fp32", "fp64", "bf16"]
for _d in TORCH_DTYPES:
    MODULES[f"dtype_{_d}"] = LogicalNot if _d == "bool" else Identity


def _to_torch(arr, datatype):
    if datatype == "BF16":  # vectors hold bf16 bit patterns; torch 1.13 has no uint16
        return torch.from_numpy(np.ascontiguousarray(arr).view(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(np.ascontiguousarray(arr))


def _to_numpy(t, datatype):
    if datatype == "BF16":
        return t.view(torch.int16).numpy().view(np.uint16)
    return t.numpy()


def _output_names(name, case):
    # dict outputs keep their keys; everything else is positional output__<i>
    if name == "dict_output":
        return [n for n, _, _, _ in case.outputs]
    return [f"output__{i}" for i in range(len(case.outputs))]


def _run(module, name, case):
    args = []
    for n, dt, _, arr in case.inputs:
        args.append(int(arr.reshape(-1)[0]) if name == "scale_by_int" and n == "factor"
                    else _to_torch(arr, dt))
    with torch.no_grad():
        out = module(*args)
    if isinstance(out, dict):
        return [out[n] for n, _, _, _ in case.outputs]
    return list(out) if isinstance(out, tuple) else [out]


def generate(ctx):
    log("building tiny TorchScript models ...")
    for name, case in cases().items():
        if name not in MODULES:
            continue
        rel = f"tiny/{name}.pt"
        torch.jit.save(torch.jit.script(MODULES[name]().eval()), ctx.path(rel))
        loaded = torch.jit.load(ctx.path(rel))  # check the saved file, not the live module
        for (n, dt, _, want), got in zip(case.outputs, _run(loaded, name, case)):
            assert_close(f"{name}.pt:{n}", _to_numpy(got, dt), want, atol=case.atol or 0.0)
        ins, outs = save_vectors(ctx, name, case)
        out_names = _output_names(name, case)
        renamed = {new: outs[old] for new, (old, _, _, _) in zip(out_names, case.outputs)}
        out_specs = [dict(s, name=new) for new, s in zip(out_names, case.specs(case.outputs))]
        ctx.add(f"{name}_pt", rel, "torchscript", case.specs(case.inputs), out_specs,
                [test_case(ins, renamed, atol=case.atol)])
