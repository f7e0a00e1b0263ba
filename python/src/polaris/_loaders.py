"""The seed's loaders: ONNXModelLoader, PyTorchModelLoader and create_loader().

A loader holds one model loaded by the C++ library (the engines run in
modules, exactly as in `polaris serve`); predict() releases the GIL while the
engine runs, so Python threads predict in parallel.
"""
from __future__ import annotations

import os
from typing import Any, Optional, Sequence

import numpy as np

from . import _runtime
from ._inputs import named_inputs, requested
from ._metadata import ModelMetadata
from ._torch_guard import check_no_foreign_torch

ONNX_SUFFIXES = (".onnx", ".ort")
TORCH_SUFFIXES = (".pt", ".pth", ".torchscript", ".jit")

_DEVICES = {"auto": [], "cpu": ["cpu"], "cuda": ["cuda", "cpu"], "gpu": ["cuda", "cpu"]}


class BaseModelLoader:
    """What both loaders share: load(), predict(), unload(), metadata."""

    backend = ""
    suffixes: tuple[str, ...] = ()

    def __init__(self, optimization_level: int | str = 2, providers: Optional[Sequence[str]] = None,
                 intra_op_threads: Optional[int] = None, inter_op_threads: Optional[int] = None,
                 parameters: Optional[dict[str, str]] = None):
        self.optimization_level = optimization_level
        self.providers = list(providers or [])
        self.intra_op_threads = intra_op_threads
        self.inter_op_threads = inter_op_threads
        self.parameters = dict(parameters or {})
        self.metadata: Optional[ModelMetadata] = None
        self._model = None

    def load(self, path: str | os.PathLike, name: str = "") -> ModelMetadata:
        """Loads the model file (replacing one loaded before) and returns its metadata."""
        path = os.fspath(path)
        other = TORCH_SUFFIXES if self.backend == "onnxruntime" else ONNX_SUFFIXES
        if path.lower().endswith(other):  # another name is fine: the engine reads the file
            raise ValueError(f"{type(self).__name__} loads {', '.join(self.suffixes)} files, not '{path}' "
                             "(create_loader() picks the loader by extension)")
        if self.backend == "torch":
            check_no_foreign_torch(path)
        rt = _runtime.runtime(self.intra_op_threads, self.inter_op_threads)
        self.unload()
        self._model = rt.load(path, name, self.providers, str(self.optimization_level), self.backend,
                              self.parameters)
        self.metadata = ModelMetadata.from_json(self._model.metadata_json())
        return self.metadata

    @property
    def is_loaded(self) -> bool:
        return self._model is not None

    def predict(self, inputs: Any, outputs: Sequence[str] | str | None = None) -> dict[str, np.ndarray]:
        """Runs the model once: one array (one-input models), a dict name -> array, or a list in input order.

        Returns {output name: array} in the model's order (or `outputs`' order). Arrays are
        read in place when C-contiguous; the results view the engine's buffers (no copy).
        """
        model = self._loaded()
        return _engine_run(model, named_inputs(self.metadata, inputs), requested(outputs))

    def predict_folder(self, source, **options) -> list:
        """predict_folder(self, source, ...): this loader's model over a folder (polaris.predict_folder)."""
        from ._batch import run_folder
        model = self._loaded()
        return run_folder(model.predict_files, source, model_path=self.metadata.path, **_folder_options(options))

    def unload(self) -> None:
        """Frees the model's memory now (it is also freed when the loader is garbage collected)."""
        self._model = None
        self.metadata = None

    def _loaded(self):
        if self._model is None:
            raise RuntimeError(f"{type(self).__name__}: no model loaded (call load(path) first)")
        return self._model

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.unload()

    def __repr__(self) -> str:
        what = f"'{self.metadata.name}' on {self.metadata.provider}" if self.metadata else "nothing loaded"
        return f"<{type(self).__name__} {what}>"


def _folder_options(options: dict) -> dict:
    options.setdefault("labels", None)
    return options


def _engine_run(model, inputs: list, outputs: list[str]) -> dict[str, np.ndarray]:
    # The extension releases the GIL while the engine runs (tests/python_package/test_gil.py).
    return dict(model.run(inputs, outputs))


class ONNXModelLoader(BaseModelLoader):
    """ONNX models through ONNX Runtime: providers best first (or `providers`), graph optimisation 0-2.

    intra_op_threads/inter_op_threads: the engines' thread budget, which every model in the
    process shares (see polaris.set_engine_threads); None: one per core, and 1.
    """

    backend = "onnxruntime"
    suffixes = ONNX_SUFFIXES

    def __init__(self, optimization_level: int | str = 2, intra_op_threads: Optional[int] = None,
                 inter_op_threads: Optional[int] = None, providers: Optional[Sequence[str]] = None,
                 **parameters: str):
        super().__init__(optimization_level, providers, intra_op_threads, inter_op_threads, parameters)


class PyTorchModelLoader(BaseModelLoader):
    """TorchScript models (.pt/.pth files saved with torch.jit.save) through libtorch.

    preferred_device: 'auto' (the best this machine has), 'cpu', or 'cuda'/'gpu' (falling back
    to the CPU when no GPU can be used; metadata.extra_info says why).
    """

    backend = "torch"
    suffixes = TORCH_SUFFIXES

    def __init__(self, optimization_level: int | str = 2, preferred_device: str = "auto",
                 intra_op_threads: Optional[int] = None, inter_op_threads: Optional[int] = None,
                 **parameters: str):
        if preferred_device not in _DEVICES and not preferred_device.startswith("cuda:"):
            raise ValueError(f"preferred_device must be one of {', '.join(_DEVICES)} or 'cuda:N', "
                             f"not {preferred_device!r}")
        devices = _DEVICES.get(preferred_device, [preferred_device, "cpu"])
        super().__init__(optimization_level, devices, intra_op_threads, inter_op_threads, parameters)
        self.preferred_device = preferred_device


def predict_folder(model, source, **options) -> list:
    """Runs a model over a folder of images (decoded with OpenCV) or .npy files.

    model: a loaded loader, or a model file (loaded with create_loader). source: a folder
    (its images and .npy files, sorted; recursive=True for subfolders) or a list of files.
    Options: preprocess (imagenet, efficientnet-lite, unit, raw; default the model config's
    polaris.preprocess, else imagenet, sized by the input's shape), batch_size (8), top_k (5),
    labels (default labels.txt near the model), output (a .csv or .jsonl file written when
    complete), output_format, keep_outputs (each file's arrays), on_result(FileResult),
    on_progress(done, total, failed, seconds) (default: progress on stderr; progress=False
    for none), collect (False: return [] and only call on_result). A file that cannot be read
    is a FileResult with ok False and the reason; it never ends the run.
    """
    loader = model
    if isinstance(model, (str, os.PathLike)):
        loader = create_loader(model)
        loader.load(model)
    return loader.predict_folder(source, **options)


# Triton's platform / backend names, as config.pbtxt gives them.
_CONFIG_BACKENDS = {"onnxruntime_onnx": "onnx", "onnxruntime": "onnx", "onnx": "onnx",
                    "pytorch_libtorch": "torch", "pytorch": "torch", "libtorch": "torch", "torch": "torch"}


def _framework_from_config(path: str, config: Optional[str]) -> Optional[str]:
    """'onnx' or 'torch' from `config` (config.pbtxt text) or the config.pbtxt beside the file."""
    source = "the config given"
    if config is None:
        beside = os.path.join(os.path.dirname(path) or ".", "config.pbtxt")
        up = os.path.join(os.path.dirname(os.path.dirname(path)) or ".", "config.pbtxt")
        found = next((c for c in (beside, up) if os.path.isfile(c)), None)
        if found is None:
            return None
        with open(found, encoding="utf-8") as f:
            config, source = f.read(), found
    from . import _polaris
    platform = _polaris.config_platform(config, source)
    if platform and platform not in _CONFIG_BACKENDS:
        raise ValueError(f"{source}: platform/backend '{platform}' is not served by Polaris "
                         "(onnxruntime_onnx or pytorch_libtorch)")
    return _CONFIG_BACKENDS.get(platform)


def create_loader(path: str | os.PathLike, config: Optional[str] = None, **options: Any) -> BaseModelLoader:
    """The loader for `path`: by its extension (.onnx/.ort: ONNX, .pt/.pth/...: TorchScript), else by
    the platform of `config` (config.pbtxt text) or of the config.pbtxt beside the file (or in its
    Triton model folder: onnxruntime_onnx, pytorch_libtorch).

    Options go to the loader (optimization_level, intra_op_threads, preferred_device, ...).
    """
    path = os.fspath(path)
    lower = path.lower()
    framework = "onnx" if lower.endswith(ONNX_SUFFIXES) else "torch" if lower.endswith(TORCH_SUFFIXES) else None
    if framework is None or config is not None:
        framework = _framework_from_config(path, config) or framework
    if framework == "onnx":
        return ONNXModelLoader(**options)
    if framework == "torch":
        return PyTorchModelLoader(**options)
    raise ValueError(f"cannot tell the framework of '{path}' from its extension: use .onnx or .ort for ONNX, "
                     ".pt, .pth, .torchscript or .jit for TorchScript, give config= (config.pbtxt text with a "
                     "platform), or make the loader yourself")
