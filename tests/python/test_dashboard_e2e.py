"""The web dashboard end to end (docs/dashboard.md): the built app (make dashboard) served by a
real `polaris serve` on the default model repository, driven headless in Debian's Chromium by
Playwright (dashboard/e2e/dashboard.spec.ts) and in Debian's Firefox by puppeteer-core
(dashboard/e2e-firefox/smoke.mjs). Screenshots go to <build>/dashboard-e2e/."""
import os
import pathlib
import shutil
import subprocess

import pytest

from conftest import BUILD, ROOT, ServerProcess

TOKEN = "dashboard-e2e-admin-token"
APP = ROOT / "dashboard"
SITE = BUILD / "share" / "polaris" / "dashboard"
DAISY = pathlib.Path("/usr/lib/python3/dist-packages/sklearn/datasets/images/flower.jpg")  # scikit-learn's photo


@pytest.fixture(scope="module")
def dashboard_server(polaris_bin, models, tmp_path_factory):
    if not (SITE / "index.html").exists():
        pytest.fail(f"the dashboard is not built in {SITE} (run make dashboard)")
    repo = tmp_path_factory.mktemp("dashboard") / "repo"
    shutil.copytree(models / "default", repo)
    server = ServerProcess(polaris_bin, repo, "--admin-token", TOKEN, "--dashboard-dir", SITE)
    yield server
    assert server.stop() == 0, server.output()


def run_in_app(server, *command, out):
    env = dict(os.environ, POLARIS_URL=f"http://{server.http_url}", POLARIS_ADMIN_TOKEN=TOKEN,
               POLARIS_DAISY=str(DAISY), POLARIS_E2E_OUT=str(out))
    return subprocess.run(command, cwd=APP, env=env, capture_output=True, text=True, timeout=600)


def test_the_dashboard_in_chromium(dashboard_server):
    assert DAISY.exists(), "scikit-learn's sample photos are missing (python3-sklearn)"
    out = BUILD / "dashboard-e2e" / "chromium"
    shutil.rmtree(out, ignore_errors=True)
    done = run_in_app(dashboard_server, "npx", "--no-install", "playwright", "test", out=out)
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    # Every test ran (none skipped for want of a server, a token or the photo).
    assert "4 passed" in report and "skipped" not in report, report
    for shot in ["dashboard-desktop.png", "dashboard-try-it.png", "dashboard-phone.png"]:
        assert (out / shot).stat().st_size > 10_000, shot


def test_the_dashboard_in_firefox(dashboard_server):
    out = BUILD / "dashboard-e2e" / "firefox"
    shutil.rmtree(out, ignore_errors=True)
    done = run_in_app(dashboard_server, "node", "e2e-firefox/smoke.mjs", out=out)
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    assert "ok: the daisy photo's first class: daisy" in report, report
    assert (out / "firefox-try-it.png").stat().st_size > 10_000
