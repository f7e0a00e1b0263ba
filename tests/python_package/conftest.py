"""The `polaris` package's suite: run with the Python of a venv where `pip install ./python`
installed it (scripts/run-tests uses build/pkg-venv). Nothing here imports torch: the
TorchScript engine and Python's torch must not meet in one process (see test_torch_coexistence)."""
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("POLARIS_BUILD", ROOT / "build"))
MODELS = pathlib.Path(os.environ.get("POLARIS_MODELS_DIR", BUILD / "models"))


@pytest.fixture(scope="session")
def models():
    if not (MODELS / "manifest.json").exists():
        pytest.fail(f"no generated models in {MODELS} (run scripts/make-models)")
    return MODELS


def manifest():
    return json.loads((MODELS / "manifest.json").read_text()) if (MODELS / "manifest.json").exists() else []


def load_vector(path: pathlib.Path) -> np.ndarray:
    return np.load(path, allow_pickle=True)  # BYTES vectors are object arrays


def run_python(code: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """Runs `code` in a fresh interpreter of this venv (for what must not share our process)."""
    env = dict(os.environ, POLARIS_MODELS_DIR=str(MODELS))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env)
