"""Bad input gets a clear error and loses nothing else.

Drives one real daemon (module-scoped) over real sockets with malformed, oversized, compressed-bomb and
partially invalid OTLP requests, over gRPC, HTTP protobuf and HTTP JSON, and checks for each one:
the status the OTLP spec / otelcol's otlpreceiver gives, a body that says why, and that the daemon is
still alive, still bounded in memory and still delivering other clients' data to the file exporter.
"""

from __future__ import annotations

import concurrent.futures
import gzip
import http.client
import itertools
import json
import re
import socket
import struct
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from google.rpc import code_pb2, status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest, ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest, ExportTraceServiceResponse
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from collector.receivers import bodies as http_bodies
from collector.wire.encode import varint as encode_varint
from tests.conftest import Daemon, daemon_yaml

TRACES = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
LOGS = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
METRICS = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
PROTOBUF = "application/x-protobuf"
JSON = "application/json"

HTTP_LIMIT = 64 * 1024  # max_request_body_size of the main receiver
BIG_HTTP_LIMIT = 2 * 2**20  # of otlp/big, whose limit lets a ~1 MB compressed bomb reach the decompressor
GRPC_LIMIT = 2 * 2**20  # max_recv_msg_size_mib: 2
RSS_BUDGET = 100 * 2**20

# No metrics pipeline: /v1/metrics and MetricsService must be "not found", not a crash.
CONFIG = daemon_yaml("""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}", max_recv_msg_size_mib: 2}}
      http: {{endpoint: "127.0.0.1:{http}", max_request_body_size: 64KiB}}
  otlp/big:
    protocols:
      http: {{endpoint: "127.0.0.1:{big_http}", max_request_body_size: 2MiB}}
exporters:
  file/traces: {{path: "{data}/traces.jsonl", flush_interval: 20ms}}
  file/logs: {{path: "{data}/logs.jsonl", flush_interval: 20ms}}
""", """
traces: {{receivers: [otlp, otlp/big], exporters: [file/traces]}}
logs: {{receivers: [otlp], exporters: [file/logs]}}
""")


# ---------------------------------------------------------------------------------------------
# Payloads


def gzip_bomb(inflated: int) -> bytes:
    """`inflated` zero bytes as one gzip member (~1/1030 the size), compressed 1 MiB at a time so the
    plaintext never exists in memory. Z_RLE finds the 258-byte matches at level-9 ratio, twice as fast."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31, 9, zlib.Z_RLE)
    chunk = bytes(min(inflated, 1 << 20))
    out = []
    left = inflated
    while left:
        n = min(left, len(chunk))
        out.append(c.compress(chunk if n == len(chunk) else chunk[:n]))
        left -= n
    out.append(c.flush())
    return b"".join(out)


def tid() -> bytes:
    return uuid.uuid4().bytes


def sid() -> bytes:
    return uuid.uuid4().bytes[:8]


def span(name: str, trace_id: bytes | None = None, span_id: bytes | None = None, **attrs: str) -> Span:
    return Span(
        trace_id=tid() if trace_id is None else trace_id,
        span_id=sid() if span_id is None else span_id,
        name=name,
        kind=Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=1_700_000_000_000_000_000,
        end_time_unix_nano=1_700_000_000_100_000_000,
        attributes=[KeyValue(key=k, value=AnyValue(string_value=v)) for k, v in attrs.items()],
    )


def traces(*spans: Span) -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.add(key="service.name", value=AnyValue(string_value="bad-input-test"))
    rs.scope_spans.add().spans.extend(spans)
    return req


def logs(*records: LogRecord) -> ExportLogsServiceRequest:
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.add(key="service.name", value=AnyValue(string_value="bad-input-test"))
    rl.scope_logs.add().log_records.extend(records)
    return req


def record(body: str, trace_id: bytes = b"", span_id: bytes = b"") -> LogRecord:
    return LogRecord(time_unix_nano=1_700_000_000_000_000_000, body=AnyValue(string_value=body), trace_id=trace_id, span_id=span_id)


def json_span(name: str, trace_id: str, span_id: str) -> dict[str, Any]:
    return {"traceId": trace_id, "spanId": span_id, "name": name, "kind": 1, "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000000100000000"}


def json_traces(*spans: dict[str, Any]) -> bytes:
    return json.dumps({"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": list(spans)}]}]}).encode()


def marker(prefix: str = "ok") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# ---------------------------------------------------------------------------------------------
# Clients


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    seconds: float

    @property
    def content_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";")[0].strip()

    def rpc_status(self) -> status_pb2.Status:
        """The google.rpc.Status error body, in whichever encoding the response says it is."""
        st = status_pb2.Status()
        if self.content_type == JSON:
            json_format.Parse(self.body, st)
        else:
            assert self.content_type == PROTOBUF, (self.status, self.headers, self.body[:200])
            st.ParseFromString(self.body)
        return st


def http_request(
    port: int,
    path: str,
    body: bytes | Iterable[bytes] = b"",
    *,
    method: str = "POST",
    content_type: str | None = PROTOBUF,
    headers: dict[str, str] | None = None,
    timeout: float = 20.0,
) -> Reply:
    """One request on a fresh connection. An iterable body goes out with Transfer-Encoding: chunked.
    A server may answer before it has read everything (413), so a failed send still reads the reply."""
    hdrs = dict(headers or {})
    if content_type is not None:
        hdrs["Content-Type"] = content_type
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    started = time.monotonic()
    try:
        try:
            conn.request(method, path, body=body, headers=hdrs)
        except (BrokenPipeError, ConnectionResetError):
            pass
        response = conn.getresponse()
        data = response.read()
        return Reply(response.status, response.headers, data, time.monotonic() - started)
    finally:
        conn.close()


class GRPC:
    """Raw-bytes unary calls (no serializer), so the test controls exactly what goes on the wire."""

    def __init__(self, endpoint: str):
        self.channel = grpc.insecure_channel(endpoint, options=[("grpc.max_send_message_length", 64 * 2**20)])

    def call(self, method: str, request: bytes, *, compression: grpc.Compression | None = None, timeout: float = 20.0) -> bytes:
        return self.channel.unary_unary(method)(request, timeout=timeout, compression=compression)

    def error(self, method: str, request: bytes, **kwargs: Any) -> grpc.RpcError:
        with pytest.raises(grpc.RpcError) as info:
            self.call(method, request, **kwargs)
        return info.value  # type: ignore[return-value]

    def close(self) -> None:
        self.channel.close()


# HPACK static table (RFC 7541 appendix A), enough to read a gRPC server's response headers.
_HPACK_STATIC = [
    (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"), (":path", "/index.html"),
    (":scheme", "http"), (":scheme", "https"), (":status", "200"), (":status", "204"), (":status", "206"),
    (":status", "304"), (":status", "400"), (":status", "404"), (":status", "500"), ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"), ("accept-language", ""), ("accept-ranges", ""), ("accept", ""),
    ("access-control-allow-origin", ""), ("age", ""), ("allow", ""), ("authorization", ""), ("cache-control", ""),
    ("content-disposition", ""), ("content-encoding", ""), ("content-language", ""), ("content-length", ""),
    ("content-location", ""), ("content-range", ""), ("content-type", ""), ("cookie", ""), ("date", ""),
    ("etag", ""), ("expect", ""), ("expires", ""), ("from", ""), ("host", ""), ("if-match", ""),
    ("if-modified-since", ""), ("if-none-match", ""), ("if-range", ""), ("if-unmodified-since", ""),
    ("last-modified", ""), ("link", ""), ("location", ""), ("max-forwards", ""), ("proxy-authenticate", ""),
    ("proxy-authorization", ""), ("range", ""), ("referer", ""), ("refresh", ""), ("retry-after", ""),
    ("server", ""), ("set-cookie", ""), ("strict-transport-security", ""), ("transfer-encoding", ""),
    ("user-agent", ""), ("vary", ""), ("via", ""), ("www-authenticate", ""),
]


class RawGRPC:
    """Just enough HTTP/2 to send one gRPC message whose payload is already gzip-compressed.

    The grpc library compresses messages itself, so it cannot send a bomb built elsewhere; sending one
    through it would mean holding the inflated gigabyte in the test process. Response headers are read
    with a small HPACK decoder (gRPC core does not Huffman-code grpc-status / grpc-message)."""

    def __init__(self, port: int, timeout: float = 20.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.authority = f"127.0.0.1:{port}"
        self.dynamic: list[tuple[str, str]] = []
        self.buffer = b""
        self.conn_window = 65535
        self.stream_window = 65535
        self.initial_window = 65535
        self.sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + self._frame(0x4, 0, 0, b""))

    @staticmethod
    def _frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
        return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload

    @staticmethod
    def _literal(name: str, value: str) -> bytes:
        def string(s: str) -> bytes:
            raw = s.encode()
            assert len(raw) < 127
            return bytes([len(raw)]) + raw

        return b"\x00" + string(name) + string(value)  # literal without indexing, new name, no Huffman

    def call(self, path: str, payload: bytes, *, compressed: bool, encoding: str = "gzip") -> tuple[int, str, dict[str, str]]:
        """Returns (grpc-status, grpc-message, all response headers and trailers)."""
        headers = [(":method", "POST"), (":scheme", "http"), (":path", path), (":authority", self.authority),
                   ("content-type", "application/grpc"), ("te", "trailers")]
        if compressed:
            headers.append(("grpc-encoding", encoding))
        block = b"".join(self._literal(n, v) for n, v in headers)
        self.sock.sendall(self._frame(0x1, 0x4, 1, block))  # HEADERS, END_HEADERS, stream 1
        body = struct.pack(">BI", 1 if compressed else 0, len(payload)) + payload
        view = memoryview(body)
        sent = 0
        received: dict[str, str] = {}
        closed = False
        while sent < len(body) and not closed:
            n = min(16384, self.conn_window, self.stream_window, len(body) - sent)
            if n <= 0:
                closed = self._read_frame(received)
                continue
            last = sent + n == len(body)
            try:
                self.sock.sendall(self._frame(0x0, 0x1 if last else 0, 1, bytes(view[sent : sent + n])))
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += n
            self.conn_window -= n
            self.stream_window -= n
        while not closed:
            closed = self._read_frame(received)
        status = received.get("grpc-status")
        assert status is not None, f"no grpc-status in response: {received}"
        return int(status), received.get("grpc-message", ""), received

    def _recv_exact(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("server closed the HTTP/2 connection")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def _read_frame(self, received: dict[str, str]) -> bool:
        """Handle one frame; True once stream 1 is over (trailers, RST_STREAM or GOAWAY)."""
        head = self._recv_exact(9)
        length = int.from_bytes(head[:3], "big")
        kind, flags = head[3], head[4]
        stream = int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
        payload = self._recv_exact(length)
        if kind == 0x4 and not flags & 0x1:  # SETTINGS
            for i in range(0, len(payload), 6):
                key, value = struct.unpack(">HI", payload[i : i + 6])
                if key == 0x4:
                    self.stream_window += value - self.initial_window
                    self.initial_window = value
            self.sock.sendall(self._frame(0x4, 0x1, 0, b""))
        elif kind == 0x6 and not flags & 0x1:  # PING
            self.sock.sendall(self._frame(0x6, 0x1, 0, payload))
        elif kind == 0x8:  # WINDOW_UPDATE
            inc = int.from_bytes(payload, "big") & 0x7FFFFFFF
            if stream == 0:
                self.conn_window += inc
            else:
                self.stream_window += inc
        elif kind == 0x1:  # HEADERS
            if flags & 0x8:  # PADDED
                payload = payload[1 : len(payload) - payload[0]]
            if flags & 0x20:  # PRIORITY
                payload = payload[5:]
            assert flags & 0x4, "CONTINUATION frames are not expected for small gRPC headers"
            received.update(self._hpack(payload))
            return bool(flags & 0x1)
        elif kind == 0x3 and stream == 1:  # RST_STREAM
            received.setdefault("rst-stream", str(int.from_bytes(payload, "big")))
            return True
        elif kind == 0x7:  # GOAWAY
            return True
        return False

    def _hpack(self, block: bytes) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        i = 0

        def integer(prefix: int) -> int:
            nonlocal i
            mask = (1 << prefix) - 1
            value = block[i] & mask
            i += 1
            if value < mask:
                return value
            shift = 0
            while True:
                b = block[i]
                i += 1
                value += (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    return value

        def string() -> str:
            nonlocal i
            huffman = block[i] & 0x80
            n = integer(7)
            raw = block[i : i + n]
            i += n
            return "<huffman>" if huffman else raw.decode("latin-1")

        def entry(index: int) -> tuple[str, str]:
            return _HPACK_STATIC[index - 1] if index <= len(_HPACK_STATIC) else self.dynamic[index - len(_HPACK_STATIC) - 1]

        while i < len(block):
            b = block[i]
            if b & 0x80:
                out.append(entry(integer(7)))
            elif b & 0x40:
                index = integer(6)
                name = entry(index)[0] if index else string()
                field = (name, string())
                self.dynamic.insert(0, field)
                out.append(field)
            elif b & 0x20:
                integer(5)  # dynamic table size update
            else:
                index = integer(4)
                name = entry(index)[0] if index else string()
                out.append((name, string()))
        return out

    def close(self) -> None:
        self.sock.close()


# ---------------------------------------------------------------------------------------------
# The daemon


class Collector:
    def __init__(self, daemon: Daemon, big_http_port: int, bomb: concurrent.futures.Future[bytes]):
        self.daemon = daemon
        self.http_port = daemon.ports["http"]
        self.big_http_port = big_http_port
        self.grpc_port = daemon.ports["grpc"]
        self.grpc = GRPC(daemon.grpc_endpoint)
        self._bomb = bomb

    @property
    def bomb_1g(self) -> bytes:
        """1 GiB of zeros, gzip-compressed to ~1 MB: under otlp/big's 2 MiB and gRPC's 2 MiB as sent."""
        return self._bomb.result()

    def http(self, path: str, body: bytes | Iterable[bytes] = b"", **kwargs: Any) -> Reply:
        return http_request(self.http_port, path, body, **kwargs)

    def rss(self) -> tuple[int, int]:
        """(VmRSS, VmHWM) of the daemon in bytes: current and peak resident memory."""
        assert self.daemon.proc is not None
        fields = {}
        for line in Path(f"/proc/{self.daemon.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) * 1024
        return fields["VmRSS"], fields["VmHWM"]

    def refused(self, item: str = "spans", transport: str = "grpc", receiver: str = "otlp") -> float:
        return self.daemon.metric(f"otelcol_receiver_refused_{item}", receiver=receiver, transport=transport)

    def accepted(self, item: str = "spans", transport: str = "grpc", receiver: str = "otlp") -> float:
        return self.daemon.metric(f"otelcol_receiver_accepted_{item}", receiver=receiver, transport=transport)

    def output(self, signal: str = "traces") -> list[dict[str, Any]]:
        """Spans or log records written so far, each with its resource/scope flattened away."""
        path = self.daemon.data / f"{signal}.jsonl"
        items: list[dict[str, Any]] = []
        try:
            text = path.read_text()
        except FileNotFoundError:
            return items
        for line in text.splitlines():
            if not line.endswith("}"):
                continue  # a line still being written
            doc = json.loads(line)
            if signal == "traces":
                items += [s for rs in doc["resourceSpans"] for ss in rs.get("scopeSpans", []) for s in ss.get("spans", [])]
            else:
                items += [r for rl in doc["resourceLogs"] for sl in rl.get("scopeLogs", []) for r in sl.get("logRecords", [])]
        return items

    def lines(self, signal: str = "traces") -> int:
        try:
            return len((self.daemon.data / f"{signal}.jsonl").read_bytes().splitlines())
        except FileNotFoundError:
            return 0

    def wait_for(self, names: Iterable[str], signal: str = "traces", timeout: float = 10.0) -> list[dict[str, Any]]:
        """Everything in the output file once all `names` (span names / log bodies) are there."""
        wanted = set(names)
        deadline = time.monotonic() + timeout
        while True:
            items = self.output(signal)
            seen = {_label(item, signal) for item in items}
            if wanted <= seen:
                return items
            if time.monotonic() > deadline:
                raise AssertionError(f"not in {signal} output after {timeout}s: {sorted(wanted - seen)}\n{self.daemon.logs()[-3000:]}")
            time.sleep(0.02)

    def send_good(self) -> None:
        """A valid request over each transport succeeds and lands in the file."""
        via_grpc, via_http = marker("good-grpc"), marker("good-http")
        assert self.grpc.call(TRACES, traces(span(via_grpc)).SerializeToString()) == b""
        reply = self.http("/v1/traces", traces(span(via_http)).SerializeToString())
        assert reply.status == 200, reply
        self.wait_for([via_grpc, via_http])


def _label(item: dict[str, Any], signal: str) -> str:
    return item.get("name", "") if signal == "traces" else item.get("body", {}).get("stringValue", "")


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        bomb = pool.submit(gzip_bomb, 2**30)  # built while the daemon starts
        daemon = Daemon(tmp_path_factory.mktemp("bad-input"), CONFIG, extra_ports=("big_http",))
        c = Collector(daemon, daemon.ports["big_http"], bomb)
        try:
            daemon.start()
            yield c
        finally:
            c.grpc.close()
            if daemon.alive():
                code = daemon.stop()
                assert code == 0, f"daemon exited with {code}:\n{daemon.logs()[-3000:]}"
            # Bad input is the client's problem: nothing here may log as an error of the daemon's own.
            errors = [r for r in daemon.log_records() if r.get("level") in ("error", "critical")]
            assert not errors, errors[:5]
            assert "Traceback" not in daemon.logs()


@pytest.fixture
def c(collector: Collector) -> Iterator[Collector]:
    """The shared daemon; after each test it must still be alive and still deliver good requests."""
    yield collector
    assert collector.daemon.alive(), f"daemon died:\n{collector.daemon.logs()[-3000:]}"
    collector.send_good()


def assert_rss_bounded(c: Collector, before: tuple[int, int]) -> None:
    rss, hwm = c.rss()
    assert rss - before[0] < RSS_BUDGET, f"RSS grew by {(rss - before[0]) / 2**20:.0f} MiB"
    assert hwm - before[1] < RSS_BUDGET, f"peak RSS grew by {(hwm - before[1]) / 2**20:.0f} MiB"


# ---------------------------------------------------------------------------------------------
# Unit checks of the receiver's bounded decompression (no daemon)


def test_decompress_stops_at_the_limit_without_inflating_a_bomb() -> None:
    bomb = gzip_bomb(64 * 2**20)
    started = time.monotonic()
    with pytest.raises(http_bodies.HTTPProblem) as info:
        http_bodies.decompress(bomb, "gzip", 1000)
    assert info.value.status == 413 and "decompressed body exceeds" in info.value.message
    assert time.monotonic() - started < 0.5


def test_decompress_formats_and_errors() -> None:
    data = b"x" * 5000
    assert http_bodies.decompress(gzip.compress(data), "gzip", 5000) == data
    assert http_bodies.decompress(gzip.compress(data) + gzip.compress(data), "x-gzip", 10000) == data * 2  # multi-member
    assert http_bodies.decompress(zlib.compress(data), "deflate", 5000) == data
    assert http_bodies.decompress(data, "identity", 5000) == data
    with pytest.raises(http_bodies.HTTPProblem) as info:
        http_bodies.decompress(gzip.compress(data), "gzip", 4999)
    assert info.value.status == 413
    with pytest.raises(http_bodies.HTTPProblem) as info:
        http_bodies.decompress(gzip.compress(data)[:-10], "gzip", 5000)
    assert info.value.status == 400 and "truncated" in info.value.message
    with pytest.raises(http_bodies.HTTPProblem) as info:
        http_bodies.decompress(b"\x1f\x8bnot really gzip", "gzip", 5000)
    assert info.value.status == 400
    with pytest.raises(http_bodies.HTTPProblem) as info:
        http_bodies.decompress(data, "br", 5000)
    assert info.value.status == 415


# ---------------------------------------------------------------------------------------------
# HTTP


@pytest.mark.slow
def test_http_garbage_protobuf_is_400_with_a_status_body(c: Collector) -> None:
    reply = c.http("/v1/traces", b"\xff\xff\xff\xff this is not protobuf")
    assert reply.status == 400
    assert reply.content_type == PROTOBUF
    st = reply.rpc_status()
    assert st.code == code_pb2.INVALID_ARGUMENT
    assert "cannot decode protobuf ExportTraceServiceRequest" in st.message, st.message


@pytest.mark.slow
def test_http_truncated_protobuf_is_400(c: Collector) -> None:
    name = marker("truncated")
    whole = traces(span(name), span(name)).SerializeToString()
    for cut in (len(whole) // 2, len(whole) - 1):
        reply = c.http("/v1/traces", whole[:cut])
        assert reply.status == 400, (cut, reply)
        assert reply.rpc_status().code == code_pb2.INVALID_ARGUMENT
    reply = c.http("/v1/logs", logs(record(name)).SerializeToString()[:-3])
    assert reply.status == 400
    assert "ExportLogsServiceRequest" in reply.rpc_status().message
    c.send_good()
    assert name not in {s["name"] for s in c.output()}


@pytest.mark.slow
def test_http_invalid_json_is_400_with_a_json_status(c: Collector) -> None:
    for body in (b"{not json", b"[1, 2]", b'{"resourceSpans": 7}', b""):
        reply = c.http("/v1/traces", body, content_type=JSON)
        assert reply.status == 400, (body, reply)
        assert reply.content_type == JSON
        doc = json.loads(reply.body)
        assert doc["code"] == 3 and doc["message"], doc
    # also with a charset parameter, which is still JSON
    reply = c.http("/v1/traces", b"{oops", content_type="application/json; charset=utf-8")
    assert reply.status == 400 and reply.content_type == JSON and "invalid JSON" in json.loads(reply.body)["message"]


@pytest.mark.slow
def test_http_json_bad_hex_trace_id_is_400_naming_the_field(c: Collector) -> None:
    good = json_span(marker("hex-good"), uuid.uuid4().hex, uuid.uuid4().hex[:16])
    cases = (
        ("zz" * 16, uuid.uuid4().hex[:16], "traceId"),  # not hex
        ("abc", uuid.uuid4().hex[:16], "traceId"),  # wrong length
        ("AAAAAAAAAAAAAAAAAAAAAA==", uuid.uuid4().hex[:16], "traceId"),  # base64, as proto3 JSON would have it
        (uuid.uuid4().hex, "0123", "spanId"),
    )
    for bad_trace, bad_span, field in cases:
        reply = c.http("/v1/traces", json_traces(good, json_span(marker("hex-bad"), bad_trace, bad_span)), content_type=JSON)
        assert reply.status == 400
        assert reply.content_type == JSON
        message = json.loads(reply.body)["message"]
        assert f"spans[1].{field}" in message, message
        assert "hex" in message
    c.send_good()
    assert good["name"] not in {s["name"] for s in c.output()}  # the whole request was refused


@pytest.mark.slow
@pytest.mark.parametrize("content_type", ["text/plain", None, "application/grpc", "application/x-www-form-urlencoded"])
def test_http_wrong_content_type_is_415(c: Collector, content_type: str | None) -> None:
    reply = c.http("/v1/traces", traces(span(marker())).SerializeToString(), content_type=content_type)
    assert reply.status == 415, reply
    text = reply.body.decode()
    assert PROTOBUF in text and JSON in text
    assert (content_type or "no Content-Type header") in text, text


@pytest.mark.slow
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_http_wrong_method_is_405_with_allow(c: Collector, method: str) -> None:
    reply = c.http("/v1/traces", b"", method=method)
    assert reply.status == 405
    assert reply.headers["Allow"] == "POST"


@pytest.mark.slow
def test_http_body_over_limit_is_413_with_content_length(c: Collector) -> None:
    name = marker("too-big")
    body = traces(span(name, blob="x" * (HTTP_LIMIT + 100))).SerializeToString()
    for ctype in (PROTOBUF, JSON):
        reply = c.http("/v1/traces", body, content_type=ctype)
        assert reply.status == 413, reply
        assert reply.content_type == ctype
        st = reply.rpc_status()
        assert st.code == code_pb2.RESOURCE_EXHAUSTED and "max_request_body_size" in st.message
    # exactly at the limit is fine (the blob's length prefix grows with it, hence two steps)
    ok = marker("at-limit")
    blob = HTTP_LIMIT - traces(span(ok, blob="")).ByteSize() - 2
    at_limit = traces(span(ok, blob="y" * blob))
    at_limit = traces(span(ok, blob="y" * (blob + HTTP_LIMIT - at_limit.ByteSize())))
    assert at_limit.ByteSize() == HTTP_LIMIT
    assert c.http("/v1/traces", at_limit.SerializeToString()).status == 200
    c.wait_for([ok])
    assert name not in {s["name"] for s in c.output()}


@pytest.mark.slow
def test_http_body_over_limit_is_413_when_chunked(c: Collector) -> None:
    name = marker("chunked")
    body = traces(span(name, blob="x" * (4 * HTTP_LIMIT))).SerializeToString()
    reply = c.http("/v1/traces", (body[i : i + 8192] for i in range(0, len(body), 8192)))
    assert reply.status == 413, reply
    st = reply.rpc_status()
    assert st.code == code_pb2.RESOURCE_EXHAUSTED and "max_request_body_size" in st.message
    # a chunked body under the limit is accepted
    small = marker("chunked-ok")
    body = traces(span(small)).SerializeToString()
    reply = c.http("/v1/traces", iter([body[:10], body[10:]]))
    assert reply.status == 200, reply
    c.wait_for([small])
    assert name not in {s["name"] for s in c.output()}


@pytest.mark.slow
def test_http_gzip_is_decoded_by_the_receiver_not_by_aiohttp(c: Collector) -> None:
    """With auto_decompress on, aiohttp would inflate first and the receiver's own, bounded
    decompression would see plain protobuf and say "invalid gzip body"."""
    names = [marker("gzip"), marker("deflate"), marker("json-gzip")]
    reply = c.http("/v1/traces", gzip.compress(traces(span(names[0])).SerializeToString()), headers={"Content-Encoding": "gzip"})
    assert reply.status == 200, reply.body
    reply = c.http("/v1/traces", zlib.compress(traces(span(names[1])).SerializeToString()), headers={"Content-Encoding": "deflate"})
    assert reply.status == 200, reply.body
    body = json_traces(json_span(names[2], uuid.uuid4().hex, uuid.uuid4().hex[:16]))
    reply = c.http("/v1/traces", gzip.compress(body), content_type=JSON, headers={"Content-Encoding": "gzip"})
    assert reply.status == 200, reply.body
    c.wait_for(names)
    # Compressed well under the limit but inflating past it: only the receiver's decompression can tell.
    reply = c.http("/v1/traces", gzip.compress(traces(span(marker(), blob="z" * 2 * HTTP_LIMIT)).SerializeToString()), headers={"Content-Encoding": "gzip"})
    assert reply.status == 413
    assert "decompressed body exceeds" in reply.rpc_status().message


@pytest.mark.slow
def test_http_gzip_bomb_is_413_quickly_and_memory_stays_bounded(c: Collector) -> None:
    before = c.rss()
    bomb = c.bomb_1g
    assert len(bomb) < BIG_HTTP_LIMIT  # passes the as-sent check, so the decompressor must stop it
    for ctype in (PROTOBUF, JSON):
        reply = http_request(c.big_http_port, "/v1/traces", bomb, content_type=ctype, headers={"Content-Encoding": "gzip"})
        assert reply.status == 413, reply
        assert reply.content_type == ctype
        assert "decompressed body exceeds max_request_body_size" in reply.rpc_status().message
        assert reply.seconds < 5, f"bomb took {reply.seconds:.1f}s"
    # chunked, so no Content-Length tells the server how much is coming
    reply = http_request(c.big_http_port, "/v1/traces", (bomb[i : i + 65536] for i in range(0, len(bomb), 65536)), headers={"Content-Encoding": "gzip"})
    assert reply.status == 413 and reply.seconds < 5
    # a small bomb on the 64 KiB receiver: ~16 KB sent, 16 MiB inflated
    small = gzip_bomb(16 * 2**20)
    assert len(small) < HTTP_LIMIT
    reply = c.http("/v1/logs", small, headers={"Content-Encoding": "gzip"})
    assert reply.status == 413 and "decompressed" in reply.rpc_status().message
    # the 1 GiB bomb on the 64 KiB receiver is refused by its size as sent
    reply = c.http("/v1/traces", bomb, headers={"Content-Encoding": "gzip"})
    assert reply.status == 413
    assert_rss_bounded(c, before)


@pytest.mark.slow
def test_http_corrupt_compression_is_400(c: Collector) -> None:
    valid = gzip.compress(traces(span(marker())).SerializeToString())
    cases = {
        "gzip": [b"\x1f\x8b\x08\x00garbage-garbage-garbage", valid[:-12], b"plain, not gzip at all", valid + b"trailing junk"],
        "deflate": [b"\x78\x9cnot deflate"],
    }
    for encoding, bodies in cases.items():
        for body, ctype in itertools.product(bodies, (PROTOBUF, JSON)):
            reply = c.http("/v1/traces", body, content_type=ctype, headers={"Content-Encoding": encoding})
            assert reply.status == 400, (encoding, body[:20], reply)
            assert reply.content_type == ctype
            st = reply.rpc_status()
            assert st.code == code_pb2.INVALID_ARGUMENT and encoding in st.message, st.message


@pytest.mark.slow
@pytest.mark.parametrize("encoding", ["br", "snappy", "compress"])  # zstd is decoded: tests/receivers/test_otlp_exporter_zstd.py
def test_http_unsupported_content_encoding_is_415(c: Collector, encoding: str) -> None:
    for ctype in (PROTOBUF, JSON):
        reply = c.http("/v1/traces", b"\x00\x01\x02", content_type=ctype, headers={"Content-Encoding": encoding})
        assert reply.status == 415
        assert reply.content_type == ctype
        assert encoding in reply.rpc_status().message


def _field(tag: int, payload: bytes) -> bytes:
    return bytes([tag]) + encode_varint(len(payload)) + payload


def deeply_nested_protobuf(depth: int) -> bytes:
    """A span attribute that is an array in an array in ... `depth` times, built as bytes (the
    protobuf library itself refuses to build it)."""
    value = _field(0x0A, b"leaf")  # AnyValue.string_value
    for _ in range(depth):
        value = _field(0x2A, _field(0x0A, value))  # AnyValue.array_value { values: [value] }
    attribute = _field(0x0A, b"k") + _field(0x12, value)
    encoded = _field(0x0A, tid()) + _field(0x12, sid()) + _field(0x2A, b"deep") + _field(0x4A, attribute)
    return _field(0x0A, _field(0x12, _field(0x12, encoded)))  # resource_spans.scope_spans.spans


def deeply_nested_json(depth: int) -> bytes:
    value = '{"stringValue": "leaf"}'
    for _ in range(depth):
        value = '{"arrayValue": {"values": [' + value + "]}}"
    attribute = '{"key": "k", "value": ' + value + "}"
    return json_traces(json_span("deep", uuid.uuid4().hex, uuid.uuid4().hex[:16])).replace(b'"kind"', b'"attributes": [' + attribute.encode() + b'], "kind"')


@pytest.mark.slow
def test_deeply_nested_values_are_refused_not_a_crash(c: Collector) -> None:
    assert ExportTraceServiceRequest.FromString(deeply_nested_protobuf(10)).resource_spans[0].scope_spans[0].spans[0].name == "deep"
    assert json.loads(deeply_nested_json(10))
    for depth in (200, 5000):
        body = deeply_nested_protobuf(depth)
        reply = c.http("/v1/traces", body)
        assert reply.status == 400, reply
        assert reply.rpc_status().code == code_pb2.INVALID_ARGUMENT
        err = c.grpc.error(TRACES, body)
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err
    for depth in (200, 2000):  # past the decoder's depth limit, then past the JSON parser's
        reply = c.http("/v1/traces", deeply_nested_json(depth), content_type=JSON)
        assert reply.status == 400, reply
        assert re.search("nested|depth", json.loads(reply.body)["message"]), reply.body[-300:]


@pytest.mark.slow
def test_http_unknown_path_and_unconfigured_signal_are_404(c: Collector) -> None:
    body = traces(span(marker())).SerializeToString()
    for path in ("/v1/trace", "/", "/v2/traces", "/v1/traces/extra"):
        assert c.http(path, body).status == 404, path
    # no metrics pipeline is configured, so the receiver serves no /v1/metrics
    assert c.http("/v1/metrics", b"", content_type=PROTOBUF).status == 404
    assert c.http("/v1/metrics", b"{}", content_type=JSON).status == 404


@pytest.mark.slow
def test_http_success_bodies_are_valid_responses_in_the_request_encoding(c: Collector) -> None:
    names = [marker("pb"), marker("json")]
    reply = c.http("/v1/traces", traces(span(names[0])).SerializeToString())
    assert reply.status == 200 and reply.content_type == PROTOBUF
    response = ExportTraceServiceResponse.FromString(reply.body)
    assert not response.HasField("partial_success")
    reply = c.http("/v1/traces", json_traces(json_span(names[1], uuid.uuid4().hex, uuid.uuid4().hex[:16])), content_type=JSON)
    assert reply.status == 200 and reply.content_type == JSON
    response = json_format.Parse(reply.body, ExportTraceServiceResponse())
    assert not response.HasField("partial_success")
    reply = c.http("/v1/logs", logs(record(marker("log"))).SerializeToString())
    assert reply.status == 200 and reply.content_type == PROTOBUF
    ExportLogsServiceResponse.FromString(reply.body)
    c.wait_for(names)


# ---------------------------------------------------------------------------------------------
# gRPC


@pytest.mark.slow
def test_grpc_garbage_is_invalid_argument_naming_the_message_type(c: Collector) -> None:
    for method, type_name in ((TRACES, "ExportTraceServiceRequest"), (LOGS, "ExportLogsServiceRequest")):
        for garbage in (b"\xff\xff\xff\xff this is not protobuf", traces(span(marker())).SerializeToString()[:-5]):
            err = c.grpc.error(method, garbage)
            assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert f"cannot decode {type_name}" in err.details(), err.details()


@pytest.mark.slow
def test_grpc_message_over_limit_is_resource_exhausted(c: Collector) -> None:
    name = marker("grpc-big")
    err = c.grpc.error(TRACES, traces(span(name, blob="x" * (GRPC_LIMIT + 1000))).SerializeToString())
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, err
    # just under the limit goes through
    ok = marker("grpc-under")
    assert c.grpc.call(TRACES, traces(span(ok, blob="x" * (GRPC_LIMIT - 1000))).SerializeToString()) == b""
    c.wait_for([ok])
    assert name not in {s["name"] for s in c.output()}


@pytest.mark.slow
def test_grpc_limit_applies_to_the_decompressed_size(c: Collector) -> None:
    """A message that compresses far below max_recv_msg_size_mib but inflates past it is refused."""
    name = marker("grpc-gzip-big")
    big = traces(span(name, blob="x" * (GRPC_LIMIT + 1000))).SerializeToString()
    assert len(gzip.compress(big)) < GRPC_LIMIT // 100
    err = c.grpc.error(TRACES, big, compression=grpc.Compression.Gzip)
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, err
    ok = marker("grpc-gzip-ok")
    assert c.grpc.call(TRACES, traces(span(ok, blob="x" * 100_000)).SerializeToString(), compression=grpc.Compression.Gzip) == b""
    c.wait_for([ok])
    assert name not in {s["name"] for s in c.output()}


@pytest.mark.slow
def test_grpc_gzip_bomb_is_resource_exhausted_and_memory_stays_bounded(c: Collector) -> None:
    bomb = c.bomb_1g
    assert len(bomb) < GRPC_LIMIT  # passes the as-sent check, so the decompression must stop it
    before = c.rss()
    raw = RawGRPC(c.grpc_port)
    try:
        started = time.monotonic()
        code, message, _ = raw.call(TRACES, bomb, compressed=True)
        elapsed = time.monotonic() - started
    finally:
        raw.close()
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0], (code, message)
    assert elapsed < 5, f"bomb took {elapsed:.1f}s"
    assert_rss_bounded(c, before)
    # the raw client itself is sound: a valid compressed message through it succeeds
    name = marker("raw-h2")
    raw = RawGRPC(c.grpc_port)
    try:
        code, message, _ = raw.call(TRACES, gzip.compress(traces(span(name)).SerializeToString()), compressed=True)
    finally:
        raw.close()
    assert code == 0, message
    c.wait_for([name])


@pytest.mark.slow
@pytest.mark.parametrize(
    "payload, encoding, expected",
    [
        (b"\x1f\x8b\x08\x00 definitely not gzip", "gzip", "Decompression failed"),
        (gzip.compress(b"\x0a\x05abc")[:-8], "gzip", "Decompression failed"),  # truncated member
        (b"whatever", "br", "grpc-encoding"),  # an encoding gRPC core does not know
    ],
)
def test_grpc_bad_compression_is_an_error_not_a_crash(c: Collector, payload: bytes, encoding: str, expected: str) -> None:
    """Decided inside gRPC core before the handler runs: INTERNAL, as grpc-go also answers a message it
    cannot decompress. (The gRPC spec asks for UNIMPLEMENTED for an unknown grpc-encoding.)"""
    raw = RawGRPC(c.grpc_port)
    try:
        code, message, _ = raw.call(TRACES, payload, compressed=True, encoding=encoding)
    finally:
        raw.close()
    assert code == grpc.StatusCode.INTERNAL.value[0], (code, message)
    assert expected in message


@pytest.mark.slow
def test_grpc_unknown_method_is_unimplemented(c: Collector) -> None:
    body = traces(span(marker())).SerializeToString()
    for method in (
        "/opentelemetry.proto.collector.trace.v1.TraceService/Nope",
        "/opentelemetry.proto.collector.trace.v2.TraceService/Export",
        "/grpc.health.v1.Health/Check",
        METRICS,  # a signal with no pipeline
    ):
        err = c.grpc.error(method, body)
        assert err.code() == grpc.StatusCode.UNIMPLEMENTED, (method, err)


# ---------------------------------------------------------------------------------------------
# partial_success


def _mixed_spans(prefix: str) -> tuple[list[Span], list[str], list[str]]:
    good = [marker(f"{prefix}-good") for _ in range(3)]
    bad = [marker(f"{prefix}-bad") for _ in range(6)]
    spans = [
        span(good[0]),
        span(bad[0], trace_id=tid()[:15]),  # wrong length
        span(bad[1], span_id=sid() + b"\x01"),  # wrong length
        span(good[1]),
        span(bad[2], trace_id=bytes(16)),  # all zero
        span(bad[3], span_id=bytes(8)),  # all zero
        span(bad[4], trace_id=b""),  # missing
        span(bad[5], span_id=b""),  # missing
        span(good[2]),
    ]
    return spans, good, bad


def _assert_delivered(c: Collector, good: list[str], bad: list[str], signal: str = "traces") -> None:
    items = c.wait_for(good, signal)
    labels = {_label(item, signal) for item in items}
    assert not labels & set(bad), f"rejected items were written: {sorted(labels & set(bad))}"


@pytest.mark.slow
def test_partial_success_grpc(c: Collector) -> None:
    spans, good, bad = _mixed_spans("grpc")
    refused, accepted = c.refused("spans", "grpc"), c.accepted("spans", "grpc")
    response = ExportTraceServiceResponse.FromString(c.grpc.call(TRACES, traces(*spans).SerializeToString()))
    assert response.partial_success.rejected_spans == len(bad)
    assert "trace_id" in response.partial_success.error_message
    _assert_delivered(c, good, bad)
    assert c.refused("spans", "grpc") - refused == len(bad)
    assert c.accepted("spans", "grpc") - accepted == len(good)


@pytest.mark.slow
def test_partial_success_http_protobuf(c: Collector) -> None:
    spans, good, bad = _mixed_spans("http")
    refused = c.refused("spans", "http")
    reply = c.http("/v1/traces", traces(*spans).SerializeToString())
    assert reply.status == 200 and reply.content_type == PROTOBUF
    response = ExportTraceServiceResponse.FromString(reply.body)
    assert response.partial_success.rejected_spans == len(bad)
    assert response.partial_success.error_message
    _assert_delivered(c, good, bad)
    assert c.refused("spans", "http") - refused == len(bad)


@pytest.mark.slow
def test_partial_success_http_json(c: Collector) -> None:
    # JSON cannot express a wrong-length id (that is a 400, see above), but all-zero and empty ones parse.
    good = [marker("json-good") for _ in range(2)]
    bad = [marker("json-bad") for _ in range(3)]
    spans = [
        json_span(good[0], uuid.uuid4().hex, uuid.uuid4().hex[:16]),
        json_span(bad[0], "0" * 32, uuid.uuid4().hex[:16]),
        json_span(bad[1], uuid.uuid4().hex, "0" * 16),
        json_span(bad[2], "", uuid.uuid4().hex[:16]),
        json_span(good[1], uuid.uuid4().hex.upper(), uuid.uuid4().hex[:16]),
    ]
    refused = c.refused("spans", "http")
    reply = c.http("/v1/traces", json_traces(*spans), content_type=JSON)
    assert reply.status == 200 and reply.content_type == JSON
    doc = json.loads(reply.body)
    assert int(doc["partialSuccess"]["rejectedSpans"]) == len(bad), doc
    assert doc["partialSuccess"]["errorMessage"]
    _assert_delivered(c, good, bad)
    assert c.refused("spans", "http") - refused == len(bad)


@pytest.mark.slow
def test_partial_success_logs_with_wrong_length_ids(c: Collector) -> None:
    for transport in ("grpc", "http"):
        good = [marker(f"log-{transport}-good") for _ in range(3)]
        bad = [marker(f"log-{transport}-bad") for _ in range(3)]
        request = logs(
            record(good[0]),  # no correlation ids at all: fine
            record(bad[0], trace_id=tid()[:8]),
            record(good[1], trace_id=tid(), span_id=sid()),
            record(bad[1], span_id=sid()[:4]),
            record(bad[2], trace_id=tid() + b"\x00", span_id=sid()),
            record(good[2], trace_id=tid()),
        )
        refused = c.refused("log_records", transport)
        if transport == "grpc":
            response = ExportLogsServiceResponse.FromString(c.grpc.call(LOGS, request.SerializeToString()))
        else:
            reply = c.http("/v1/logs", request.SerializeToString())
            assert reply.status == 200
            response = ExportLogsServiceResponse.FromString(reply.body)
        assert response.partial_success.rejected_log_records == len(bad)
        assert response.partial_success.error_message
        _assert_delivered(c, good, bad, "logs")
        assert c.refused("log_records", transport) - refused == len(bad)


@pytest.mark.slow
def test_empty_and_fully_rejected_requests_write_nothing(c: Collector) -> None:
    """As in otelcol, a request with nothing (left) in it is answered OK without entering the pipeline,
    so the file gets no empty `{}` or resource-without-spans records."""
    c.send_good()  # everything before this is in the file
    traces_lines, logs_lines = c.lines("traces"), c.lines("logs")
    assert c.grpc.call(TRACES, b"") == b""
    assert c.grpc.call(LOGS, b"") == b""
    assert c.http("/v1/traces", b"").status == 200
    assert c.http("/v1/traces", traces().SerializeToString()).status == 200  # a resource with an empty scope
    for body in (b"{}", b'{"resourceSpans": []}', b'{"resourceSpans": [{"scopeSpans": [{"spans": []}]}]}'):
        reply = c.http("/v1/traces", body, content_type=JSON)
        assert reply.status == 200 and json.loads(reply.body) == {}, reply
    bad = [marker("all-bad") for _ in range(2)]
    response = ExportTraceServiceResponse.FromString(
        c.grpc.call(TRACES, traces(span(bad[0], trace_id=bytes(16)), span(bad[1], span_id=b"\x01")).SerializeToString())
    )
    assert response.partial_success.rejected_spans == 2
    reply = c.http("/v1/logs", logs(record(marker("all-bad-log"), span_id=b"\x01")).SerializeToString())
    assert ExportLogsServiceResponse.FromString(reply.body).partial_success.rejected_log_records == 1
    c.send_good()
    assert c.lines("traces") == traces_lines + 2, (c.daemon.data / "traces.jsonl").read_text()[-2000:]
    assert c.lines("logs") == logs_lines


@pytest.mark.slow
def test_partial_success_drops_the_scopes_and_resources_it_empties(c: Collector) -> None:
    good = marker("kept")
    request = traces(span(marker("gone"), trace_id=bytes(16)))  # resource 0: one scope, nothing valid
    rs = request.resource_spans.add()
    rs.resource.attributes.add(key="service.name", value=AnyValue(string_value="second"))
    rs.scope_spans.add().spans.extend([span(marker("gone"), span_id=bytes(8))])  # emptied scope
    rs.scope_spans.add(scope={"name": "kept-scope"}).spans.extend([span(good), span(marker("gone"), trace_id=b"\x01")])
    response = ExportTraceServiceResponse.FromString(c.grpc.call(TRACES, request.SerializeToString()))
    assert response.partial_success.rejected_spans == 3
    c.wait_for([good])
    line = next(json.loads(x) for x in (c.daemon.data / "traces.jsonl").read_text().splitlines() if good in x)
    assert len(line["resourceSpans"]) == 1
    (kept,) = line["resourceSpans"]
    assert [ss["scope"]["name"] for ss in kept["scopeSpans"]] == ["kept-scope"]
    assert [s["name"] for s in kept["scopeSpans"][0]["spans"]] == [good]


# ---------------------------------------------------------------------------------------------
# Other clients are unaffected


@pytest.mark.slow
def test_sdk_exporters_still_work_after_abuse(c: Collector) -> None:
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GRPCSpanExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HTTPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    # a burst of bad input first
    for _ in range(3):
        c.http("/v1/traces", b"\xff\xfe garbage")
        c.grpc.error(TRACES, b"\xff\xfe garbage")
        c.http("/v1/traces", b"x" * (HTTP_LIMIT + 1))

    ended: list[ReadableSpan] = []

    class Capture(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            ended.extend(spans)
            return SpanExportResult.SUCCESS

    provider = TracerProvider(resource=Resource.create({"service.name": "sdk-after-abuse"}))
    provider.add_span_processor(SimpleSpanProcessor(Capture()))
    names = [marker("sdk-grpc"), marker("sdk-http"), marker("sdk-http-gzip")]
    for name in names:
        with provider.get_tracer("bad-input").start_as_current_span(name):
            pass
    provider.shutdown()
    by_name = {s.name: s for s in ended}

    from opentelemetry.exporter.otlp.proto.http import Compression

    exporters = [
        (GRPCSpanExporter(endpoint=c.daemon.grpc_endpoint, insecure=True, timeout=10), names[0]),
        (HTTPSpanExporter(endpoint=f"{c.daemon.http_url}/v1/traces", timeout=10), names[1]),
        (HTTPSpanExporter(endpoint=f"{c.daemon.http_url}/v1/traces", timeout=10, compression=Compression.Gzip), names[2]),
    ]
    for exporter, name in exporters:
        try:
            assert exporter.export([by_name[name]]) == SpanExportResult.SUCCESS, name
        finally:
            exporter.shutdown()
    c.wait_for(names)


@pytest.mark.slow
def test_other_clients_unaffected_while_one_streams_garbage_and_bombs(c: Collector) -> None:
    bomb = c.bomb_1g
    small_bomb = gzip_bomb(16 * 2**20)
    stop = threading.Event()
    attacks: list[str] = []
    attack_errors: list[BaseException] = []
    before = c.rss()

    def attacker() -> None:
        rounds: list[tuple[str, Callable[[], bool]]] = [
            ("http garbage", lambda: c.http("/v1/traces", b"\xff" * 1000).status == 400),
            ("http json garbage", lambda: c.http("/v1/traces", b"{" * 1000, content_type=JSON).status == 400),
            ("http small bomb", lambda: c.http("/v1/traces", small_bomb, headers={"Content-Encoding": "gzip"}).status == 413),
            ("http 1 GiB bomb", lambda: http_request(c.big_http_port, "/v1/traces", bomb, headers={"Content-Encoding": "gzip"}).status == 413),
            ("http oversize", lambda: c.http("/v1/traces", b"\x00" * (HTTP_LIMIT * 2)).status == 413),
            ("grpc garbage", lambda: c.grpc.error(TRACES, b"\xff" * 1000).code() == grpc.StatusCode.INVALID_ARGUMENT),
            ("grpc bomb", lambda: _raw_grpc_status(c.grpc_port, bomb) == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]),
        ]
        i = 0
        try:
            while not stop.is_set():
                what, attack = rounds[i % len(rounds)]
                assert attack(), what
                attacks.append(what)
                i += 1
        except BaseException as exc:  # reported by the main thread
            attack_errors.append(exc)

    thread = threading.Thread(target=attacker, daemon=True)
    thread.start()
    names: list[str] = []
    latencies: list[float] = []
    try:
        deadline = time.monotonic() + 2.5
        i = 0
        while time.monotonic() < deadline or len(set(attacks)) < 7:
            name = marker(f"victim{i}")
            started = time.monotonic()
            if i % 2:
                assert c.grpc.call(TRACES, traces(span(name)).SerializeToString(), timeout=10) == b""
            else:
                reply = c.http("/v1/traces", traces(span(name)).SerializeToString(), timeout=10)
                assert reply.status == 200, reply
            latencies.append(time.monotonic() - started)
            names.append(name)
            i += 1
            assert time.monotonic() < deadline + 15, f"attacker stuck after {attacks}"
    finally:
        stop.set()
        thread.join(30)
    assert not attack_errors, attack_errors
    assert len(names) >= 20, names
    assert max(latencies) < 5, f"slowest good request took {max(latencies):.1f}s"
    c.wait_for(names)
    assert_rss_bounded(c, before)


def _raw_grpc_status(port: int, bomb: bytes) -> int:
    raw = RawGRPC(port)
    try:
        return raw.call(TRACES, bomb, compressed=True)[0]
    finally:
        raw.close()


@pytest.mark.slow
def test_refused_spans_metric_counts_rejections_only(c: Collector) -> None:
    """Undecodable requests have no countable spans; rejected-by-validation spans are counted."""
    refused = c.refused("spans", "http")
    c.http("/v1/traces", b"\xff\xff garbage")
    c.http("/v1/traces", b"{", content_type=JSON)
    assert c.refused("spans", "http") == refused
    c.http("/v1/traces", traces(span(marker(), trace_id=bytes(16)), span(marker())).SerializeToString())
    assert c.refused("spans", "http") == refused + 1


@pytest.mark.slow
def test_a_malformed_payload_never_echoes_its_values_in_the_answer_or_the_debug_log(daemon_factory: Any) -> None:
    """An e-mail as traceId, an API key as kind: the 400 names the field and the problem, and the debug-level
    `malformed HTTP request` line says the same, never the values."""
    from tests.conftest import BASIC_CONFIG

    daemon = daemon_factory(BASIC_CONFIG.replace("  telemetry:\n", "  telemetry:\n    logs: {{level: debug}}\n", 1))
    secrets = {"traceId": "alice@example.com", "kind": "sk-live-0123456789abcdef", "startTimeUnixNano": "+55 11 98765-4321"}
    for field, value in secrets.items():
        body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{field: value, "name": "s"}]}]}]}).encode()
        connection = http.client.HTTPConnection("127.0.0.1", daemon.ports["http"], timeout=10)
        connection.request("POST", "/v1/traces", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        answer = response.read().decode()
        connection.close()
        assert response.status == 400
        assert field in answer and value not in answer, answer
    assert daemon.stop() == 0
    logs = daemon.logs()
    assert "malformed HTTP request" in logs
    assert not any(value in logs for value in secrets.values())
