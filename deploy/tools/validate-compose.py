"""Validates Compose files against the Compose Specification's JSON schema.

    python validate-compose.py SCHEMA FILE...

Run with the venv of deploy/tools/install-container-tools (jsonschema, PyYAML).
Prints one line per error (path in the file, message); exits 1 when any.
Compose's own variable interpolation is not done: the files here use none.
"""
import json
import sys

import jsonschema
import yaml


def main(schema_path, files):
    with open(schema_path) as f:
        schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    # format checking too (durations, ports...), as far as jsonschema knows the formats.
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    failed = False
    for path in files:
        with open(path) as f:
            document = yaml.safe_load(f)
        errors = sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
        for error in errors:
            where = "/".join(map(str, error.absolute_path)) or "(top level)"
            print(f"{path}: {where}: {error.message}")
        print(f"{path}: {'INVALID' if errors else 'valid'}")
        failed = failed or bool(errors)
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2:]))
