"""TLS, mTLS and bearer-token auth on the OTLP receiver, through the running daemon with real
certificates (made with openssl) and the real OTel SDK exporter."""

from __future__ import annotations

import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from collector.config import ConfigErrors, load_config
from tests.processors.test_batch import request

pytestmark = pytest.mark.slow
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
TOKEN = "s3cr3t-t0ken-never-logged"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("pki")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=llm-collector test CA")
    for name, san in (("server", "subjectAltName=IP:127.0.0.1,DNS:localhost"), ("client", "extendedKeyUsage=clientAuth")):
        run("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        (d / f"{name}.ext").write_text(san + "\n")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext")
    return {name: d / name for name in ("ca.crt", "server.crt", "server.key", "client.crt", "client.key")}


def config(protocol_extra: str) -> str:
    return f"""
receivers:
  otlp:
    protocols:
      grpc: {{{{endpoint: "127.0.0.1:{{grpc}}", {protocol_extra}}}}}
      http: {{{{endpoint: "127.0.0.1:{{http}}", {protocol_extra}}}}}
exporters:
  file/traces: {{{{path: "{{data}}/traces.jsonl"}}}}
extensions:
  health_check: {{{{endpoint: "127.0.0.1:{{health}}"}}}}
service:
  extensions: [health_check]
  telemetry: {{{{metrics: {{{{address: "127.0.0.1:{{metrics}}"}}}}}}}}
  pipelines:
    traces: {{{{receivers: [otlp], exporters: [file/traces]}}}}
"""


def tls(pki: dict[str, Path], mtls: bool = False) -> str:
    ca = f', client_ca_file: "{pki["ca.crt"]}"' if mtls else ""
    return f'tls: {{{{cert_file: "{pki["server.crt"]}", key_file: "{pki["server.key"]}"{ca}}}}}'


def written(daemon: Any) -> int:
    return len((daemon.data / "traces.jsonl").read_bytes().splitlines())


def grpc_send(daemon: Any, credentials: Any = None, metadata: tuple = ()) -> None:
    target = daemon.grpc_endpoint
    channel = grpc.secure_channel(target, credentials) if credentials is not None else grpc.insecure_channel(target)
    with channel:
        channel.unary_unary(EXPORT)(request(1), timeout=5, metadata=metadata)


def https_send(daemon: Any, context: ssl.SSLContext | None, headers: dict[str, str] | None = None, scheme: str = "https") -> int:
    url = f"{scheme}://127.0.0.1:{daemon.ports['http']}/v1/traces"
    req = urllib.request.Request(url, data=request(1), headers={"Content-Type": "application/x-protobuf", **(headers or {})})
    with urllib.request.urlopen(req, timeout=5, context=context) as r:
        return r.status


def test_tls_on_both_transports_with_the_sdk_exporter(daemon_factory: Any, pki: dict[str, Path]) -> None:
    daemon = daemon_factory(config(tls(pki)))
    ca = pki["ca.crt"].read_bytes()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=daemon.grpc_endpoint, credentials=grpc.ssl_channel_credentials(ca))))
    with provider.get_tracer("t").start_as_current_span("over tls"):
        pass
    provider.shutdown()
    assert https_send(daemon, ssl.create_default_context(cafile=str(pki["ca.crt"]))) == 200
    with pytest.raises(grpc.RpcError) as info:
        grpc_send(daemon)  # plaintext against a TLS port
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        https_send(daemon, None, scheme="http")
    assert daemon.stop() == 0
    assert written(daemon) == 2


def test_mtls_requires_a_client_certificate(daemon_factory: Any, pki: dict[str, Path]) -> None:
    daemon = daemon_factory(config(tls(pki, mtls=True)))
    ca, key, cert = pki["ca.crt"].read_bytes(), pki["client.key"].read_bytes(), pki["client.crt"].read_bytes()
    grpc_send(daemon, grpc.ssl_channel_credentials(ca, key, cert))
    with pytest.raises(grpc.RpcError):
        grpc_send(daemon, grpc.ssl_channel_credentials(ca))
    context = ssl.create_default_context(cafile=str(pki["ca.crt"]))
    context.load_cert_chain(str(pki["client.crt"]), str(pki["client.key"]))
    assert https_send(daemon, context) == 200
    with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError)):
        https_send(daemon, ssl.create_default_context(cafile=str(pki["ca.crt"])))
    assert daemon.stop() == 0
    assert written(daemon) == 2


def test_bearer_tokens_and_no_secret_in_logs(daemon_factory: Any) -> None:
    daemon = daemon_factory(config('auth: {{bearer_tokens: ["${{env:OTLP_TOKEN}}", other-token]}}'), env={"OTLP_TOKEN": TOKEN})
    for metadata in ((), (("authorization", "Bearer wrong"),), (("authorization", f"Basic {TOKEN}"),)):
        with pytest.raises(grpc.RpcError) as info:
            grpc_send(daemon, metadata=metadata)
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    grpc_send(daemon, metadata=(("authorization", f"Bearer {TOKEN}"),))
    with pytest.raises(urllib.error.HTTPError) as http_info:
        https_send(daemon, None, scheme="http")
    assert http_info.value.code == 401 and http_info.value.headers["WWW-Authenticate"].startswith("Bearer")
    assert https_send(daemon, None, {"Authorization": "Bearer other-token"}, scheme="http") == 200

    # Refused before the body is read: a 50 MB upload that never comes is answered at once.
    with socket.create_connection(("127.0.0.1", daemon.ports["http"])) as sock:
        sock.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: 50000000\r\n\r\n")
        sock.settimeout(5)
        started = time.monotonic()
        assert sock.recv(64).startswith(b"HTTP/1.1 401")
        assert time.monotonic() - started < 2

    # `Expect: 100-continue` without a token: the 401 comes instead of the invitation to upload; with the
    # token, the 100 and then the export's 200.
    body = request(1)
    head = (f"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
            f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n").encode()
    with socket.create_connection(("127.0.0.1", daemon.ports["http"])) as sock:
        sock.settimeout(5)
        sock.sendall(head + b"\r\n")
        first = sock.recv(4096)
        assert first.startswith(b"HTTP/1.1 401"), first
        assert b"100 Continue" not in first
    with socket.create_connection(("127.0.0.1", daemon.ports["http"])) as sock:
        sock.settimeout(5)
        sock.sendall(head + b"Authorization: Bearer other-token\r\n\r\n")
        assert sock.recv(4096) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")

    assert daemon.stop() == 0
    assert written(daemon) == 3
    assert TOKEN not in daemon.logs()


@pytest.mark.parametrize(
    "extra,message",
    [
        ('tls: {{cert_file: "/nonexistent/server.crt", key_file: "/nonexistent/server.key"}}', "cert_file: file not found: /nonexistent/server.crt"),
        ("auth: {{bearer_tokens: [\"${{env:SURELY_UNSET_TOKEN_VAR}}\"]}}", "auth.bearer_tokens: needs at least one non-empty token"),
    ],
)
def test_security_config_errors(tmp_path: Path, extra: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(config(extra).format(grpc=1, http=2, health=3, metrics=4, data=tmp_path))
    with pytest.raises(ConfigErrors) as info:
        load_config([str(path)])
    assert message in str(info.value)
    assert TOKEN not in str(info.value)


def _validate(tmp_path: Path, extra: str) -> subprocess.CompletedProcess[str]:
    """`llm-collector validate` on the receiver config with `extra`, as a user runs it."""
    import sys

    path = tmp_path / "c.yaml"
    path.write_text(config(extra).format(grpc=1, http=2, health=3, metrics=4, data=tmp_path))
    return subprocess.run([sys.executable, "-m", "collector.cli", "validate", "--config", str(path)], capture_output=True, text=True, timeout=60)


def test_a_token_given_as_a_string_is_not_printed_in_the_error(tmp_path: Path) -> None:
    """`bearer_tokens: "<secret>"` (a string, not a list): the error names the file, line and key and the type
    that was given, never the token. The same for an exporter's headers (otelcol's configopaque.String)."""
    done = _validate(tmp_path, f'auth: {{{{bearer_tokens: "{TOKEN}"}}}}')
    assert done.returncode == 1
    out = done.stdout + done.stderr
    assert f"{tmp_path / 'c.yaml'}:" in out
    assert "receivers.otlp.protocols.grpc.auth.bearer_tokens: expected a list, got a string (value not shown" in out
    assert TOKEN not in out

    path = tmp_path / "h.yaml"
    path.write_text(f"""
receivers:
  otlp: {{protocols: {{http: {{endpoint: "127.0.0.1:1"}}}}}}
exporters:
  otlphttp: {{endpoint: "http://127.0.0.1:2", headers: "Authorization: Bearer {TOKEN}"}}
service:
  pipelines:
    traces: {{receivers: [otlp], exporters: [otlphttp]}}
""")
    with pytest.raises(ConfigErrors) as info:
        load_config([str(path)])
    assert "exporters.otlphttp.headers: expected a mapping, got a string (value not shown" in str(info.value)
    assert TOKEN not in str(info.value)


def _run(tmp_path: Path, extra: str) -> subprocess.CompletedProcess[str]:
    """`llm-collector run` on the receiver config with `extra`, for a config it refuses at start-up."""
    import sys

    path = tmp_path / "c.yaml"
    path.write_text(config(extra).format(grpc=1, http=2, health=3, metrics=4, data=tmp_path))
    return subprocess.run([sys.executable, "-m", "collector.cli", "run", "--config", str(path)], capture_output=True, text=True, timeout=60)


def test_tls_files_that_are_not_pem_are_config_errors_naming_file_and_key(tmp_path: Path, pki: dict[str, Path]) -> None:
    """A non-PEM certificate, a file that is no private key, a key of another certificate, a CA bundle that
    is not PEM: `run` rejects each as it loads the config, naming the key and the file, instead of OpenSSL's
    `[SSL] PEM lib (_ssl.c:...)`; the key file's content is never shown. `validate` opens none of them, as
    otelcol's does not (test_validate_does_not_open_tls_files)."""
    junk = tmp_path / "junk.pem"
    junk.write_text("this is not a certificate\n")
    cert, key, other_key = pki["server.crt"], pki["server.key"], pki["client.key"]
    cases = [
        (f'cert_file: "{junk}", key_file: "{key}"', f"tls.cert_file: {junk} holds no PEM certificate"),
        (f'cert_file: "{cert}", key_file: "{junk}"', f"tls.key_file: {junk} holds no PEM private key"),
        (f'cert_file: "{cert}", key_file: "{other_key}"', f"tls.key_file: {other_key} is not the private key of the certificate in {cert}"),
        (f'cert_file: "{cert}", key_file: "{key}", client_ca_file: "{junk}"', f"tls.client_ca_file: {junk} holds no PEM certificate"),
        (f'cert_file: "{tmp_path}", key_file: "{key}"', f"tls.cert_file: {tmp_path} is a directory"),
    ]
    secret = key.read_text().splitlines()[1]
    for tls, message in cases:
        done = _run(tmp_path, f"tls: {{{{{tls}}}}}")
        out = done.stdout + done.stderr
        assert done.returncode == 1, (tls, out)
        assert message in out, (tls, out)
        assert "PEM lib" not in out and secret not in out
    assert _validate(tmp_path, f'tls: {{{{cert_file: "{cert}", key_file: "{key}", client_ca_file: "{pki["ca.crt"]}"}}}}').returncode == 0
