"""polaris.quantize(), polaris.prune() and MultiModelServer.compress_model() (docs/compress.md):
the tools run in build/venv's Python (onnxruntime's quantizer, Debian's torch), the report is
measured with the package's own loaders."""
import numpy as np
import pytest

import polaris

from conftest import BUILD

TOOLS_PYTHON = str(BUILD / "venv" / "bin" / "python")


@pytest.fixture(scope="module")
def digits(models):
    return (models / "digits", np.load(models / "digits" / "test_x.npy"), np.load(models / "digits" / "test_y.npy"))


def test_quantize_static_from_arrays_keeps_accuracy(digits, tmp_path):
    folder, x, y = digits
    report = polaris.quantize(folder / "digits.onnx", tmp_path / "digits.int8.onnx", mode="static",
                              calibration=list(x[:100]), eval_inputs=x, eval_labels=y, max_accuracy_drop=1.0,
                              timing_runs=5, python=TOOLS_PYTHON)
    assert report.written and (tmp_path / "digits.int8.onnx").exists(), report
    assert report.tool["calibration_samples"] == 100, report.tool
    assert report.before.accuracy > 0.95 and report.accuracy_drop_points <= 1.0, report
    assert report.after.bytes < report.before.bytes and report.after.median_ms > 0
    assert [p.name for p in tmp_path.iterdir()] == ["digits.int8.onnx"]  # no scratch left


def test_prune_reports_sparsity_and_a_refusal_writes_nothing(digits, tmp_path):
    folder, x, y = digits
    report = polaris.prune(folder / "digits.pt", tmp_path / "half.pt", amount=0.5, timing_runs=3,
                           python=TOOLS_PYTHON)
    assert report.written and report.tool["sparsity"] == pytest.approx(0.5, abs=0.01), report.tool
    refused = polaris.prune(folder / "digits.pt", tmp_path / "gone.pt", amount=0.97, eval_inputs=x, eval_labels=y,
                            max_accuracy_drop=1.0, timing_runs=2, python=TOOLS_PYTHON)
    assert not refused.written and "more than max_accuracy_drop" in refused.refused, refused
    assert not (tmp_path / "gone.pt").exists()


def test_a_missing_tool_is_module_not_found_with_the_fix(digits, tmp_path):
    with pytest.raises(ModuleNotFoundError, match="pip install onnxruntime"):
        polaris.quantize(digits[0] / "digits.onnx", tmp_path / "q.onnx", python="/usr/bin/python3")
    with pytest.raises(ValueError, match="extension"):
        polaris.quantize(digits[0] / "digits.onnx", tmp_path / "q.pt", python=TOOLS_PYTHON)


def test_a_loaded_model_is_compressed_and_served_under_its_name(digits, tmp_path):
    folder, x, y = digits
    server = polaris.MultiModelServer(max_models=2, memory_limit_mb=512)
    server.load_model("digits", folder / "digits.onnx")
    report = server.compress_model("digits", tmp_path / "digits.int8.onnx", eval_inputs=x, eval_labels=y,
                                   max_accuracy_drop=1.0, timing_runs=3, python=TOOLS_PYTHON)
    assert report.written, report
    assert server.model_metadata("digits").path == str(tmp_path / "digits.int8.onnx")
    logits = next(iter(server.predict("digits", x[:64]).values()))
    assert (logits.argmax(axis=1) == y[:64]).mean() > 0.9
