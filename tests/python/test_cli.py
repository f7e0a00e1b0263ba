"""The polaris command line, run as a user runs it: real binary, real engines, real models."""
import json
import os
import re
import subprocess

import numpy as np
import pytest

from conftest import BUILD, run


def test_version_names_polaris_and_engine_versions(polaris_bin):
    out = run(polaris_bin, "--version").stdout
    assert re.search(r"^polaris \d+\.\d+\.\d+", out, re.M)
    assert "ONNX Runtime 1.30.0" in out
    assert "libtorch 2.15.0" in out
    assert re.search(r"OpenCV 4\.\d+", out)


def test_server_binary_links_no_engine(polaris_bin):
    ldd = subprocess.run(["ldd", str(polaris_bin)], capture_output=True, text=True, check=True).stdout
    assert "libonnxruntime" not in ldd
    assert "libtorch" not in ldd and "libc10" not in ldd
    # OpenCV's engine (dnn) is a module too; the binary links only OpenCV's image codecs,
    # for `polaris predict --input-dir` (docs/batch-prediction.md).
    assert "libopencv_dnn" not in ldd


def test_info_on_onnx_never_loads_libtorch(polaris_bin, models):
    # The dynamic loader lists every library it maps; libtorch must not be one.
    proc = run(polaris_bin, "info", models / "tiny/add.onnx", env={"LD_DEBUG": "files"})
    assert "libonnxruntime.so" in proc.stderr
    assert "libtorch_cpu" not in proc.stderr and "libpolaris_backend_torch" not in proc.stderr


def test_info_json_has_the_seed_fields(polaris_bin, models):
    info = json.loads(run(polaris_bin, "info", models / "tiny/dynamic_batch.onnx", "--json").stdout)
    for key in ("name", "framework", "input_names", "output_names", "input_shapes", "output_shapes",
                "input_dtypes", "output_dtypes", "file_size_mb", "estimated_memory_mb", "provider",
                "optimization_level", "extra_info"):
        assert key in info, key
    assert info["framework"] == "onnx"
    assert info["input_shapes"][0][0] == -1
    assert info["inputs"][0]["dim_names"][0] == "batch"


@pytest.mark.parametrize("path", ["nope.onnx", "tiny/vectors", "manifest.json"])
def test_info_bad_paths_fail_clearly(polaris_bin, models, path):
    proc = run(polaris_bin, "info", models / path, check=False)
    assert proc.returncode != 0
    assert proc.stderr.startswith("error: ")
    assert any(w in proc.stderr for w in ("does not exist", "directory", "extension"))


def test_predict_real_efficientnet_lite0_sees_a_daisy(polaris_bin, models):
    d = models / "efficientnet_lite0"
    out = json.loads(run(polaris_bin, "predict", d / "efficientnet_lite0.onnx",
                         "--input", f"input={d / 'samples/flower.npy'}", "--json", "--threads", "1").stdout)
    top = out["outputs"][0]["top_k"]
    assert top[0]["label"] == "daisy"
    expected = json.loads((d / "samples/expected_top5.json").read_text())["flower"]
    assert [t["index"] for t in top] == [row[0] for row in expected]


def test_predict_digits_accuracy_through_both_engines(polaris_bin, models, tmp_path):
    d = models / "digits"
    y = np.load(d / "test_y.npy")
    for model in ("digits.onnx", "digits.pt"):
        outdir = tmp_path / model
        run(polaris_bin, "predict", d / model, "--input", f"input={d / 'test_x.npy'}", "--top-k", "0",
            "--output-dir", outdir, "--threads", "1")
        logits = np.load(next(outdir.glob("*.npy")))
        accuracy = float(np.mean(np.argmax(logits, axis=1) == y))
        assert accuracy >= 0.95, (model, accuracy)


def test_predict_without_data_says_how_to_give_it(polaris_bin, models):
    proc = run(polaris_bin, "predict", models / "tiny/add.onnx", check=False)
    assert proc.returncode == 2
    assert "--input a=file.npy" in proc.stderr


def test_run_default_script_serves_the_default_models(tmp_path):
    """`make run`'s script: a server on the default set that answers curl and stops on SIGINT."""
    import signal
    import time
    from conftest import free_port
    port = free_port()
    env = dict(os.environ, POLARIS_HTTP_PORT=str(port), POLARIS_GRPC_PORT=str(free_port()),
               POLARIS_METRICS_PORT=str(free_port()), POLARIS_ADDRESS="127.0.0.1")
    log = open(tmp_path / "run-default.log", "w+")
    proc = subprocess.Popen([str(BUILD.parent / "scripts/run-default")], stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        for _ in range(300):
            code = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                   f"http://127.0.0.1:{port}/v2/health/ready"], capture_output=True, text=True).stdout
            if code == "200":
                break
            time.sleep(0.2)
        meta = json.loads(subprocess.run(["curl", "-s", f"http://127.0.0.1:{port}/v2/models/efficientnet_lite0"],
                                         capture_output=True, text=True).stdout)
        assert meta["platform"] == "onnxruntime_onnx"
        digits = json.loads(subprocess.run(["curl", "-s", f"http://127.0.0.1:{port}/v2/models/digits/config"],
                                           capture_output=True, text=True).stdout)
        assert digits["platform"] == "pytorch_libtorch"
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    log.seek(0)
    out = log.read()
    assert "curl -s localhost:" in out and "efficientnet_lite0" in out and "digits" in out
