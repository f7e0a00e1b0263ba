"""`polaris validate` on real models and real engines (docs/validate.md), and poll mode refusing a
new version that fails the same checks.

The broken models are made here with the onnx library, each with one defect the checks must
name: NaN outputs, an output shape that disagrees with its declaration only at a large batch,
a file that is not a model."""
import json
import shutil

import numpy as np
import onnx
import tritonclient.http as httpclient
from onnx import TensorProto, helper

from conftest import ServerProcess, run, wait_until


def save(graph, path):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def nan_model(path):
    """identity's interface (input [N,4] FP32 -> output), but log(x - 2): NaN for any x < 2."""
    two = helper.make_tensor("two", TensorProto.FLOAT, [], [2.0])
    return save(helper.make_graph(
        [helper.make_node("Sub", ["input", "two"], ["shifted"]), helper.make_node("Log", ["shifted"], ["output"])],
        "nan_outputs", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [None, 4])], [two]), path)


def growing_model(path):
    """Declares output [N,4] but tiles the input N times along its second axis: right at batch 1,
    [8,32] at batch 8. The repeats come from the input's shape, so no shape inference sees it."""
    zero, one = (helper.make_tensor(n, TensorProto.INT64, [1], [v]) for n, v in (("zero", 0), ("one", 1)))
    return save(helper.make_graph(
        [helper.make_node("Shape", ["input"], ["shape"]),
         helper.make_node("Slice", ["shape", "zero", "one"], ["batch"]),
         helper.make_node("Concat", ["one", "batch"], ["repeats"], axis=0),
         helper.make_node("Tile", ["input", "repeats"], ["output"])],
        "growing", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [None, 4])], [zero, one]), path)


def validate(polaris_bin, *args, check=True):
    return run(polaris_bin, "validate", *args, check=check)


def validate_json(polaris_bin, *args):
    proc = validate(polaris_bin, *args, "--json", check=False)
    return proc.returncode, json.loads(proc.stdout)


def checks_of(report):
    return {c["name"]: c for c in report["checks"]}


def test_a_good_onnx_model_passes_every_check_and_agrees_with_opencv(polaris_bin, models):
    code, result = validate_json(polaris_bin, models / "vision" / "mobilenetv2.onnx", "--timing-runs", "3")
    assert code == 0 and result["passed"], result
    [report] = result["models"]
    checks = checks_of(report)
    assert report["backend"] == "onnxruntime", report
    for name in ("load", "config", "metadata", "run batch 1", "run batch 8"):
        assert checks[name]["outcome"] == "ok", checks
    # Both sizes of the dynamic batch ran, with the batch in the output's shape, and were timed.
    assert "output FP32 [1,1000]" in checks["run batch 1"]["detail"], checks
    assert "output FP32 [8,1000]" in checks["run batch 8"]["detail"], checks
    assert checks["run batch 8"]["median_ms"] > 0, checks
    # OpenCV's engine ran the same inputs (from the .opencv.onnx conversion beside the file).
    assert checks["agrees with opencv (batch 1)"]["outcome"] == "ok", checks
    assert "max relative difference" in checks["agrees with opencv (batch 1)"]["detail"], checks
    # The comparison compares: held to a tolerance no two engines meet, it fails and says by how much.
    code, strict = validate_json(polaris_bin, models / "vision" / "mobilenetv2.onnx", "--timing-runs", "0",
                                 "--tolerance", "1e-12")
    versus = checks_of(strict["models"][0])["agrees with opencv (batch 1)"]
    assert code == 1 and versus["outcome"] == "FAIL" and "differs by up to" in versus["detail"], strict


def test_the_default_repository_passes_and_the_text_report_says_so(polaris_bin, models):
    proc = validate(polaris_bin, models / "default", "--timing-runs", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "efficientnet_lite0 version 1" in proc.stdout and "digits version 1" in proc.stdout, proc.stdout
    assert "(torch," in proc.stdout, proc.stdout  # the TorchScript model, through libtorch
    assert proc.stdout.rstrip().endswith("2 model versions checked, all passed"), proc.stdout


def test_nan_outputs_fail_with_the_count(polaris_bin, tmp_path):
    code, result = validate_json(polaris_bin, nan_model(tmp_path / "nan.onnx"), "--compare", "none")
    assert code == 1 and not result["passed"], result
    run_check = checks_of(result["models"][0])["run batch 1"]
    assert run_check["outcome"] == "FAIL", run_check
    assert "output 'output' holds 4 NaN and 0 Inf of 4 values" in run_check["detail"], run_check


def test_an_output_shape_wrong_only_at_a_large_batch_fails_that_case(polaris_bin, tmp_path):
    proc = validate(polaris_bin, growing_model(tmp_path / "growing.onnx"), "--compare", "none", check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert any(line.startswith("  ok") and "run batch 1 " in line for line in proc.stdout.splitlines()), proc.stdout
    assert any(line.startswith("  FAIL") and "run batch 8" in line and
               "output 'output' has shape [8,32], declared [-1,4] with batch 8" in line
               for line in proc.stdout.splitlines()), proc.stdout
    assert "1 of 1 model versions FAILED: growing" in proc.stdout, proc.stdout


def test_a_corrupt_file_and_a_broken_repository_entry_fail_with_their_reason(polaris_bin, models, tmp_path):
    repo = tmp_path / "repo"
    (repo / "corrupt" / "1").mkdir(parents=True)
    (repo / "corrupt" / "1" / "model.onnx").write_bytes(b"not protobuf at all" * 10)
    (repo / "badconfig" / "1").mkdir(parents=True)
    shutil.copy(models / "tiny" / "identity.onnx", repo / "badconfig" / "1" / "model.onnx")
    (repo / "badconfig" / "config.pbtxt").write_text("max_batch_size: [oops\n")
    (repo / "good" / "1").mkdir(parents=True)
    shutil.copy(models / "tiny" / "identity.onnx", repo / "good" / "1" / "model.onnx")
    code, result = validate_json(polaris_bin, repo, "--timing-runs", "0")
    assert code == 1, result
    by_name = {r["name"]: r for r in result["models"]}
    assert by_name["good"]["passed"], by_name["good"]
    corrupt = checks_of(by_name["corrupt"])["load"]
    assert corrupt["outcome"] == "FAIL" and "Protobuf parsing failed" in corrupt["detail"], corrupt
    broken = checks_of(by_name["badconfig"])["repository"]
    assert broken["outcome"] == "FAIL" and "config.pbtxt:1:" in broken["detail"], broken
    # A model folder on its own is one model; a missing path is a usage error.
    code, result = validate_json(polaris_bin, repo / "good")
    assert code == 0 and [r["name"] for r in result["models"]] == ["good"], result
    assert validate(polaris_bin, tmp_path / "nowhere", check=False).returncode == 2


def poll_server(polaris_bin, models, repo, *extra):
    (repo / "identity" / "1").mkdir(parents=True)
    shutil.copy(models / "tiny" / "identity.onnx", repo / "identity" / "1" / "model.onnx")
    return ServerProcess(polaris_bin, repo, "--model-control-mode", "poll", "--repository-poll-secs", "0.2", *extra)


def index_of(server):
    return {r.get("version"): r for r in httpclient.InferenceServerClient(server.http_url).get_model_repository_index()
            if r["name"] == "identity"}


def infer_identity(server):
    client = httpclient.InferenceServerClient(server.http_url)
    inputs = [httpclient.InferInput("input", [1, 4], "FP32")]
    inputs[0].set_data_from_numpy(np.full((1, 4), 0.5, np.float32))
    return client.infer("identity", inputs).as_numpy("output")


def add_nan_version(repo):
    """Version 2 appears whole: made beside the repository, then renamed into it."""
    nan_model(repo.parent / "staging" / "2" / "model.onnx")
    (repo.parent / "staging" / "2").rename(repo / "identity" / "2")


def test_poll_mode_refuses_a_new_version_that_fails_the_checks(polaris_bin, models, tmp_path):
    server = poll_server(polaris_bin, models, tmp_path / "repo")
    try:
        np.testing.assert_array_equal(infer_identity(server), np.full((1, 4), 0.5, np.float32))
        add_nan_version(server.repo)
        wait_until(lambda: index_of(server).get("2", {}).get("state") == "UNAVAILABLE"
                   and index_of(server)["2"].get("reason"), 60, lambda: f"version 2: {index_of(server).get('2')}")
        index = index_of(server)
        assert "NaN" in index["2"]["reason"] and "checks before serving failed" in index["2"]["reason"], index
        assert index["1"]["state"] == "READY", index
        np.testing.assert_array_equal(infer_identity(server), np.full((1, 4), 0.5, np.float32))
    finally:
        assert server.stop() == 0, server.output()


def test_without_the_checks_poll_mode_serves_the_nan_version(polaris_bin, models, tmp_path):
    """The same deploy with --check-new-versions false: version 2 serves its NaNs, so the test
    above fails because of the checks, not because of something else about version 2."""
    server = poll_server(polaris_bin, models, tmp_path / "repo", "--check-new-versions", "false")
    try:
        add_nan_version(server.repo)
        wait_until(lambda: index_of(server).get("2", {}).get("state") == "READY", 60,
                   lambda: f"version 2: {index_of(server).get('2')}")
        wait_until(lambda: "1" not in index_of(server) or index_of(server)["1"]["state"] != "READY", 60,
                   lambda: f"version 1: {index_of(server).get('1')}")
        assert np.isnan(infer_identity(server)).all()
    finally:
        assert server.stop() == 0, server.output()
