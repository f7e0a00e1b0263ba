"""Polaris as a KServe ModelMesh serving runtime (`polaris serve --modelmesh true`).

A gRPC client plays ModelMesh's side of mmesh.ModelRuntime (proto/model_runtime.proto, compiled
here by protoc into a descriptor set: no generated code), on the same port as the KServe v2
inference service that ModelMesh forwards requests to: runtimeStatus, predictModelSize,
loadModel, inference by the model id, modelSize, unloadModel; a cancelled load followed by
its unload; concurrent loads under a full budget; bad requests. Sizes are checked against the
server's own budget and memory metrics, on real ONNX and TorchScript models.
"""
import os
import pathlib
import subprocess
import threading

import grpc
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from tritonclient.utils import InferenceServerException

from conftest import ROOT, ServerProcess, compiled_protos, wait_until
from gate import Gate

PROTO = ROOT / "proto" / "model_runtime.proto"
MIB = 1 << 20


# ---------------------------------------------------------------- the client ModelMesh is

@pytest.fixture(scope="module")
def mmesh(tmp_path_factory):
    """Message classes of package mmesh, by name, from protoc's descriptor set."""
    files = compiled_protos(PROTO, tmp_path_factory.mktemp("mmesh"))
    pool = descriptor_pool.DescriptorPool()
    for f in files.file:
        pool.Add(f)
    return lambda name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"mmesh.{name}"))


class ModelMesh:
    """ModelMesh's calls to one runtime: each method sends one mmesh.ModelRuntime RPC."""

    def __init__(self, url, mmesh):
        self.channel = grpc.insecure_channel(url)
        self.mmesh = mmesh

    def call(self, method, request_type, response_type, **fields):
        stub = self.channel.unary_unary(f"/mmesh.ModelRuntime/{method}",
                                        request_serializer=lambda m: m.SerializeToString(),
                                        response_deserializer=self.mmesh(response_type).FromString)
        return stub, self.mmesh(request_type)(**fields)

    def runtime_status(self):
        stub, request = self.call("runtimeStatus", "RuntimeStatusRequest", "RuntimeStatusResponse")
        return stub(request, timeout=120)

    def predict_size(self, model_id, path, model_type="", key=""):
        stub, request = self.call("predictModelSize", "PredictModelSizeRequest", "PredictModelSizeResponse",
                                  modelId=model_id, modelType=model_type, modelPath=str(path), modelKey=key)
        return stub(request, timeout=60).sizeInBytes

    def load(self, model_id, path, model_type="", key="", future=False):
        stub, request = self.call("loadModel", "LoadModelRequest", "LoadModelResponse",
                                  modelId=model_id, modelType=model_type, modelPath=str(path), modelKey=key)
        return stub.future(request, timeout=180) if future else stub(request, timeout=180)

    def model_size(self, model_id):
        stub, request = self.call("modelSize", "ModelSizeRequest", "ModelSizeResponse", modelId=model_id)
        return stub(request, timeout=60).sizeInBytes

    def unload(self, model_id):
        stub, request = self.call("unloadModel", "UnloadModelRequest", "UnloadModelResponse", modelId=model_id)
        return stub(request, timeout=180)


def grpc_code(call, *args):
    """The status code a call fails with (OK when it does not fail)."""
    try:
        call(*args)
    except grpc.RpcError as e:
        return e.code(), e.details()
    return grpc.StatusCode.OK, ""


def cpu_metric(server, name):
    return server.metric(name + '{device="cpu"}')


def infer_zeros(server, model_id):
    """One inference through the KServe v2 service, the model named by ModelMesh's id; the
    outputs by name. Inputs are zeros shaped from the model's metadata (dynamic dims 1)."""
    client = grpcclient.InferenceServerClient(server.grpc_url)
    metadata = client.get_model_metadata(model_id, as_json=True)
    inputs = []
    for spec in metadata["inputs"]:
        shape = [1 if int(d) < 0 else int(d) for d in spec["shape"]]
        data = np.zeros(shape, dtype=grpcclient.triton_to_np_dtype(spec["datatype"]))
        tensor = grpcclient.InferInput(spec["name"], shape, spec["datatype"])
        tensor.set_data_from_numpy(data)
        inputs.append(tensor)
    result = client.infer(model_id, inputs)
    return {o["name"]: result.as_numpy(o["name"]) for o in metadata["outputs"]}


# ---------------------------------------------------------------- servers and model files

@pytest.fixture
def cache(tmp_path):
    """A private cache root, so earlier runs' measurements do not decide the predictions."""
    (tmp_path / "cache").mkdir()
    return {"XDG_CACHE_HOME": str(tmp_path / "cache")}


def mesh_server(polaris_bin, tmp_path, cache, *extra, repo=None):
    return ServerProcess(polaris_bin, repo, "--modelmesh", "true", *extra, env=cache, log_dir=tmp_path)


@pytest.fixture
def model_files(models, tmp_path):
    """The layouts a ModelMesh puller leaves: a bare file, a Triton model folder with
    config.pbtxt (ONNX), a version folder without config (TorchScript), one named file."""
    named = tmp_path / "named"
    named.mkdir()
    (named / "mobile.onnx").symlink_to(models / "vision" / "mobilenetv2.onnx")
    return {
        "onnx-file": (models / "vision" / "mobilenetv2.onnx", "onnx"),
        "onnx-triton-folder": (models / "default" / "efficientnet_lite0", "onnx"),
        "torchscript-folder": (models / "default" / "digits", "pytorch"),
        "named-file-folder": (named, ""),
    }


# ---------------------------------------------------------------- the wire, as the SPI fixes it

def test_proto_has_the_spis_names_and_numbers(mmesh):
    """The facts ModelMesh relies on (docs/deploy.md): package, methods, field names, numbers."""
    def fields(name):
        return {f.name: (f.number, f.type) for f in mmesh(name).DESCRIPTOR.fields}

    F = descriptor_pb2.FieldDescriptorProto
    model_ref = {"modelId": (1, F.TYPE_STRING), "modelType": (2, F.TYPE_STRING),
                 "modelPath": (3, F.TYPE_STRING), "modelKey": (4, F.TYPE_STRING)}
    assert fields("LoadModelRequest") == model_ref
    assert fields("PredictModelSizeRequest") == model_ref
    assert fields("LoadModelResponse") == {"sizeInBytes": (1, F.TYPE_UINT64), "maxConcurrency": (2, F.TYPE_UINT32)}
    assert fields("UnloadModelRequest") == fields("ModelSizeRequest") == {"modelId": (1, F.TYPE_STRING)}
    assert fields("PredictModelSizeResponse") == fields("ModelSizeResponse") == {"sizeInBytes": (1, F.TYPE_UINT64)}
    assert fields("RuntimeStatusResponse") == {
        "status": (1, F.TYPE_ENUM), "capacityInBytes": (2, F.TYPE_UINT64), "maxLoadingConcurrency": (3, F.TYPE_UINT32),
        "modelLoadingTimeoutMs": (4, F.TYPE_UINT32), "defaultModelSizeInBytes": (5, F.TYPE_UINT64),
        "runtimeVersion": (6, F.TYPE_STRING), "numericRuntimeVersion": (7, F.TYPE_UINT64),
        "methodInfos": (8, F.TYPE_MESSAGE), "limitModelConcurrency": (9, F.TYPE_BOOL),
        "allowAnyMethod": (10, F.TYPE_BOOL)}
    status = mmesh("RuntimeStatusResponse").DESCRIPTOR.fields_by_name["status"].enum_type
    assert {v.name: v.number for v in status.values} == {"STARTING": 0, "READY": 1, "FAILING": 2}
    service = mmesh("LoadModelRequest").DESCRIPTOR.file.services_by_name["ModelRuntime"]
    assert {m.name for m in service.methods} == {"loadModel", "unloadModel", "predictModelSize", "modelSize",
                                                 "runtimeStatus"}


# ---------------------------------------------------------------- ModelMesh's sequence

def test_modelmesh_sequence_on_onnx_and_torchscript(polaris_bin, tmp_path, cache, mmesh, model_files):
    # Started without --model-repository: ModelMesh brings every model.
    server = mesh_server(polaris_bin, tmp_path, cache, "--memory-limit", "400MiB")
    try:
        mesh = ModelMesh(server.grpc_url, mmesh)
        status = mesh.runtime_status()
        assert status.status == mmesh("RuntimeStatusResponse").READY
        assert status.capacityInBytes == 400 * MIB == cpu_metric(server, "polaris_memory_budget_bytes")
        assert status.maxLoadingConcurrency == 1  # Polaris loads one model at a time
        assert status.modelLoadingTimeoutMs > 0 and status.defaultModelSizeInBytes > 0
        assert status.runtimeVersion.startswith("polaris ")
        assert list(status.methodInfos["inference.GRPCInferenceService/ModelInfer"].idInjectionPath) == [1]
        assert not status.allowAnyMethod

        sizes = {}
        for model_id, (path, model_type) in model_files.items():
            predicted = mesh.predict_size(model_id, path, model_type)
            assert predicted > 0, model_id
            loaded = mesh.load(model_id, path, model_type)
            assert loaded.sizeInBytes > 0, model_id
            assert mesh.model_size(model_id) == loaded.sizeInBytes
            sizes[model_id] = loaded.sizeInBytes
            outputs = infer_zeros(server, model_id)
            assert outputs and all(np.isfinite(v).all() for v in outputs.values()), model_id
        # Each model's size is what the budget counts for it.
        assert cpu_metric(server, "polaris_memory_used_bytes") == sum(sizes.values())
        assert infer_zeros(server, "onnx-triton-folder")["logits"].shape == (1, 1000)
        # Measured once, predicted by that measurement from then on (the named-file folder links
        # the same file: its load, the later one, measured it last).
        path, model_type = model_files["onnx-file"]
        assert mesh.predict_size("again", path, model_type) == sizes["named-file-folder"]

        for model_id in model_files:
            mesh.unload(model_id)
            assert grpc_code(mesh.model_size, model_id)[0] == grpc.StatusCode.NOT_FOUND
            with pytest.raises(InferenceServerException) as refused:
                infer_zeros(server, model_id)
            assert "unknown model" in str(refused.value).lower() or "not found" in str(refused.value).lower()
        assert cpu_metric(server, "polaris_memory_used_bytes") == 0
        mesh.unload("onnx-file")  # not loaded: answers at once, no error

        # A restarted ModelMesh asks runtimeStatus first: what it loaded before goes.
        mesh.load("left-over", *model_files["torchscript-folder"])
        assert mesh.runtime_status().status == mmesh("RuntimeStatusResponse").READY
        assert grpc_code(mesh.model_size, "left-over")[0] == grpc.StatusCode.NOT_FOUND
        assert cpu_metric(server, "polaris_memory_used_bytes") == 0
    finally:
        assert server.stop() == 0, server.output()


def test_predicted_size_without_local_files(polaris_bin, tmp_path, cache, mmesh, models):
    """Before the puller has fetched a model, the size comes from ModelMesh's key
    (disk_size_bytes) through the engine's estimate; with nothing known, the default size."""
    server = mesh_server(polaris_bin, tmp_path, cache)
    try:
        mesh = ModelMesh(server.grpc_url, mmesh)
        local = models / "vision" / "mobilenetv2.onnx"
        from_file = mesh.predict_size("m", local, "onnx")
        key = '{"storage_key": "s3", "disk_size_bytes": %d}' % local.stat().st_size
        assert mesh.predict_size("m", "s3://bucket/mobilenetv2", "onnx", key) == from_file
        default = mesh.runtime_status().defaultModelSizeInBytes
        assert mesh.predict_size("m", "s3://bucket/unknown", "onnx") == default
        assert mesh.predict_size("m", "s3://bucket/unknown", "onnx", "not json") == default
    finally:
        assert server.stop() == 0, server.output()


# ---------------------------------------------------------------- a cancelled load

def write_gated_model_folder(folder, gate):
    """A Triton model folder whose load blocks in its warm-up until `gate` opens to 1."""
    gate.write_model(folder / "1" / "model.pt")
    (folder / "warmup").mkdir()
    (folder / "warmup" / "ticket").write_bytes(np.array([1.0], dtype=np.float32).tobytes())
    (folder / "config.pbtxt").write_text(
        'platform: "pytorch_libtorch"\nmax_batch_size: 0\n'
        'input { name: "x" data_type: TYPE_FP32 dims: [1] }\n'
        'output { name: "output__0" data_type: TYPE_FP32 dims: [1] }\n'
        'model_warmup { name: "gated" batch_size: 1 inputs { key: "x" value { data_type: TYPE_FP32 dims: [1] '
        'input_data_file: "ticket" } } }\n')
    return folder


def test_cancelled_load_then_unload_leaves_nothing_loaded(polaris_bin, tmp_path, cache, mmesh):
    gate = Gate(tmp_path / "gate")
    folder = write_gated_model_folder(tmp_path / "gated", gate)
    server = mesh_server(polaris_bin, tmp_path, cache)
    try:
        mesh = ModelMesh(server.grpc_url, mmesh)
        mesh.runtime_status()
        loading = mesh.load("gated", folder, "pytorch", future=True)
        # The load is in its warm-up, held by the gate (an event, not a guess at its speed).
        wait_until(lambda: "loading model 'gated'" in server.output(), 60,
                   lambda: "the gated load to start:\n" + server.output())
        assert repository_state(server, "gated") == "LOADING"  # held by the closed gate
        assert loading.cancel()  # ModelMesh gives up on the load...
        unloaded = {}
        unloader = threading.Thread(target=lambda: unloaded.update(code=grpc_code(mesh.unload, "gated")))
        unloader.start()  # ...and unloads at once; the unload waits for the load to end
        assert repository_state(server, "gated") == "LOADING"
        gate.open_to(1)
        unloader.join(120)
        assert unloaded["code"][0] == grpc.StatusCode.OK, unloaded
        wait_until(lambda: "cancelled the load of 'gated'" in server.output() or
                   "ModelMesh unloaded 'gated'" in server.output(), 60, server.output)
        assert grpc_code(mesh.model_size, "gated")[0] == grpc.StatusCode.NOT_FOUND
        assert repository_state(server, "gated") is None  # not even listed
        assert cpu_metric(server, "polaris_memory_used_bytes") == 0
        assert 'polaris_model_ready{model="gated"' not in server_metrics(server)
        # The runtime serves on: the same model loads again, uncancelled.
        assert mesh.load("gated", folder, "pytorch").sizeInBytes > 0
        assert infer_zeros(server, "gated")["output__0"].tolist() == [0.0]
    finally:
        gate.open_to(255)
        assert server.stop() == 0, server.output()


def repository_state(server, name):
    import json
    import urllib.request
    request = urllib.request.Request(f"http://{server.http_url}/v2/repository/index", data=b"{}", method="POST")
    with urllib.request.urlopen(request, timeout=10) as r:
        return next((m.get("state") for m in json.load(r) if m["name"] == name), None)


def resident_models(server):
    return sum(1 for line in server_metrics(server).splitlines()
               if line.startswith("polaris_model_ready{") and line.endswith(" 1"))


def server_metrics(server):
    import urllib.request
    with urllib.request.urlopen(f"http://{server.metrics_url}/metrics", timeout=10) as r:
        return r.read().decode()


# ---------------------------------------------------------------- a full budget

def test_concurrent_loads_under_a_full_budget(polaris_bin, tmp_path, cache, mmesh, models):
    """Four copies of MobileNetV2 loaded at once into a budget of two and a half: every load
    answers, the budget is never exceeded (the least recently used idle copy is evicted), and
    every copy still answers its requests (an evicted one reloads)."""
    (tmp_path / "copies").mkdir()
    copies = []
    for i in range(4):
        link = tmp_path / "copies" / f"mobile{i}.onnx"
        link.symlink_to(models / "vision" / "mobilenetv2.onnx")  # one file: one measurement
        copies.append((f"mobile-{i}", link))
    # The size a load of this file measures here, kept in the cache for the next server.
    first = mesh_server(polaris_bin, tmp_path, cache)
    try:
        size = ModelMesh(first.grpc_url, mmesh).load("measure", copies[0][1], "onnx").sizeInBytes
    finally:
        assert first.stop() == 0, first.output()
    budget = size * 5 // 2
    server = mesh_server(polaris_bin, tmp_path, cache, "--memory-limit", str(budget))
    try:
        mesh = ModelMesh(server.grpc_url, mmesh)
        assert mesh.runtime_status().capacityInBytes == budget
        assert mesh.predict_size("x", copies[0][1], "onnx") == size
        loads = [mesh.load(model_id, path, "onnx", future=True) for model_id, path in copies]
        # Each load measures again: the process's memory moves by a few percent between loads.
        measured = [f.result().sizeInBytes for f in loads]
        assert all(abs(m - size) < size * 0.15 for m in measured), (measured, size)
        used = cpu_metric(server, "polaris_memory_used_bytes")
        assert used <= budget, (used, budget)
        assert resident_models(server) == 2  # two and a half fit: two, the others evicted
        assert server.metric("polaris_evictions_total") >= 2
        for model_id, _ in copies:  # evicted copies reload on their request, evicting others
            assert infer_zeros(server, model_id)
            assert cpu_metric(server, "polaris_memory_used_bytes") <= budget
            assert abs(mesh.model_size(model_id) - size) < size * 0.15
        for model_id, _ in copies:
            mesh.unload(model_id)
        assert cpu_metric(server, "polaris_memory_used_bytes") == 0
    finally:
        assert server.stop() == 0, server.output()


# ---------------------------------------------------------------- bad requests

def test_bad_load_requests_are_refused_and_the_runtime_serves_on(polaris_bin, tmp_path, cache, mmesh, models):
    repo = tmp_path / "repo"
    (repo / "add" / "1").mkdir(parents=True)
    (repo / "add" / "1" / "model.onnx").symlink_to(models / "tiny" / "add.onnx")
    empty = tmp_path / "empty"
    empty.mkdir()
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07not a model" * 100)
    server = mesh_server(polaris_bin, tmp_path, cache, repo=repo)
    try:
        mesh = ModelMesh(server.grpc_url, mmesh)
        good = models / "tiny" / "add.onnx"
        invalid = grpc.StatusCode.INVALID_ARGUMENT
        assert grpc_code(mesh.load, "", good, "onnx")[0] == invalid
        assert grpc_code(mesh.load, "m", "", "onnx")[0] == invalid
        assert grpc_code(mesh.load, "m", tmp_path / "missing.onnx", "onnx")[0] == invalid
        assert grpc_code(mesh.load, "m", good, "tensorflow")[0] == invalid
        code, details = grpc_code(mesh.load, "m", empty, "onnx")
        assert code == invalid and "no model file" in details
        assert grpc_code(mesh.load, "../escape", good, "onnx")[0] == invalid
        # A model of Polaris's own repository is not ModelMesh's to replace.
        assert grpc_code(mesh.load, "add", good, "onnx")[0] == grpc.StatusCode.FAILED_PRECONDITION
        code, details = grpc_code(mesh.load, "corrupt", corrupt, "onnx")
        assert code not in (grpc.StatusCode.OK, grpc.StatusCode.UNKNOWN) and details, (code, details)
        assert grpc_code(mesh.model_size, "corrupt")[0] == grpc.StatusCode.NOT_FOUND
        # Nothing half-loaded stays; the repository's own model still serves.
        assert cpu_metric(server, "polaris_memory_used_bytes") == 0
        mesh.load("m", good, "onnx")
        assert infer_zeros(server, "add") and infer_zeros(server, "m")
    finally:
        assert server.stop() == 0, server.output()


def test_without_the_flag_there_is_no_modelmesh_service(polaris_bin, tmp_path, mmesh, models, cache):
    repo = tmp_path / "repo"
    repo.mkdir()
    server = ServerProcess(polaris_bin, repo, env=cache)
    try:
        code, _ = grpc_code(ModelMesh(server.grpc_url, mmesh).runtime_status)
        assert code == grpc.StatusCode.UNIMPLEMENTED
    finally:
        assert server.stop() == 0, server.output()
    refused = subprocess.run([str(polaris_bin), "serve", "--http-port", "0"], capture_output=True, text=True,
                             timeout=60, env={k: v for k, v in os.environ.items() if not k.startswith("POLARIS_")})
    assert refused.returncode == 2 and "--model-repository is required" in refused.stderr, refused.stderr
