"""The models Triton's example clients expect (Triton's example repository), built with the onnx
library to the same configs: simple, simple_int8, simple_string, simple_identity, simple_sequence,
simple_dyna_sequence, simple_string_dyna_sequence, and densenet_onnx (MobileNetV2 with Triton's
densenet config: reshape and labels)."""
import shutil

import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper
import numpy as np


def _save(graph, path):
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model, full_check=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))


def _vi(name, type_, dims):
    return h.make_tensor_value_info(name, type_, dims)


def _model(repo, name, graph, config):
    _save(graph, repo / name / "1" / "model.onnx")
    (repo / name / "config.pbtxt").write_text(config)


def _io(kind, name, type_, dims):
    return f'{kind} {{ name: "{name}" data_type: {type_} dims: {dims} }}\n'


def simple(repo, name, onnx_type, config_type):
    """INPUT0 + INPUT1 -> OUTPUT0, INPUT0 - INPUT1 -> OUTPUT1, [16], max_batch_size 8."""
    graph = h.make_graph([h.make_node("Add", ["INPUT0", "INPUT1"], ["OUTPUT0"]),
                          h.make_node("Sub", ["INPUT0", "INPUT1"], ["OUTPUT1"])], name,
                         [_vi("INPUT0", onnx_type, [None, 16]), _vi("INPUT1", onnx_type, [None, 16])],
                         [_vi("OUTPUT0", onnx_type, [None, 16]), _vi("OUTPUT1", onnx_type, [None, 16])])
    _model(repo, name, graph, "max_batch_size: 8\n" + "".join(
        _io(k, n, config_type, "[16]") for k, n in [("input", "INPUT0"), ("input", "INPUT1"),
                                                    ("output", "OUTPUT0"), ("output", "OUTPUT1")]))


def simple_string(repo):
    """Numbers as strings: parsed, added and subtracted, written back as strings."""
    nodes = [h.make_node("Cast", ["INPUT0"], ["a"], to=T.INT32), h.make_node("Cast", ["INPUT1"], ["b"], to=T.INT32),
             h.make_node("Add", ["a", "b"], ["sum"]), h.make_node("Sub", ["a", "b"], ["diff"]),
             h.make_node("Cast", ["sum"], ["OUTPUT0"], to=T.STRING),
             h.make_node("Cast", ["diff"], ["OUTPUT1"], to=T.STRING)]
    graph = h.make_graph(nodes, "simple_string",
                         [_vi("INPUT0", T.STRING, [None, 16]), _vi("INPUT1", T.STRING, [None, 16])],
                         [_vi("OUTPUT0", T.STRING, [None, 16]), _vi("OUTPUT1", T.STRING, [None, 16])])
    _model(repo, "simple_string", graph, "max_batch_size: 8\n" + "".join(
        _io(k, n, "TYPE_STRING", "[16]") for k, n in [("input", "INPUT0"), ("input", "INPUT1"),
                                                      ("output", "OUTPUT0"), ("output", "OUTPUT1")]))


def simple_identity(repo):
    graph = h.make_graph([h.make_node("Identity", ["INPUT0"], ["OUTPUT0"])], "simple_identity",
                         [_vi("INPUT0", T.STRING, [None, None])], [_vi("OUTPUT0", T.STRING, [None, None])])
    _model(repo, "simple_identity", graph, "max_batch_size: 8\n" + _io("input", "INPUT0", "TYPE_STRING", "[-1]") +
           _io("output", "OUTPUT0", "TYPE_STRING", "[-1]"))


def _sequence(repo, name, corrid_type=None, accumulate=False):
    """Triton's sequence examples: OUTPUT = INPUT + START (simple_sequence), plus the correlation
    id on the END request (dyna); the string dyna model also accumulates (implicit state) and
    starts without the +1, as Triton's custom backends do."""
    inputs = [_vi("INPUT", T.INT32, [None, 1]), _vi("START", T.INT32, [None, 1]), _vi("READY", T.INT32, [None, 1])]
    nodes = [h.make_node("Mul", ["INPUT", "READY"], ["x"])]
    total = "x"
    if not accumulate:
        nodes.append(h.make_node("Add", ["x", "START"], ["with_start"]))
        total = "with_start"
    else:
        inputs.append(_vi("STATE", T.INT32, [None, 1]))
        one = numpy_helper.from_array(np.array(1, np.int32), "one")
        nodes += [h.make_node("Sub", ["one", "START"], ["keep"]), h.make_node("Mul", ["STATE", "keep"], ["carried"]),
                  h.make_node("Add", ["x", "carried"], ["acc"])]
        total = "acc"
    controls = ('  control_input { name: "START" control { kind: CONTROL_SEQUENCE_START int32_false_true: [0, 1] } }\n'
                '  control_input { name: "READY" control { kind: CONTROL_SEQUENCE_READY int32_false_true: [0, 1] } }\n')
    if corrid_type:
        inputs += [_vi("END", T.INT32, [None, 1]), _vi("CORRID", T.STRING if corrid_type == "TYPE_STRING" else T.UINT64,
                                                     [None, 1])]
        nodes += [h.make_node("Cast", ["CORRID"], ["corrid"], to=T.INT32), h.make_node("Mul", ["corrid", "END"], ["c"]),
                  h.make_node("Add", [total, "c"], ["OUTPUT"])]
        controls += ('  control_input { name: "END" control { kind: CONTROL_SEQUENCE_END int32_false_true: [0, 1] } }\n'
                     f'  control_input {{ name: "CORRID" control {{ kind: CONTROL_SEQUENCE_CORRID data_type: {corrid_type} }} }}\n')
    else:
        nodes.append(h.make_node("Identity", [total], ["OUTPUT"]))
    outputs = [_vi("OUTPUT", T.INT32, [None, 1])]
    state = ""
    if accumulate:
        nodes.append(h.make_node("Identity", ["OUTPUT"], ["STATE_OUT"]))
        outputs.append(_vi("STATE_OUT", T.INT32, [None, 1]))
        state = '  state { input_name: "STATE" output_name: "STATE_OUT" data_type: TYPE_INT32 dims: [1] }\n'
    graph = h.make_graph(nodes, name, inputs, outputs, [one] if accumulate else [])
    _model(repo, name, graph, "max_batch_size: 8\n" + _io("input", "INPUT", "TYPE_INT32", "[1]") +
           _io("output", "OUTPUT", "TYPE_INT32", "[1]") +
           "sequence_batching {\n  max_sequence_idle_microseconds: 5000000\n" + controls + state + "}\n")


def densenet(repo, models):
    """Triton's densenet_onnx config (reshape on input and output, labels) on MobileNetV2."""
    # Triton's densenet tensors are data_0 and fc6_1 (grpc_client.py names them).
    model = onnx.load(str(models / "vision" / "mobilenetv2.onnx"))
    renamed = {"input": "data_0", "output": "fc6_1"}
    for value in list(model.graph.input) + list(model.graph.output):
        value.name = renamed.get(value.name, value.name)
    for node in model.graph.node:
        node.input[:] = [renamed.get(n, n) for n in node.input]
        node.output[:] = [renamed.get(n, n) for n in node.output]
    (repo / "densenet_onnx" / "1").mkdir(parents=True)
    onnx.save(model, str(repo / "densenet_onnx" / "1" / "model.onnx"))
    shutil.copy(models / "default" / "efficientnet_lite0" / "labels.txt", repo / "densenet_onnx" / "densenet_labels.txt")
    (repo / "densenet_onnx" / "config.pbtxt").write_text(
        'platform: "onnxruntime_onnx"\nmax_batch_size: 0\n'
        'input { name: "data_0" data_type: TYPE_FP32 format: FORMAT_NCHW dims: [3, 224, 224] '
        'reshape { shape: [1, 3, 224, 224] } }\n'
        'output { name: "fc6_1" data_type: TYPE_FP32 dims: [1000] reshape { shape: [1, 1000] } '
        'label_filename: "densenet_labels.txt" }\n')


def make_repository(repo, models):
    simple(repo, "simple", T.INT32, "TYPE_INT32")
    simple(repo, "simple_int8", T.INT8, "TYPE_INT8")
    simple_string(repo)
    simple_identity(repo)
    _sequence(repo, "simple_sequence")
    _sequence(repo, "simple_dyna_sequence", corrid_type="TYPE_UINT64")
    _sequence(repo, "simple_string_dyna_sequence", corrid_type="TYPE_STRING", accumulate=True)
    densenet(repo, models)
