"""`polaris.quantize()` and `polaris.prune()`: the same conversion as `polaris quantize` and
`polaris prune` (compress.py, run in a child Python so that the quantizer's onnxruntime and
Python's torch never share this process with Polaris's engines), then a report measured with
Polaris's loaders, and the result written only when it keeps accuracy (docs/compress.md)."""
from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
from typing import Any, Iterable, Optional

import numpy as np

_TOOL = pathlib.Path(__file__).with_name("compress.py")


@dataclasses.dataclass
class ModelFigures:
    bytes: int
    median_ms: float
    accuracy: Optional[float] = None  # top-1, 0..1, with a labelled set


@dataclasses.dataclass
class CompressionReport:
    """What a compression did: the tool's description (`method`, and `sparsity` for pruning,
    `calibration_samples` for static quantization), the figures before and after, and whether
    `output` was written (`refused` says why not)."""
    model: str
    output: str
    tool: dict[str, Any]
    before: ModelFigures
    after: ModelFigures
    written: bool
    refused: str = ""

    @property
    def accuracy_drop_points(self) -> Optional[float]:
        if self.before.accuracy is None or self.after.accuracy is None:
            return None
        return (self.before.accuracy - self.after.accuracy) * 100


def _run_tool(args: list[str], python: Optional[str]) -> dict[str, Any]:
    proc = subprocess.run([python or sys.executable, str(_TOOL), *args], capture_output=True, text=True)
    message = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
    if proc.returncode == 3:
        raise ModuleNotFoundError(message.removeprefix("error: "))
    if proc.returncode != 0:
        raise (ValueError if proc.returncode == 1 else RuntimeError)(message.removeprefix("error: "))
    return json.loads(proc.stdout)


def _top1(loader, inputs: np.ndarray, labels: np.ndarray, batch: int = 64) -> float:
    correct = 0
    for first in range(0, len(inputs), batch):
        scores = next(iter(loader.predict(inputs[first:first + batch]).values()))
        correct += int((scores.argmax(axis=1) == labels[first:first + batch]).sum())
    return correct / len(inputs)


def _sample_input(loader) -> np.ndarray:
    """Batch 1 of the first input, dynamic dims 1, uniform [0, 1) (as polaris validate makes them)."""
    spec = loader.metadata.inputs[0]
    shape = [d if isinstance(d, int) and d > 0 else 1 for d in spec.shape]
    return np.random.default_rng(42).random(shape, dtype=np.float32).astype(spec.dtype or "float32")


def _measure(model: str, output: str, timing_runs: int, labelled) -> tuple[ModelFigures, ModelFigures]:
    from ._loaders import create_loader
    loaders = [create_loader(model), create_loader(output)]
    for loader, path in zip(loaders, (model, output)):
        loader.load(path)
    sample = _sample_input(loaders[0])
    times: list[list[float]] = [[], []]
    for loader in loaders:
        loader.predict(sample)  # lazy allocations
    for _ in range(timing_runs):  # interleaved, so both see the same machine
        for side, loader in enumerate(loaders):
            start = time.perf_counter()
            loader.predict(sample)
            times[side].append((time.perf_counter() - start) * 1000)
    figures = []
    for side, (loader, path) in enumerate(zip(loaders, (model, output))):
        accuracy = _top1(loader, *labelled) if labelled is not None else None
        figures.append(ModelFigures(os.path.getsize(path), float(np.median(times[side])), accuracy))
        loader.unload()
    return figures[0], figures[1]


def _labelled(eval_inputs, eval_labels):
    if eval_inputs is None and eval_labels is None:
        return None
    if eval_inputs is None or eval_labels is None:
        raise ValueError("a labelled set needs both eval_inputs and eval_labels")
    inputs = np.load(eval_inputs) if isinstance(eval_inputs, (str, os.PathLike)) else np.asarray(eval_inputs)
    labels = np.load(eval_labels) if isinstance(eval_labels, (str, os.PathLike)) else np.asarray(eval_labels)
    if labels.ndim != 1 or len(labels) != len(inputs):
        raise ValueError(f"{len(labels)} labels for {len(inputs)} input rows")
    return inputs, labels


def _compress(command: list[str], model, output, scratch: pathlib.Path, eval_inputs, eval_labels,
              max_accuracy_drop, timing_runs, python) -> CompressionReport:
    model, output = os.fspath(model), os.fspath(output)
    if pathlib.Path(output).suffix != pathlib.Path(model).suffix:
        raise ValueError("output must keep the model's extension, so the engine that serves it knows it")
    if max_accuracy_drop is not None and eval_inputs is None:
        raise ValueError("max_accuracy_drop needs a labelled set (eval_inputs and eval_labels)")
    labelled = _labelled(eval_inputs, eval_labels)
    staged = scratch / pathlib.Path(output).name
    tool = _run_tool([command[0], model, str(staged), *command[1:]], python)
    before, after = _measure(model, str(staged), timing_runs, labelled)
    report = CompressionReport(model, output, tool, before, after, written=False)
    drop = report.accuracy_drop_points
    if max_accuracy_drop is not None and drop is not None and drop > max_accuracy_drop:
        report.refused = f"accuracy dropped {drop:.2f} points, more than max_accuracy_drop {max_accuracy_drop}"
        return report
    os.replace(staged, output)  # the scratch folder is beside the output: one filesystem
    report.written = True
    return report


def quantize(model, output, mode: str = "dynamic", calibration: str | os.PathLike | Iterable[np.ndarray] | None = None,
             per_channel: bool = False, eval_inputs=None, eval_labels=None,
             max_accuracy_drop: Optional[float] = None, timing_runs: int = 20,
             python: Optional[str] = None) -> CompressionReport:
    """INT8 quantization: ONNX models with ONNX Runtime's quantizer (`dynamic`, or `static` QDQ
    calibrated on `calibration`: a folder of .npy samples or an iterable of arrays), TorchScript
    models with torch's dynamic quantization of Linear layers. With `eval_inputs` / `eval_labels`
    (arrays or .npy paths) the top-1 accuracy before and after is measured, and
    `max_accuracy_drop` (percentage points) refuses a model that loses more. `python`: the
    interpreter with the tools (default: this one)."""
    with tempfile.TemporaryDirectory(prefix=".polaris-quantize-", dir=pathlib.Path(output).resolve().parent) as tmp:
        scratch = pathlib.Path(tmp)
        command = ["quantize", "--mode", mode] + (["--per-channel"] if per_channel else [])
        if calibration is not None:
            if not isinstance(calibration, (str, os.PathLike)):
                folder = scratch / "calibration"
                folder.mkdir()
                for i, sample in enumerate(calibration):
                    np.save(folder / f"{i:05d}.npy", np.asarray(sample))
                calibration = folder
            command += ["--calibration", os.fspath(calibration)]
        return _compress(command, model, output, scratch, eval_inputs, eval_labels, max_accuracy_drop,
                         timing_runs, python)


def prune(model, output, amount: float = 0.5, eval_inputs=None, eval_labels=None,
          max_accuracy_drop: Optional[float] = None, timing_runs: int = 20,
          python: Optional[str] = None) -> CompressionReport:
    """L1 unstructured pruning of a TorchScript model's weight tensors with torch.nn.utils.prune
    (`amount` of each set to zero); the report's `tool["sparsity"]` is the sparsity reached."""
    with tempfile.TemporaryDirectory(prefix=".polaris-prune-", dir=pathlib.Path(output).resolve().parent) as tmp:
        return _compress(["prune", "--amount", str(amount)], model, output, pathlib.Path(tmp), eval_inputs,
                         eval_labels, max_accuracy_drop, timing_runs, python)
