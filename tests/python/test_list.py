"""`polaris list` on real repositories: every model, its state and the reason when it cannot serve."""
import json
import shutil

from conftest import run


def _repository(tmp_path, models):
    repo = tmp_path / "repo"
    shutil.copytree(models / "default", repo)
    (repo / "broken" / "1").mkdir(parents=True)
    (repo / "broken" / "1" / "model.onnx").write_bytes(b"not a model")
    (repo / "typo").mkdir()
    (repo / "typo" / "config.pbtxt").write_text("max_batch_sise: 4\n")
    return repo


def test_list_shows_every_model_without_loading(polaris_bin, models, tmp_path):
    repo = _repository(tmp_path, models)
    out = run(polaris_bin, "list", "--model-repository", repo).stdout
    lines = out.splitlines()
    assert lines[0].split()[:6] == ["MODEL", "VERSION", "STATE", "PROVIDER", "RESIDENT", "LAST"]
    by_name = {line.split()[0]: line for line in lines[1:]}
    assert set(by_name) == {"broken", "digits", "efficientnet_lite0", "typo"}
    assert "UNAVAILABLE" in by_name["digits"] and "not loaded" in by_name["digits"]
    assert "max_batch_sise" in by_name["typo"]  # the config error, named


def test_list_load_reports_providers_memory_and_load_errors(polaris_bin, models, tmp_path):
    repo = _repository(tmp_path, models)
    rows = json.loads(run(polaris_bin, "list", "--model-repository", repo, "--load", "--json").stdout)
    by_name = {r["name"]: r for r in rows}
    assert by_name["efficientnet_lite0"]["state"] == "READY"
    assert by_name["efficientnet_lite0"]["provider"] == "CPUExecutionProvider"
    # Weights are resident at least once: never less than the file.
    assert by_name["efficientnet_lite0"]["resident_bytes"] >= (
        repo / "efficientnet_lite0" / "1" / "model.onnx").stat().st_size
    assert by_name["digits"]["state"] == "READY"
    assert by_name["digits"]["provider"] == "cpu"
    assert by_name["broken"]["state"] == "UNAVAILABLE"
    assert "Protobuf parsing failed" in by_name["broken"]["reason"]
    assert by_name["typo"]["version"] == ""


def test_list_refuses_a_missing_repository(polaris_bin, tmp_path):
    proc = run(polaris_bin, "list", "--model-repository", tmp_path / "nope", check=False)
    assert proc.returncode == 1
    assert "is not a directory" in proc.stderr
