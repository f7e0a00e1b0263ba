"""Tiny hand-built ONNX models (onnx.helper, opset 17) for protocol and dtype plumbing tests.

ir_version 8 keeps the files loadable by every ONNX Runtime since 1.12 (the server needs 1.21+).
Each model is run through ONNX Runtime here and must reproduce the numpy reference exactly
(or within a tiny float tolerance), so a failing server test points at the server, not the model.
"""
import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper

from common import assert_close, log, ort_session, test_case
from tiny_data import MATMUL_W, cases, save_vectors

OPSET = 17
IR_VERSION = 8

ONNX_TYPES = {
    "BOOL": T.BOOL, "UINT8": T.UINT8, "UINT16": T.UINT16, "UINT32": T.UINT32,
    "UINT64": T.UINT64, "INT8": T.INT8, "INT16": T.INT16, "INT32": T.INT32, "INT64": T.INT64,
    "FP16": T.FLOAT16, "FP32": T.FLOAT, "FP64": T.DOUBLE, "BF16": T.BFLOAT16, "BYTES": T.STRING,
}


def _vi(name, datatype, shape, batch_param=None):
    # -1 becomes an anonymous dynamic dim, except where a named dim_param is wanted.
    dims = [batch_param if (d == -1 and batch_param and i == 0) else (None if d == -1 else d)
            for i, d in enumerate(shape)]
    return h.make_tensor_value_info(name, ONNX_TYPES[datatype], dims)


def _graph_nodes(name):
    """Node list (and initializers) for each model; tensor names follow tiny_data.cases()."""
    if name in ("identity", "strings_identity") or name.startswith("dtype_") and name != "dtype_bool":
        return [h.make_node("Identity", ["input"], ["output"])], []
    if name == "negate":
        return [h.make_node("Neg", ["input"], ["output"])], []
    if name == "dtype_bool":
        return [h.make_node("Not", ["input"], ["output"])], []
    if name == "add":
        return [h.make_node("Add", ["a", "b"], ["sum"])], []
    if name == "simple":
        return [h.make_node("Add", ["INPUT0", "INPUT1"], ["OUTPUT0"]),
                h.make_node("Sub", ["INPUT0", "INPUT1"], ["OUTPUT1"])], []
    if name == "matmul":
        w = numpy_helper.from_array(MATMUL_W, "weight")
        return [h.make_node("MatMul", ["input", "weight"], ["output"])], [w]
    if name == "dynamic_batch":
        return [h.make_node("Relu", ["input"], ["output"])], []
    if name == "multi_io":
        two = numpy_helper.from_array(np.array(2, dtype=np.int64), "two")
        zero = numpy_helper.from_array(np.array(0, dtype=np.float32), "zero")
        return [h.make_node("Cast", ["b"], ["b_f32"], to=T.FLOAT),
                h.make_node("Add", ["a", "b_f32"], ["sum"]),
                h.make_node("Cast", ["b"], ["b_i64"], to=T.INT64),
                h.make_node("Mul", ["b_i64", "two"], ["b_doubled"]),
                h.make_node("Greater", ["a", "zero"], ["a_positive"])], [two, zero]
    if name == "strings":
        # locale "C": the default en_US.UTF-8 makes ORT fail on hosts without that locale.
        return [h.make_node("StringNormalizer", ["input"], ["output"], case_change_action="UPPER",
                            is_case_sensitive=1, locale="C")], []
    return None


def build(name, case):
    nodes, inits = _graph_nodes(name)
    batch = "batch" if name == "dynamic_batch" else None  # the one model with a named dim_param
    graph = h.make_graph(nodes, name,
                         [_vi(n, dt, s, batch) for n, dt, s, _ in case.inputs],
                         [_vi(n, dt, s, batch) for n, dt, s, _ in case.outputs], inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", OPSET)],
                         ir_version=IR_VERSION, producer_name="polaris-make-models")
    onnx.checker.check_model(model, full_check=True)
    return model


def _feed(arr, datatype):
    if datatype == "BYTES":  # ORT wants str objects; vectors store UTF-8 bytes
        return np.vectorize(lambda b: b.decode("utf-8"), otypes=[object])(arr)
    return arr


def run_ort(path, case):
    """Runs the model with ORT; returns outputs converted back to the vector representation."""
    sess = ort_session(path)
    if any(dt == "BF16" for _, dt, _, _ in case.inputs + case.outputs):
        return _run_bf16(sess, case)
    feeds = {n: _feed(arr, dt) for n, dt, _, arr in case.inputs}
    names = [n for n, _, _, _ in case.outputs]
    got = dict(zip(names, sess.run(names, feeds)))
    for n, dt, _, _ in case.outputs:
        if dt == "BYTES":
            got[n] = np.array([s.encode("utf-8") for s in got[n].ravel()],
                              dtype="S").reshape(got[n].shape)
    return got


def _run_bf16(sess, case):
    # numpy has no bfloat16, so bind uint16 buffers tagged as BFLOAT16; ORT writes the
    # outputs straight into the preallocated arrays.
    import onnxruntime as ort
    io = sess.io_binding()
    for n, _, _, arr in case.inputs:
        io.bind_ortvalue_input(n, ort.OrtValue.ortvalue_from_numpy_with_onnx_type(arr, T.BFLOAT16))
    got = {}
    for n, _, _, arr in case.outputs:
        got[n] = np.zeros_like(arr)
        io.bind_ortvalue_output(
            n, ort.OrtValue.ortvalue_from_numpy_with_onnx_type(got[n], T.BFLOAT16))
    sess.run_with_iobinding(io)
    return got


def generate(ctx):
    log("building tiny ONNX models ...")
    for name, case in cases().items():
        if _graph_nodes(name) is None:
            continue  # TorchScript-only case
        rel = f"tiny/{name}.onnx"
        onnx.save(build(name, case), ctx.path(rel))
        got = run_ort(ctx.path(rel), case)
        for n, _, _, want in case.outputs:
            assert_close(f"{name}.onnx:{n}", got[n], want, atol=case.atol or 0.0)
        ins, outs = save_vectors(ctx, name, case)
        ctx.add(name, rel, "onnx", case.specs(case.inputs), case.specs(case.outputs),
                [test_case(ins, outs, atol=case.atol)])
