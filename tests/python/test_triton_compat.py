"""What Triton's own clients rely on (issue 17), with tritonclient HTTP, HTTP aio, gRPC and gRPC
aio against `polaris serve`: readiness of a not-yet-loaded model in lazy mode, compression of
infer replies only, model configs with their defaults printed, and the error wording Triton's
clients and tests match (runtime/triton_messages.h), one test per message."""
import asyncio
import gzip
import http.client
import json

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.grpc.aio as grpcaio
import tritonclient.http as httpclient
import tritonclient.http.aio as httpaio
from tritonclient.grpc import service_pb2
from tritonclient.utils import InferenceServerException

from conftest import ServerProcess, simple_tensors

SIMPLE = simple_tensors()


def repository(root, models):
    repo = root / "repo"
    (repo / "simple" / "1").mkdir(parents=True)
    (repo / "simple" / "1" / "model.onnx").symlink_to(models / "tiny" / "simple.onnx")
    (repo / "simple" / "config.pbtxt").write_text("max_batch_size: 8\n" + SIMPLE)
    (repo / "fixed" / "1").mkdir(parents=True)
    (repo / "fixed" / "1" / "model.onnx").symlink_to(models / "tiny" / "simple.onnx")
    (repo / "fixed" / "config.pbtxt").write_text("max_batch_size: 0\n" + SIMPLE.replace("[16]", "[1, 16]"))
    (repo / "broken" / "1").mkdir(parents=True)
    (repo / "broken" / "1" / "model.onnx").write_bytes(b"not an onnx model")
    return repo


@pytest.fixture(scope="module")
def server(polaris_bin, models, tmp_path_factory):
    srv = ServerProcess(polaris_bin, repository(tmp_path_factory.mktemp("compat"), models))
    yield srv
    assert srv.stop() == 0, srv.output()


def simple_inputs(lib, rows=1):
    a = np.arange(16 * rows, dtype=np.int32).reshape(rows, 16)
    ins = [lib.InferInput("INPUT0", [rows, 16], "INT32"), lib.InferInput("INPUT1", [rows, 16], "INT32")]
    ins[0].set_data_from_numpy(a)
    ins[1].set_data_from_numpy(a)
    return ins


# ---------------------------------------------------------------- readiness in lazy mode

def test_a_listed_model_is_ready_in_lazy_mode_before_its_first_request(polaris_bin, models, tmp_path):
    """A client that waits for readiness before its first request (Triton's examples do) is
    not kept waiting: the check loads the model, as its first request would."""
    server = ServerProcess(polaris_bin, repository(tmp_path, models))
    try:
        http = httpclient.InferenceServerClient(server.http_url)
        assert "UNAVAILABLE" in json.dumps(http.get_model_repository_index())
        assert http.is_model_ready("simple")
        assert grpcclient.InferenceServerClient(server.grpc_url).is_model_ready("fixed", model_version="1")

        async def aio():
            async with httpaio.InferenceServerClient(server.http_url) as h:
                ready_http = await h.is_model_ready("simple")
            g = grpcaio.InferenceServerClient(server.grpc_url)
            try:
                return ready_http, await g.is_model_ready("simple")
            finally:
                await g.close()
        assert asyncio.run(aio()) == (True, True)
        # A model that cannot load is not ready; an unknown one neither (gRPC) or 404 (HTTP).
        assert not http.is_model_ready("broken")
        assert not grpcclient.InferenceServerClient(server.grpc_url).is_model_ready("no_such_model")
    finally:
        assert server.stop() == 0, server.output()


@pytest.mark.parametrize("flags", [("--no-autoload",), ("--model-control-mode", "explicit")])
def test_without_autoload_a_ready_check_loads_nothing(polaris_bin, models, tmp_path, flags):
    server = ServerProcess(polaris_bin, repository(tmp_path, models), *flags)
    try:
        assert not httpclient.InferenceServerClient(server.http_url).is_model_ready("simple")
        assert not grpcclient.InferenceServerClient(server.grpc_url).is_model_ready("simple")
        assert "loading model 'simple'" not in server.output()
    finally:
        assert server.stop() == 0, server.output()


# ---------------------------------------------------------------- compression

def raw_get(server, method, path, body=None, headers=None):
    host, port = server.http_url.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    return r.status, dict(r.getheaders()), r.read()


def test_only_infer_replies_are_compressed(server):
    gz = {"Accept-Encoding": "gzip"}
    for path in ("/v2/models/simple", "/v2/models/simple/config", "/v2/models/simple/stats", "/v2"):
        status, headers, _ = raw_get(server, "GET", path, headers=gz)
        assert status == 200 and "Content-Encoding" not in headers, (path, headers)
    body = json.dumps({"inputs": [{"name": n, "datatype": "INT32", "shape": [1, 16], "data": list(range(16))}
                                  for n in ("INPUT0", "INPUT1")]}).encode()
    status, headers, payload = raw_get(server, "POST", "/v2/models/simple/infer", body, gz)
    assert status == 200 and headers.get("Content-Encoding") == "gzip"
    assert json.loads(gzip.decompress(payload))["outputs"][0]["data"] == [2 * i for i in range(16)]
    # An infer's error answer is not compressed either (Triton's example aio client reads it).
    status, headers, payload = raw_get(server, "POST", "/v2/models/no_such_model/infer", body, gz)
    assert status == 404 and "Content-Encoding" not in headers
    assert "Request for unknown model: 'no_such_model' is not found" in json.loads(payload)["error"]


def test_the_aiohttp_client_reads_every_reply(server):
    async def run():
        async with httpaio.InferenceServerClient(server.http_url) as client:
            meta = await client.get_model_metadata("simple")
            config = await client.get_model_config("simple")
            stats = await client.get_inference_statistics("simple")
            result = await client.infer("simple", simple_inputs(httpaio))
            return meta, config, stats, result.as_numpy("OUTPUT0")
    meta, config, stats, out = asyncio.run(run())
    assert meta["name"] == "simple" and config["max_batch_size"] == 8 and "model_stats" in stats
    np.testing.assert_array_equal(out, 2 * np.arange(16, dtype=np.int32)[None])


# ---------------------------------------------------------------- config defaults

def test_model_config_prints_fields_at_their_defaults(server):
    config = httpclient.InferenceServerClient(server.http_url).get_model_config("fixed")
    assert config["max_batch_size"] == 0  # image_client.py reads it unconditionally
    assert config["input"][0]["is_shape_tensor"] is False
    # gRPC carries protobuf: a default is the field's zero, as Triton sends it.
    assert grpcclient.InferenceServerClient(server.grpc_url).get_model_config("fixed").config.max_batch_size == 0


# ---------------------------------------------------------------- Triton's words

def both(server):
    return [("http", httpclient.InferenceServerClient(server.http_url)),
            ("grpc", grpcclient.InferenceServerClient(server.grpc_url))]


def test_unknown_model_message(server):
    for protocol, client in both(server):
        for call in (lambda: client.get_model_metadata("foo"),
                     lambda: client.infer("foo", simple_inputs(httpclient if protocol == "http" else grpcclient))):
            with pytest.raises(InferenceServerException) as e:
                call()
            assert e.value.message().startswith("Request for unknown model: 'foo' is not found"), (protocol, e.value)


def test_unknown_version_message(server):
    for protocol, client in both(server):
        with pytest.raises(InferenceServerException) as e:
            client.get_model_metadata("simple", model_version="99")
        assert e.value.message().startswith("Request for unknown model: 'simple' version 99 is not found"), e.value


def test_bad_version_string_message(server):
    for protocol, client in both(server):
        with pytest.raises(InferenceServerException) as e:
            client.get_model_metadata("simple", model_version="x1")
        assert "failed to get model version from specified version string 'x1'" in e.value.message(), e.value


def test_load_failure_message(server):
    for protocol, client in both(server):
        with pytest.raises(InferenceServerException) as e:
            client.infer("broken", simple_inputs(httpclient if protocol == "http" else grpcclient))
        assert "failed to load 'broken'" in e.value.message(), (protocol, e.value)


def test_contents_and_raw_contents_message(server):
    request = service_pb2.ModelInferRequest(model_name="simple", raw_input_contents=[bytes(64), bytes(64)])
    request.inputs.add(name="INPUT0", datatype="INT32", shape=[1, 16]).contents.int_contents.extend(range(16))
    request.inputs.add(name="INPUT1", datatype="INT32", shape=[1, 16])
    import grpc
    from tritonclient.grpc import service_pb2_grpc
    with grpc.insecure_channel(server.grpc_url) as channel:
        with pytest.raises(grpc.RpcError) as e:
            service_pb2_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert ("contents field must not be specified when using raw_input_contents for 'INPUT0' for model 'simple'"
            in e.value.details()), e.value.details()
