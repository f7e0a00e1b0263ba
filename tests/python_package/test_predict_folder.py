"""predict_folder() and MultiModelServer.predict_batch(): the real EfficientNet-Lite0 on
real photos (scikit-learn's sample images), with broken files beside them."""
import json
import pathlib
import shutil
import sys

import numpy as np
import pytest

import polaris

PHOTOS = pathlib.Path("/usr/lib/python3/dist-packages/sklearn/datasets/images")
LITE_CONFIG = 'max_batch_size: 8 parameters { key: "polaris.preprocess" value { string_value: "efficientnet-lite" } }'


@pytest.fixture
def folder(tmp_path):
    if not (PHOTOS / "flower.jpg").exists():
        pytest.fail(f"no sample photos in {PHOTOS} (python3-sklearn)")
    d = tmp_path / "photos"
    d.mkdir()
    for name in ("china.jpg", "flower.jpg"):
        shutil.copy(PHOTOS / name, d / name)
    (d / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    (d / "notes.txt").write_text("ignored")
    return d


def lite(models):
    return models / "efficientnet_lite0" / "efficientnet_lite0.onnx"


def test_the_photos_get_the_right_classes_and_a_broken_file_is_skipped(models, folder, tmp_path):
    progress = []
    out = tmp_path / "results.jsonl"
    results = polaris.predict_folder(lite(models), folder, preprocess="efficientnet-lite", batch_size=2,
                                     output=out, on_progress=lambda *p: progress.append(p))
    assert [pathlib.Path(r.file).name for r in results] == ["broken.png", "china.jpg", "flower.jpg"]
    broken, china, flower = results
    assert not broken.ok and "broken.png" in broken.error and broken.top_k == []
    assert flower.ok and flower.top_k[0].index == 985 and flower.top_k[0].label == "daisy"
    assert "palace" in [s.label for s in china.top_k[:3]]
    assert len(flower.top_k) == 5 and flower.top_k[0].output == "logits"
    done = [p[0] for p in progress]
    assert done == sorted(done) and done[-1] == 3 and progress[-1][1:3] == (3, 1)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["ok"] for line in lines] == [False, True, True]
    assert lines[2]["top_k"][0]["label"] == "daisy"


def test_a_loader_and_the_server_agree_and_the_server_batches(models, folder):
    loader = polaris.ONNXModelLoader()
    loader.load(lite(models))
    by_loader = loader.predict_folder(folder, preprocess="efficientnet-lite", keep_outputs=True, progress=False)
    server = polaris.MultiModelServer(max_models=2, memory_limit_mb=2000)
    server.load_model("lite", lite(models), config=LITE_CONFIG)  # the preset from the config
    by_server = server.predict_batch("lite", folder, keep_outputs=True, progress=False)
    assert [r.ok for r in by_server] == [r.ok for r in by_loader] == [False, True, True]
    for a, b in zip(by_loader[1:], by_server[1:]):
        assert a.outputs["logits"].shape == (1, 1000)
        np.testing.assert_allclose(a.outputs["logits"], b.outputs["logits"], atol=1e-4)
    stats = server.get_stats()["models"]["lite"]
    assert stats["inference_count"] == 2 and stats["execution_count"] == 1  # both photos in one batch


def test_npy_files_and_a_list_of_files(models):
    samples = models / "efficientnet_lite0" / "samples"
    results = polaris.predict_folder(lite(models), [samples / "flower.npy", samples / "china.npy"], progress=False)
    assert [r.top_k[0].label for r in results] == ["daisy", "palace"]


def test_plain_progress_lines_when_stderr_is_not_a_terminal(models, folder, capsys):
    polaris.predict_folder(lite(models), folder, preprocess="efficientnet-lite")
    err = capsys.readouterr().err
    assert "progress: 3/3 files, 1 failed" in err and "\r" not in err


def test_an_exception_in_a_callback_stops_the_run_and_is_raised(models):
    files = [PHOTOS / "china.jpg"] * 12
    seen = []

    def stop(result):
        seen.append(result)
        raise KeyboardInterrupt("enough")

    with pytest.raises(KeyboardInterrupt, match="enough"):
        polaris.predict_folder(lite(models), files, batch_size=2, on_result=stop, progress=False)
    assert len(seen) == 1  # the rest of the batch and the later batches were not reported


def test_bad_requests_are_clear_errors(models, folder, tmp_path):
    with pytest.raises(FileNotFoundError, match="no folder"):
        polaris.predict_folder(lite(models), tmp_path / "nowhere")
    with pytest.raises(ValueError, match="unknown preprocessing preset 'cifar'"):
        polaris.predict_folder(lite(models), folder, preprocess="cifar")
    with pytest.raises(ValueError, match="one input"):
        polaris.predict_folder(models / "tiny" / "add.onnx", folder)
    with pytest.raises(ValueError, match="cannot tell the result format"):
        polaris.predict_folder(lite(models), folder, output=tmp_path / "out.txt")
    with pytest.raises(KeyError, match="nobody"):
        polaris.MultiModelServer().predict_batch("nobody", folder)
