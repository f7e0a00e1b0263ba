"""`polaris serve` as a process: graceful shutdown under load, perf_analyzer
over HTTP and gRPC, start-up errors."""
import json
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from conftest import BUILD, ServerProcess, free_port

PERF_ANALYZER = BUILD / "perf-analyzer-venv" / "bin" / "perf_analyzer_polaris"


def _resnet_repository(tmp_path, models):
    repo = tmp_path / "repo"
    (repo / "resnet50" / "1").mkdir(parents=True)
    (repo / "resnet50" / "1" / "model.onnx").symlink_to(models / "vision/resnet50.onnx")
    return repo


def test_sigterm_answers_every_accepted_request_then_exits_0(polaris_bin, models, tmp_path):
    server = ServerProcess(polaris_bin, _resnet_repository(tmp_path, models), "--model-control-mode", "none")
    x = np.random.default_rng(0).random((1, 3, 224, 224), dtype=np.float32)
    header = json.dumps({"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 3, 224, 224],
                                     "parameters": {"binary_data_size": x.nbytes}}],
                         "outputs": [{"name": "output", "parameters": {"binary_data": True}}]}).encode()
    body = header + x.tobytes()
    records, lock, stop = [], threading.Lock(), threading.Event()

    def client():
        while not stop.is_set():
            started = time.monotonic()
            req = urllib.request.Request(f"http://{server.http_url}/v2/models/resnet50/infer", data=body,
                                         headers={"Inference-Header-Content-Length": str(len(header)),
                                                  "Connection": "close"}, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=60) as r:
                    n = int(r.headers["Inference-Header-Content-Length"])
                    answer = r.read()
                    outcome = ("ok", len(answer) - n == 1000 * 4)
            except (urllib.error.URLError, ConnectionError, OSError) as e:
                outcome = ("failed", str(e))
            with lock:
                records.append((started, time.monotonic(), outcome))

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(2.0)  # requests in flight all the time (ResNet50: ~100 ms each)
    signalled = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    code = server.proc.wait(timeout=60)
    stop.set()
    for t in threads:
        t.join()
    assert code == 0, server.output()
    # Requests sent well before the signal were received: each gets its
    # complete answer. Later ones may be answered, get 503, or be refused
    # once the listener closes; none is cut off half-way with a 200.
    accepted = [r for r in records if r[0] < signalled - 0.5]
    assert len(accepted) >= 4
    for started, ended, outcome in accepted:
        assert outcome == ("ok", True), (started - signalled, outcome)
    assert all(o[1] is True for _, _, o in records if o[0] == "ok"), "a 200 with a truncated body"
    assert any(ended > signalled for _, ended, o in records if o[0] == "ok"), "no request was in flight at SIGTERM"
    assert "finishing requests in progress" in server.output()


def test_a_busy_port_is_a_clear_start_up_error(polaris_bin, models, tmp_path):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = subprocess.run([str(polaris_bin), "serve", "--model-repository", str(models / "default"),
                               "--address", "127.0.0.1", "--http-port", str(port), "--grpc-port", str(free_port()),
                               "--metrics-port", str(free_port())], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr


def test_flags_also_come_from_the_environment(polaris_bin, models, tmp_path):
    proc = subprocess.run([str(polaris_bin), "serve"], capture_output=True, text=True, timeout=60,
                          env={"POLARIS_MODEL_REPOSITORY": str(tmp_path / "missing"), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 1
    assert "missing" in proc.stderr and "is not a directory" in proc.stderr


@pytest.mark.skipif(not PERF_ANALYZER.exists(), reason="perf_analyzer is installed by scripts/bootstrap")
@pytest.mark.parametrize("protocol", ["http", "grpc"])
@pytest.mark.parametrize("model,batch", [("add", 4), ("simple_fixed", 1)])
def test_perf_analyzer_runs_clean(polaris_server, protocol, model, batch, tmp_path):
    # add batches (max_batch_size 8, completed from its metadata); simple_fixed does not.
    url = polaris_server.http_url if protocol == "http" else polaris_server.grpc_url
    csv = tmp_path / f"{model}-{protocol}.csv"
    proc = subprocess.run([str(PERF_ANALYZER), "-m", model, "-u", url, "-i", protocol, "-b", str(batch),
                           "--concurrency-range", "1:4:3", "--measurement-interval", "1000",
                           "--measurement-mode", "time_windows", "--stability-percentage", "100",
                           "-f", str(csv)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = csv.read_text().splitlines()
    assert rows[0].startswith("Concurrency,Inferences/Second") and len(rows) == 3, rows
    for row in rows[1:]:
        assert float(row.split(",")[1]) > 0
    assert "error" not in proc.stdout.lower()
