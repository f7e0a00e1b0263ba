"""The KServe v2 HTTP API with real clients (tritonclient, curl, urllib) against a
real `polaris serve`; expected outputs are computed here with numpy or by
ONNX Runtime directly."""
import asyncio
import json
import struct
import subprocess
import urllib.error
import urllib.request

import numpy as np
import pytest
import tritonclient.http as httpclient
import tritonclient.http.aio as aiohttpclient
from tritonclient.utils import InferenceServerException


@pytest.fixture(scope="module")
def client(polaris_server):
    return httpclient.InferenceServerClient(polaris_server.http_url)


def post(server, path, body, headers=None):
    """Raw POST; returns (status, headers, body) without raising on 4xx/5xx."""
    req = urllib.request.Request(f"http://{server.http_url}{path}", data=body, headers=headers or {}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def infer(client, model, arrays, binary=True, outputs=None, **kwargs):
    inputs = []
    for name, arr, datatype in arrays:
        i = httpclient.InferInput(name, list(arr.shape), datatype)
        i.set_data_from_numpy(arr, binary_data=binary)
        inputs.append(i)
    requested = [httpclient.InferRequestedOutput(n, binary_data=binary) for n in outputs] if outputs else None
    return client.infer(model, inputs, outputs=requested, **kwargs)


def test_server_metadata_health_and_extensions(client, polaris_server):
    meta = client.get_server_metadata()
    assert meta["name"] == "polaris"
    for ext in ("statistics", "binary_tensor_data", "model_repository", "classification"):
        assert ext in meta["extensions"]
    assert client.is_server_live() and client.is_server_ready()
    for path in ("/v2/health/live", "/v2/health/ready"):
        code = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                               f"http://{polaris_server.http_url}{path}"], capture_output=True, text=True).stdout
        assert code == "200"


def test_model_metadata_has_the_batch_dim_first(client):
    meta = client.get_model_metadata("add")
    assert meta["name"] == "add" and meta["platform"] == "onnxruntime_onnx" and meta["versions"] == ["1"]
    assert meta["inputs"] == [{"name": "a", "datatype": "FP32", "shape": [-1, 16]},
                              {"name": "b", "datatype": "FP32", "shape": [-1, 16]}]
    assert meta["outputs"] == [{"name": "sum", "datatype": "FP32", "shape": [-1, 16]}]
    config = client.get_model_config("add")
    assert config["max_batch_size"] == 8 and config["platform"] == "onnxruntime_onnx"
    a = config["input"][0]
    assert (a["name"], a["data_type"], a["dims"]) == ("a", "TYPE_FP32", [16])
    # Defaults are printed, as Triton prints them (image_client.py reads max_batch_size).
    assert a["is_shape_tensor"] is False and a["format"] == "FORMAT_NONE" and a["optional"] is False


@pytest.mark.parametrize("binary", [True, False])
def test_add_matches_onnxruntime_run_directly(client, models, binary):
    import onnxruntime as ort
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((3, 16), dtype=np.float32), rng.standard_normal((3, 16), dtype=np.float32)
    result = infer(client, "add", [("a", a, "FP32"), ("b", b, "FP32")], binary=binary)
    want = ort.InferenceSession(str(models / "tiny/add.onnx")).run(None, {"a": a, "b": b})[0]
    np.testing.assert_array_equal(result.as_numpy("sum"), want)


DTYPES = [("BOOL", np.bool_), ("UINT8", np.uint8), ("UINT16", np.uint16), ("UINT32", np.uint32),
          ("UINT64", np.uint64), ("INT8", np.int8), ("INT16", np.int16), ("INT32", np.int32),
          ("INT64", np.int64), ("FP16", np.float16), ("FP32", np.float32), ("FP64", np.float64)]


@pytest.mark.parametrize("datatype,np_type", DTYPES)
@pytest.mark.parametrize("binary", [True, False])
def test_every_dtype_round_trips(client, datatype, np_type, binary):
    if np_type is np.bool_:
        x = np.array([[True, False, True, True], [False, False, True, False]])
        want = ~x  # dtype_bool is Not
    elif np.issubdtype(np_type, np.integer):
        info = np.iinfo(np_type)
        x = np.array([[info.min, info.max, 0, 1], [2, 3, 5, 7]], dtype=np_type)
        want = x
    else:
        x = np.array([[1.5, -2.25, 0.0, 65504.0], [3.0, -0.5, 1e-3, 7.0]], dtype=np_type)
        want = x
    model = f"dtype_{datatype.lower()}"
    if datatype == "FP16" and not binary:
        with pytest.raises(InferenceServerException, match="binary"):
            infer(client, model, [("input", x, datatype)], binary=False)
        return
    result = infer(client, model, [("input", x, datatype)], binary=binary)
    got = result.as_numpy("output")
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_bf16_binary_round_trip(polaris_server):
    bits = np.array([[0x3F80, 0xC020, 0x0000, 0x4300]], dtype=np.uint16)  # 1, -2.5, 0, 128
    header = json.dumps({"inputs": [{"name": "input", "datatype": "BF16", "shape": [1, 4],
                                     "parameters": {"binary_data_size": 8}}],
                         "outputs": [{"name": "output", "parameters": {"binary_data": True}}]}).encode()
    status, headers, body = post(polaris_server, "/v2/models/dtype_bf16/infer", header + bits.tobytes(),
                                 {"Inference-Header-Content-Length": str(len(header))})
    assert status == 200, body
    n = int(headers["Inference-Header-Content-Length"])
    meta = json.loads(body[:n])
    assert meta["outputs"][0]["datatype"] == "BF16" and meta["outputs"][0]["parameters"]["binary_data_size"] == 8
    np.testing.assert_array_equal(np.frombuffer(body[n:], dtype=np.uint16).reshape(1, 4), bits)


@pytest.mark.parametrize("binary", [True, False])
def test_bytes_tensors(client, binary):
    words = np.array([[b"hello", b"polaris"], [b"", "caf\u00e9".encode()]], dtype=np.object_)
    result = infer(client, "strings_identity", [("input", words, "BYTES")], binary=binary)
    np.testing.assert_array_equal(result.as_numpy("output"), words)
    upper = infer(client, "strings", [("input", np.array([b"abc", b"Xy"], dtype=np.object_), "BYTES")], binary=binary)
    assert list(upper.as_numpy("output")) == [b"ABC", b"XY"]


def binary_input_json_output(server, model, name, datatype, array):
    """Posts `array` binary and asks for every output as JSON; the parsed answer."""
    header = json.dumps({"inputs": [{"name": name, "datatype": datatype, "shape": list(array.shape),
                                     "parameters": {"binary_data_size": array.nbytes}}]}).encode()
    status, _, body = post(server, f"/v2/models/{model}/infer", header + array.tobytes(),
                           {"Inference-Header-Content-Length": str(len(header))})
    assert status == 200, body
    return json.loads(body)


def test_json_outputs_write_nan_and_infinities_as_null_and_floats_exactly(polaris_server):
    x = np.array([[np.nan, np.inf, -np.inf, 0.1]], dtype=np.float32)
    answer = binary_input_json_output(polaris_server, "negate", "input", "FP32", x)
    data = answer["outputs"][0]["data"]
    assert data[:3] == [None, None, None]  # JSON has no NaN or Infinity
    assert np.float32(data[3]) == np.float32(-0.1)  # the float32 value, exactly


def test_json_bytes_outputs_that_are_not_utf8_become_replacement_characters(polaris_server):
    words = np.array([[b"ok", b"caf\xe9"], [b"\xff\xfe", b""]], dtype=np.object_)
    blob = b"".join(struct.pack("<I", len(w)) + w for w in words.flat)
    header = json.dumps({"inputs": [{"name": "input", "datatype": "BYTES", "shape": [2, 2],
                                     "parameters": {"binary_data_size": len(blob)}}]}).encode()
    status, _, body = post(polaris_server, "/v2/models/strings_identity/infer", header + blob,
                           {"Inference-Header-Content-Length": str(len(header))})
    assert status == 200, body
    data = json.loads(body.decode("utf-8"))["outputs"][0]["data"]
    assert data == ["ok", "caf\ufffd", "\ufffd\ufffd", ""]


def test_multiple_outputs_and_a_requested_subset(client):
    a = np.array([[1.0, -2.0, 3.0, -4.0]], dtype=np.float32)
    b = np.array([[1, 2, 3, 4]], dtype=np.int32)
    full = infer(client, "multi_io", [("a", a, "FP32"), ("b", b, "INT32")])
    np.testing.assert_array_equal(full.as_numpy("sum"), a + b)
    np.testing.assert_array_equal(full.as_numpy("b_doubled"), (b * 2).astype(np.int64))
    np.testing.assert_array_equal(full.as_numpy("a_positive"), a > 0)
    subset = infer(client, "multi_io", [("a", a, "FP32"), ("b", b, "INT32")], outputs=["b_doubled"])
    assert [o["name"] for o in subset.get_response()["outputs"]] == ["b_doubled"]


def test_torchscript_model_over_http(client):
    a, b = np.ones((2, 16), dtype=np.float32), np.full((2, 16), 2.0, dtype=np.float32)
    result = infer(client, "add_pt", [("a", a, "FP32"), ("b", b, "FP32")])
    np.testing.assert_array_equal(result.as_numpy("output__0"), a + b)


def test_classification_extension_names_the_daisy(client, models):
    x = np.load(models / "efficientnet_lite0/samples/flower.npy").astype(np.float32)
    if x.ndim == 3:
        x = x[None]
    i = httpclient.InferInput("input", list(x.shape), "FP32")
    i.set_data_from_numpy(x)
    result = client.infer("efficientnet_lite0", [i],
                          outputs=[httpclient.InferRequestedOutput("logits", class_count=3)])
    top = result.as_numpy("logits")
    assert top.shape == (1, 3)
    score, index, label = top[0][0].decode().split(":", 2)
    assert index == "985" and label == "daisy"
    assert float(score) > float(top[0][1].decode().split(":")[0])


def test_a_changed_labels_file_is_read_again(polaris_bin, models, tmp_path):
    """Labels are cached by the file's identity, not for the life of the process: new labels (a
    redeploy of labels.txt, with or without a reload) show in the next classification."""
    import shutil
    from conftest import ServerProcess
    repo = tmp_path / "repo"
    (repo / "identity" / "1").mkdir(parents=True)
    shutil.copy(models / "tiny" / "identity.onnx", repo / "identity" / "1" / "model.onnx")
    (repo / "identity" / "config.pbtxt").write_text(
        'max_batch_size: 8\ninput { name: "input" data_type: TYPE_FP32 dims: [4] }\n'
        'output { name: "output" data_type: TYPE_FP32 dims: [4] label_filename: "labels.txt" }\n')
    labels = repo / "identity" / "labels.txt"
    labels.write_text("a\nb\nc\nd\n")
    server = ServerProcess(polaris_bin, repo)
    try:
        client = httpclient.InferenceServerClient(server.http_url)

        def top_label():
            i = httpclient.InferInput("input", [1, 4], "FP32")
            i.set_data_from_numpy(np.array([[0, 0, 1, 0]], np.float32))
            top = client.infer("identity", [i], outputs=[httpclient.InferRequestedOutput("output", class_count=1)])
            return top.as_numpy("output")[0][0].decode().split(":", 2)[2]

        assert top_label() == "c"
        replacement = labels.with_name("labels.txt.new")
        replacement.write_text("w\nx\nyes\nz\n")
        replacement.rename(labels)  # as a deploy replaces a file: a new inode
        assert top_label() == "yes"
    finally:
        assert server.stop() == 0, server.output()


def test_raw_body_with_header_length_zero(polaris_server, models):
    x = np.load(models / "efficientnet_lite0/samples/flower.npy").astype(np.float32).reshape(1, 3, 224, 224)
    status, headers, body = post(polaris_server, "/v2/models/efficientnet_lite0/infer", x.tobytes(),
                                 {"Inference-Header-Content-Length": "0"})
    assert status == 200, body
    n = int(headers["Inference-Header-Content-Length"])
    logits = np.frombuffer(body[n:], dtype=np.float32)
    assert logits.shape == (1000,) and int(logits.argmax()) == 985


@pytest.mark.parametrize("algorithm", ["gzip", "deflate"])
def test_compressed_requests_and_responses(client, algorithm):
    a = np.arange(32, dtype=np.float32).reshape(2, 16)
    result = infer(client, "add", [("a", a, "FP32"), ("b", a, "FP32")],
                   request_compression_algorithm=algorithm, response_compression_algorithm=algorithm)
    np.testing.assert_array_equal(result.as_numpy("sum"), a + a)


def test_statistics_count_requests(client):
    before = client.get_inference_statistics("identity")["model_stats"][0]
    x = np.ones((1, 4), dtype=np.float32)
    for _ in range(3):
        infer(client, "identity", [("input", x, "FP32")])
    after = client.get_inference_statistics("identity")["model_stats"][0]
    assert after["name"] == "identity" and after["version"] == "1"
    assert after["inference_stats"]["success"]["count"] == before["inference_stats"]["success"]["count"] + 3
    assert after["inference_count"] >= 3 and after["execution_count"] >= 3
    assert after["inference_stats"]["compute_infer"]["ns"] > 0
    assert any(b["batch_size"] == 1 for b in after["batch_stats"])
    every = client.get_inference_statistics()["model_stats"]
    assert any(s["name"] == "identity" for s in every)


def test_repository_index_load_and_unload(client):
    infer(client, "matmul", [("input", np.ones((1, 8), dtype=np.float32), "FP32")])
    index = {(m["name"], m.get("version", "")): m for m in client.get_model_repository_index()}
    assert index[("matmul", "1")]["state"] == "READY"
    assert ("digits", "1") in index
    client.unload_model("matmul")
    states = {m["name"]: m["state"] for m in client.get_model_repository_index()}
    assert states["matmul"] == "UNAVAILABLE"
    client.load_model("matmul")
    assert client.is_model_ready("matmul")


def test_errors_have_the_protocols_codes_and_messages(client, polaris_server):
    with pytest.raises(InferenceServerException) as unknown:
        infer(client, "no_such_model", [("input", np.ones((1, 4), dtype=np.float32), "FP32")])
    assert unknown.value.status() == "404" or "404" in str(unknown.value.status())
    with pytest.raises(InferenceServerException, match="input 'a'.*shape"):
        infer(client, "add", [("a", np.ones((1, 15), dtype=np.float32), "FP32"),
                              ("b", np.ones((1, 16), dtype=np.float32), "FP32")])
    with pytest.raises(InferenceServerException, match="datatype"):
        infer(client, "add", [("a", np.ones((1, 16), dtype=np.int32), "INT32"),
                              ("b", np.ones((1, 16), dtype=np.float32), "FP32")])
    with pytest.raises(InferenceServerException, match="batch of 1 to 8"):
        big = np.ones((9, 16), dtype=np.float32)
        infer(client, "add", [("a", big, "FP32"), ("b", big, "FP32")])


def test_curl_json_infer(polaris_server):
    body = json.dumps({"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]}]})
    out = subprocess.run(["curl", "-s", "-X", "POST", f"http://{polaris_server.http_url}/v2/models/negate/infer",
                          "-H", "Content-Type: application/json", "-d", body],
                         capture_output=True, text=True, check=True).stdout
    answer = json.loads(out)
    assert answer["model_name"] == "negate" and answer["model_version"] == "1"
    assert answer["outputs"][0]["data"] == [-1, -2, -3, -4]
    assert "id" not in answer
    with_id = json.loads(post(polaris_server, "/v2/models/negate/infer",
                              json.dumps({"id": "req-7", **json.loads(body)}).encode())[2])
    assert with_id["id"] == "req-7"


def test_async_client(polaris_server):
    async def run():
        client = aiohttpclient.InferenceServerClient(polaris_server.http_url)
        try:
            x = np.arange(8, dtype=np.float32).reshape(2, 4)
            i = aiohttpclient.InferInput("input", [2, 4], "FP32")
            i.set_data_from_numpy(x)
            results = await asyncio.gather(*[client.infer("negate", [i]) for _ in range(8)])
            for r in results:
                np.testing.assert_array_equal(r.as_numpy("output"), -x)
            assert await client.is_model_ready("negate")
        finally:
            await client.close()
    asyncio.run(run())


def test_metrics_pass_promtool_and_name_the_models(polaris_server, client):
    infer(client, "identity", [("input", np.ones((1, 4), dtype=np.float32), "FP32")])
    with urllib.request.urlopen(f"http://{polaris_server.metrics_url}/metrics", timeout=10) as r:
        text = r.read().decode()
    assert 'nv_inference_request_success{model="identity",version="1"}' in text
    for name in ("nv_inference_count", "nv_inference_exec_count", "nv_inference_request_duration_us",
                 "nv_inference_queue_duration_us", "nv_inference_compute_infer_duration_us",
                 "nv_inference_pending_request_count", "nv_cpu_memory_total_bytes", "polaris_model_resident_bytes",
                 "polaris_memory_budget_bytes", "polaris_loads_total", "polaris_evictions_total",
                 "polaris_model_load_duration_seconds", "polaris_queue_depth"):
        assert f"\n{name}" in text or text.startswith(name) or f"# TYPE {name} " in text, name
    # The exposition must parse (exit 1 would be a format error). Triton's own
    # names break promtool's naming advice (counters without _total, "_us"
    # units): dashboards need them as they are, so those lint findings (exit
    # 3) are expected, and only for nv_* names; Polaris's own names are clean.
    check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    assert check.returncode in (0, 3), check.stdout + check.stderr
    findings = [line for line in (check.stdout + check.stderr).splitlines() if line.strip()]
    assert findings and all(line.startswith("nv_") for line in findings), findings
    ours = "\n".join(line for line in text.splitlines() if "polaris_" in line) + "\n"
    check_ours = subprocess.run(["promtool", "check", "metrics"], input=ours, capture_output=True, text=True)
    assert check_ours.returncode == 0, check_ours.stdout + check_ours.stderr
