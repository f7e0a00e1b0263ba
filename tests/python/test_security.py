"""Access control and transport (issue 16, docs/security.md): repository changes are off by
default, need the admin token when one is set (401 without, 403 with a wrong one; gRPC
UNAUTHENTICATED / PERMISSION_DENIED), inference needs a token only with --infer-token, health is
always open, refusals are logged without the token; HTTP and gRPC speak TLS from certificate
files, with client certificates when asked, against a throwaway CA made with openssl here."""
import http.client
import json
import ssl
import subprocess

import gevent.ssl
import grpc
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException

from conftest import ServerProcess

ADMIN = "admin-token-0123456789abcdef"
INFER = "infer-token-0123456789abcdef"


@pytest.fixture(scope="module")
def repo(models, tmp_path_factory):
    root = tmp_path_factory.mktemp("security") / "repo"
    for name in ("identity", "add"):
        (root / name / "1").mkdir(parents=True)
        (root / name / "1" / "model.onnx").symlink_to(models / "tiny" / f"{name}.onnx")
    return root


def http_status(server, method, path, headers=None, body=None):
    host, port = server.http_url.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    payload = r.read()
    conn.close()
    return r.status, dict(r.getheaders()), payload


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def identity_infer(client, lib, headers=None):
    x = np.arange(4, dtype=np.float32).reshape(1, 4)
    ins = [lib.InferInput("input", [1, 4], "FP32")]
    ins[0].set_data_from_numpy(x)
    return client.infer("identity", ins, headers=headers).as_numpy("output")


def grpc_code(call):
    try:
        call()
    except grpc.RpcError as e:
        return e.code(), e.details()
    return grpc.StatusCode.OK, ""


def test_repository_changes_are_off_by_default(polaris_bin, repo):
    server = ServerProcess(polaris_bin, repo)
    try:
        status, _, body = http_status(server, "POST", "/v2/repository/models/identity/load")
        assert status == 403 and "--admin-token" in json.loads(body)["error"]
        assert http_status(server, "POST", "/v2/repository/models/identity/unload")[0] == 403
        with grpc.insecure_channel(server.grpc_url) as channel:
            stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
            code, details = grpc_code(lambda: stub.RepositoryModelLoad(
                service_pb2.RepositoryModelLoadRequest(model_name="identity")))
            assert code == grpc.StatusCode.PERMISSION_DENIED and "--allow-repository-changes" in details
        # Inference, metadata, the index and health stay open.
        client = httpclient.InferenceServerClient(server.http_url)
        np.testing.assert_array_equal(identity_infer(client, httpclient), np.arange(4, dtype=np.float32)[None])
        assert client.is_server_ready() and client.get_model_metadata("identity")["name"] == "identity"
        assert http_status(server, "POST", "/v2/repository/index", body=b"{}")[0] == 200
        assert "repository changes off" in server.output()
    finally:
        assert server.stop() == 0, server.output()


def test_allow_repository_changes_opens_them_to_anyone(polaris_bin, repo):
    server = ServerProcess(polaris_bin, repo, "--allow-repository-changes", "true")
    try:
        assert http_status(server, "POST", "/v2/repository/models/identity/load")[0] == 200
        assert http_status(server, "POST", "/v2/repository/models/identity/unload")[0] == 200
    finally:
        assert server.stop() == 0, server.output()


def test_the_admin_token_guards_repository_changes(polaris_bin, repo, tmp_path):
    token_file = tmp_path / "admin.token"
    token_file.write_text(ADMIN + "\n")
    token_file.chmod(0o600)
    server = ServerProcess(polaris_bin, repo, "--admin-token-file", token_file)
    try:
        status, headers, _ = http_status(server, "POST", "/v2/repository/models/identity/load")
        assert status == 401 and headers.get("WWW-Authenticate", "").startswith("Bearer")
        assert http_status(server, "POST", "/v2/repository/models/identity/load", bearer("x" * 30))[0] == 403
        assert http_status(server, "POST", "/v2/repository/models/identity/load", {"Authorization": ADMIN})[0] == 401
        # tritonclient sends the token as a header, over HTTP and gRPC.
        client = httpclient.InferenceServerClient(server.http_url)
        with pytest.raises(InferenceServerException) as refused:
            client.unload_model("identity", headers=bearer(INFER))
        assert "403" in str(refused.value.status())
        client.load_model("identity", headers=bearer(ADMIN))
        assert client.is_model_ready("identity")
        client.unload_model("identity", headers=bearer(ADMIN))
        grpc_client = grpcclient.InferenceServerClient(server.grpc_url)
        with pytest.raises(InferenceServerException) as no_token:
            grpc_client.load_model("identity")
        assert "UNAUTHENTICATED" in str(no_token.value.status())
        with pytest.raises(InferenceServerException) as wrong:
            grpc_client.load_model("identity", headers={"authorization": "Bearer " + INFER})
        assert "PERMISSION_DENIED" in str(wrong.value.status())
        grpc_client.load_model("identity", headers={"authorization": "Bearer " + ADMIN})
        assert grpc_client.is_model_ready("identity")
        # Inference needs no token without --infer-token.
        identity_infer(client, httpclient)
        identity_infer(grpc_client, grpcclient)
        log = server.output()
        assert "refused POST /v2/repository/models/identity/load from 127.0.0.1:" in log
        assert ADMIN not in log and "x" * 30 not in log
    finally:
        assert server.stop() == 0, server.output()


def test_the_inference_token_guards_everything_but_health(polaris_bin, repo):
    server = ServerProcess(polaris_bin, repo, "--infer-token", INFER, "--admin-token", ADMIN)
    try:
        assert http_status(server, "GET", "/v2/health/ready")[0] == 200
        assert http_status(server, "GET", "/v2/health/live")[0] == 200
        assert http_status(server, "GET", "/v2/models/identity")[0] == 401
        assert http_status(server, "GET", "/v2")[0] == 401
        client = httpclient.InferenceServerClient(server.http_url)
        with pytest.raises(InferenceServerException) as refused:
            identity_infer(client, httpclient)
        assert "401" in str(refused.value.status())
        identity_infer(client, httpclient, bearer(INFER))
        identity_infer(client, httpclient, bearer(ADMIN))  # the admin token grants inference too
        with pytest.raises(InferenceServerException):
            client.load_model("identity", headers=bearer(INFER))  # but not the other way round
        grpc_client = grpcclient.InferenceServerClient(server.grpc_url)
        assert grpc_client.is_server_live() and grpc_client.is_server_ready()
        with pytest.raises(InferenceServerException) as no_token:
            identity_infer(grpc_client, grpcclient)
        assert "UNAUTHENTICATED" in str(no_token.value.status())
        identity_infer(grpc_client, grpcclient, {"authorization": "Bearer " + INFER})
        # A stream is refused as a whole without the token, served with it.
        answers = []
        grpc_client.start_stream(callback=lambda result, error: answers.append((result, error)),
                                 headers={"authorization": "Bearer " + INFER})
        x = np.ones((1, 4), np.float32)
        ins = [grpcclient.InferInput("input", [1, 4], "FP32")]
        ins[0].set_data_from_numpy(x)
        grpc_client.async_stream_infer("identity", ins)
        grpc_client.stop_stream()
        assert answers and answers[0][1] is None, answers
    finally:
        assert server.stop() == 0, server.output()


def test_unusable_tokens_are_a_start_up_error(polaris_bin, repo, tmp_path):
    for args, says in ((["--admin-token", "short"], "at least 16"),
                       (["--infer-token", "has a space in it!!"], "spaces"),
                       (["--admin-token", ADMIN, "--admin-token-file", str(tmp_path / "t")], "not both"),
                       (["--admin-token-file", str(tmp_path / "missing")], "cannot read")):
        proc = subprocess.run([str(polaris_bin), "serve", "--model-repository", str(repo), *args],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2 and says in proc.stderr, (args, proc.stderr)


# ---------------------------------------------------------------- TLS

@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A throwaway CA, a server certificate for 127.0.0.1/localhost and a client certificate."""
    d = tmp_path_factory.mktemp("pki")

    def openssl(*args):
        subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, cwd=d)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=polaris test CA")
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for who in ("server", "client"):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{who}.key", "-out", f"{who}.csr",
                "-subj", f"/CN=polaris test {who}")
        openssl("x509", "-req", "-in", f"{who}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", f"{who}.pem", "-days", "2", *(["-extfile", "server.ext"] if who == "server" else []))
    return d


def curl(*args):
    return subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", *map(str, args)],
                          capture_output=True, text=True, timeout=60)


def test_tls_on_http_and_grpc(polaris_bin, repo, pki):
    server = ServerProcess(polaris_bin, repo, "--tls-cert", pki / "server.pem", "--tls-key", pki / "server.key",
                           scheme="https", ca=pki / "ca.pem")
    try:
        port = server.http_port
        assert curl("--cacert", pki / "ca.pem", f"https://127.0.0.1:{port}/v2/health/ready").stdout == "200"
        # An unknown CA is refused by the client; plain HTTP gets no HTTP answer.
        assert curl(f"https://127.0.0.1:{port}/v2/health/ready").stdout == "000"
        assert curl(f"http://127.0.0.1:{port}/v2/health/ready").stdout in ("000", "400")
        client = httpclient.InferenceServerClient(server.http_url, ssl=True, ssl_options={"ca_certs": str(pki / "ca.pem")},
                                                  ssl_context_factory=gevent.ssl.create_default_context)
        np.testing.assert_array_equal(identity_infer(client, httpclient), np.arange(4, dtype=np.float32)[None])
        grpc_client = grpcclient.InferenceServerClient(server.grpc_url, ssl=True,
                                                       root_certificates=str(pki / "ca.pem"))
        np.testing.assert_array_equal(identity_infer(grpc_client, grpcclient), np.arange(4, dtype=np.float32)[None])
        plain = grpcclient.InferenceServerClient(server.grpc_url)
        with pytest.raises(InferenceServerException):
            plain.is_server_live(client_timeout=10)
    finally:
        assert server.stop() == 0, server.output()


def test_mutual_tls_needs_a_client_certificate(polaris_bin, repo, pki):
    server = ServerProcess(polaris_bin, repo, "--tls-cert", pki / "server.pem", "--tls-key", pki / "server.key",
                           "--tls-client-ca", pki / "ca.pem", scheme="https", ca=pki / "ca.pem",
                           client_cert=(pki / "client.pem", pki / "client.key"))
    try:
        url = f"https://127.0.0.1:{server.http_port}/v2/health/ready"
        assert curl("--cacert", pki / "ca.pem", url).stdout == "000"
        assert curl("--cacert", pki / "ca.pem", "--cert", pki / "client.pem", "--key", pki / "client.key",
                    url).stdout == "200"
        with_cert = grpcclient.InferenceServerClient(
            server.grpc_url, ssl=True, root_certificates=str(pki / "ca.pem"),
            private_key=str(pki / "client.key"), certificate_chain=str(pki / "client.pem"))
        identity_infer(with_cert, grpcclient)
        without = grpcclient.InferenceServerClient(server.grpc_url, ssl=True, root_certificates=str(pki / "ca.pem"))
        with pytest.raises(InferenceServerException):
            without.is_server_live(client_timeout=10)
    finally:
        assert server.stop() == 0, server.output()


def test_unusable_tls_files_are_a_start_up_error(polaris_bin, repo, pki, tmp_path):
    (tmp_path / "junk.pem").write_text("not a certificate")
    for args, says in ((["--tls-cert", pki / "server.pem"], "both a certificate and a key"),
                       (["--tls-cert", tmp_path / "junk.pem", "--tls-key", pki / "server.key"], "TLS certificate"),
                       (["--tls-cert", pki / "server.pem", "--tls-key", tmp_path / "missing.key"], "TLS key")):
        proc = subprocess.run([str(polaris_bin), "serve", "--model-repository", str(repo), "--http-port", "0",
                               "--grpc-port", "0", "--metrics-port", "0", *map(str, args)],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 1 and says in proc.stderr, (args, proc.stderr)
