"""`bearertokenauth` and `basicauth` in running daemons, as otelcol users configure them (contrib's
extension READMEs): the real OTel SDK exporters sending credentials from OTEL_EXPORTER_OTLP_HEADERS to an
otlp receiver whose `auth.authenticator` checks them (core's configgrpc/confighttp server auth:
UNAUTHENTICATED / 401 before any body is read), a daemon exporting to another with credentials on both
transports, a token file rotated under running daemons (contrib's TestBearerTokenFileContentUpdate, end to
end), and the elasticsearch and jaeger exporters sending an authenticator's credentials to their fakes."""

from __future__ import annotations

import base64
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GRPCSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HTTPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from collector import testing
from collector.extensions import htpasswd
from tests.fakes.elasticsearch import ElasticsearchFake
from tests.fakes.jaeger import FakeJaegerCollector
from tests.processors.test_batch import request
from tests.receivers.test_receiver_security import pki  # noqa: F401  (the fixture)

pytestmark = pytest.mark.slow
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
TOKEN = "tok-9f2c41d8-never-in-logs"
PASSWORD = "pw-5b7e-never-in-logs"
# `htpasswd -nbB` style: contrib's extension_test.go line for user htpasswd-bcrypt (its password is its name).
BCRYPT_LINE = "htpasswd-bcrypt:$2y$10$Q6GeMFPd0dAxhQULPDdAn.DFy6NDmLaU0A7e2XoJz7PFYAEADFKbC"
wait_for = testing.wait_for

SERVICE = """
  health_check: {{endpoint: "127.0.0.1:{health}"}}
service:
  extensions: [health_check, EXTENSIONS]
  telemetry: {{metrics: {{address: "127.0.0.1:{metrics}"}}}}
  pipelines:
    traces: {{receivers: [otlp], exporters: [EXPORTERS]}}
"""


def daemon_config(extensions: str, receiver: str, exporters: str, ids: list[str], exporter_ids: list[str]) -> str:
    return (f"receivers:\n  otlp:\n    protocols:\n{receiver}\nexporters:\n{exporters}\nextensions:\n{extensions}"
            + SERVICE.replace("EXTENSIONS", ", ".join(ids)).replace("EXPORTERS", ", ".join(exporter_ids)))


def written(daemon: Any) -> int:
    path = daemon.data / "traces.jsonl"
    return len(path.read_bytes().splitlines()) if path.exists() else 0


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def grpc_send(target: str, metadata: tuple = (), credentials: Any = None) -> None:
    channel = grpc.secure_channel(target, credentials) if credentials is not None else grpc.insecure_channel(target)
    with channel:
        channel.unary_unary(EXPORT)(request(1), timeout=5, metadata=metadata)


def http_send(daemon: Any, headers: dict[str, str]) -> int:
    req = urllib.request.Request(f"{daemon.http_url}/v1/traces", data=request(1), headers={"Content-Type": "application/x-protobuf", **headers})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def sdk_span(exporter: Any, name: str) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span(name):
        pass
    provider.shutdown()


def test_sdk_exporters_with_otel_exporter_otlp_headers(daemon_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """gRPC checked by bearertokenauth, HTTP by basicauth (htpasswd file with a bcrypt user, inline users
    winning): the SDK exporters configured only by OTEL_EXPORTER_OTLP_HEADERS get in, wrong or missing
    credentials are refused with UNAUTHENTICATED / 401, and no secret reaches the logs."""
    if not htpasswd.libcrypt_available():
        pytest.skip("no libcrypt for bcrypt")
    users = tmp_path / ".htpasswd"
    users.write_text(f"{BCRYPT_LINE}\nalice:overridden\n")
    config = daemon_config(
        """  bearertokenauth: {{token: "${{env:AUTH_TOKEN}}"}}
  basicauth/server: {{htpasswd: {{file: "@USERS@", inline: "alice:${{env:ALICE_PASSWORD}}"}}}}
""".replace("@USERS@", str(users)),
        """      grpc: {{endpoint: "127.0.0.1:{grpc}", auth: {{authenticator: bearertokenauth}}}}
      http: {{endpoint: "127.0.0.1:{http}", auth: {{authenticator: basicauth/server}}}}""",
        '  file: {{path: "{data}/traces.jsonl"}}', ["bearertokenauth", "basicauth/server"], ["file"])
    daemon = daemon_factory(config, env={"AUTH_TOKEN": TOKEN, "ALICE_PASSWORD": PASSWORD})

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"authorization=Bearer%20{TOKEN}")
    sdk_span(GRPCSpanExporter(endpoint=daemon.grpc_endpoint, insecure=True), "grpc with token")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"authorization={basic('alice', PASSWORD).replace(' ', '%20')}")
    sdk_span(HTTPSpanExporter(endpoint=f"{daemon.http_url}/v1/traces"), "http as alice")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"authorization={basic('htpasswd-bcrypt', 'htpasswd-bcrypt').replace(' ', '%20')}")
    sdk_span(HTTPSpanExporter(endpoint=f"{daemon.http_url}/v1/traces"), "http bcrypt user")
    wait_for(lambda: written(daemon) == 3, what="the three authenticated spans")

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20wrong")
    sdk_span(GRPCSpanExporter(endpoint=daemon.grpc_endpoint, insecure=True), "grpc wrong token")
    for metadata in ((), (("authorization", "Bearer wrong"),), (("authorization", TOKEN),), (("authorization", basic("alice", PASSWORD)),)):
        with pytest.raises(grpc.RpcError) as info:
            grpc_send(daemon.grpc_endpoint, metadata)
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert TOKEN not in (info.value.details() or "")
    assert http_send(daemon, {}) == 401
    assert http_send(daemon, {"Authorization": basic("alice", "overridden")}) == 401  # the file's alice lost to inline's
    assert http_send(daemon, {"Authorization": basic("alice", PASSWORD + "x")}) == 401
    assert http_send(daemon, {"Authorization": f"Bearer {TOKEN}"}) == 401
    assert http_send(daemon, {"Authorization": basic("alice", PASSWORD)}) == 200

    # Refused before the body is read: a 50 MB upload that never comes is answered at once.
    with socket.create_connection(("127.0.0.1", daemon.ports["http"])) as sock:
        sock.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
                     + f"Authorization: {basic('alice', 'nope')}\r\nContent-Length: 50000000\r\n\r\n".encode())
        sock.settimeout(5)
        started = time.monotonic()
        assert sock.recv(64).startswith(b"HTTP/1.1 401")
        assert time.monotonic() - started < 2

    assert daemon.stop() == 0
    assert written(daemon) == 4
    logs = daemon.logs()
    assert TOKEN not in logs and PASSWORD not in logs


def test_daemon_to_daemon_authenticated_both_ways_and_a_rotated_token_file(daemon_factory: Any, tmp_path: Path, pki: dict[str, Path]) -> None:  # noqa: F811
    """An edge daemon exports every span to a gateway twice: otlp_grpc over TLS with bearertokenauth (token
    files on both sides) and otlp_http with basicauth. An exporter with a wrong password is refused (its
    spans count as send_failed). Then the token is rotated without a restart: the gateway's file gets both
    tokens, the edge's the new one, then the gateway's only the new one; spans keep arriving and the old
    token is refused."""
    server_tokens, client_token = tmp_path / "server.token", tmp_path / "client.token"
    server_tokens.write_text("old-token\n")
    client_token.write_text("old-token\n")
    tls = 'tls: {{cert_file: "@CRT@", key_file: "@KEY@"}}'.replace("@CRT@", str(pki["server.crt"])).replace("@KEY@", str(pki["server.key"]))
    gateway = daemon_factory(daemon_config(
        """  bearertokenauth/in: {{filename: "@TOKENS@"}}
  basicauth/in: {{htpasswd: {{inline: "edge:${{env:EDGE_PASSWORD}}"}}}}
""".replace("@TOKENS@", str(server_tokens)),
        """      grpc: {{endpoint: "127.0.0.1:{grpc}", @TLS@, auth: {{authenticator: bearertokenauth/in}}}}
      http: {{endpoint: "127.0.0.1:{http}", auth: {{authenticator: basicauth/in}}}}""".replace("@TLS@", tls),
        '  file: {{path: "{data}/traces.jsonl"}}', ["bearertokenauth/in", "basicauth/in"], ["file"]),
        env={"EDGE_PASSWORD": PASSWORD}, subdir="gateway")
    # No queue: each export waits for the gateway, so a refusal reaches the client.
    edge = daemon_factory(daemon_config(
        """  bearertokenauth/out: {{filename: "@TOKEN@"}}
  basicauth/out: {{client_auth: {{username: edge, password: "${{env:EDGE_PASSWORD}}"}}}}
  basicauth/wrong: {{client_auth: {{username: edge, password: not-the-password}}}}
""".replace("@TOKEN@", str(client_token)),
        '      grpc: {{endpoint: "127.0.0.1:{grpc}"}}',
        """  otlp_grpc: {{endpoint: "https://@GRPC@", tls: {{ca_file: "@CA@"}}, auth: {{authenticator: bearertokenauth/out}}, sending_queue: {{enabled: false}}}}
  otlp_http: {{endpoint: "@HTTP@", auth: {{authenticator: basicauth/out}}, sending_queue: {{enabled: false}}}}
  otlp_http/wrong: {{endpoint: "@HTTP@", auth: {{authenticator: basicauth/wrong}}, sending_queue: {{enabled: false}}}}"""
        .replace("@GRPC@", gateway.grpc_endpoint).replace("@CA@", str(pki["ca.crt"])).replace("@HTTP@", gateway.http_url),
        ["bearertokenauth/out", "basicauth/out", "basicauth/wrong"], ["otlp_grpc", "otlp_http", "otlp_http/wrong"]),
        env={"EDGE_PASSWORD": PASSWORD}, subdir="edge")

    def send_to_edge() -> None:
        try:
            grpc_send(edge.grpc_endpoint)
        except grpc.RpcError:
            pass  # otlp_http/wrong's refusal fails the fan-out; the other two exporters still delivered

    send_to_edge()
    wait_for(lambda: written(gateway) == 2, what="the span over gRPC and over HTTP")
    assert edge.metric("otelcol_exporter_send_failed_spans", exporter="otlp_http/wrong") == 1
    assert edge.metric("otelcol_exporter_sent_spans", exporter="otlp_grpc") == 1

    server_tokens.write_text("old-token\nnew-token\n")  # the gateway accepts both while clients move
    time.sleep(1.5)
    client_token.write_text("new-token\n")
    time.sleep(1.5)
    send_to_edge()
    wait_for(lambda: written(gateway) == 4, what="spans sent with the new token")
    swap = tmp_path / "server.token.tmp"
    swap.write_text("new-token\n")
    swap.replace(server_tokens)  # replaced by a rename, as a Kubernetes Secret volume does
    time.sleep(1.5)
    send_to_edge()
    wait_for(lambda: written(gateway) == 6, what="spans after the old token was withdrawn")
    ca = grpc.ssl_channel_credentials(pki["ca.crt"].read_bytes())
    with pytest.raises(grpc.RpcError) as info:
        grpc_send(gateway.grpc_endpoint, (("authorization", "Bearer old-token"),), ca)
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    grpc_send(gateway.grpc_endpoint, (("authorization", "Bearer new-token"),), ca)
    assert edge.metric("otelcol_exporter_sent_spans", exporter="otlp_grpc") == 3
    assert edge.metric("otelcol_exporter_send_failed_spans", exporter="otlp_grpc") == 0

    assert edge.stop() == 0 and gateway.stop() == 0
    for daemon in (edge, gateway):
        logs = daemon.logs()
        assert PASSWORD not in logs and "new-token" not in logs and "not-the-password" not in logs


def test_elasticsearch_and_jaeger_exporters_send_the_authenticators_credentials(daemon_factory: Any, pki: dict[str, Path]) -> None:  # noqa: F811
    """elasticsearch with basicauth (the fake refuses anything but elastic/changeme with 401) and jaeger's
    api_v2 gRPC over TLS with bearertokenauth: each request carries the extension's header."""
    server_creds = grpc.ssl_server_credentials([(pki["server.key"].read_bytes(), pki["server.crt"].read_bytes())])
    with ElasticsearchFake(basic=("elastic", "changeme")) as es, FakeJaegerCollector(server_credentials=server_creds) as jaeger:
        daemon = daemon_factory(daemon_config(
            """  basicauth/es: {{client_auth: {{username: elastic, password: changeme}}}}
  bearertokenauth/jaeger: {{token: "@TOKEN@"}}
""".replace("@TOKEN@", TOKEN),
            '      grpc: {{endpoint: "127.0.0.1:{grpc}"}}',
            """  elasticsearch: {{endpoints: ["@ES@"], flush: {{interval: 50ms}}, auth: {{authenticator: basicauth/es}}}}
  jaeger: {{endpoint: "https://127.0.0.1:@PORT@", protocol: grpc, tls: {{ca_file: "@CA@"}}, auth: {{authenticator: bearertokenauth/jaeger}}}}"""
            .replace("@ES@", es.url).replace("@PORT@", str(jaeger.port)).replace("@CA@", str(pki["ca.crt"])),
            ["basicauth/es", "bearertokenauth/jaeger"], ["elasticsearch", "jaeger"]))
        grpc_send(daemon.grpc_endpoint)
        es.wait_for(1)
        assert jaeger.wait_for_spans(1) == 1
        assert jaeger.metadata[0]["authorization"] == f"Bearer {TOKEN}"
        assert daemon.stop() == 0
        assert TOKEN not in daemon.logs()
