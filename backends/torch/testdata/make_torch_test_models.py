"""Writes the torch backend's unit-test models into the folder given as argv[1].

Run by torch_backend_test (under a file lock) with the project's venv python
(Debian torch 1.13): TorchScript archives it writes load in libtorch 2.15.
Each model's arithmetic is trivial so the C++ test can compute the expected
values itself. Bad files (state_dict, eager pickle, empty, truncated, random
bytes) check that every failure gives a clear error. `stamp` is written last:
its presence means the folder is complete.
"""
import json
import os
import random
import sys
from typing import Dict, List, Tuple

import torch
from torch import Tensor, nn


class Add(nn.Module):
    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        return a + b


class SumDiff(nn.Module):
    def forward(self, a: Tensor, b: Tensor) -> Tuple[Tensor, Tensor]:
        return a + b, a - b


class Pieces(nn.Module):
    def forward(self, x: Tensor) -> List[Tensor]:
        return [x + 1, x * 3]


class Named(nn.Module):
    # Keys deliberately not in sorted order: outputs follow insertion order.
    def forward(self, x: Tensor) -> Dict[str, Tensor]:
        return {"zeta": x * 2, "alpha": x + 1}


class Scaled(nn.Module):
    # Non-tensor arguments, like silero VAD's forward(x, sr: int).
    def forward(self, x: Tensor, n: int, scale: float = 1.0, negate: bool = False) -> Tensor:
        y = x * n * scale
        if negate:
            y = -y
        return y


class Echo(nn.Module):
    # Returns its input itself: the backend must not hand back the caller's buffer.
    def forward(self, x: Tensor) -> Tensor:
        return x


class Counter(nn.Module):
    # In-module state mutated by forward: freezing must not bake it in.
    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x: Tensor) -> Tensor:
        self.calls += 1
        return x + self.calls


class ProbeOnly(nn.Module):
    # Its weight is built at run time, so the graph holds nothing to read the
    # input's size from: only a probe (float32 [1, 16]) finds it.
    def forward(self, x: Tensor) -> Tensor:
        return torch.nn.functional.linear(x, torch.ones(2, 16))


def grouped_conv() -> nn.Module:
    # Unfrozen (weights are attributes) and grouped: the input has
    # weight.size(1) * groups = 2 * 2 = 4 channels.
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(4, 6, 3, padding=1, groups=2), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval()


def linear() -> nn.Module:
    m = nn.Linear(4, 2)
    with torch.no_grad():
        m.weight.copy_(torch.arange(8, dtype=torch.float32).reshape(2, 4))
        m.bias.copy_(torch.tensor([0.5, -0.5]))
    return m.eval()


def main() -> None:
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    scripted = {
        "add.pt": Add(), "sum_diff.pt": SumDiff(), "pieces.pt": Pieces(), "named.pt": Named(),
        "scaled.pt": Scaled(), "echo.pt": Echo(), "counter.pt": Counter(), "linear.pt": linear(),
        "add_sidecar.torchscript": Add(), "add_dotjson.jit": Add(), "labels.pt": Add(),
        "bad_sidecar.pt": Add(), "probe_only.pt": ProbeOnly(), "grouped_conv.pt": grouped_conv(),
    }
    for name, module in scripted.items():
        torch.jit.script(module.eval()).save(os.path.join(out, name))
    # A traced model, as most exported vision models are.
    torch.jit.trace(linear(), torch.zeros(1, 4)).save(os.path.join(out, "linear_traced.pt"))

    spec = {"inputs": [{"name": "a", "datatype": "FP32", "shape": [-1, 3]},
                       {"name": "b", "datatype": "FP32", "shape": [-1, 3]}],
            "outputs": [{"name": "total", "datatype": "FP32", "shape": [-1, 3]}]}
    with open(os.path.join(out, "add_sidecar.json"), "w") as f:  # <stem>.json
        json.dump(spec, f)
    with open(os.path.join(out, "add_dotjson.jit.json"), "w") as f:  # <path>.json
        json.dump(spec, f)

    with open(os.path.join(out, "labels.json"), "w") as f:  # not a spec: ignored
        json.dump(["cat", "dog"], f)
    with open(os.path.join(out, "bad_sidecar.pt.json"), "w") as f:  # broken spec: an error
        f.write("[1")

    torch.save(linear().state_dict(), os.path.join(out, "state_dict.pt"))
    torch.save(linear(), os.path.join(out, "eager.pth"))
    open(os.path.join(out, "empty.pt"), "wb").close()
    with open(os.path.join(out, "linear.pt"), "rb") as f:
        good = f.read()
    with open(os.path.join(out, "truncated.pt"), "wb") as f:
        f.write(good[: len(good) // 2])
    rng = random.Random(7)
    with open(os.path.join(out, "random.pt"), "wb") as f:
        f.write(bytes(rng.randrange(256) for _ in range(4096)))
    with open(os.path.join(out, "stamp"), "w") as f:
        f.write(torch.__version__ + "\n")


if __name__ == "__main__":
    main()
