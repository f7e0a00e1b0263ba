"""Shared helpers: logging, KServe dtype names, .npy test vectors, manifest entries, checks.

Every generator module gets a `Ctx` (output root + manifest) and registers its models through
`ctx.add(...)`, so the manifest layout lives in exactly one place.
"""
import json
import os
import re

import numpy as np

# numpy dtype -> KServe datatype. BF16 has no numpy dtype: its vectors are stored as the raw
# uint16 bit patterns and the manifest says "BF16" explicitly. BYTES vectors are stored as numpy
# fixed-width bytes ("S" dtype, NUL padded) so C++ readers never need Python pickles.
NP_TO_KSERVE = {
    np.dtype(np.bool_): "BOOL",
    np.dtype(np.uint8): "UINT8",
    np.dtype(np.uint16): "UINT16",
    np.dtype(np.uint32): "UINT32",
    np.dtype(np.uint64): "UINT64",
    np.dtype(np.int8): "INT8",
    np.dtype(np.int16): "INT16",
    np.dtype(np.int32): "INT32",
    np.dtype(np.int64): "INT64",
    np.dtype(np.float16): "FP16",
    np.dtype(np.float32): "FP32",
    np.dtype(np.float64): "FP64",
}


def log(msg):
    print(f"[make-models] {msg}", flush=True)


def spec(name, datatype, shape):
    """One manifest tensor description; -1 marks a dynamic dimension."""
    return {"name": name, "datatype": datatype, "shape": [int(d) for d in shape]}


def bf16_bits(x):
    """float32 array -> bfloat16 bit patterns (uint16), round-to-nearest-even like torch/ORT."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    rounded = u + 0x7FFF + ((u >> 16) & 1)
    return (rounded >> 16).astype(np.uint16)


def bf16_to_f32(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


class Ctx:
    def __init__(self, root):
        self.root = root
        self.models = []

    def path(self, rel):
        p = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        return p

    def save_npy(self, rel, array):
        # Force a plain, non-object array: the C++ side reads these with a tiny .npy parser.
        array = np.asarray(array)
        assert array.dtype != object, rel
        np.save(self.path(rel), array, allow_pickle=False)
        return rel

    def write_text(self, rel, text):
        with open(self.path(rel), "w", encoding="utf-8") as f:
            f.write(text)
        return rel

    def write_json(self, rel, obj):
        text = json.dumps(obj, indent=2, ensure_ascii=False)
        # Keep lists of scalars (shapes, top-5 rows) on one line; JSON strings hold no raw
        # newlines, so only whitespace between tokens changes.
        text = re.sub(r"\[\s+([^\[\]{}]*?)\s+\]",
                      lambda m: "[" + re.sub(r",\s*\n\s*", ", ", m.group(1)) + "]", text)
        return self.write_text(rel, text + "\n")

    def add(self, name, path, fmt, inputs, outputs, tests=(), **extra):
        assert fmt in ("onnx", "torchscript"), fmt
        assert os.path.isfile(os.path.join(self.root, path)), path
        assert name not in {m["name"] for m in self.models}, f"duplicate model name {name}"
        for t in tests:
            for rel in list(t["inputs"].values()) + list(t["outputs"].values()):
                assert os.path.isfile(os.path.join(self.root, rel)), rel
        entry = {"name": name, "path": path, "format": fmt, "inputs": inputs,
                 "outputs": outputs, "tests": list(tests)}
        entry.update(extra)
        self.models.append(entry)

    def write_manifest(self):
        # A bare JSON list of model entries (the contract); extra keys per entry are optional
        # hints: atol/rtol (tests), labels, accuracy, stateful.
        self.write_json("manifest.json", self.models)


def test_case(inputs, outputs, atol=None, rtol=None):
    """A manifest test: {tensor name: .npy relpath}. Tolerances only for float outputs."""
    t = {"inputs": dict(inputs), "outputs": dict(outputs)}
    if atol is not None:
        t["atol"] = float(atol)
    if rtol is not None:
        t["rtol"] = float(rtol)
    return t


def assert_close(name, got, want, atol=0.0, rtol=0.0):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{name}: shape {got.shape} != {want.shape}"
    if want.dtype.kind == "S":  # fixed-width bytes: the width may differ, the values may not
        assert got.dtype.kind == "S" and got.tolist() == want.tolist(), f"{name}: values differ"
        return
    assert got.dtype == want.dtype, f"{name}: dtype {got.dtype} != {want.dtype}"
    if want.dtype.kind in "fc":
        ok = np.allclose(got, want, atol=atol, rtol=rtol)
        err = float(np.max(np.abs(got.astype(np.float64) - want))) if want.size else 0.0
        assert ok, f"{name}: max abs err {err} (atol {atol}, rtol {rtol})"
    else:
        assert np.array_equal(got, want), f"{name}: values differ"


def ort_session(path_or_bytes):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.log_severity_level = 3  # keep generator output readable
    return ort.InferenceSession(path_or_bytes, opts, providers=["CPUExecutionProvider"])


def ort_run(path_or_bytes, feeds):
    sess = ort_session(path_or_bytes)
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, feeds)))


def tolerance_for(reference, rel=1e-4):
    """Absolute tolerance scaled to the output magnitude (random-weight nets can be large)."""
    return rel * max(1.0, float(np.max(np.abs(reference))))
