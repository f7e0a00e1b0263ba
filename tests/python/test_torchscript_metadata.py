"""TorchScript models without a config or sidecar report their tensors (issue 17 item 8).

The default repository's `digits` (a traced, frozen MLP from scripts/make-models, no
config.pbtxt, no sidecar) must list its input and output through every metadata path,
and a request built from that metadata alone must succeed; expected logits come from
eager torch (models/digits/vectors), never from the engine under test.
"""
import json
import urllib.request

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

from conftest import run

DIGITS_INPUT = {"name": "input", "datatype": "FP32", "shape": [-1, 64]}
DIGITS_OUTPUT = {"name": "output__0", "datatype": "FP32", "shape": [-1, 10]}


def get_json(server, path):
    with urllib.request.urlopen(f"http://{server.http_url}{path}", timeout=120) as r:
        return json.loads(r.read())


def concrete(shape, batch):
    """A metadata shape with its dynamic dims filled: the batch first, 1 elsewhere."""
    return [batch if i == 0 and d < 0 else (1 if d < 0 else d) for i, d in enumerate(shape)]


def test_digits_metadata_over_rest_lists_its_tensors(polaris_server):
    meta = get_json(polaris_server, "/v2/models/digits")
    assert meta["platform"] == "pytorch_libtorch"
    assert meta["inputs"] == [DIGITS_INPUT]
    assert meta["outputs"] == [DIGITS_OUTPUT]
    config = get_json(polaris_server, "/v2/models/digits/config")
    assert config["max_batch_size"] == 8  # every tensor's first dim is dynamic, as for ONNX models
    assert [(i["name"], i["data_type"], i["dims"]) for i in config["input"]] == [("input", "TYPE_FP32", [64])]


def test_a_request_built_from_tritonclient_metadata_succeeds(polaris_server, models):
    x = np.load(models / "digits/vectors/input.npy")
    want = np.load(models / "digits/vectors/logits.npy")
    http = httpclient.InferenceServerClient(polaris_server.http_url)
    meta = http.get_model_metadata("digits")
    assert meta["inputs"] == [DIGITS_INPUT] and meta["outputs"] == [DIGITS_OUTPUT]
    (spec,) = meta["inputs"]
    shape = concrete(spec["shape"], len(x))
    assert shape == list(x.shape)
    request = httpclient.InferInput(spec["name"], shape, spec["datatype"])
    request.set_data_from_numpy(x.astype(np.float32))
    out = http.infer("digits", [request]).as_numpy(meta["outputs"][0]["name"])
    np.testing.assert_allclose(out, want, atol=1e-4, rtol=1e-4)

    grpc = grpcclient.InferenceServerClient(polaris_server.grpc_url)
    gmeta = grpc.get_model_metadata("digits")
    assert [(t.name, t.datatype, list(t.shape)) for t in gmeta.inputs] == [("input", "FP32", [-1, 64])]
    assert [(t.name, t.datatype, list(t.shape)) for t in gmeta.outputs] == [("output__0", "FP32", [-1, 10])]
    grequest = grpcclient.InferInput(gmeta.inputs[0].name, concrete(list(gmeta.inputs[0].shape), 3),
                                     gmeta.inputs[0].datatype)
    grequest.set_data_from_numpy(x[:3].astype(np.float32))
    gout = grpc.infer("digits", [grequest]).as_numpy(gmeta.outputs[0].name)
    np.testing.assert_allclose(gout, want[:3], atol=1e-4, rtol=1e-4)
    # Loaded now: its warm-up ran instead of being skipped for unknown inputs.
    log = polaris_server.output()
    assert "model 'digits': warm-up ok" in log, log[-3000:]


def test_info_records_where_the_shapes_came_from(polaris_bin, models):
    info = json.loads(run(polaris_bin, "info", models / "digits/digits.pt", "--json", "--threads", "1").stdout)
    extra = info["extra_info"]
    assert extra["input_shape_source"] == "graph"
    assert "aten::linear" in extra["input_shape_inference"]
    assert extra["output_shape_source"].startswith("probe")
    assert int(extra["parameter_count"]) == 64 * 64 + 64 + 64 * 10 + 10  # frozen archive: its constants


@pytest.mark.parametrize("model", ["digits/digits.pt", "vision/mobilenetv2.pt",
                                   "efficientnet_lite0/efficientnet_lite0.pt"])
def test_predict_random_runs_on_torchscript(polaris_bin, models, model):
    if not (models / model).exists():
        pytest.skip(f"{model} is not generated (scripts/make-models)")
    out = json.loads(run(polaris_bin, "predict", models / model, "--random", "--json", "--threads", "1").stdout)
    (tensor,) = out["outputs"]
    assert tensor["name"] == "output__0" and tensor["datatype"] == "FP32"
    assert tensor["shape"] == ([1, 10] if model.startswith("digits") else [1, 1000])
    assert all(np.isfinite(tensor["data"]))


MODULE_WITH_ANOTHER_SELF_NAME = '''
import sys, torch
class Scaled(torch.nn.Module):
    def __init__(s):
        super().__init__()
        s.fc = torch.nn.Linear(4, 2)
    def forward(s, x):  # `self` is a convention: the module argument may have any name
        return s.fc(x)
torch.jit.save(torch.jit.script(Scaled().eval()), sys.argv[1])
'''


def test_the_module_argument_is_not_an_input_whatever_its_name(polaris_bin, tmp_path):
    import sys
    script = tmp_path / "make.py"
    script.write_text(MODULE_WITH_ANOTHER_SELF_NAME)
    run(sys.executable, script, tmp_path / "scaled.pt")
    info = json.loads(run(polaris_bin, "info", tmp_path / "scaled.pt", "--json").stdout)
    assert info["input_names"] == ["x"], info
