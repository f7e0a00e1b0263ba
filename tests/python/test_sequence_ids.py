"""String correlation IDs and max_candidate_sequences (issue 17), as Triton's sequence batcher
has them: a CONTROL_SEQUENCE_CORRID input of TYPE_STRING gets the request's sequence_id (a string,
or a number's digits), over HTTP and gRPC; with the oldest strategy's max_candidate_sequences an
instance holds that many live sequences and a further sequence waits until one ends.

The model is made here with the onnx library: INPUT [batch, 1] INT32 and the control input
CORRID [batch, 1] STRING, echoed as OUTPUT and CORRID_OUT."""
import concurrent.futures

import numpy as np
import onnx
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from onnx import TensorProto, helper

from conftest import ServerProcess

CONFIG = """max_batch_size: 4
input { name: "INPUT" data_type: TYPE_INT32 dims: [1] }
output { name: "OUTPUT" data_type: TYPE_INT32 dims: [1] }
output { name: "CORRID_OUT" data_type: TYPE_STRING dims: [1] }
instance_group { count: 1 kind: KIND_CPU }
sequence_batching {
  max_sequence_idle_microseconds: 60000000
  oldest { max_candidate_sequences: %d }
  control_input { name: "CORRID" control { kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_STRING } }
}
"""


def echo_model(path):
    graph = helper.make_graph(
        [helper.make_node("Identity", ["INPUT"], ["OUTPUT"]), helper.make_node("Identity", ["CORRID"], ["CORRID_OUT"])],
        "corrid_echo",
        [helper.make_tensor_value_info("INPUT", TensorProto.INT32, [None, 1]),
         helper.make_tensor_value_info("CORRID", TensorProto.STRING, [None, 1])],
        [helper.make_tensor_value_info("OUTPUT", TensorProto.INT32, [None, 1]),
         helper.make_tensor_value_info("CORRID_OUT", TensorProto.STRING, [None, 1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))


@pytest.fixture(scope="module")
def server(polaris_bin, tmp_path_factory):
    repo = tmp_path_factory.mktemp("sequence_ids") / "repo"
    for name, candidates in (("corrid", 4), ("one_candidate", 1)):
        (repo / name / "1").mkdir(parents=True)
        echo_model(repo / name / "1" / "model.onnx")
        (repo / name / "config.pbtxt").write_text(CONFIG % candidates)
    srv = ServerProcess(polaris_bin, repo)
    yield srv
    assert srv.stop() == 0, srv.output()


def step(lib, client, model, value, **sequence):
    ins = [lib.InferInput("INPUT", [1, 1], "INT32")]
    ins[0].set_data_from_numpy(np.array([[value]], np.int32))
    return client.infer(model, ins, **sequence)


@pytest.mark.parametrize("lib,url", [(httpclient, "http_url"), (grpcclient, "grpc_url")])
def test_a_string_corrid_input_gets_the_sequence_id(server, lib, url):
    client = lib.InferenceServerClient(getattr(server, url))
    for sequence_id, expected in (("walk-7f3a", b"walk-7f3a"), (123456789012, b"123456789012")):
        for i in range(3):
            r = step(lib, client, "corrid", i, sequence_id=sequence_id, sequence_start=i == 0, sequence_end=i == 2)
            assert r.as_numpy("OUTPUT").tolist() == [[i]]
            assert r.as_numpy("CORRID_OUT").tolist() == [[expected]]


def test_a_sequence_beyond_max_candidate_sequences_waits_for_a_free_slot(server):
    client = httpclient.InferenceServerClient(server.http_url)
    step(httpclient, client, "one_candidate", 1, sequence_id="first", sequence_start=True)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        second = pool.submit(step, httpclient, httpclient.InferenceServerClient(server.http_url), "one_candidate", 2,
                             sequence_id="second", sequence_start=True)
        # The server holds it (queued, not run) while "first" lives...
        server.wait_for_metric("polaris_scheduler_queued", "one_candidate", 1)
        assert not second.done()
        # ...and "first" still runs its requests meanwhile.
        assert step(httpclient, client, "one_candidate", 3, sequence_id="first").as_numpy("OUTPUT").tolist() == [[3]]
        assert not second.done()
        step(httpclient, client, "one_candidate", 4, sequence_id="first", sequence_end=True)
        r = second.result(timeout=60)
    assert r.as_numpy("OUTPUT").tolist() == [[2]]
    assert r.as_numpy("CORRID_OUT").tolist() == [[b"second"]]
    step(httpclient, client, "one_candidate", 5, sequence_id="second", sequence_end=True)
