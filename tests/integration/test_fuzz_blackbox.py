"""Black-box fuzzing of the whole daemon: 20,000 mutated OTLP requests through the LLM pipeline.

One real daemon (redaction, token_count, cost, tail_sampling and batch into the file exporter; logs and
metrics through redaction) gets mutations of real requests, the load generator's LLM traces and logs and a
metrics request, over OTLP/HTTP protobuf, OTLP/HTTP JSON and gRPC (raw bytes, some gzip-compressed), made by
fuzz/mutate.py: bit flips, truncations, length fields edited, fields inserted, duplicated, dropped or
retyped in a well-formed message, JSON values replaced, keys dropped or renamed, nesting deepened, bodies
gzip/deflate/zstd-compressed correctly or under the wrong Content-Encoding; some go with the wrong
Content-Type or to another signal's endpoint. Meanwhile a canary thread
sends valid LLM requests with unique span names. Whatever the bytes, the daemon answers every request with a
status the client can act on (never HTTP 500 or gRPC INTERNAL/UNKNOWN), stays alive and healthy, logs no
traceback or error, and every canary it acknowledged is in the file as sent. The mutations come from a fixed seed
(case i from its own generator, whatever the threads' order), and the counts by status are printed.
"""

from __future__ import annotations

import gzip
import http.client
import random
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import grpc
import orjson
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest, ExportTraceServiceResponse
from opentelemetry.proto.metrics.v1.metrics_pb2 import Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from collector import otlpjson
from collector.testing import kv, traces_request, wait_for
from collector.tools.loadgen import build_templates
from fuzz import mutate
from tests.conftest import Daemon

pytestmark = pytest.mark.slow

SEED = 0xF022
PAYLOADS = 20_000
WORKERS = 6
CANARY_INTERVAL = 0.05  # seconds between two canary requests
NOW = 1_750_000_000_000_000_000  # the seeds' clock, fixed so that the mutations replay byte for byte

CONFIG = """
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
      http: {{endpoint: "127.0.0.1:{http}"}}
processors:
  memory_limiter: {{limit_mib: 4000, check_interval: 1s}}
  redaction: {{detectors: {{}}, allow_all_keys: true}}
  token_count: {{}}
  cost: {{}}
  tail_sampling:
    decision_wait: 300ms
    policies: [{{name: all, type: always_sample}}]
  batch: {{timeout: 100ms}}
exporters:
  file/traces: {{path: "{data}/traces.jsonl"}}
  file/logs: {{path: "{data}/logs.jsonl"}}
  file/metrics: {{path: "{data}/metrics.jsonl"}}
extensions:
  health_check: {{endpoint: "127.0.0.1:{health}"}}
service:
  extensions: [health_check]
  telemetry:
    metrics: {{address: "127.0.0.1:{metrics}"}}
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter, redaction, token_count, cost, tail_sampling, batch]
      exporters: [file/traces]
    logs: {{receivers: [otlp], processors: [memory_limiter, redaction, batch], exporters: [file/logs]}}
    metrics: {{receivers: [otlp], processors: [memory_limiter, redaction], exporters: [file/metrics]}}
"""

SIGNALS = ("traces", "logs", "metrics")
PATHS = {"traces": "/v1/traces", "logs": "/v1/logs", "metrics": "/v1/metrics"}
METHODS = {
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
}
PROTOBUF, JSON = "application/x-protobuf", "application/json"
# Answers a client can act on: accepted, refused for the request's own sake, or busy (retry later).
HTTP_ANSWERS = {200, 400, 413, 415, 429, 503}
GRPC_ANSWERS = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE}


# ---------------------------------------------------------------------------------------------
# Seeds: real requests


def metrics_request() -> ExportMetricsServiceRequest:
    points = [NumberDataPoint(time_unix_nano=10**18, as_double=0.25, attributes=[kv("user", "ada@example.com")]), NumberDataPoint(as_int=7)]
    metrics = [Metric(name="llm.tokens", unit="1", gauge=Gauge(data_points=points)),
               Metric(name="llm.calls", sum=Sum(data_points=points[1:], aggregation_temporality=2, is_monotonic=True))]
    resource_metrics = ResourceMetrics(resource={"attributes": [kv("service.name", "svc")]}, scope_metrics=[ScopeMetrics(metrics=metrics)])
    return ExportMetricsServiceRequest(resource_metrics=[resource_metrics])


@dataclass(frozen=True)
class Seeds:
    protobuf: dict[str, list[mutate.ProtobufSeed]]
    json: dict[str, list[Any]]  # parsed JSON documents


def seeds() -> Seeds:
    """The load generator's LLM traces (usage reported and missing, with PII) and logs, a metrics request;
    2-3 spans each, so that 20,000 requests fit the time."""
    messages: dict[str, list[Any]] = {
        "traces": [ExportTraceServiceRequest.FromString(t.payload) for usage in ("reported", "missing")
                   for t in build_templates(batch_size=3, count=4, seed=7, now_ns=NOW, usage=usage, pii_share=0.5)],
        "logs": [ExportLogsServiceRequest.FromString(t.payload) for t in build_templates(signal_name="logs", batch_size=3, count=3, seed=8, now_ns=NOW, pii_share=0.5)],
        "metrics": [metrics_request()],
    }
    return Seeds({s: [mutate.ProtobufSeed(m.SerializeToString()) for m in ms] for s, ms in messages.items()},
                 {s: [orjson.loads(otlpjson.encode(s, m)) for m in ms] for s, ms in messages.items()})


# ---------------------------------------------------------------------------------------------
# Cases: what goes on the wire


@dataclass
class Case:
    transport: str  # "http" or "grpc"
    target: str  # HTTP path or gRPC method
    body: bytes
    headers: dict[str, str]
    grpc_compression: grpc.Compression | None = None


def case(i: int, sources: Seeds) -> Case:
    rng = random.Random(SEED * 1_000_003 + i)
    signal = rng.choices(SIGNALS, weights=(70, 15, 15))[0]
    sent_to = signal if rng.random() < 0.97 else rng.choice(SIGNALS)  # sometimes to another signal's endpoint
    roll = rng.random()
    if roll < 0.3:
        body = mutate.mutated_protobuf(rng, rng.choice(sources.protobuf[signal]))
        compression = grpc.Compression.Gzip if rng.random() < 0.3 else None
        return Case("grpc", METHODS[sent_to], body, {}, compression)
    if roll < 0.7:
        body, ctype = mutate.mutated_protobuf(rng, rng.choice(sources.protobuf[signal])), PROTOBUF
    else:
        body, ctype = mutate.mutated_json(rng, rng.choice(sources.json[signal])), JSON
    if rng.random() < 0.04:
        ctype = rng.choice([PROTOBUF if ctype == JSON else JSON, "text/plain", "application/protobuf", ""])
    headers = {"Content-Type": ctype} if ctype else {}
    body = mutate.compressed(rng, body, headers)
    return Case("http", PATHS[sent_to], body, headers)


# ---------------------------------------------------------------------------------------------
# Clients


class HTTP:
    """One keep-alive connection per thread; a request that finds the connection closed by the server is
    sent once more on a fresh one, as any HTTP client does."""

    def __init__(self, port: int):
        self.port = port
        self.local = threading.local()

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        for attempt in range(2):
            conn = getattr(self.local, "conn", None)
            fresh = conn is None
            if conn is None:
                conn = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()
                self.local.conn = None
                if fresh or attempt:
                    raise
                continue
            if response.will_close:
                conn.close()
                self.local.conn = None
            return response.status, data
        raise AssertionError("unreachable")


@dataclass
class Outcomes:
    counts: Counter[str]
    bad: list[str]
    lock: threading.Lock

    def record(self, i: int, c: Case, status: str, ok: bool, detail: bytes | str = b"") -> None:
        with self.lock:
            self.counts[f"{c.transport} {c.target} {status}"] += 1
            if not ok and len(self.bad) < 20:
                self.bad.append(f"case {i}: {c.transport} {c.target} {c.headers} -> {status}: {detail[:300]!r}")


def send(i: int, c: Case, http_client: HTTP, channel: grpc.Channel, outcomes: Outcomes) -> None:
    if c.transport == "grpc":
        try:
            channel.unary_unary(c.target)(c.body, timeout=60, compression=c.grpc_compression)
            code, detail = grpc.StatusCode.OK, ""
        except grpc.RpcError as exc:
            code, detail = exc.code(), exc.details() or ""
        outcomes.record(i, c, code.name, code in GRPC_ANSWERS, detail)
        return
    try:
        status, data = http_client.post(c.target, c.body, c.headers)
    except (OSError, http.client.HTTPException) as exc:
        outcomes.record(i, c, type(exc).__name__, False, repr(exc))
        return
    outcomes.record(i, c, str(status), status in HTTP_ANSWERS, data)


# ---------------------------------------------------------------------------------------------
# Canaries


@dataclass(frozen=True)
class Canary:
    trace_id: str
    span_id: str
    attributes: dict[str, Any]


def canary_request(rng: random.Random, n: int) -> tuple[ExportTraceServiceRequest, dict[str, Canary]]:
    trace_id = rng.randbytes(16)
    spans, expected = [], {}
    for j in range(2):
        name, span_id = f"canary-{n}-{j}", rng.randbytes(8)
        attributes = {"gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o-mini",
                      "gen_ai.usage.input_tokens": 100 + n, "gen_ai.usage.output_tokens": 20 + j, "canary.note": f"plain text {n}"}
        spans.append(Span(trace_id=trace_id, span_id=span_id, name=name, kind=3, start_time_unix_nano=time.time_ns(), end_time_unix_nano=time.time_ns() + 1000,
                          attributes=[kv(k, v) for k, v in attributes.items()]))
        expected[name] = Canary(trace_id.hex(), span_id.hex(), attributes)
    return traces_request(*spans, resource={"service.name": "canary"}), expected


def send_canaries(daemon: Daemon, stop: threading.Event, acknowledged: dict[str, Canary], refused: list[str]) -> None:
    rng = random.Random(SEED + 1)
    client = HTTP(daemon.ports["http"])
    with grpc.insecure_channel(daemon.grpc_endpoint) as channel:
        n = 0
        while not stop.wait(CANARY_INTERVAL):
            request, expected = canary_request(rng, n)
            how = n % 4
            if how == 0:
                answer = channel.unary_unary(METHODS["traces"])(request.SerializeToString(), timeout=60)
                ok = ExportTraceServiceResponse.FromString(answer).partial_success.rejected_spans == 0
            elif how == 1:
                status, data = client.post(PATHS["traces"], request.SerializeToString(), {"Content-Type": PROTOBUF})
                ok = status == 200 and ExportTraceServiceResponse.FromString(data).partial_success.rejected_spans == 0
            elif how == 2:
                status, data = client.post(PATHS["traces"], gzip.compress(request.SerializeToString()), {"Content-Type": PROTOBUF, "Content-Encoding": "gzip"})
                ok = status == 200 and ExportTraceServiceResponse.FromString(data).partial_success.rejected_spans == 0
            else:
                status, data = client.post(PATHS["traces"], otlpjson.encode("traces", request), {"Content-Type": JSON})
                ok = status == 200 and not orjson.loads(data).get("partialSuccess", {}).get("rejectedSpans")
            if ok:
                acknowledged.update(expected)
            else:
                refused.append(f"canary {n}")
            n += 1


def plain(value: dict[str, Any]) -> Any:
    """An OTLP-JSON AnyValue as the Python value it holds (intValue is a string in OTLP-JSON)."""
    kind, held = next(iter(value.items()))
    return int(held) if kind == "intValue" else held


def attributes_of(item: dict[str, Any]) -> dict[str, Any]:
    return {a.get("key", ""): plain(a["value"]) for a in item.get("attributes", []) if a.get("value")}


def written_spans(daemon: Daemon, strict: bool) -> dict[str, list[tuple[dict[str, Any], dict[str, Any]]]]:
    """Span name -> [(span, resource attributes)] of the canaries in the file; every complete line must be
    OTLP-JSON (`strict`: the last one too, after the daemon stopped)."""
    path = daemon.data / "traces.jsonl"
    raw = path.read_bytes() if path.exists() else b""
    lines = raw.split(b"\n")
    if not strict:
        lines = lines[:-1]  # possibly half-written
    out: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for line in filter(None, lines):
        for rs in orjson.loads(line).get("resourceSpans", []):
            for ss in rs.get("scopeSpans", []):
                for span in ss.get("spans", []):
                    if span.get("name", "").startswith("canary-"):
                        out.setdefault(span["name"], []).append((span, attributes_of(rs.get("resource", {}))))
    return out


# ---------------------------------------------------------------------------------------------
# The test


def test_twenty_thousand_mutated_requests_get_answers_and_lose_no_canary(daemon_factory: Callable[..., Daemon]) -> None:
    sources = seeds()
    daemon = daemon_factory(CONFIG)
    outcomes = Outcomes(Counter(), [], threading.Lock())
    acknowledged: dict[str, Canary] = {}
    refused: list[str] = []
    stop = threading.Event()
    canaries = threading.Thread(target=send_canaries, args=(daemon, stop, acknowledged, refused), daemon=True)
    http_client = HTTP(daemon.ports["http"])
    started = time.monotonic()
    canaries.start()
    with grpc.insecure_channel(daemon.grpc_endpoint) as channel, ThreadPoolExecutor(WORKERS) as pool:
        for future in [pool.submit(lambda i: send(i, case(i, sources), http_client, channel, outcomes), i) for i in range(PAYLOADS)]:
            future.result()
    stop.set()
    canaries.join(60)
    elapsed = time.monotonic() - started
    by_status = Counter()
    for key, count in outcomes.counts.items():
        transport, _, status = key.split(" ")
        by_status[f"{transport} {status}"] += count
    print(f"\n{PAYLOADS} mutated requests in {elapsed:.0f} s; {len(acknowledged)} canary spans acknowledged, {len(refused)} canary requests refused")
    for key, count in sorted(outcomes.counts.items()):
        print(f"  {key:<75} {count:>6}")

    assert not canaries.is_alive()
    assert sum(outcomes.counts.values()) == PAYLOADS
    assert not outcomes.bad, "\n".join(outcomes.bad)
    assert by_status["http 200"] + by_status["grpc OK"] > PAYLOADS // 5, by_status  # many reached the pipeline's end
    assert len(acknowledged) >= 2 * 100 and not refused, refused
    with urllib.request.urlopen(f"http://127.0.0.1:{daemon.ports['health']}/", timeout=5) as response:
        assert response.status == 200
    wait_for(lambda: set(acknowledged) <= set(written_spans(daemon, strict=False)), timeout=30, what="every acknowledged canary written")
    assert daemon.alive()
    assert daemon.stop() == 0
    written = written_spans(daemon, strict=True)
    for name, canary in acknowledged.items():
        [(span, resource)] = written[name]  # exactly once
        assert (span["traceId"], span["spanId"]) == (canary.trace_id, canary.span_id), name
        attributes = attributes_of(span)
        assert {k: attributes.get(k) for k in canary.attributes} == canary.attributes, (name, attributes)
        assert attributes.get("gen_ai.usage.cost", 0) > 0, (name, attributes)  # token_count and cost ran on it
        assert resource.get("service.name") == "canary"
    assert "Traceback" not in daemon.logs()
    assert not [r for r in daemon.log_records() if r.get("level") in ("error", "critical")]
