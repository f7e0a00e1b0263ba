"""The installed Polaris (issue 21, docs/deploy.md): scripts/install-polaris (what `make install`
and the container image run) and the .deb (scripts/build-deb, CPack). An install must run from
any folder on a machine with no build tree: every ELF file's RUNPATH is $ORIGIN-relative and
resolves nothing in the build or ~/.cache/polaris, and the copy serves the default models with
the build, the engine caches and the original prefix hidden (a private mount namespace with
tmpfs over them) and an empty environment. Each check has a twin that must fail."""
import os
import pathlib
import re
import shutil
import stat
import subprocess

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

from conftest import BUILD, MODELS, ROOT, ServerProcess, run, unshare_works

CACHE = pathlib.Path(os.environ.get("POLARIS_CACHE", pathlib.Path.home() / ".cache" / "polaris"))
# Folders an installed copy must never need: what the build and the bootstrap made.
BUILD_PATHS = [BUILD.resolve(), ROOT.resolve(), CACHE.resolve()]
needs_namespaces = pytest.mark.skipif(not unshare_works(), reason="no user namespaces: cannot hide the build")


def elf_files(prefix):
    for path in sorted(prefix.rglob("*")):
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as f:
                if f.read(4) == b"\x7fELF":
                    yield path


def link_problems(path):
    """What ties an ELF file to this machine's build: a RUNPATH/RPATH entry not relative to
    $ORIGIN, a library ldd cannot find, or one it finds under the build or the engine caches."""
    problems = []
    dynamic = run("readelf", "-d", path).stdout
    for entries in re.findall(r"\((?:RUNPATH|RPATH)\)\s+Library r(?:un)?path: \[(.*)\]", dynamic):
        problems += [f"rpath {e}" for e in entries.split(":") if not e.startswith("$ORIGIN")]
    for line in run("ldd", path, check=False).stdout.splitlines():
        if "not found" in line:
            problems.append(line.strip())
        found = re.search(r"=> (/\S+)", line)
        if found and any(pathlib.Path(found.group(1)).resolve().is_relative_to(p) for p in BUILD_PATHS):
            problems.append(line.strip())
    return problems


def bundled_elsewhere(path):
    """The libraries `path` needs that lie beside it (bundled) but that ldd resolves elsewhere: a
    system copy (Debian's libtorch-dev has one of libtorch_cpu.so) would shadow the bundled engine."""
    needed = re.findall(r"\(NEEDED\).*\[(.*)\]", run("readelf", "-d", path).stdout)
    resolved = dict(re.findall(r"^\s*(\S+) => (/\S+)", run("ldd", path, check=False).stdout, re.M))
    return [f"{n} => {resolved.get(n)}" for n in needed
            if (path.parent / n).exists() and pathlib.Path(resolved.get(n, "/")).parent != path.parent]


def hiding_build(tmp_path, program, hidden=()):
    """A script that runs `program` with an empty environment (PATH, HOME only) in a private mount
    namespace where the build, the checkout, ~/.cache/polaris and `hidden` are empty tmpfs."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    name = pathlib.Path(program).parent.parent.name
    hide = tmp_path / f"hide-{name}"
    hide.write_text("#!/bin/sh\nset -e\n" + "".join(f"mount -t tmpfs tmpfs '{p}'\n" for p in [*BUILD_PATHS, *hidden])
                    + 'exec "$@"\n')
    script = tmp_path / f"run-{name}"
    script.write_text(f"#!/bin/sh\nexec env -i PATH=/usr/bin:/bin HOME='{home}' unshare -Urm '{hide}' '{program}' \"$@\"\n")
    for f in (hide, script):
        f.chmod(0o755)
    return script


@pytest.fixture(scope="module")
def installed(polaris_bin, tmp_path_factory):
    root = tmp_path_factory.mktemp("install")
    run(ROOT / "scripts" / "install-polaris", "--build", BUILD, "--prefix", root / "prefix")
    return root / "prefix"


@pytest.fixture(scope="module")
def moved(installed, tmp_path_factory):
    """The install copied (hard links) to another folder: the original is hidden when it runs."""
    copy = tmp_path_factory.mktemp("moved") / "polaris"
    run("cp", "-al", installed, copy)
    return copy


def test_the_install_lays_out_what_the_issue_asks(installed):
    for path in ["bin/polaris", "lib/polaris/libpolaris_backend_onnxruntime.so",
                 "lib/polaris/libpolaris_backend_torch.so", "lib/polaris/libonnxruntime.so",
                 "lib/polaris/libtorch_cpu.so", "share/polaris/dashboard/index.html",
                 "share/polaris/models/default/digits/1/model.pt",
                 "share/polaris/models/default/efficientnet_lite0/config.pbtxt",
                 "share/polaris/catalog.json", "share/polaris/polaris.env",
                 "lib/systemd/system/polaris.service", "lib/sysusers.d/polaris.conf",
                 "share/doc/polaris/deploy.md"]:
        assert (installed / path).exists(), path
    assert os.access(installed / "bin/polaris", os.X_OK)
    # Stripped: no symbol table in what was built or bundled.
    assert ".symtab" not in run("readelf", "-S", installed / "lib/polaris/libtorch_cpu.so").stdout
    assert ".symtab" not in run("readelf", "-S", installed / "bin/polaris").stdout


def test_no_installed_elf_file_points_at_the_build(installed):
    files = list(elf_files(installed))
    assert len(files) >= 5, files
    problems = {str(f.relative_to(installed)): p for f in files if (p := link_problems(f) + bundled_elsewhere(f))}
    assert not problems, problems

def test_a_bundled_library_shadowed_by_another_copy_is_caught(installed, tmp_path):
    # The twin of bundled_elsewhere: the build's torch module (RUNPATH: the engine cache) beside
    # the installed libtorch_cpu.so resolves the cache's copy, not the one beside it.
    shutil.copy(BUILD / "lib" / "libpolaris_backend_torch.so", tmp_path)
    (tmp_path / "libtorch_cpu.so").symlink_to(installed / "lib/polaris/libtorch_cpu.so")
    assert any(p.startswith("libtorch_cpu.so => ") for p in bundled_elsewhere(tmp_path / "libpolaris_backend_torch.so"))
    # The twin: the build's engine module is tied to the engine cache (RUNPATH and ldd say so).
    twin = link_problems(BUILD / "lib" / "libpolaris_backend_onnxruntime.so")
    assert any(p.startswith("rpath /") for p in twin) and any("libonnxruntime" in p for p in twin), twin


@needs_namespaces
def test_the_sandbox_hides_the_build(moved, tmp_path):
    """The twin of the serving tests below: the build's binary cannot even start in it."""
    assert run(hiding_build(tmp_path, BUILD / "bin" / "polaris"), "--version", check=False).returncode != 0
    version = run(hiding_build(tmp_path, moved / "bin" / "polaris"), "--version").stdout
    assert version.startswith("polaris ")


def serve_default_models(binary, repository, tmp_path):
    server = ServerProcess(binary, repository, log_dir=tmp_path)
    try:
        x = np.load(MODELS / "efficientnet_lite0" / "samples" / "flower.npy").astype(np.float32)
        x = x if x.ndim == 4 else x[None]
        http = httpclient.InferenceServerClient(server.http_url)
        image = httpclient.InferInput("input", list(x.shape), "FP32")
        image.set_data_from_numpy(x)
        top = http.infer("efficientnet_lite0", [image],
                         outputs=[httpclient.InferRequestedOutput("logits", class_count=1)]).as_numpy("logits")
        assert top[0][0].decode().split(":", 2)[2] == "daisy"
        # TorchScript over gRPC: the digits test set as one batch of 8.
        digits = np.load(MODELS / "digits" / "test_x.npy").astype(np.float32)[:8]
        labels = np.load(MODELS / "digits" / "test_y.npy")[:8]
        grpc = grpcclient.InferenceServerClient(server.grpc_url)
        meta = grpc.get_model_metadata("digits", as_json=True)
        assert grpc.get_model_config("digits", as_json=True)["config"]["platform"] == "pytorch_libtorch"
        tensor = grpcclient.InferInput(meta["inputs"][0]["name"], list(digits.shape), "FP32")
        tensor.set_data_from_numpy(digits)
        logits = grpc.infer("digits", [tensor]).as_numpy(meta["outputs"][0]["name"])
        assert np.mean(np.argmax(logits, axis=1) == labels) >= 0.75
        # The dashboard, from share/polaris/dashboard.
        out = subprocess.run(["curl", "-sf", f"http://{server.http_url}/"], capture_output=True, text=True)
        assert out.returncode == 0 and "<html" in out.stdout.lower()
    finally:
        assert server.stop() == 0, server.output()
    return server.output()


@needs_namespaces
def test_a_moved_install_serves_the_default_models_without_the_build(installed, moved, tmp_path):
    wrapper = hiding_build(tmp_path, moved / "bin" / "polaris", hidden=[installed])
    log = serve_default_models(wrapper, moved / "share" / "polaris" / "models" / "default", tmp_path)
    assert "efficientnet_lite0" in log and "digits" in log


def test_the_systemd_unit_verifies(installed, tmp_path):
    unit = installed / "lib/systemd/system/polaris.service"
    text = unit.read_text()
    for line in ["User=polaris", "Restart=on-failure", "ProtectSystem=strict", "NoNewPrivileges=yes",
                 f"ExecStart={installed}/bin/polaris serve",
                 f"Environment=POLARIS_MODEL_REPOSITORY={installed}/share/polaris/models/default",
                 "CacheDirectory=polaris", "StateDirectory=polaris", "EnvironmentFile=-/etc/default/polaris"]:
        assert line in text.splitlines(), line
    if not shutil.which("systemd-analyze"):
        pytest.skip("no systemd-analyze")
    proc = run("systemd-analyze", "verify", unit, check=False)
    assert proc.returncode == 0, proc.stderr
    # The twin: a unit whose program is missing does not verify.
    broken = tmp_path / "polaris.service"
    broken.write_text(text.replace(f"{installed}/bin/polaris", "/nonexistent/polaris"))
    assert run("systemd-analyze", "verify", broken, check=False).returncode != 0


@pytest.fixture(scope="module")
def deb(polaris_bin, tmp_path_factory):
    out = tmp_path_factory.mktemp("deb")
    path = pathlib.Path(run(ROOT / "scripts" / "build-deb", "--build", BUILD, "--out", out).stdout.strip())
    assert path.parent == out and path.name.startswith("polaris_") and path.suffix == ".deb"
    return path


def test_the_deb_has_the_package_fields_and_scripts(deb, tmp_path):
    info = run("dpkg-deb", "--info", deb).stdout
    fields = dict(re.findall(r"^ (\w[\w-]*): (.*)$", info, re.M))
    assert fields["Package"] == "polaris" and fields["Architecture"] == "amd64"
    version = run(BUILD / "bin" / "polaris", "--version").stdout.split()[1]
    assert fields["Version"].startswith(version)
    assert "libc6" in fields["Depends"]
    control = tmp_path / "control"
    run("dpkg-deb", "--control", deb, control)
    for script in ("postinst", "prerm", "postrm"):
        mode = (control / script).stat().st_mode
        assert mode & stat.S_IXUSR, script
        run("sh", "-n", control / script)
    contents = run("dpkg-deb", "--contents", deb).stdout
    for path in ["./usr/bin/polaris", "./usr/lib/polaris/libpolaris_backend_onnxruntime.so",
                 "./usr/lib/polaris/libpolaris_backend_torch.so", "./usr/lib/systemd/system/polaris.service",
                 "./usr/lib/sysusers.d/polaris.conf", "./usr/share/polaris/models/default/digits/1/model.pt",
                 "./usr/share/polaris/dashboard/index.html"]:
        assert re.search(rf" {re.escape(path)}$", contents, re.M), path
    assert "/build/" not in contents and str(ROOT) not in contents


@needs_namespaces
def test_the_deb_unpacked_elsewhere_serves_without_the_build(deb, tmp_path):
    root = tmp_path / "root"
    run("dpkg-deb", "-x", deb, root)
    unit = (root / "usr/lib/systemd/system/polaris.service").read_text()
    assert "ExecStart=/usr/bin/polaris serve" in unit.splitlines()
    problems = {str(f): p for f in elf_files(root) if (p := link_problems(f))}
    assert not problems, problems
    wrapper = hiding_build(tmp_path, root / "usr" / "bin" / "polaris")
    serve_default_models(wrapper, root / "usr" / "share" / "polaris" / "models" / "default", tmp_path)
