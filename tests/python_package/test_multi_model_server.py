"""MultiModelServer: the runtime's model manager from Python (eviction, reload, batching)."""
import threading

import numpy as np
import pytest

import polaris


def test_load_predict_stats_and_unload(models):
    server = polaris.MultiModelServer(max_models=5, memory_limit_mb=2000)
    m = server.load_model("lite", models / "efficientnet_lite0" / "efficientnet_lite0.onnx")
    assert m.input_shapes[0][1:] == [3, 224, 224]
    x = np.load(models / "efficientnet_lite0" / "samples" / "flower.npy")
    logits = server.predict("lite", x)["logits"]
    assert int(logits.argmax()) == 985  # daisy, the real model on the sample photo
    assert "lite" in server and server.list_models() == ["lite"]
    stats = server.get_stats()["models"]["lite"]
    assert stats["state"] == "READY" and stats["inference_count"] == 1 and stats["resident_bytes"] > 0
    server.unload_model("lite")
    assert server.list_models() == []
    with pytest.raises(KeyError, match="lite"):
        server.predict("lite", x)


def test_the_least_recently_used_model_is_evicted_and_loads_again_on_use(models):
    server = polaris.MultiModelServer(max_models=1, memory_limit_mb=2000)
    server.load_model("identity", models / "tiny" / "identity.onnx")
    server.load_model("negate", models / "tiny" / "negate.onnx")  # evicts identity
    stats = server.get_stats()
    assert stats["models"]["identity"]["state"] == "UNAVAILABLE"
    assert "evicted" in stats["models"]["identity"]["reason"]
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    assert np.array_equal(server.predict("identity", x)["output"], x)  # loaded again
    assert np.array_equal(server.predict("negate", x)["output"], -x)
    stats = server.get_stats()
    assert stats["models"]["identity"]["loads"] == 2 and stats["counters"]["evictions"] >= 2


def test_errors_are_exceptions(models, tmp_path):
    server = polaris.MultiModelServer(max_models=2, memory_limit_mb=1000)
    with pytest.raises(FileNotFoundError):
        server.load_model("missing", tmp_path / "missing.onnx")
    with pytest.raises(KeyError, match="nobody"):
        server.predict("nobody", np.zeros(4, np.float32))
    with pytest.raises(KeyError, match="nobody"):
        server.unload_model("nobody")
    with pytest.raises(ValueError, match="config"):
        server.load_model("bad", models / "tiny" / "identity.onnx", config="max_batch_size: [")
    server.load_model("identity", models / "tiny" / "identity.onnx")
    with pytest.raises(ValueError, match="input"):
        server.predict("identity", np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError):
        polaris.MultiModelServer(max_models=-1)


def test_concurrent_predicts_are_batched_together_with_the_gil_released(models):
    # The batcher holds the first request until a second arrives (preferred batch 2, a
    # minute's delay). Both finish in one batch only if the first thread let go of the GIL
    # while it waited in C++: with the GIL held, the second could not even be sent.
    server = polaris.MultiModelServer(max_models=2, memory_limit_mb=1000)
    server.load_model("add", models / "tiny" / "add.onnx", config="""
        max_batch_size: 8
        dynamic_batching { preferred_batch_size: [2] max_queue_delay_microseconds: 60000000 }""")
    rows = {i: np.full((1, 16), i, np.float32) for i in (1, 2)}
    answers = {}

    def predict(i):
        answers[i] = server.predict("add", {"a": rows[i], "b": rows[i]})["sum"]

    threads = [threading.Thread(target=predict, args=(i,)) for i in rows]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=50)  # shorter than the batcher's delay: a lone request would still wait
    assert not any(t.is_alive() for t in threads), "the requests were not batched together"
    for i in rows:
        assert np.array_equal(answers[i], 2 * rows[i])  # each its own rows back
    stats = server.get_stats()["models"]["add"]
    assert stats["inference_count"] == 2 and stats["execution_count"] == 1
