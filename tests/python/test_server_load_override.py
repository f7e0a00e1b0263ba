"""Triton's load parameters against a real `polaris serve`, through Triton's own
clients: `load_model(name, config=<json>, files={"file:1/model.onnx": bytes})`
over HTTP (base64 in JSON) and gRPC (bytes_param). A model that is not in the
repository loads purely from the request; a repository model's config is
replaced until the next plain load or unload; bad parameters get 400 /
INVALID_ARGUMENT with a message naming the problem, and leave nothing behind.
The server's $TMPDIR is the test's own, so the request's files can be watched."""
import base64
import json
import shutil
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from conftest import ServerProcess

ADD_CONFIG = json.dumps({
    "max_batch_size": 4,
    "input": [{"name": "a", "data_type": "TYPE_FP32", "dims": [16]},
              {"name": "b", "data_type": "TYPE_FP32", "dims": [16]}],
    "output": [{"name": "sum", "data_type": "TYPE_FP32", "dims": [16]}],
})


def _repository(root, models):
    repo = root / "repo"
    for name in ("add", "negate", "identity"):
        (repo / name / "1").mkdir(parents=True)
        (repo / name / "1" / "model.onnx").symlink_to(models / "tiny" / f"{name}.onnx")
    return repo


def _start(polaris_bin, models, root, *extra):
    tmp = root / "tmp"
    tmp.mkdir()
    server = ServerProcess(polaris_bin, _repository(root, models), "--allow-repository-changes", "true", *extra,
                           env={"TMPDIR": str(tmp)})
    server.tmp = tmp
    return server


@pytest.fixture(scope="module")
def server(polaris_bin, models, tmp_path_factory):
    s = _start(polaris_bin, models, tmp_path_factory.mktemp("override"))
    yield s
    code = s.stop()
    assert code == 0, s.output()
    assert not list(s.tmp.glob("polaris-override-*")), "the request's files outlived the server"


def overrides(server):
    """The folders holding load requests' files, as {model: [files]}."""
    found = {}
    for root in server.tmp.glob("polaris-override-*"):
        for model in root.iterdir():
            found[model.name] = sorted(str(p.relative_to(model)) for p in model.rglob("*") if p.is_file())
    return found


class Http:
    name = "http"

    def __init__(self, server):
        self.server = server
        self.client = httpclient.InferenceServerClient(server.http_url)

    def load(self, model, config=None, files=None):
        self.client.load_model(model, config=config, files=files)

    def unload(self, model):
        self.client.unload_model(model)

    def config(self, model):
        return self.client.get_model_config(model)

    def add(self, model, a, b):
        inputs = []
        for name, x in (("a", a), ("b", b)):
            i = httpclient.InferInput(name, list(x.shape), "FP32")
            i.set_data_from_numpy(x)
            inputs.append(i)
        return self.client.infer(model, inputs).as_numpy("sum")

    def index(self):
        return {m["name"]: m for m in self.client.get_model_repository_index()}

    def invalid(self, error):
        return error.status() == "400"


class Grpc(Http):
    name = "grpc"

    def __init__(self, server):
        self.server = server
        self.client = grpcclient.InferenceServerClient(server.grpc_url)

    def config(self, model):
        return self.client.get_model_config(model, as_json=True)["config"]

    def add(self, model, a, b):
        inputs = []
        for name, x in (("a", a), ("b", b)):
            i = grpcclient.InferInput(name, list(x.shape), "FP32")
            i.set_data_from_numpy(x)
            inputs.append(i)
        return self.client.infer(model, inputs).as_numpy("sum")

    def index(self):
        return {m.name: {"name": m.name, "state": m.state, "reason": m.reason}
                for m in self.client.get_model_repository_index().models}

    def invalid(self, error):
        return error.status() == "StatusCode.INVALID_ARGUMENT"


@pytest.fixture(params=[Http, Grpc], ids=["http", "grpc"])
def client(request, server):
    return request.param(server)


def check_add(client, model, batch=3):
    rng = np.random.default_rng(batch)
    a = rng.standard_normal((batch, 16), dtype=np.float32)
    b = rng.standard_normal((batch, 16), dtype=np.float32)
    np.testing.assert_allclose(client.add(model, a, b), a + b, rtol=1e-6)


def test_a_model_not_in_the_repository_loads_from_the_request(client, models):
    name = f"fresh_add_{client.name}"
    assert name not in client.index()
    client.load(name, config=ADD_CONFIG, files={"file:1/model.onnx": (models / "tiny" / "add.onnx").read_bytes()})
    assert client.client.is_model_ready(name)
    check_add(client, name)
    assert client.config(name)["max_batch_size"] == 4
    assert client.index()[name]["state"] == "READY"
    assert overrides(client.server)[name] == ["1/model.onnx"]

    # (4) Unloading removes the request's files, and the model with them:
    # the repository has no such model to go back to.
    client.unload(name)
    assert name not in overrides(client.server)
    assert name not in client.index()
    with pytest.raises(InferenceServerException):
        check_add(client, name)


def test_an_overriding_config_sticks_until_the_next_plain_load(client):
    check_add(client, "add")
    assert client.config("add")["max_batch_size"] == 8  # completed from the model: the repository has no config
    config = json.dumps({"max_batch_size": 2, "dynamic_batching": {"max_queue_delay_microseconds": 500}})
    client.load("add", config=config)
    seen = client.config("add")
    assert seen["max_batch_size"] == 2
    assert "dynamic_batching" in seen
    assert [i["name"] for i in seen["input"]] == ["a", "b"]  # completed from the model, as a config.pbtxt
    check_add(client, "add", batch=2)
    with pytest.raises(InferenceServerException, match="batch of 1 to 2"):
        check_add(client, "add", batch=3)
    assert not overrides(client.server), "a config alone writes no files"

    # A repository scan (the lazy listing) does not undo it...
    client.index()
    assert client.config("add")["max_batch_size"] == 2
    # ...a plain load goes back to the repository, as in Triton.
    client.load("add")
    assert client.config("add")["max_batch_size"] == 8
    assert "dynamic_batching" not in client.config("add")
    check_add(client, "add", batch=3)


def test_files_replace_a_repository_models_folder_until_unloaded(client, models):
    # The repository's "negate" becomes an adder while the override lasts.
    client.load("negate", config=ADD_CONFIG,
                files={"file:1/model.onnx": (models / "tiny" / "add.onnx").read_bytes()})
    check_add(client, "negate")
    assert "negate" in overrides(client.server)
    client.unload("negate")
    assert "negate" not in overrides(client.server)
    assert client.index()["negate"]["state"] == "UNAVAILABLE"
    # Listed as the repository has it; lazy mode loads that on request.
    assert [i["name"] for i in client.config("negate")["input"]] == ["input"]


def _bad_parameter_cases(models):
    model = (models / "tiny" / "add.onnx").read_bytes()
    return [
        ("files without a config", None, {"file:1/model.onnx": model}, "need a 'config'"),
        ("malformed JSON", "{not json", None, "load parameter 'config'"),
        ("unknown field", json.dumps({"max_batch_sise": 2}), None, "max_batch_sise"),
        ("another model's name", json.dumps({"name": "other"}), None, "names the model 'other'"),
        ("parent folder", ADD_CONFIG, {"file:../x": b"x"}, "file:../x"),
        ("absolute path", ADD_CONFIG, {"file:/abs": b"x"}, "file:/abs"),
        ("walks out of the version", ADD_CONFIG, {"file:1/../../x": b"x"}, "file:1/../../x"),
        ("no version folder", ADD_CONFIG, {"file:model.onnx": model}, "version folder"),
        ("not a model", ADD_CONFIG, {"file:1/model.onnx": b"not an onnx file"}, "1/model.onnx"),
        ("config that does not fit", json.dumps({"input": [{"name": "nope", "data_type": "TYPE_FP32", "dims": [16]}]}),
         {"file:1/model.onnx": model}, "nope"),
    ]


@pytest.mark.parametrize("case", range(10))
def test_bad_parameters_are_refused_and_leave_nothing_behind(client, models, case):
    what, config, files, fragment = _bad_parameter_cases(models)[case]
    name = f"bad_{client.name}_{case}"
    with pytest.raises(InferenceServerException) as error:
        client.load(name, config=config, files=files)
    assert client.invalid(error.value), (what, error.value.status(), error.value.message())
    assert fragment in error.value.message(), (what, error.value.message())
    assert name not in client.index()
    assert not overrides(client.server)
    check_add(client, "add")  # the server keeps serving


def test_a_failed_override_leaves_a_repository_model_as_it_was(client):
    check_add(client, "add")
    before = client.config("add")
    with pytest.raises(InferenceServerException) as error:
        client.load("add", config=json.dumps({"max_batch_size": 2}), files={"file:1/model.onnx": b"garbage"})
    assert client.invalid(error.value), error.value.message()
    assert client.config("add") == before
    check_add(client, "add", batch=3)
    assert not overrides(client.server)
    # A plain load still works, and changes nothing.
    client.load("add")
    assert client.config("add")["max_batch_size"] == before["max_batch_size"]


def test_a_plain_load_of_a_request_only_model_keeps_it(client, models):
    name = f"kept_{client.name}"
    client.load(name, config=ADD_CONFIG, files={"file:1/model.onnx": (models / "tiny" / "add.onnx").read_bytes()})
    with pytest.raises(InferenceServerException, match="not in the repository"):
        client.load(name)
    check_add(client, name)
    # A config alone cannot load a model the repository lacks.
    with pytest.raises(InferenceServerException, match="not in the repository"):
        client.load("nowhere", config=ADD_CONFIG)
    client.unload(name)
    assert not overrides(client.server)


def _post(server, path, body):
    req = urllib.request.Request(f"http://{server.http_url}{path}", data=body, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.mark.parametrize("parameters,fragment", [
    ({"config": ADD_CONFIG, "file:1/model.onnx": "not base64!"}, "is not valid base64"),
    ({"config": ADD_CONFIG, "file:1/model.onnx": "QUJD\n"}, "is not valid base64"),
    ({"config": ADD_CONFIG, "file:1/model.onnx": 12}, "must hold the file's bytes"),
    ({"config": {"max_batch_size": 2}}, "must be a string"),
    ({"config": ADD_CONFIG, "unknown": "x"}, "unknown load parameter 'unknown'"),
    ({"config": ADD_CONFIG, "file:1/x\u0000y": base64.b64encode(b"x").decode()}, "control character"),
])
def test_http_specific_errors(server, parameters, fragment):
    status, body = _post(server, "/v2/repository/models/http_bad/load", json.dumps({"parameters": parameters}).encode())
    assert status == 400, body
    assert fragment in json.loads(body)["error"]
    assert not overrides(server)


@pytest.mark.parametrize("path", ["/v2/repository/models/..%2fevil/load", "/v2/repository/models/a%00b/load",
                                  "/v2/repository/models/../../evil/load"])
def test_model_names_with_path_tricks_are_refused(server, models, path):
    body = json.dumps({"parameters": {"config": ADD_CONFIG, "file:1/model.onnx": base64.b64encode(
        (models / "tiny" / "add.onnx").read_bytes()).decode()}}).encode()
    status, answer = _post(server, path, body)
    assert status in (400, 404), answer
    assert not overrides(server)
    assert not (server.tmp / "evil").exists() and not (server.tmp.parent / "evil").exists()


def test_grpc_names_with_path_tricks_and_wrong_types_are_refused(server, models):
    client = grpcclient.InferenceServerClient(server.grpc_url)
    for name in ("../evil", "a/b", ".."):
        with pytest.raises(InferenceServerException) as error:
            client.load_model(name, config=ADD_CONFIG,
                              files={"file:1/model.onnx": (models / "tiny" / "add.onnx").read_bytes()})
        assert error.value.status() == "StatusCode.INVALID_ARGUMENT", error.value.message()
    # Through the stub: a file sent as a string, a config sent as bytes.
    from tritonclient.grpc import service_pb2, service_pb2_grpc
    import grpc
    with grpc.insecure_channel(server.grpc_url) as channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        for key, field, value, fragment in [("file:1/model.onnx", "string_param", "x", "must hold the file's bytes"),
                                            ("config", "bytes_param", b"{}", "must be a string")]:
            request = service_pb2.RepositoryModelLoadRequest(model_name="typed")
            request.parameters["config"].string_param = ADD_CONFIG
            setattr(request.parameters[key], field, value)
            with pytest.raises(grpc.RpcError) as error:
                stub.RepositoryModelLoad(request)
            assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert fragment in error.value.details()
    assert not overrides(server)


def test_poll_mode_does_not_revert_an_override(polaris_bin, models, tmp_path):
    server = _start(polaris_bin, models, tmp_path, "--model-control-mode", "poll", "--repository-poll-secs", "1")
    try:
        client = Http(server)
        client.load("add", config=json.dumps({"max_batch_size": 2}))
        client.load("fresh", config=ADD_CONFIG,
                    files={"file:1/model.onnx": (models / "tiny" / "add.onnx").read_bytes()})
        # A change in the repository's folder would reload "add" in poll mode.
        (server.repo / "add" / "1" / "model.onnx").unlink()
        shutil.copy(models / "tiny" / "add.onnx", server.repo / "add" / "1" / "model.onnx")
        time.sleep(3.5)  # several polls
        assert client.config("add")["max_batch_size"] == 2
        assert client.index()["fresh"]["state"] == "READY"
        check_add(client, "fresh")
        # A plain load hands "add" back to the repository (and its polls).
        client.load("add")
        assert client.config("add")["max_batch_size"] == 8
    finally:
        code = server.stop()
    assert code == 0, server.output()
    assert not list(server.tmp.glob("polaris-override-*"))
