"""OpenCV-ready variants (`<stem>.opencv.onnx`) of the opset-13 exports OpenCV DNN 4.6 rejects.

Made with opencv_convert.py, the code behind scripts/polaris-opencv-convert, so the generated
files are exactly what a user of the tool gets. Each variant is checked here against eager
torch's outputs through ONNX Runtime (OpenCV itself has no Python module in the venv; the C++
opencv_backend_test loads every variant in OpenCV). The `.opencv.onnx` name beside a model is
also what the opencv backend looks for when the model itself does not import.
"""
import numpy as np

from common import assert_close, log, ort_run, spec, test_case
from opencv_convert import convert_file

# source (written by vision.py / efficientnet_lite0.py) -> manifest name of the variant
SOURCES = {
    "vision/mobilenetv2.onnx": "mobilenetv2_opencv",
    "vision/efficientnet_b0.onnx": "efficientnet_b0_opencv",
    "vision/resnet50.onnx": "resnet50_opencv",
    "efficientnet_lite0/efficientnet_lite0.onnx": "efficientnet_lite0_opencv",
}


def generate(ctx):
    for src, name in SOURCES.items():
        dst = src[: -len(".onnx")] + ".opencv.onnx"
        changes, err = convert_file(ctx.path(src), ctx.path(dst))
        log(f"{dst}: {'; '.join(changes)} (ORT max abs diff vs the original {err:.3g})")
        entry = next(m for m in ctx.models if m["path"] == src)
        for t in entry["tests"]:  # the stored vectors, as the original's
            feeds = {k: np.load(ctx.path(v)) for k, v in t["inputs"].items()}
            got = ort_run(ctx.path(dst), feeds)
            for out, rel in t["outputs"].items():
                assert_close(dst, got[out], np.load(ctx.path(rel)), atol=t.get("atol", 0), rtol=t.get("rtol", 0))
        extra = {k: v for k, v in entry.items() if k in ("labels",)}
        ctx.add(name, dst, "onnx", entry["inputs"], entry["outputs"], entry["tests"], opencv_ready=True, **extra)
