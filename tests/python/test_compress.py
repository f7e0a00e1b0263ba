"""`polaris quantize` and `polaris prune` (docs/compress.md) with the real tools (ONNX Runtime's
quantizer, torch's quantization and pruning in a child Python) on the trained digits model and
the real EfficientNet-Lite0, measured with Polaris's engines, and the INT8 model served over
HTTP through the repository load route."""
import json
import os
import pathlib
import sys

import numpy as np
import pytest
import tritonclient.http as httpclient
from PIL import Image, ImageOps

from conftest import ServerProcess, run

PHOTOS = pathlib.Path("/usr/lib/python3/dist-packages/sklearn/datasets/images")
# The test venv has onnxruntime and (from Debian, system site packages) torch.
TOOLS = {"POLARIS_PYTHON": sys.executable}
GATE_POINTS = 1.0  # the accuracy gate for INT8 on the digits model


def compress(polaris_bin, *args, check=True, env=None):
    return run(polaris_bin, *args, env={**TOOLS, **(env or {})}, check=check)


def report_of(polaris_bin, *args, check=True):
    proc = compress(polaris_bin, *args, "--json", check=check)
    return proc, json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else None


def digits_eval(models):
    return ["--eval-inputs", models / "digits" / "test_x.npy", "--eval-labels", models / "digits" / "test_y.npy"]


def test_onnx_dynamic_int8_keeps_digits_accuracy_and_answers_over_http(polaris_bin, models, tmp_path):
    out = tmp_path / "digits.int8.onnx"
    _, report = report_of(polaris_bin, "quantize", models / "digits" / "digits.onnx", "-o", out,
                          *digits_eval(models), "--max-accuracy-drop", str(GATE_POINTS), "--timing-runs", "5")
    assert report["written"] and out.exists(), report
    assert "quantize_dynamic" in report["tool"]["method"], report
    assert report["after"]["bytes"] < report["before"]["bytes"], report
    drop = (report["before"]["accuracy"] - report["after"]["accuracy"]) * 100
    assert report["before"]["accuracy"] > 0.95 and drop <= GATE_POINTS, report
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".polaris-")]  # no scratch left

    # Served: uploaded through the repository load route, answering the held-out digits.
    repo = tmp_path / "repo"
    repo.mkdir()
    server = ServerProcess(polaris_bin, repo, "--allow-repository-changes", "true")
    try:
        client = httpclient.InferenceServerClient(server.http_url)
        client.load_model("digits_int8", config=json.dumps({"max_batch_size": 64}),
                          files={"file:1/model.onnx": out.read_bytes()})
        x = np.load(models / "digits" / "test_x.npy")[:64]
        y = np.load(models / "digits" / "test_y.npy")[:64]
        inputs = [httpclient.InferInput("input", list(x.shape), "FP32")]
        inputs[0].set_data_from_numpy(x)
        answer = client.infer("digits_int8", inputs)
        logits = answer.as_numpy(answer.get_response()["outputs"][0]["name"])
        assert (logits.argmax(axis=1) == y).mean() > 0.9
    finally:
        assert server.stop() == 0, server.output()


def test_onnx_static_qdq_calibrated_on_npy_samples_keeps_digits_accuracy(polaris_bin, models, tmp_path):
    calibration = tmp_path / "calibration"
    calibration.mkdir()
    for i, row in enumerate(np.load(models / "digits" / "test_x.npy")[:100]):
        np.save(calibration / f"{i:03d}.npy", row)
    out = tmp_path / "digits.qdq.onnx"
    _, report = report_of(polaris_bin, "quantize", models / "digits" / "digits.onnx", "-o", out, "--mode",
                          "static", "--calibration", calibration, *digits_eval(models), "--max-accuracy-drop",
                          str(GATE_POINTS), "--timing-runs", "5")
    assert report["written"] and report["tool"]["calibration_samples"] == 100, report
    assert "QDQ" in report["tool"]["method"], report
    assert (report["before"]["accuracy"] - report["after"]["accuracy"]) * 100 <= GATE_POINTS, report


def generated_images(folder):
    """A few calibration images made from scikit-learn's two sample photos: each, mirrored,
    cropped and darkened."""
    if not (PHOTOS / "flower.jpg").exists():
        pytest.fail(f"no sample photos in {PHOTOS} (python3-sklearn, scripts/bootstrap)")
    folder.mkdir()
    for name in ("flower", "china"):
        photo = Image.open(PHOTOS / f"{name}.jpg").convert("RGB")
        w, h = photo.size
        variants = [photo, ImageOps.mirror(photo), photo.crop((w // 8, h // 8, w - w // 8, h - h // 8)),
                    photo.point(lambda v: int(v * 0.8))]
        for i, image in enumerate(variants):
            image.save(folder / f"{name}-{i}.png")
    return folder


def test_efficientnet_lite0_static_int8_keeps_its_top1_on_the_sample_photos(polaris_bin, models, tmp_path):
    lite = models / "efficientnet_lite0"
    out = tmp_path / "lite0.int8.onnx"
    proc = compress(polaris_bin, "quantize", lite / "efficientnet_lite0.onnx", "-o", out, "--mode", "static",
                    "--calibration", generated_images(tmp_path / "calibration"), "--preprocess",
                    "efficientnet-lite", "--timing-runs", "3")
    assert "calibration: 8 images preprocessed as 'efficientnet-lite'" in proc.stderr, proc.stderr
    assert "calibrated on 8 samples" in proc.stdout and "written:" in proc.stdout, proc.stdout
    assert out.stat().st_size < (lite / "efficientnet_lite0.onnx").stat().st_size / 3
    for sample, top1 in (("flower", "daisy"), ("china", "palace")):
        answer = json.loads(run(polaris_bin, "predict", out, "--input", f"input={lite / 'samples' / sample}.npy",
                                "--labels", lite / "labels.txt", "--json").stdout)
        assert answer["outputs"][0]["top_k"][0]["label"] == top1, answer["outputs"][0]["top_k"]


def test_torchscript_dynamic_int8_and_pruning_to_half(polaris_bin, models, tmp_path):
    out = tmp_path / "digits.int8.pt"
    _, report = report_of(polaris_bin, "quantize", models / "digits" / "digits.pt", "-o", out,
                          *digits_eval(models), "--max-accuracy-drop", str(GATE_POINTS), "--timing-runs", "5")
    assert report["written"] and "quantize_dynamic_jit" in report["tool"]["method"], report
    assert report["tool"]["quantized_layers"] == 2, report  # the MLP's two Linear layers
    assert report["after"]["bytes"] < report["before"]["bytes"], report

    pruned = tmp_path / "digits.pruned.pt"
    proc = compress(polaris_bin, "prune", models / "digits" / "digits.pt", "-o", pruned, "--amount", "0.5",
                    *digits_eval(models), "--timing-runs", "3")
    assert "sparsity reached: 50.0% of 4736 weights in 2 tensors" in proc.stdout, proc.stdout
    assert pruned.exists()
    # The pruned model serves: the engine loads it and answers.
    run(polaris_bin, "predict", pruned, "--random")


def test_a_model_that_loses_too_much_accuracy_is_refused_and_nothing_is_written(polaris_bin, models, tmp_path):
    out = tmp_path / "digits.pruned.pt"
    proc, report = report_of(polaris_bin, "prune", models / "digits" / "digits.pt", "-o", out, "--amount", "0.97",
                             *digits_eval(models), "--max-accuracy-drop", "1", "--timing-runs", "2", check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert not report["written"] and "more than --max-accuracy-drop 1" in report["refused"], report
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".polaris-")]


def test_a_missing_tool_says_how_to_install_it(polaris_bin, models, tmp_path):
    """Debian's python3 has torch but not onnxruntime: quantizing ONNX there names the fix."""
    proc = compress(polaris_bin, "quantize", models / "digits" / "digits.onnx", "-o", tmp_path / "q.onnx",
                    env={"POLARIS_PYTHON": "/usr/bin/python3"}, check=False)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "pip install onnxruntime" in proc.stderr and "POLARIS_PYTHON" in proc.stderr, proc.stderr
    assert not (tmp_path / "q.onnx").exists()


def test_bad_arguments_are_refused_before_any_work(polaris_bin, models, tmp_path):
    cases = [
        (["quantize", models / "digits" / "digits.onnx", "-o", tmp_path / "q.pt"], "keep the model's extension"),
        (["quantize", models / "digits" / "digits.onnx", "-o", tmp_path / "q.onnx", "--mode", "static"],
         "--mode static needs --calibration"),
        (["quantize", models / "digits" / "digits.onnx", "-o", tmp_path / "q.onnx", "--max-accuracy-drop", "1"],
         "needs a labelled set"),
        (["prune", tmp_path / "nothing.pt", "-o", tmp_path / "p.pt"], "is not a model file"),
    ]
    for args, words in cases:
        proc = compress(polaris_bin, *args, check=False)
        assert proc.returncode == 2 and words in proc.stderr, (args, proc.stderr)
    proc = compress(polaris_bin, "prune", models / "digits" / "digits.onnx", "-o", tmp_path / "p.onnx", check=False)
    assert proc.returncode == 1 and "for TorchScript models" in proc.stderr, proc.stderr


def test_an_onnx_lstm_is_quantized_dynamically_and_still_runs(polaris_bin, models, tmp_path):
    """Dynamic quantization covers LSTM layers of ONNX models (ONNX Runtime's DynamicQuantizeLSTM);
    for TorchScript, torch's graph-mode quantizer leaves them FP32 and the report says so."""
    import onnx
    out = tmp_path / "lstm.int8.onnx"
    _, report = report_of(polaris_bin, "quantize", models / "stateful" / "lstm.onnx", "-o", out, "--timing-runs", "3")
    assert report["written"], report
    assert "DynamicQuantizeLSTM" in {n.op_type for n in onnx.load(str(out)).graph.node}
    run(polaris_bin, "predict", out, "--random")
