"""Debian's torch (1.13) and Polaris's libtorch (2.15) never meet in one process: each
order is refused with a clear Python exception, never a crash (measured without the
guards: a TorchScript load after `import torch` segfaults; `import torch` after Polaris
loaded its libtorch aborts)."""
import pytest

from conftest import run_python

LITE = "import os; MODELS = os.environ['POLARIS_MODELS_DIR']; import numpy as np\n" \
       "x = np.load(MODELS + '/efficientnet_lite0/samples/flower.npy')\n"


def torch_installed() -> bool:
    proc = run_python("import importlib.util, sys; sys.exit(importlib.util.find_spec('torch') is None)")
    return proc.returncode == 0


pytestmark = pytest.mark.skipif(not torch_installed(), reason="no Python torch in this venv")


def test_a_torchscript_load_after_import_torch_is_refused_and_onnx_still_works():
    proc = run_python(LITE + """
import torch, polaris
try:
    polaris.PyTorchModelLoader().load(MODELS + '/efficientnet_lite0/efficientnet_lite0.pt')
except RuntimeError as e:
    print('refused:', e)
try:
    polaris.MultiModelServer().load_model('lite', MODELS + '/efficientnet_lite0/efficientnet_lite0.pt')
except RuntimeError as e:
    print('server refused:', e)
onnx = polaris.ONNXModelLoader()
onnx.load(MODELS + '/efficientnet_lite0/efficientnet_lite0.onnx')
print('onnx top-1', int(onnx.predict(x)['logits'].argmax()))
print('torch still works', float(torch.ones(3).sum()))
""")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "refused: cannot load" in proc.stdout and "imported PyTorch" in proc.stdout
    assert "server refused: cannot load" in proc.stdout
    assert "onnx top-1 985" in proc.stdout
    assert "torch still works 3.0" in proc.stdout


def test_import_torch_after_polaris_loaded_libtorch_is_an_import_error():
    proc = run_python(LITE + """
import polaris
loader = polaris.PyTorchModelLoader()
loader.load(MODELS + '/efficientnet_lite0/efficientnet_lite0.pt')
print('top-1', int(next(iter(loader.predict(x).values())).argmax()))
try:
    import torch
except ImportError as e:
    print('refused:', e)
try:
    import torchvision
except ImportError as e:
    print('torchvision refused too')
print('still serving', int(next(iter(loader.predict(x).values())).argmax()))
""")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "top-1 985" in proc.stdout
    assert "refused: cannot import torch: Polaris already loaded its own libtorch" in proc.stdout
    assert "torchvision refused too" in proc.stdout
    assert "still serving 985" in proc.stdout


def test_import_torch_is_fine_while_polaris_has_not_loaded_libtorch():
    proc = run_python(LITE + """
import polaris
onnx = polaris.ONNXModelLoader()
onnx.load(MODELS + '/efficientnet_lite0/efficientnet_lite0.onnx')
polaris.list_devices()
import torch
print('torch', float(torch.ones(2).sum()), int(onnx.predict(x)['logits'].argmax()))
""")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "torch 2.0 985" in proc.stdout
