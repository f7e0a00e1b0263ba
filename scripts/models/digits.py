"""A real (if small) trained classifier: scikit-learn's 8x8 digits with a torch MLP.

The dataset ships inside scikit-learn, so nothing is downloaded. Training is full-batch and
seeded on CPU, hence deterministic; it takes about a second. The model divides by 16 itself, so
clients send raw pixel values (0..16) exactly as stored in test_x.npy.
"""
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from common import assert_close, log, ort_run, spec, test_case
from vision import export_onnx, export_torchscript

MIN_ACCURACY = 0.95
STEPS = 300


class DigitsMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, input):
        return self.net(input / 16.0)  # pixels are 0..16 in load_digits()


def train():
    digits = load_digits()
    x = digits.data.astype(np.float32)
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, random_state=0, stratify=y)
    torch.manual_seed(0)
    model = DigitsMLP()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    for _ in range(STEPS):
        opt.zero_grad()
        nn.functional.cross_entropy(model(xt), yt).backward()
        opt.step()
    model.eval()
    return model, x_test, y_test


def generate(ctx):
    log("training digits MLP ...")
    model, x_test, y_test = train()
    with torch.no_grad():
        logits = model(torch.from_numpy(x_test)).numpy()
    accuracy = float(np.mean(logits.argmax(1) == y_test))
    log(f"digits held-out accuracy {accuracy:.4f} on {len(y_test)} samples")
    assert accuracy >= MIN_ACCURACY, f"digits accuracy {accuracy} < {MIN_ACCURACY}"

    example = torch.from_numpy(x_test[:1])
    export_onnx(model, example, ctx.path("digits/digits.onnx"), output="logits")
    export_torchscript(model, example, ctx.path("digits/digits.pt"))
    got = ort_run(ctx.path("digits/digits.onnx"), {"input": x_test})["logits"]
    assert_close("digits.onnx", got, logits, atol=1e-4)
    with torch.no_grad():
        got = torch.jit.load(ctx.path("digits/digits.pt"))(torch.from_numpy(x_test)).numpy()
    assert_close("digits.pt", got, logits, atol=1e-4)

    ctx.save_npy("digits/test_x.npy", x_test)
    ctx.save_npy("digits/test_y.npy", y_test)
    # A small logits vector for exact-ish output checks; the full set is for accuracy checks.
    xi = ctx.save_npy("digits/vectors/input.npy", x_test[:8])
    yo = ctx.save_npy("digits/vectors/logits.npy", logits[:8])
    ctx.write_json("digits/info.json", {"accuracy": accuracy, "test_samples": len(y_test),
                                        "input_scale": "raw pixels 0..16, model divides by 16"})
    in_spec = [spec("input", "FP32", [-1, 64])]
    ctx.add("digits", "digits/digits.onnx", "onnx", in_spec, [spec("logits", "FP32", [-1, 10])],
            [test_case({"input": xi}, {"logits": yo}, atol=1e-4, rtol=1e-4)], accuracy=accuracy)
    ctx.add("digits_pt", "digits/digits.pt", "torchscript", in_spec,
            [spec("output__0", "FP32", [-1, 10])],
            [test_case({"input": xi}, {"output__0": yo}, atol=1e-4, rtol=1e-4)], accuracy=accuracy)
    return accuracy
