"""Checks real HTTP answers, and the document's own examples, against docs/openapi.yaml.

Run by tests/python/test_docs_reference.py with the Python of the venv that
deploy/tools/install-openapi-tools makes (openapi-schema-validator, jsonschema,
referencing, PyYAML), not the test's own:

    python openapi_check.py responses SPEC EXCHANGES.json   # answers, see check_exchange
    python openapi_check.py examples SPEC                   # every example against its schema

Prints a JSON list of problems (strings); an empty list when all is well.
Schemas are validated as OpenAPI 3.1 has them (JSON Schema 2020-12 plus the
OpenAPI vocabulary: openapi_schema_validator.OAS31Validator), with `$ref`s
resolved inside the document.
"""
import base64
import json
import sys

import yaml
from openapi_schema_validator import OAS31Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_URI = "urn:polaris:openapi"


def pointer(path):
    return "/".join(part.replace("~", "~0").replace("/", "~1") for part in path)


class Spec:
    def __init__(self, path):
        with open(path) as f:
            self.doc = yaml.safe_load(f)
        self.registry = Registry().with_resource(SPEC_URI, Resource(self.doc, specification=DRAFT202012))

    def resolve(self, node):
        """A `$ref` object (a response, a header) replaced by what it points at."""
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith("#/"):
                raise ValueError(f"only local $refs are used here, not {ref}")
            node = self.doc
            for part in ref[2:].split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def errors(self, schema_path, instance):
        """Validation errors of `instance` against the schema at `schema_path` (keys from the root)."""
        validator = OAS31Validator({"$ref": f"{SPEC_URI}#/{pointer(schema_path)}"}, registry=self.registry)
        return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
                for e in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))]


def media_type(content_type):
    return (content_type or "").split(";")[0].strip().lower()


def pick_media(content, real):
    """The key of `content` that the real Content-Type falls under, or None."""
    for key in content:
        if key.lower() == real:
            return key
    for key in content:
        major, _, minor = key.lower().partition("/")
        if minor == "*" and (major == "*" or real.startswith(major + "/")):
            return key
    return None


def response_path(spec, template, method, status):
    """(the path of the response object in the document, it resolved), explicit status codes only."""
    responses = spec.doc["paths"][template][method]["responses"]
    key = str(status)
    if key not in responses:
        return None, None
    node = responses[key]
    path = ["paths", template, method, "responses", key]
    if "$ref" in node:
        path = node["$ref"][2:].split("/")
        path = [p.replace("~1", "/").replace("~0", "~") for p in path]
    return path, spec.resolve(node)


def coerce(value, schema):
    """A header's text as the JSON value its schema describes."""
    types = schema.get("type")
    if types == "integer":
        try:
            return int(value)
        except ValueError:
            return value
    return value


def check_exchange(spec, x):
    """One request's answer: its status is listed for the operation (the `default`
    response does not count), each header the response lists as required is
    there and every listed header present matches its schema, a body comes
    under a listed media type (an empty body only where the response lists no
    content or says `x-empty-body-allowed`), a JSON body validates against its
    schema, and an application/octet-stream body with
    Inference-Header-Content-Length has a JSON header that validates against
    the media type's `x-json-header-schema`."""
    where = f"{x['id']}: {x['method'].upper()} {x['template']} -> {x['status']}"
    problems = []
    path, response = response_path(spec, x["template"], x["method"], x["status"])
    if response is None:
        return [f"{where}: status {x['status']} is not listed for the operation"]
    headers = {k.lower(): v for k, v in x["headers"].items()}
    for name, header in (response.get("headers") or {}).items():
        header = spec.resolve(header)
        value = headers.get(name.lower())
        if value is None:
            if header.get("required"):
                problems.append(f"{where}: header {name} is required by the document and missing")
            continue
        header_schema = header.get("schema", {})
        validator = OAS31Validator(header_schema, registry=spec.registry)
        for e in validator.iter_errors(coerce(value, header_schema)):
            problems.append(f"{where}: header {name}: {value!r}: {e.message}")
    body = base64.b64decode(x["body_b64"])
    content = response.get("content")
    if not body:
        if content and not response.get("x-empty-body-allowed"):
            problems.append(f"{where}: the body is empty, the document lists {sorted(content)}")
        return problems
    if not content:
        return problems + [f"{where}: a {len(body)}-byte body where the document says there is none"]
    real = media_type(headers.get("content-type"))
    key = pick_media(content, real)
    if key is None:
        return problems + [f"{where}: Content-Type {real!r} is not among {sorted(content)}"]
    media = content[key]
    media_path = path + ["content", key]
    if real == "application/json" or real.endswith("+json"):
        try:
            instance = json.loads(body)
        except ValueError as e:
            return problems + [f"{where}: the body is not JSON ({e}): {body[:200]!r}"]
        if "schema" in media:
            problems += [f"{where}: {e}" for e in spec.errors(media_path + ["schema"], instance)]
    elif real == "application/octet-stream" and "x-json-header-schema" in media:
        length = headers.get("inference-header-content-length")
        if length is None:
            return problems + [f"{where}: an application/octet-stream answer without Inference-Header-Content-Length"]
        try:
            header_json = json.loads(body[:int(length)])
        except ValueError as e:
            return problems + [f"{where}: the first {length} bytes are not JSON ({e})"]
        problems += [f"{where}: JSON header: {e}"
                     for e in spec.errors(media_path + ["x-json-header-schema"], header_json)]
    return problems


def check_examples(spec):
    """Every `example` and `examples` value of a media type or a schema-bearing
    parameter/header, against the schema beside it."""
    problems = []

    def walk(node, path):
        if isinstance(node, dict):
            if "schema" in node and isinstance(node["schema"], dict):
                samples = []
                if "example" in node:
                    samples.append(("example", node["example"]))
                for name, ex in (node.get("examples") or {}).items():
                    ex = spec.resolve(ex)
                    if "value" in ex:
                        samples.append((f"examples/{name}", ex["value"]))
                for label, value in samples:
                    problems.extend(f"/{'/'.join(path)} {label}: {e}" for e in spec.errors(path + ["schema"], value))
            for key, value in node.items():
                walk(value, path + [str(key)])
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, path + [str(i)])

    walk(spec.doc, [])
    return problems


def main():
    mode, spec_path = sys.argv[1], sys.argv[2]
    spec = Spec(spec_path)
    if mode == "responses":
        with open(sys.argv[3]) as f:
            exchanges = json.load(f)
        problems = [p for x in exchanges for p in check_exchange(spec, x)]
    elif mode == "examples":
        problems = check_examples(spec)
    else:
        sys.exit(f"unknown mode {mode}")
    json.dump(problems, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
