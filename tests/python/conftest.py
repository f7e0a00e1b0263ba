"""Shared fixtures for the end-to-end suites: the built binary and the generated models."""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("POLARIS_BUILD", ROOT / "build"))
MODELS = pathlib.Path(os.environ.get("POLARIS_MODELS_DIR", BUILD / "models"))


@pytest.fixture(scope="session")
def polaris_bin():
    path = BUILD / "bin" / "polaris"
    if not path.exists():
        pytest.fail(f"{path} is not built (run make build)")
    return path


@pytest.fixture(scope="session")
def models():
    if not (MODELS / "manifest.json").exists():
        pytest.fail(f"no generated models in {MODELS} (run scripts/make-models)")
    return MODELS


def vulkan_icd():
    """Bootstrap's software Vulkan driver (Mesa 25 lavapipe) as an ICD file for
    VK_DRIVER_FILES: $POLARIS_VULKAN_ICD, else the build's CMake cache."""
    icd = os.environ.get("POLARIS_VULKAN_ICD")
    if not icd:
        cache = BUILD / "CMakeCache.txt"
        for line in cache.read_text().splitlines() if cache.exists() else []:
            if line.startswith("POLARIS_VULKAN_ICD:"):
                icd = line.split("=", 1)[1]
    if not icd or not pathlib.Path(icd).exists():
        pytest.fail(f"no software Vulkan driver ({icd or 'POLARIS_VULKAN_ICD not set'}): "
                    "run scripts/bootstrap --only mesa-vulkan deps-cmake and reconfigure")
    return icd


def run(*args, env=None, check=True):
    """Runs a command, returns CompletedProcess with text output."""
    full_env = dict(os.environ, **(env or {}))
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=full_env, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


# ---------------------------------------------------------------- protos without grpc_tools

def compiled_protos(proto, out_dir, include_imports=False):
    """`proto` compiled by protoc into a FileDescriptorSet (the venv has no grpc_tools)."""
    import shutil
    from google.protobuf import descriptor_pb2
    protoc = shutil.which("protoc")
    if protoc is None:
        pytest.fail("protoc is not installed (scripts/bootstrap installs protobuf-compiler)")
    out = pathlib.Path(out_dir) / (pathlib.Path(proto).stem + ".pb")
    subprocess.run([protoc, f"-I{pathlib.Path(proto).parent}", f"--descriptor_set_out={out}",
                    *(["--include_imports"] if include_imports else []), str(proto)], check=True)
    return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())


# ---------------------------------------------------------------- a running server

def wait_until(condition, timeout=60, describe=lambda: "the condition"):
    """Polls `condition` until it holds; fails after `timeout` seconds saying what was awaited.
    The timeout only bounds a broken run: a passing run waits for the event itself."""
    import time
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s: {describe()}")
        time.sleep(0.01)


# ---------------------------------------------------------------- a full disk, for real

def in_tiny_filesystem(command, size="1m"):
    """`command` run with TMPDIR on a fresh tmpfs of `size` in a private mount namespace (no root
    needed: a user namespace), so a full disk is real and touches nothing else."""
    script = ('set -e; d=$(mktemp -d); mount -t tmpfs -o size=%s tmpfs "$d"; echo "$d" > "$POLARIS_TINY_FS_FILE"; '
              'export TMPDIR="$d"; exec "$@"' % size)
    return ["unshare", "-Urm", "sh", "-c", script, "sh", *map(str, command)]


def unshare_works():
    return subprocess.run(["unshare", "-Urm", "sh", "-c", "mount -t tmpfs tmpfs /mnt"], capture_output=True).returncode == 0


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def simple_tensors(dims="[16]"):
    """The config tensors of Triton's `simple` (tiny/simple.onnx): INT32 INPUT0, INPUT1 ->
    OUTPUT0 (sum), OUTPUT1 (difference), each with `dims`."""
    return "".join(f'{kind} {{ name: "{name}" data_type: TYPE_INT32 dims: {dims} }}\n'
                   for kind, name in [("input", "INPUT0"), ("input", "INPUT1"), ("output", "OUTPUT0"),
                                      ("output", "OUTPUT1")])


def make_repository(root, models):
    """A Triton-layout repository of the generated models: every tiny ONNX
    model, the TorchScript twins as <name>_pt, and the default set, with a
    config that names EfficientNet-Lite0's labels (classification)."""
    import shutil
    repo = root / "repo"
    repo.mkdir()
    for f in sorted((models / "tiny").glob("*.onnx")):
        (repo / f.stem / "1").mkdir(parents=True)
        (repo / f.stem / "1" / "model.onnx").symlink_to(f)
    for f in sorted((models / "tiny").glob("*.pt")):
        (repo / f"{f.stem}_pt" / "1").mkdir(parents=True)
        (repo / f"{f.stem}_pt" / "1" / "model.pt").symlink_to(f)
    shutil.copytree(models / "default", repo, dirs_exist_ok=True)
    (repo / "efficientnet_lite0" / "config.pbtxt").write_text(
        'max_batch_size: 8\n'
        'input { name: "input" data_type: TYPE_FP32 dims: [3, 224, 224] }\n'
        'output { name: "logits" data_type: TYPE_FP32 dims: [1000] label_filename: "labels.txt" }\n')
    # Triton's "simple" without batching (max_batch_size 0, fixed dims).
    (repo / "simple_fixed" / "1").mkdir(parents=True)
    (repo / "simple_fixed" / "1" / "model.onnx").symlink_to(models / "tiny" / "simple.onnx")
    (repo / "simple_fixed" / "config.pbtxt").write_text("max_batch_size: 0\n" + simple_tensors("[1, 16]"))
    return repo


class ServerProcess:
    """`polaris serve` on free ports; stop() sends SIGTERM and returns the exit code."""

    def __init__(self, binary, repo, *extra, env=None, scheme="http", ca=None, client_cert=None, log_dir=None):
        """`repo` None: no --model-repository (ModelMesh mode), the log in `log_dir`. `scheme`,
        `ca` and `client_cert` ((cert, key)): how to reach a server started with TLS."""
        import ssl
        import time
        import urllib.request
        self.repo = repo
        self.http_port, self.grpc_port, self.metrics_port = free_port(), free_port(), free_port()
        self.http_url = f"127.0.0.1:{self.http_port}"
        self.grpc_url = f"127.0.0.1:{self.grpc_port}"
        self.metrics_url = f"127.0.0.1:{self.metrics_port}"
        self.log = open((log_dir or repo.parent) / f"server-{self.http_port}.log", "w+")
        repository = [] if repo is None else ["--model-repository", str(repo)]
        self.proc = subprocess.Popen(
            [str(binary), "serve", *repository, "--address", "127.0.0.1",
             "--http-port", str(self.http_port), "--grpc-port", str(self.grpc_port),
             "--metrics-port", str(self.metrics_port),
             *([] if "--threads" in map(str, extra) else ["--threads", "1"]), *map(str, extra)],
            stdout=self.log, stderr=subprocess.STDOUT, env=dict(os.environ, **(env or {})))
        context = None
        if scheme == "https":
            context = ssl.create_default_context(cafile=str(ca))
            if client_cert:
                context.load_cert_chain(*map(str, client_cert))
        deadline = time.time() + 90
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"polaris serve exited {self.proc.returncode}:\n{self.output()}")
            try:
                with urllib.request.urlopen(f"{scheme}://{self.http_url}/v2/health/ready", timeout=2,
                                            context=context) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.proc.kill()
        raise AssertionError(f"polaris serve never became ready:\n{self.output()}")

    def metric(self, name, model=None, version="1"):
        """The value of a Prometheus metric, per model or (model None) server-wide; 0 when there is
        no such line yet."""
        import urllib.request
        with urllib.request.urlopen(f"http://{self.metrics_url}/metrics", timeout=10) as r:
            text = r.read().decode()
        prefix = f'{name}{{model="{model}",version="{version}"}} ' if model is not None else f"{name} "
        for line in text.splitlines():
            if line.startswith(prefix):
                return float(line[len(prefix):])
        return 0.0

    def wait_for_metric(self, name, model, value, timeout=60):
        """Waits until a per-model metric reads `value` (an event in the server, not a guess
        about how long something takes)."""
        wait_until(lambda: self.metric(name, model) == value, timeout,
                   lambda: f"{name} of {model} stayed {self.metric(name, model)}, not {value}")

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self, sig=None):
        import signal
        if self.proc.poll() is None:
            self.proc.send_signal(sig or signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture(scope="session")
def polaris_server(polaris_bin, models, tmp_path_factory):
    """One server for the whole session (lazy mode, every generated model)."""
    repo = make_repository(tmp_path_factory.mktemp("server"), models)
    server = ServerProcess(polaris_bin, repo, "--allow-repository-changes", "true")
    yield server
    code = server.stop()
    assert code == 0, f"polaris serve exited {code} on SIGTERM:\n{server.output()}"
