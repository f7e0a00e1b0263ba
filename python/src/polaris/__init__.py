"""Polaris from Python: the seed's API over the C++ runtime.

    from polaris import ONNXModelLoader, PyTorchModelLoader, create_loader, MultiModelServer

    loader = ONNXModelLoader(optimization_level=2)
    metadata = loader.load("resnet50.onnx")
    outputs = loader.predict(np.random.randn(1, 3, 224, 224).astype(np.float32))

To call a remote `polaris serve`, use Triton's client (`pip install tritonclient[http]`):
Polaris speaks its protocol (docs/python.md).
"""
from ._devices import device_report, list_devices, providers
from ._loaders import BaseModelLoader, ONNXModelLoader, PyTorchModelLoader, create_loader
from ._metadata import ModelMetadata, TensorSpec
from ._runtime import set_engine_threads
from ._server import MultiModelServer

__version__ = "0.1.0"

__all__ = [
    "BaseModelLoader", "ModelMetadata", "MultiModelServer", "ONNXModelLoader", "PyTorchModelLoader",
    "TensorSpec", "create_loader", "device_report", "list_devices", "providers", "set_engine_threads",
]
