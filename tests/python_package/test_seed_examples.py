"""The seed report's examples run with only the import path changed to `polaris`."""
import os
import pathlib
import re
import subprocess
import sys


def test_the_seed_reports_examples_run(models, tmp_path):
    script = pathlib.Path(__file__).with_name("seed_examples.py")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600,
                          cwd=tmp_path, env=dict(os.environ, POLARIS_MODELS_DIR=str(models)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "seed examples: all ran" in proc.stdout
    assert re.search(r"^Provider: \w+ExecutionProvider$", proc.stdout, re.M), proc.stdout
    assert re.search(r"^Memory: \d+\.\d MB$", proc.stdout, re.M), proc.stdout
    assert re.search(r"^Device: (cpu|cuda:\d+)$", proc.stdout, re.M), proc.stdout
    # The first loader fixes the process-wide engine threads (4/2); the later loaders ask for
    # none, so nothing is warned.
    assert "RuntimeWarning" not in proc.stderr, proc.stderr
