"""deploy/kubernetes/, deploy/kserve/ and deploy/modelmesh/ checked without a cluster (none on the
project's machines):

- kubeconform -strict validates every manifest against the oldest and newest Kubernetes that
  deploy/tools/install-kubeconform provides, and the KServe and ModelMesh Serving CRDs' schemas
  (a kind without a schema fails: no -ignore-missing-schemas);
- every --flag of a Polaris container and every POLARIS_* variable is one that the built binary's
  `--help` lists;
- what the manifests repeat from deploy/container/Dockerfile (USER, EXPOSE, ENTRYPOINT,
  HEALTHCHECK's path, the image's POLARIS_MODEL_REPOSITORY) agrees with it;
- the memory limit is above the Polaris memory budget, the grace period above the shutdown
  timeout, the KServe runtimes' autoSelect priorities do not collide with those of the runtimes
  KServe and ModelMesh ship (KServe's webhook, ported), and the ModelMesh runtime has the fields
  ModelMesh needs;
- each Polaris container runs for real with exactly its command, args and env (paths mapped onto
  temporary folders, ports onto free ones): its probes answer, its budget is the one checked, and
  the ModelMesh runtime answers mmesh.ModelRuntime/runtimeStatus.

Every check has a broken twin that must fail."""
import copy
import json
import math
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import urllib.request

import pytest
import yaml

from conftest import ROOT, free_port, run, wait_until

sys.path.insert(0, str(ROOT / "deploy" / "tools"))
import runtime_stage  # noqa: E402

DEPLOY = ROOT / "deploy"
INSTALLER = DEPLOY / "tools" / "install-kubeconform"
KUBERNETES = sorted((DEPLOY / "kubernetes").rglob("*.yaml"))
KSERVE = sorted((DEPLOY / "kserve").glob("*.yaml"))
MODELMESH = sorted((DEPLOY / "modelmesh").glob("*.yaml"))
# What each folder is validated against, besides Kubernetes' own schemas. ModelMesh's manifests
# also go through KServe's CRDs: a cluster with KServe installed uses those.
SCHEMA_SETS = {"kubernetes": (KUBERNETES, []), "kserve": (KSERVE, ["kserve-schemas"]),
               "modelmesh": (MODELMESH, ["modelmesh-schemas"]),
               "modelmesh-on-kserve": (MODELMESH, ["kserve-schemas"])}
# Where KServe puts the InferenceService's storageUri (its ModelDir), and the termination grace
# periods of the pods the KServe and ModelMesh controllers make from a runtime (a runtime cannot
# set one): RawDeployment's is Kubernetes' default (Serverless: Knative's revision timeout, 300 s,
# longer); ModelMesh Serving's from its config/internal/base/deployment.yaml.tmpl.
KSERVE_MODEL_DIR = "/mnt/models"
KUBERNETES_DEFAULT_GRACE_S = 30
MODELMESH_GRACE_S = 90
SHUTDOWN_TIMEOUT_DEFAULT_S = 30  # polaris serve --shutdown-timeout


def load(path):
    docs = [d for d in yaml.safe_load_all(pathlib.Path(path).read_text()) if d]
    assert len(docs) == 1, f"{path}: one resource per file"
    return docs[0]


def doc_of(path_in_deploy):
    return load(DEPLOY / path_in_deploy)


# ---------------------------------------------------------------- tools and facts

@pytest.fixture(scope="module")
def kube():
    """KEY=VALUE lines of install-kubeconform: kubeconform, kubernetes-versions, kubernetes-schemas,
    kserve-schemas, modelmesh-schemas, runtimes."""
    out = run(INSTALLER).stdout
    tools = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    tools["versions"] = tools["kubernetes-versions"].split()
    return tools


@pytest.fixture(scope="module")
def stage():
    """The Dockerfile's runtime stage: USER, EXPOSE, ENTRYPOINT, HEALTHCHECK, ENV."""
    return runtime_stage.Stage(DEPLOY / "container" / "Dockerfile", ROOT)


def help_options(text):
    """{--flag: its environment variable or None} from a CLI11 --help text."""
    options = {}
    for line in text.splitlines():
        m = re.match(r"\s+(?:-\w,)?(--[a-z0-9][a-z0-9-]*)\b(.*)", line)
        if m:
            env = re.search(r"\(Env:(\w+)\)", m.group(2))
            options[m.group(1)] = env.group(1) if env else None
    return options


@pytest.fixture(scope="module")
def cli(polaris_bin):
    """The options of `polaris serve` and `polaris pull`, as the built binary lists them."""
    serve = help_options(run(polaris_bin, "serve", "--help").stdout)
    pull = help_options(run(polaris_bin, "pull", "--help").stdout)
    assert "--memory-limit" in serve and serve["--shutdown-timeout"] == "POLARIS_SHUTDOWN_TIMEOUT"
    assert "--into" in pull
    return {"serve": serve, "pull": pull}


def test_the_installer_is_cached_and_idempotent(kube):
    # A second run reads the stamp and prints the same paths; the paths are there.
    again = run(INSTALLER).stdout
    assert dict(l.split("=", 1) for l in again.splitlines() if "=" in l)["kubeconform"] == kube["kubeconform"]
    assert len(kube["versions"]) == 2 and kube["versions"][0] != kube["versions"][1]
    assert os.access(kube["kubeconform"], os.X_OK)
    stamp = pathlib.Path(kube["kubeconform"]).parents[1] / "stamp"
    assert stamp.is_file() and pathlib.Path(kube["runtimes"], "kserve", "kserve-tritonserver.yaml").is_file()
    text = INSTALLER.read_text()
    assert "flock" in text and "--require-hashes" in text


# ---------------------------------------------------------------- kubeconform

def kubeconform(kube, version, schema_keys, files):
    """kubeconform -strict against Kubernetes `version` and the given CRD schema sets; the
    per-resource results (JSON output) and the exit code."""
    locations = [a for key in ["kubernetes-schemas", *schema_keys] for a in ("-schema-location", kube[key])]
    result = run(kube["kubeconform"], "-strict", "-verbose", "-output", "json", "-kubernetes-version", version,
                 *locations, *files, check=False)
    return result.returncode, json.loads(result.stdout)["resources"]


@pytest.mark.parametrize("schemas", SCHEMA_SETS)
def test_manifests_pass_kubeconform_strict(kube, schemas):
    files, keys = SCHEMA_SETS[schemas]
    assert files
    for version in kube["versions"]:
        rc, resources = kubeconform(kube, version, keys, files)
        assert rc == 0 and [r["status"] for r in resources] == ["statusValid"] * len(files), (version, resources)


def test_a_kind_without_a_schema_fails(kube):
    # The twin of the KServe set: without KServe's schemas its kinds are errors, not skipped.
    rc, resources = kubeconform(kube, kube["versions"][-1], [], KSERVE)
    assert rc != 0 and all("could not find schema" in r["msg"] for r in resources), resources


def misspell(key):
    return key[:-1] if len(key) > 4 else key + "x"


def mutated(doc, path, change):
    """A copy of `doc` with the key at `path` (keys and list indexes) misspelled (change
    "misspell") or its value replaced by `change`; the JSON pointer kubeconform names and the
    misspelled key (or None)."""
    out = copy.deepcopy(doc)
    node = out
    for step in path[:-1]:
        node = node[step]
    key = path[-1]
    assert key in node, f"{path} is not in the manifest"
    pointer = "/" + "/".join(map(str, path[:-1]))
    if change == "misspell":
        node[misspell(key)] = node.pop(key)
        return out, pointer, misspell(key)
    node[key] = change
    return out, pointer + "/" + str(key), None


def pod_path(doc):
    return ("spec", "template", "spec") if doc["kind"] == "Deployment" else ("spec",)


def twins(doc):
    """Broken copies of a manifest: a misspelled metadata field (the CRDs' metadata is
    Kubernetes' ObjectMeta here), a misspelled field deep in its spec, a value of the wrong type."""
    kind = doc["kind"]
    yield mutated(doc, ("metadata", "name"), "misspell")
    if kind in ("Deployment", "ServingRuntime", "ClusterServingRuntime"):
        pod = pod_path(doc)
        yield mutated(doc, (*pod, "containers", 0, "securityContext", "readOnlyRootFilesystem"), "misspell")
        yield mutated(doc, (*pod, "containers", 0, "resources", "limits"), ["3Gi"])
    if kind == "Deployment":
        yield mutated(doc, ("spec", "template", "spec", "terminationGracePeriodSeconds"), "45s")
    elif kind in ("ServingRuntime", "ClusterServingRuntime"):
        yield mutated(doc, ("spec", "supportedModelFormats", 0, "autoSelect"), "yes")
    elif kind == "Service":
        yield mutated(doc, ("spec", "ports", 0, "targetPort"), "misspell")
        yield mutated(doc, ("spec", "ports", 0, "port"), {"number": 8000})
    elif kind == "PersistentVolumeClaim":
        yield mutated(doc, ("spec", "resources", "requests"), "misspell")
        yield mutated(doc, ("spec", "accessModes"), "ReadWriteMany")
    elif kind == "InferenceService":
        yield mutated(doc, ("spec", "predictor", "model", "runtime"), "misspell")
        yield mutated(doc, ("spec", "predictor", "model", "modelFormat"), "onnx")
    else:
        raise AssertionError(f"no broken twins for {kind}")


@pytest.mark.parametrize("schemas", SCHEMA_SETS)
def test_broken_copies_fail_kubeconform(kube, schemas, tmp_path):
    files, keys = SCHEMA_SETS[schemas]
    expected = {}
    for path in files:
        for i, (doc, pointer, key) in enumerate(twins(load(path))):
            broken = tmp_path / f"{path.stem}-{i}.yaml"
            broken.write_text(yaml.safe_dump(doc))
            expected[str(broken)] = (pointer, key)
    for version in kube["versions"]:
        rc, resources = kubeconform(kube, version, keys, list(expected))
        assert rc != 0 and len(resources) == len(expected)
        for r in resources:
            pointer, key = expected[r["filename"]]
            assert r["status"] == "statusInvalid", (r["filename"], r)
            assert f"at '{pointer}'" in r["msg"], r["msg"]
            if key:
                assert f"additional properties '{key}' not allowed" in r["msg"], r["msg"]
            else:
                assert "got " in r["msg"] and "want " in r["msg"], r["msg"]


# ---------------------------------------------------------------- the Polaris containers

def pods():
    """(file, pod spec, kind) of every manifest that starts Polaris."""
    for path in KUBERNETES + KSERVE + MODELMESH:
        doc = load(path)
        if doc["kind"] in ("Deployment", "ServingRuntime", "ClusterServingRuntime"):
            node = doc
            for step in pod_path(doc):
                node = node[step]
            yield path, node, doc


def polaris_containers(entrypoint):
    """(file, pod spec, container, subcommand) of every container running the image's binary."""
    found = []
    for path, pod, doc in pods():
        for container in pod.get("initContainers", []) + pod["containers"]:
            command = container.get("command", entrypoint)
            assert command[0] == entrypoint[0], f"{path}: {container['name']} runs {command[0]}"
            found.append((path, pod, doc, container, command[1]))
    return found


def server_containers(entrypoint):
    return [(p, pod, doc, c) for p, pod, doc, c, sub in polaris_containers(entrypoint) if sub == "serve"]


def argv_of(container, entrypoint):
    """The words after the subcommand: command[2:] and args, $(VAR) expanded as the kubelet does."""
    env = {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
    words = container.get("command", entrypoint)[2:] + container.get("args", [])
    return [re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), w) for w in words]


def flags_in(argv):
    return [w.split("=", 1)[0] for w in argv if w.startswith("--")]


def flag_values(argv, flag):
    """Every value given to `flag` (--flag=V or --flag V)."""
    values = []
    for i, w in enumerate(argv):
        if w.startswith(flag + "="):
            values.append(w.split("=", 1)[1])
        elif w == flag and i + 1 < len(argv) and not argv[i + 1].startswith("--"):
            values.append(argv[i + 1])
    return values


def unknown_options(container, subcommand, known, entrypoint):
    """Flags and POLARIS_* variables of a container that `polaris SUBCOMMAND --help` does not list."""
    options = known[subcommand]
    envs = {e for e in options.values() if e}
    unknown = [f for f in flags_in(argv_of(container, entrypoint)) if f not in options]
    unknown += [e["name"] for e in container.get("env", []) if e["name"].startswith("POLARIS_")
                and e["name"] not in envs]
    return unknown


def test_every_flag_and_variable_is_a_real_option(cli, stage):
    checked = 0
    for path, _, _, container, subcommand in polaris_containers(stage.entrypoint):
        assert subcommand in cli, f"{path}: polaris {subcommand}"
        assert not unknown_options(container, subcommand, cli, stage.entrypoint), (path, container["name"])
        checked += len(flags_in(argv_of(container, stage.entrypoint))) + len(container.get("env", []))
    assert checked > 20
    # The twin: made-up and misspelled options are caught, in both forms.
    made_up = {"name": "polaris", "command": stage.entrypoint,
               "args": ["--made-up-flag=1", "--memory-limits", "2GiB", "--model-repository=/models"],
               "env": [{"name": "POLARIS_MADE_UP", "value": "1"}, {"name": "POLARIS_MEMORY_LIMIT", "value": "1G"},
                       {"name": "NOT_POLARIS", "value": "1"}]}
    assert unknown_options(made_up, "serve", cli, stage.entrypoint) == [
        "--made-up-flag", "--memory-limits", "POLARIS_MADE_UP"]
    pull = dict(made_up, command=[stage.entrypoint[0], "pull"], args=["x.onnx", "--into", "/m", "--intoo=/m"], env=[])
    assert unknown_options(pull, "pull", cli, stage.entrypoint) == ["--intoo"]


# ---------------------------------------------------------------- values, as the server reads them

def quantity(text):
    """A Kubernetes quantity ("3Gi", "500m", "2") as a number."""
    m = re.fullmatch(r"([0-9.]+)([a-zA-Z]*)", str(text))
    assert m, text
    units = {"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 1 << 10, "Mi": 1 << 20,
             "Gi": 1 << 30, "Ti": 1 << 40}
    return float(m.group(1)) * units[m.group(2)]


def byte_size(text):
    """A Polaris size (core/byte_size.cc: 6GiB, 512MiB, 1.5G; case-insensitive) in bytes."""
    m = re.fullmatch(r"([0-9.]+)([a-zA-Z]*)", text)
    assert m, text
    units = {"": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20, "g": 1 << 30,
             "gib": 1 << 30, "t": 1 << 40, "tib": 1 << 40, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12}
    return int(float(m.group(1)) * units[m.group(2).lower()])


def container_env(container):
    """The container's variables as the kubelet sets them (resourceFieldRef resolved)."""
    env = {}
    for e in container.get("env", []):
        if "value" in e:
            env[e["name"]] = str(e["value"])
            continue
        ref = e["valueFrom"]["resourceFieldRef"]
        assert ref.get("containerName", container["name"]) == container["name"]
        section, resource = ref["resource"].split(".")
        value = quantity(container["resources"][section][resource]) / quantity(ref.get("divisor", "1"))
        env[e["name"]] = str(math.ceil(value))
    return env


def effective(container, flag, stage, entrypoint, default=None, every=False):
    """What `polaris serve` reads for `flag`: the args, else the container's variable, else the
    image's (ENV), else the default; an empty variable counts as unset (CLI11 skips it)."""
    values = flag_values(argv_of(container, entrypoint), flag)
    if not values:
        name = "POLARIS_" + flag[2:].upper().replace("-", "_")
        value = container_env(container).get(name, stage.env.get(name, ""))
        values = [value] if value != "" else []
    if every:
        return values
    return values[-1] if values else default


def memory_problems(container, stage, entrypoint):
    budgets = [v for v in effective(container, "--memory-limit", stage, entrypoint, every=True)
               if not v.startswith("gpu:")]
    limit = container.get("resources", {}).get("limits", {}).get("memory")
    if not budgets:
        return ["no --memory-limit: the budget would be 75% of the node's memory, not the container's"]
    if limit is None:
        return ["no memory limit"]
    budget = byte_size(budgets[-1])
    return [] if quantity(limit) > budget else [f"memory limit {limit} is not above the budget {budgets[-1]}"]


def test_memory_limit_is_above_the_budget(stage):
    servers = server_containers(stage.entrypoint)
    assert len(servers) == 5
    for path, _, _, container in servers:
        assert not memory_problems(container, stage, stage.entrypoint), path
    # The twins: a budget over the limit, and no budget at all.
    container = copy.deepcopy(servers[0][3])
    container.setdefault("args", []).append("--memory-limit=4GiB")
    assert memory_problems(container, stage, stage.entrypoint)
    container = copy.deepcopy(servers[0][3])
    container["env"] = [e for e in container["env"] if e["name"] != "POLARIS_MEMORY_LIMIT"]
    assert memory_problems(container, stage, stage.entrypoint)


def grace_period(doc, pod):
    if doc["kind"] == "Deployment":
        return pod.get("terminationGracePeriodSeconds", KUBERNETES_DEFAULT_GRACE_S)
    return MODELMESH_GRACE_S if doc["spec"].get("multiModel") else KUBERNETES_DEFAULT_GRACE_S


def grace_problems(grace, container, stage, entrypoint):
    """SIGKILL comes `grace` seconds after the preStop hook starts: the hook and the shutdown
    timeout must fit, with room to exit."""
    timeout = int(effective(container, "--shutdown-timeout", stage, entrypoint, SHUTDOWN_TIMEOUT_DEFAULT_S))
    pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
    return [] if grace > pre_stop + timeout else [f"grace {grace} s <= preStop {pre_stop} s + shutdown {timeout} s"]


def test_grace_period_is_above_the_shutdown_timeout(stage):
    for path, pod, doc, container in server_containers(stage.entrypoint):
        assert not grace_problems(grace_period(doc, pod), container, stage, stage.entrypoint), path
    # The twins: the default shutdown timeout (30 s) in a pod of Kubernetes' default grace (30 s).
    _, pod, doc, container = server_containers(stage.entrypoint)[0]
    container = copy.deepcopy(container)
    container["env"] = [e for e in container["env"] if e["name"] != "POLARIS_SHUTDOWN_TIMEOUT"]
    assert grace_problems(KUBERNETES_DEFAULT_GRACE_S, container, stage, stage.entrypoint)
    # ...and a grace period that leaves the preStop sleep (5 s) no room.
    container["args"] = container.get("args", []) + ["--shutdown-timeout=30"]
    assert grace_problems(35, container, stage, stage.entrypoint)
    assert not grace_problems(36, container, stage, stage.entrypoint)


# ---------------------------------------------------------------- the image's facts

def security(pod, container, key):
    return container.get("securityContext", {}).get(key, pod.get("securityContext", {}).get(key))


def mount_problems(pod, container):
    """A read-only root needs writable emptyDirs at the paths Polaris writes: /tmp and
    ~/.cache (the provider decisions, measured memory)."""
    if security(pod, container, "readOnlyRootFilesystem") is not True:
        return ["root file system not read-only"]
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = {m["mountPath"]: m for m in container.get("volumeMounts", [])}
    problems = []
    for path in ("/tmp", "/home/polaris/.cache"):
        m = mounts.get(path)
        if m is None or m.get("readOnly") or "emptyDir" not in volumes.get(m["name"], {}):
            problems.append(f"{path} is not a writable emptyDir")
    return problems


def test_user_ports_and_probes_match_the_dockerfile(stage):
    uid, gid = map(int, stage.user.split(":"))
    assert (uid, gid) == (10001, 10001)
    assert re.search(r"--home-dir /home/polaris\b", (DEPLOY / "container" / "Dockerfile").read_text())
    health = re.search(r"/v2/health/\w+", " ".join(stage.healthcheck)).group(0)
    assert health == "/v2/health/ready"
    defaults = {"--http-port": "8000", "--grpc-port": "8001", "--metrics-port": "8002"}
    assert list(defaults.values()) == stage.expose
    for path, pod, doc, container, subcommand in polaris_containers(stage.entrypoint):
        where = f"{path}: {container['name']}"
        assert security(pod, container, "runAsUser") == uid, where
        assert security(pod, container, "runAsGroup") in (None, gid), where
        assert security(pod, container, "runAsNonRoot") is True, where
        assert security(pod, container, "allowPrivilegeEscalation") is False, where
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"], where
        assert not mount_problems(pod, container), (where, mount_problems(pod, container))
        if doc["kind"] == "Deployment":
            assert pod["securityContext"]["fsGroup"] == gid, where
        if subcommand != "serve":
            continue
        assert container.get("command", stage.entrypoint) == stage.entrypoint, where
        ports = {f: effective(container, f, stage, stage.entrypoint, d) for f, d in defaults.items()}
        if doc["kind"] == "Deployment":
            # Plain Kubernetes: the image's ports, declared by name.
            assert ports == defaults, where
            declared = {p["name"]: str(p["containerPort"]) for p in container["ports"]}
            assert declared == {"http": "8000", "grpc": "8001", "metrics": "8002"}, where
            annotations = doc["spec"]["template"]["metadata"]["annotations"]
            assert annotations["prometheus.io/port"] == ports["--metrics-port"], where
        probes = {k: container[k] for k in ("startupProbe", "readinessProbe", "livenessProbe") if k in container}
        assert probes["livenessProbe"], where
        for kind, probe in probes.items():
            probe_path, probe_port = probe_target(container, probe)
            assert probe_path == {"readinessProbe": health}.get(kind, "/v2/health/live"), (where, kind)
            assert probe_port == ports["--http-port"], (where, kind)
    # The twin: a container whose root is writable, or that lacks the /tmp emptyDir.
    _, pod, _, container = server_containers(stage.entrypoint)[0]
    broken = copy.deepcopy(container)
    broken["volumeMounts"] = [m for m in broken["volumeMounts"] if m["mountPath"] != "/tmp"]
    assert mount_problems(pod, broken) == ["/tmp is not a writable emptyDir"]
    broken["securityContext"]["readOnlyRootFilesystem"] = False
    assert mount_problems(pod, broken) == ["root file system not read-only"]


def probe_target(container, probe):
    """(path, port) that a probe asks: httpGet's (a named port resolved), or the URL an exec
    probe's command fetches."""
    if "httpGet" in probe:
        port = probe["httpGet"]["port"]
        if isinstance(port, str):
            port = next(p["containerPort"] for p in container["ports"] if p["name"] == port)
        return probe["httpGet"]["path"], str(port)
    m = re.search(r"^https?://[^/:]+:(\d+)(/\S*)$", probe["exec"]["command"][-1])
    assert m, probe
    return m.group(2), m.group(1)


def test_the_service_reaches_the_deployments():
    service = doc_of("kubernetes/service.yaml")
    for path in ("kubernetes/deployment.yaml", "kubernetes/alternatives/deployment-init-container.yaml"):
        deployment = doc_of(path)
        template = deployment["spec"]["template"]
        labels = template["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items(), path
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items(), path
        ports = {p["name"]: p["containerPort"] for p in template["spec"]["containers"][0]["ports"]}
        assert {p["targetPort"]: p["port"] for p in service["spec"]["ports"]} == ports, path
        # The repository is mounted where POLARIS_MODEL_REPOSITORY points, read-only for the server.
        container = template["spec"]["containers"][0]
        repo = container_env(container)["POLARIS_MODEL_REPOSITORY"]
        mount = next(m for m in container["volumeMounts"] if m["mountPath"] == repo)
        assert mount.get("readOnly") is True, path
    pvc = doc_of("kubernetes/pvc.yaml")
    volume = next(v for v in doc_of("kubernetes/deployment.yaml")["spec"]["template"]["spec"]["volumes"]
                  if v["name"] == "models")
    assert volume["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]


def test_the_init_container_pulls_a_catalog_model():
    # Its URL and sha256 are the shipped catalog's (catalog/models.json) for the same model.
    pod = doc_of("kubernetes/alternatives/deployment-init-container.yaml")["spec"]["template"]["spec"]
    init = pod["initContainers"][0]
    env = container_env(init)
    catalog = {m["name"]: m for m in json.loads((ROOT / "catalog" / "models.json").read_text())["models"]}
    model = next(m for m in catalog.values() if env["MODEL_URL"] in m["urls"])
    assert model["sha256"] == env["MODEL_SHA256"]
    argv = argv_of(init, None)
    assert flag_values(argv, "--into") == ["/models"] and flag_values(argv, "--sha256") == [model["sha256"]]
    into = next(m for m in init["volumeMounts"] if m["mountPath"] == "/models")
    served = next(m for m in pod["containers"][0]["volumeMounts"] if m["mountPath"] == "/models")
    assert into["name"] == served["name"] and "emptyDir" in next(v for v in pod["volumes"] if v["name"] == into["name"])


# ---------------------------------------------------------------- KServe

def priority_conflicts(new_name, new, existing_runtimes):
    """KServe's ServingRuntime webhook (pkg/webhook/admission/servingruntime, v0.16:
    validateModelFormatPrioritySame, validateServingRuntimePriority) for a runtime spec `new`
    against {name: spec}: the conflicts it would reject."""
    conflicts = []
    by_name = {}
    for f in new["supportedModelFormats"]:
        if f.get("autoSelect"):
            seen = by_name.setdefault(f["name"], f.get("priority"))
            if seen is not None and f.get("priority") is not None and seen != f["priority"]:
                conflicts.append(f"{new_name}: {f['name']} has two priorities")
    for name, old in existing_runtimes.items():
        if bool(new.get("multiModel")) != bool(old.get("multiModel")) or old.get("disabled") or name == new_name:
            continue
        if not set(old.get("protocolVersions", [])) & set(new.get("protocolVersions", [])):
            continue
        for o in old["supportedModelFormats"]:
            for n in new["supportedModelFormats"]:
                if (o.get("autoSelect") and n.get("autoSelect") and o["name"].lower() == n["name"].lower()
                        and o.get("version") == n.get("version") and o.get("priority") is not None
                        and o.get("priority") == n.get("priority")):
                    conflicts.append(f"{new_name} and {name}: {n['name']} priority {n['priority']}")
    return conflicts


@pytest.fixture(scope="module")
def shipped_runtimes(kube):
    """{name: spec} of the runtimes KServe and ModelMesh Serving ship (the installer's runtimes/)."""
    runtimes = {}
    for path in sorted(pathlib.Path(kube["runtimes"]).glob("*/*.yaml")):
        doc = load(path)
        runtimes[doc["metadata"]["name"]] = doc["spec"]
    assert {"kserve-tritonserver", "kserve-torchserve", "triton-2.x"} <= runtimes.keys()
    return runtimes


def test_kserve_runtimes(stage, shipped_runtimes):
    runtime, cluster = doc_of("kserve/servingruntime.yaml"), doc_of("kserve/clusterservingruntime.yaml")
    assert (runtime["kind"], cluster["kind"]) == ("ServingRuntime", "ClusterServingRuntime")
    assert runtime["spec"] == cluster["spec"] and runtime["metadata"] == cluster["metadata"]
    spec = runtime["spec"]
    assert spec["protocolVersions"] == ["v2", "grpc-v2"]
    assert not spec.get("multiModel")
    formats = {f["name"]: f for f in spec["supportedModelFormats"]}
    assert formats.keys() == {"onnx", "pytorch"}
    assert all(f["autoSelect"] is True and f["priority"] >= 1 for f in formats.values())
    container = spec["containers"][0]
    assert container["name"] == "kserve-container"  # the container KServe merges the model spec into
    assert f"--model-repository={KSERVE_MODEL_DIR}" in container["args"]
    assert spec["annotations"]["prometheus.kserve.io/port"] == effective(container, "--metrics-port", stage,
                                                                         stage.entrypoint, "8002")
    for doc in (runtime, cluster):
        assert not priority_conflicts(doc["metadata"]["name"], doc["spec"], shipped_runtimes)
    # The twins: Triton's onnx priority, and two priorities for one format in one runtime.
    broken = copy.deepcopy(spec)
    next(f for f in broken["supportedModelFormats"] if f["name"] == "onnx")["priority"] = 1
    assert priority_conflicts("polaris", broken, shipped_runtimes) == [
        "polaris and kserve-tritonserver: onnx priority 1"]
    broken = copy.deepcopy(spec)
    broken["supportedModelFormats"].append(dict(formats["pytorch"], version="2", priority=7))
    assert priority_conflicts("polaris", broken, {}) == ["polaris: pytorch has two priorities"]


def test_kserve_inference_service_names_the_runtime():
    isvc = doc_of("kserve/inferenceservice.yaml")
    runtime = doc_of("kserve/servingruntime.yaml")
    model = isvc["spec"]["predictor"]["model"]
    assert model["runtime"] == runtime["metadata"]["name"]
    assert model["protocolVersion"] in runtime["spec"]["protocolVersions"]
    assert model["modelFormat"] in [{"name": f["name"], "version": f["version"]}
                                    for f in runtime["spec"]["supportedModelFormats"]]
    assert model["storageUri"].startswith("pvc://" + doc_of("kubernetes/pvc.yaml")["metadata"]["name"] + "/")


# ---------------------------------------------------------------- ModelMesh

def modelmesh_problems(spec, stage):
    """What a ModelMesh Serving runtime served by Polaris itself needs."""
    problems = []
    container = spec["containers"][0]
    argv = argv_of(container, stage.entrypoint)
    grpc = effective(container, "--grpc-port", stage, stage.entrypoint, "8001")
    if spec.get("multiModel") is not True:
        problems.append("multiModel is not true")
    if spec.get("grpcEndpoint") != f"port:{grpc}" or spec.get("grpcDataEndpoint") != f"port:{grpc}":
        problems.append("grpcEndpoint and grpcDataEndpoint are not Polaris's gRPC port")
    if "builtInAdapter" in spec:
        problems.append("a builtInAdapter (Polaris is its own)")
    if spec.get("storageHelper", {}).get("disabled"):
        problems.append("the storage helper is disabled (nothing would pull the models)")
    if flag_values(argv, "--modelmesh") != ["true"]:
        problems.append("no --modelmesh=true")
    if effective(container, "--model-repository", stage, stage.entrypoint):
        problems.append("a model repository (ModelMesh brings every model)")
    if effective(container, "--address", stage, stage.entrypoint) != "127.0.0.1":
        problems.append("listening beyond the pod")
    elif any(k in container.get(p, {}) for p in ("startupProbe", "readinessProbe", "livenessProbe")
             for k in ("httpGet", "tcpSocket", "grpc")):
        problems.append("a probe from the kubelet, which cannot reach 127.0.0.1")
    if {f["name"] for f in spec["supportedModelFormats"]} != {"onnx", "pytorch"}:
        problems.append("formats are not onnx and pytorch")
    if "grpc-v2" not in spec.get("protocolVersions", []):
        problems.append("no grpc-v2")
    return problems


def test_modelmesh_runtime(stage, shipped_runtimes):
    runtime = doc_of("modelmesh/servingruntime.yaml")
    spec = runtime["spec"]
    assert modelmesh_problems(spec, stage) == []
    assert not priority_conflicts(runtime["metadata"]["name"], spec, shipped_runtimes)
    # The twins: each field wrong in turn.
    breakages = [
        ("multiModel is not true", lambda s: s.pop("multiModel")),
        ("grpcEndpoint and grpcDataEndpoint are not Polaris's gRPC port", lambda s: s.update(grpcEndpoint="port:8085")),
        ("a builtInAdapter (Polaris is its own)", lambda s: s.update(builtInAdapter={"serverType": "triton"})),
        ("the storage helper is disabled (nothing would pull the models)",
         lambda s: s.update(storageHelper={"disabled": True})),
        ("no --modelmesh=true", lambda s: s["containers"][0]["args"].remove("--modelmesh=true")),
        # The image's POLARIS_MODEL_REPOSITORY, no longer turned off.
        ("a model repository (ModelMesh brings every model)",
         lambda s: s["containers"][0].update(env=[e for e in s["containers"][0]["env"]
                                                  if e["name"] != "POLARIS_MODEL_REPOSITORY"])),
        ("listening beyond the pod", lambda s: s["containers"][0]["args"].remove("--address=127.0.0.1")),
        ("a probe from the kubelet, which cannot reach 127.0.0.1",
         lambda s: s["containers"][0]["livenessProbe"].update(httpGet={"path": "/v2/health/live", "port": 8000})),
        ("formats are not onnx and pytorch", lambda s: s["supportedModelFormats"].pop()),
    ]
    for problem, breakage in breakages:
        broken = copy.deepcopy(spec)
        breakage(broken)
        assert modelmesh_problems(broken, stage) == [problem]


def test_modelmesh_inference_service_names_the_runtime():
    isvc = doc_of("modelmesh/inferenceservice.yaml")
    runtime = doc_of("modelmesh/servingruntime.yaml")
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "ModelMesh"
    model = isvc["spec"]["predictor"]["model"]
    assert model["runtime"] == runtime["metadata"]["name"]
    assert model["modelFormat"] in [{"name": f["name"], "version": f["version"]}
                                    for f in runtime["spec"]["supportedModelFormats"]]


# ---------------------------------------------------------------- each container, run

@pytest.fixture(scope="module")
def runtime_status(tmp_path_factory):
    """mmesh.ModelRuntime/runtimeStatus as a callable on host:port (protoc's descriptor set of
    proto/model_runtime.proto: no generated code)."""
    import grpc
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    protoc = shutil.which("protoc")
    if protoc is None:
        pytest.fail("protoc is not installed (scripts/bootstrap installs protobuf-compiler)")
    proto = ROOT / "proto" / "model_runtime.proto"
    out = tmp_path_factory.mktemp("mmesh") / "model_runtime.pb"
    subprocess.run([protoc, f"-I{proto.parent}", f"--descriptor_set_out={out}", proto.name], check=True)
    pool = descriptor_pool.DescriptorPool()
    for f in descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file:
        pool.Add(f)
    message = lambda name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"mmesh.{name}"))

    def call(address):
        with grpc.insecure_channel(address) as channel:
            stub = channel.unary_unary("/mmesh.ModelRuntime/runtimeStatus",
                                       request_serializer=lambda m: m.SerializeToString(),
                                       response_deserializer=message("RuntimeStatusResponse").FromString)
            return stub(message("RuntimeStatusRequest")(), timeout=60)
    call.READY = message("RuntimeStatusResponse").READY
    return call


def repositories(tmp_path, models):
    """The repository a manifest serves (one default model, digits) and the image's own (a model
    of another name), so that the index tells which one a container serves."""
    mounted, image = tmp_path / "mounted", tmp_path / "image"
    shutil.copytree(models / "default" / "digits", mounted / "digits")
    shutil.copytree(models / "default" / "digits", image / "from_the_image")
    return mounted, image


def rewrite(words, paths, ports):
    """Container paths and ports, in args or variable values, mapped onto this machine's."""
    def one(word):
        prefix, eq, value = word.rpartition("=") if word.startswith("--") and "=" in word else ("", "", word)
        for container_path, host_path in paths.items():
            if value == container_path or value.startswith(container_path + "/"):
                value = str(host_path) + value[len(container_path):]
        value = ports.get(value, value)
        return prefix + eq + value
    return [one(w) for w in words]


def test_each_container_serves_with_its_own_args(polaris_bin, models, stage, runtime_status, tmp_path):
    servers = server_containers(stage.entrypoint)
    assert len(servers) == 5
    mounted, image_repo = repositories(tmp_path, models)
    paths = {KSERVE_MODEL_DIR: mounted, "/models": mounted,
             stage.env["POLARIS_MODEL_REPOSITORY"]: image_repo}
    for n, (path, pod, doc, container) in enumerate(servers):
        where = f"{path.relative_to(ROOT)}: {container['name']}"
        listen = {f: effective(container, f, stage, stage.entrypoint, d) for f, d in
                  (("--http-port", "8000"), ("--grpc-port", "8001"), ("--metrics-port", "8002"))}
        ports = {port: str(free_port()) for port in listen.values()}
        argv = rewrite(argv_of(container, stage.entrypoint), paths, ports)
        env = {k: v for k, v in os.environ.items() if not k.startswith("POLARIS_")}
        pod_env = dict(stage.env, **container_env(container))  # the image's ENV, then the container's
        env.update(zip(pod_env, rewrite(list(pod_env.values()), paths, ports)))
        for flag, port in listen.items():  # a default port (not in args or env): set its variable
            env.setdefault("POLARIS_" + flag[2:].upper().replace("-", "_"), ports[port])
        cache = tmp_path / f"cache-{n}"  # /home/polaris/.cache
        cache.mkdir()
        env["XDG_CACHE_HOME"] = str(cache)
        log = open(tmp_path / f"server-{n}.log", "w+")
        proc = subprocess.Popen([str(polaris_bin), "serve", *argv], stdout=log, stderr=subprocess.STDOUT, env=env)

        def output():
            log.flush()
            log.seek(0)
            return log.read()
        try:
            # Started: its summary, printed once every listener is up, ends with the curl line.
            wait_until(lambda: proc.poll() is not None or "try: curl" in output(), 60,
                       lambda: f"{where} did not start:\n{output()}")
            assert proc.poll() is None, f"{where} exited {proc.returncode}:\n{output()}"
            http = f"127.0.0.1:{ports[listen['--http-port']]}"
            for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
                if kind not in container:
                    continue
                probe_path, probe_port = probe_target(container, container[kind])
                if "exec" in container[kind]:
                    command = rewrite(container[kind]["exec"]["command"][:-1], paths, ports)
                    url = container[kind]["exec"]["command"][-1].replace(f":{probe_port}/", f":{ports[probe_port]}/")
                    result = subprocess.run([*command, url], capture_output=True, text=True, timeout=60)
                    assert result.returncode == 0, (where, kind, result.stderr)
                else:
                    with urllib.request.urlopen(f"http://127.0.0.1:{ports[probe_port]}{probe_path}", timeout=30) as r:
                        assert r.status == 200, (where, kind)
            request = urllib.request.Request(f"http://{http}/v2/repository/index", data=b"{}", method="POST")
            with urllib.request.urlopen(request, timeout=30) as r:
                served = sorted(m["name"] for m in json.loads(r.read()))
            with urllib.request.urlopen(f"http://127.0.0.1:{ports[listen['--metrics-port']]}/metrics",
                                        timeout=30) as r:
                metrics = r.read().decode()
            budget = float(re.search(r'^polaris_memory_budget_bytes\{device="cpu"\} (\S+)$', metrics, re.M).group(1))
            assert budget == byte_size(effective(container, "--memory-limit", stage, stage.entrypoint))
            assert budget < quantity(container["resources"]["limits"]["memory"]), where
            if doc["spec"].get("multiModel"):
                assert served == [], where  # the image's repository is off: ModelMesh brings the models
                grpc_port = doc["spec"]["grpcEndpoint"].split(":")[1]
                status = runtime_status(f"127.0.0.1:{ports[grpc_port]}")
                assert status.status == runtime_status.READY and status.capacityInBytes == budget, where
            else:
                assert served == ["digits"], where  # the mounted repository, not the image's
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            log.close()
        assert proc.returncode == 0, f"{where}: SIGTERM gave exit {proc.returncode}"
