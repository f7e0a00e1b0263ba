"""Reference data for the tiny models, computed with numpy only.

The ONNX and TorchScript tiny models share these vectors, and the expected outputs here are
deliberately independent of both runtimes: generation asserts that each runtime agrees with numpy.
"""
import numpy as np

from common import bf16_bits, bf16_to_f32

SEED = 1234

# KServe name -> numpy dtype used for the vectors (BF16 vectors hold uint16 bit patterns).
DTYPES = {
    "BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32,
    "UINT64": np.uint64, "INT8": np.int8, "INT16": np.int16, "INT32": np.int32,
    "INT64": np.int64, "FP16": np.float16, "FP32": np.float32, "FP64": np.float64,
    "BF16": np.uint16,
}

# Constant weight of the `matmul` model, shared by both formats.
MATMUL_W = np.random.default_rng(SEED + 1).standard_normal((8, 4)).astype(np.float32)


class Case:
    """inputs/outputs: lists of (name, kserve_datatype, declared_shape, array)."""

    def __init__(self, inputs, outputs, atol=None):
        self.inputs, self.outputs, self.atol = inputs, outputs, atol

    def specs(self, which):
        return [{"name": n, "datatype": dt, "shape": list(shape)} for n, dt, shape, _ in which]


def _dtype_input(rng, name):
    """Values that exercise each type's range edges (sign, high bit, fractional parts)."""
    if name == "BOOL":
        return np.array([[True, False, True, True], [False, False, True, False]])
    if name in ("FP16", "FP32", "FP64"):
        x = np.array([[0.0, -1.5, 3.25, 65504.0], [1e-3, -0.0, 2.0 ** -10, -7.0]])
        return x.astype(DTYPES[name])
    if name == "BF16":
        return bf16_bits(np.array([[1.0, -2.5, 3.0e38, 0.0], [1.0e-3, -7.0, 0.5, 128.0]]))
    info = np.iinfo(DTYPES[name])
    edge = np.array([info.min, info.max, 0, 1], dtype=DTYPES[name])
    return np.stack([edge, rng.integers(info.min, info.max, 4, dtype=DTYPES[name], endpoint=True)])


def cases():
    rng = np.random.default_rng(SEED)
    f32 = lambda *shape: rng.standard_normal(shape).astype(np.float32)  # noqa: E731
    c = {}

    x = f32(3, 4)
    c["identity"] = Case([("input", "FP32", [-1, 4], x)], [("output", "FP32", [-1, 4], x.copy())])
    # identity's interface, another result: the runtime's tests swap one for the other on disk.
    c["negate"] = Case([("input", "FP32", [-1, 4], x)], [("output", "FP32", [-1, 4], -x)])

    a, b = f32(2, 16), f32(2, 16)
    c["add"] = Case([("a", "FP32", [-1, 16], a), ("b", "FP32", [-1, 16], b)],
                    [("sum", "FP32", [-1, 16], a + b)], atol=1e-6)

    # Same interface as Triton's quick-start "simple" model, so stock Triton clients work.
    i0 = rng.integers(-100, 100, (1, 16), dtype=np.int32)
    i1 = rng.integers(-100, 100, (1, 16), dtype=np.int32)
    c["simple"] = Case([("INPUT0", "INT32", [-1, 16], i0), ("INPUT1", "INT32", [-1, 16], i1)],
                       [("OUTPUT0", "INT32", [-1, 16], i0 + i1),
                        ("OUTPUT1", "INT32", [-1, 16], i0 - i1)])

    x = f32(5, 8)
    c["matmul"] = Case([("input", "FP32", [-1, 8], x)],
                       [("output", "FP32", [-1, 4], x @ MATMUL_W)], atol=1e-5)

    x = f32(7, 3)
    c["dynamic_batch"] = Case([("input", "FP32", [-1, 3], x)],
                              [("output", "FP32", [-1, 3], np.maximum(x, 0))])

    a, b = f32(3, 4), rng.integers(-50, 50, (3, 4), dtype=np.int32)
    c["multi_io"] = Case(
        [("a", "FP32", [-1, 4], a), ("b", "INT32", [-1, 4], b)],
        [("sum", "FP32", [-1, 4], a + b.astype(np.float32)),
         ("b_doubled", "INT64", [-1, 4], b.astype(np.int64) * 2),
         ("a_positive", "BOOL", [-1, 4], a > 0)], atol=1e-6)

    for name in DTYPES:
        x = _dtype_input(rng, name)
        y = ~x if name == "BOOL" else x.copy()  # Identity for numbers, Not for bool
        c[f"dtype_{name.lower()}"] = Case([("input", name, [-1, 4], x)],
                                          [("output", name, [-1, 4], y)])
        assert name != "BF16" or np.all(np.isfinite(bf16_to_f32(x)))

    words = np.array([b"hello", b"Polaris inference", b"MiXeD 123", b""], dtype="S")
    c["strings"] = Case([("input", "BYTES", [-1], words)],
                        [("output", "BYTES", [-1], np.char.upper(words))])
    pairs = np.array([[b"a", "h\u00e9llo \u2713".encode()], [b"", b"x" * 40]], dtype="S")
    c["strings_identity"] = Case([("input", "BYTES", [-1, 2], pairs)],
                                 [("output", "BYTES", [-1, 2], pairs.copy())])

    # TorchScript-only: output naming (dict keys / tuple positions) and a non-tensor argument.
    x = f32(2, 3)
    c["dict_output"] = Case([("input", "FP32", [-1, 3], x)],
                            [("doubled", "FP32", [-1, 3], x * 2), ("negated", "FP32", [-1, 3], -x)])
    c["tuple_output"] = Case([("input", "FP32", [-1, 3], x)],
                             [("output__0", "FP32", [-1, 3], x * 2),
                              ("output__1", "FP32", [-1, 3], -x)])
    c["scale_by_int"] = Case([("input", "FP32", [-1, 3], x),
                              ("factor", "INT64", [1], np.array([3], dtype=np.int64))],
                             [("output__0", "FP32", [-1, 3], x * 3)])
    return c


def save_vectors(ctx, name, case):
    """Writes tiny/vectors/<model>.<tensor>.npy; returns {tensor: relpath} for inputs, outputs."""
    def save(items):
        return {n: ctx.save_npy(f"tiny/vectors/{name}.{n}.npy", arr) for n, _, _, arr in items}
    return save(case.inputs), save(case.outputs)
