"""torchvision MobileNetV2 / EfficientNet-B0 / ResNet50 with random (seeded) weights.

These exist for load/latency/throughput work on realistic graph shapes, not for accuracy, so no
pretrained weights are ever fetched (weights=None). Each is exported to ONNX (opset 13, dynamic
batch) and to a traced + frozen TorchScript module, and both files are checked against eager torch.
"""
import numpy as np
import torch
import torchvision

from common import assert_close, log, ort_run, spec, test_case, tolerance_for

ARCHS = {
    "mobilenetv2": torchvision.models.mobilenet_v2,
    "efficientnet_b0": torchvision.models.efficientnet_b0,
    "resnet50": torchvision.models.resnet50,
}
IN_SPEC = [spec("input", "FP32", [-1, 3, 224, 224])]
OUT_SPEC = [spec("output", "FP32", [-1, 1000])]


def export_onnx(model, example, path, opset=13, output="output", dynamic=True):
    """Shared by the other families: input "input", dynamic batch on dim 0 of both ends."""
    axes = {"input": {0: "batch"}, output: {0: "batch"}} if dynamic else None
    torch.onnx.export(model, example, path, opset_version=opset, input_names=["input"],
                      output_names=[output], dynamic_axes=axes, do_constant_folding=True)


def export_torchscript(model, example, path):
    """Trace on the example, then freeze (folds parameters into constants; smaller, faster)."""
    with torch.no_grad():
        frozen = torch.jit.freeze(torch.jit.trace(model, example).eval())
    torch.jit.save(frozen, path)


def check_exports(name, model, onnx_path, pt_path, output="output", batch=2, seed=7):
    """Compares ORT and the reloaded TorchScript to eager torch on a batch != the traced one."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 3, 224, 224, generator=g)
    with torch.no_grad():
        want = model(x).numpy()
        got_pt = torch.jit.load(pt_path)(x).numpy()
    got_onnx = ort_run(onnx_path, {"input": x.numpy()})[output]
    atol = tolerance_for(want, 1e-3)
    assert_close(f"{name}.onnx", got_onnx, want, atol=atol, rtol=1e-3)
    assert_close(f"{name}.pt", got_pt, want, atol=atol, rtol=1e-3)


def generate(ctx):
    for name, ctor in ARCHS.items():
        log(f"exporting {name} (random weights) ...")
        torch.manual_seed(0)
        model = ctor(weights=None).eval()
        example = torch.zeros(1, 3, 224, 224)
        onnx_rel, pt_rel = f"vision/{name}.onnx", f"vision/{name}.pt"
        export_onnx(model, example, ctx.path(onnx_rel))
        export_torchscript(model, example, ctx.path(pt_rel))
        check_exports(name, model, ctx.path(onnx_rel), ctx.path(pt_rel))

        tests = {"onnx": [], "pt": []}
        if name == "mobilenetv2":  # one stored vector pair; the others only run shape tests
            x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
            with torch.no_grad():
                y = model(torch.from_numpy(x)).numpy()
            xi = ctx.save_npy(f"vision/vectors/{name}.input.npy", x)
            yo = ctx.save_npy(f"vision/vectors/{name}.output.npy", y)
            atol = tolerance_for(y, 1e-3)
            tests["onnx"] = [test_case({"input": xi}, {"output": yo}, atol=atol, rtol=1e-3)]
            # A traced torchvision module keeps forward(self, x)'s argument name.
            tests["pt"] = [test_case({"x": xi}, {"output__0": yo}, atol=atol, rtol=1e-3)]
        ctx.add(name, onnx_rel, "onnx", IN_SPEC, OUT_SPEC, tests["onnx"])
        pt_out = [spec("output__0", "FP32", [-1, 1000])]
        pt_in = [spec("x", "FP32", [-1, 3, 224, 224])]
        ctx.add(f"{name}_pt", pt_rel, "torchscript", pt_in, pt_out, tests["pt"])
