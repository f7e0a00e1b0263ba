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

from conftest import BUILD, ServerProcess, free_port, wait_until

PERF_ANALYZER = BUILD / "perf-analyzer-venv" / "bin" / "perf_analyzer_polaris"


def _resnet_repository(tmp_path, models):
    repo = tmp_path / "repo"
    (repo / "resnet50" / "1").mkdir(parents=True)
    (repo / "resnet50" / "1" / "model.onnx").symlink_to(models / "vision/resnet50.onnx")
    return repo


def test_sigterm_answers_every_accepted_request_then_exits_0(polaris_bin, tmp_path):
    """SIGTERM with requests running and queued (held by a gate, over HTTP and gRPC): new
    requests are refused (HTTP 503, gRPC UNAVAILABLE) while every accepted one is answered in
    full once the gate opens, and the process exits 0."""
    import concurrent.futures as cf
    import tritonclient.grpc as grpcclient
    import tritonclient.http as httpclient
    from tritonclient.utils import InferenceServerException
    from gate import Gate

    repo = tmp_path / "repo"
    gate = Gate(tmp_path / "gate")
    gate.write_model(repo / "held" / "1" / "model.pt")
    (repo / "held" / "config.pbtxt").write_text(
        'max_batch_size: 1\ninput { name: "x" data_type: TYPE_FP32 dims: [1] }\n'
        'output { name: "output__0" data_type: TYPE_FP32 dims: [1] }\n')
    server = ServerProcess(polaris_bin, repo, "--model-control-mode", "none")

    def over(lib, url, value):
        client = lib.InferenceServerClient(url, **({"network_timeout": 300} if lib is httpclient else {}))
        ins = [lib.InferInput("x", [1, 1], "FP32")]
        ins[0].set_data_from_numpy(np.array([[value]], np.float32))
        return client.infer("held", ins).as_numpy("output__0")

    pool = cf.ThreadPoolExecutor(max_workers=6)
    try:
        accepted = [pool.submit(over, httpclient, server.http_url, 1 + i / 8) for i in range(4)]
        accepted += [pool.submit(over, grpcclient, server.grpc_url, 1 + i / 8) for i in range(4, 6)]
        server.wait_for_metric("polaris_instances_busy", "held", 1)
        server.wait_for_metric("polaris_scheduler_queued", "held", 5)
        server.proc.send_signal(signal.SIGTERM)
        wait_until(lambda: "finishing requests in progress" in server.output(), 60, lambda: "no shutdown log line")
        with pytest.raises(InferenceServerException) as refused:
            over(httpclient, server.http_url, 0)
        assert "503" in str(refused.value.status()) or "shutting down" in refused.value.message(), refused.value
        with pytest.raises(InferenceServerException) as refused_grpc:
            over(grpcclient, server.grpc_url, 0)
        assert "UNAVAILABLE" in str(refused_grpc.value.status()), refused_grpc.value
        assert server.proc.poll() is None, "the server exited with requests still held"
        gate.open_to(255)
        for i, answer in enumerate(accepted):
            assert answer.result(timeout=60)[0, 0] == np.float32(1 + i / 8)
        assert server.proc.wait(timeout=60) == 0, server.output()
    finally:
        gate.open_to(255)
        pool.shutdown()
        server.stop()


def threads_not_blocking(pid, signal_number):
    """Threads of `pid` (not its main thread) whose signal mask lets `signal_number` through."""
    import pathlib
    found = []
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        status = dict(line.split(":\t", 1) for line in (task / "status").read_text().splitlines() if ":\t" in line)
        if int(task.name) != pid and not int(status["SigBlk"], 16) & (1 << (signal_number - 1)):
            found.append(int(task.name))
    return found


def test_sigterm_to_a_thread_a_library_started_before_main_still_shuts_down_cleanly(polaris_bin, models, tmp_path):
    """Libraries loaded with the binary (OpenBLAS, through OpenCV) start threads before main, which
    never get the mask that keeps SIGTERM for the shutdown thread. The kernel may hand a SIGTERM
    sent to the process to one of them: sent there directly, it must still end in a clean exit 0
    (it once killed the process: exit -15)."""
    (tmp_path / "repo").symlink_to(models / "default", target_is_directory=True)
    server = ServerProcess(polaris_bin, tmp_path / "repo")
    early = threads_not_blocking(server.proc.pid, signal.SIGTERM)
    if not early:
        server.stop()
        pytest.skip("no thread without the mask in this build: nothing to hand SIGTERM to")
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.syscall(234, server.proc.pid, early[0], int(signal.SIGTERM)) == 0  # tgkill on x86-64
    assert server.proc.wait(timeout=60) == 0, server.output()
    assert "Terminated received: finishing requests in progress" in server.output()


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
