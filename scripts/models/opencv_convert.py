"""OpenCV-ready ONNX: rewrites what OpenCV DNN 4.6 (Debian 12) cannot import, keeping the maths.

Used by scripts/polaris-opencv-convert (the user tool) and by the model generator (the
`<stem>.opencv.onnx` variants). Only the `onnx` package is needed; onnxruntime, when
importable, checks that the converted model computes what the original does.

What OpenCV 4.6 rejects in common exports, and the rewrite each gets:
- Identity nodes (torch.onnx dedups equal initializers behind Identity): consumers are rewired
  to the Identity's input. OpenCV's Identity layer asserts on a constant input.
- Shape arithmetic on constants (torch's Pad exports compute `pads` through
  ConstantOfShape/Concat/Reshape/Slice/Transpose/Cast): every node whose inputs are all
  constant is evaluated once with onnx's reference evaluator and becomes an initializer.
- `Clip` with min/max as inputs (opset >= 11; ReLU6): OpenCV reads only the opset-6 form with
  `min`/`max` attributes. ONNX has one opset per domain, so the model moves to opset 10, but
  only when every remaining op means the same at opset 10 (OPSET10_SAME) or has a
  known rewrite (Clip and Pad: constant inputs become attributes). Otherwise the conversion
  fails naming the op that blocks it, rather than writing a model ONNX would call invalid.
"""
import argparse
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

# Ops whose opset-10 definition computes the same as their opset-11..13 one for float CNN
# graphs. What changed after 10 for them is new dtypes, negative axes (refused below) and
# Gemm's optional C (refused below). Softmax is absent on purpose: before opset 13 it
# flattens the trailing axes.
OPSET10_SAME = {
    "Add", "Sub", "Mul", "Div", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid",
    "Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
    "BatchNormalization", "Flatten", "Gemm", "MatMul", "Concat", "Reshape", "Transpose",
    "Exp", "Sqrt", "Pow", "Sum", "Max", "Min",
}


def log(msg):
    print(f"[polaris-opencv-convert] {msg}", file=sys.stderr, flush=True)


class ConversionError(Exception):
    """The model cannot be made OpenCV-ready without changing what it computes."""


def opset_of(model, domain=""):
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx") and domain == "":
            return imp.version
    return 0


def constants_to_initializers(graph, opset):
    """Constant nodes (any of their value_* forms) become initializers, so later steps see one
    kind of constant."""
    from onnx.reference import ReferenceEvaluator

    kept = []
    for node in graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            (value,) = ReferenceEvaluator(node, opsets={"": opset}).run(None, {})
            graph.initializer.append(numpy_helper.from_array(np.asarray(value), node.output[0]))
        else:
            kept.append(node)
    moved = len(graph.node) - len(kept)
    del graph.node[:]
    graph.node.extend(kept)
    return moved


def remove_identities(graph):
    """Rewires every consumer of an Identity's output to its input. An Identity producing a
    graph output stays (renaming a graph output would change the model's interface)."""
    outputs = {o.name for o in graph.output}
    rename, kept = {}, []
    for node in graph.node:
        if node.op_type == "Identity" and node.output[0] not in outputs:
            src = node.input[0]
            rename[node.output[0]] = rename.get(src, src)
        else:
            kept.append(node)
    for node in kept:
        for i, name in enumerate(node.input):
            if name in rename:
                node.input[i] = rename[name]
    del graph.node[:]
    graph.node.extend(kept)
    return len(rename)


def fold_constants(graph, opset):
    """Evaluates every node whose inputs are all initializers (in graph order, so chains fold),
    with onnx's reference implementation of that op at the model's opset."""
    from onnx.reference import ReferenceEvaluator

    consts = {t.name: t for t in graph.initializer}
    outputs = {o.name for o in graph.output}
    kept, folded = [], 0
    for node in graph.node:
        inputs = [n for n in node.input if n]
        foldable = (node.domain in ("", "ai.onnx") and inputs and all(n in consts for n in inputs)
                    and not any(o in outputs for o in node.output)
                    and not node.op_type.startswith("Random") and node.op_type != "Identity")
        if not foldable:
            kept.append(node)
            continue
        evaluator = ReferenceEvaluator(node, opsets={"": opset})
        feeds = {n: numpy_helper.to_array(consts[n]) for n in inputs}
        values = evaluator.run(None, feeds)
        for name, value in zip(node.output, values):
            tensor = numpy_helper.from_array(np.asarray(value), name)
            graph.initializer.append(tensor)
            consts[name] = tensor
        folded += 1
    del graph.node[:]
    graph.node.extend(kept)
    return folded


def prune(graph):
    """Drops nodes and initializers no graph output depends on."""
    needed = {o.name for o in graph.output}
    live = []
    for node in reversed(graph.node):
        if any(o in needed for o in node.output):
            live.append(node)
            needed.update(n for n in node.input if n)
    live.reverse()
    removed = len(graph.node) - len(live)
    del graph.node[:]
    graph.node.extend(live)
    all_inits = {t.name for t in graph.initializer}
    inits = [t for t in graph.initializer if t.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(inits)
    # IR < 4 lists initializers among the inputs: drop the ones that went, keep real inputs.
    inputs = [i for i in graph.input if i.name in needed or i.name not in all_inits]
    del graph.input[:]
    graph.input.extend(inputs)
    return removed


def const_value(consts, name, what, node):
    if name not in consts:
        raise ConversionError(f"{node.op_type} node '{node.name}': {what} '{name}' is computed at run "
                              "time; OpenCV 4.6 needs it constant")
    return numpy_helper.to_array(consts[name])


def to_opset10(model):
    """Moves the default domain to opset 10: Clip and Pad take their constant inputs as
    attributes; every other op must mean the same at opset 10."""
    graph = model.graph
    consts = {t.name: t for t in graph.initializer}
    for node in graph.node:
        op = node.op_type
        if node.domain not in ("", "ai.onnx"):
            raise ConversionError(f"node '{node.name}' is in domain '{node.domain}'")
        if op == "Clip":
            attrs = {}
            for i, key in ((1, "min"), (2, "max")):
                if len(node.input) > i and node.input[i]:
                    attrs[key] = float(const_value(consts, node.input[i], key, node).reshape(()))
            del node.input[1:]
            node.attribute.extend(helper.make_attribute(k, v) for k, v in attrs.items())
        elif op == "Pad":
            pads = const_value(consts, node.input[1], "pads", node).astype(np.int64).tolist()
            value = 0.0
            if len(node.input) > 2 and node.input[2]:
                value = float(const_value(consts, node.input[2], "constant_value", node).reshape(()))
            if len(node.input) > 3 and node.input[3]:
                raise ConversionError(f"Pad node '{node.name}' has an axes input (opset 18), which "
                                      "opset 10 cannot express")
            del node.input[1:]
            node.attribute.extend([helper.make_attribute("pads", pads), helper.make_attribute("value", value)])
        elif op not in OPSET10_SAME:
            raise ConversionError(f"{op} node '{node.name}' has no opset-10 form known to compute the "
                                  "same, so the model's Clip nodes cannot take the attribute form "
                                  "OpenCV reads")
        elif any(a.name == "axis" and a.i < 0 for a in node.attribute):
            raise ConversionError(f"{op} node '{node.name}' has a negative axis, new in opset 11")
        elif op == "Gemm" and (len(node.input) < 3 or not node.input[2]):
            raise ConversionError(f"Gemm node '{node.name}' has no C input, which opset 10 requires")
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            imp.version = 10
    if model.ir_version > 7:
        model.ir_version = 7  # opset 10 belongs to IR 5..7; onnx's checker wants them to match
    prune(graph)  # the bounds/pads initializers are attributes now


def convert(model):
    """Returns (converted model, list of what changed); raises ConversionError."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph, opset = out.graph, opset_of(out)
    if opset == 0:
        raise ConversionError("the model imports no default-domain opset")
    changes = []
    if (n := constants_to_initializers(graph, opset)):
        changes.append(f"{n} Constant nodes as initializers")
    if (n := remove_identities(graph)):
        changes.append(f"{n} Identity nodes rewired")
    if (n := fold_constants(graph, opset)):
        changes.append(f"{n} constant nodes folded")
    if (n := prune(graph)):
        changes.append(f"{n} unused nodes dropped")
    clips = [n for n in graph.node if n.op_type == "Clip" and len(n.input) > 1]
    if clips and opset >= 11:
        to_opset10(out)
        changes.append(f"opset {opset} -> 10 ({len(clips)} Clip bounds as attributes)")
    out.producer_name = "polaris-opencv-convert"
    out.producer_version = onnx.__version__
    meta = {p.key: p for p in out.metadata_props}
    entry = meta.get("polaris.opencv_convert") or out.metadata_props.add()
    entry.key, entry.value = "polaris.opencv_convert", "; ".join(changes) or "nothing to change"
    onnx.checker.check_model(out, full_check=True)
    return out, changes


def verify_with_onnxruntime(original, converted, seed=0):
    """Max abs difference of every output on a seeded random input, or None without ORT."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sessions = [ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])
                for m in (original, converted)]
    rng = np.random.default_rng(seed)
    feeds = {}
    for inp in sessions[0].get_inputs():
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in inp.shape]
        dtype = {"tensor(float)": np.float32, "tensor(float16)": np.float16}.get(inp.type)
        if dtype is None:
            raise ConversionError(f"input '{inp.name}' is {inp.type}; OpenCV takes float inputs only")
        feeds[inp.name] = rng.standard_normal(shape).astype(dtype)
    want, got = (s.run(None, feeds) for s in sessions)
    worst = 0.0
    for w, g in zip(want, got):
        if w.shape != g.shape:
            raise ConversionError(f"an output changed shape: {w.shape} -> {g.shape}")
        scale = max(1.0, float(np.max(np.abs(w))))
        err = float(np.max(np.abs(w.astype(np.float64) - g))) if w.size else 0.0
        if err > 1e-4 * scale:
            raise ConversionError(f"the converted model's outputs differ from the original's by {err}")
        worst = max(worst, err)
    return worst


def convert_file(src, dst, verify=True):
    original = onnx.load(src)
    converted, changes = convert(original)
    err = verify_with_onnxruntime(original, converted) if verify else None
    onnx.save(converted, dst)
    return changes, err


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="polaris-opencv-convert",
        description="Rewrite an ONNX model into the form OpenCV DNN 4.6 imports (Identity removed, "
                    "constants folded, Clip bounds as attributes), checked against the original "
                    "with onnxruntime when it is installed.")
    ap.add_argument("input", help="the ONNX model")
    ap.add_argument("output", help="where to write the converted model (convention: <stem>.opencv.onnx "
                                   "beside the model, which Polaris's opencv backend then finds by itself)")
    ap.add_argument("--no-verify", action="store_true", help="skip the onnxruntime comparison")
    args = ap.parse_args(argv)
    try:
        changes, err = convert_file(args.input, args.output, verify=not args.no_verify)
    except ConversionError as e:
        log(f"cannot convert {args.input}: {e}")
        return 2
    log(f"{args.input} -> {args.output}: " + ("; ".join(changes) or "nothing to change"))
    if err is None:
        log("not verified (onnxruntime not installed, or --no-verify)")
    else:
        log(f"verified with onnxruntime: max abs difference {err:.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
