"""One thread budget (issue 8): ten models loaded, traffic on all of them, and the process's
thread count stays within cores + a small documented constant (docs/scheduling.md)."""
import concurrent.futures as cf
import os
import pathlib

import numpy as np
import tritonclient.http as httpclient

from conftest import ServerProcess

# docs/scheduling.md, "Threads": Polaris's own threads are fixed (main, 2 HTTP I/O, 2 HTTP
# workers, 1 metrics I/O, 1 manager, 2 gRPC workers, 2 execution threads: 11), gRPC's library
# starts about 9, and the engines' pools are sized to the cores once for all models (ONNX
# Runtime's global pool: cores - 1; libtorch: cores - 1 per execution thread that runs
# TorchScript (OpenMP gives each calling thread its own team), plus one inter-op thread).
POLARIS_FIXED = 11
GRPC_LIBRARY = 10
EXECUTION_THREADS = 2


def thread_limit(cores):
    engines = (cores - 1) + EXECUTION_THREADS * (cores - 1) + 1
    return POLARIS_FIXED + GRPC_LIBRARY + engines


def thread_names(pid):
    names = []
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        try:
            names.append((task / "comm").read_text().strip())
        except OSError:
            pass  # the thread ended meanwhile
    return names


def test_ten_models_share_one_thread_budget(polaris_bin, models, tmp_path):
    repo = tmp_path / "repo"
    names = []
    for i in range(5):  # five ONNX and five TorchScript models: both engines' pools in use
        for ext, src in (("onnx", "add.onnx"), ("pt", "add.pt")):
            name = f"add_{ext}_{i}"
            (repo / name / "1").mkdir(parents=True)
            (repo / name / "1" / f"model.{ext}").symlink_to(models / "tiny" / src)
            names.append(name)
    server = ServerProcess(polaris_bin, repo, "--threads", "0")
    try:
        def traffic(name):
            client = httpclient.InferenceServerClient(server.http_url)
            a = np.ones((2, 16), np.float32)
            for _ in range(20):
                ins = [httpclient.InferInput("a", [2, 16], "FP32"), httpclient.InferInput("b", [2, 16], "FP32")]
                for t in ins:
                    t.set_data_from_numpy(a)
                out = client.infer(name, ins)
                np.testing.assert_array_equal(out.as_numpy(out.get_response()["outputs"][0]["name"]), a + a)
        peak = 0
        with cf.ThreadPoolExecutor(max_workers=10) as pool:
            futures = [pool.submit(traffic, n) for n in names]
            while not all(f.done() for f in futures):
                peak = max(peak, len(thread_names(server.proc.pid)))
            for f in futures:
                f.result()
        index = httpclient.InferenceServerClient(server.http_url).get_model_repository_index()
        assert sum(1 for m in index if m.get("state") == "READY") == 10
        cores = os.cpu_count()
        final = thread_names(server.proc.pid)
        limit = thread_limit(cores)
        print(f"threads: peak {peak}, after {len(final)}, limit {limit} (cores {cores}): {sorted(final)}")
        # Steady state within the budget; while a TorchScript model without a spec loads, its
        # probe runs on a thread of its own (+1, and its OpenMP team: cores - 1), one load at
        # a time, gone when the load ends.
        assert len(final) <= limit, sorted(final)
        assert peak <= limit + cores, (peak, sorted(final))
    finally:
        assert server.stop() == 0, server.output()
