"""The otlp receiver's `transport: unix` (otelcol's confignet.AddrConfig, squashed into configgrpc's and
confighttp's server configs): both protocols serve on Unix sockets, a gRPC client and an HTTP client
reach them over the sockets, and the socket files are gone after shutdown (Go's UnixListener unlinks on
close)."""

from __future__ import annotations

import http.client
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from collector.config import ConfigErrors, load_config
from tests.conftest import daemon_yaml
from tests.processors.test_batch import request

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str):
        super().__init__("localhost", timeout=5)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect(self.path)


@pytest.fixture
def sockets() -> Iterator[Path]:
    # Unix socket paths are limited to ~107 bytes: a short directory, not pytest's deep tmp_path.
    where = Path(tempfile.mkdtemp(prefix="otlp-", dir="/tmp"))
    yield where
    shutil.rmtree(where, ignore_errors=True)


def test_grpc_and_http_serve_on_unix_sockets(daemon_factory: Any, sockets: Path) -> None:
    grpc_sock, http_sock = sockets / "grpc.sock", sockets / "http.sock"
    config = daemon_yaml(f"""
receivers:
  otlp:
    protocols:
      grpc: {{{{endpoint: "{grpc_sock}", transport: unix}}}}
      http: {{{{endpoint: "{http_sock}", transport: unix}}}}
exporters:
  file: {{{{path: "{{data}}/traces.jsonl"}}}}
""", "traces: {{receivers: [otlp], exporters: [file]}}")
    daemon = daemon_factory(config)
    with grpc.insecure_channel(f"unix:{grpc_sock}") as channel:
        channel.unary_unary(EXPORT)(request(2), timeout=5)
    conn = UnixHTTPConnection(str(http_sock))
    conn.request("POST", "/v1/traces", body=request(3), headers={"Content-Type": "application/x-protobuf"})
    response = conn.getresponse()
    assert response.status == 200
    response.read()
    conn.close()
    assert daemon.stop() == 0
    assert len((daemon.data / "traces.jsonl").read_bytes().splitlines()) == 2
    assert not http_sock.exists()


def test_an_existing_file_at_the_http_socket_path_fails_start(daemon_factory: Any, sockets: Path) -> None:
    """As Go's net.Listen("unix"): a file already at the path is "address already in use", never removed."""
    taken = sockets / "taken.sock"
    taken.write_text("someone else's")
    config = daemon_yaml(f"""
receivers:
  otlp:
    protocols:
      http: {{{{endpoint: "{taken}", transport: unix}}}}
exporters:
  debug: {{{{}}}}
""", "traces: {{receivers: [otlp], exporters: [debug]}}")
    daemon = daemon_factory(config, start=False)
    daemon.start(wait=False)
    assert daemon.proc is not None and daemon.proc.wait(30) != 0
    assert f"cannot listen on {taken}: Address already in use" in daemon.logs()
    assert taken.read_text() == "someone else's"


def test_transport_unix_needs_a_path(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("""
receivers:
  otlp:
    protocols:
      grpc: {transport: unix}
      http: {endpoint: "127.0.0.1:4318", transport: udp}
exporters:
  debug: {}
service:
  pipelines:
    traces: {receivers: [otlp], exporters: [debug]}
""")
    with pytest.raises(ConfigErrors) as info:
        load_config([str(path)])
    text = str(info.value)
    assert "receivers.otlp.protocols.grpc.endpoint: transport unix needs endpoint: the path of the Unix socket to serve on" in text
    assert 'receivers.otlp.protocols.http.transport: expected one of "tcp", "unix", got "udp"' in text
