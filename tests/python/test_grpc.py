"""The KServe v2 gRPC API with Triton's own client (tritonclient.grpc, sync and
aio) against a real `polaris serve`; expected outputs are computed here with
numpy or read from the generated models' vectors (computed without any engine)."""
import asyncio
import json
import queue

import grpc
import ml_dtypes
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.grpc.aio as aiogrpcclient
from tritonclient.grpc import model_config_pb2, service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException


@pytest.fixture(scope="module")
def client(polaris_server):
    with grpcclient.InferenceServerClient(polaris_server.grpc_url) as c:
        yield c


@pytest.fixture(scope="module")
def stub(polaris_server):
    """The generated stub, for requests tritonclient cannot phrase."""
    with grpc.insecure_channel(polaris_server.grpc_url) as channel:
        yield service_pb2_grpc.GRPCInferenceServiceStub(channel)


def vector(models, name):
    return np.load(models / "tiny" / "vectors" / f"{name}.npy", allow_pickle=True)


def make_inputs(*arrays):
    """[(name, array, datatype)] as InferInputs with their data."""
    inputs = []
    for name, array, datatype in arrays:
        i = grpcclient.InferInput(name, list(array.shape), datatype)
        i.set_data_from_numpy(array)
        inputs.append(i)
    return inputs


def add_inputs(seed=0, batch=2):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((batch, 16), dtype=np.float32)
    b = rng.standard_normal((batch, 16), dtype=np.float32)
    return a, b, make_inputs(("a", a, "FP32"), ("b", b, "FP32"))


def test_server_health_and_metadata(client):
    assert client.is_server_live()
    assert client.is_server_ready()
    meta = client.get_server_metadata()
    assert meta.name == "polaris" and meta.version
    for extension in ("statistics", "model_repository", "classification", "model_configuration"):
        assert extension in meta.extensions


def test_model_metadata_has_the_batch_dim_first(client):
    meta = client.get_model_metadata("add")
    assert (meta.name, meta.platform, list(meta.versions)) == ("add", "onnxruntime_onnx", ["1"])
    assert [(t.name, t.datatype, list(t.shape)) for t in meta.inputs] == [("a", "FP32", [-1, 16]),
                                                                           ("b", "FP32", [-1, 16])]
    assert [(t.name, t.datatype, list(t.shape)) for t in meta.outputs] == [("sum", "FP32", [-1, 16])]
    lite = client.get_model_metadata("efficientnet_lite0", as_json=True)
    assert lite["inputs"] == [{"name": "input", "datatype": "FP32", "shape": ["-1", "3", "224", "224"]}]
    assert client.get_model_metadata("digits").platform == "pytorch_libtorch"


def test_model_config_is_the_completed_config(client):
    config = client.get_model_config("efficientnet_lite0").config
    assert config.name == "efficientnet_lite0" and config.max_batch_size == 8
    assert [(i.name, i.data_type, list(i.dims)) for i in config.input] == [
        ("input", model_config_pb2.TYPE_FP32, [3, 224, 224])]
    assert config.output[0].label_filename == "labels.txt"
    as_json = client.get_model_config("add", as_json=True)["config"]
    assert as_json["name"] == "add" and {i["name"] for i in as_json["input"]} == {"a", "b"}


def test_add_matches_numpy_and_echoes_the_id(client):
    a, b, inputs = add_inputs(seed=1, batch=3)
    result = client.infer("add", inputs, request_id="req-7")
    np.testing.assert_allclose(result.as_numpy("sum"), a + b, rtol=1e-6)
    response = result.get_response()
    assert (response.model_name, response.model_version, response.id) == ("add", "1", "req-7")
    assert [(o.name, o.datatype, list(o.shape)) for o in response.outputs] == [("sum", "FP32", [3, 16])]
    assert len(response.raw_output_contents) == 1  # raw, one entry per output
    for algorithm in ("gzip", "deflate"):
        compressed = client.infer("add", inputs, compression_algorithm=algorithm)
        np.testing.assert_allclose(compressed.as_numpy("sum"), a + b, rtol=1e-6)


def test_simple_model_and_a_requested_output_subset(client):
    x = np.arange(16, dtype=np.int32).reshape(1, 16)
    y = np.full((1, 16), 3, dtype=np.int32)
    inputs = make_inputs(("INPUT0", x, "INT32"), ("INPUT1", y, "INT32"))
    both = client.infer("simple", inputs)
    np.testing.assert_array_equal(both.as_numpy("OUTPUT0"), x + y)
    np.testing.assert_array_equal(both.as_numpy("OUTPUT1"), x - y)
    only = client.infer("simple", inputs, outputs=[grpcclient.InferRequestedOutput("OUTPUT1")])
    assert [o.name for o in only.get_response().outputs] == ["OUTPUT1"]
    assert only.as_numpy("OUTPUT0") is None
    np.testing.assert_array_equal(only.as_numpy("OUTPUT1"), x - y)


@pytest.mark.parametrize("datatype, np_type", [
    ("BOOL", bool), ("UINT8", np.uint8), ("UINT16", np.uint16), ("UINT32", np.uint32), ("UINT64", np.uint64),
    ("INT8", np.int8), ("INT16", np.int16), ("INT32", np.int32), ("INT64", np.int64), ("FP16", np.float16),
    ("FP32", np.float32), ("FP64", np.float64)])
def test_every_dtype_round_trips(client, models, datatype, np_type):
    name = f"dtype_{datatype.lower()}"
    x = vector(models, f"{name}.input").astype(np_type)
    result = client.infer(name, make_inputs(("input", x, datatype)))
    out = result.as_numpy("output")
    assert out.dtype == np.dtype(np_type)
    np.testing.assert_array_equal(out, vector(models, f"{name}.output").astype(np_type))


def test_bf16_round_trips_bit_exact(client, models):
    bits = vector(models, "dtype_bf16.input")  # the vectors hold BF16 as raw uint16 bits
    result = client.infer("dtype_bf16", make_inputs(("input", bits.view(ml_dtypes.bfloat16), "BF16")))
    np.testing.assert_array_equal(result.as_numpy("output").view(np.uint16), vector(models, "dtype_bf16.output"))


def test_bytes_tensors(client, models):
    x = vector(models, "strings_identity.input").astype(np.object_)
    out = client.infer("strings_identity", make_inputs(("input", x, "BYTES"))).as_numpy("output")
    assert out.shape == x.shape
    assert out.tolist() == vector(models, "strings_identity.output").tolist()


def test_multiple_inputs_and_outputs_of_several_types(client, models):
    a, b = vector(models, "multi_io.a"), vector(models, "multi_io.b")
    result = client.infer("multi_io", make_inputs(("a", a, "FP32"), ("b", b, "INT32")))
    for output, datatype in (("sum", "FP32"), ("b_doubled", "INT64"), ("a_positive", "BOOL")):
        np.testing.assert_allclose(result.as_numpy(output), vector(models, f"multi_io.{output}"), rtol=1e-6)
        assert result.get_output(output).datatype == datatype
    np.testing.assert_array_equal(result.as_numpy("a_positive"), a > 0)


def test_torchscript_model_over_grpc(client):
    a, b, inputs = add_inputs(seed=3, batch=1)
    np.testing.assert_allclose(client.infer("add_pt", inputs).as_numpy("output__0"), a + b, rtol=1e-6)


def test_classification_extension_names_the_daisy(client, models):
    flower = np.load(models / "efficientnet_lite0" / "samples" / "flower.npy")
    result = client.infer("efficientnet_lite0", make_inputs(("input", flower, "FP32")),
                          outputs=[grpcclient.InferRequestedOutput("logits", class_count=3)])
    top = result.as_numpy("logits")
    assert top.shape == (1, 3)
    score, index, label = top[0][0].decode().split(":", 2)
    assert (int(index), label) == (985, "daisy") and float(score) > 0
    expected = json.loads((models / "efficientnet_lite0" / "samples" / "expected_top5.json").read_text())["flower"]
    assert [int(entry.decode().split(":")[1]) for entry in top[0]] == [row[0] for row in expected[:3]]


def test_statistics_grow_with_requests(client):
    def stats():
        (entry,) = client.get_inference_statistics("negate").model_stats
        return entry

    x = np.ones((1, 4), dtype=np.float32)
    client.infer("negate", make_inputs(("input", x, "FP32")))  # loaded, so stats exist
    before = stats()
    for _ in range(3):
        client.infer("negate", make_inputs(("input", x, "FP32")))
    after = stats()
    assert (after.name, after.version) == ("negate", "1")
    assert after.inference_stats.success.count == before.inference_stats.success.count + 3
    # perf_analyzer gives up when queue.count does not grow.
    assert after.inference_stats.queue.count == before.inference_stats.queue.count + 3
    assert after.inference_count == before.inference_count + 3
    assert after.execution_count >= before.execution_count + 3
    assert after.inference_stats.compute_infer.ns > before.inference_stats.compute_infer.ns
    assert after.last_inference >= before.last_inference > 0
    assert any(b.batch_size == 1 for b in after.batch_stats)
    every = client.get_inference_statistics().model_stats
    assert any(s.name == "negate" for s in every)
    with pytest.raises(InferenceServerException):
        client.get_inference_statistics("negate", model_version="9")


def test_repository_index_load_and_unload(client, stub):
    x = np.ones((2, 3), dtype=np.float32)
    client.infer("dynamic_batch", make_inputs(("input", x, "FP32")))
    index = {(m.name, m.version): m for m in client.get_model_repository_index().models}
    assert index[("dynamic_batch", "1")].state == "READY"
    assert ("digits", "1") in index and ("efficientnet_lite0", "1") in index

    client.unload_model("dynamic_batch")
    rows = {m.name: m for m in client.get_model_repository_index().models}
    assert rows["dynamic_batch"].state == "UNAVAILABLE"
    ready_only = stub.RepositoryIndex(service_pb2.RepositoryIndexRequest(ready=True)).models
    assert all(m.state == "READY" for m in ready_only)
    assert "dynamic_batch" not in {m.name for m in ready_only}
    # Lazy mode serves every listed model: a readiness check loads it again (docs/server.md).
    assert client.is_model_ready("dynamic_batch")
    client.unload_model("dynamic_batch")

    client.load_model("dynamic_batch")
    assert client.is_model_ready("dynamic_batch")
    assert client.is_model_ready("dynamic_batch", model_version="1")
    assert not client.is_model_ready("no_such_model")  # Triton: not ready rather than an error


def test_errors_carry_grpc_codes_and_messages(client):
    _, _, inputs = add_inputs()
    with pytest.raises(InferenceServerException) as unknown:
        client.infer("no_such_model", inputs)
    assert unknown.value.status() == "StatusCode.NOT_FOUND"
    assert "no_such_model" in unknown.value.message()

    wrong = make_inputs(("a", np.ones((1, 8), np.float32), "FP32"), ("b", np.ones((1, 8), np.float32), "FP32"))
    with pytest.raises(InferenceServerException) as shape:
        client.infer("add", wrong)
    assert shape.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert "'a'" in shape.value.message() and "[1,8]" in shape.value.message()

    with pytest.raises(InferenceServerException) as dtype:
        client.infer("add", make_inputs(("a", np.ones((1, 16), np.float64), "FP64"),
                                        ("b", np.ones((1, 16), np.float32), "FP32")))
    assert dtype.value.status() == "StatusCode.INVALID_ARGUMENT" and "'a'" in dtype.value.message()

    with pytest.raises(InferenceServerException) as missing:
        client.infer("add", inputs[:1])
    assert missing.value.status() == "StatusCode.INVALID_ARGUMENT" and "'b'" in missing.value.message()

    with pytest.raises(InferenceServerException) as metadata:
        client.get_model_metadata("no_such_model")
    assert metadata.value.status() == "StatusCode.NOT_FOUND"

    with pytest.raises(InferenceServerException) as unknown_output:
        client.infer("add", inputs, outputs=[grpcclient.InferRequestedOutput("nope")])
    assert unknown_output.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert "nope" in unknown_output.value.message()
    assert client.is_server_live()  # and the server keeps serving


def test_typed_contents_and_bool_checks_through_the_stub(stub):
    """tritonclient always sends raw contents; other clients send typed ones."""
    request = service_pb2.ModelInferRequest(model_name="add")
    for name, start in (("a", 0.0), ("b", 100.0)):
        tensor = request.inputs.add(name=name, datatype="FP32", shape=[1, 16])
        tensor.contents.fp32_contents.extend(np.arange(16, dtype=np.float32) + start)
    response = stub.ModelInfer(request)
    out = np.frombuffer(response.raw_output_contents[0], dtype=np.float32)
    np.testing.assert_array_equal(out, 2 * np.arange(16, dtype=np.float32) + 100)

    bad_bool = service_pb2.ModelInferRequest(model_name="dtype_bool", raw_input_contents=[bytes([1, 0, 2, 1])])
    bad_bool.inputs.add(name="input", datatype="BOOL", shape=[1, 4])
    with pytest.raises(grpc.RpcError) as error:
        stub.ModelInfer(bad_bool)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "neither 0 nor 1" in error.value.details()


def test_stream_answers_every_request_in_order(client):
    answers = queue.Queue()
    client.start_stream(callback=lambda result, error: answers.put((result, error)))
    try:
        expected = {}
        for i in range(6):
            a, b, inputs = add_inputs(seed=10 + i, batch=1)
            expected[str(i)] = a + b
            client.async_stream_infer("no_such_model" if i == 2 else "add", inputs, request_id=str(i))
        got = [answers.get(timeout=60) for _ in range(6)]
    finally:
        client.stop_stream()
    for i, (result, error) in enumerate(got):
        if i == 2:
            assert result is None and "no_such_model" in error.message()
            continue
        assert error is None
        assert result.get_response().id == str(i)
        np.testing.assert_allclose(result.as_numpy("sum"), expected[str(i)], rtol=1e-6)


def test_async_client_unary_and_stream(polaris_server):
    async def scenario():
        async with aiogrpcclient.InferenceServerClient(polaris_server.grpc_url) as client:
            assert await client.is_server_live()
            assert "statistics" in (await client.get_server_metadata()).extensions
            a, b, inputs = add_inputs(seed=20)
            many = await asyncio.gather(*[client.infer("add", inputs, request_id=str(i)) for i in range(8)])
            for i, result in enumerate(many):
                assert result.get_response().id == str(i)
                np.testing.assert_allclose(result.as_numpy("sum"), a + b, rtol=1e-6)

            async def requests():
                for i in range(4):
                    yield {"model_name": "add", "inputs": inputs, "request_id": f"s{i}"}

            ids = []
            async for result, error in client.stream_infer(requests()):
                assert error is None
                np.testing.assert_allclose(result.as_numpy("sum"), a + b, rtol=1e-6)
                ids.append(result.get_response().id)
                if len(ids) == 4:
                    break
            assert ids == ["s0", "s1", "s2", "s3"]

    asyncio.run(scenario())
