"""The seed report's code examples (../shared/seed), with only the import path changed to
`polaris` and the model paths pointed at the project's generated models. Run as a script
by test_seed_examples.py: exits non-zero if any example fails."""
import os
import sys

import numpy as np

# Run in a scratch folder (the test's tmp_path): the examples' relative paths, as links.
MODELS = os.environ["POLARIS_MODELS_DIR"]
os.makedirs("models", exist_ok=True)
for name in ("resnet50.onnx", "mobilenetv2.onnx"):
    os.symlink(os.path.join(MODELS, "vision", name), os.path.join("models", name))
for folder in ("vision", "tiny"):
    os.symlink(os.path.join(MODELS, folder), folder)

# --- ONNXModelLoader
from polaris import ONNXModelLoader

# Create loader
loader = ONNXModelLoader(
    optimization_level=2,
    intra_op_threads=4,
    inter_op_threads=2
)

# Load model
metadata = loader.load('vision/resnet50.onnx')
print(f"Provider: {metadata.provider}")
print(f"Memory: {metadata.estimated_memory_mb:.1f} MB")

# Run inference
inputs = np.random.randn(1, 3, 224, 224).astype(np.float32)
outputs = loader.predict(inputs)
assert next(iter(outputs.values())).shape == (1, 1000)

# --- PyTorchModelLoader
from polaris import PyTorchModelLoader

# Create loader
loader = PyTorchModelLoader(
    optimization_level=2,
    preferred_device='auto'  # Auto-selects GPU or CPU
)

# Load TorchScript model
metadata = loader.load('vision/mobilenetv2.pt')
print(f"Device: {metadata.provider}")
print(f"Parameters: {metadata.file_size_mb:.1f} MB")

# Run inference
inputs = np.random.randn(1, 3, 224, 224).astype(np.float32)
outputs = loader.predict(inputs)
assert next(iter(outputs.values())).shape == (1, 1000)

# --- create_loader()
from polaris import create_loader, ONNXModelLoader as _O, PyTorchModelLoader as _P

# Auto-detect from extension
loader = create_loader('model.onnx', optimization_level=2)
# Returns ONNXModelLoader
assert type(loader) is _O

loader = create_loader('model.pt', preferred_device='cuda')
# Returns PyTorchModelLoader
assert type(loader) is _P

# --- MultiModelServer
from polaris import MultiModelServer

server = MultiModelServer(max_models=5, memory_limit_mb=6000)

# Load real ONNX models
server.load_model('resnet50', 'models/resnet50.onnx')
server.load_model('mobilenet', 'models/mobilenetv2.onnx')

# Inference uses real models
image_data = np.random.randn(1, 3, 224, 224).astype(np.float32)
outputs = server.predict('resnet50', image_data)
assert next(iter(outputs.values())).shape == (1, 1000)

# --- Basic Usage
loader = ONNXModelLoader(optimization_level=2)
metadata = loader.load('tiny/identity.onnx')
inputs = np.ones((2, 4), np.float32)
outputs = loader.predict(inputs)
assert np.array_equal(outputs["output"], inputs)

loader = create_loader('tiny/identity.onnx')  # or 'model.pt'
metadata = loader.load('tiny/identity.onnx')
outputs = loader.predict(inputs)
assert np.array_equal(outputs["output"], inputs)

print("seed examples: all ran")
sys.exit(0)
