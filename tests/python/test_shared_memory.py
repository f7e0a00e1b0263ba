"""Triton's system shared memory extension (issue 17) with tritonclient's HTTP and gRPC clients and
`tritonclient.utils.shared_memory` against `polaris serve`: register, status, unregister; inputs
read from and outputs written to regions (values compared); the errors a client meets (unknown
region, windows out of bounds, a byte size that does not fit the tensor, an output region too
small, a duplicate name, a key no object has, a range past the object's end), each followed by
an inference that works; a region whose object was unlinked while registered; the CUDA endpoints
of a server without CUDA; the inference token; --allow-shared-memory false; and perf_analyzer
--shared-memory system."""
import base64
import http.client
import json
import os
import pathlib
import subprocess
from multiprocessing import shared_memory as mpshm

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
import tritonclient.utils.shared_memory as shm
from tritonclient.utils import InferenceServerException, serialize_byte_tensor

from conftest import BUILD, ServerProcess, simple_tensors

PERF_ANALYZER = BUILD / "perf-analyzer-venv" / "bin" / "perf_analyzer_polaris"
INFER_TOKEN = "infer-token-0123456789abcdef"
SIMPLE = simple_tensors()
ROW_BYTES = 16 * 4  # one row of INT32 [16]


def repository(root, models):
    repo = root / "repo"
    # Triton's `simple`: INPUT0 + INPUT1 -> OUTPUT0, INPUT0 - INPUT1 -> OUTPUT1, batching up to 8.
    (repo / "simple" / "1").mkdir(parents=True)
    (repo / "simple" / "1" / "model.onnx").symlink_to(models / "tiny" / "simple.onnx")
    (repo / "simple" / "config.pbtxt").write_text("max_batch_size: 8\n" + SIMPLE)
    (repo / "strings_identity" / "1").mkdir(parents=True)
    (repo / "strings_identity" / "1" / "model.onnx").symlink_to(models / "tiny" / "strings_identity.onnx")
    return repo


@pytest.fixture(scope="module")
def server(polaris_bin, models, tmp_path_factory):
    srv = ServerProcess(polaris_bin, repository(tmp_path_factory.mktemp("shm"), models))
    yield srv
    assert srv.stop() == 0, srv.output()


class Client:
    """One protocol's client and library, with the few calls whose shapes differ between them."""

    def __init__(self, protocol, server, headers=None):
        self.protocol = protocol
        self.lib = httpclient if protocol == "http" else grpcclient
        self.client = self.lib.InferenceServerClient(server.http_url if protocol == "http" else server.grpc_url)
        self.headers = headers

    def status(self, name=""):
        """[{name, key, offset, byte_size}] as plain values, for both protocols."""
        got = self.client.get_system_shared_memory_status(name, headers=self.headers)
        if self.protocol == "http":
            return sorted(got, key=lambda r: r["name"])
        return sorted(({"name": r.name, "key": r.key, "offset": r.offset, "byte_size": r.byte_size}
                       for r in got.regions.values()), key=lambda r: r["name"])

    def register(self, name, key, byte_size, offset=0):
        self.client.register_system_shared_memory(name, key, byte_size, offset=offset, headers=self.headers)

    def unregister(self, name=""):
        self.client.unregister_system_shared_memory(name, headers=self.headers)

    def infer(self, model, inputs, outputs=None):
        return self.client.infer(model, inputs, outputs=outputs, headers=self.headers)

    def assert_metadata_only(self, result, name, shape):
        """An output answered in shared memory: name, datatype and shape, no data and no parameters
        (Triton's answer; Triton's C++ HTTP client fails on output parameters without
        binary_data_size)."""
        out = result.get_output(name)
        if self.protocol == "http":
            assert out == {"name": name, "datatype": "INT32", "shape": shape}, out
        else:
            assert (out.name, out.datatype, list(out.shape)) == (name, "INT32", shape)
            assert len(out.parameters) == 0 and not out.HasField("contents")


@pytest.fixture(params=["http", "grpc"])
def client(request, server):
    c = Client(request.param, server)
    c.unregister()  # every test starts with no region
    yield c
    c.unregister()


@pytest.fixture
def regions(request):
    """Makes shared memory regions (tritonclient's helper) and destroys them after the test."""
    made = []

    def make(name, byte_size):
        key = f"/polaris_test_{os.getpid()}_{name}"
        handle = shm.create_shared_memory_region(name, key, byte_size, create_only=True)
        made.append(handle)
        return handle, key

    yield make
    for handle in made:
        shm.destroy_shared_memory_region(handle)


def rows_of(rows, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(-1000, 1000, size=(rows, 16), dtype=np.int32)


def plain_inputs(lib, a, b):
    ins = [lib.InferInput("INPUT0", list(a.shape), "INT32"), lib.InferInput("INPUT1", list(b.shape), "INT32")]
    ins[0].set_data_from_numpy(a)
    ins[1].set_data_from_numpy(b)
    return ins


def shm_inputs(lib, shape, region, offset=0, byte_size=None):
    """INPUT0 at `offset` and INPUT1 right after it in `region`."""
    size = byte_size if byte_size is not None else int(np.prod(shape)) * 4
    ins = [lib.InferInput("INPUT0", shape, "INT32"), lib.InferInput("INPUT1", shape, "INT32")]
    ins[0].set_shared_memory(region, size, offset=offset)
    ins[1].set_shared_memory(region, size, offset=offset + size)
    return ins


def shm_outputs(lib, region, size, offset=0):
    outs = [lib.InferRequestedOutput("OUTPUT0"), lib.InferRequestedOutput("OUTPUT1")]
    outs[0].set_shared_memory(region, size, offset=offset)
    outs[1].set_shared_memory(region, size, offset=offset + size)
    return outs


def assert_still_serving(c):
    a, b = rows_of(1, 99), rows_of(1, 98)
    result = c.infer("simple", plain_inputs(c.lib, a, b))
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), a + b)


def error_of(call):
    with pytest.raises(InferenceServerException) as e:
        call()
    return e.value


# ---------------------------------------------------------------- register, status, unregister

def test_server_metadata_lists_system_shared_memory(client):
    meta = client.client.get_server_metadata()
    extensions = meta["extensions"] if client.protocol == "http" else list(meta.extensions)
    assert "system_shared_memory" in extensions
    assert "cuda_shared_memory" not in extensions


def test_register_status_and_unregister(client, regions):
    _, key = regions("reg", 4096)
    client.register("first", key, 1024)
    client.register("second", key, 512, offset=1024)
    assert client.status() == [{"name": "first", "key": key, "offset": 0, "byte_size": 1024},
                               {"name": "second", "key": key, "offset": 1024, "byte_size": 512}]
    assert client.status("second") == [{"name": "second", "key": key, "offset": 1024, "byte_size": 512}]
    client.unregister("first")
    assert [r["name"] for r in client.status()] == ["second"]
    client.unregister("never-registered")  # not an error, as in Triton
    client.unregister()
    assert client.status() == []
    e = error_of(lambda: client.status("second"))
    assert "Unable to find system shared memory region: 'second'" in e.message()


# ---------------------------------------------------------------- inference through shared memory

@pytest.mark.parametrize("rows", [1, 3])
def test_inputs_and_outputs_in_shared_memory(client, regions, rows):
    size = rows * ROW_BYTES
    a, b = rows_of(rows, 1), rows_of(rows, 2)
    inputs, in_key = regions("in", 2 * size)
    outputs, out_key = regions("out", 2 * size)
    shm.set_shared_memory_region(inputs, [a, b])
    client.register("in", in_key, 2 * size)
    client.register("out", out_key, 2 * size)

    result = client.infer("simple", shm_inputs(client.lib, [rows, 16], "in"), shm_outputs(client.lib, "out", size))
    for name in ("OUTPUT0", "OUTPUT1"):
        client.assert_metadata_only(result, name, [rows, 16])
    np.testing.assert_array_equal(shm.get_contents_as_numpy(outputs, np.int32, [rows, 16]), a + b)
    np.testing.assert_array_equal(shm.get_contents_as_numpy(outputs, np.int32, [rows, 16], offset=size), a - b)
    if client.protocol == "grpc":  # Triton's layout: an empty raw entry for each output in shared memory
        assert list(result.get_response().raw_output_contents) == [b"", b""]

    # Rewriting the region changes the next answer: the server reads it in place.
    shm.set_shared_memory_region(inputs, [b, a])
    client.infer("simple", shm_inputs(client.lib, [rows, 16], "in"), shm_outputs(client.lib, "out", size))
    np.testing.assert_array_equal(shm.get_contents_as_numpy(outputs, np.int32, [rows, 16]), a + b)
    np.testing.assert_array_equal(shm.get_contents_as_numpy(outputs, np.int32, [rows, 16], offset=size), b - a)


def test_shared_memory_mixes_with_data_in_the_request(client, regions):
    a, b = rows_of(1, 3), rows_of(1, 4)
    inputs, in_key = regions("mixin", ROW_BYTES)
    outputs, out_key = regions("mixout", 4096)
    shm.set_shared_memory_region(inputs, [a])
    client.register("mixin", in_key, ROW_BYTES)
    client.register("mixout", out_key, 4096)
    # INPUT0 from shared memory, INPUT1 in the request (gRPC: raw_input_contents holds INPUT1 only);
    # OUTPUT0 into shared memory at an offset, OUTPUT1 in the response.
    ins = [client.lib.InferInput("INPUT0", [1, 16], "INT32"), client.lib.InferInput("INPUT1", [1, 16], "INT32")]
    ins[0].set_shared_memory("mixin", ROW_BYTES)
    ins[1].set_data_from_numpy(b)
    outs = [client.lib.InferRequestedOutput("OUTPUT0"), client.lib.InferRequestedOutput("OUTPUT1")]
    outs[0].set_shared_memory("mixout", 1000, offset=100)  # a window larger than the output is fine
    result = client.infer("simple", ins, outs)
    client.assert_metadata_only(result, "OUTPUT0", [1, 16])
    np.testing.assert_array_equal(shm.get_contents_as_numpy(outputs, np.int32, [1, 16], offset=100), a + b)
    np.testing.assert_array_equal(result.as_numpy("OUTPUT1"), a - b)  # positions still line up (gRPC)


def test_grpc_stream_infer_with_shared_memory(server, regions):
    import queue
    c = Client("grpc", server)
    c.unregister()
    a, b = rows_of(2, 11), rows_of(2, 12)
    size = 2 * ROW_BYTES
    inputs, in_key = regions("sin", 2 * size)
    outputs, out_key = regions("sout", 2 * size)
    shm.set_shared_memory_region(inputs, [a, b])
    c.register("sin", in_key, 2 * size)
    c.register("sout", out_key, 2 * size)
    answers = queue.Queue()
    c.client.start_stream(callback=lambda result, error: answers.put((result, error)))
    try:
        c.client.async_stream_infer("simple", shm_inputs(c.lib, [2, 16], "sin"),
                                    outputs=shm_outputs(c.lib, "sout", size))
        c.client.async_stream_infer("simple", shm_inputs(c.lib, [2, 16], "nope"))  # fails, stream goes on
        c.client.async_stream_infer("simple", plain_inputs(c.lib, a, b))
        got = [answers.get(timeout=60) for _ in range(3)]
    finally:
        c.client.stop_stream()
        c.unregister()
    assert got[0][1] is None, got[0][1]
    np.testing.assert_array_equal(shm.get_contents_as_numpy(outputs, np.int32, [2, 16]), a + b)
    np.testing.assert_array_equal(shm.get_contents_as_numpy(outputs, np.int32, [2, 16], offset=size), a - b)
    assert got[1][0] is None and "Unable to find shared memory region: 'nope'" in got[1][1].message()
    np.testing.assert_array_equal(got[2][0].as_numpy("OUTPUT0"), a + b)


def test_bytes_tensors_in_shared_memory(client, regions):
    values = np.array([[b"hello", b"shared memory"]], dtype=np.object_)
    serialized = serialize_byte_tensor(values)
    size = len(serialized.item())  # a 0-d object array holding the serialized bytes
    inputs, in_key = regions("bin", size)
    outputs, out_key = regions("bout", 1024)
    shm.set_shared_memory_region(inputs, [serialized])
    client.register("bin", in_key, size)
    client.register("bout", out_key, 1024)
    ins = [client.lib.InferInput("input", [1, 2], "BYTES")]
    ins[0].set_shared_memory("bin", size)
    outs = [client.lib.InferRequestedOutput("output")]
    outs[0].set_shared_memory("bout", 1024)
    client.infer("strings_identity", ins, outs)
    got = shm.get_contents_as_numpy(outputs, np.object_, [1, 2])
    assert got.tolist() == values.tolist()


def test_a_region_whose_object_was_unlinked_keeps_working(client):
    """POSIX: an unlinked object lives on while mapped, and the server maps it at registration."""
    name = f"polaris_unlinked_{os.getpid()}_{client.protocol}"
    memory = mpshm.SharedMemory(name=name, create=True, size=4 * ROW_BYTES)
    try:
        a, b = rows_of(1, 5), rows_of(1, 6)
        memory.buf[:ROW_BYTES] = a.tobytes()
        memory.buf[ROW_BYTES:2 * ROW_BYTES] = b.tobytes()
        client.register("gone", "/" + name, 4 * ROW_BYTES)
        memory.unlink()
        client.infer("simple", shm_inputs(client.lib, [1, 16], "gone"),
                     shm_outputs(client.lib, "gone", ROW_BYTES, offset=2 * ROW_BYTES))
        out = np.frombuffer(bytes(memory.buf[2 * ROW_BYTES:4 * ROW_BYTES]), dtype=np.int32).reshape(2, 16)
        np.testing.assert_array_equal(out[0], (a + b)[0])
        np.testing.assert_array_equal(out[1], (a - b)[0])
        # The key is gone: registering it again finds no object.
        e = error_of(lambda: client.register("again", "/" + name, 64))
        assert "Unable to open shared memory region" in e.message()
    finally:
        memory.close()


# ---------------------------------------------------------------- errors, and serving on after each

def expect_invalid(client, e, *fragments, http_status="400", grpc_status="StatusCode.INVALID_ARGUMENT"):
    for fragment in fragments:
        assert fragment in e.message(), e.message()
    assert e.status() == (http_status if client.protocol == "http" else grpc_status), (e.status(), e.message())
    assert_still_serving(client)


def test_inference_errors_are_clear_and_the_server_keeps_serving(client, regions):
    inputs, in_key = regions("errin", 2 * ROW_BYTES)
    outputs, out_key = regions("errout", 2 * ROW_BYTES)
    shm.set_shared_memory_region(inputs, [rows_of(1, 7), rows_of(1, 8)])
    client.register("errin", in_key, 2 * ROW_BYTES)
    client.register("errout", out_key, 2 * ROW_BYTES)
    lib = client.lib

    e = error_of(lambda: client.infer("simple", shm_inputs(lib, [1, 16], "nope")))
    expect_invalid(client, e, "input 'INPUT0'", "Unable to find shared memory region: 'nope'",
                   http_status="404", grpc_status="StatusCode.NOT_FOUND")

    e = error_of(lambda: client.infer("simple", shm_inputs(lib, [1, 16], "errin", offset=ROW_BYTES)))
    expect_invalid(client, e, "input 'INPUT1'", "Invalid offset + byte size for shared memory region: 'errin'")

    e = error_of(lambda: client.infer("simple", shm_inputs(lib, [1, 16], "errin", offset=10 * ROW_BYTES)))
    expect_invalid(client, e, "Invalid offset for shared memory region: 'errin'")

    e = error_of(lambda: client.infer("simple", shm_inputs(lib, [1, 16], "errin", byte_size=ROW_BYTES - 4)))
    expect_invalid(client, e, "shared_memory_byte_size 60 does not match the 64 bytes")

    e = error_of(lambda: client.infer("simple", shm_inputs(lib, [1, 16], "errin"),
                                      shm_outputs(lib, "errout", ROW_BYTES // 2)))
    expect_invalid(client, e, "shared memory size specified with the request for output 'OUTPUT",
                   "(32 bytes) should be at least 64 bytes to hold the results")

    e = error_of(lambda: client.infer("simple", shm_inputs(lib, [1, 16], "errin"),
                                      shm_outputs(lib, "errout", ROW_BYTES, offset=ROW_BYTES)))
    expect_invalid(client, e, "output 'OUTPUT1'", "Invalid offset + byte size for shared memory region: 'errout'")

    # Nothing broke on the way: the same regions still serve.
    client.infer("simple", shm_inputs(lib, [1, 16], "errin"), shm_outputs(lib, "errout", ROW_BYTES))


def test_registration_errors(client, regions):
    _, key = regions("regerr", 256)
    client.register("taken", key, 128)
    e = error_of(lambda: client.register("taken", key, 64))
    expect_invalid(client, e, "shared memory region 'taken' already in manager",
                   grpc_status="StatusCode.ALREADY_EXISTS")
    e = error_of(lambda: client.register("missing", f"/polaris_no_such_object_{os.getpid()}", 64))
    expect_invalid(client, e, "Unable to open shared memory region", "No such file or directory")
    e = error_of(lambda: client.register("past", key, 200, offset=100))
    expect_invalid(client, e, "failed to register shared memory region 'past'", "(256 bytes)")
    e = error_of(lambda: client.register("badkey", "/a/b", 64))
    expect_invalid(client, e, "is not a POSIX shared memory object name")
    e = error_of(lambda: client.register("zero", key, 0))
    expect_invalid(client, e, "byte_size must be positive")
    assert [r["name"] for r in client.status()] == ["taken"]


def test_http_register_body_errors(server):
    host, port = server.http_url.split(":")

    def post(path, body):
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        conn.request("POST", path, body=body)
        r = conn.getresponse()
        payload = r.read()
        conn.close()
        return r.status, payload

    status, payload = post("/v2/systemsharedmemory/region/r/register", "not json")
    assert status == 400 and b"must be a JSON object" in payload
    status, payload = post("/v2/systemsharedmemory/region/r/register", json.dumps({"key": "/k"}))
    assert status == 400 and b"needs 'byte_size'" in payload
    status, payload = post("/v2/systemsharedmemory/region/r/register",
                           json.dumps({"key": "/k", "byte_size": -1}))
    assert status == 400 and b"non-negative integer" in payload
    status, _ = post("/v2/systemsharedmemory/region/r/status", "")
    assert status == 405
    status, _ = post("/v2/systemsharedmemory/region/r/frobnicate", "")
    assert status == 404


# ---------------------------------------------------------------- CUDA shared memory, access control

def test_cuda_shared_memory_answers_as_a_server_without_cuda(client):
    if client.protocol == "http":
        assert client.client.get_cuda_shared_memory_status() == []
    else:
        assert len(client.client.get_cuda_shared_memory_status().regions) == 0
    client.client.unregister_cuda_shared_memory()  # nothing to do, no error (perf_analyzer calls it)
    handle = base64.b64encode(b"\0" * 64).decode() if client.protocol == "http" else b"\0" * 64
    e = error_of(lambda: client.client.register_cuda_shared_memory("gpu", handle, 0, 64))
    assert "CUDA shared memory is not supported" in e.message() and "no CUDA" in e.message()
    assert e.status() == ("501" if client.protocol == "http" else "StatusCode.UNIMPLEMENTED")
    assert_still_serving(client)


def test_shared_memory_needs_the_inference_token_when_one_is_set(polaris_bin, models, tmp_path, regions):
    srv = ServerProcess(polaris_bin, repository(tmp_path, models), "--infer-token", INFER_TOKEN)
    try:
        _, key = regions("tok", 128)
        for protocol in ("http", "grpc"):
            anonymous = Client(protocol, srv)
            e = error_of(lambda: anonymous.register("tok", key, 128))
            assert e.status() == ("401" if protocol == "http" else "StatusCode.UNAUTHENTICATED"), e.status()
            e = error_of(lambda: anonymous.status())
            assert e.status() == ("401" if protocol == "http" else "StatusCode.UNAUTHENTICATED")
            header = {"Authorization": f"Bearer {INFER_TOKEN}"} if protocol == "http" \
                else {"authorization": f"Bearer {INFER_TOKEN}"}
            allowed = Client(protocol, srv, headers=header)
            allowed.register("tok", key, 128)
            assert [r["name"] for r in allowed.status()] == ["tok"]
            allowed.unregister()
    finally:
        assert srv.stop() == 0, srv.output()


def test_shared_memory_can_be_switched_off(polaris_bin, models, tmp_path, regions):
    srv = ServerProcess(polaris_bin, repository(tmp_path, models), "--allow-shared-memory", "false")
    try:
        _, key = regions("off", 128)
        for protocol in ("http", "grpc"):
            c = Client(protocol, srv)
            e = error_of(lambda: c.register("off", key, 128))
            assert "--allow-shared-memory false" in e.message()
            assert e.status() == ("403" if protocol == "http" else "StatusCode.PERMISSION_DENIED")
            assert c.status() == []
            meta = c.client.get_server_metadata()
            assert "system_shared_memory" not in (meta["extensions"] if protocol == "http" else meta.extensions)
            e = error_of(lambda: c.infer("simple", shm_inputs(c.lib, [1, 16], "off")))
            assert "Unable to find shared memory region: 'off'" in e.message()
            assert_still_serving(c)
    finally:
        assert srv.stop() == 0, srv.output()


# ---------------------------------------------------------------- perf_analyzer

@pytest.mark.skipif(not PERF_ANALYZER.exists(), reason="perf_analyzer is installed by scripts/bootstrap")
@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_perf_analyzer_with_system_shared_memory(server, protocol, tmp_path):
    url = server.http_url if protocol == "http" else server.grpc_url
    csv = tmp_path / f"simple-shm-{protocol}.csv"
    proc = subprocess.run([str(PERF_ANALYZER), "-m", "simple", "-u", url, "-i", protocol, "-b", "2",
                           "--shared-memory", "system", "--concurrency-range", "1:2",
                           "--measurement-interval", "1000", "--measurement-mode", "time_windows",
                           "--stability-percentage", "100", "-f", str(csv)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "error" not in proc.stdout.lower(), proc.stdout
    rows = csv.read_text().splitlines()
    assert rows[0].startswith("Concurrency,Inferences/Second") and len(rows) == 3, rows
    for row in rows[1:]:
        assert float(row.split(",")[1]) > 0
    # perf_analyzer unregisters its regions when it is done.
    assert Client(protocol, server).status() == []
