"""Scheduling through the real server (issue 8): dynamic batching, queue policies, priorities,
instance groups and sequences, with tritonclient over HTTP and gRPC."""
import concurrent.futures as cf
import os
import pathlib
import time

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from conftest import ServerProcess, wait_until
from gate import Gate

SIMPLE_TENSORS = "".join(f'{kind} {{ name: "{name}" data_type: TYPE_INT32 dims: [16] }}\n'
                         for kind, name in [("input", "INPUT0"), ("input", "INPUT1"),
                                            ("output", "OUTPUT0"), ("output", "OUTPUT1")])


def simple_model(repo, name, config, models):
    (repo / name / "1").mkdir(parents=True)
    (repo / name / "1" / "model.onnx").symlink_to(models / "tiny" / "simple.onnx")
    (repo / name / "config.pbtxt").write_text("max_batch_size: 8\n" + SIMPLE_TENSORS + config)


def model_dir(repo, name, source, filename, config):
    (repo / name / "1").mkdir(parents=True)
    (repo / name / "1" / filename).symlink_to(source)
    (repo / name / "config.pbtxt").write_text(config)


GATE_IO = ('input { name: "x" data_type: TYPE_FP32 dims: [1] }\n'
           'output { name: "output__0" data_type: TYPE_FP32 dims: [1] }\n')
RESNET_IO = ('input { name: "input" data_type: TYPE_FP32 dims: [3, 224, 224] }\n'
             'output { name: "output" data_type: TYPE_FP32 dims: [1000] }\n')

LIF_CONFIG = """
max_batch_size: 0
input { name: "x" data_type: TYPE_FP32 dims: [-1, 8] }
output { name: "output__0" data_type: TYPE_FP32 dims: [-1, 16] }
output { name: "output__1" data_type: TYPE_FP32 dims: [-1, 16] }
sequence_batching {
  max_sequence_idle_microseconds: 400000
  state { input_name: "v" output_name: "output__2" data_type: TYPE_FP32 dims: [1, 16]
          initial_state { data_type: TYPE_FP32 dims: [1, 16] zero_data: true name: "rest" } }
}
"""
LSTM_CONFIG = """
max_batch_size: 0
sequence_batching {
  state { input_name: "h0" output_name: "hn" data_type: TYPE_FP32 dims: [1, 1, 8] }
  state { input_name: "c0" output_name: "cn" data_type: TYPE_FP32 dims: [1, 1, 8] }
}
instance_group { count: 2 kind: KIND_CPU }
"""
GRU_CONFIG = """
max_batch_size: 8
sequence_batching {
  max_sequence_idle_microseconds: 5000000
  state { input_name: "h" output_name: "hn" data_type: TYPE_FP32 dims: [8] }
}
"""
SILERO_CONFIG = """
max_batch_size: 0
sequence_batching {
  state { input_name: "state" output_name: "stateN" data_type: TYPE_FP32 dims: [2, 1, 128] }
  state { input_name: "context" output_name: "contextN" data_type: TYPE_FP32 dims: [1, 64] }
}
"""


@pytest.fixture(scope="module")
def server(polaris_bin, models, tmp_path_factory):
    root = tmp_path_factory.mktemp("scheduling")
    repo = root / "repo"
    repo.mkdir()
    simple_model(repo, "batched", "dynamic_batching { max_queue_delay_microseconds: 20000 }\n", models)
    simple_model(repo, "preferred", "dynamic_batching { preferred_batch_size: [4] "
                                    "max_queue_delay_microseconds: 3000000 }\n", models)
    simple_model(repo, "window", "dynamic_batching { max_queue_delay_microseconds: 400000 }\n", models)
    simple_model(repo, "expiring", "dynamic_batching { max_queue_delay_microseconds: 1000000 "
                                   "default_queue_policy { default_timeout_microseconds: 100000 } }\n", models)
    simple_model(repo, "overridable", "dynamic_batching { max_queue_delay_microseconds: 500000 "
                                      "default_queue_policy { allow_timeout_override: true } }\n", models)
    simple_model(repo, "delayed", "dynamic_batching { max_queue_delay_microseconds: 300000 "
                                  "default_queue_policy { timeout_action: DELAY default_timeout_microseconds: 1000 } }\n",
                 models)
    model_dir(repo, "adaptive", models / "vision" / "mobilenetv2.onnx", "model.onnx",
              "max_batch_size: 8\n" + RESNET_IO +
              'parameters { key: "polaris.latency_target_ms" value { string_value: "2000" } }\n')
    # Gated models (gate.py) hold their instances busy until the test lets them go.
    gates = {}
    for name, config in [("prioritized", "dynamic_batching { priority_levels: 2 default_priority_level: 2 }\n"),
                         ("bounded", "dynamic_batching { default_queue_policy { max_queue_size: 2 } }\n"),
                         ("one_instance", ""),
                         ("two_instances", "instance_group { count: 2 kind: KIND_CPU }\n")]:
        gates[name] = Gate(root / "gates" / name)
        gates[name].write_model(repo / name / "1" / "model.pt")
        (repo / name / "config.pbtxt").write_text("max_batch_size: 1\n" + GATE_IO + config)
    simple_model(repo, "gpu_and_cpu", "instance_group [ { count: 1 kind: KIND_GPU }, { count: 1 kind: KIND_CPU } ]\n",
                 models)
    model_dir(repo, "lif", models / "stateful" / "lif.pt", "model.pt", LIF_CONFIG)
    model_dir(repo, "lstm", models / "stateful" / "lstm.onnx", "model.onnx", LSTM_CONFIG)
    model_dir(repo, "gru_batch", models / "stateful" / "gru_batch.onnx", "model.onnx", GRU_CONFIG)
    model_dir(repo, "silero_stream", models / "silero_vad" / "silero_vad_stream.onnx", "model.onnx", SILERO_CONFIG)
    srv = ServerProcess(polaris_bin, repo, "--execution-threads", "2")
    srv.gates = gates
    yield srv
    for gate in gates.values():
        gate.open_to(255)  # nothing a failed test left waiting holds up the shutdown
    assert srv.stop() == 0, srv.output()


def simple_inputs(rows, seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(-1000, 1000, size=(rows, 16), dtype=np.int32)
    b = rng.integers(-1000, 1000, size=(rows, 16), dtype=np.int32)
    ins = [httpclient.InferInput("INPUT0", [rows, 16], "INT32"), httpclient.InferInput("INPUT1", [rows, 16], "INT32")]
    ins[0].set_data_from_numpy(a, binary_data=True)
    ins[1].set_data_from_numpy(b, binary_data=True)
    return ins, a, b


def stats(client, model):
    return client.get_inference_statistics(model)["model_stats"][0]


def batch_sizes(model_stats):
    return {b["batch_size"]: b["compute_infer"]["count"] for b in model_stats.get("batch_stats", [])}


def concurrently(n, fn):
    with cf.ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(fn, range(n)))


def test_batched_responses_are_each_requests_own_rows(server):
    """Many concurrent requests with distinct inputs (1 to 3 rows each) share batches, and each
    response holds exactly its own rows."""
    def one(i):
        client = httpclient.InferenceServerClient(server.http_url)
        rows = 1 + i % 3
        ins, a, b = simple_inputs(rows, seed=i)
        result = client.infer("batched", ins)
        np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), a + b)
        np.testing.assert_array_equal(result.as_numpy("OUTPUT1"), a - b)
        return rows
    rows = concurrently(48, one)
    st = stats(httpclient.InferenceServerClient(server.http_url), "batched")
    sizes = batch_sizes(st)
    assert st["inference_stats"]["success"]["count"] == 48
    assert st["inference_count"] == sum(rows)
    assert sum(size * count for size, count in sizes.items()) == sum(rows)
    assert any(size > 3 for size in sizes), f"no execution held more than one request: {sizes}"
    assert st["execution_count"] < 48


def test_inputs_that_disagree_on_the_batch_dim_are_refused_and_never_mix_with_others(server):
    """A request whose INPUT0 has 2 rows and INPUT1 1 row (ORT would broadcast it) gets 400 with
    Triton's words, over HTTP and gRPC, and honest requests batched in the same windows get
    exactly their own answers, bit for bit."""
    def send(i):
        lib = httpclient if i % 2 else grpcclient
        client = lib.InferenceServerClient(server.http_url if i % 2 else server.grpc_url)
        rng = np.random.default_rng(100 + i)
        honest = i % 4 < 2
        rows_a, rows_b = (1 + i % 3,) * 2 if honest else (2, 1)
        a = rng.integers(-1000, 1000, size=(rows_a, 16), dtype=np.int32)
        b = rng.integers(-1000, 1000, size=(rows_b, 16), dtype=np.int32)
        ins = [lib.InferInput("INPUT0", list(a.shape), "INT32"), lib.InferInput("INPUT1", list(b.shape), "INT32")]
        ins[0].set_data_from_numpy(a)
        ins[1].set_data_from_numpy(b)
        try:
            result = client.infer("batched", ins)
        except InferenceServerException as e:
            return honest, a, b, None, e
        return honest, a, b, result, None

    answers = concurrently(48, send)
    for honest, a, b, result, error in answers:
        if honest:
            assert error is None, str(error)
            assert result.as_numpy("OUTPUT0").tobytes() == (a + b).tobytes()
            assert result.as_numpy("OUTPUT1").tobytes() == (a - b).tobytes()
        else:
            assert result is None, "a request with mismatched batch dims was answered"
            assert "batch size does not match other inputs" in error.message(), error.message()
            assert str(error.status()) in ("400", "StatusCode.INVALID_ARGUMENT"), error.status()


def test_preferred_batch_size_is_formed_without_waiting_the_window(server):
    client = httpclient.InferenceServerClient(server.http_url)
    start = time.monotonic()
    concurrently(8, lambda i: httpclient.InferenceServerClient(server.http_url).infer(
        "preferred", simple_inputs(1, i)[0]))
    took = time.monotonic() - start
    assert batch_sizes(stats(client, "preferred")) == {4: 2}
    assert took < 2.5, f"batches of the preferred size should go at once, not after the 3 s window ({took:.2f} s)"


def test_delay_window_gathers_requests(server):
    client = httpclient.InferenceServerClient(server.http_url)
    start = time.monotonic()
    concurrently(3, lambda i: httpclient.InferenceServerClient(server.http_url).infer("window", simple_inputs(1, i)[0]))
    took = time.monotonic() - start
    assert batch_sizes(stats(client, "window")) == {3: 1}
    assert took >= 0.35, f"the three requests should have waited the 400 ms window ({took:.2f} s)"


def gated_infer(server, model, ticket, priority=0):
    """One request to a gated model: it finishes once the model's gate is open to `ticket`."""
    client = httpclient.InferenceServerClient(server.http_url, network_timeout=300)
    ins = [httpclient.InferInput("x", [1, 1], "FP32")]
    ins[0].set_data_from_numpy(np.array([[ticket]], np.float32))
    return client.infer(model, ins, priority=priority).as_numpy("output__0")


def test_max_queue_size_rejects_with_503(server):
    """max_queue_size 2: with the instance held busy and two requests queued, a third gets 503
    at once; the queued ones are still served."""
    gate = server.gates["bounded"]
    gate.open_to(0)
    pool = cf.ThreadPoolExecutor(max_workers=3)
    try:
        running = pool.submit(gated_infer, server, "bounded", 1)
        server.wait_for_metric("polaris_instances_busy", "bounded", 1)
        waiting = [pool.submit(gated_infer, server, "bounded", 1) for _ in range(2)]
        server.wait_for_metric("polaris_scheduler_queued", "bounded", 2)
        with pytest.raises(InferenceServerException) as refused:
            gated_infer(server, "bounded", 1)
        assert refused.value.status() == "503" or "503" in str(refused.value)
        assert "Exceeds maximum queue size" in refused.value.message()
        gate.open_to(1)
        for f in [running] + waiting:
            assert f.result(timeout=60)[0, 0] == 1
    finally:
        gate.open_to(255)
        pool.shutdown()


def test_queue_timeout_rejects_with_the_documented_error(server):
    start = time.monotonic()
    with pytest.raises(InferenceServerException) as expired:
        httpclient.InferenceServerClient(server.http_url).infer("expiring", simple_inputs(1, 0)[0])
    took = time.monotonic() - start
    assert "Request timeout expired" in expired.value.message()
    assert took < 0.8, f"the 100 ms timeout should fire before the 1 s window ({took:.2f} s)"
    # gRPC gets the same answer, as UNAVAILABLE.
    grpc = grpcclient.InferenceServerClient(server.grpc_url)
    ins = [grpcclient.InferInput("INPUT0", [1, 16], "INT32"), grpcclient.InferInput("INPUT1", [1, 16], "INT32")]
    for i in ins:
        i.set_data_from_numpy(np.zeros((1, 16), np.int32))
    with pytest.raises(InferenceServerException) as over_grpc:
        grpc.infer("expiring", ins)
    assert "Request timeout expired" in over_grpc.value.message()
    assert "UNAVAILABLE" in str(over_grpc.value.status())


def test_request_timeout_parameter_when_the_policy_allows_it(server):
    client = httpclient.InferenceServerClient(server.http_url)
    with pytest.raises(InferenceServerException) as expired:
        client.infer("overridable", simple_inputs(1, 0)[0], timeout=50000)
    assert "Request timeout expired" in expired.value.message()
    ins, a, b = simple_inputs(1, 1)
    np.testing.assert_array_equal(client.infer("overridable", ins).as_numpy("OUTPUT0"), a + b)  # no timeout: served


def test_delay_action_serves_timed_out_requests_later(server):
    ins, a, b = simple_inputs(1, 2)
    result = httpclient.InferenceServerClient(server.http_url).infer("delayed", ins)
    np.testing.assert_array_equal(result.as_numpy("OUTPUT1"), a - b)


def test_priority_level_1_is_served_first(server):
    """With the only instance held busy, a priority-2 request and then a priority-1 one queue;
    when the instance frees up the priority-1 one runs first. The gate proves the order: it lets
    the first request (ticket 1) and the priority-1 one (ticket 2) finish, not the priority-2 one
    (ticket 3), so had the priority-2 one taken the instance, nothing more could finish."""
    gate = server.gates["prioritized"]
    gate.open_to(0)
    pool = cf.ThreadPoolExecutor(max_workers=3)
    try:
        first = pool.submit(gated_infer, server, "prioritized", 1)
        server.wait_for_metric("polaris_instances_busy", "prioritized", 1)
        low = pool.submit(gated_infer, server, "prioritized", 3, 2)
        server.wait_for_metric("polaris_scheduler_queued", "prioritized", 1)
        high = pool.submit(gated_infer, server, "prioritized", 2, 1)
        server.wait_for_metric("polaris_scheduler_queued", "prioritized", 2)
        gate.open_to(2)
        assert first.result(timeout=60)[0, 0] == 1
        try:
            assert high.result(timeout=60)[0, 0] == 2
        except cf.TimeoutError:
            raise AssertionError("the priority-2 request took the instance before the priority-1 one") from None
        assert not low.done()
        gate.open_to(3)
        assert low.result(timeout=60)[0, 0] == 3
    finally:
        gate.open_to(255)
        pool.shutdown()
    with pytest.raises(InferenceServerException) as bad:
        gated_infer(server, "prioritized", 0, priority=3)
    assert "priority 3 is outside" in bad.value.message()


def test_two_instances_run_requests_in_parallel(server):
    """instance_group count 2: two concurrent requests find a free instance each and run side by
    side; with one instance the second waits in the queue until the first is done."""
    pool = cf.ThreadPoolExecutor(max_workers=2)
    try:
        for model, busy, queued in (("one_instance", 1, 1), ("two_instances", 2, 0)):
            gate = server.gates[model]
            gate.open_to(0)
            running = [pool.submit(gated_infer, server, model, 1) for _ in range(2)]
            server.wait_for_metric("polaris_instances_busy", model, busy)
            wait_until(lambda: server.metric("polaris_scheduler_queued", model) +
                       server.metric("polaris_instances_busy", model) == 2, 60, lambda: f"{model}: both requests")
            assert server.metric("polaris_instances_busy", model) == busy
            assert server.metric("polaris_scheduler_queued", model) == queued
            gate.open_to(1)
            for f in running:
                assert f.result(timeout=60)[0, 0] == 1
    finally:
        for gate in server.gates.values():
            gate.open_to(255)
        pool.shutdown()
    config = httpclient.InferenceServerClient(server.http_url).get_model_config("two_instances")
    assert config["instance_group"][0]["count"] == 2


def test_gpu_instance_without_a_gpu_falls_back_with_the_reason(server):
    """A KIND_GPU instance on a machine without CUDA/MIGraphX (and, here, no Vulkan driver for
    the server) runs on the CPU; the log says which instance fell back and why, and both
    instances serve."""
    client = httpclient.InferenceServerClient(server.http_url)
    ins, a, b = simple_inputs(2, 5)
    np.testing.assert_array_equal(client.infer("gpu_and_cpu", ins).as_numpy("OUTPUT0"), a + b)
    log = server.output()
    assert "model 'gpu_and_cpu': 2 instances on cpu, cpu" in log.replace("CPUExecutionProvider", "cpu"), log[-3000:]
    fallback = [l for l in log.splitlines() if "gpu_and_cpu" in l and "provider_fallback" in l]
    assert fallback and "cuda" in fallback[0].lower(), log[-3000:]


# ---------------------------------------------------------------- sequences

def lif_reference(models, x):
    """The LIF layer run locally over all steps at once (Python torch)."""
    import torch
    module = torch.jit.load(str(models / "stateful" / "lif.pt"))
    with torch.no_grad():
        spikes, membrane, _ = module(torch.from_numpy(x), torch.zeros(1, 16))
    return spikes.numpy(), membrane.numpy()


def test_interleaved_lif_sequences_keep_separate_state(server, models):
    client = grpcclient.InferenceServerClient(server.grpc_url)
    rng = np.random.default_rng(4)
    xs = {7: rng.normal(size=(12, 8)).astype(np.float32), "walk-b": rng.normal(size=(12, 8)).astype(np.float32)}
    got = {k: [] for k in xs}
    for step in range(3):  # chunks of 4 steps, the two sequences interleaved
        for seq, x in xs.items():
            ins = [grpcclient.InferInput("x", [4, 8], "FP32")]
            ins[0].set_data_from_numpy(x[step * 4:(step + 1) * 4])
            r = client.infer("lif", ins, sequence_id=seq, sequence_start=step == 0, sequence_end=step == 2)
            got[seq].append((r.as_numpy("output__0"), r.as_numpy("output__1")))
            assert r.as_numpy("output__2") is None, "the state output must not reach the client"
    for seq, x in xs.items():
        spikes, membrane = lif_reference(models, x)
        np.testing.assert_allclose(np.concatenate([m for _, m in got[seq]]), membrane, atol=1e-4)
        np.testing.assert_array_equal(np.concatenate([s for s, _ in got[seq]]), spikes)
        assert spikes.sum() > 0
    # Ended sequences are gone: continuing one without START is refused.
    ins = [grpcclient.InferInput("x", [4, 8], "FP32")]
    ins[0].set_data_from_numpy(xs[7][:4])
    with pytest.raises(InferenceServerException) as gone:
        client.infer("lif", ins, sequence_id=7)
    assert "START" in gone.value.message()


def test_idle_sequences_time_out_and_free_their_state(server):
    client = httpclient.InferenceServerClient(server.http_url)
    ins = [httpclient.InferInput("x", [2, 8], "FP32")]
    ins[0].set_data_from_numpy(np.ones((2, 8), np.float32))
    client.infer("lif", ins, sequence_id=99, sequence_start=True)
    client.infer("lif", ins, sequence_id=99)  # alive
    time.sleep(0.8)  # max_sequence_idle_microseconds is 400 ms
    with pytest.raises(InferenceServerException) as gone:
        client.infer("lif", ins, sequence_id=99)
    assert "START" in gone.value.message()
    with pytest.raises(InferenceServerException) as no_id:
        client.infer("lif", ins)
    assert "sequence_id" in no_id.value.message()


def test_lstm_sequences_equal_one_straight_run(server, models):
    """Chunks of an LSTM sequence, with h and c carried by the server, equal the whole sequence
    run at once; two sequences run on the model's two instances side by side."""
    import onnxruntime as ort
    sess = ort.InferenceSession(str(models / "stateful" / "lstm.onnx"), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(8)
    xs = [rng.normal(size=(9, 1, 4)).astype(np.float32) for _ in range(4)]

    def stream(i):
        client = httpclient.InferenceServerClient(server.http_url)
        ys = []
        for k, chunk in enumerate(np.split(xs[i], 3)):
            ins = [httpclient.InferInput("x", list(chunk.shape), "FP32")]
            ins[0].set_data_from_numpy(chunk)
            ys.append(client.infer("lstm", ins, sequence_id=1000 + i, sequence_start=k == 0,
                                   sequence_end=k == 2).as_numpy("y"))
        return np.concatenate(ys)

    zeros = np.zeros((1, 1, 8), np.float32)
    for i, got in enumerate(concurrently(4, stream)):
        want = sess.run(["y"], {"x": xs[i], "h0": zeros, "c0": zeros})[0]
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_sequences_share_executions_and_keep_their_own_state(server, models):
    """Six sequences on one instance of a batch-first GRU (about 6 ms an execution): requests of
    different sequences that queue meanwhile run stacked in one execution, and every sequence
    still gets exactly what a straight run of its own steps gives, over HTTP and gRPC."""
    import onnxruntime as ort
    sess = ort.InferenceSession(str(models / "stateful" / "gru_batch.onnx"), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(21)
    steps, n = 8, 6
    xs = rng.normal(size=(n, steps, 1, 4)).astype(np.float32)
    before = batch_sizes(httpclient.InferenceServerClient(server.http_url)
                         .get_inference_statistics("gru_batch")["model_stats"][0])

    def stream(i):
        lib = httpclient if i % 2 else grpcclient
        client = lib.InferenceServerClient(server.http_url if i % 2 else server.grpc_url)
        ys = []
        for k in range(steps):
            ins = [lib.InferInput("x", [1, 4], "FP32")]
            ins[0].set_data_from_numpy(xs[i, k])
            ys.append(client.infer("gru_batch", ins, sequence_id=f"gru-{i}", sequence_start=k == 0,
                                   sequence_end=k == steps - 1).as_numpy("y"))
        return np.concatenate(ys)

    for i, got in enumerate(concurrently(n, stream)):
        h = np.zeros((1, 8), np.float32)
        want = []
        for k in range(steps):
            y, h = sess.run(None, {"x": xs[i, k], "h": h})
            want.append(y)
        np.testing.assert_allclose(got, np.concatenate(want), atol=1e-5, err_msg=f"sequence {i}")
    after = batch_sizes(httpclient.InferenceServerClient(server.http_url)
                        .get_inference_statistics("gru_batch")["model_stats"][0])
    cell = {b: after[b] - before.get(b, 0) for b in after if after[b] > before.get(b, 0)}
    assert sum(b * count for b, count in cell.items()) == n * steps, cell
    assert max(cell) > 1, f"no execution stacked two sequences: {cell}"
    assert max(cell) <= 8, cell


def test_silero_vad_streams_with_only_a_sequence_id(server, models):
    """The real Silero VAD: 512-sample chunks with only a sequence id give the probabilities of
    vad.py's straight local run over the whole clip (reference_onnx_probs.npy)."""
    clip = np.load(models / "silero_vad" / "speech_16k.npy")
    want = np.load(models / "silero_vad" / "reference_onnx_probs.npy").reshape(-1)
    client = grpcclient.InferenceServerClient(server.grpc_url)
    got = {"a": [], "b": []}
    for k in range(len(want)):
        for seq in got:  # two copies of the clip, interleaved
            ins = [grpcclient.InferInput("chunk", [1, 512], "FP32")]
            ins[0].set_data_from_numpy(np.ascontiguousarray(clip[None, k * 512:(k + 1) * 512]))
            r = client.infer("silero_stream", ins, sequence_id=f"mic-{seq}", sequence_start=k == 0,
                             sequence_end=k == len(want) - 1)
            got[seq].append(float(r.as_numpy("output").reshape(-1)[0]))
    for seq in got:
        np.testing.assert_allclose(np.array(got[seq]), want, atol=1e-4)
    assert (np.array(got["a"]) > 0.5).sum() > 50  # speech was found


def test_statistics_and_metrics_show_batches(server):
    import urllib.request
    text = urllib.request.urlopen(f"http://{server.metrics_url}/metrics").read().decode()
    lines = [l for l in text.splitlines() if l.startswith('polaris_batch_executions_total{')
             and 'model="preferred"' in l]
    assert any('batch_size="4"' in l and l.endswith(" 2") for l in lines), lines
    assert 'polaris_instances{model="two_instances",version="1"} 2' in text


def test_adaptive_batching_batches_concurrent_requests(server):
    """polaris.latency_target_ms alone turns batching on: with MobileNetV2 busy, concurrent
    clients' requests gather and share executions, each answer equals that image's unbatched
    result, and no request comes near the 2 s target."""
    rng = np.random.default_rng(12)
    images = [rng.random((1, 3, 224, 224), dtype=np.float32) for _ in range(6)]

    def infer(client, image):
        ins = [httpclient.InferInput("input", [1, 3, 224, 224], "FP32")]
        ins[0].set_data_from_numpy(image, binary_data=True)
        return client.infer("adaptive", ins).as_numpy("output")

    single = httpclient.InferenceServerClient(server.http_url)
    alone = [infer(single, image) for image in images]  # one at a time: batches of 1

    def client_loop(i):
        client = httpclient.InferenceServerClient(server.http_url)
        worst = 0.0
        for k in range(4):
            start = time.monotonic()
            got = infer(client, images[(i + k) % 6])
            worst = max(worst, time.monotonic() - start)
            np.testing.assert_allclose(got, alone[(i + k) % 6], rtol=1e-4, atol=1e-4)
        return worst
    worst = max(concurrently(6, client_loop))
    st = stats(single, "adaptive")
    assert st["inference_stats"]["success"]["count"] == 30
    assert any(size > 1 for size in batch_sizes(st)), batch_sizes(st)
    assert worst < 2.0, f"slowest request {worst * 1000:.0f} ms"
