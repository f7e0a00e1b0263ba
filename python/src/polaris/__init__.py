"""Polaris from Python: the seed's API over the C++ runtime.

    from polaris import ONNXModelLoader, PyTorchModelLoader, create_loader, MultiModelServer

    loader = ONNXModelLoader(optimization_level=2)
    metadata = loader.load("resnet50.onnx")
    outputs = loader.predict(np.random.randn(1, 3, 224, 224).astype(np.float32))

To call a remote `polaris serve`, use Triton's client (`pip install tritonclient[http]`):
Polaris speaks its protocol (docs/python.md).
"""
import os as _os

# OpenCV (which decodes predict_folder's images) reads its decoded-pixel limit once, when
# the extension loads it: 100 megapixels unless the user chose (batch/sample_loading.h).
_os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", "100000000")

from . import _polaris, _torch_guard  # noqa: E402
from ._batch import ClassScore, FileResult
from ._compress import CompressionReport, prune, quantize
from ._devices import device_report, list_devices, providers
from ._loaders import BaseModelLoader, ONNXModelLoader, PyTorchModelLoader, create_loader, predict_folder
from ._metadata import ModelMetadata, TensorSpec
from ._runtime import set_engine_threads
from ._server import MultiModelServer



def set_log_level(level: str = "warning") -> None:
    """How much the C++ library logs to stderr: trace, debug, info (loads, evictions, provider
    choices), warning (the default; also $POLARIS_LOG_LEVEL), error, critical or off."""
    _polaris.set_log_level(level)


set_log_level(_os.environ.get("POLARIS_LOG_LEVEL", "warning"))
_torch_guard.install()

__version__ = "0.1.0"

__all__ = [
    "BaseModelLoader", "ModelMetadata", "MultiModelServer", "ONNXModelLoader", "PyTorchModelLoader",
    "TensorSpec", "create_loader", "device_report", "list_devices", "providers", "set_engine_threads",
    "set_log_level", "predict_folder", "ClassScore", "FileResult", "CompressionReport", "quantize", "prune",
]
