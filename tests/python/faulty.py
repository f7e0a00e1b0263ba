"""A TorchScript model that fails inside the engine on demand: it answers its input unchanged,
and raises (a libtorch error, as a real model's bug would) when any element is negative.
For fault tests: an engine error must fail that request only. Written per test with Debian's
Python torch, as gate.py's models are."""
import pathlib


def write_faulty_model(path):
    import torch
    from torch import Tensor, nn

    class FailsOnNegative(nn.Module):
        def forward(self, x: Tensor) -> Tensor:
            if bool((x < 0).any()):
                raise RuntimeError("the faulty test model was asked to fail")
            return x.clone()

    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.jit.script(FailsOnNegative()).save(str(path))
    return path
