"""Runs every manifest test with ONNX Runtime / torch, reading only manifest.json and the .npy
files, i.e. exactly what the C++ tests get. Proves the manifest is self-sufficient.

Usage: build/venv/bin/python scripts/models/verify.py [build/models]
Conventions it exercises: BF16 vectors are uint16 bit patterns; BYTES vectors are numpy "S"
arrays of UTF-8; a TorchScript input whose declared shape is [1] and that forward() takes as
`int` is passed as a Python int; TorchScript outputs are output__<i> or dict keys.
"""
import json
import os
import sys
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tiny_onnx import run_ort  # noqa: E402  (ORT runner that handles BF16 and BYTES)


def load(root, rel):
    return np.load(os.path.join(root, rel), allow_pickle=False)


def run_onnx(path, model, feeds):
    # tiny_onnx.run_ort takes (name, datatype, shape, array) lists; output arrays only matter
    # for BF16, where they are the preallocated result buffers (same shape as the input here).
    first = feeds[model["inputs"][0]["name"]]
    case = SimpleNamespace(
        inputs=[(t["name"], t["datatype"], t["shape"], feeds[t["name"]]) for t in model["inputs"]],
        outputs=[(t["name"], t["datatype"], t["shape"], np.zeros_like(first))
                 for t in model["outputs"]])
    return run_ort(path, case)


def run_torchscript(path, model, feeds):
    import torch
    module = torch.jit.load(path).eval()
    arg_types = [a.type.kind() for a in module.forward.schema.arguments[1:]]
    args = []
    for t, kind in zip(model["inputs"], arg_types):
        x = feeds[t["name"]]
        if kind == "IntType":
            args.append(int(x.reshape(-1)[0]))
        elif t["datatype"] == "BF16":
            args.append(torch.from_numpy(x.view(np.int16)).view(torch.bfloat16))
        else:
            args.append(torch.from_numpy(x))
    with torch.no_grad():
        out = module(*args)
    if isinstance(out, dict):
        tensors = out
    else:
        out = list(out) if isinstance(out, tuple) else [out]
        tensors = {f"output__{i}": o for i, o in enumerate(out)}
    return {k: (v.view(torch.int16).numpy().view(np.uint16) if v.dtype == torch.bfloat16
                else v.numpy()) for k, v in tensors.items()}


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "build/models"
    manifest = json.load(open(os.path.join(root, "manifest.json")))
    failures, count = 0, 0
    for model in manifest:
        path = os.path.join(root, model["path"])
        for test in model["tests"]:
            count += 1
            feeds = {n: load(root, rel) for n, rel in test["inputs"].items()}
            run = run_onnx if model["format"] == "onnx" else run_torchscript
            got = run(path, model, feeds)
            for name, rel in test["outputs"].items():
                want, g = load(root, rel), np.asarray(got[name])
                if want.dtype.kind in "fc":
                    ok = g.shape == want.shape and np.allclose(
                        g, want, atol=test.get("atol", 0), rtol=test.get("rtol", 0))
                else:
                    ok = g.shape == want.shape and g.tolist() == want.tolist()
                if not ok:
                    failures += 1
                    print(f"FAIL {model['name']}:{name}")
    print(f"{count} tests over {len(manifest)} models, {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
