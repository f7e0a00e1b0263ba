"""Triton's `reshape` in config.pbtxt (issue 17): clients send and get the config's dims, the
engine runs on the reshape's, with and without batching, with tritonclient against `polaris serve`.
The densenet-style case is Triton's own example config (densenet_onnx: dims [3,224,224] with
reshape [1,3,224,224], output dims [1000] with reshape [1,1000,1,1]) on MobileNetV2."""
import concurrent.futures

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from conftest import ServerProcess


def link(repo, name, source, config):
    (repo / name / "1").mkdir(parents=True)
    (repo / name / "1" / "model.onnx").symlink_to(source)
    (repo / name / "config.pbtxt").write_text(config)


@pytest.fixture(scope="module")
def server(polaris_bin, models, tmp_path_factory):
    repo = tmp_path_factory.mktemp("reshape") / "repo"
    link(repo, "densenet_like", models / "vision" / "mobilenetv2.onnx",
         'max_batch_size: 0\n'
         'input { name: "input" data_type: TYPE_FP32 dims: [3, 224, 224] reshape { shape: [1, 3, 224, 224] } }\n'
         'output { name: "output" data_type: TYPE_FP32 dims: [1000] reshape { shape: [1, 1000] } }\n')
    # identity.onnx is [batch, 4] -> [batch, 4]: served as [batch, 2, 2], batched dynamically.
    link(repo, "squares", models / "tiny" / "identity.onnx",
         'max_batch_size: 8\n'
         'input { name: "input" data_type: TYPE_FP32 dims: [2, 2] reshape { shape: [4] } }\n'
         'output { name: "output" data_type: TYPE_FP32 dims: [2, 2] reshape { shape: [4] } }\n'
         'dynamic_batching { max_queue_delay_microseconds: 20000 }\n')
    link(repo, "variable", models / "tiny" / "identity.onnx",
         'max_batch_size: 0\n'
         'input { name: "input" data_type: TYPE_FP32 dims: [-1] reshape { shape: [1, -1] } }\n'
         'output { name: "output" data_type: TYPE_FP32 dims: [-1] reshape { shape: [1, -1] } }\n')
    link(repo, "miscounted", models / "tiny" / "identity.onnx",
         'max_batch_size: 0\n'
         'input { name: "input" data_type: TYPE_FP32 dims: [3] reshape { shape: [1, 4] } }\n')
    srv = ServerProcess(polaris_bin, repo)
    yield srv
    assert srv.stop() == 0, srv.output()


def test_a_densenet_style_config_serves_the_config_dims(server, models):
    import onnxruntime as ort
    image = np.random.default_rng(5).normal(size=(3, 224, 224)).astype(np.float32)
    expected = ort.InferenceSession(str(models / "vision" / "mobilenetv2.onnx"),
                                    providers=["CPUExecutionProvider"]).run(None, {"input": image[None]})[0][0]
    for lib, url in ((httpclient, server.http_url), (grpcclient, server.grpc_url)):
        client = lib.InferenceServerClient(url)
        meta = client.get_model_metadata("densenet_like", **({"as_json": True} if lib is grpcclient else {}))
        assert [int(d) for d in meta["inputs"][0]["shape"]] == [3, 224, 224]
        assert [int(d) for d in meta["outputs"][0]["shape"]] == [1000]
        ins = [lib.InferInput("input", [3, 224, 224], "FP32")]
        ins[0].set_data_from_numpy(image)
        out = client.infer("densenet_like", ins).as_numpy("output")
        assert out.shape == (1000,)
        np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


def test_a_batched_reshape_keeps_the_batch_dim_and_every_client_its_rows(server):
    client = httpclient.InferenceServerClient(server.http_url, concurrency=8)
    rng = np.random.default_rng(6)
    sent = [rng.normal(size=(rows, 2, 2)).astype(np.float32) for rows in (1, 3, 2, 1, 1)]

    def one(x):
        ins = [httpclient.InferInput("input", list(x.shape), "FP32")]
        ins[0].set_data_from_numpy(x)
        return client.infer("squares", ins).as_numpy("output")

    with concurrent.futures.ThreadPoolExecutor(len(sent)) as pool:
        answers = list(pool.map(one, sent))
    for x, y in zip(sent, answers):
        assert y.shape == x.shape
        np.testing.assert_array_equal(y, x)


def test_a_variable_dim_is_worked_out_from_the_element_count(server):
    client = grpcclient.InferenceServerClient(server.grpc_url)
    x = np.arange(4, dtype=np.float32)  # [4] -> the engine's [1, 4] -> [4]
    ins = [grpcclient.InferInput("input", [4], "FP32")]
    ins[0].set_data_from_numpy(x)
    np.testing.assert_array_equal(client.infer("variable", ins).as_numpy("output"), x)


def test_a_reshape_of_another_element_count_is_refused_at_load(server):
    client = httpclient.InferenceServerClient(server.http_url)
    ins = [httpclient.InferInput("input", [3], "FP32")]
    ins[0].set_data_from_numpy(np.ones(3, np.float32))
    with pytest.raises(InferenceServerException) as refused:
        client.infer("miscounted", ins)
    assert "failed to load 'miscounted'" in refused.value.message()
    assert "input 'input': dims [3] hold 3 elements, reshape [1,4] holds 4" in refused.value.message()
    row = next(r for r in client.get_model_repository_index() if r["name"] == "miscounted")
    assert row["state"] == "UNAVAILABLE" and "reshape [1,4] holds 4" in row["reason"], row
