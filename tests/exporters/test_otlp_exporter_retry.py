"""How the `otlp` and `otlphttp` exporters treat a backend's answers (OTLP specification, "Failures"):
in-test fake servers answer each request by the name of its first span, following a script, and
record when every attempt arrived and with which headers. Daemon A sits between the test and the fake.

Also the 60-second outage: daemon B stopped while A keeps receiving, then restarted on the same ports."""

from __future__ import annotations

import email.utils
import gzip
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from typing import Any

import grpc
import pytest
import zstandard
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest, ExportTraceServiceResponse
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from collector import otlpjson
from collector.component import Signal
from tests.exporters.test_otlp_exporter import COMMON, count_spans, fill, proto_records, service, wait_for

pytestmark = pytest.mark.slow

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
_ids = [1]


def named_request(name: str, spans: int = 5) -> bytes:
    """A request whose first span's name tells the fake which script to follow."""
    out = []
    for k in range(spans):
        i = _ids[0]
        _ids[0] += 1
        out.append(Span(trace_id=i.to_bytes(16, "big"), span_id=i.to_bytes(8, "big"), name=name if k == 0 else f"{name}-{k}", start_time_unix_nano=i, end_time_unix_nano=i + 1))
    resource = Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value="retry-test"))])
    return ExportTraceServiceRequest(resource_spans=[ResourceSpans(resource=resource, scope_spans=[ScopeSpans(spans=out)])]).SerializeToString()


def send(endpoint: str, body: bytes) -> None:
    with grpc.insecure_channel(endpoint) as channel:
        channel.unary_unary(EXPORT)(body, timeout=10)


def first_name(req: ExportTraceServiceRequest) -> str:
    return req.resource_spans[0].scope_spans[0].spans[0].name


class Attempt:
    def __init__(self, name: str, headers: dict[str, str], request: ExportTraceServiceRequest, path: str = ""):
        self.at = time.monotonic()
        self.name = name
        self.headers = headers
        self.request = request
        self.path = path


class Recorder:
    def __init__(self, script: dict[str, list[tuple]]):
        self.script = script
        self.attempts: list[Attempt] = []
        self.lock = threading.Lock()

    def next_action(self, attempt: Attempt) -> tuple:
        with self.lock:
            seen = sum(1 for a in self.attempts if a.name == attempt.name)
            self.attempts.append(attempt)
        actions = self.script[attempt.name]
        return actions[min(seen, len(actions) - 1)]

    def of(self, name: str) -> list[Attempt]:
        with self.lock:
            return [a for a in self.attempts if a.name == name]

    @staticmethod
    def gaps(attempts: list[Attempt]) -> list[float]:
        return [b.at - a.at for a, b in pairwise(attempts)]


class FakeGRPC(Recorder):
    """Script actions: ("ok",), ("partial", rejected, message), ("fail", code, retry_delay_s | None, where)
    with where "details" (RetryInfo in grpc-status-details-bin) or "bare" (google.rpc.retryinfo-bin)."""

    def __init__(self, script: dict[str, list[tuple]]):
        super().__init__(script)
        self.server = grpc.server(ThreadPoolExecutor(8))
        handler = grpc.unary_unary_rpc_method_handler(self._export)
        self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("opentelemetry.proto.collector.trace.v1.TraceService", {"Export": handler}),))
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def _export(self, body: bytes, context: grpc.ServicerContext) -> bytes:
        request = ExportTraceServiceRequest.FromString(body)
        metadata = {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}
        action = self.next_action(Attempt(first_name(request), metadata, request))
        if action[0] == "ok":
            return b""
        if action[0] == "partial":
            response = ExportTraceServiceResponse()
            response.partial_success.rejected_spans = action[1]
            response.partial_success.error_message = action[2]
            return response.SerializeToString()
        _, code, delay, where = action
        if delay is not None:
            info = error_details_pb2.RetryInfo()
            info.retry_delay.FromNanoseconds(int(delay * 1e9))
            if where == "details":
                status = status_pb2.Status(code=code.value[0], message="slow down")
                status.details.add().Pack(info)
                context.set_trailing_metadata((("grpc-status-details-bin", status.SerializeToString()),))
            else:
                context.set_trailing_metadata((("google.rpc.retryinfo-bin", info.SerializeToString()),))
        context.abort(code, f"scripted {code.name}")
        return b""

    def stop(self) -> None:
        self.server.stop(None)


class FakeHTTP(Recorder):
    """Script actions: ("ok",), ("partial", rejected, message), ("status", http_status, headers); a
    header value may be a callable, evaluated when the response is sent."""

    def __init__(self, script: dict[str, list[tuple]]):
        super().__init__(script)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real OTLP/HTTP server

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                encoding = self.headers.get("Content-Encoding", "")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "zstd":
                    body = zstandard.ZstdDecompressor().decompress(body)
                is_json = self.headers["Content-Type"] == "application/json"
                request = otlpjson.decode(Signal.TRACES, body) if is_json else ExportTraceServiceRequest.FromString(body)
                action = fake.next_action(Attempt(first_name(request), dict(self.headers.items()), request, self.path))
                extra: dict[str, str] = {}
                if action[0] == "ok":
                    status, payload = 200, b""
                elif action[0] == "partial":
                    response = ExportTraceServiceResponse()
                    response.partial_success.rejected_spans = action[1]
                    response.partial_success.error_message = action[2]
                    status, payload = 200, otlpjson.encode_response(response) if is_json else response.SerializeToString()
                else:
                    _, status, extra = action
                    st = status_pb2.Status(code=3, message=f"scripted HTTP {status}")
                    payload = otlpjson.encode_response(st) if is_json else st.SerializeToString()
                self.send_response(status)
                self.send_header("Content-Type", self.headers["Content-Type"])
                self.send_header("Content-Length", str(len(payload)))
                for key, value in extra.items():
                    self.send_header(key, value() if callable(value) else value)
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


FAST_RETRY = """
    retry_on_failure:
      initial_interval: 100ms
      max_interval: 200ms
      max_elapsed_time: 30s"""


def forwarder(exporters: dict[str, str]) -> str:
    body = "\n".join(f"  {name}:{settings}{FAST_RETRY}" for name, settings in exporters.items())
    return """
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: "127.0.0.1:{grpc}"
exporters:
""" + body + COMMON + service(f"""    traces:
      receivers: [otlp]
      exporters: [{", ".join(exporters)}]""")


GRPC_SCRIPT = {
    "retry-info-in-status": [("fail", grpc.StatusCode.RESOURCE_EXHAUSTED, 1.5, "details"), ("ok",)],
    "retry-info-bare": [("fail", grpc.StatusCode.RESOURCE_EXHAUSTED, 1.0, "bare"), ("ok",)],
    "exhausted-no-info": [("fail", grpc.StatusCode.RESOURCE_EXHAUSTED, None, "")],
    "invalid": [("fail", grpc.StatusCode.INVALID_ARGUMENT, None, "")],
    "unauthenticated": [("fail", grpc.StatusCode.UNAUTHENTICATED, None, "")],
    "unavailable-twice": [("fail", grpc.StatusCode.UNAVAILABLE, None, ""), ("fail", grpc.StatusCode.UNAVAILABLE, None, ""), ("ok",)],
    "aborted-once": [("fail", grpc.StatusCode.ABORTED, None, ""), ("ok",)],
    "partial": [("partial", 2, "2 spans had no name")],
}


def test_grpc_status_codes_retry_info_and_partial_success(daemon_factory: Any) -> None:
    fake = FakeGRPC(GRPC_SCRIPT)
    try:
        daemon = daemon_factory(forwarder({"otlp": fill('\n    endpoint: "127.0.0.1:<<port>>"\n    tls: {{insecure: true}}\n    headers: {{x-tenant: acme}}', port=fake.port)}))
        for name in GRPC_SCRIPT:
            send(daemon.grpc_endpoint, named_request(name))
        wait_for(lambda: all(len(fake.of(n)) == len(s) for n, s in GRPC_SCRIPT.items()), timeout=20, what=f"scripted attempts: { {n: len(fake.of(n)) for n in GRPC_SCRIPT} }")
        # RetryInfo's delay is waited out (the back-off alone would retry after 50-200 ms).
        (info_gap,) = Recorder.gaps(fake.of("retry-info-in-status"))
        (bare_gap,) = Recorder.gaps(fake.of("retry-info-bare"))
        assert 1.45 <= info_gap < 4, info_gap
        assert 0.95 <= bare_gap < 4, bare_gap
        assert all(g < 1.0 for g in Recorder.gaps(fake.of("unavailable-twice")))
        time.sleep(0.5)  # a final error must not be retried: still one attempt each
        for final in ("exhausted-no-info", "invalid", "unauthenticated", "partial"):
            assert len(fake.of(final)) == 1, final
        attempt = fake.of("invalid")[0]
        assert attempt.headers["x-tenant"] == "acme"
        assert attempt.headers["user-agent"].startswith("llm-collector/")
        assert [s.name for s in attempt.request.resource_spans[0].scope_spans[0].spans] == ["invalid"] + [f"invalid-{k}" for k in range(1, 5)]
        # 3 requests dropped whole (5 spans each) + 2 spans refused by partial_success; the rest sent.
        wait_for(lambda: daemon.metric("otelcol_exporter_send_failed_spans", exporter="otlp") == 17, what="17 failed spans counted")
        assert daemon.metric("otelcol_exporter_sent_spans", exporter="otlp") == 5 * len(GRPC_SCRIPT) - 17
        assert daemon.stop() == 0
        logs = daemon.logs()
        assert "INVALID_ARGUMENT: scripted INVALID_ARGUMENT" in logs and "2 spans had no name" in logs
    finally:
        fake.stop()


def http_date(seconds_from_now: float) -> str:
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


HTTP_SCRIPT = {
    "throttled": [("status", 429, {"Retry-After": "2"}), ("ok",)],
    # Computed as the request arrives, so the date always means "3 s from now".
    "throttled-date": [("status", 503, {"Retry-After": lambda: http_date(3)}), ("ok",)],
    "bad-gateway-then-timeout": [("status", 502, {}), ("status", 504, {}), ("ok",)],
    "bad-request": [("status", 400, {})],
    "forbidden": [("status", 403, {})],
    "server-error": [("status", 500, {})],
    "partial": [("partial", 2, "2 spans too large")],
}


@pytest.mark.parametrize("encoding,compression", [("proto", "gzip"), ("json", "zstd")])
def test_http_statuses_retry_after_and_partial_success(daemon_factory: Any, encoding: str, compression: str) -> None:
    fake = FakeHTTP(HTTP_SCRIPT)
    try:
        settings = f'\n    endpoint: "http://127.0.0.1:{fake.port}/otlp"\n    encoding: {encoding}\n    compression: {compression}\n    headers: {{{{X-Tenant: acme}}}}'
        daemon = daemon_factory(forwarder({"otlphttp": settings}))
        for name in HTTP_SCRIPT:
            send(daemon.grpc_endpoint, named_request(name))
        wait_for(lambda: all(len(fake.of(n)) == len(s) for n, s in HTTP_SCRIPT.items()), timeout=20, what="scripted attempts")
        (after_seconds,) = Recorder.gaps(fake.of("throttled"))
        (after_date,) = Recorder.gaps(fake.of("throttled-date"))
        assert 1.95 <= after_seconds < 5, after_seconds
        assert 1.9 <= after_date < 6, after_date  # an HTTP-date has whole seconds: 3 s becomes 2-3 s
        assert all(g < 1.0 for g in Recorder.gaps(fake.of("bad-gateway-then-timeout")))
        time.sleep(0.5)
        for final in ("bad-request", "forbidden", "server-error", "partial"):
            assert len(fake.of(final)) == 1, final
        attempt = fake.of("bad-request")[0]
        assert attempt.path == "/otlp/v1/traces"
        assert attempt.headers["Content-Type"] == ("application/json" if encoding == "json" else "application/x-protobuf")
        assert attempt.headers["Content-Encoding"] == compression
        assert attempt.headers["X-Tenant"] == "acme"
        assert attempt.headers["User-Agent"].startswith("llm-collector/")
        assert [s.name for s in attempt.request.resource_spans[0].scope_spans[0].spans] == ["bad-request"] + [f"bad-request-{k}" for k in range(1, 5)]
        wait_for(lambda: daemon.metric("otelcol_exporter_send_failed_spans", exporter="otlphttp") == 17, what="17 failed spans counted")
        assert daemon.metric("otelcol_exporter_sent_spans", exporter="otlphttp") == 5 * len(HTTP_SCRIPT) - 17
        assert daemon.stop() == 0
        logs = daemon.logs()
        assert "HTTP 400" in logs and "scripted HTTP 400" in logs and "2 spans too large" in logs
    finally:
        fake.stop()


OUTAGE_SINK = """
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: "127.0.0.1:{grpc}"
  otlp/http:
    protocols:
      http:
        endpoint: "127.0.0.1:{http}"
exporters:
  file/grpc:
    path: "{data}/grpc.pb"
    format: proto
    append: true
  file/http:
    path: "{data}/http.pb"
    format: proto
    append: true
""" + COMMON + service("""    traces/grpc:
      receivers: [otlp]
      exporters: [file/grpc]
    traces/http:
      receivers: [otlp/http]
      exporters: [file/http]""")

OUTAGE_FORWARDER = """
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: "127.0.0.1:{grpc}"
exporters:
  otlp:
    endpoint: "http://127.0.0.1:<<grpc>>"
    retry_on_failure: {{initial_interval: 500ms, max_interval: 3s}}
  otlphttp:
    endpoint: "http://127.0.0.1:<<http>>"
    retry_on_failure: {{initial_interval: 500ms, max_interval: 3s}}
""" + COMMON + service("""    traces:
      receivers: [otlp]
      exporters: [otlp, otlphttp]""")


def span_ids(records: list[bytes]) -> list[bytes]:
    return [span.span_id for r in records for rs in ExportTraceServiceRequest.FromString(r).resource_spans for ss in rs.scope_spans for span in ss.spans]


def test_backend_down_for_60_seconds_loses_nothing(daemon_factory: Any) -> None:
    sink = daemon_factory(OUTAGE_SINK)
    daemon = daemon_factory(fill(OUTAGE_FORWARDER, grpc=sink.ports["grpc"], http=sink.ports["http"]))
    sent: list[bytes] = []

    def send_some(requests: int, pause: float) -> None:
        for _ in range(requests):
            body = named_request("outage", 10)
            send(daemon.grpc_endpoint, body)  # acknowledged by A, which now owns its delivery
            sent.extend(span_ids([body]))
            time.sleep(pause)

    send_some(5, 0.05)
    wait_for(lambda: count_spans(proto_records(sink.data / "grpc.pb")) == 50 and count_spans(proto_records(sink.data / "http.pb")) == 50, what="the first 50 spans")
    assert sink.stop() == 0
    down_since = time.monotonic()
    send_some(120, 0.5)  # 60 s of traffic into A while B is down
    time.sleep(max(0.0, 60 - (time.monotonic() - down_since)))
    assert daemon.metric("otelcol_exporter_sent_spans", exporter="otlp") == 50  # nothing got through
    sink.start()
    for path in ("grpc.pb", "http.pb"):
        wait_for(lambda p=path: len(set(span_ids(proto_records(sink.data / p)))) == len(sent), timeout=60, what=f"every span in {path}")
    for exporter in ("otlp", "otlphttp"):
        assert daemon.metric("otelcol_exporter_sent_spans", exporter=exporter) == len(sent)
        assert daemon.metric("otelcol_exporter_send_failed_spans", exporter=exporter) == 0
    assert daemon.stop() == 0
    assert sink.stop() == 0
    for exporter, path in (("otlp", "grpc.pb"), ("otlphttp", "http.pb")):
        arrived = span_ids(proto_records(sink.data / path))
        assert set(arrived) == set(sent), exporter
        assert len(arrived) == len(sent), f"{exporter}: {len(arrived) - len(sent)} duplicate spans"
    retries = [r for r in daemon.log_records() if r.get("event") == "send failed, will retry"]
    assert {r["exporter"] for r in retries} == {"otlp", "otlphttp"}
    assert not [r for r in daemon.log_records() if r.get("event", "").startswith("dropping data")]
