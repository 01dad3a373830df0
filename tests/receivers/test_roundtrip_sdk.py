"""What an app sends with the stock OTel Python SDK exporters (gRPC and HTTP/protobuf), and what the
JavaScript SDK / curl post as OTLP/JSON, arrives in the daemon's files byte-for-byte faithful.

"What was sent" is captured by encoding the exact batches the SDK exporter exported with the SDK's own
OTLP encoder; "what arrived" is the file exporter's OTLP-JSON lines decoded back to protobuf."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExportResult, PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from collector import otlpjson
from collector.component import Signal

pytestmark = pytest.mark.slow

RESOURCE = Resource.create(
    {
        "service.name": "roundtrip-app",
        "service.version": "1.2.3",
        "deployment.environment": "test",
        "host.cores": 2,
        "feature.enabled": True,
        "sample.ratio": 0.25,
        "tags": ["a", "b"],
    }
)


def _recording(exporter: Any, encode: Any, sent: list[Any]) -> Any:
    """Wrap an SDK exporter so every batch it exports is also encoded with the SDK's own encoder."""
    original = exporter.export

    def export(batch: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(batch, *args, **kwargs)
        ok = getattr(result, "name", "") == "SUCCESS" or result == MetricExportResult.SUCCESS
        if ok:
            sent.append(encode(batch))
        return result

    exporter.export = export
    return exporter


def read_file(path: Path, signal: Signal) -> list[Any]:
    return [otlpjson.decode(signal, line) for line in path.read_bytes().splitlines() if line.strip()]


def flatten(signal: Signal, requests: list[Any]) -> list[tuple[bytes, ...]]:
    """(resource, scope, item) triples, deterministic bytes, so grouping differences don't matter."""
    out = []
    for req in requests:
        if signal is Signal.TRACES:
            groups = [(r.resource, r.schema_url, s.scope, s.schema_url, s.spans) for r in req.resource_spans for s in r.scope_spans]
        elif signal is Signal.LOGS:
            groups = [(r.resource, r.schema_url, s.scope, s.schema_url, s.log_records) for r in req.resource_logs for s in r.scope_logs]
        else:
            groups = [(r.resource, r.schema_url, s.scope, s.schema_url, s.metrics) for r in req.resource_metrics for s in r.scope_metrics]
        for resource, rschema, scope, sschema, items in groups:
            for item in items:
                out.append(
                    (
                        resource.SerializeToString(deterministic=True),
                        rschema.encode(),
                        scope.SerializeToString(deterministic=True),
                        sschema.encode(),
                        item.SerializeToString(deterministic=True),
                    )
                )
    return sorted(out)


def emit_traces(exporter: Any, sent: list[Any]) -> int:
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(_recording(exporter, encode_spans, sent)))
    tracer = provider.get_tracer("roundtrip.tracer", "0.9.1", schema_url="https://opentelemetry.io/schemas/1.26.0", attributes={"scope.attr": "x"})
    with tracer.start_as_current_span("invoke_agent support-bot", kind=SpanKind.SERVER) as root:
        root.set_attribute("gen_ai.operation.name", "invoke_agent")
        with tracer.start_as_current_span(
            "chat gpt-4o",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 1234,
                "gen_ai.request.temperature": 0.7,
                "gen_ai.response.finish_reasons": ["stop", "length"],
                "flags": [True, False],
                "ints": [1, -2, 2**62],
                "floats": [0.5, -1e300, 3.0],
                "unicode": "olá, 世界 🚀 \u0000\n\"quoted\"",
                "empty": "",
            },
            links=[Link(root.get_span_context(), {"link.kind": "retry", "link.n": 2})],
        ) as child:
            child.add_event("gen_ai.choice", {"index": 0, "finish_reason": "stop"}, timestamp=1_700_000_000_123_456_789)
            child.set_status(Status(StatusCode.ERROR, "rate limited"))
        for kind in (SpanKind.INTERNAL, SpanKind.PRODUCER, SpanKind.CONSUMER):
            with tracer.start_as_current_span(f"kind {kind.name}", kind=kind) as span:
                span.set_status(Status(StatusCode.OK))
        try:
            with tracer.start_as_current_span("failing tool"):
                raise ValueError("boom")
        except ValueError:
            pass
    provider.shutdown()
    return 6


def emit_logs(exporter: Any, sent: list[Any]) -> int:
    provider = LoggerProvider(resource=RESOURCE)
    provider.add_log_record_processor(SimpleLogRecordProcessor(_recording(exporter, encode_logs, sent)))
    logger = provider.get_logger("roundtrip.logger", "2.0")
    from opentelemetry._logs import SeverityNumber

    logger.emit(body="plain text body", severity_number=SeverityNumber.INFO, severity_text="INFO", attributes={"k": "v", "n": 3})
    logger.emit(
        body={"prompt": "hello", "nested": {"list": [1, "two", 3.5, True, None], "bytes": b"\x00\xffbin"}},
        severity_number=SeverityNumber.ERROR,
        severity_text="ERROR",
        attributes={"bin": b"\x01\x02", "arr": ["x", "y"]},
        event_name="gen_ai.client.inference.operation.details",
        timestamp=1_700_000_000_000_000_001,
        observed_timestamp=1_700_000_000_000_000_002,
    )
    logger.emit(body=b"raw bytes body", severity_number=SeverityNumber.WARN)
    provider.shutdown()
    return 3


def emit_metrics(exporter: Any, sent: list[Any]) -> int:
    reader = PeriodicExportingMetricReader(_recording(exporter, encode_metrics, sent), export_interval_millis=3_600_000)
    provider = MeterProvider(
        resource=RESOURCE,
        metric_readers=[reader],
        views=[View(instrument_name="latency.exp", aggregation=ExponentialBucketHistogramAggregation())],
    )
    meter = provider.get_meter("roundtrip.meter", "3.1")
    meter.create_counter("gen_ai.client.token.usage.total", unit="{token}").add(120, {"gen_ai.token.type": "input"})
    meter.create_up_down_counter("queue.depth").add(-3, {"q": "a"})
    hist = meter.create_histogram("gen_ai.client.operation.duration", unit="s")
    exp = meter.create_histogram("latency.exp", unit="ms")
    for value in (0.1, 0.5, 2.5, 9.0):
        hist.record(value, {"gen_ai.request.model": "gpt-4o"})
        exp.record(value * 100, {"route": "/chat"})
    meter.create_observable_gauge("temperature", callbacks=[lambda options: [__import__("opentelemetry.metrics").metrics.Observation(21.5, {"room": "x"})]])
    meter.create_gauge("sync.gauge").set(-7.25, {"g": "1"})
    provider.force_flush()
    provider.shutdown()
    return 7


CASES = [
    (Signal.TRACES, emit_traces, "traces.jsonl"),
    (Signal.LOGS, emit_logs, "logs.jsonl"),
    (Signal.METRICS, emit_metrics, "metrics.jsonl"),
]


def _exporter(signal: Signal, transport: str, daemon: Any) -> Any:
    if transport == "grpc":
        cls = {Signal.TRACES: GrpcSpanExporter, Signal.LOGS: GrpcLogExporter, Signal.METRICS: GrpcMetricExporter}[signal]
        return cls(endpoint=daemon.grpc_endpoint, insecure=True)
    cls = {Signal.TRACES: HttpSpanExporter, Signal.LOGS: HttpLogExporter, Signal.METRICS: HttpMetricExporter}[signal]
    return cls(endpoint=f"{daemon.http_url}/v1/{signal.value}")


@pytest.mark.parametrize("transport", ["grpc", "http"])
@pytest.mark.parametrize("signal,emit,filename", CASES, ids=[c[0].value for c in CASES])
def test_sdk_data_arrives_byte_for_byte(daemon_factory: Any, transport: str, signal: Signal, emit: Any, filename: str) -> None:
    daemon = daemon_factory()
    sent: list[Any] = []
    expected_items = emit(_exporter(signal, transport, daemon), sent)
    assert sent, "the SDK exporter reported no successful export"
    assert daemon.stop() == 0
    received = read_file(daemon.data / filename, signal)
    assert flatten(signal, received) == flatten(signal, sent)
    assert len(flatten(signal, received)) >= (expected_items if signal is not Signal.METRICS else 5)


def _post_json(daemon: Any, signal: str, payload: Any) -> tuple[int, dict[str, Any]]:
    body = json.dumps(payload).encode()
    request = urllib.request.Request(f"{daemon.http_url}/v1/{signal}", data=body, method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read() or b"{}")


# The shape the JavaScript SDK's JSON serializer produces: hex ids, integer enums, int64 as strings
# or numbers, every AnyValue kind including maps and bytes.
JS_TRACES = {
    "resourceSpans": [
        {
            "resource": {
                "attributes": [
                    {"key": "service.name", "value": {"stringValue": "web-frontend"}},
                    {"key": "process.pid", "value": {"intValue": 4242}},
                ],
                "droppedAttributesCount": 1,
            },
            "schemaUrl": "https://opentelemetry.io/schemas/1.21.0",
            "scopeSpans": [
                {
                    "scope": {"name": "@opentelemetry/instrumentation-fetch", "version": "0.45.0"},
                    "spans": [
                        {
                            "traceId": "5B8EFFF798038103D269B633813FC60C",
                            "spanId": "EEE19B7EC3C1B174",
                            "parentSpanId": "EEE19B7EC3C1B173",
                            "traceState": "vendor=value",
                            "name": "HTTP POST /api/chat",
                            "kind": 3,
                            "startTimeUnixNano": "1700000000000000000",
                            "endTimeUnixNano": 1700000000250000000,
                            "attributes": [
                                {"key": "str", "value": {"stringValue": "v"}},
                                {"key": "int", "value": {"intValue": "-9007199254740993"}},
                                {"key": "double", "value": {"doubleValue": 0.1}},
                                {"key": "bool", "value": {"boolValue": True}},
                                {"key": "bytes", "value": {"bytesValue": "AAECAw=="}},
                                {"key": "array", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": 1}]}}},
                                {
                                    "key": "map",
                                    "value": {"kvlistValue": {"values": [{"key": "inner", "value": {"kvlistValue": {"values": [{"key": "deep", "value": {"boolValue": False}}]}}}]}},
                                },
                                {"key": "empty", "value": {}},
                            ],
                            "droppedAttributesCount": 2,
                            "events": [{"timeUnixNano": "1700000000100000000", "name": "retry", "attributes": [{"key": "attempt", "value": {"intValue": 2}}], "droppedAttributesCount": 0}],
                            "links": [{"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331", "traceState": "a=b", "attributes": [], "flags": 257}],
                            "status": {"code": 2, "message": "upstream 503"},
                            "flags": 769,
                        }
                    ],
                }
            ],
        }
    ]
}


def test_otlp_json_posted_like_the_js_sdk_and_curl_arrives_intact(daemon: Any) -> None:
    status, body = _post_json(daemon, "traces", JS_TRACES)
    assert status == 200 and body == {}
    assert daemon.stop() == 0
    (received,) = read_file(daemon.data / "traces.jsonl", Signal.TRACES)
    span = received.resource_spans[0].scope_spans[0].spans[0]
    assert span.trace_id.hex() == "5b8efff798038103d269b633813fc60c"
    assert span.parent_span_id.hex() == "eee19b7ec3c1b173"
    assert span.end_time_unix_nano == 1700000000250000000
    assert span.flags == 769 and span.links[0].flags == 257
    attrs = {kv.key: kv.value for kv in span.attributes}
    assert attrs["int"].int_value == -9007199254740993
    assert attrs["bytes"].bytes_value == b"\x00\x01\x02\x03"
    assert attrs["map"].kvlist_value.values[0].value.kvlist_value.values[0].key == "deep"
    assert not attrs["empty"].WhichOneof("value")
    # The file line itself is canonical OTLP JSON: hex ids, int64 as strings, integer enums.
    line = json.loads((daemon.data / "traces.jsonl").read_bytes().splitlines()[0])
    written = line["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert written["traceId"] == "5b8efff798038103d269b633813fc60c"
    assert written["endTimeUnixNano"] == "1700000000250000000"
    assert written["kind"] == 3 and written["status"] == {"code": 2, "message": "upstream 503"}
    expected = otlpjson.decode(Signal.TRACES, json.dumps(JS_TRACES))
    assert received == expected


def test_proto_format_file_holds_the_exact_request(daemon_factory: Any) -> None:
    from tests.conftest import BASIC_CONFIG

    daemon = daemon_factory(BASIC_CONFIG.replace('traces.jsonl"}}', 'traces.bin", format: proto}}'))
    sent: list[Any] = []
    emit_traces(_exporter(Signal.TRACES, "grpc", daemon), sent)
    assert daemon.stop() == 0
    data = (daemon.data / "traces.bin").read_bytes()
    records, pos = [], 0
    while pos < len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        records.append(ExportTraceServiceRequest.FromString(data[pos + 4 : pos + 4 + size]))
        pos += 4 + size
    assert pos == len(data)
    assert flatten(Signal.TRACES, records) == flatten(Signal.TRACES, sent)
