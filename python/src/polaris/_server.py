"""MultiModelServer: many models in one process under a memory budget.

The C++ runtime underneath is the one `polaris serve` uses: models load on
demand, the least recently used idle one is evicted when the budget or
max_models is reached (an evicted model loads again on its next predict),
a model is never unloaded under a request, and dynamic batching applies to
models whose config asks for it. predict() releases the GIL, so threads
calling it concurrently are batched together.
"""
from __future__ import annotations

import json
import os
from typing import Any, Optional, Sequence

import numpy as np

from . import _runtime
from ._inputs import named_inputs, requested
from ._loaders import TORCH_SUFFIXES
from ._torch_guard import check_no_foreign_torch
from ._metadata import ModelMetadata


class MultiModelServer:
    """The seed's MultiModelServer(max_models=5, memory_limit_mb=6000).

    memory_limit_mb: the CPU memory budget for loaded models, in MiB (0: 75% of this
    machine's or cgroup's memory). Loads are measured, not guessed.
    """

    def __init__(self, max_models: int = 5, memory_limit_mb: int = 6000):
        if max_models < 0 or memory_limit_mb < 0:
            raise ValueError("max_models and memory_limit_mb must be 0 (no limit / default) or more")
        self.max_models = max_models
        self.memory_limit_mb = memory_limit_mb
        self._server = _polaris_server(max_models, memory_limit_mb)
        self._metadata: dict[str, ModelMetadata] = {}
        self._configs: dict[str, str] = {}

    def load_model(self, name: str, path: str | os.PathLike, config: Optional[str] = None) -> ModelMetadata:
        """Loads `path` (a model file) as `name` and returns its metadata.

        config: config.pbtxt text for it (max_batch_size, dynamic_batching, instance_group,
        ...), as in a Triton model repository; None: config.pbtxt beside the file if any.
        """
        path = os.fspath(path)
        if path.lower().endswith(TORCH_SUFFIXES):
            check_no_foreign_torch(path)
        self._server.load_model(name, path, config or "")
        self._configs[name] = config or ""
        return self.model_metadata(name)

    def predict(self, name: str, inputs: Any, outputs: Sequence[str] | str | None = None) -> dict[str, np.ndarray]:
        """Runs model `name` (loading it again if it was evicted); inputs as for a loader's predict()."""
        metadata = self._metadata.get(name) or self.model_metadata(name)
        return dict(self._server.predict(name, named_inputs(metadata, inputs), requested(outputs)))

    def predict_batch(self, name: str, source, **options) -> list:
        """Model `name` over a folder of images or .npy files (or a list of files), batched
        automatically: the options and results of polaris.predict_folder(). Preprocessing
        comes from the config given to load_model (or config.pbtxt beside the file)."""
        from ._batch import run_folder
        metadata = self._metadata.get(name) or self.model_metadata(name)
        options.setdefault("labels", None)
        return run_folder(lambda call: self._server.predict_files(name, call), source, model_path=metadata.path,
                          config_text=self._configs.get(name, ""), **options)

    def unload_model(self, name: str) -> None:
        """Removes the model; its memory is freed once the requests running on it end."""
        self._server.unload_model(name)
        self._metadata.pop(name, None)
        self._configs.pop(name, None)

    def compress_model(self, name: str, output: str | os.PathLike, method: str = "quantize", **options):
        """The seed's "compress a loaded model and serve it": `polaris.quantize()` (or, with
        method="prune", `polaris.prune()`) of the file `name` was loaded from, into `output`, with
        `options` passed on; when the result is written (it loads, runs, and keeps accuracy within
        `max_accuracy_drop`), `name` serves it from then on, with the same config. Requests that
        arrive between the unload of the original and the load of the result fail (the name is
        briefly unknown). Returns the CompressionReport."""
        from ._compress import prune, quantize
        if method not in ("quantize", "prune"):
            raise ValueError(f"method '{method}' is not quantize or prune")
        path = self.model_metadata(name).path
        report = (quantize if method == "quantize" else prune)(path, output, **options)
        if report.written:
            config = self._configs.get(name)
            self.unload_model(name)
            self.load_model(name, output, config)
        return report

    def list_models(self) -> list[str]:
        return self._server.list_models()

    def model_metadata(self, name: str) -> ModelMetadata:
        metadata = ModelMetadata.from_json(self._server.model_metadata_json(name))
        self._metadata[name] = metadata
        return metadata

    def get_stats(self) -> dict[str, Any]:
        """Per model: state, resident_bytes, loads, evictions, inference_count, mean latencies; memory per
        device (budget_bytes, used_bytes); counters (loads, evictions, ...)."""
        return json.loads(self._server.stats_json())

    stats = get_stats

    def __contains__(self, name: str) -> bool:
        return name in self.list_models()

    def __repr__(self) -> str:
        return f"<MultiModelServer {len(self.list_models())} models, max_models={self.max_models}, " \
               f"memory_limit_mb={self.memory_limit_mb}>"


def _polaris_server(max_models: int, memory_limit_mb: int):
    from . import _polaris
    return _polaris.Server(max_models, memory_limit_mb, _runtime.runtime())
