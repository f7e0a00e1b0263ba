"""The server side of the web dashboard (docs/dashboard.md): /polaris/overview, the try-it
panel's /polaris/models/<m>/preprocessing, run-time pinning, and the built files served at /,
against a real `polaris serve` on the default model repository."""
import json
import os
import shutil
import urllib.error
import urllib.request

import numpy as np
import pytest
import tritonclient.http as httpclient

from conftest import ServerProcess

TOKEN = "dashboard-admin-token-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def call(server, path, method="GET", headers=None, body=None):
    """(status, headers, body bytes) of one request; HTTP errors are answers too."""
    request = urllib.request.Request(f"http://{server.http_url}{path}", method=method, headers=headers or {},
                                     data=body if body is not None else (b"{}" if method == "POST" else None))
    try:
        with urllib.request.urlopen(request, timeout=120) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def get_json(server, path, headers=None):
    status, _, body = call(server, path, headers=headers)
    assert status == 200, f"{path}: {status} {body[:300]!r}"
    return json.loads(body)


def model_row(overview, name):
    rows = [m for m in overview["models"] if m["name"] == name]
    assert len(rows) == 1, overview["models"]
    return rows[0]


def infer_digits(server):
    client = httpclient.InferenceServerClient(server.http_url)
    x = np.zeros((1, 64), dtype=np.float32)
    i = httpclient.InferInput("input", list(x.shape), "FP32")
    i.set_data_from_numpy(x)
    return client.infer("digits", [i]).as_numpy("output__0")


@pytest.fixture()
def default_repo(models, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(models / "default", repo)
    return repo


@pytest.fixture()
def admin_server(polaris_bin, default_repo):
    server = ServerProcess(polaris_bin, default_repo, "--admin-token", TOKEN)
    yield server
    server.stop()


def test_the_overview_describes_models_memory_and_latency(admin_server):
    before = get_json(admin_server, "/polaris/overview")
    assert before["server"]["name"] == "polaris"
    assert before["server"]["repository_changes"] == "token"
    assert before["server"]["started_ms"] <= before["server"]["now_ms"]
    assert {m["name"] for m in before["models"]} == {"digits", "efficientnet_lite0"}
    assert model_row(before, "digits")["state"] == "UNAVAILABLE"  # lazy: nothing loaded yet
    bounds = before["latency_bucket_us"]
    assert bounds == sorted(bounds) and len(set(bounds)) == len(bounds) and bounds[0] == 10
    assert before["devices"]["cpu"]["available"] is True  # `polaris devices --json`

    infer_digits(admin_server)
    after = get_json(admin_server, "/polaris/overview")
    digits = model_row(after, "digits")
    assert (digits["state"], digits["engine"], digits["provider"], digits["version"]) == ("READY", "torch", "cpu", 1)
    assert digits["resident_bytes"] > 0 and digits["pinned"] is False and digits["keep_alive_ms"] is None
    assert digits["last_used_ms"] is not None and digits["last_used_ms"] <= after["server"]["now_ms"]
    stats = digits["stats"]
    # Warm-up runs do not count; the one request does, in exactly one bucket: the one its time falls in.
    assert stats["success"] == 1 and stats["failure"] == 0 and stats["batch_executions"] == {"1": 1}
    counts = stats["latency_counts"]
    assert len(counts) == len(bounds) + 1 and sum(counts) == 1
    bucket = counts.index(1)
    took_us = stats["success_ns"] // 1000
    assert took_us <= bounds[bucket] and (bucket == 0 or took_us > bounds[bucket - 1])
    cpu = [d for d in after["memory"] if d["device"] == "cpu"][0]
    resident = sum(m["resident_bytes"] for m in after["models"] if m["device"] == "cpu")
    assert cpu["used_bytes"] == resident == digits["resident_bytes"]
    assert cpu["budget_bytes"] > cpu["used_bytes"]
    assert after["process_resident_bytes"] > resident
    assert after["counters"]["loads"] == 1


def test_preprocessing_comes_from_the_models_config(admin_server):
    p = get_json(admin_server, "/polaris/models/efficientnet_lite0/preprocessing")
    # The default repository's config names the Lite models' own normalisation and the labels.
    assert p == {"input": "input", "datatype": "FP32", "shape": [1, 3, 224, 224], "batched": True,
                 "layout": "nchw", "color": "rgb", "resize_shorter_side": 256, "crop": [224, 224],
                 "mean": [127, 127, 127], "std": [128, 128, 128], "preset": "efficientnet-lite",
                 "output": "logits", "labels": True}
    status, _, body = call(admin_server, "/polaris/models/digits/preprocessing")
    assert status == 400
    assert "does not take a photo" in json.loads(body)["error"]
    status, _, body = call(admin_server, "/polaris/models/no_such_model/preprocessing")
    assert status == 404 and "no_such_model" in json.loads(body)["error"]


def test_a_photo_preprocessed_as_told_is_classified_with_labels(admin_server, models):
    """What the try-it panel does, with the generator's own preprocessed sample: the answer's
    first class is named by the labels file the config points at."""
    p = get_json(admin_server, "/polaris/models/efficientnet_lite0/preprocessing")
    x = np.load(models / "efficientnet_lite0/samples/flower.npy").astype(np.float32).reshape(p["shape"])
    i = httpclient.InferInput(p["input"], list(x.shape), p["datatype"])
    i.set_data_from_numpy(x, binary_data=True)
    client = httpclient.InferenceServerClient(admin_server.http_url)
    result = client.infer("efficientnet_lite0", [i],
                          outputs=[httpclient.InferRequestedOutput(p["output"], class_count=5, binary_data=False)])
    top = result.as_numpy(p["output"])
    assert top.shape == (1, 5)
    assert str(top[0][0]).split(":", 2)[2] == "daisy"


def test_pinning_at_run_time_keeps_a_model_from_eviction(polaris_bin, default_repo):
    server = ServerProcess(polaris_bin, default_repo, "--admin-token", TOKEN, "--max-models", "1")
    try:
        infer_digits(server)
        assert call(server, "/v2/repository/models/digits/pin", "POST")[0] == 401  # no token
        status, _, body = call(server, "/v2/repository/models/no_such_model/pin", "POST", AUTH)
        assert status == 404, body
        assert call(server, "/v2/repository/models/digits/pin", "POST", AUTH)[0] == 200
        assert model_row(get_json(server, "/polaris/overview"), "digits")["pinned"] is True
        # One model at most, and that one pinned: the other cannot load.
        status, _, body = call(server, "/v2/repository/models/efficientnet_lite0/load", "POST", AUTH)
        assert status != 200, body
        overview = get_json(server, "/polaris/overview")
        assert model_row(overview, "digits")["state"] == "READY"
        assert model_row(overview, "efficientnet_lite0")["state"] == "UNAVAILABLE"

        assert call(server, "/v2/repository/models/digits/unpin", "POST", AUTH)[0] == 200
        status, _, body = call(server, "/v2/repository/models/efficientnet_lite0/load", "POST", AUTH)
        assert status == 200, body
        overview = get_json(server, "/polaris/overview")
        assert model_row(overview, "digits")["pinned"] is False
        assert model_row(overview, "digits")["state"] == "UNAVAILABLE"  # evicted for the other
        assert model_row(overview, "efficientnet_lite0")["state"] == "READY"
        assert overview["counters"]["evictions"] == 1
    finally:
        server.stop()


def test_pinning_is_refused_while_repository_changes_are_off(polaris_bin, default_repo):
    server = ServerProcess(polaris_bin, default_repo)
    try:
        assert get_json(server, "/polaris/overview")["server"]["repository_changes"] == "off"
        status, _, body = call(server, "/v2/repository/models/digits/pin", "POST")
        assert status == 403, body
    finally:
        server.stop()


def test_the_overview_needs_the_inference_token_and_the_page_does_not(polaris_bin, default_repo, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<!doctype html><title>t</title>")
    server = ServerProcess(polaris_bin, default_repo, "--infer-token", "inference-token-01234",
                           "--dashboard-dir", site)
    try:
        assert call(server, "/polaris/overview")[0] == 401
        assert call(server, "/")[0] == 200
        overview = get_json(server, "/polaris/overview", {"Authorization": "Bearer inference-token-01234"})
        assert overview["server"]["repository_changes"] == "off"
    finally:
        server.stop()


def test_built_files_are_served_and_nothing_else(polaris_bin, default_repo, tmp_path):
    site = tmp_path / "site"
    (site / "assets").mkdir(parents=True)
    (site / "index.html").write_text('<!doctype html><script type="module" src="/assets/app-1a2b.js"></script>')
    (site / "assets" / "app-1a2b.js").write_text("console.log('hi')")
    (site / "assets" / "app-1a2b.css").write_text("body{}")
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the web")
    os.symlink(secret, site / "assets" / "link.txt")
    (site / ".build-stamp").write_text("")
    server = ServerProcess(polaris_bin, default_repo, "--dashboard-dir", site)
    try:
        status, headers, body = call(server, "/")
        assert status == 200 and body.startswith(b"<!doctype html>")
        assert headers["Content-Type"] == "text/html; charset=utf-8"
        assert headers["Cache-Control"] == "no-cache"
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        assert call(server, "/index.html")[2] == body
        status, headers, body = call(server, "/assets/app-1a2b.js")
        assert (status, body) == (200, b"console.log('hi')")
        assert headers["Content-Type"] == "text/javascript; charset=utf-8"
        assert "immutable" in headers["Cache-Control"]
        assert call(server, "/assets/app-1a2b.css")[1]["Content-Type"] == "text/css; charset=utf-8"
        # Paths are keys into what was read at start, never file system paths.
        for path in ["/assets/link.txt", "/.build-stamp", "/assets/../index.html", "/assets/%2e%2e/index.html", "/../secret.txt",
                     "/assets", "/nope.js", "//etc/passwd"]:
            status, _, body = call(server, path)
            assert status == 404, (path, status, body)
            assert b"not for the web" not in body
        assert call(server, "/", "POST")[0] == 404
        (site / "index.html").write_text("changed")  # read once, at start
        assert call(server, "/")[2].startswith(b"<!doctype html>")
    finally:
        server.stop()


def test_without_a_built_dashboard_the_api_still_serves(polaris_bin, default_repo, tmp_path):
    server = ServerProcess(polaris_bin, default_repo, "--dashboard-dir", tmp_path / "not-built")
    try:
        status, headers, body = call(server, "/")
        assert status == 404 and headers["Content-Type"].startswith("text/html")
        assert b"make dashboard" in body and str(tmp_path / "not-built").encode() in body
        assert call(server, "/v2/health/ready")[0] == 200
        assert infer_digits(server).shape == (1, 10)
        assert "dashboard: no index.html in" in server.output()
    finally:
        server.stop()
