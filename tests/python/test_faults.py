"""Faults the server must survive (issue 16): model files deleted or corrupted under it, a full
disk, an engine error inside one request, more models than the memory budget under traffic, a
client that leaves mid-request, a missing engine module. (SIGTERM under load is in
test_server_lifecycle.py.) Waits are on events the server shows (metrics, log lines), never on
how long an engine takes."""
import base64
import concurrent.futures as cf
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess

import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from conftest import BUILD, ServerProcess, free_port, in_tiny_filesystem, unshare_works, wait_until
from faulty import write_faulty_model
from gate import Gate

IDENTITY_IO = ('input { name: "input" data_type: TYPE_FP32 dims: [4] }\n'
               'output { name: "output" data_type: TYPE_FP32 dims: [4] }\n')


def copy_model(models, repo, name, source="tiny/identity.onnx", filename="model.onnx"):
    """A copy, not a symlink: the tests change the files under the server."""
    (repo / name / "1").mkdir(parents=True, exist_ok=True)
    shutil.copy(models / source, repo / name / "1" / filename)
    return repo / name / "1" / filename


def identity(server, model="identity", value=1.0, **kw):
    client = httpclient.InferenceServerClient(server.http_url, network_timeout=300)
    x = np.full((1, 4), value, np.float32)
    ins = [httpclient.InferInput("input", [1, 4], "FP32")]
    ins[0].set_data_from_numpy(x)
    out = client.infer(model, ins, **kw)
    return out.as_numpy(out.get_response()["outputs"][0]["name"])


def test_a_model_file_deleted_or_corrupted_while_loaded_keeps_serving(polaris_bin, models, tmp_path):
    repo = tmp_path / "repo"
    path = copy_model(models, repo, "identity")
    server = ServerProcess(polaris_bin, repo)
    try:
        np.testing.assert_array_equal(identity(server), np.ones((1, 4), np.float32))
        path.unlink()
        np.testing.assert_array_equal(identity(server, value=2), np.full((1, 4), 2, np.float32))
        path.write_bytes(b"\x08\x07 this is not an ONNX model" * 100)
        np.testing.assert_array_equal(identity(server, value=3), np.full((1, 4), 3, np.float32))
    finally:
        assert server.stop() == 0, server.output()


def test_poll_mode_refuses_a_corrupt_file_and_keeps_the_old_instance(polaris_bin, models, tmp_path):
    repo = tmp_path / "repo"
    path = copy_model(models, repo, "identity")
    server = ServerProcess(polaris_bin, repo, "--model-control-mode", "poll", "--repository-poll-secs", "0.2")
    try:
        np.testing.assert_array_equal(identity(server), np.ones((1, 4), np.float32))
        # A changed file that does not load: the old instance keeps serving.
        path.write_bytes(b"garbage, not protobuf" * 50)
        wait_until(lambda: "failed" in server.output() and "identity" in server.output()
                   and server.output().count("loading model 'identity'") >= 2, 60,
                   lambda: "no failed reload in the log:\n" + server.output()[-3000:])
        np.testing.assert_array_equal(identity(server, value=5), np.full((1, 4), 5, np.float32))
        # A new version that does not load: the old one keeps serving.
        (repo / "identity" / "2").mkdir()
        (repo / "identity" / "2" / "model.onnx").write_bytes(b"not a model either")
        wait_until(lambda: "loading model 'identity' version 2" in server.output(), 60,
                   lambda: server.output()[-3000:])
        wait_until(lambda: any(r["name"] == "identity" and r.get("version") == "2" and r["state"] != "LOADING"
                               for r in httpclient.InferenceServerClient(server.http_url).get_model_repository_index()),
                   60, lambda: "version 2 never finished loading")
        np.testing.assert_array_equal(identity(server, value=6), np.full((1, 4), 6, np.float32))
        index = {r.get("version"): r for r in httpclient.InferenceServerClient(server.http_url)
                 .get_model_repository_index() if r["name"] == "identity"}
        assert index["1"]["state"] == "READY", index
        assert index["2"]["state"] == "UNAVAILABLE" and index["2"]["reason"], index
    finally:
        assert server.stop() == 0, server.output()


@pytest.mark.skipif(not unshare_works(), reason="no user namespaces here: cannot make a private tmpfs")
def test_a_full_disk_while_writing_an_uploaded_model_is_a_clean_error(polaris_bin, models, tmp_path):
    """An upload larger than the free space: 503 saying the disk is full, nothing left behind,
    and a small upload afterwards works."""
    repo = tmp_path / "repo"
    repo.mkdir()
    marker = tmp_path / "tinyfs"
    http_port, grpc_port, metrics_port = free_port(), free_port(), free_port()
    log = open(tmp_path / "server.log", "w+")
    proc = subprocess.Popen(in_tiny_filesystem([polaris_bin, "serve", "--model-repository", repo, "--address",
                                                "127.0.0.1", "--http-port", http_port, "--grpc-port", grpc_port,
                                                "--metrics-port", metrics_port, "--allow-repository-changes",
                                                "true"], size="512k"),
                            stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, POLARIS_TINY_FS_FILE=str(marker)))
    try:
        client = httpclient.InferenceServerClient(f"127.0.0.1:{http_port}")
        wait_until(lambda: _ready(client), 90, lambda: open(tmp_path / "server.log").read())
        config = json.dumps({"max_batch_size": 8, "input": [{"name": "input", "data_type": "TYPE_FP32", "dims": [4]}],
                             "output": [{"name": "output", "data_type": "TYPE_FP32", "dims": [4]}]})
        big = os.urandom(2 << 20)
        with pytest.raises(InferenceServerException) as full:
            client.load_model("upload", config=config, files={"file:1/model.onnx": big})
        assert "503" in str(full.value.status()) and "disk is full" in full.value.message(), full.value
        assert "/tmp" not in full.value.message() and "polaris-override" not in full.value.message()
        # Nothing half-written stays: the private folder is gone. The tmpfs is only visible inside
        # the server's namespace, so ask the process: its mounts' free space is back to all.
        tinyfs = marker.read_text().strip()
        listing = subprocess.run(["nsenter", "-t", str(proc.pid), "-U", "-m", "--preserve-credentials", "ls", "-A",
                                  tinyfs], capture_output=True, text=True)
        assert listing.returncode == 0, listing.stderr
        assert listing.stdout.strip() == "", f"left behind: {listing.stdout}"
        small = (models / "tiny" / "identity.onnx").read_bytes()
        client.load_model("upload", config=config, files={"file:1/model.onnx": small})
        x = np.ones((1, 4), np.float32)
        ins = [httpclient.InferInput("input", [1, 4], "FP32")]
        ins[0].set_data_from_numpy(x)
        np.testing.assert_array_equal(client.infer("upload", ins).as_numpy("output"), x)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, open(tmp_path / "server.log").read()[-3000:]


def _ready(client):
    try:
        return client.is_server_ready()
    except Exception:  # noqa: BLE001 (not up yet)
        return False


@pytest.mark.skipif(not unshare_works(), reason="no user namespaces here: cannot make a private tmpfs")
def test_a_full_disk_under_the_optimized_model_cache_only_costs_the_cache(polaris_bin, models, tmp_path):
    """ONNX Runtime's optimized-model cache on a disk too small for MobileNetV2's optimized
    model: the model serves anyway, the log says why nothing was cached, and no partial file
    stays in the cache folder."""
    repo = tmp_path / "repo"
    copy_model(models, repo, "mobilenet", "vision/mobilenetv2.onnx")
    marker = tmp_path / "tinyfs"
    http_port = free_port()
    log_path = tmp_path / "server.log"
    log = open(log_path, "w+")
    # The cache folder is made inside the tmpfs by the shell, after the mount.
    command = ["sh", "-c", 'mkdir -p "$TMPDIR/cache" && exec "$0" serve --model-repository "$1" --address 127.0.0.1 '
               '--http-port "$2" --grpc-port "$3" --metrics-port "$4" --cache-dir "$TMPDIR/cache"',
               polaris_bin, repo, http_port, free_port(), free_port()]
    proc = subprocess.Popen(in_tiny_filesystem(command, size="256k"), stdout=log, stderr=subprocess.STDOUT,
                            env=dict(os.environ, POLARIS_TINY_FS_FILE=str(marker)))
    try:
        client = httpclient.InferenceServerClient(f"127.0.0.1:{http_port}", network_timeout=300)
        wait_until(lambda: _ready(client), 90, lambda: log_path.read_text())
        x = np.random.default_rng(0).random((1, 3, 224, 224), dtype=np.float32)
        ins = [httpclient.InferInput("input", list(x.shape), "FP32")]
        ins[0].set_data_from_numpy(x, binary_data=True)
        first = client.infer("mobilenet", ins).as_numpy("output")
        wait_until(lambda: "cache" in log_path.read_text().lower() and
                   ("no space" in log_path.read_text().lower() or "could not" in log_path.read_text().lower()),
                   120, lambda: "no cache failure logged:\n" + log_path.read_text()[-3000:])
        np.testing.assert_array_equal(client.infer("mobilenet", ins).as_numpy("output"), first)
        tinyfs = marker.read_text().strip()
        listing = subprocess.run(["nsenter", "-t", str(proc.pid), "-U", "-m", "--preserve-credentials", "find",
                                  f"{tinyfs}/cache", "-type", "f", "-size", "+8k"], capture_output=True, text=True)
        assert listing.returncode == 0, listing.stderr
        assert listing.stdout.strip() == "", f"partial cache files left: {listing.stdout}"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log_path.read_text()[-3000:]


def test_an_engine_error_fails_that_request_only(polaris_bin, tmp_path):
    repo = tmp_path / "repo"
    write_faulty_model(repo / "faulty" / "1" / "model.pt")
    (repo / "faulty" / "config.pbtxt").write_text(
        "max_batch_size: 8\n" + IDENTITY_IO.replace('"output"', '"output__0"').replace('"input"', '"x"')
        + "dynamic_batching { max_queue_delay_microseconds: 100000 }\n")
    server = ServerProcess(polaris_bin, repo)

    def one(i):
        client = httpclient.InferenceServerClient(server.http_url, network_timeout=120)
        x = np.full((1, 4), -1.0 if i % 5 == 0 else float(i), np.float32)
        ins = [httpclient.InferInput("x", [1, 4], "FP32")]
        ins[0].set_data_from_numpy(x)
        try:
            return i, client.infer("faulty", ins).as_numpy("output__0"), None
        except InferenceServerException as e:
            return i, None, e
    try:
        results = [one(i) for i in range(1, 5)] + [one(0)]  # alone first: a clear 500 for the bad one
        # Eight at once within the 100 ms window share executions (shown by an honest round)...
        results += list(cf.ThreadPoolExecutor(8).map(one, [1, 2, 3, 4, 6, 7, 8, 9]))
        stats = httpclient.InferenceServerClient(server.http_url).get_inference_statistics("faulty")
        assert any(b["batch_size"] > 1 for b in stats["model_stats"][0]["batch_stats"]), "nothing was batched"
        # ...so here every execution holds a failing request with honest ones.
        results += list(cf.ThreadPoolExecutor(8).map(one, range(40)))
        for i, out, error in results:
            if i % 5 == 0:
                assert error is not None and "500" in str(error.status()), (i, out)
                assert "asked to fail" in error.message(), error.message()
            else:
                # Batched with a failing request, an honest one still gets its own answer.
                assert error is None, (i, error.message())
                np.testing.assert_array_equal(out, np.full((1, 4), float(i), np.float32))
        assert server.proc.poll() is None
    finally:
        assert server.stop() == 0, server.output()


def test_ten_models_over_the_memory_budget_under_traffic(polaris_bin, models, tmp_path):
    """Ten MobileNetV2s with room for about three: every request is answered correctly while
    models are evicted and reloaded under it."""
    repo = tmp_path / "repo"
    names = [f"mobilenet_{i}" for i in range(10)]
    for name in names:
        copy_model(models, repo, name, "vision/mobilenetv2.onnx")
    server = ServerProcess(polaris_bin, repo, "--memory-limit", "100MiB", "--no-warmup")
    x = np.random.default_rng(1).random((1, 3, 224, 224), dtype=np.float32)

    def traffic(i):
        client = httpclient.InferenceServerClient(server.http_url, network_timeout=300)
        outs = []
        for k in range(6):
            ins = [httpclient.InferInput("input", list(x.shape), "FP32")]
            ins[0].set_data_from_numpy(x, binary_data=True)
            outs.append(client.infer(names[(i + k) % 10], ins).as_numpy("output"))
        return outs
    try:
        reference = traffic(0)[0]
        with cf.ThreadPoolExecutor(10) as pool:
            for outs in pool.map(traffic, range(10)):
                for out in outs:
                    np.testing.assert_allclose(out, reference, rtol=1e-5, atol=1e-5)
        assert server.metric("polaris_evictions_total") > 0, "the budget never evicted anything"
        assert server.proc.poll() is None
    finally:
        assert server.stop() == 0, server.output()


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def resident_mib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_a_client_gone_mid_request_leaks_nothing(polaris_bin, tmp_path):
    """Clients that send a request and close the connection while it is held in the engine: the
    server finishes the work, drops the answer, lets go of the model (nothing pending), and after
    many such clients holds no more connections and no more memory than before."""
    repo = tmp_path / "repo"
    gate = Gate(tmp_path / "gate")
    gate.write_model(repo / "held" / "1" / "model.pt")
    (repo / "held" / "config.pbtxt").write_text(
        "max_batch_size: 8\ninput { name: \"x\" data_type: TYPE_FP32 dims: [1] }\n"
        "output { name: \"output__0\" data_type: TYPE_FP32 dims: [1] }\n"
        "instance_group { count: 2 kind: KIND_CPU }\n")
    server = ServerProcess(polaris_bin, repo)
    host, port = server.http_url.split(":")
    body = json.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 1], "data": [1]}]}).encode()
    request = (b"POST /v2/models/held/infer HTTP/1.1\r\nHost: x\r\nContent-Length: " + str(len(body)).encode() +
               b"\r\n\r\n" + body)

    def round_of_leavers(n):
        gate.open_to(0)
        socks = []
        for _ in range(n):
            s = socket.create_connection((host, int(port)), timeout=30)
            s.sendall(request)
            socks.append(s)
        wait_until(lambda: server.metric("polaris_queue_depth", "held") == n, 60,
                   lambda: f"queue depth {server.metric('polaris_queue_depth', 'held')}, not {n}")
        for s in socks:
            s.close()  # gone before the answer
        gate.open_to(1)
        wait_until(lambda: server.metric("polaris_queue_depth", "held") == 0, 60, lambda: "requests stayed pending")
    try:
        gate.open_to(255)
        identity_like = httpclient.InferenceServerClient(server.http_url)
        ins = [httpclient.InferInput("x", [1, 1], "FP32")]
        ins[0].set_data_from_numpy(np.ones((1, 1), np.float32))
        identity_like.infer("held", ins)
        round_of_leavers(8)
        fds, rss = open_fds(server.proc.pid), resident_mib(server.proc.pid)
        for _ in range(10):
            round_of_leavers(8)
        assert open_fds(server.proc.pid) <= fds + 2, "connections of gone clients stay open"
        assert resident_mib(server.proc.pid) - rss < 8, "memory grew with gone clients"
        assert identity_like.infer("held", ins).as_numpy("output__0")[0, 0] == 1
    finally:
        gate.open_to(255)
        assert server.stop() == 0, server.output()


def test_a_missing_engine_module_fails_only_its_models(polaris_bin, models, tmp_path):
    """An installation without the libtorch module: the server starts, serves ONNX models, and a
    TorchScript model's requests say which module is missing."""
    tree = tmp_path / "install"
    (tree / "bin").mkdir(parents=True)
    (tree / "lib").mkdir()
    shutil.copy(polaris_bin, tree / "bin" / "polaris")
    for module in (BUILD / "lib").glob("libpolaris_backend_*.so"):
        if "torch" not in module.name:
            shutil.copy(module, tree / "lib" / module.name)
    repo = tmp_path / "repo"
    copy_model(models, repo, "identity")
    copy_model(models, repo, "identity_pt", "tiny/identity.pt", "model.pt")
    server = ServerProcess(tree / "bin" / "polaris", repo)
    try:
        np.testing.assert_array_equal(identity(server), np.ones((1, 4), np.float32))
        with pytest.raises(InferenceServerException) as missing:
            identity(server, "identity_pt")
        assert "libpolaris_backend_torch.so" in missing.value.message(), missing.value.message()
        assert str(missing.value.status()) in ("400", "404", "500", "503"), missing.value.status()
        np.testing.assert_array_equal(identity(server, value=2), np.full((1, 4), 2, np.float32))
    finally:
        assert server.stop() == 0, server.output()


def test_a_damaged_optimized_model_cache_entry_is_replaced_not_fatal(polaris_bin, models, tmp_path):
    """A cache entry damaged on disk (a crash, a bad sector): the next load notices, deletes it,
    loads the model from its own file, and writes a good entry again."""
    repo = tmp_path / "repo"
    copy_model(models, repo, "mobilenet", "vision/mobilenetv2.onnx")
    cache = tmp_path / "cache"
    x = np.random.default_rng(2).random((1, 3, 224, 224), dtype=np.float32)

    def serve_once():
        server = ServerProcess(polaris_bin, repo, "--cache-dir", cache)
        try:
            client = httpclient.InferenceServerClient(server.http_url, network_timeout=300)
            ins = [httpclient.InferInput("input", list(x.shape), "FP32")]
            ins[0].set_data_from_numpy(x, binary_data=True)
            out = client.infer("mobilenet", ins).as_numpy("output")
            wait_until(lambda: any(p.suffix == ".onnx" for p in (cache / "ort-optimized").glob("*.onnx")), 120,
                       lambda: "no cache entry written")
            return out, server.output()
        finally:
            assert server.stop() == 0, server.output()
    first, _ = serve_once()
    entries = list((cache / "ort-optimized").glob("*.onnx"))
    assert entries
    for entry in entries:
        entry.write_bytes(entry.read_bytes()[:1000])  # cut short
    second, log = serve_once()
    assert "does not load" in log and "removed" in log, log[-3000:]
    np.testing.assert_allclose(second, first, rtol=1e-5, atol=1e-5)
    assert all(e.stat().st_size > 1000 for e in (cache / "ort-optimized").glob("*.onnx")), "no good entry again"
