"""Model compression with the engines' own tools: ONNX Runtime's quantizer for ONNX models,
torch's quantization and pruning utilities for TorchScript (docs/compress.md).

`polaris quantize` and `polaris prune` run this file as a script in a child process (so Python's
torch never meets the libtorch Polaris serves with), then measure and check the result with
Polaris's own engines. From Python, `polaris.quantize(...)` and `polaris.prune(...)` call the
functions below and do the same measurements (polaris/_compress_report.py).

This file imports only the standard library at the top: the engines' Python packages are
imported where they are needed, and their absence is a ToolMissing error that says what to
install. It must stay runnable as a plain script (no relative imports).
"""
import argparse
import json
import os
import pathlib
import sys

ORT_HINT = "pip install onnxruntime numpy (the quantizer ships with onnxruntime)"
TORCH_HINT = "install torch for this Python (Debian: apt install python3-torch; or pip install torch)"


class ToolMissing(RuntimeError):
    """The Python package a method needs is not installed; the message says how to install it."""


def _import(module, hint):
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ToolMissing(f"{module} is not installed for {sys.executable} ({e}): {hint}") from None


def model_format(path):
    suffix = pathlib.Path(path).suffix.lower()
    if suffix == ".onnx":
        return "onnx"
    if suffix in (".pt", ".pth", ".torchscript", ".jit"):
        return "torchscript"
    raise ValueError(f"'{path}': not an ONNX (.onnx) or TorchScript (.pt, .pth) model")


# ---------------------------------------------------------------- ONNX


def _calibration_samples(folder, input_name, input_rank, limit):
    """The .npy files of `folder` (sorted, at most `limit`) as feeds for the model's one input,
    with a batch dim added to samples stored without one."""
    np = _import("numpy", ORT_HINT)
    files = sorted(p for p in pathlib.Path(folder).iterdir() if p.suffix == ".npy")
    if not files:
        raise ValueError(f"no .npy calibration samples in '{folder}'")
    for path in files[:limit]:
        array = np.load(path, allow_pickle=False)
        if array.ndim == input_rank - 1:
            array = array[np.newaxis]
        if array.ndim != input_rank:
            raise ValueError(f"calibration sample '{path.name}' has shape {list(array.shape)}; "
                             f"input '{input_name}' has rank {input_rank}")
        yield {input_name: array}


def _pre_process(model, scratch):
    """ONNX Runtime's recommended pre-processing (shape inference, graph optimisation): it
    folds what exporters leave between initializers and their operators (Identity nodes, batch
    norms), without which the quantizer treats weights as activations and quantizes them at
    every run: ResNet50 INT8 then ran 0.72x FP32's speed here, 3x with it. Returns the model
    to quantize and a note."""
    from onnxruntime.quantization.shape_inference import quant_pre_process
    pre = pathlib.Path(scratch) / "preprocessed.onnx"
    try:
        quant_pre_process(str(model), str(pre))
        return pre, "onnxruntime quant_pre_process"
    except Exception as e:  # the quantizer still works on the original, only slower
        return pathlib.Path(model), f"pre-processing skipped ({type(e).__name__}: {e})"


def quantize_onnx(model, output, mode="dynamic", calibration=None, per_channel=False, calibration_limit=256):
    """INT8 with ONNX Runtime's quantizer, after its pre-processing. `dynamic`: weights
    quantized, activations at run time (no data needed). `static`: QDQ format, activation ranges
    calibrated (MinMax) on the .npy samples in the folder `calibration`. Returns what was done,
    as a dict."""
    import tempfile
    quantization = _import("onnxruntime.quantization", ORT_HINT)
    onnx = _import("onnx", ORT_HINT)
    # The quantizer's own sessions warn about every initializer their graph passes drop: errors only.
    _import("onnxruntime", ORT_HINT).set_default_logger_severity(3)
    if mode not in ("dynamic", "static"):
        raise ValueError(f"mode '{mode}' is not dynamic or static")
    if mode == "static" and not calibration:
        raise ValueError("static quantization needs calibration data (a folder of images or .npy files)")
    with tempfile.TemporaryDirectory(prefix=".polaris-pre-", dir=pathlib.Path(output).resolve().parent) as scratch:
        source, pre_note = _pre_process(model, scratch)
        if mode == "dynamic":
            quantization.quantize_dynamic(str(source), str(output), weight_type=quantization.QuantType.QInt8,
                                          per_channel=per_channel)
            return {"method": "onnxruntime quantize_dynamic (INT8 weights)", "format": "onnx",
                    "pre_processing": pre_note}
        result = _quantize_static(quantization, onnx, source, output, calibration, per_channel, calibration_limit)
        result["pre_processing"] = pre_note
        return result


def _quantize_static(quantization, onnx, model, output, calibration, per_channel, calibration_limit):
    """QDQ, INT8 weights, UINT8 activations (the fast pair on x86: S8S8 ran 2.5x slower here)."""
    graph = onnx.load(str(model), load_external_data=False).graph
    initializers = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise ValueError(f"static quantization here calibrates models with one input; this one has {len(inputs)}")
    name, rank = inputs[0].name, len(inputs[0].type.tensor_type.shape.dim)

    class Reader(quantization.CalibrationDataReader):
        def __init__(self):
            self.count = 0
            self.samples = _calibration_samples(calibration, name, rank, calibration_limit)

        def get_next(self):
            sample = next(self.samples, None)
            self.count += sample is not None
            return sample

    reader = Reader()
    quantization.quantize_static(str(model), str(output), reader, quant_format=quantization.QuantFormat.QDQ,
                                 activation_type=quantization.QuantType.QUInt8,
                                 weight_type=quantization.QuantType.QInt8, per_channel=per_channel,
                                 calibrate_method=quantization.CalibrationMethod.MinMax)
    return {"method": "onnxruntime quantize_static (QDQ, INT8 weights, UINT8 activations, MinMax)",
            "format": "onnx", "calibration_samples": reader.count}


# ---------------------------------------------------------------- TorchScript


def _weight_tensors(module):
    """The floating-point weights (rank >= 2) of a TorchScript module: its parameters, or, for a
    frozen module (where weights are graph constants), those constants."""
    torch = _import("torch", TORCH_HINT)
    weights = [p.data for name, p in module.named_parameters() if p.dim() >= 2 and p.is_floating_point()]
    if weights:
        return weights
    graphs = [module.graph] + [getattr(module, m).graph for m in ("forward",) if hasattr(module, m)]
    seen, constants = set(), []
    for graph in graphs:
        for node in graph.nodes():
            if node.kind() == "prim::Constant" and node.hasAttribute("value") and node.kindOf("value") == "t":
                t = node.t("value")
                if isinstance(t, torch.Tensor) and t.dim() >= 2 and t.is_floating_point() and id(t) not in seen:
                    seen.add(id(t))
                    constants.append(t)
    return constants


def quantize_torchscript(model, output, mode="dynamic"):
    """Dynamic INT8 quantization of a TorchScript model's Linear layers with torch's graph-mode
    quantizer (torch.ao.quantization.quantize_dynamic_jit)."""
    torch = _import("torch", TORCH_HINT)
    if mode != "dynamic":
        raise ValueError("TorchScript models are quantized dynamically (--mode dynamic); static "
                         "quantization of TorchScript needs the model's Python code")
    from torch.ao.quantization import default_dynamic_qconfig, quantize_dynamic_jit
    module = torch.jit.load(str(model), map_location="cpu").eval()
    quantized = quantize_dynamic_jit(module, {"": default_dynamic_qconfig})
    graph = str(quantized.graph)
    layers = graph.count("quantized::linear_dynamic")
    if layers == 0:
        raise ValueError("nothing to quantize: torch's dynamic quantization of TorchScript covers Linear layers "
                         "(aten::linear), and this model has none")
    torch.jit.save(quantized, str(output))
    result = {"method": "torch quantize_dynamic_jit (INT8 Linear weights)", "format": "torchscript",
              "quantized_layers": layers}
    recurrent = sum(graph.count(f"aten::{op}(") for op in ("lstm", "gru"))
    if recurrent:
        # Eager quantize_dynamic covers nn.LSTM/nn.GRU, but needs the model's Python class.
        result["note"] = (f"{recurrent} LSTM/GRU layer(s) stay FP32: torch's graph-mode quantizer covers "
                          "Linear only (quantize the eager model with torch.ao.quantization.quantize_dynamic "
                          "before scripting it)")
    return result


def prune_torchscript(model, output, amount=0.5):
    """Unstructured L1 pruning of every weight tensor (rank >= 2) of a TorchScript model with
    torch.nn.utils.prune's L1Unstructured: the `amount` smallest-magnitude weights of each become
    zero. Returns the sparsity reached over those weights."""
    torch = _import("torch", TORCH_HINT)
    from torch.nn.utils import prune
    if not 0 < amount < 1:
        raise ValueError(f"amount {amount} is not between 0 and 1")
    module = torch.jit.load(str(model), map_location="cpu").eval()
    weights = _weight_tensors(module)
    if not weights:
        raise ValueError("no weight tensors (rank >= 2) found to prune")
    zeros = total = 0
    with torch.no_grad():
        for w in weights:
            w.mul_(prune.L1Unstructured(amount=amount).compute_mask(w, torch.ones_like(w)))
            zeros += int((w == 0).sum())
            total += w.numel()
    torch.jit.save(module, str(output))
    return {"method": f"torch.nn.utils.prune L1Unstructured amount {amount}", "format": "torchscript",
            "sparsity": zeros / total, "pruned_tensors": len(weights), "weights": total}


# ---------------------------------------------------------------- entry points


def quantize(model, output, mode="dynamic", calibration=None, per_channel=False, calibration_limit=256):
    if model_format(model) == "onnx":
        return quantize_onnx(model, output, mode, calibration, per_channel, calibration_limit)
    return quantize_torchscript(model, output, mode)


def prune_model(model, output, amount=0.5):
    if model_format(model) != "torchscript":
        raise ValueError("pruning is done with torch's utilities, for TorchScript models (.pt); "
                         "for ONNX models, quantize instead")
    return prune_torchscript(model, output, amount)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    q = sub.add_parser("quantize")
    q.add_argument("model")
    q.add_argument("output")
    q.add_argument("--mode", choices=["dynamic", "static"], default="dynamic")
    q.add_argument("--calibration", help="folder of .npy samples (static)")
    q.add_argument("--calibration-limit", type=int, default=256, help="samples used at most")
    q.add_argument("--per-channel", action="store_true")
    p = sub.add_parser("prune")
    p.add_argument("model")
    p.add_argument("output")
    p.add_argument("--amount", type=float, default=0.5)
    args = parser.parse_args(argv)
    # The quantizer's advice to pre-process goes to the log, not to the user's terminal as a warning.
    import logging
    logging.basicConfig(level=logging.ERROR)
    try:
        if args.command == "quantize":
            result = quantize(args.model, args.output, args.mode, args.calibration, args.per_channel,
                              args.calibration_limit)
        else:
            result = prune_model(args.model, args.output, args.amount)
    except ToolMissing as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
