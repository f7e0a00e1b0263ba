"""deploy/container/ checked without a Docker engine (none on the project's machines):
the Dockerfile with hadolint, compose.yaml against the Compose Specification's schema,
prometheus.yml with promtool, the Grafana dashboard's queries against a real server's
/metrics and evaluated by a real Prometheus, and the image itself: the runtime layout
built by the script the builder stage runs, and the runtime stage run from it (its RUN
steps in a Debian 12 minbase root, then ENTRYPOINT as PID 1 under USER, with the
HEALTHCHECK) by deploy/tools/runtime_stage.py. Every check has a broken twin that must
fail. Tools: deploy/tools/install-container-tools; the runtime stage needs root."""
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
import yaml

from conftest import ROOT, ServerProcess, free_port, run, unshare_works, wait_until

sys.path.insert(0, str(ROOT / "deploy" / "tools"))
import runtime_stage  # noqa: E402

CONTAINER = ROOT / "deploy" / "container"
DOCKERFILE = CONTAINER / "Dockerfile"
COMPOSE = CONTAINER / "compose.yaml"
DASHBOARD = CONTAINER / "grafana" / "dashboards" / "polaris.json"
# Grafana's variables, as the queries see them once Grafana has filled them in.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$model": ".*"}
# The two models of the default set (build/models/default, share/polaris/models/default).
DEFAULT_MODELS = ("digits", "efficientnet_lite0")


@pytest.fixture(scope="module")
def tools():
    """KEY=VALUE lines of install-container-tools: hadolint, compose-schema, jsonschema-python,
    promtool, prometheus."""
    out = run(ROOT / "deploy" / "tools" / "install-container-tools").stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


@pytest.fixture(scope="module")
def stage():
    return runtime_stage.Stage(DOCKERFILE, ROOT)


# ---------------------------------------------------------------- Dockerfile

def hadolint(tools, dockerfile):
    return run(tools["hadolint"], "--no-color", dockerfile, check=False)


def test_hadolint_passes_on_the_dockerfile(tools):
    result = hadolint(tools, DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_fails_on_a_broken_copy(tools, tmp_path):
    # Running as root is what the real file must never do: DL3002 (last USER is root).
    broken = tmp_path / "Dockerfile"
    text = DOCKERFILE.read_text()
    assert "\nUSER 10001:10001\n" in text
    broken.write_text(text.replace("\nUSER 10001:10001\n", "\nUSER root\n"))
    result = hadolint(tools, broken)
    assert result.returncode != 0 and "DL3002" in result.stdout, result.stdout


def test_the_runtime_stage_is_what_the_issue_asks(stage):
    assert stage.base == "debian:12-slim"
    assert stage.copy[1:] == ("builder", "/opt/polaris", "/opt/polaris")
    assert stage.user == "10001:10001" and stage.entrypoint == ["/opt/polaris/bin/polaris", "serve"]
    assert "/v2/health/ready" in " ".join(stage.healthcheck)
    assert stage.expose == ["8000", "8001", "8002"]


def test_the_emulation_refuses_what_it_does_not_do(tmp_path):
    # An instruction it does not emulate must fail, not be skipped: ADD, a shell-less FROM.
    text = DOCKERFILE.read_text()
    for broken in (text.replace("\nWORKDIR /home/polaris\n", "\nWORKDIR /home/polaris\nADD x /x\n"),
                   text.replace("FROM debian:12-slim", "FROM alpine:3")):
        assert broken != text
        (tmp_path / "Dockerfile").write_text(broken)
        with pytest.raises(runtime_stage.Unsupported):
            runtime_stage.Stage(tmp_path / "Dockerfile", ROOT)


def dockerignore_excludes(path):
    """Whether Dockerfile.dockerignore keeps `path` (relative, POSIX) out of the build context:
    a pattern matches the path or a folder above it (Go filepath.Match, plus '**')."""
    patterns = [l.strip() for l in (CONTAINER / "Dockerfile.dockerignore").read_text().splitlines()
                if l.strip() and not l.startswith("#")]
    assert not any(p.startswith("!") for p in patterns), "exceptions (!) are not handled here"

    def regex(pattern):
        parts = re.split(r"(\*\*/|\*|\?)", pattern.strip("/"))
        return "".join({"**/": "(.*/)?", "*": "[^/]*", "?": "[^/]"}.get(p, re.escape(p)) for p in parts)

    prefixes = ["/".join(path.split("/")[:i]) for i in range(1, path.count("/") + 2)]
    return any(re.fullmatch(regex(p), prefix) for p in patterns for prefix in prefixes)


def test_the_build_context_leaves_out_what_git_ignores():
    # Build trees, node_modules and caches of this checkout must not reach the builder stage.
    ignored = run("git", "-C", ROOT, "ls-files", "--others", "--ignored", "--exclude-standard",
                  "--directory").stdout.split()
    assert ignored, "git reports no ignored path: nothing to check"
    kept = [p for p in ignored if not dockerignore_excludes(p.rstrip("/"))]
    assert not kept, f"in the build context: {kept}"
    # The twin: sources are in it.
    for path in ("scripts/bootstrap", "deps/versions.lock", "deploy/container/runtime-packages.txt"):
        assert not dockerignore_excludes(path), path


# ---------------------------------------------------------------- compose.yaml

def validate_compose(tools, path):
    return run(tools["jsonschema-python"], ROOT / "deploy" / "tools" / "validate-compose.py",
               tools["compose-schema"], path, check=False)


def test_compose_file_validates_against_the_compose_schema(tools):
    result = validate_compose(tools, COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_broken_compose_file_fails_the_schema(tools, tmp_path):
    broken = tmp_path / "compose.yaml"
    broken.write_text(COMPOSE.read_text().replace("    ports:", "    portz:", 1))
    result = validate_compose(tools, broken)
    assert result.returncode != 0 and "'portz' was unexpected" in result.stdout, result.stdout


def host_path(service, path):
    """The file of this folder that a compose service sees at `path` (through its bind volumes)."""
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith(".") and (path == target or path.startswith(target + "/")):
            return CONTAINER / source / path[len(target):].lstrip("/")
    raise AssertionError(f"{path} is not in a bind volume of the service")


def test_compose_names_files_that_exist(stage):
    """What the schema cannot know: the build context and Dockerfile, the files each service
    is configured to read (through its volumes), and the ports Prometheus scrapes."""
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    build = services["polaris"]["build"]
    assert (CONTAINER / build["context"]).resolve() == ROOT
    assert (ROOT / build["dockerfile"]).resolve() == DOCKERFILE
    prometheus = services["prometheus"]
    config = next(a.split("=", 1)[1] for a in prometheus["command"] if a.startswith("--config.file="))
    assert host_path(prometheus, config) == CONTAINER / "prometheus.yml"
    grafana = services["grafana"]
    provisioning = host_path(grafana, "/etc/grafana/provisioning")
    providers = yaml.safe_load((provisioning / "dashboards" / "polaris.yaml").read_text())["providers"]
    assert [host_path(grafana, p["options"]["path"]) for p in providers] == [DASHBOARD.parent]
    assert host_path(grafana, grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]) == DASHBOARD
    assert (provisioning / "datasources" / "prometheus.yaml").is_file()
    # Prometheus scrapes the port the image exposes for metrics, by the service's name.
    scrape = yaml.safe_load((CONTAINER / "prometheus.yml").read_text())
    targets = [t for job in scrape["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]]
    assert targets == ["polaris:8002"] and "8002" in stage.expose
    assert "8002:8002" in services["polaris"]["ports"]


# ---------------------------------------------------------------- prometheus.yml

def test_prometheus_config_passes_promtool(tools, tmp_path):
    result = run(tools["promtool"], "check", "config", CONTAINER / "prometheus.yml", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    broken = tmp_path / "prometheus.yml"
    broken.write_text((CONTAINER / "prometheus.yml").read_text().replace("scrape_interval: 5s", "scrape_interval: 5 s"))
    result = run(tools["promtool"], "check", "config", broken, check=False)
    assert result.returncode != 0, "promtool accepted a broken copy"


# ---------------------------------------------------------------- Grafana

def dashboard_queries():
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(queries) >= 10
    return queries


def instantiate(query):
    for variable, value in GRAFANA_VARIABLES.items():
        query = query.replace(variable, value)
    assert "$" not in query, f"unknown Grafana variable in {query}"
    return query


PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
                "offset"}


def metric_names(query):
    """Metric names a PromQL query reads: identifiers that are not functions, keywords or labels."""
    q = re.sub(r'"[^"]*"', "", query)               # strings (label values)
    q = re.sub(r"\{[^}]*\}", "", q)                  # label matchers
    q = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", q)  # grouping labels
    q = re.sub(r"\[[^\]]*\]", "", q)                 # range selectors
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", q):
        rest = q[m.end():].lstrip()
        if m.group() not in PROMQL_WORDS and not rest.startswith("("):
            names.add(m.group())
    return names


def test_dashboard_provisioning_is_consistent():
    datasource = yaml.safe_load((CONTAINER / "grafana/provisioning/datasources/prometheus.yaml").read_text())
    uid = datasource["datasources"][0]["uid"]
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == uid, panel["title"]
    for variable in dashboard["templating"]["list"]:
        assert variable["datasource"]["uid"] == uid, variable["name"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def promtool_check_queries(tools, path, queries):
    # promtool parses each expression as a recording rule: PromQL syntax errors fail here.
    rules = {"groups": [{"name": "dashboard", "rules": [{"record": f"polaris:dashboard:{i}", "expr": q}
                                                        for i, q in enumerate(queries)]}]}
    path.write_text(json.dumps(rules))  # JSON is YAML
    return run(tools["promtool"], "check", "rules", path, check=False)


def test_dashboard_queries_parse(tools, tmp_path):
    queries = [instantiate(q) for q in dashboard_queries()]
    result = promtool_check_queries(tools, tmp_path / "rules.yml", queries)
    assert result.returncode == 0, result.stdout + result.stderr
    broken = promtool_check_queries(tools, tmp_path / "broken.yml", queries[:-1] + [queries[-1] + ")"])
    assert broken.returncode != 0, "promtool accepted an unbalanced query"


@pytest.fixture(scope="module")
def served_metrics(polaris_bin, models, tmp_path_factory):
    """A real server on the default models after inferences over HTTP and gRPC to both models:
    (server, the metric names its /metrics exports)."""
    root = tmp_path_factory.mktemp("metrics")
    (root / "repo").symlink_to(models / "default", target_is_directory=True)
    server = ServerProcess(polaris_bin, root / "repo")
    try:
        infer_each_default_model(server.http_url, server.grpc_url)
        with urllib.request.urlopen(f"http://{server.metrics_url}/metrics", timeout=10) as r:
            text = r.read().decode()
        names = {re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", l).group() for l in text.splitlines() if l and l[0] != "#"}
        yield server, names
    finally:
        assert server.stop() == 0, server.output()


def infer_each_default_model(http_url, grpc_url):
    """Two inferences of zeros per default model, over HTTP and over gRPC (shapes from metadata)."""
    for module, client in ((httpclient, httpclient.InferenceServerClient(http_url)),
                           (grpcclient, grpcclient.InferenceServerClient(grpc_url))):
        for model in DEFAULT_MODELS:
            meta = client.get_model_metadata(model, as_json=True) if module is grpcclient else \
                client.get_model_metadata(model)
            inp = meta["inputs"][0]
            shape = [1 if int(d) < 0 else int(d) for d in inp["shape"]]
            tensor = module.InferInput(inp["name"], shape, inp["datatype"])
            tensor.set_data_from_numpy(np.zeros(shape, dtype=np.float32))
            for _ in range(2):
                result = client.infer(model, [tensor])
                assert result.get_response(as_json=True)["model_name"] if module is grpcclient else \
                    result.get_response()["model_name"] == model


def test_dashboard_metrics_are_exported_by_a_real_server(served_metrics):
    _, exported = served_metrics
    used = set().union(*(metric_names(q) for q in dashboard_queries()))
    assert {"nv_inference_request_success", "polaris_memory_used_bytes", "polaris_evictions_total"} <= used
    assert used <= exported, f"not exported by polaris: {sorted(used - exported)}"
    # The twin: a name the server does not export is seen as such.
    assert "polaris_no_such_metric" in metric_names("sum(rate(polaris_no_such_metric[1m]))") - exported


def test_dashboard_queries_return_data_in_prometheus(served_metrics, tools, tmp_path):
    """Debian's Prometheus scrapes the server every second; each query (Grafana's variables
    filled in) must return at least one series, rates included once two scrapes are in."""
    server, _ = served_metrics
    port = free_port()
    (tmp_path / "prometheus.yml").write_text(json.dumps({
        "global": {"scrape_interval": "1s"},
        "scrape_configs": [{"job_name": "polaris", "static_configs": [{"targets": [server.metrics_url]}]}]}))
    log = open(tmp_path / "prometheus.log", "w+")
    proc = subprocess.Popen([tools["prometheus"], f"--config.file={tmp_path / 'prometheus.yml'}",
                             f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT)

    def result(query):
        url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": query})
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return json.load(r)["data"]["result"]
        except OSError:
            assert proc.poll() is None, f"prometheus exited {proc.returncode}"
            return []

    queries = [instantiate(q) for q in dashboard_queries()]
    try:
        wait_until(lambda: all(result(q) for q in queries), timeout=90,
                   describe=lambda: f"queries without data: {[q for q in queries if not result(q)]}")
        # The twin: a query of a metric nobody exports returns nothing.
        assert result("polaris_no_such_metric") == []
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


# ---------------------------------------------------------------- the installed layout

@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    """PREFIX laid out by deploy/container/build-runtime-layout, as the builder stage does (436 MB,
    removed afterwards)."""
    prefix = tmp_path_factory.mktemp("layout") / "opt-polaris"
    run(CONTAINER / "build-runtime-layout", prefix)
    yield prefix
    shutil.rmtree(prefix)


def test_the_layout_holds_what_the_image_serves(layout):
    for path in ("bin/polaris", "lib/polaris/libpolaris_backend_onnxruntime.so", "share/polaris/dashboard/index.html",
                 *(f"share/polaris/models/default/{m}" for m in DEFAULT_MODELS)):
        assert (layout / path).exists(), path
    assert not (layout / "lib" / "systemd").exists(), "the systemd unit has no use in the image"


@pytest.mark.skipif(not unshare_works(), reason="no user namespaces here: cannot hide the default models")
def test_build_runtime_layout_fails_without_the_default_models(models, tmp_path):
    # The twin: a build whose models/default is missing (an empty tmpfs over it, in a private
    # mount namespace) must not give an image that cannot start.
    hide = 'mount -t tmpfs tmpfs "$1"; shift; exec "$@"'
    result = run("unshare", "-Urm", "sh", "-c", hide, "sh", models / "default",
                 CONTAINER / "build-runtime-layout", tmp_path / "prefix", check=False)
    assert result.returncode != 0 and "default models missing" in result.stderr, result.stderr


def test_check_runtime_libraries_fails_without_a_bundled_library(layout, tmp_path):
    # The ONNX Runtime module alone: libonnxruntime.so.1, found by $ORIGIN in the real layout, is
    # missing (no system copy of ONNX Runtime exists, unlike libtorch: Debian ships one).
    # (The real layout passes it in the runtime stage: see `container` below.)
    (tmp_path / "lib").mkdir()
    shutil.copy(layout / "lib" / "polaris" / "libpolaris_backend_onnxruntime.so", tmp_path / "lib")
    broken = run(CONTAINER / "check-runtime-libraries", tmp_path, check=False)
    assert broken.returncode != 0 and "libonnxruntime.so.1 => not found" in broken.stderr, broken.stderr


# ---------------------------------------------------------------- the runtime stage, run

@pytest.fixture(scope="module")
def stage_root(stage):
    if os.geteuid() != 0:
        pytest.skip("the runtime stage's emulation needs root (mmdebstrap, chroot, mount namespaces)")
    return runtime_stage.stage_root(stage)  # about 30 s the first time, then cached


@pytest.fixture(scope="module")
def container(stage, stage_root, layout, tmp_path_factory):
    """The image run from the layout: the RUN steps after its COPY (check-runtime-libraries,
    polaris --version), then ENTRYPOINT with the image's ENV, as PID 1 under USER. Ports and a
    loopback address through the environment, as `docker run -e` would give them."""
    work = tmp_path_factory.mktemp("container")
    ports = {name: free_port() for name in ("HTTP", "GRPC", "METRICS")}
    env = {f"POLARIS_{name}_PORT": str(port) for name, port in ports.items()}
    env.update(POLARIS_ADDRESS="127.0.0.1", POLARIS_THREADS="1")
    log = open(work / "container.log", "w+")
    c = runtime_stage.Container(stage, stage_root, layout, work / "layer", env=env, log=log)
    c.ports = ports

    def output():
        log.flush()
        log.seek(0)
        return log.read()
    c.output = output
    try:
        yield c
    finally:
        code = c.stop()
    assert code == 0, f"`docker stop` (SIGTERM to PID 1): exit {code}\n{output()}"
    assert str(ROOT / "build") not in output()


def test_the_runtime_stage_finds_every_library(container):
    # Its RUN after the COPY ran (a failure raises in Container): in a Debian 12 minbase root
    # holding only runtime-packages.txt's packages, every library of the layout resolves.
    assert "every library found" in container.output()
    assert re.search(r"^polaris \d+\.\d+\.\d+$", container.output(), re.M)


def test_the_healthcheck_passes_once_ready_and_fails_on_an_http_error(container):
    def healthy():
        assert container.proc.poll() is None, f"the container exited:\n{container.output()}"
        return container.healthcheck() == 0
    wait_until(healthy, timeout=90, describe=lambda: f"the HEALTHCHECK to pass:\n{container.output()}")
    # The twin: pointed at the metrics listener, which answers /v2/health/ready with 404.
    metrics = container.ports["METRICS"]
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"http://127.0.0.1:{metrics}/v2/health/ready", timeout=10)
    assert container.healthcheck({"POLARIS_HTTP_PORT": str(metrics)}) != 0


def test_the_container_serves_the_default_models_as_an_unprivileged_pid_1(container):
    wait_until(lambda: container.healthcheck() == 0, timeout=90, describe=container.output)
    status = pathlib.Path(f"/proc/{container.pid}/status").read_text()
    assert re.search(r"^Uid:\s+10001\s", status, re.M) and re.search(r"^Gid:\s+10001\s", status, re.M), status
    assert re.search(r"^NSpid:\s+\d+\s+1$", status, re.M), "the server is not PID 1 of its namespace"
    assert pathlib.Path(f"/proc/{container.pid}/comm").read_text().strip() == "polaris"
    # The image's ENV names the repository: the default set baked into the layout.
    assert "serving /opt/polaris/share/polaris/models/default" in container.output()
    http, grpc = (f"127.0.0.1:{container.ports[p]}" for p in ("HTTP", "GRPC"))
    infer_each_default_model(http, grpc)
    with urllib.request.urlopen(f"http://{http}/", timeout=10) as r:
        assert r.status == 200 and b"<html" in r.read().lower()


def test_the_container_writes_only_in_its_home(container):
    # What the server wrote to the writable layer (overlay upper) after serving: its HOME only,
    # besides the mount points Docker makes too (so readOnlyRootFilesystem + a HOME volume works).
    wait_until(lambda: container.healthcheck() == 0, timeout=90, describe=container.output)
    written = sorted(str(p.relative_to(container.upper)) for p in container.upper.rglob("*"))
    outside = [p for p in written if not (p.startswith("home/polaris/") or p in (
        "home", "home/polaris", "opt", "opt/polaris", "tmp", "tmp/check-runtime-libraries"))]
    assert not outside, outside


def test_runtime_packages_are_the_packages_of_the_libraries_linked(container, layout):
    """runtime-packages.txt lists the package of each library the layout's files link directly
    (their NEEDED entries), resolved and owned in the runtime stage itself (ldd, dpkg -S), plus
    the two that are not libraries; apt brings what those depend on."""
    direct = {}  # soname -> layout files that need it
    for elf in (p for p in sorted(layout.rglob("*")) if p.is_file() and p.read_bytes()[:4] == b"\x7fELF"):
        for soname in re.findall(r"\(NEEDED\).*\[(.*)\]", run("readelf", "-d", elf).stdout):
            direct.setdefault(soname, []).append(str(elf.relative_to(layout)))
    script = r'''for f in $(find /opt/polaris -type f); do head -c 4 "$f" | grep -q ELF && ldd "$f"; done
                 | sed -n 's/^\s*\(\S*\) => \(\/\S*\).*/\1 \2/p; s/^\s*\(\/\S*\) (.*/\1 \1/p' | sort -u'''
    resolved = container.exec(["/bin/sh", "-c", script.replace("\n", " ")], user="0")
    assert resolved.returncode == 0, resolved.stderr
    paths = {}
    for line in resolved.stdout.splitlines():
        name, path = line.split()
        paths[os.path.basename(name)] = path
    system = {soname: paths[soname] for soname in direct if not paths[soname].startswith("/opt/polaris/")}
    # Debian 12 is merged-/usr: ldd says /lib/..., a package may own it as /usr/lib/... (dpkg -S
    # does not follow the /lib symlink), so both spellings are asked.
    usr = {p: "/usr" + p if p.startswith("/lib/") else p for p in system.values()}
    owners = container.exec(["dpkg", "-S", *set(system.values()) | set(usr.values())], user="0")
    owner_of = {}
    for line in owners.stdout.splitlines():
        package, path = line.split(": ", 1)
        owner_of[path] = package.split(":")[0]
    for path, alias in usr.items():
        if path not in owner_of and alias in owner_of:
            owner_of[path] = owner_of[alias]
    unowned = sorted(p for p in system.values() if p not in owner_of)
    assert not unowned, f"no package of the runtime stage ships {unowned} (bundle it in lib/polaris)"
    linked = {owner_of[p] for p in system.values()}
    listed = {p for line in (CONTAINER / "runtime-packages.txt").read_text().splitlines() for p in
              line.split("#")[0].split()}
    missing = {pkg: [s for s in system if owner_of[system[s]] == pkg] for pkg in linked - listed}
    assert not missing, f"add to runtime-packages.txt: {missing}"
    assert listed - linked == {"curl", "ca-certificates"}, f"linked by nothing: {sorted(listed - linked)}"
    # curl, the one listed package no file links, is the HEALTHCHECK's client.
    assert container.stage.healthcheck[-1].startswith("curl ")
