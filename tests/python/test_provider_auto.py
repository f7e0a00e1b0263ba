"""Provider choice by measurement through `polaris serve`: EfficientNet-Lite0 from the default
set, with no provider named, on a machine with three candidates (ONNX Runtime on the CPU,
ONNX Runtime WebGPU on bootstrap's software Vulkan, OpenCV DNN on PoCL's OpenCL). The first
server measures each, logs the measurements and serves on the fastest; a second server with
the same cache folder reads the decision instead of measuring; a model that names its
provider is never measured. Answers are checked against the sample photos' top-5."""
import json
import re
import shutil

import numpy as np
import pytest
import tritonclient.http as httpclient

from conftest import ServerProcess, vulkan_icd

ENGINE_NAME = {"cpu": "CPUExecutionProvider", "webgpu": "WebGpuExecutionProvider", "opencl": "opencl"}


@pytest.fixture(scope="module")
def setup(models, tmp_path_factory):
    root = tmp_path_factory.mktemp("provider_auto")
    repo = root / "repo"
    # The default set's folder: model.onnx and the OpenCV-ready model.opencv.onnx beside it.
    shutil.copytree(models / "default" / "efficientnet_lite0", repo / "lite0_auto")
    shutil.copytree(models / "default" / "efficientnet_lite0", repo / "lite0_cpu")
    (repo / "lite0_cpu" / "config.pbtxt").write_text(
        'parameters { key: "polaris.provider" value { string_value: "cpu" } }\n')
    icd = vulkan_icd()
    env = {"VK_DRIVER_FILES": icd, "VK_ICD_FILENAMES": icd,
           # OpenCV opens PoCL (a CPU OpenCL device) only when told to (docs/gpu.md).
           "OPENCV_OPENCL_DEVICE": ":", "OPENCV_DNN_OPENCL_ALLOW_ALL_DEVICES": "1"}
    return repo, root / "cache", env


def auto_lines(server, model):
    return [l for l in server.output().splitlines() if f"model '{model}': provider auto: " in l]


def ready(server, model):
    lines = [l for l in server.output().splitlines() if f"'{model}' version 1 ready in " in l]
    assert lines, server.output()
    m = re.search(r"ready in (\d+) ms: .* provider (\S+)", lines[-1])
    return int(m.group(1)), m.group(2)


def top5(client, model, models, photo):
    x = np.load(models / "efficientnet_lite0/samples" / f"{photo}.npy").astype(np.float32)
    x = x[None] if x.ndim == 3 else x
    i = httpclient.InferInput("input", list(x.shape), "FP32")
    i.set_data_from_numpy(x, binary_data=True)
    logits = client.infer(model, [i]).as_numpy("logits").reshape(-1)
    return [int(k) for k in np.argsort(-logits)[:5]]


def serve_once(polaris_bin, models, repo, cache, env, model):
    """A server that loads `model` with one request, then stops; returns (output, top5 per photo)."""
    server = ServerProcess(polaris_bin, repo, "--cache-dir", cache, env=env)
    try:
        client = httpclient.InferenceServerClient(server.http_url, network_timeout=300)
        got = {photo: top5(client, model, models, photo) for photo in ["china", "flower"]}
    finally:
        code = server.stop()
    assert code == 0, server.output()
    return server, got


def test_auto_measures_then_reuses_the_cached_decision(polaris_bin, models, setup):
    repo, cache, env = setup
    expected = json.loads((models / "efficientnet_lite0/samples/expected_top5.json").read_text())
    expected = {photo: [row[0] for row in rows] for photo, rows in expected.items()}

    first, got = serve_once(polaris_bin, models, repo, cache, env, "lite0_auto")
    assert got == {p: expected[p] for p in got}
    lines = auto_lines(first, "lite0_auto")
    assert len(lines) == 1 and lines[0].endswith("(measured)"), first.output()
    text = lines[0].split("provider auto: ", 1)[1].rsplit(" (measured)", 1)[0]
    print("provider_auto:", text)
    measured = {name: float(ms) for name, ms in re.findall(r"([a-z_0-9]+) ([0-9.]+) ms", text.split(" -> ")[0])}
    assert set(measured) == {"cpu", "webgpu", "opencl"}, text
    chosen = text.split(" -> ")[1]
    assert chosen == min(measured, key=measured.get), text
    first_ms, provider = ready(first, "lite0_auto")
    assert provider == ENGINE_NAME[chosen], first.output()
    assert len(list((cache / "provider-choice").glob("*.json"))) == 1

    second, got = serve_once(polaris_bin, models, repo, cache, env, "lite0_auto")
    assert got == {p: expected[p] for p in got}
    lines = auto_lines(second, "lite0_auto")
    assert len(lines) == 1 and "(cached (" in lines[0], second.output()
    assert lines[0].split("provider auto: ", 1)[1].startswith(text + " (cached ("), lines[0]
    second_ms, provider = ready(second, "lite0_auto")
    assert provider == ENGINE_NAME[chosen]
    print(f"load: measured {first_ms} ms, cached {second_ms} ms")
    assert second_ms < first_ms, (first_ms, second_ms)


def test_a_named_provider_is_not_measured(polaris_bin, models, setup):
    repo, cache, env = setup
    server, got = serve_once(polaris_bin, models, repo, cache, env, "lite0_cpu")
    assert not auto_lines(server, "lite0_cpu"), server.output()
    assert ready(server, "lite0_cpu")[1] == "CPUExecutionProvider"
