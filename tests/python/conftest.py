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


def run(*args, env=None, check=True):
    """Runs a command, returns CompletedProcess with text output."""
    full_env = dict(os.environ, **(env or {}))
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=full_env, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc
