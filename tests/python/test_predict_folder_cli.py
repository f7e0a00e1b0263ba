"""`polaris predict MODEL --input-dir DIR`: the real EfficientNet-Lite0 over real photos
(scikit-learn's sample images) with broken files beside them, as a user runs it."""
import csv
import json
import pathlib
import shutil

import pytest

from conftest import run

PHOTOS = pathlib.Path("/usr/lib/python3/dist-packages/sklearn/datasets/images")


@pytest.fixture
def folder(tmp_path):
    if not (PHOTOS / "flower.jpg").exists():
        pytest.fail(f"no sample photos in {PHOTOS} (python3-sklearn, scripts/bootstrap)")
    d = tmp_path / "photos"
    d.mkdir()
    for name in ("china.jpg", "flower.jpg"):
        shutil.copy(PHOTOS / name, d / name)
    (d / "cut, short.jpg").write_bytes((PHOTOS / "flower.jpg").read_bytes()[:500])
    (d / "notes.txt").write_text("not a sample")
    return d


def lite(models):
    return models / "efficientnet_lite0" / "efficientnet_lite0.onnx"


def test_csv_results_with_labels_and_a_bad_file_skipped(polaris_bin, models, folder, tmp_path):
    out = tmp_path / "results.csv"
    proc = run(polaris_bin, "predict", lite(models), "--input-dir", folder, "--preprocess", "efficientnet-lite",
               "--output", out, "--top-k", "3", "--batch-size", "2")
    rows = list(csv.DictReader(out.open()))
    by_file = {}
    for row in rows:
        by_file.setdefault(pathlib.Path(row["file"]).name, []).append(row)
    assert by_file["flower.jpg"][0]["label"] == "daisy" and by_file["flower.jpg"][0]["index"] == "985"
    assert "palace" in [r["label"] for r in by_file["china.jpg"]]
    assert len(by_file["china.jpg"]) == 3
    bad = by_file["cut, short.jpg"]  # the comma survives CSV quoting
    assert len(bad) == 1 and "cut, short.jpg" in bad[0]["error"]
    assert "notes.txt" not in by_file
    # Not a terminal: plain progress lines, the skipped file named, a summary.
    assert "skipped " in proc.stderr and "cut, short.jpg" in proc.stderr
    assert "progress: 3/3 files, 1 failed" in proc.stderr
    assert "done: 2 files predicted, 1 failed" in proc.stderr
    assert "\r" not in proc.stderr
    assert not (tmp_path / "results.csv.partial").exists()


def test_json_lines_on_stdout(polaris_bin, models, folder):
    proc = run(polaris_bin, "predict", lite(models), "--input-dir", folder, "--preprocess", "efficientnet-lite")
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [pathlib.Path(j["file"]).name for j in lines] == ["china.jpg", "cut, short.jpg", "flower.jpg"]
    flower = lines[2]
    assert flower["ok"] and flower["top_k"][0]["label"] == "daisy" and len(flower["top_k"]) == 5
    assert lines[1]["ok"] is False and "not a decodable image" in lines[1]["error"]


def test_a_missing_or_empty_folder_is_a_clear_error(polaris_bin, models, folder, tmp_path):
    proc = run(polaris_bin, "predict", lite(models), "--input-dir", tmp_path / "nowhere", check=False)
    assert proc.returncode == 2 and "no folder" in proc.stderr
    (tmp_path / "empty").mkdir()
    proc = run(polaris_bin, "predict", lite(models), "--input-dir", tmp_path / "empty", check=False)
    assert proc.returncode == 2 and "no image or .npy file" in proc.stderr
    proc = run(polaris_bin, "predict", lite(models), "--input-dir", folder, "--preprocess", "cifar", check=False)
    assert proc.returncode == 2 and "unknown preprocessing preset 'cifar'" in proc.stderr
