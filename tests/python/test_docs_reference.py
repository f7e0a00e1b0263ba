"""The reference documents against the real thing (issue 21):

docs/openapi.yaml, the REST API of `polaris serve` as OpenAPI 3.1:
  - openapi-spec-validator (deploy/tools/install-openapi-tools) accepts it and rejects broken
    copies; its examples validate against their schemas;
  - a real server answers a representative request of every documented path and method, with a
    status the document lists and a body that validates against the document's schema for that
    status (tests/python/openapi_check.py, run in the tools' venv);
  - every path segment the routing code (server/*_routes.cc, the metrics listener in
    cli/serve_command.cc) matches is in a documented path and no documented one is made up; no
    path near the documented ones (each segment swapped for every routing word, one appended, the
    last dropped) is answered unless documented; a documented path the server answers
    `no such endpoint` fails.
docs/cli.md, the command-line reference: exactly what `scripts/gen-cli-reference` writes from
the binary's own --help now (regenerate with that one command after changing a flag).
"""
import base64
import difflib
import gzip
import http.client
import json
import pathlib
import re
import shutil
import stat
from multiprocessing import shared_memory

import numpy as np
import pytest
import yaml

from conftest import ROOT, ServerProcess, run

SPEC = ROOT / "docs" / "openapi.yaml"
CLI_MD = ROOT / "docs" / "cli.md"
GENERATOR = ROOT / "scripts" / "gen-cli-reference"
CHECKER = pathlib.Path(__file__).with_name("openapi_check.py")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

ADMIN = "docs-reference-admin-token-0123"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
ASSET = "app-0123abcd.js"  # the test dashboard's one asset


# ---------------------------------------------------------------- the tools and the document

@pytest.fixture(scope="module")
def tools():
    """The venv of deploy/tools/install-openapi-tools (installed once, cached)."""
    venv = pathlib.Path(run(ROOT / "deploy" / "tools" / "install-openapi-tools").stdout.strip())
    assert (venv / "bin" / "openapi-spec-validator").exists(), venv
    return venv


@pytest.fixture(scope="module")
def spec():
    return yaml.safe_load(SPEC.read_text())


def operations(doc):
    """(template, method) of every documented operation."""
    return [(path, method) for path, item in doc["paths"].items() for method in item if method in METHODS]


def spec_validator(tools, path):
    return run(tools / "bin" / "openapi-spec-validator", path, check=False)


def checker(tools, *args):
    """The problems openapi_check.py finds (a list of strings)."""
    out = run(tools / "bin" / "python", CHECKER, *args).stdout
    return json.loads(out)


def test_openapi_spec_validator_accepts_the_document(tools):
    result = spec_validator(tools, SPEC)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith(": OK"), result.stdout


BREAKAGES = {
    # A $ref to a schema the document lacks.
    "missing-ref": ('$ref: "#/components/schemas/ServerMetadata"', '$ref: "#/components/schemas/NoSuchSchema"'),
    # A response object without its required description.
    "no-description": ("          description: Live. Empty body.\n", ""),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_openapi_spec_validator_rejects_a_broken_copy(tools, tmp_path, breakage):
    old, new = BREAKAGES[breakage]
    text = SPEC.read_text()
    assert text.count(old) == 1, f"the breakage {breakage!r} no longer applies to docs/openapi.yaml: update it"
    broken = tmp_path / "openapi.yaml"
    broken.write_text(text.replace(old, new))
    result = spec_validator(tools, broken)
    assert result.returncode != 0, f"openapi-spec-validator accepted a copy with {breakage}:\n{result.stdout}"
    assert ("NoSuchSchema" if breakage == "missing-ref" else "description") in result.stdout + result.stderr


def test_the_documents_examples_match_their_schemas(tools, tmp_path):
    assert checker(tools, "examples", SPEC) == []
    # And the check sees a wrong one.
    broken = tmp_path / "openapi.yaml"
    broken.write_text(SPEC.read_text().replace("example: {ready: true}", "example: {ready: 3}", 1))
    problems = checker(tools, "examples", broken)
    assert len(problems) == 1 and "ready: 3 is not of type 'boolean'" in problems[0], problems


# ---------------------------------------------------------------- the routes in the source

def strip_comments(source):
    return re.sub(r"(^|\s)//[^\n]*", r"\1", source)


LITERAL = re.compile(r'(?:==|!=)\s*"([^"]*)"|"([^"]*)"\s*(?:==|!=)')


def routing_words(sources=None):
    """{path segment: where} for every string the routing code compares a path or a path
    segment with: server/*_routes.{cc,h} (the HTTP listener's routes), the metrics listener's
    path in cli/serve_command.cc ("/metrics"), and the dashboard build's folder whose files
    server/static_files.cc treats apart ("assets/"). `sources` ({name: text}) replaces the
    files, to test this function."""
    if sources is None:
        files = sorted((ROOT / "server").glob("*_routes.cc")) + sorted((ROOT / "server").glob("*_routes.h"))
        sources = {str(f.relative_to(ROOT)): f.read_text() for f in files}
        sources["cli/serve_command.cc"] = (ROOT / "cli" / "serve_command.cc").read_text()
        sources["server/static_files.cc"] = (ROOT / "server" / "static_files.cc").read_text()
    words = {}
    for name, text in sources.items():
        text = strip_comments(text)
        if name.endswith("static_files.cc"):
            found = re.findall(r'starts_with\("([^"/]+)/"\)', text)
        else:
            found = [a or b for a, b in LITERAL.findall(text)]
            if name.endswith("serve_command.cc"):  # flags' values are compared there too: paths only
                found = [f for f in found if f.startswith("/")]
        for literal in found:
            for segment in filter(None, literal.split("/")):
                words.setdefault(segment, name)
    return words


def documented_words(doc):
    return {segment for path in doc["paths"] for segment in path.split("/") if segment and "{" not in segment}


def test_every_path_word_the_routing_code_matches_is_documented_and_no_other(spec):
    code = routing_words()
    # The extraction still sees the code's routes (so this test cannot pass on nothing).
    assert {"v2", "health", "infer", "repository", "systemsharedmemory", "polaris", "overview", "metrics",
            "index.html", "assets"} <= set(code), sorted(code)
    docs = documented_words(spec)
    missing = {w: f for w, f in code.items() if w not in docs}
    assert not missing, (f"the routing code matches path segments that no path in docs/openapi.yaml has: "
                         f"{missing}: document the new routes")
    invented = docs - set(code)
    assert not invented, f"docs/openapi.yaml has path segments the routing code never matches: {sorted(invented)}"


def test_a_new_route_in_the_source_is_noticed(spec):
    source = (ROOT / "server" / "http_routes.cc").read_text()
    anchor = 'if (parts[1] == "models") return model_route(request, parts);'
    assert anchor in source, "http_routes.cc changed: pick another place to add a route here"
    added = source.replace(anchor, anchor + '\n  if (parts[1] == "trace" && parts[2] == "setting") return x;')
    words = routing_words({"server/http_routes.cc": added})
    assert {"trace", "setting"} <= set(words) and not {"trace", "setting"} & documented_words(spec)
    # A comment naming a path is no route.
    assert "logging" not in routing_words({"server/x_routes.cc": '// parts[1] == "logging"\n'})


# ---------------------------------------------------------------- a real server

@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A built dashboard of two files, so what `/` serves does not depend on `make dashboard`."""
    root = tmp_path_factory.mktemp("site")
    (root / "index.html").write_text('<!doctype html><title>Polaris</title><script src="/assets/%s"></script>\n'
                                     % ASSET)
    (root / "assets").mkdir()
    (root / "assets" / ASSET).write_text("console.log('polaris');\n")
    return root


@pytest.fixture(scope="module")
def repo(models, tmp_path_factory):
    """The default models (digits, EfficientNet-Lite0 with labels), Triton's simple, identity,
    a model that cannot load, and `scratch`, which the test loads and unloads."""
    root = tmp_path_factory.mktemp("docs-reference") / "repo"
    shutil.copytree(models / "default", root)
    for name, source in (("simple", "simple"), ("identity", "identity"), ("scratch", "identity")):
        (root / name / "1").mkdir(parents=True)
        (root / name / "1" / "model.onnx").symlink_to(models / "tiny" / f"{source}.onnx")
    (root / "broken" / "1").mkdir(parents=True)
    (root / "broken" / "1" / "model.onnx").write_bytes(b"not an ONNX model")
    return root


@pytest.fixture(scope="module")
def server(polaris_bin, repo, site):
    s = ServerProcess(polaris_bin, repo, "--admin-token", ADMIN, "--dashboard-dir", site)
    yield s
    code = s.stop()
    assert code == 0, f"polaris serve exited {code}:\n{s.output()}"


class Client:
    """One keep-alive connection per port; answers as (status, headers, body bytes)."""

    def __init__(self, server):
        self.ports = {"http": server.http_port, "metrics": server.metrics_port}
        self.conns = {}

    def request(self, method, path, headers=None, body=None, port="http"):
        for attempt in (1, 2):
            conn = self.conns.get(port) or http.client.HTTPConnection("127.0.0.1", self.ports[port], timeout=120)
            self.conns[port] = conn
            try:
                conn.request(method, path, body=body, headers=headers or {})
                r = conn.getresponse()
                payload = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    self.conns.pop(port)
                return r.status, {k.lower(): v for k, v in r.getheaders()}, payload
            except (http.client.HTTPException, ConnectionError):
                conn.close()
                self.conns.pop(port)
                if attempt == 2:
                    raise

    def close(self):
        for conn in self.conns.values():
            conn.close()


def template_of(doc, method, path):
    """The documented path template that `path` falls under for `method`, or None; a literal
    path wins over a templated one (/v2/models/stats over /v2/models/{model})."""
    path = path.split("?")[0]
    hits = []
    for template, item in doc["paths"].items():
        if method not in item:
            continue
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            hits.append(template)
    return min(hits, key=lambda t: t.count("{"), default=None)


def error_of(body):
    try:
        return json.loads(body).get("error", "")
    except (ValueError, AttributeError):
        return ""


def no_such_endpoint(status, body):
    """The answers the server gives a path it has no route for."""
    return status == 404 and error_of(body).startswith(("no such endpoint", "metrics are at /metrics"))


def method_refused(status, body):
    """A path whose route wants another method: 405 under /v2; 400 `method ... is not allowed`
    under /polaris (the dashboard API's answer)."""
    return status == 405 or (status == 400 and re.match(r"method \S+ is not allowed on ", error_of(body)))


def infer_json(inputs, outputs=None, **extra):
    body = {"inputs": inputs, **extra}
    if outputs is not None:
        body["outputs"] = outputs
    return json.dumps(body).encode()


def binary_request(header, *arrays):
    """The binary tensor extension: the JSON header, then each binary input's bytes."""
    head = json.dumps(header).encode()
    return head + b"".join(a.tobytes() for a in arrays), {"Inference-Header-Content-Length": str(len(head)),
                                                          "Content-Type": "application/octet-stream"}


SIMPLE_INPUTS = [{"name": "INPUT0", "shape": [1, 16], "datatype": "INT32", "data": list(range(1, 17))},
                 {"name": "INPUT1", "shape": [1, 16], "datatype": "INT32", "data": [1] * 16}]


def calls(models, region_key):
    """The requests that stand for the documented operations, in order (they change the
    server: load, unload, register), each with the status it must get:
    (method, path, headers, body, expected status, port)."""
    a = np.arange(16, dtype=np.int32).reshape(1, 16)
    b = np.ones((1, 16), dtype=np.int32)
    simple_binary, simple_binary_headers = binary_request(
        {"inputs": [{"name": "INPUT0", "shape": [1, 16], "datatype": "INT32", "parameters": {"binary_data_size": 64}},
                    {"name": "INPUT1", "shape": [1, 16], "datatype": "INT32", "parameters": {"binary_data_size": 64}}],
         "outputs": [{"name": "OUTPUT0", "parameters": {"binary_data": True}}, {"name": "OUTPUT1"}]}, a, b)
    flower = np.load(models / "efficientnet_lite0" / "samples" / "flower.npy").astype(np.float32).reshape(1, 3, 224, 224)
    classify, classify_headers = binary_request(
        {"inputs": [{"name": "input", "shape": [1, 3, 224, 224], "datatype": "FP32",
                     "parameters": {"binary_data_size": flower.nbytes}}],
         "outputs": [{"name": "logits", "parameters": {"classification": 3}}]}, flower)
    identity_config = json.dumps({"max_batch_size": 4,
                                  "input": [{"name": "input", "data_type": "TYPE_FP32", "dims": [4]}],
                                  "output": [{"name": "output", "data_type": "TYPE_FP32", "dims": [4]}]})
    identity_file = base64.b64encode((models / "tiny" / "identity.onnx").read_bytes()).decode()
    json_headers = {"Content-Type": "application/json"}
    wrong = {"Authorization": "Bearer not-the-admin-token-0123"}
    region = "/v2/systemsharedmemory/region/docs%20region"  # a %-escaped name, as tritonclient sends
    return [
        ("GET", "/v2/health/live", {}, None, 200, "http"),
        ("GET", "/v2/health/ready", {}, None, 200, "http"),
        ("GET", "/v2", {}, None, 200, "http"),
        ("GET", "/v2/models/simple", {}, None, 200, "http"),
        ("GET", "/v2/models/no_such_model", {}, None, 404, "http"),
        ("GET", "/v2/models/broken", {}, None, 400, "http"),
        ("GET", "/v2/models/simple/versions/1", {}, None, 200, "http"),
        ("GET", "/v2/models/simple/versions/one", {}, None, 400, "http"),
        ("GET", "/v2/models/simple/versions/9", {}, None, 404, "http"),
        ("GET", "/v2/models/simple/ready", {}, None, 200, "http"),
        ("GET", "/v2/models/broken/ready", {}, None, 400, "http"),
        ("GET", "/v2/models/simple/versions/1/ready", {}, None, 200, "http"),
        ("GET", "/v2/models/simple/versions/one/ready", {}, None, 400, "http"),
        ("GET", "/v2/models/simple/config", {}, None, 200, "http"),
        ("GET", "/v2/models/efficientnet_lite0/config", {}, None, 200, "http"),
        ("GET", "/v2/models/simple/versions/1/config", {}, None, 200, "http"),
        # infer: JSON, binary in and out, raw (header length 0), classification, compressed both ways
        ("POST", "/v2/models/simple/infer", json_headers, infer_json(SIMPLE_INPUTS, id="docs-1"), 200, "http"),
        ("POST", "/v2/models/simple/versions/1/infer", simple_binary_headers, simple_binary, 200, "http"),
        ("POST", "/v2/models/identity/infer", {"Inference-Header-Content-Length": "0"},
         np.arange(4, dtype=np.float32).tobytes(), 200, "http"),
        ("POST", "/v2/models/efficientnet_lite0/infer", classify_headers, classify, 200, "http"),
        ("POST", "/v2/models/simple/infer", {**json_headers, "Content-Encoding": "gzip", "Accept-Encoding": "gzip"},
         gzip.compress(infer_json(SIMPLE_INPUTS)), 200, "http"),
        ("POST", "/v2/models/simple/infer", {"Content-Encoding": "br"}, b"{}", 415, "http"),
        ("POST", "/v2/models/simple/infer", json_headers, b'{"inputs": [', 400, "http"),
        ("POST", "/v2/models/no_such_model/infer", json_headers, infer_json(SIMPLE_INPUTS), 404, "http"),
        ("POST", "/v2/models/simple/versions/one/infer", json_headers, infer_json(SIMPLE_INPUTS), 400, "http"),
        # statistics (after the infers, so batch_stats has rows)
        ("GET", "/v2/models/stats", {}, None, 200, "http"),
        ("GET", "/v2/models/simple/stats", {}, None, 200, "http"),
        ("GET", "/v2/models/simple/versions/1/stats", {}, None, 200, "http"),
        ("GET", "/v2/models/no_such_model/stats", {}, None, 404, "http"),
        # the repository: index (inference access), load/unload/pin/unpin (the admin token)
        ("POST", "/v2/repository/index", {}, None, 200, "http"),
        ("POST", "/v2/repository/index", json_headers, b'{"ready": true}', 200, "http"),
        ("POST", "/v2/repository/index", json_headers, b"[1]", 400, "http"),
        ("POST", "/v2/repository/models/scratch/load", {}, None, 401, "http"),
        ("POST", "/v2/repository/models/scratch/load", wrong, None, 403, "http"),
        ("POST", "/v2/repository/models/scratch/load", AUTH, None, 200, "http"),
        ("POST", "/v2/repository/models/scratch/unload", AUTH, b'{"parameters": {"unload_dependents": false}}', 200,
         "http"),
        ("POST", "/v2/repository/models/scratch/load", {**AUTH, **json_headers},
         json.dumps({"parameters": {"config": identity_config, "file:1/model.onnx": identity_file}}).encode(), 200,
         "http"),
        ("POST", "/v2/repository/models/scratch/unload", AUTH, None, 200, "http"),
        ("POST", "/v2/repository/models/scratch/unload", {}, None, 401, "http"),
        ("POST", "/v2/repository/models/no_such_model/load", AUTH, None, 404, "http"),
        ("POST", "/v2/repository/models/simple/pin", AUTH, None, 200, "http"),
        ("POST", "/v2/repository/models/simple/unpin", AUTH, None, 200, "http"),
        ("POST", "/v2/repository/models/no_such_model/pin", AUTH, None, 404, "http"),
        ("POST", "/v2/repository/models/simple/unpin", wrong, None, 403, "http"),
        # system shared memory, on a real POSIX object; CUDA's, answered "not supported"
        ("POST", f"{region}/register", json_headers,
         json.dumps({"key": region_key, "offset": 0, "byte_size": 64}).encode(), 200, "http"),
        ("POST", f"{region}/register", json_headers,
         json.dumps({"key": "/no-such-polaris-object", "byte_size": 64}).encode(), 400, "http"),
        ("GET", "/v2/systemsharedmemory/status", {}, None, 200, "http"),
        ("GET", f"{region}/status", {}, None, 200, "http"),
        ("POST", f"{region}/unregister", {}, None, 200, "http"),
        ("GET", f"{region}/status", {}, None, 404, "http"),
        ("POST", "/v2/systemsharedmemory/unregister", {}, None, 200, "http"),
        ("GET", "/v2/cudasharedmemory/status", {}, None, 200, "http"),
        ("GET", "/v2/cudasharedmemory/region/docs_region/status", {}, None, 404, "http"),
        ("POST", "/v2/cudasharedmemory/region/docs_region/register", json_headers,
         b'{"raw_handle": {"b64": ""}, "device_id": 0, "byte_size": 64}', 501, "http"),
        ("POST", "/v2/cudasharedmemory/region/docs_region/unregister", {}, None, 200, "http"),
        ("POST", "/v2/cudasharedmemory/unregister", {}, None, 200, "http"),
        # the dashboard API and files
        ("GET", "/polaris/overview", {}, None, 200, "http"),
        ("GET", "/polaris/models/efficientnet_lite0/preprocessing", {}, None, 200, "http"),
        ("GET", "/polaris/models/digits/preprocessing", {}, None, 400, "http"),
        ("GET", "/polaris/models/no_such_model/preprocessing", {}, None, 404, "http"),
        ("GET", "/", {}, None, 200, "http"),
        ("GET", "/index.html", {}, None, 200, "http"),
        ("GET", f"/assets/{ASSET}", {}, None, 200, "http"),
        ("GET", "/assets/no-such-file.js", {}, None, 404, "http"),
        # the metrics listener
        ("GET", "/metrics", {}, None, 200, "metrics"),
    ]


def exchange(doc, client, method, path, headers, body, port):
    """One request and its answer, as openapi_check.py takes it; None when no documented
    operation has the path and method."""
    template = template_of(doc, method.lower(), path)
    status, answer_headers, payload = client.request(method, path, headers, body, port)
    decoded = gzip.decompress(payload) if answer_headers.get("content-encoding") == "gzip" else payload
    return {"id": f"{method} {path}", "method": method.lower(), "template": template, "status": status,
            "headers": answer_headers, "body_b64": base64.b64encode(decoded).decode(), "error": error_of(decoded)}


def validate(tools, tmp_path, exchanges, spec_path=SPEC):
    file = tmp_path / "exchanges.json"
    file.write_text(json.dumps([x for x in exchanges if x["template"]]))
    return checker(tools, "responses", spec_path, file)


def unserved(doc, exchanges):
    """Documented operations that no request reached: none was sent, or the server answered
    each with its `no such endpoint`."""
    reached = {(x["template"], x["method"]) for x in exchanges
               if not no_such_endpoint(x["status"], base64.b64decode(x["body_b64"]))}
    return [f"{m.upper()} {t}" for t, m in operations(doc) if (t, m) not in reached]


def test_every_documented_operation_answers_as_documented(server, spec, models, tools, tmp_path):
    """A request for every documented path and method (state-changing ones on `scratch` and a
    shared memory object of this test's), each answered with the status it should get, a status
    the document lists, and a body its schema accepts."""
    obj = shared_memory.SharedMemory(create=True, size=64)
    client = Client(server)
    try:
        exchanges, wrong_status = [], []
        for method, path, headers, body, expected, port in calls(models, "/" + obj.name):
            x = exchange(spec, client, method, path, headers, body, port)
            assert x["template"], f"{method} {path} is no documented operation: a stale request in calls()"
            if x["status"] != expected:
                wrong_status.append(f"{method} {path}: {x['status']} (wanted {expected}) "
                                    f"{base64.b64decode(x['body_b64'])[:300]!r}")
            exchanges.append(x)
    finally:
        client.close()
        obj.close()
        obj.unlink()
    assert not wrong_status, "\n".join(wrong_status)
    missing = unserved(spec, exchanges)
    assert not missing, ("documented operations with no request in calls() (add one), or answered "
                         f"`no such endpoint`: {missing}")
    problems = validate(tools, tmp_path, exchanges)
    assert not problems, "answers that do not match docs/openapi.yaml:\n" + "\n".join(problems)


def generic_path(template):
    return (template.replace("{model}", "simple").replace("{version}", "1").replace("{region}", "docs_region")
            .replace("{file}", ASSET))


def test_a_documented_path_the_server_does_not_have_fails(server, spec, tools, tmp_path):
    """Triton's trace and logging extensions, which Polaris does not serve, added to a copy
    of the document: the check of documented operations names them."""
    doc = yaml.safe_load(SPEC.read_text())
    made_up = {"/v2/trace/setting": "get", "/v2/logging": "post"}
    for path, method in made_up.items():
        doc["paths"][path] = {method: {"operationId": path.replace("/", "_"),
                                       "responses": {"200": {"description": "made up"}}}}
    client = Client(server)
    try:
        exchanges = [exchange(doc, client, m.upper(), p, {}, b"{}" if m == "post" else None, "http")
                     for p, m in made_up.items()]
    finally:
        client.close()
    assert all(x["template"] in made_up and x["status"] == 404 for x in exchanges), exchanges
    assert set(unserved(doc, exchanges)) >= {"GET /v2/trace/setting", "POST /v2/logging"}
    # And the response check too: 404 is not a status these operations list.
    broken = tmp_path / "openapi.yaml"
    broken.write_text(yaml.safe_dump(doc))
    problems = validate(tools, tmp_path, exchanges, broken)
    assert len(problems) == 2 and all("status 404 is not listed" in p for p in problems), problems


def test_no_undocumented_path_near_the_documented_ones_is_answered(server, spec):
    """Every documented path (placeholders filled in) with one segment swapped for each word
    the routing code knows, or one appended, or its last one dropped, with GET and POST (GET
    only on the metrics port): unless that is a documented operation, the server must answer
    it as it answers a path it has no route for (404 `no such endpoint`) or a method the route
    does not take (405; 400 `method ... is not allowed` under /polaris; 400 or 404 for a path
    documented with the other method, whose parameters are checked first). Sent with the admin
    token, so that access control hides nothing."""
    words = sorted(set(routing_words()) | {"simple", "1"})
    candidates = set()
    for template, _ in operations(spec):
        segments = generic_path(template).strip("/").split("/") if template != "/" else []
        variants = [segments[:-1], *(segments + [w] for w in words)]
        variants += [segments[:i] + [w] + segments[i + 1:] for i in range(len(segments)) for w in words]
        port = "metrics" if template == "/metrics" else "http"
        for v in variants:
            for method in (("GET",) if port == "metrics" else ("GET", "POST")):
                candidates.add((method, "/" + "/".join(v), port))
    # The documented operations were called in the test above (and some change the server);
    # on the metrics port only /metrics is documented.
    probes = sorted(c for c in candidates
                    if not (c[2] == "http" and template_of(spec, c[0].lower(), c[1]))
                    and not (c[2] == "metrics" and c[1] == "/metrics"))
    assert len(probes) > 1000, len(probes)
    client = Client(server)
    answered = []
    try:
        for method, path, port in probes:
            status, _, body = client.request(method, path, AUTH, b"{}" if method == "POST" else None, port)
            other_method = any(template_of(spec, m, path) for m in ("get", "post") if m != method.lower())
            if not (no_such_endpoint(status, body) or method_refused(status, body)
                    # A documented path with another method: the server checks the path's
                    # parameters (the version string) before the method, a 400 or 404 then.
                    or (port == "http" and other_method and status in (400, 404))):
                answered.append(f"{method} {path} (port {port}): {status} {body[:200]!r}")
    finally:
        client.close()
    assert not answered, ("the server answers paths docs/openapi.yaml does not have (document them):\n"
                          + "\n".join(answered))


# ---------------------------------------------------------------- docs/cli.md

REGENERATE = ("regenerate it with `scripts/gen-cli-reference` (writes docs/cli.md from "
              "$POLARIS_BUILD/bin/polaris, else build/bin/polaris; or pass the binary's path)")


def generated(binary):
    return run(GENERATOR, binary, "--output", "-").stdout


def test_the_cli_reference_is_what_the_help_says_now(polaris_bin):
    now = generated(polaris_bin)
    committed = CLI_MD.read_text()
    if now != committed:
        diff = "".join(list(difflib.unified_diff(committed.splitlines(True), now.splitlines(True), "docs/cli.md",
                                                 "scripts/gen-cli-reference"))[:80])
        pytest.fail(f"docs/cli.md is not what `polaris ... --help` prints now: {REGENERATE}\n{diff}")


def help_of(binary, *words):
    out = run(binary, *words, "--help").stdout
    return re.sub(r"^Usage: \S*polaris", "Usage: polaris", out, flags=re.M)


def subcommands(help_text):
    section = help_text.split("\nSubcommands:\n", 1)[1].split("\n\n", 1)[0]
    return [line.split()[0] for line in section.splitlines() if line.startswith("  ") and line.strip()]


def test_the_reference_holds_each_subcommands_real_help(polaris_bin):
    top = help_of(polaris_bin)
    subs = subcommands(top)
    assert {"serve", "predict", "pull", "validate"} <= set(subs), subs
    text = generated(polaris_bin)
    sections = re.findall(r"^## (.+)$", text, flags=re.M)
    assert sections == ["polaris"] + [f"polaris {s}" for s in subs], sections
    for words in [()] + [(s,) for s in subs]:
        real = "\n".join(line.rstrip() for line in help_of(polaris_bin, *words).strip("\n").splitlines())
        title = " ".join(("polaris",) + words)
        body = text.split(f"\n## {title}\n\n```text\n", 1)[1].split("\n```\n", 1)[0]
        assert body == real, f"the section {title!r} is not `{title} --help`"
    for flag in re.findall(r"^\s+(--[a-z][a-z0-9-]*)", help_of(polaris_bin, "serve"), flags=re.M):
        assert flag in text.split("\n## polaris serve\n", 1)[1], flag


def test_a_flag_added_to_the_help_makes_the_reference_stale(polaris_bin, tmp_path):
    """A `polaris` whose `serve --help` has one flag more (a wrapper of the real one): the
    generator writes it, and the reference no longer matches."""
    wrapper = tmp_path / "polaris"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'out=$("{polaris_bin}" "$@") || exit $?\n'
        'printf "%s\\n" "$out"\n'
        'if [ "$1" = serve ] && [ "$2" = --help ]; then\n'
        '  echo "  --docs-test-flag BOOLEAN    A flag docs/cli.md does not have"\n'
        "fi\n")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    text = generated(wrapper)
    assert text != CLI_MD.read_text()
    serve = text.split("\n## polaris serve\n", 1)[1].split("\n## ", 1)[0]
    assert "--docs-test-flag BOOLEAN    A flag docs/cli.md does not have" in serve
