"""ONNX Runtime's WebGPU provider (Vulkan) end to end through `polaris serve`:
a model whose config.pbtxt asks for webgpu, on bootstrap's software Vulkan
driver (Mesa 25 lavapipe, the path an RX 580 takes through RADV), against
the same model on the CPU provider in the same server. Without a Vulkan
driver the model falls back to the CPU and says why. Software Vulkan takes
about a second per EfficientNet-Lite0 image here: a few requests only."""
import json
import time

import numpy as np
import pytest
import tritonclient.http as httpclient

from conftest import ServerProcess, run, vulkan_icd

NO_VULKAN = {"VK_DRIVER_FILES": "/nonexistent.json", "VK_ICD_FILENAMES": "/nonexistent.json"}
PHOTOS = ["china", "flower"]


def provider_config(provider):
    return ('parameters { key: "polaris.provider" value: { string_value: "%s" } }\n' % provider)


@pytest.fixture(scope="module")
def repo(models, tmp_path_factory):
    root = tmp_path_factory.mktemp("webgpu") / "repo"
    for name, provider in [("effnet_webgpu", "webgpu"), ("effnet_cpu", "cpu")]:
        (root / name / "1").mkdir(parents=True)
        (root / name / "1" / "model.onnx").symlink_to(models / "efficientnet_lite0" / "efficientnet_lite0.onnx")
        (root / name / "config.pbtxt").write_text(provider_config(provider))
    return root


def logits(client, model, photo):
    x = np.load(photo).astype(np.float32)
    if x.ndim == 3:
        x = x[None]
    i = httpclient.InferInput("input", list(x.shape), "FP32")
    i.set_data_from_numpy(x, binary_data=True)
    return client.infer(model, [i]).as_numpy("logits")[0]


def ready_line(server, model):
    lines = [l for l in server.output().splitlines() if f"'{model}'" in l and " ready in " in l]
    assert lines, f"no ready line for {model}:\n{server.output()}"
    return lines[-1]


def test_webgpu_matches_cpu_over_http(polaris_bin, models, repo):
    icd = vulkan_icd()
    server = ServerProcess(polaris_bin, repo, env={"VK_DRIVER_FILES": icd, "VK_ICD_FILENAMES": icd})
    try:
        client = httpclient.InferenceServerClient(server.http_url, network_timeout=300)
        expected = json.loads((models / "efficientnet_lite0/samples/expected_top5.json").read_text())
        for photo in PHOTOS:
            path = models / "efficientnet_lite0/samples" / f"{photo}.npy"
            cpu = logits(client, "effnet_cpu", path)
            start = time.perf_counter()
            gpu = logits(client, "effnet_webgpu", path)
            ms = (time.perf_counter() - start) * 1000
            print(f"{photo}: WebGPU (lavapipe) {ms:.0f} ms per image over HTTP (first includes the load)")
            # Real ImageNet weights: logits of a few units, so 1e-4 is tight.
            np.testing.assert_allclose(gpu, cpu, rtol=0, atol=1e-4 * np.abs(cpu).max())
            top5 = [int(i) for i in np.argsort(-gpu)[:5]]
            assert top5 == [row[0] for row in expected[photo]], (photo, top5)
        assert "provider WebGpuExecutionProvider" in ready_line(server, "effnet_webgpu")
        assert "provider CPUExecutionProvider" in ready_line(server, "effnet_cpu")
    finally:
        code = server.stop()
    assert code == 0, server.output()


def test_no_vulkan_driver_falls_back_to_cpu_with_the_reason(polaris_bin, models, repo):
    server = ServerProcess(polaris_bin, repo, env=NO_VULKAN)
    try:
        client = httpclient.InferenceServerClient(server.http_url, network_timeout=300)
        path = models / "efficientnet_lite0/samples/china.npy"
        np.testing.assert_allclose(logits(client, "effnet_webgpu", path), logits(client, "effnet_cpu", path),
                                   rtol=0, atol=1e-5)
        assert "provider CPUExecutionProvider" in ready_line(server, "effnet_webgpu")
    finally:
        code = server.stop()
    assert code == 0, server.output()
    # The model's metadata says why: the same load through `polaris info`.
    info = json.loads(run(polaris_bin, "info", repo / "effnet_webgpu/1/model.onnx", "--provider", "webgpu",
                          "--json", env=NO_VULKAN).stdout)
    assert info["provider"] == "CPUExecutionProvider"
    reason = info["extra_info"]["provider_fallback"]
    assert reason.startswith("WebGpuExecutionProvider: ") and "No supported adapters" in reason, reason
    assert "VK_DRIVER_FILES" in reason, reason
