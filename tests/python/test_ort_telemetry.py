"""ONNX Runtime's telemetry stays off (backends/onnxruntime/ort_backend.cc, docs/runtime.md): ORT's
own Linux build would otherwise start a telemetry thread and an event database under
~/.cache/Microsoft/DeveloperTools/.onnxruntime. ORT turns it off by itself under CI variables, so
they are removed here: the test must see what a user's machine sees."""
import os
import subprocess

# The variables ONNX Runtime 1.30 reads to recognise a CI machine (strings in libonnxruntime.so).
CI_VARIABLES = {"CI", "TF_BUILD", "GITHUB_ACTIONS", "GITLAB_CI", "CIRCLECI", "TRAVIS", "JENKINS_URL",
                "CODEBUILD_BUILD_ID", "BUILDKITE", "TEAMCITY_VERSION", "APPVEYOR", "BITBUCKET_BUILD_NUMBER"}


def user_environment(home):
    env = {k: v for k, v in os.environ.items()
           if k not in CI_VARIABLES and k not in ("ORT_DISABLE_TELEMETRY", "XDG_CACHE_HOME")}
    env["HOME"] = str(home)
    return env


def test_loading_an_onnx_model_starts_no_telemetry(polaris_bin, models, tmp_path):
    proc = subprocess.run([str(polaris_bin), "info", str(models / "tiny/add.onnx")], capture_output=True, text=True,
                          env=user_environment(tmp_path), timeout=120)
    assert proc.returncode == 0, proc.stderr
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert not (tmp_path / ".cache" / "Microsoft").exists(), written
    assert all(p == ".cache" or p.startswith(".cache/polaris") for p in written), written
