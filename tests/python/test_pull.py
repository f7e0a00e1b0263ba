"""`polaris pull` against a real HTTP server on loopback: complete downloads, resumes, hash
mismatches, failing mirrors, the cache without network, a full disk and the catalog."""
import hashlib
import http.server
import json
import re
import socket
import subprocess
import threading

import pytest

from conftest import free_port, run, unshare_works


class FileServer:
    """Serves `files` (path -> bytes) with byte ranges, as a model host does. `break_after[path] = n`
    sends only n bytes of the next answer for path (its headers announce all of them), then
    closes the connection: an interrupted transfer; with the path in `down_after_break` too, the
    host then answers 503 for it until `down` is cleared (a host that went away). Every request is
    logged as (path, Range)."""

    def __init__(self, files):
        self.files = dict(files)
        self.break_after = {}
        self.down_after_break, self.down = set(), set()
        self.requests = []
        self.bytes_sent = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                path = self.path.lstrip("/")
                server.requests.append((path, self.headers.get("Range")))
                body = server.files.get(path)
                if body is None:
                    self.send_error(404)
                    return
                if path in server.down:
                    self.send_error(503)
                    return
                start = 0
                match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
                if match:
                    start = int(match.group(1))
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                limit = server.break_after.pop(path, None)
                chunk = body[start:] if limit is None else body[start:start + limit]
                self.wfile.write(chunk)
                self.wfile.flush()
                server.bytes_sent += len(chunk)
                if limit is not None:
                    if path in server.down_after_break:
                        server.down.add(path)
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def served(models):
    """A server with a small real model, a multi-MiB real model and bytes that are no model."""
    files = {"zoo/identity.onnx": (models / "tiny" / "identity.onnx").read_bytes(),
             "zoo/mobilenetv2.onnx": (models / "vision" / "mobilenetv2.onnx").read_bytes(),
             "zoo/garbage.onnx": b"not a model at all" * 100}
    server = FileServer(files)
    yield server
    server.close()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def pull(polaris_bin, *args, cache, check=True):
    return run(polaris_bin, "pull", *args, "--cache-dir", cache, check=check)


def cache_files(cache):
    return sorted(str(p.relative_to(cache)) for p in (cache / "models").rglob("*") if p.is_file())


def test_a_pull_downloads_verifies_installs_with_a_config_and_is_cached(polaris_bin, served, tmp_path):
    body = served.files["zoo/identity.onnx"]
    cache, repo = tmp_path / "cache", tmp_path / "repo"
    out = pull(polaris_bin, served.url("zoo/identity.onnx"), "--sha256", sha256(body).upper(), "--into", repo,
               cache=cache).stdout
    assert "(downloaded, verified)" in out and sha256(body) in out, out
    installed = repo / "identity" / "1" / "model.onnx"
    assert installed.read_bytes() == body
    config = (repo / "identity" / "config.pbtxt").read_text()
    assert 'name: "identity"' in config and 'platform: "onnxruntime_onnx"' in config and "input {" in config, config
    assert f"models/blobs/{sha256(body)}" in cache_files(cache)
    assert not any("partial/" in f and f.endswith(".part") for f in cache_files(cache)), cache_files(cache)
    assert not [p.name for p in (repo / "identity").iterdir() if p.name.startswith(".")]
    # The generated config is one the server accepts: the model loads and serves from it.
    listed = json.loads(run(polaris_bin, "list", "--model-repository", repo, "--load", "--json").stdout)
    assert [(m["name"], m["state"]) for m in listed] == [("identity", "READY")], listed

    # Again: no network needed, nothing installed twice.
    requests_before = len(served.requests)
    again = pull(polaris_bin, served.url("zoo/identity.onnx"), "--into", repo, cache=cache).stdout
    assert "(from the cache)" in again and "already installed" in again, again
    assert len(served.requests) == requests_before
    assert sorted(p.name for p in (repo / "identity").iterdir()) == ["1", "config.pbtxt"]


def test_an_interrupted_transfer_resumes_where_it_stopped(polaris_bin, served, tmp_path):
    body = served.files["zoo/mobilenetv2.onnx"]
    cut = len(body) // 3
    served.break_after["zoo/mobilenetv2.onnx"] = cut
    cache, repo = tmp_path / "cache", tmp_path / "repo"
    proc = pull(polaris_bin, served.url("zoo/mobilenetv2.onnx"), "--sha256", sha256(body), "--into", repo,
                "--no-config", cache=cache)
    assert (repo / "mobilenetv2" / "1" / "model.onnx").read_bytes() == body
    # The second request asked for the rest, and nothing was sent twice.
    assert served.requests == [("zoo/mobilenetv2.onnx", None), ("zoo/mobilenetv2.onnx", f"bytes={cut}-")]
    assert served.bytes_sent == len(body)
    assert f"resuming {served.url('zoo/mobilenetv2.onnx')}" in proc.stderr, proc.stderr
    # Not a terminal: plain progress lines, with the size.
    assert re.search(r"progress: [\d.]+ [KM]iB / [\d.]+ MiB \(\d+%\)", proc.stderr), proc.stderr


def test_a_pull_that_broke_off_resumes_in_the_next_run(polaris_bin, served, tmp_path):
    body = served.files["zoo/mobilenetv2.onnx"]
    cut = len(body) // 2
    served.break_after["zoo/mobilenetv2.onnx"] = cut
    served.down_after_break.add("zoo/mobilenetv2.onnx")  # the first run cannot finish
    cache = tmp_path / "cache"
    first = pull(polaris_bin, served.url("zoo/mobilenetv2.onnx"), "--retries", "0", cache=cache, check=False)
    assert first.returncode == 1 and "error:" in first.stderr, first.stderr
    partial = [p for p in (cache / "models" / "partial").iterdir()]
    assert len(partial) == 1 and partial[0].stat().st_size == cut
    served.down.clear()  # the host is back
    second = pull(polaris_bin, served.url("zoo/mobilenetv2.onnx"), "--retries", "0", cache=cache)
    assert served.requests[-1] == ("zoo/mobilenetv2.onnx", f"bytes={cut}-")
    assert served.bytes_sent == len(body)
    assert (cache / "models" / "blobs" / sha256(body)).read_bytes() == body
    assert not list((cache / "models" / "partial").iterdir())
    assert sha256(body) in second.stdout


def test_a_hash_mismatch_installs_nothing_and_keeps_nothing(polaris_bin, served, tmp_path):
    cache, repo = tmp_path / "cache", tmp_path / "repo"
    wrong = sha256(b"some other model")
    proc = pull(polaris_bin, served.url("zoo/identity.onnx"), "--sha256", wrong, "--into", repo, cache=cache,
                check=False)
    assert proc.returncode == 1, proc
    got = sha256(served.files["zoo/identity.onnx"])
    assert "sha256 mismatch" in proc.stderr and wrong in proc.stderr and got in proc.stderr, proc.stderr
    assert not (repo / "identity").exists()
    assert cache_files(cache) == [], cache_files(cache)


def test_a_missing_file_and_an_unreachable_mirror_fall_back_to_the_next(polaris_bin, served, tmp_path):
    body = served.files["zoo/identity.onnx"]
    cache, repo = tmp_path / "cache", tmp_path / "repo"
    unreachable = f"http://127.0.0.1:{free_port()}/zoo/identity.onnx"  # nothing listens there
    proc = pull(polaris_bin, unreachable, "--mirror", served.url("zoo/missing.onnx"),
                "--mirror", served.url("zoo/identity.onnx"), "--sha256", sha256(body), "--into", repo,
                cache=cache)
    assert (repo / "identity" / "1" / "model.onnx").read_bytes() == body
    assert "onnect" in proc.stderr and "HTTP 404" in proc.stderr and "trying the next URL" in proc.stderr, proc.stderr
    assert [path for path, _ in served.requests] == ["zoo/missing.onnx", "zoo/identity.onnx"]

    # Every URL failing: one error naming each.
    proc = pull(polaris_bin, unreachable, "--mirror", served.url("zoo/missing.onnx"), "--sha256", sha256(b"x"),
                cache=cache, check=False)
    assert proc.returncode == 1 and "any of its 2 URLs" in proc.stderr and "HTTP 404" in proc.stderr, proc.stderr


def test_the_cache_serves_without_network_and_offline_never_downloads(polaris_bin, served, tmp_path):
    body = served.files["zoo/identity.onnx"]
    url = served.url("zoo/identity.onnx")
    cache = tmp_path / "cache"
    pull(polaris_bin, url, cache=cache)
    served.close()  # the network is gone
    by_hash = pull(polaris_bin, "http://127.0.0.1:9/elsewhere/identity.onnx", "--sha256", sha256(body),
                   "--into", tmp_path / "repo", cache=cache)
    assert "(from the cache)" in by_hash.stdout, by_hash.stdout
    assert (tmp_path / "repo" / "identity" / "1" / "model.onnx").read_bytes() == body
    by_url = pull(polaris_bin, url, "--offline", cache=cache)
    assert "(from the cache)" in by_url.stdout
    missing = pull(polaris_bin, url.replace("identity", "mobilenetv2"), "--offline", cache=cache, check=False)
    assert missing.returncode == 1 and "--offline forbids downloading" in missing.stderr, missing.stderr


def test_a_catalog_entry_is_pulled_by_name_with_its_mirrors_and_size(polaris_bin, served, tmp_path):
    body = served.files["zoo/identity.onnx"]
    catalog = tmp_path / "site-catalog.json"
    entry = {"name": "site-identity", "format": "onnx", "sha256": sha256(body), "size": len(body),
             "urls": [served.url("zoo/gone.onnx"), served.url("zoo/identity.onnx")],
             "description": "an identity model on the site's own mirror"}
    catalog.write_text(json.dumps({"catalog_version": 1, "models": [entry]}))
    cache, repo = tmp_path / "cache", tmp_path / "repo"
    listing = pull(polaris_bin, "--list", "--catalog", catalog, cache=cache).stdout
    assert re.search(r"site-identity\s+onnx", listing) and "mnist-8" in listing, listing  # with the shipped ones
    pull(polaris_bin, "site-identity", "--catalog", catalog, "--into", repo, cache=cache)
    assert (repo / "site-identity" / "1" / "model.onnx").read_bytes() == body

    # A size that disagrees with the server's stops the transfer before storing it.
    entry.update(name="wrong-size", size=len(body) - 1)
    catalog.write_text(json.dumps({"catalog_version": 1, "models": [entry]}))
    proc = pull(polaris_bin, "wrong-size", "--catalog", catalog, cache=tmp_path / "cache2", check=False)
    assert proc.returncode == 1 and "were expected" in proc.stderr, proc.stderr

    # A misspelt key is an error, not a silently unchecked download.
    catalog.write_text(json.dumps({"catalog_version": 1, "models": [dict(entry, sha265=entry["sha256"])]}))
    proc = pull(polaris_bin, "wrong-size", "--catalog", catalog, cache=cache, check=False)
    assert proc.returncode == 2 and 'unknown key "sha265"' in proc.stderr, proc.stderr


def test_a_file_that_is_no_model_is_not_installed(polaris_bin, served, tmp_path):
    repo = tmp_path / "repo"
    proc = pull(polaris_bin, served.url("zoo/garbage.onnx"), "--into", repo, cache=tmp_path / "cache", check=False)
    assert proc.returncode == 1 and "does not load as a model" in proc.stderr, proc.stderr
    assert not (repo / "garbage").exists() or not any((repo / "garbage").iterdir())


def test_bad_sources_are_clear_errors(polaris_bin, tmp_path):
    cache = tmp_path / "cache"
    for args, words in [(["no-such-model"], "neither a catalog name"),
                        (["ftp://example.invalid/model.onnx"], "only http and https"),
                        (["http://127.0.0.1:9/model.bin"], "--format"),
                        (["http://127.0.0.1:9/model.onnx", "--name", "../up"], "may only hold"),
                        (["http://127.0.0.1:9/model.onnx", "--sha256", "abc"], "not a sha256")]:
        proc = pull(polaris_bin, *args, cache=cache, check=False)
        assert proc.returncode == 2 and words in proc.stderr, (args, proc.stderr)


@pytest.mark.skipif(not unshare_works(), reason="no user namespaces here: cannot make a private tmpfs")
def test_a_full_disk_is_a_clean_error_and_leaves_nothing(polaris_bin, served, tmp_path):
    """The cache and the repository on a 1 MiB tmpfs (a private mount namespace), the model 13 MiB."""
    script = ('d=$(mktemp -d); mount -t tmpfs -o size=1m tmpfs "$d" || exit 99; '
              '"$@" --cache-dir "$d/cache" --into "$d/repo"; echo "exit=$?"; '
              'echo files:; find "$d" -type f')
    proc = subprocess.run(["unshare", "-Urm", "sh", "-c", script, "sh", str(polaris_bin), "pull",
                           served.url("zoo/mobilenetv2.onnx"), "--no-config"],
                          capture_output=True, text=True, timeout=300)
    assert "exit=1" in proc.stdout, (proc.stdout, proc.stderr)
    assert "disk is full" in proc.stderr, proc.stderr
    assert proc.stdout.split("files:")[1].strip() == "", proc.stdout  # no partial file, nothing installed


TORCHVISION_WEIGHTS = """
import sys, torch, torchvision
torch.manual_seed(0)
model = torchvision.models.squeezenet1_1(weights=None).eval()
torch.save(model.state_dict(), sys.argv[1])
x = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
import numpy as np
np.save(sys.argv[2], x.numpy())
with torch.no_grad():
    np.save(sys.argv[3], model(x).numpy())
"""


def test_torchvision_weights_are_verified_by_prefix_exported_and_served(polaris_bin, models, tmp_path):
    """A catalog entry of format torchvision: the state_dict (made here with Debian's torchvision,
    served on loopback as torchvision's host would) is checked against its file-name hash prefix,
    exported to TorchScript by torchvision_export.py, installed with a config, and answers as eager
    torchvision does; a second pull exports nothing again; a wrong prefix installs nothing."""
    import sys
    import numpy as np
    script = tmp_path / "make.py"
    script.write_text(TORCHVISION_WEIGHTS)
    weights, x, expected = tmp_path / "w.pth", tmp_path / "x.npy", tmp_path / "expected.npy"
    run(sys.executable, script, weights, x, expected)
    body = weights.read_bytes()
    server = FileServer({"models/squeezenet1_1-test.pth": body})
    try:
        entry = {"name": "tv-squeezenet", "format": "torchvision", "architecture": "squeezenet1_1",
                 "sha256_prefix": sha256(body)[:8], "urls": [server.url("models/squeezenet1_1-test.pth")]}
        catalog = tmp_path / "catalog.json"
        catalog.write_text(json.dumps({"catalog_version": 1, "models": [entry]}))
        cache, repo = tmp_path / "cache", tmp_path / "repo"
        env = {"POLARIS_PYTHON": sys.executable}
        proc = run(polaris_bin, "pull", "tv-squeezenet", "--catalog", catalog, "--into", repo, "--cache-dir", cache,
                   env=env)
        assert "exporting torchvision's squeezenet1_1 to TorchScript" in proc.stderr, proc.stderr
        assert "exported to TorchScript" in proc.stdout and "installed" in proc.stdout, proc.stdout
        installed = repo / "tv-squeezenet" / "1" / "model.pt"
        config = (repo / "tv-squeezenet" / "config.pbtxt").read_text()
        assert 'platform: "pytorch_libtorch"' in config, config
        answer = json.loads(run(polaris_bin, "predict", installed, "--input", f"x={x}", "--top-k", "0",
                                "--json").stdout)
        np.testing.assert_allclose(np.array(answer["outputs"][0]["data"]).reshape(1, 1000), np.load(expected),
                                   rtol=1e-4, atol=1e-5)

        again = run(polaris_bin, "pull", "tv-squeezenet", "--catalog", catalog, "--into", repo, "--cache-dir", cache,
                    env=env)
        assert "exporting" not in again.stderr and "already installed" in again.stdout, again.stdout + again.stderr

        entry["sha256_prefix"] = "0" * 8 if not sha256(body).startswith("0" * 8) else "f" * 8
        entry["name"] = "tv-wrong"
        catalog.write_text(json.dumps({"catalog_version": 1, "models": [entry]}))
        wrong = run(polaris_bin, "pull", "tv-wrong", "--catalog", catalog, "--into", repo, "--cache-dir",
                    tmp_path / "cache2", env=env, check=False)
        assert wrong.returncode == 1 and "does not begin with the expected" in wrong.stderr, wrong.stderr
        assert not (repo / "tv-wrong").exists()
        assert not list((tmp_path / "cache2" / "models" / "blobs").glob("*"))

        # A torchvision entry must name its architecture (and only torchvision entries may).
        for broken, words in [({k: v for k, v in entry.items() if k != "architecture"}, 'needs "architecture"'),
                              (dict(entry, format="onnx"), '"architecture" is for torchvision entries')]:
            catalog.write_text(json.dumps({"catalog_version": 1, "models": [broken]}))
            bad = run(polaris_bin, "pull", "--list", "--catalog", catalog, "--cache-dir", cache, check=False)
            assert bad.returncode == 2 and words in bad.stderr, bad.stderr
    finally:
        server.close()
