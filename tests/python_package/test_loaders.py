"""ONNXModelLoader / PyTorchModelLoader / create_loader against the real engines: every
generated model's reference vectors (tests/../scripts/make-models wrote them with the
framework that exported the model), metadata, zero-copy results and errors."""
import os

import numpy as np
import pytest

import polaris
from conftest import MODELS, load_vector, manifest

CASES = [(m, i) for m in manifest() for i, _ in enumerate(m.get("tests", []))
         if m["format"] in ("onnx", "torchscript") and not m["name"].endswith("_opencv")]


@pytest.mark.parametrize("model,case", CASES, ids=[f"{m['name']}-{i}" for m, i in CASES])
def test_outputs_equal_the_reference_vectors(model, case):
    test = model["tests"][case]
    loader = polaris.create_loader(MODELS / model["path"])
    metadata = loader.load(MODELS / model["path"])
    if any(i["datatype"] == "BF16" for i in model["inputs"]) and metadata.input_dtypes == [""]:
        pytest.skip("numpy has no bfloat16 and this TorchScript model declares no input types, so a "
                    "bfloat16 input cannot be told from uint16 (docs/python.md); `polaris serve` takes BF16")
    inputs = {name: load_vector(MODELS / path) for name, path in test["inputs"].items()}
    outputs = loader.predict(inputs)
    assert list(outputs) == metadata.output_names or set(test["outputs"]) <= set(outputs)
    for name, path in test["outputs"].items():
        expected, got = load_vector(MODELS / path), outputs[name]
        if {o["name"]: o["datatype"] for o in model["outputs"]}.get(name) == "BF16":
            # Stored as bit patterns; the package widens BF16 outputs to float32.
            expected = (expected.astype(np.uint32) << 16).view(np.float32)
        assert got.shape == expected.shape, name
        if expected.dtype.kind in "OSU":  # BYTES: an object array of bytes
            assert got.dtype == object, name
            assert list(got.ravel()) == [x if isinstance(x, bytes) else str(x).encode() for x in expected.ravel()]
        elif expected.dtype.kind == "f" or got.dtype.kind == "f":
            np.testing.assert_allclose(got.astype(np.float64), expected.astype(np.float64),
                                       atol=test.get("atol", 1e-5), rtol=test.get("rtol", 1e-5), err_msg=name)
        else:
            assert got.dtype == expected.dtype, name
            assert np.array_equal(got, expected), name


def test_metadata_has_the_seeds_fields_and_dynamic_dims(models):
    path = models / "vision" / "mobilenetv2.onnx"
    m = polaris.ONNXModelLoader().load(path)
    assert m.framework == "onnx"
    assert m.input_names == [s.name for s in m.inputs] and len(m.input_names) == 1
    assert m.input_dtypes == ["float32"] and m.output_dtypes == ["float32"]
    assert m.input_shapes[0][1:] == [3, 224, 224]
    assert m.input_shapes[0][0] is None or isinstance(m.input_shapes[0][0], str)  # dynamic batch
    assert m.output_shapes[0][1:] == [1000]
    assert m.file_size_mb == pytest.approx(os.path.getsize(path) / 2**20, rel=1e-3)
    assert m.estimated_memory_mb > 0 and m.measured_memory_mb >= 0
    assert m.provider.endswith("ExecutionProvider") and m.provider in polaris.providers()
    assert m.optimization_level == 2
    assert isinstance(m.extra_info, dict)

    t = polaris.PyTorchModelLoader().load(models / "tiny" / "add.pt")
    assert t.framework == "torchscript" and t.provider == "cpu"
    assert t.input_names == ["a", "b"]


def test_results_view_the_engines_buffer_and_inputs_may_be_any_layout(models):
    loader = polaris.ONNXModelLoader()
    loader.load(models / "tiny" / "identity.onnx")
    x = np.arange(32, dtype=np.float32).reshape(8, 4)
    out = loader.predict(x)["output"]
    assert not out.flags.owndata and out.base is not None  # no copy out of the engine
    assert np.array_equal(out, x)
    strided = np.asfortranarray(x)[::2]  # not C-contiguous: copied once, same answer
    assert np.array_equal(loader.predict(strided)["output"], x[::2])
    assert np.array_equal(loader.predict([[1.0, 2.0, 3.0, 4.0]])["output"], [[1, 2, 3, 4]])
    # The result outlives the loader (it owns the engine's buffer).
    loader.unload()
    assert np.array_equal(out, x)


def test_inputs_as_a_list_or_dict_and_requested_outputs(models):
    loader = polaris.create_loader(models / "tiny" / "multi_io.onnx")
    m = loader.load(models / "tiny" / "multi_io.onnx")
    arrays = [np.ones([d if isinstance(d, int) else 2 for d in shape], np.dtype(dt))
              for shape, dt in zip(m.input_shapes, m.input_dtypes)]
    by_list = loader.predict(arrays)
    by_dict = loader.predict(dict(zip(m.input_names, arrays)))
    assert list(by_list) == m.output_names
    for name in m.output_names:
        assert np.array_equal(by_list[name], by_dict[name])
    only = loader.predict(arrays, outputs=m.output_names[-1])
    assert list(only) == [m.output_names[-1]]


def test_bfloat16_inputs_take_floats_or_bit_patterns(models):
    loader = polaris.ONNXModelLoader()
    m = loader.load(models / "tiny" / "dtype_bf16.onnx")
    assert m.input_dtypes == ["bfloat16"]
    shape = [d if isinstance(d, int) else 2 for d in m.input_shapes[0]]
    values = np.linspace(-3, 3, int(np.prod(shape)), dtype=np.float32).reshape(shape)
    bits = (values.view(np.uint32) >> 16).astype(np.uint16)  # truncated bit patterns
    from_floats = next(iter(loader.predict(values).values()))
    from_bits = next(iter(loader.predict(bits).values()))
    assert from_floats.dtype == np.float32  # BF16 outputs widen to float32
    np.testing.assert_allclose(from_floats, from_bits, atol=0.05)
    np.testing.assert_allclose(from_bits, values, atol=0.05)  # bf16 keeps ~3 significant digits


def test_strings_in_and_out(models):
    loader = polaris.ONNXModelLoader()
    loader.load(models / "tiny" / "strings_identity.onnx")
    words = np.array([["polaris", "é"], ["", "x" * 1000]], dtype=object)
    out = next(iter(loader.predict(words).values()))
    assert out.dtype == object and out.shape == (2, 2)
    assert [w.decode() if isinstance(w, bytes) else w for w in out.ravel()] == list(words.ravel())


def test_bad_input_raises_value_error_with_the_engines_words(models):
    loader = polaris.ONNXModelLoader()
    loader.load(models / "vision" / "mobilenetv2.onnx")
    with pytest.raises(ValueError, match=r"input"):
        loader.predict(np.zeros((1, 3, 10, 10), np.float32))
    with pytest.raises(ValueError, match=r"(?i)datatype|dtype|FP32|float"):
        loader.predict(np.zeros((1, 3, 224, 224), np.int64))
    with pytest.raises(ValueError, match="has no input 'nope'"):
        loader.predict({"nope": np.zeros((1, 3, 224, 224), np.float32)})
    with pytest.raises(ValueError, match="expected a numpy array"):
        loader.predict(object())
    # The loader still serves after every refusal.
    x = np.load(models / "efficientnet_lite0" / "samples" / "flower.npy")
    assert loader.predict(x)[loader.metadata.output_names[0]].shape == (1, 1000)


def test_loading_errors(models, tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.onnx"):
        polaris.ONNXModelLoader().load(tmp_path / "nowhere.onnx")
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(os.urandom(4096))
    with pytest.raises((RuntimeError, ValueError), match="corrupt.onnx|protobuf|parse|load"):
        polaris.ONNXModelLoader().load(corrupt)
    with pytest.raises(ValueError, match="extension"):
        polaris.create_loader(tmp_path / "model.txt")
    with pytest.raises(ValueError, match="loads .onnx"):
        polaris.ONNXModelLoader().load(models / "tiny" / "add.pt")
    with pytest.raises(ValueError, match="preferred_device"):
        polaris.PyTorchModelLoader(preferred_device="tpu")
    with pytest.raises(ValueError, match="optimization_level"):
        polaris.ONNXModelLoader(optimization_level=7).load(models / "tiny" / "identity.onnx")
    with pytest.raises(RuntimeError, match="no model loaded"):
        polaris.ONNXModelLoader().predict(np.zeros(4, np.float32))


def test_a_loader_for_other_threads_than_the_processes_is_warned(models):
    polaris.ONNXModelLoader().load(models / "tiny" / "identity.onnx")  # the runtime is running
    from polaris import _runtime
    intra, inter = _runtime._threads
    with pytest.warns(RuntimeWarning, match="process-wide"):
        polaris.ONNXModelLoader(intra_op_threads=intra + 3).load(models / "tiny" / "identity.onnx")
    with pytest.raises(RuntimeError, match="before the first model loads"):
        polaris.set_engine_threads(intra + 3, inter)


def test_create_loader_by_config_when_the_extension_does_not_say(models, tmp_path):
    model = tmp_path / "identity" / "1" / "model.bin"
    model.parent.mkdir(parents=True)
    model.write_bytes((models / "tiny" / "identity.onnx").read_bytes())
    with pytest.raises(ValueError, match="extension"):
        polaris.create_loader(model)
    loader = polaris.create_loader(model, config='platform: "onnxruntime_onnx"')
    assert isinstance(loader, polaris.ONNXModelLoader)
    (tmp_path / "identity" / "config.pbtxt").write_text('name: "identity"\nplatform: "pytorch_libtorch"\n')
    assert isinstance(polaris.create_loader(model), polaris.PyTorchModelLoader)  # Triton layout
    (tmp_path / "identity" / "config.pbtxt").write_text('platform: "tensorrt_plan"')
    with pytest.raises(ValueError, match="tensorrt_plan"):
        polaris.create_loader(model)
    (tmp_path / "identity" / "config.pbtxt").write_text('platform: [')
    with pytest.raises(ValueError, match="config.pbtxt"):
        polaris.create_loader(model)
    m = loader.load(model)
    assert m.framework == "onnx"
    x = np.ones((1, 4), np.float32)
    assert np.array_equal(loader.predict(x)["output"], x)


def test_devices_and_providers():
    ids = [d["id"] for d in polaris.list_devices()]
    assert "cpu" in ids
    onnx = polaris.providers()
    assert onnx[-1] == "CPUExecutionProvider"
    assert polaris.providers("torch")[-1] == "cpu"
    report = polaris.device_report()
    assert report["cpu"]["available"] is True
