"""Writes the fuzz targets' seed corpora (fuzz/corpus/<target>/) and the
model-config dictionary (fuzz/dict/model_config.dict).

Run through fuzz/make-seeds (build/venv's Python: onnx and tritonclient's
gRPC messages, wire-compatible with proto/grpc_service.proto). Deterministic:
running it again rewrites the same files. Each seed is small; a few are valid
requests, configs or models and a few are broken on purpose, so every target
starts from both sides of its checks. Nothing is downloaded: the ONNX seeds
are the tiny generated models (build/models/tiny, scripts/make-models) and
models built here with onnx.helper.
"""
import json
import pathlib
import re
import shutil
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
import tritonclient.grpc.service_pb2 as pb

ROOT = pathlib.Path(__file__).resolve().parents[1]
CORPUS = ROOT / "fuzz" / "corpus"
TINY = ROOT / "build" / "models" / "tiny"


def write(target, name, data):
    path = CORPUS / target / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())


def reset(target):
    shutil.rmtree(CORPUS / target, ignore_errors=True)
    (CORPUS / target).mkdir(parents=True)


# ------------------------------------------------------------ fuzz_http_infer
# Byte 0 is the mode (fuzz/fuzz_http_infer.cc): 0 JSON, 1 header NUL binary,
# 2 explicit header length (u16 LE) then body, 3 raw body for config byte 1.

def http_json(doc):
    return json.dumps(doc, separators=(",", ":"))


def http_seeds():
    t = "fuzz_http_infer"
    reset(t)
    ints = list(range(16))
    simple = {
        "id": "42",
        "inputs": [
            {"name": "INPUT0", "datatype": "INT32", "shape": [1, 16], "data": ints},
            {"name": "INPUT1", "datatype": "INT32", "shape": [1, 16], "data": [[1] * 16]},
        ],
        "outputs": [{"name": "OUTPUT0"}, {"name": "OUTPUT1", "parameters": {"binary_data": True}}],
    }
    write(t, "json-simple", b"\x00" + http_json(simple).encode())
    params = dict(simple, parameters={"priority": 1, "timeout": 1000, "sequence_id": "s1",
                                      "sequence_start": True, "binary_data_output": True})
    params["outputs"] = [{"name": "OUTPUT0", "parameters": {"classification": 3}}]
    write(t, "json-parameters-classification", b"\x00" + http_json(params).encode())
    types = {"inputs": [
        {"name": "B", "datatype": "BOOL", "shape": [2], "data": [True, False]},
        {"name": "U8", "datatype": "UINT8", "shape": [2], "data": [0, 255]},
        {"name": "I8", "datatype": "INT8", "shape": [2], "data": [-128, 127]},
        {"name": "U64", "datatype": "UINT64", "shape": [1], "data": [18446744073709551615]},
        {"name": "F32", "datatype": "FP32", "shape": [2], "data": [1.5, -2.25e-3]},
        {"name": "F64", "datatype": "FP64", "shape": [1, 1], "data": [[3.141592653589793]]},
        {"name": "S", "datatype": "BYTES", "shape": [2], "data": ["hello", ""]},
    ]}
    write(t, "json-every-type", b"\x00" + http_json(types).encode())
    write(t, "json-batch-2", b"\x00" + http_json({"inputs": [
        {"name": "INPUT0", "datatype": "INT32", "shape": [2, 16], "data": ints + ints},
        {"name": "INPUT1", "datatype": "INT32", "shape": [2, 16], "data": ints + ints}]}).encode())
    # Broken on purpose.
    write(t, "json-truncated", b"\x00" + http_json(simple).encode()[:40])
    write(t, "json-count-mismatch", b"\x00" + http_json({"inputs": [
        {"name": "INPUT0", "datatype": "INT32", "shape": [1, 16], "data": [1, 2, 3]}]}).encode())
    write(t, "json-out-of-range", b"\x00" + http_json({"inputs": [
        {"name": "X", "datatype": "INT8", "shape": [1], "data": [300]}]}).encode())
    write(t, "json-fp16-as-json", b"\x00" + http_json({"inputs": [
        {"name": "X", "datatype": "FP16", "shape": [1], "data": [1.0]}]}).encode())
    write(t, "json-deep-nesting", b"\x00" + b'{"inputs":[{"name":"X","datatype":"INT32","shape":[1],"data":' +
          b"[" * 64 + b"1" + b"]" * 64 + b"}]}")
    write(t, "json-huge-shape", b"\x00" + http_json({"inputs": [
        {"name": "X", "datatype": "FP32", "shape": [1 << 40, 1 << 40], "data": []}]}).encode())
    write(t, "json-not-an-object", b"\x00[1,2,3]")

    # Binary extension: header NUL binary.
    raw0 = struct.pack("<16i", *ints)
    raw1 = struct.pack("<16i", *([7] * 16))
    header = {"inputs": [
        {"name": "INPUT0", "datatype": "INT32", "shape": [1, 16], "parameters": {"binary_data_size": 64}},
        {"name": "INPUT1", "datatype": "INT32", "shape": [1, 16], "parameters": {"binary_data_size": 64}}],
        "parameters": {"binary_data_output": True}}
    write(t, "binary-simple", b"\x01" + http_json(header).encode() + b"\x00" + raw0 + raw1)
    strings = struct.pack("<I", 3) + b"abc" + struct.pack("<I", 0)
    mixed = {"inputs": [
        {"name": "S", "datatype": "BYTES", "shape": [2], "parameters": {"binary_data_size": len(strings)}},
        {"name": "H", "datatype": "FP16", "shape": [1, 2], "parameters": {"binary_data_size": 4}},
        {"name": "B", "datatype": "BOOL", "shape": [3], "parameters": {"binary_data_size": 3}},
        {"name": "J", "datatype": "INT64", "shape": [1], "data": [-1]}]}
    write(t, "binary-bytes-fp16-bool", b"\x01" + http_json(mixed).encode() + b"\x00" + strings +
          b"\x00\x3c\x00\xc0" + b"\x01\x00\x01")
    write(t, "binary-bad-bool", b"\x01" + http_json({"inputs": [
        {"name": "B", "datatype": "BOOL", "shape": [2], "parameters": {"binary_data_size": 2}}]}).encode() +
          b"\x00\x01\x02")
    write(t, "binary-past-end", b"\x01" + http_json({"inputs": [
        {"name": "X", "datatype": "INT32", "shape": [4], "parameters": {"binary_data_size": 16}}]}).encode() +
          b"\x00" + b"\x00" * 8)
    write(t, "binary-bad-string-length", b"\x01" + http_json({"inputs": [
        {"name": "S", "datatype": "BYTES", "shape": [1], "parameters": {"binary_data_size": 8}}]}).encode() +
          b"\x00" + struct.pack("<I", 1000) + b"abcd")
    # Explicit Inference-Header-Content-Length, right and wrong.
    body = http_json(header).encode()
    write(t, "length-right", b"\x02" + struct.pack("<H", len(body)) + body + raw0 + raw1)
    write(t, "length-too-long", b"\x02" + struct.pack("<H", 60000) + body + raw0 + raw1)
    write(t, "length-inside-json", b"\x02" + struct.pack("<H", 20) + body + raw0 + raw1)
    # Raw bodies for fuzz_http_infer.cc's raw_configs(): single, strings,
    # flags, half, scalar, variable, simple.
    write(t, "raw-single-int32", b"\x03\x00" + raw0)
    write(t, "raw-strings", b"\x03\x01" + struct.pack("<I", 2) + b"hi" + struct.pack("<I", 1) + b"!")
    write(t, "raw-flags", b"\x03\x02" + b"\x00\x01\x01\x00\x00\x01")
    write(t, "raw-half", b"\x03\x03" + b"\x00\x3c" * 4)
    write(t, "raw-scalar", b"\x03\x04" + struct.pack("<q", -5))
    write(t, "raw-variable-refused", b"\x03\x05" + b"\x00" * 8)
    write(t, "raw-two-inputs-refused", b"\x03\x06" + raw0 + raw1)
    write(t, "raw-wrong-size", b"\x03\x00" + raw0[:10])
    # Regressions: numbers RapidJSON 1.1.0's full-precision strtod got wrong
    # (undefined behaviour; found by this target, docs/fuzzing.md).
    write(t, "regression-rapidjson-zero-with-exponent-minimal", b"e0e40")
    write(t, "regression-rapidjson-fp32-data-0e40", b"\x00" + http_json({"inputs": [
        {"name": "INPUT0", "datatype": "FP32", "shape": [1, 1], "data": [0]}]}).encode().replace(b"[0]", b"[0e40]"))
    write(t, "regression-rapidjson-fp64-data-2pow64-rounding", b"\x00" + http_json({"inputs": [
        {"name": "INPUT0", "datatype": "FP64", "shape": [1], "data": [184467440737095516157]}]}).encode())
    write(t, "regression-rapidjson-cached-power-index-e308",
          b"\x001118446744073709552" + b"2" * 53 + b"1615e308]")


# ------------------------------------------------------------ fuzz_grpc_infer

def grpc_seeds():
    t = "fuzz_grpc_infer"
    reset(t)

    def request(**kw):
        r = pb.ModelInferRequest(model_name="simple", **kw)
        return r

    r = request(id="1")
    for name in ("INPUT0", "INPUT1"):
        i = r.inputs.add(name=name, datatype="INT32", shape=[1, 16])
        i.contents.int_contents.extend(range(16))
    r.outputs.add(name="OUTPUT0")
    write(t, "typed-simple", r.SerializeToString(deterministic=True))

    r = request(model_version="1")
    for name in ("INPUT0", "INPUT1"):
        r.inputs.add(name=name, datatype="INT32", shape=[2, 16])
        r.raw_input_contents.append(struct.pack("<32i", *range(32)))
    o = r.outputs.add(name="OUTPUT1")
    o.parameters["classification"].int64_param = 2
    r.parameters["sequence_id"].int64_param = 7
    r.parameters["sequence_start"].bool_param = True
    r.parameters["priority"].uint64_param = 1
    r.parameters["timeout"].int64_param = 5000
    write(t, "raw-simple-parameters", r.SerializeToString(deterministic=True))

    r = request()
    i = r.inputs.add(name="S", datatype="BYTES", shape=[2])
    i.contents.bytes_contents.extend([b"abc", b"\xff\xfe"])
    i = r.inputs.add(name="B", datatype="BOOL", shape=[2])
    i.contents.bool_contents.extend([True, False])
    i = r.inputs.add(name="U8", datatype="UINT8", shape=[2])
    i.contents.uint_contents.extend([0, 255])
    i = r.inputs.add(name="I16", datatype="INT16", shape=[1])
    i.contents.int_contents.extend([-32768])
    i = r.inputs.add(name="F", datatype="FP32", shape=[1])
    i.contents.fp32_contents.extend([0.5])
    i = r.inputs.add(name="D", datatype="FP64", shape=[1])
    i.contents.fp64_contents.extend([2.5])
    i = r.inputs.add(name="L", datatype="INT64", shape=[1])
    i.contents.int64_contents.extend([-1])
    i = r.inputs.add(name="UL", datatype="UINT64", shape=[1])
    i.contents.uint64_contents.extend([1 << 63])
    r.parameters["sequence_id"].string_param = "abc"
    write(t, "typed-every-type", r.SerializeToString(deterministic=True))

    r = request()
    r.inputs.add(name="S", datatype="BYTES", shape=[2])
    r.raw_input_contents.append(struct.pack("<I", 1) + b"x" + struct.pack("<I", 2) + b"yz")
    r.inputs.add(name="H", datatype="FP16", shape=[1, 2])
    r.raw_input_contents.append(b"\x00\x3c\x00\xc0")
    r.inputs.add(name="B", datatype="BOOL", shape=[2])
    r.raw_input_contents.append(b"\x01\x00")
    write(t, "raw-bytes-fp16-bool", r.SerializeToString(deterministic=True))

    # Broken on purpose.
    r = request()
    r.inputs.add(name="A", datatype="INT32", shape=[1])
    r.inputs.add(name="B", datatype="INT32", shape=[1])
    r.raw_input_contents.append(b"\x00" * 4)
    write(t, "raw-count-mismatch", r.SerializeToString(deterministic=True))
    r = request()
    for _ in range(2):
        r.inputs.add(name="A", datatype="INT32", shape=[1]).contents.int_contents.append(1)
    write(t, "duplicate-input", r.SerializeToString(deterministic=True))
    r = request()
    r.outputs.add(name="O")
    r.outputs.add(name="O")
    write(t, "duplicate-output", r.SerializeToString(deterministic=True))
    r = request()
    r.inputs.add(name="A", datatype="INT8", shape=[1]).contents.int_contents.append(1000)
    write(t, "typed-out-of-range", r.SerializeToString(deterministic=True))
    r = request()
    r.inputs.add(name="A", datatype="INT32", shape=[3]).contents.fp32_contents.extend([1, 2, 3])
    write(t, "typed-wrong-field", r.SerializeToString(deterministic=True))
    r = request()
    r.inputs.add(name="A", datatype="FP32", shape=[1 << 30, 1 << 30])
    r.raw_input_contents.append(b"")
    write(t, "raw-huge-shape", r.SerializeToString(deterministic=True))
    r = request(model_version="x1")
    write(t, "bad-version", r.SerializeToString(deterministic=True))
    r = request()
    o = r.outputs.add(name="O")
    o.parameters["classification"].string_param = "three"
    write(t, "bad-classification", r.SerializeToString(deterministic=True))
    write(t, "not-protobuf", b"\xff\xff\xff\xff\x0f")


# ---------------------------------------------------------- fuzz_model_config

SIMPLE_PBTXT = """name: "simple"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [
  { name: "INPUT0" data_type: TYPE_INT32 dims: [ 16 ] },
  { name: "INPUT1" data_type: TYPE_INT32 dims: [ 16 ] }
]
output [
  { name: "OUTPUT0" data_type: TYPE_INT32 dims: [ 16 ] },
  { name: "OUTPUT1" data_type: TYPE_INT32 dims: [ 16 ] }
]
"""


def config_seeds():
    t = "fuzz_model_config"
    reset(t)
    write(t, "simple.pbtxt", SIMPLE_PBTXT)
    write(t, "dynamic-batching.pbtxt", SIMPLE_PBTXT + """dynamic_batching {
  preferred_batch_size: [ 4, 8 ]
  max_queue_delay_microseconds: 100
  preserve_ordering: true
  priority_levels: 3
  default_priority_level: 2
  default_queue_policy { timeout_action: DELAY default_timeout_microseconds: 5000 allow_timeout_override: true max_queue_size: 16 }
  priority_queue_policy { key: 1 value { timeout_action: REJECT max_queue_size: 4 } }
}
instance_group [ { kind: KIND_CPU count: 2 }, { kind: KIND_GPU gpus: [ 0, 1 ] } ]
parameters { key: "polaris.latency_target_ms" value { string_value: "20" } }
parameters { key: "polaris.pinned" value { string_value: "true" } }
parameters { key: "polaris.keep_alive" value { string_value: "5m" } }
parameters { key: "polaris.provider" value { string_value: "webgpu,cpu" } }
version_policy { specific { versions: [ 1, 3 ] } }
""")
    write(t, "sequence.pbtxt", """name: "accumulate"
backend: "onnxruntime"
max_batch_size: 4
input [ { name: "x" data_type: TYPE_FP32 dims: [ 1 ] } ]
output [ { name: "y" data_type: TYPE_FP32 dims: [ 1 ] } ]
sequence_batching {
  max_sequence_idle_microseconds: 5000000
  control_input [
    { name: "start" control [ { kind: CONTROL_SEQUENCE_START fp32_false_true: [ 0, 1 ] } ] },
    { name: "corrid" control [ { kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_UINT64 } ] }
  ]
  state [ { input_name: "state_in" output_name: "state_out" data_type: TYPE_FP32 dims: [ 1 ]
            initial_state [ { name: "zeros" data_type: TYPE_FP32 dims: [ 1 ] zero_data: true } ] } ]
  oldest { max_candidate_sequences: 4 preferred_batch_size: [ 2 ] }
}
""")
    write(t, "warmup-torch.pbtxt", """name: "digits"
platform: "pytorch_libtorch"
max_batch_size: 0
input [ { name: "x" data_type: TYPE_FP32 dims: [ 1, 1, 8, 8 ] format: FORMAT_NCHW } ]
output [ { name: "output__0" data_type: TYPE_FP32 dims: [ 1, 10 ] label_filename: "labels.txt" } ]
model_warmup [
  { name: "zeros" batch_size: 1 count: 2 inputs { key: "x" value { data_type: TYPE_FP32 dims: [ 1, 1, 8, 8 ] zero_data: true } } },
  { name: "file" inputs { key: "x" value { data_type: TYPE_FP32 dims: [ 1, 1, 8, 8 ] input_data_file: "x.bin" } } }
]
default_model_filename: "model.pt"
optimization { }
model_transaction_policy { decoupled: false }
response_cache { enable: true }
""")
    write(t, "empty.pbtxt", "")
    write(t, "simple.json", json.dumps({
        "name": "simple", "platform": "onnxruntime_onnx", "maxBatchSize": 8,
        "input": [{"name": "INPUT0", "data_type": "TYPE_INT32", "dims": ["16"]},
                  {"name": "INPUT1", "dataType": "TYPE_INT32", "dims": [16]}],
        "dynamic_batching": {"max_queue_delay_microseconds": "100", "priority_queue_policy": {"2": {"max_queue_size": 1}}},
        "parameters": {"polaris.keep_alive": {"string_value": "0"}}}))
    # Broken on purpose.
    write(t, "unknown-field.pbtxt", SIMPLE_PBTXT + "max_batch: 4\n")
    write(t, "bad-enum.pbtxt", 'input { name: "x" data_type: TYPE_FLOAT dims: [ 1 ] }\n')
    write(t, "syntax-error.pbtxt", 'name: "x\ninput [ { ')
    write(t, "contradictions.pbtxt", """max_batch_size: -1
dynamic_batching { preferred_batch_size: [ 16 ] priority_levels: 2 default_priority_level: 5 }
instance_group [ { kind: KIND_GPU count: -1 gpus: [ -1 ] } ]
parameters { key: "polaris.keep_alive" value { string_value: "-3s" } }
parameters { key: "polaris.latency_target_ms" value { string_value: "soon" } }
""")
    write(t, "unknown-field.json", '{"name": "x", "maxBatch": 3}')
    write(t, "int64-overflow.json", '{"input": [{"name": "x", "dims": ["99999999999999999999"]}]}')


def config_dictionary():
    """Field and enum names from proto/model_config.proto, plus the values
    Polaris reads."""
    proto = (ROOT / "proto" / "model_config.proto").read_text()
    words = set(re.findall(r"^\s*(?:repeated\s+)?(?:map<[^>]*>|[\w.]+)\s+(\w+)\s*=\s*\d+;", proto, re.M))
    words |= set(re.findall(r"^\s*([A-Z][A-Z0-9_]+)\s*=\s*\d+;", proto, re.M))
    words |= {"polaris.pinned", "polaris.keep_alive", "polaris.latency_target_ms", "polaris.provider",
              "onnxruntime_onnx", "pytorch_libtorch", "onnxruntime", "pytorch", "opencv", "true", "false",
              "string_value", "key", "value", "nan", "inf", "-1", "5m", "250ms", "30s", "1h"}
    lines = ["# Field, enum and value names of model_config.proto and Polaris's parameters",
             "# (written by fuzz/make-seeds from proto/model_config.proto)."]
    for w in sorted(words):
        lines.append(json.dumps(w))
    lines += ['"{"', '"}"', '"["', '"]"', '":"', '"\\""']
    path = ROOT / "fuzz" / "dict" / "model_config.dict"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


# ---------------------------------------------------------------- fuzz_tensor
# Layout (fuzz/fuzz_tensor.cc): u8 dtype, u8 rank, per dim u8 kind [+ value],
# u8 pattern mask, u8 misalignment, u16 first, u16 count, u8 k, u8 splits
# [+ sizes], payload. DataType numbers: 1 BOOL 2 UINT8 3 UINT16 4 UINT32
# 5 UINT64 6 INT8 7 INT16 8 INT32 9 INT64 10 FP16 11 FP32 12 FP64 13 BF16
# 14 BYTES.

def tensor(dtype, dims, payload, mask=0, misalign=0, first=0, count=1, k=1, splits=()):
    out = bytearray([dtype, len(dims)])
    for d in dims:
        if d == -1:
            out.append(255)
        elif 0 <= d < 8:
            out.append(d)
        elif 0 <= d < 65536:
            out += bytes([200]) + struct.pack("<H", d)
        else:
            out += bytes([230]) + struct.pack("<q", d)
    out += bytes([mask, misalign]) + struct.pack("<HH", first, count) + bytes([k, len(splits)]) + bytes(splits)
    return bytes(out) + payload


def bytes_elements(*strings):
    return b"".join(struct.pack("<I", len(s)) + s for s in strings)


def tensor_seeds():
    t = "fuzz_tensor"
    reset(t)
    write(t, "int32-2x3", tensor(8, [2, 3], struct.pack("<6i", *range(6)), first=1, count=1, splits=(1,)))
    write(t, "fp32-2x4-topk", tensor(11, [2, 4], struct.pack("<8f", 0.1, 0.7, 0.2, 0.0, 1, 2, 3, 4), k=2))
    write(t, "fp16-3x2-misaligned", tensor(10, [3, 2], b"\x00\x3c" * 6, misalign=1, first=1, count=2, k=1))
    write(t, "int64-misaligned", tensor(9, [2], struct.pack("<2q", -1, 1 << 62), misalign=3, mask=1))
    write(t, "bytes-2x2", tensor(14, [2, 2], bytes_elements(b"a", b"", b"hello", b"\xff"), first=1, count=1,
                                 splits=(1, 0)))
    write(t, "bool-4", tensor(1, [4], b"\x00\x01\x01\x00", misalign=5))
    write(t, "bf16-scalar", tensor(13, [], b"\x80\x3f"))
    write(t, "uint8-big-dim", tensor(2, [300], bytes(range(256)) + bytes(44), first=100, count=50, splits=(10, 20, 30)))
    # Broken on purpose.
    write(t, "bool-bad-byte", tensor(1, [2], b"\x01\x07"))
    write(t, "size-mismatch", tensor(12, [2, 2], b"\x00" * 24))
    write(t, "bytes-truncated", tensor(14, [2], struct.pack("<I", 10) + b"abc"))
    write(t, "bytes-extra", tensor(14, [1], bytes_elements(b"a", b"b")))
    write(t, "dynamic-dim", tensor(11, [-1, 4], b"", mask=2))
    write(t, "huge-dims", tensor(4, [1 << 40, 1 << 40, 0], b""))
    write(t, "negative-dim", tensor(8, [-5], b""))
    write(t, "rank-33", tensor(2, [1] * 33, b"\x00"))
    write(t, "invalid-dtype", tensor(0, [1], b"\x00"))


# ----------------------------------------------------------- fuzz_model_load

def onnx_bytes(model):
    return model.SerializeToString(deterministic=True)


def graph_model(nodes, inputs, outputs, initializers=(), opset=17, ir=8, **kw):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers), **kw)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=ir,
                             producer_name="polaris-fuzz-seeds")


def vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def model_seeds():
    t = "fuzz_model_load"
    reset(t)
    if not TINY.is_dir():
        sys.exit(f"make_seeds: {TINY} is missing: run scripts/make-models first")
    for name in ("identity", "add", "simple", "dynamic_batch", "matmul", "multi_io", "negate",
                 "dtype_fp16", "dtype_bf16", "dtype_bool", "dtype_int64", "dtype_uint8"):
        shutil.copy(TINY / f"{name}.onnx", CORPUS / t / f"tiny-{name}.onnx")

    f = TensorProto.FLOAT
    w = numpy_helper.from_array(np.arange(8, dtype=np.float32).reshape(2, 1, 2, 2), "w")
    write(t, "conv-relu.onnx", onnx_bytes(graph_model(
        [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c"], ["y"])],
        [vi("x", f, ["batch", 1, 4, 4])], [vi("y", f, None)], [w])))
    shape = numpy_helper.from_array(np.array([-1, 6], dtype=np.int64), "shape")
    write(t, "reshape-transpose.onnx", onnx_bytes(graph_model(
        [helper.make_node("Reshape", ["x", "shape"], ["r"]), helper.make_node("Transpose", ["r"], ["y"], perm=[1, 0])],
        [vi("x", f, ["n", 2, 3])], [vi("y", f, [6, "n"])], [shape])))
    write(t, "shape-gather-expand.onnx", onnx_bytes(graph_model(
        [helper.make_node("Shape", ["x"], ["s"]),
         helper.make_node("Expand", ["x", "s"], ["y"]),
         helper.make_node("ReduceSum", ["y"], ["z"], keepdims=0)],
        [vi("x", f, ["a", "b"])], [vi("z", f, None)])))
    then_g = helper.make_graph([helper.make_node("Identity", ["x"], ["t"])], "then", [], [vi("t", f, [2])])
    else_g = helper.make_graph([helper.make_node("Neg", ["x"], ["e"])], "else", [], [vi("e", f, [2])])
    write(t, "if-subgraph.onnx", onnx_bytes(graph_model(
        [helper.make_node("If", ["cond"], ["y"], then_branch=then_g, else_branch=else_g)],
        [vi("cond", TensorProto.BOOL, []), vi("x", f, [2])], [vi("y", f, [2])])))
    write(t, "string-identity.onnx", onnx_bytes(graph_model(
        [helper.make_node("Identity", ["s"], ["y"])],
        [vi("s", TensorProto.STRING, ["n"])], [vi("y", TensorProto.STRING, ["n"])])))
    ext = numpy_helper.from_array(np.ones(4, dtype=np.float32), "ext")
    ext.ClearField("raw_data")
    ext.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "weights.bin"), ("offset", "0"), ("length", "16")):
        ext.external_data.add(key=k, value=v)
    write(t, "external-data-missing.onnx", onnx_bytes(graph_model(
        [helper.make_node("Add", ["x", "ext"], ["y"])], [vi("x", f, [4])], [vi("y", f, [4])], [ext])))
    write(t, "unknown-op.onnx", onnx_bytes(graph_model(
        [helper.make_node("NoSuchOp", ["x"], ["y"], domain="polaris.fuzz")],
        [vi("x", f, [1])], [vi("y", f, [1])])))
    write(t, "opset-1.onnx", onnx_bytes(graph_model(
        [helper.make_node("Relu", ["x"], ["y"])], [vi("x", f, [1])], [vi("y", f, [1])], opset=1, ir=3)))
    write(t, "missing-input.onnx", onnx_bytes(graph_model(
        [helper.make_node("Add", ["x", "nowhere"], ["y"])], [vi("x", f, [1])], [vi("y", f, [1])])))
    write(t, "cycle.onnx", onnx_bytes(graph_model(
        [helper.make_node("Add", ["x", "b"], ["a"]), helper.make_node("Relu", ["a"], ["b"]),
         helper.make_node("Identity", ["a"], ["y"])], [vi("x", f, [1])], [vi("y", f, [1])])))
    write(t, "no-outputs.onnx", onnx_bytes(graph_model([], [vi("x", f, [1])], [])))
    write(t, "ir-99.onnx", onnx_bytes(graph_model(
        [helper.make_node("Relu", ["x"], ["y"])], [vi("x", f, [1])], [vi("y", f, [1])], ir=99)))
    add = (TINY / "add.onnx").read_bytes()
    write(t, "truncated-add.onnx", add[: len(add) // 2])
    flipped = bytearray(add)
    for i in range(5, len(flipped), 17):
        flipped[i] ^= 0x5A
    write(t, "bitflipped-add.onnx", bytes(flipped))
    write(t, "not-a-model.onnx", b"this is not an ONNX model\n")


def main():
    http_seeds()
    grpc_seeds()
    config_seeds()
    config_dictionary()
    tensor_seeds()
    model_seeds()
    for d in sorted(CORPUS.iterdir()):
        files = list(d.iterdir())
        print(f"{d.relative_to(ROOT)}: {len(files)} seeds, {sum(p.stat().st_size for p in files)} bytes")


if __name__ == "__main__":
    main()
