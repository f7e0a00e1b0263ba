"""OpenCL end to end: `polaris serve` runs EfficientNet-Lite0 through the opencv backend on
the "opencl" provider (PoCL's CPU device here), chosen per model in config.pbtxt, and answers
over HTTP what ONNX Runtime on the CPU answers for the same model in the same server.

The model is the default set's `model.onnx` (opset 13), which OpenCV 4.6 cannot import; the
opencv backend serves the `model.opencv.onnx` that scripts/make-models wrote beside it
(scripts/polaris-opencv-convert). That the OpenCL device really ran the net comes from PoCL's
own trace (POCL_TRACING=text), written by the driver, not from what OpenCV or Polaris report.
"""
import json
import shutil
import time

import numpy as np
import pytest
import tritonclient.http as httpclient

from conftest import ServerProcess

MODELS = {  # name -> (backend, provider)
    "lite0_opencl": ("opencv", "opencl"),
    "lite0_opencv_cpu": ("opencv", "cpu"),
    "lite0_ort_cpu": ("onnxruntime", "cpu"),
}


def _config(backend, provider):
    return (f'backend: "{backend}"\n'
            'max_batch_size: 0\n'
            'input { name: "input" data_type: TYPE_FP32 dims: [1, 3, 224, 224] }\n'
            'output { name: "logits" data_type: TYPE_FP32 dims: [1, 1000] }\n'
            f'parameters {{ key: "polaris.provider" value {{ string_value: "{provider}" }} }}\n')


@pytest.fixture(scope="module")
def opencl_server(polaris_bin, models, tmp_path_factory):
    root = tmp_path_factory.mktemp("opencl")
    repo = root / "repo"
    for name, (backend, provider) in MODELS.items():
        shutil.copytree(models / "default" / "efficientnet_lite0" / "1", repo / name / "1")
        (repo / name / "config.pbtxt").write_text(_config(backend, provider))
    trace = root / "pocl_trace.log"
    env = {
        # OpenCV opens only GPUs unless told otherwise, and runs OpenCL nets on the CPU for
        # devices that are not GPUs unless ALLOW_ALL_DEVICES is set (docs/gpu.md).
        "OPENCV_OPENCL_DEVICE": ":",
        "OPENCV_DNN_OPENCL_ALLOW_ALL_DEVICES": "1",
        # PoCL's tracer: one line per OpenCL command; complete once the server exits.
        "POCL_TRACING": "text",
        "POCL_TRACING_OPT": str(trace),
    }
    server = ServerProcess(polaris_bin, repo, env=env)
    server.trace = trace
    yield server
    server.stop()


def _logits(client, model, image):
    inp = httpclient.InferInput("input", list(image.shape), "FP32")
    inp.set_data_from_numpy(image, binary_data=True)
    return client.infer(model, [inp]).as_numpy("logits")


def _top5(logits):
    return [int(i) for i in np.argsort(-logits.reshape(-1), kind="stable")[:5]]


def test_opencl_gives_ort_cpus_top5_and_logits_over_http(opencl_server, models):
    client = httpclient.InferenceServerClient(opencl_server.http_url, network_timeout=300)
    samples = models / "efficientnet_lite0" / "samples"
    expected = json.loads((samples / "expected_top5.json").read_text())  # eager torch's
    timings = {}
    for photo in ("flower", "china"):
        image = np.load(samples / f"{photo}.npy")
        got = {name: _logits(client, name, image) for name in MODELS}  # first request loads
        ort = got["lite0_ort_cpu"]
        for name, logits in got.items():
            assert logits.shape == (1, 1000), name
            assert _top5(logits) == [row[0] for row in expected[photo]], (name, photo)
            np.testing.assert_allclose(logits, ort, atol=1e-3, rtol=1e-3, err_msg=f"{name} vs ORT CPU")
        for name in MODELS:  # loaded and warm now
            start = time.perf_counter()
            for _ in range(3):
                _logits(client, name, image)
            timings.setdefault(name, []).append((time.perf_counter() - start) / 3 * 1000)
    print("ms per image over HTTP: " + ", ".join(f"{n} {np.mean(t):.1f}" for n, t in timings.items()))

    log = opencl_server.output()
    # The manager logs the provider each model runs on.
    assert "provider opencl" in log, log
    assert "provider cpu" in log and "provider CPUExecutionProvider" in log, log


def test_the_opencl_device_ran_the_convolutions(opencl_server):
    """Runs after the inference test (pytest keeps file order). Only lite0_opencl uses OpenCL in
    this server, so every kernel in PoCL's trace is its: without the device (OpenCV's silent CPU
    fallback) the trace would list none."""
    client = httpclient.InferenceServerClient(opencl_server.http_url)
    assert client.is_model_ready("lite0_opencl")
    assert opencl_server.stop() == 0
    kernels = {}
    for line in opencl_server.trace.read_text().splitlines():
        if "| ndrange_kernel | complete |" in line:
            name = line.rsplit("name=", 1)[1]
            kernels[name] = kernels.get(name, 0) + 1
    conv = {k: v for k, v in kernels.items() if k.startswith(("BASIC_", "IDLF_", "GEMM_LIKE_", "DWCONV_"))}
    print(f"PoCL ran {sum(kernels.values())} kernels; {sum(conv.values())} convolution in {len(conv)} shapes")
    assert len(conv) >= 20, kernels  # EfficientNet-Lite0: 49 Conv nodes in 32 shapes
    assert any(k.startswith("ave_pool") for k in kernels), kernels
    assert any(k.startswith("matvec_mul") or k.startswith("gemm") for k in kernels), kernels
