"""Redaction covers every field of an OTLP request that can hold text, and passes on none it does not know.

- Unknown protobuf fields (a newer schema's, or a sender's own) are dropped from what the processor passes
  on, at every level (the request, resources, scopes, spans, events, links, status, log records, metrics,
  data points, exemplars, KeyValue, AnyValue, arrays, maps), also where nothing else in the request hit the
  prefilter and the received bytes would otherwise go on untouched (in process and in a worker).
- Attribute keys (top-level, inside maps, in log bodies, in metric metadata) are scanned: a key with a
  finding is renamed with the finding redacted (`#2` on a collision), or its attribute dropped.
- The free-text fields: span and link trace_state, event names, scope name and version, resource and scope
  schema URLs, log severity_text and event_name, metric name, description and unit, entity references,
  and bytes values.

The daemon tests write `format: proto` and OTLP-JSON files and read their raw bytes.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.metrics.v1 import metrics_pb2 as m
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from collector.component import Signal
from collector.processors.redaction import build_redactor
from collector.wire.encode import varint
from tests.conftest import Daemon, daemon_yaml
from tests.processors.test_redaction import METHODS, as_dict, attrs, plain, read_json, read_proto
from tests.processors.test_redaction_unit import config

SSN = "123-45-6789"
CARD = "4111 1111 1111 1111"


def leak(where: str) -> str:
    """A distinct address per place, so a leak names the place it came from."""
    return f"at.{where}@leak.example.com"


# Every place a test below hides PII, by the address it uses there.
UNKNOWN_PLACES = [
    "request", "resource_spans", "resource", "scope_spans", "scope", "span", "event", "link", "status", "key_value",
    "any_value", "array_value", "kvlist_value", "entity_ref", "group", "resource_logs", "scope_logs", "log_record",
    "body", "resource_metrics", "scope_metrics", "metric", "gauge", "sum", "histogram", "exponential_histogram",
    "summary", "number_point", "histogram_point", "exponential_point", "buckets", "summary_point", "quantile",
    "exemplar",
]
FIELD_PLACES = [
    "trace_state", "event_name", "link_trace_state", "scope_name", "scope_version", "resource_schema_url",
    "scope_schema_url", "severity_text", "log_event_name", "metric_name", "metric_description", "metric_unit",
    "entity_type", "entity_schema_url", "entity_id_key", "entity_description_key", "bytes_value",
    "log_scope_name", "log_scope_version", "log_resource_schema_url", "log_scope_schema_url",
    "metric_scope_name", "metric_scope_version", "metric_resource_schema_url", "metric_scope_schema_url",
]
KEY_PLACES = ["resource_key", "scope_key", "span_key", "event_key", "link_key", "nested_key", "array_key", "log_key",
              "body_key", "point_key", "exemplar_key", "metadata_key", "collide.one", "collide.two"]
RAW = [SSN, CARD, *(leak(p) for p in UNKNOWN_PLACES + FIELD_PLACES + KEY_PLACES)]


# ------------------------------------------------------------------------------------------------ builders

def unknown(number: int, text: str, wire_type: int = 2) -> bytes:
    """An unknown field: length-delimited text, or a group (wire types 3/4) holding one such field."""
    if wire_type == 3:
        return varint(number << 3 | 3) + unknown(1, text) + varint(number << 3 | 4)
    data = text.encode()
    return varint(number << 3 | 2) + varint(len(data)) + data


def with_unknown(message: Any, where: str, number: int = 50, wire_type: int = 2) -> Any:
    """`message` parsed back with an unknown field holding `leak(where)` appended, as a sender on a newer
    schema would send it; the parsed message keeps it and writes it again when serialized."""
    return type(message).FromString(message.SerializeToString() + unknown(number, leak(where), wire_type))


def any_value_unknown() -> AnyValue:
    return with_unknown(AnyValue(string_value="plain"), "any_value", 20)


def kv_unknown() -> KeyValue:
    return with_unknown(KeyValue(key="kv", value=AnyValue(string_value="plain")), "key_value", 9)


def unknown_traces() -> ExportTraceServiceRequest:
    """Unknown fields everywhere and no PII in any known field: the prefilter hits only inside them."""
    span = Span(
        trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="unknowns",
        attributes=[
            KeyValue(key="case", value=AnyValue(string_value="unknowns")), kv_unknown(),
            KeyValue(key="any", value=any_value_unknown()),
            KeyValue(key="list", value=AnyValue(array_value=with_unknown(ArrayValue(values=[AnyValue(string_value="x")]), "array_value"))),
            KeyValue(key="map", value=AnyValue(kvlist_value=with_unknown(KeyValueList(values=attrs({"a": "b"})), "kvlist_value"))),
        ],
        events=[with_unknown(Span.Event(name="e", attributes=attrs({"k": "v"})), "event")],
        links=[with_unknown(Span.Link(trace_id=b"\x03" * 16, span_id=b"\x04" * 8), "link")],
        status=with_unknown(Status(code=Status.STATUS_CODE_OK), "status"),
    )
    span = with_unknown(span, "span")
    span = type(span).FromString(span.SerializeToString() + unknown(51, leak("group"), 3))
    resource = with_unknown(Resource(attributes=attrs({"service.name": "svc"}),
                                     entity_refs=[with_unknown(EntityRef(type="service"), "entity_ref")]), "resource")
    scope_spans = with_unknown(ScopeSpans(scope=with_unknown(InstrumentationScope(name="lib"), "scope"), spans=[span]), "scope_spans")
    resource_spans = with_unknown(ResourceSpans(resource=resource, scope_spans=[scope_spans]), "resource_spans")
    return with_unknown(ExportTraceServiceRequest(resource_spans=[resource_spans]), "request")


def unknown_logs() -> ExportLogsServiceRequest:
    record = LogRecord(body=with_unknown(AnyValue(string_value="body text"), "body", 20), attributes=[kv_unknown()])
    scope_logs = with_unknown(ScopeLogs(log_records=[with_unknown(record, "log_record")]), "scope_logs")
    return ExportLogsServiceRequest(resource_logs=[with_unknown(ResourceLogs(scope_logs=[scope_logs]), "resource_logs")])


def unknown_metrics() -> ExportMetricsServiceRequest:
    exemplar = with_unknown(m.Exemplar(as_double=1.0, time_unix_nano=1), "exemplar")
    number = with_unknown(m.NumberDataPoint(as_int=1, attributes=attrs({"route": "/"}), exemplars=[exemplar]), "number_point")
    histogram = with_unknown(m.HistogramDataPoint(count=1, bucket_counts=[1], explicit_bounds=[]), "histogram_point")
    buckets = with_unknown(m.ExponentialHistogramDataPoint.Buckets(offset=1, bucket_counts=[1]), "buckets")
    exponential = with_unknown(m.ExponentialHistogramDataPoint(count=1, positive=buckets), "exponential_point")
    quantile = with_unknown(m.SummaryDataPoint.ValueAtQuantile(quantile=0.5, value=1.0), "quantile")
    summary = with_unknown(m.SummaryDataPoint(count=1, quantile_values=[quantile]), "summary_point")
    metrics = [
        with_unknown(m.Metric(name="g", gauge=with_unknown(m.Gauge(data_points=[number]), "gauge")), "metric"),
        m.Metric(name="s", sum=with_unknown(m.Sum(data_points=[number], aggregation_temporality=2), "sum")),
        m.Metric(name="h", histogram=with_unknown(m.Histogram(data_points=[histogram], aggregation_temporality=2), "histogram")),
        m.Metric(name="e", exponential_histogram=with_unknown(m.ExponentialHistogram(data_points=[exponential], aggregation_temporality=2), "exponential_histogram")),
        m.Metric(name="q", summary=with_unknown(m.Summary(data_points=[summary]), "summary")),
    ]
    scope_metrics = with_unknown(m.ScopeMetrics(metrics=metrics), "scope_metrics")
    return ExportMetricsServiceRequest(resource_metrics=[with_unknown(m.ResourceMetrics(scope_metrics=[scope_metrics]), "resource_metrics")])


def text(where: str) -> str:
    return f"owner {leak(where)}"


def field_traces() -> ExportTraceServiceRequest:
    span = Span(
        trace_id=b"\x05" * 16, span_id=b"\x06" * 8, name="fields", trace_state=f"rojo=00f067aa0ba902b7,mail={leak('trace_state')}",
        attributes=[*attrs({"case": "fields", "dropped " + SSN: "gone", f"collide {leak('collide.one')}": 1,
                            f"collide {leak('collide.two')}": 2, f"span {leak('span_key')}": f"card {CARD}",
                            "nested": {f"in {leak('nested_key')}": "v"}, "array": [{f"in {leak('array_key')}": "v"}]}),
                    KeyValue(key="blob", value=AnyValue(bytes_value=b"\x00\xff mail " + leak("bytes_value").encode() + b" \x80"))],
        events=[Span.Event(name=text("event_name"), attributes=attrs({f"e {leak('event_key')}": "v"}))],
        links=[Span.Link(trace_id=b"\x07" * 16, span_id=b"\x08" * 8, trace_state=f"mail={leak('link_trace_state')}",
                         attributes=attrs({f"l {leak('link_key')}": "v"}))],
    )
    resource = Resource(attributes=attrs({"service.name": "svc", f"r {leak('resource_key')}": "v"}), entity_refs=[EntityRef(
        type=text("entity_type"), schema_url=f"https://example.com/{leak('entity_schema_url')}",
        id_keys=[f"id {leak('entity_id_key')}"], description_keys=[f"d {leak('entity_description_key')}"])])
    scope = InstrumentationScope(name=text("scope_name"), version=text("scope_version"), attributes=attrs({f"s {leak('scope_key')}": "v"}))
    return ExportTraceServiceRequest(resource_spans=[ResourceSpans(
        resource=resource, schema_url=f"https://example.com/{leak('resource_schema_url')}",
        scope_spans=[ScopeSpans(scope=scope, schema_url=f"https://example.com/{leak('scope_schema_url')}", spans=[span])])])


def field_logs() -> ExportLogsServiceRequest:
    record = LogRecord(severity_text=text("severity_text"), event_name=text("log_event_name"),
                       attributes=attrs({"case": "fields", f"k {leak('log_key')}": "v"}),
                       body=AnyValue(kvlist_value=KeyValueList(values=attrs({f"b {leak('body_key')}": "v", "msg": "ok"}))))
    scope = InstrumentationScope(name=text("log_scope_name"), version=text("log_scope_version"))
    return ExportLogsServiceRequest(resource_logs=[ResourceLogs(
        schema_url=f"https://example.com/{leak('log_resource_schema_url')}",
        scope_logs=[ScopeLogs(scope=scope, schema_url=f"https://example.com/{leak('log_scope_schema_url')}", log_records=[record])])])


def field_metrics() -> ExportMetricsServiceRequest:
    exemplar = m.Exemplar(as_double=1.0, time_unix_nano=1, filtered_attributes=attrs({f"x {leak('exemplar_key')}": "v"}))
    point = m.NumberDataPoint(as_int=1, attributes=attrs({f"p {leak('point_key')}": "v"}), exemplars=[exemplar])
    metric = m.Metric(name=f"requests.{leak('metric_name')}", description=text("metric_description"), unit=text("metric_unit"),
                      metadata=attrs({f"md {leak('metadata_key')}": "v"}), gauge=m.Gauge(data_points=[point]))
    scope = InstrumentationScope(name=text("metric_scope_name"), version=text("metric_scope_version"))
    return ExportMetricsServiceRequest(resource_metrics=[m.ResourceMetrics(
        schema_url=f"https://example.com/{leak('metric_resource_schema_url')}",
        scope_metrics=[m.ScopeMetrics(scope=scope, schema_url=f"https://example.com/{leak('metric_scope_schema_url')}", metrics=[metric])])])


REQUESTS = {
    Signal.TRACES: [unknown_traces, field_traces],
    Signal.LOGS: [unknown_logs, field_logs],
    Signal.METRICS: [unknown_metrics, field_metrics],
}


def test_the_builders_hide_what_the_tests_look_for() -> None:
    """Each place is in the serialized requests (so a test that finds it nowhere in the output means it was
    dropped or redacted), and the unknown fields survive a parse, as they do in the daemon."""
    wire = b"".join(build().SerializeToString() for builders in REQUESTS.values() for build in builders)
    for raw in RAW:
        assert raw.encode() in wire, raw
    reparsed = ExportTraceServiceRequest.FromString(unknown_traces().SerializeToString())
    assert leak("span").encode() in reparsed.SerializeToString()


def has_unknown_fields(message: Any) -> bool:
    bare = type(message)()
    bare.CopyFrom(message)
    bare.DiscardUnknownFields()
    return bare.SerializeToString() != message.SerializeToString()


def assert_clean(raw: bytes) -> None:
    for secret in RAW:
        assert secret.encode() not in raw, f"{secret!r} leaked"


def strings(message: Any) -> list[str]:
    """Every string value of every known field, recursively (to check none holds raw PII)."""
    out: list[str] = []
    for field, value in message.ListFields():
        items = list(value) if field.is_repeated else [value]
        for item in items:
            if field.message_type is not None:
                out.extend(strings(item))
            elif isinstance(item, str):
                out.append(item)
            elif isinstance(item, bytes):
                out.append(item.decode("latin-1"))
    return out


# ------------------------------------------------------------------------------------- the engine alone

@pytest.fixture(scope="module")
def redactor() -> Any:
    cfg, errors = config({"summary": "debug", "detectors": {"us_ssn": {"action": "drop_attribute"}}})
    assert not errors and cfg is not None
    return build_redactor(cfg)[0]


WALKS = {Signal.TRACES: "traces", Signal.LOGS: "logs", Signal.METRICS: "metrics"}


@pytest.mark.parametrize("received", [True, False], ids=["received_bytes", "serialized"])
@pytest.mark.parametrize("signal", list(REQUESTS))
def test_the_engine_leaves_no_unknown_field_and_no_raw_text(redactor: Any, signal: Signal, received: bool) -> None:
    for build in REQUESTS[signal]:
        request = build()
        payload = request.SerializeToString()
        getattr(redactor, WALKS[signal])(request, payload if received else None)
        assert not has_unknown_fields(request), build.__name__
        assert_clean(request.SerializeToString())
        for s in strings(request):
            assert "@leak.example.com" not in s, s


def test_a_request_without_a_prefilter_hit_still_loses_its_unknown_fields(redactor: Any) -> None:
    request = with_unknown(ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[
        with_unknown(Span(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="clean"), "span")])])]), "request")
    # Text no detector takes: the prefilter has no hit, the gate's no-hit path is what runs.
    payload = request.SerializeToString().replace(b"@leak.example.com", b" leak.example.com")
    clean = ExportTraceServiceRequest.FromString(payload)
    assert redactor._wire_hits(payload) == ([], [])
    redactor.traces(clean, payload)
    assert not has_unknown_fields(clean)
    assert b"leak.example.com" not in clean.SerializeToString()


def test_full_walk_configs_drop_unknown_fields_too() -> None:
    cfg, errors = config({"allowed_keys": ["case"], "allow_all_keys": True})
    assert not errors and cfg is not None
    redactor = build_redactor(cfg)[0]
    for received in (True, False):
        request = unknown_traces()
        redactor.traces(request, request.SerializeToString() if received else None)
        assert not has_unknown_fields(request)
        assert_clean(request.SerializeToString())


def _one_span(values: dict[str, Any]) -> ExportTraceServiceRequest:
    span = Span(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="s", attributes=attrs(values))
    return ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[span])])])


def _redacted(redactor: Any, request: Any, payload: bytes | None = None) -> dict[str, Any]:
    redactor.traces(request, payload)
    return as_dict(request.resource_spans[0].scope_spans[0].spans[0].attributes)


@pytest.mark.parametrize("layout", ["canonical", "reordered"])
def test_a_key_is_found_in_any_layout_and_at_any_length(redactor: Any, layout: str) -> None:
    from tests.processors.test_redaction_received import reordered

    long_key = "k" * 200 + " " + leak("long")  # a two-byte length before the key's bytes
    request = _one_span({"case": "x", f"mail {leak('short')}": "v", long_key: "w", "clean": leak("value")})
    payload = reordered(request) if layout == "reordered" else request.SerializeToString()
    parsed = ExportTraceServiceRequest.FromString(payload)
    a = _redacted(redactor, parsed, payload)
    assert a["mail <EMAIL>"] == "v" and a["k" * 200 + " <EMAIL>"] == "w" and a["clean"] == "<EMAIL>"


def test_a_key_takes_its_detectors_action() -> None:
    cfg, errors = config({"summary": "debug", "hash_key": "k" * 32, "detectors": {"email": {"action": "hash"}, "us_ssn": {"action": "drop_attribute"}}})
    assert not errors and cfg is not None
    redactor = build_redactor(cfg)[0]
    a = _redacted(redactor, _one_span({f"to {leak('hash')}": "v", "ssn": f"ssn {SSN}"}))
    (hashed,) = [k for k in a if k.startswith("to ")]
    assert hashed.startswith("to <EMAIL:") and "@" not in hashed
    assert "ssn" not in a and a["redaction.redacted.keys"] == "ssn"
    assert a["redaction.masked.keys"] == hashed
    again = _redacted(redactor, _one_span({f"to {leak('hash')}": "other"}))
    assert hashed in again  # the same key gets the same token


def test_a_key_in_a_log_body_whose_detector_drops_takes_the_body() -> None:
    cfg, errors = config({"summary": "debug", "detectors": {"us_ssn": {"action": "drop_attribute"}}})
    assert not errors and cfg is not None
    redactor = build_redactor(cfg)[0]
    record = LogRecord(attributes=attrs({"case": "body"}), body=AnyValue(kvlist_value=KeyValueList(values=attrs({"user": {f"id {SSN}": "x"}}))))
    request = ExportLogsServiceRequest(resource_logs=[ResourceLogs(scope_logs=[ScopeLogs(log_records=[record])])])
    redactor.logs(request)
    out = request.resource_logs[0].scope_logs[0].log_records[0]
    assert not out.HasField("body")
    assert as_dict(out.attributes)["redaction.body.redacted.keys"] == "user.id <US_SSN>"


def test_a_key_whose_scan_fails_becomes_the_mask() -> None:
    from collector.processors.redaction import walk

    def scan_many(texts: Any, marked: bool = False) -> Any:
        raise RuntimeError("scanner down")

    def scan_one(text: str) -> list[Any]:
        if "@" in text:
            raise RuntimeError("scanner down")
        return []

    failures: list[str] = []
    redactor = walk.Redactor(scan_many, scan_one, {}, summary="debug", on_error=lambda where, exc: failures.append(where))
    a = _redacted(redactor, _one_span({f"to {leak('fail')}": "v", "other": "fine"}))
    assert a["****"] == "v" and a["other"] == "fine"
    assert failures == ["an attribute key"]  # the log names no key that may hold PII
    assert a["redaction.masked.keys"] == "****"


# Fields no walk scans, each named in docs/redaction.md with the reason: identifiers of a fixed length.
NOT_SCANNED = {
    "opentelemetry.proto.trace.v1.Span": {"trace_id", "span_id", "parent_span_id"},
    "opentelemetry.proto.trace.v1.Span.Link": {"trace_id", "span_id"},
    "opentelemetry.proto.logs.v1.LogRecord": {"trace_id", "span_id"},
    "opentelemetry.proto.metrics.v1.Exemplar": {"trace_id", "span_id"},
}


def text_field_paths(descriptor: Any, seen: tuple[str, ...] = ()) -> list[list[Any]]:
    """Every path from a request to a string or bytes field (a list of field descriptors), through each
    message type at most once per path (so AnyValue is not nested in itself)."""
    from google.protobuf.descriptor import FieldDescriptor

    out: list[list[Any]] = []
    for field in descriptor.fields:
        if field.type in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES):
            out.append([field])
        elif field.message_type is not None and field.message_type.full_name not in seen:
            for rest in text_field_paths(field.message_type, (*seen, descriptor.full_name)):
                out.append([field, *rest])
    return out


def with_text_at(request_type: Any, path: list[Any], text: str) -> Any:
    request = request_type()
    message = request
    for field in path[:-1]:
        message = getattr(message, field.name).add() if field.is_repeated else getattr(message, field.name)
    last = path[-1]
    value: Any = text.encode() if last.type == last.TYPE_BYTES else text
    if last.is_repeated:
        getattr(message, last.name).append(value)
    else:
        setattr(message, last.name, value)
    return request


@pytest.mark.parametrize("walk_all", [False, True], ids=["gated", "every_item"])
@pytest.mark.parametrize("signal", list(REQUESTS))
def test_every_text_field_of_the_schema_is_scanned_or_documented(signal: Signal, walk_all: bool) -> None:
    """Built from the descriptors, so a field a newer opentelemetry-proto adds fails here until it is walked
    or named in docs/redaction.md."""
    from collector.pdata import REQUEST_TYPES

    settings: dict[str, Any] = {"redact_span_names": True}
    if walk_all:
        settings["ignored_keys"] = ["not.a.key.anyone.sends"]  # a key rule: every item is walked
    cfg, errors = config(settings)
    assert not errors and cfg is not None
    redactor = build_redactor(cfg)[0]
    docs = (Path(__file__).resolve().parents[2] / "docs" / "redaction.md").read_text()
    request_type = REQUEST_TYPES[signal]
    paths = text_field_paths(request_type.DESCRIPTOR)
    assert len(paths) > 20
    for path in paths:
        last = path[-1]
        where = ".".join(f.name for f in path)
        if last.name in NOT_SCANNED.get(last.containing_type.full_name, ()):
            assert f"`{last.containing_type.name}.{last.name}`" in docs, f"{where} is neither scanned nor documented"
            continue
        secret = leak(where.replace(".", "-"))
        request = with_text_at(request_type, path, f"x {secret} y")
        getattr(redactor, WALKS[signal])(request, request.SerializeToString())
        assert secret.encode() not in request.SerializeToString(), where


# ------------------------------------------------------------------------------------------- the daemon

CONFIG = daemon_yaml("""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
      http: {{endpoint: "127.0.0.1:{http}"}}
processors:
  redaction:
    allow_all_keys: true
    summary: debug
    workers: WORKERS
    detectors:
      us_ssn: {{action: drop_attribute}}
      card: {{action: partial}}
exporters:
  file/traces: {{path: "{data}/traces.jsonl"}}
  file/traces_proto: {{path: "{data}/traces.pb", format: proto}}
  file/logs: {{path: "{data}/logs.jsonl"}}
  file/logs_proto: {{path: "{data}/logs.pb", format: proto}}
  file/metrics: {{path: "{data}/metrics.jsonl"}}
  file/metrics_proto: {{path: "{data}/metrics.pb", format: proto}}
""", """
traces: {{receivers: [otlp], processors: [redaction], exporters: [file/traces, file/traces_proto]}}
logs: {{receivers: [otlp], processors: [redaction], exporters: [file/logs, file/logs_proto]}}
metrics: {{receivers: [otlp], processors: [redaction], exporters: [file/metrics, file/metrics_proto]}}
""")
PATHS = {Signal.TRACES: "/v1/traces", Signal.LOGS: "/v1/logs", Signal.METRICS: "/v1/metrics"}
FILES = {Signal.TRACES: "traces", Signal.LOGS: "logs", Signal.METRICS: "metrics"}


@pytest.fixture(scope="module", params=["in_process_grpc", "worker_http"])
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One daemon per mode: redaction on the event loop fed over gRPC (the received bytes are lent to it),
    and in a worker process fed over HTTP protobuf (the worker answers "unchanged" when it changed nothing)."""
    mode = request.param
    root = tmp_path_factory.mktemp(mode)
    daemon = Daemon(root, CONFIG.replace("WORKERS", "1" if mode == "worker_http" else "0")).start()
    for signal, builders in REQUESTS.items():
        for build in builders:
            body = build().SerializeToString()
            if mode == "worker_http":
                post = urllib.request.Request(daemon.http_url + PATHS[signal], data=body, headers={"Content-Type": "application/x-protobuf"})
                with urllib.request.urlopen(post, timeout=30) as response:
                    assert response.status == 200
            else:
                with grpc.insecure_channel(daemon.grpc_endpoint) as channel:
                    channel.unary_unary(METHODS[signal])(body, timeout=30)
    assert daemon.stop() == 0, daemon.logs()
    return daemon.data


@pytest.mark.slow
@pytest.mark.parametrize("signal", list(REQUESTS))
def test_no_file_holds_a_raw_value_or_an_unknown_field(run: Path, signal: Signal) -> None:
    for suffix in (".jsonl", ".pb"):
        raw = (run / (FILES[signal] + suffix)).read_bytes()
        assert raw
        assert_clean(raw)
    requests = read_proto(run / (FILES[signal] + ".pb"), signal)
    assert len(requests) == 2
    for exported in requests:
        assert not has_unknown_fields(exported)


def _span(requests: list[Any]) -> tuple[Any, Any, Any]:
    for request in requests:
        for rs in request.resource_spans:
            for ss in rs.scope_spans:
                for span in ss.spans:
                    if span.name == "fields":
                        return rs, ss, span
    raise AssertionError("no span named fields")


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["jsonl", "pb"])
def test_span_fields_and_keys(run: Path, fmt: str) -> None:
    path = run / f"traces.{fmt}"
    rs, ss, span = _span(read_json(path, Signal.TRACES) if fmt == "jsonl" else read_proto(path, Signal.TRACES))
    assert span.trace_state == "rojo=00f067aa0ba902b7,mail=<EMAIL>"
    assert span.events[0].name == "owner <EMAIL>"
    assert span.links[0].trace_state == "mail=<EMAIL>"
    assert (ss.scope.name, ss.scope.version) == ("owner <EMAIL>", "owner <EMAIL>")
    assert rs.schema_url == ss.schema_url == "https://example.com/<EMAIL>"
    ref = rs.resource.entity_refs[0]
    assert (ref.type, ref.schema_url, list(ref.id_keys), list(ref.description_keys)) == (
        "owner <EMAIL>", "https://example.com/<EMAIL>", ["id <EMAIL>"], ["d <EMAIL>"])
    a = as_dict(span.attributes)
    # A key with a finding is renamed, its value redacted as ever; a key whose detector drops drops the
    # attribute; two keys that become one get #2.
    assert a["span <EMAIL>"] == "card **** **** **** 1111"
    assert not any(key.startswith("dropped") for key in a)
    assert {a["collide <EMAIL>"], a["collide <EMAIL>#2"]} == {1, 2}
    assert a["nested"] == {"in <EMAIL>": "v"} and a["array"] == [{"in <EMAIL>": "v"}]
    assert a["blob"] == b"\x00\xff mail <EMAIL> \x80"
    assert as_dict(span.events[0].attributes)["e <EMAIL>"] == "v"
    assert as_dict(span.links[0].attributes)["l <EMAIL>"] == "v"
    assert as_dict(rs.resource.attributes)["r <EMAIL>"] == "v"
    assert as_dict(ss.scope.attributes)["s <EMAIL>"] == "v"
    # The debug summary names the keys as they now are, never as they came.
    masked = a["redaction.masked.keys"].split(",")
    assert {"span <EMAIL>", "collide <EMAIL>", "collide <EMAIL>#2", "nested", "array", "blob", "span.trace_state"} <= set(masked)
    assert a["redaction.redacted.keys"] == "dropped <US_SSN>"
    assert {"event.name", "e <EMAIL>"} <= set(as_dict(span.events[0].attributes)["redaction.masked.keys"].split(","))
    assert "link.trace_state" in as_dict(span.links[0].attributes)["redaction.masked.keys"].split(",")
    scope_masked = as_dict(ss.scope.attributes)["redaction.masked.keys"].split(",")
    assert {"scope.name", "scope.version", "scope.schema_url", "s <EMAIL>"} <= set(scope_masked)
    resource_masked = as_dict(rs.resource.attributes)["redaction.masked.keys"].split(",")
    assert {"resource.schema_url", "resource.entity_refs", "r <EMAIL>"} <= set(resource_masked)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["jsonl", "pb"])
def test_log_fields_and_keys(run: Path, fmt: str) -> None:
    path = run / f"logs.{fmt}"
    requests = read_json(path, Signal.LOGS) if fmt == "jsonl" else read_proto(path, Signal.LOGS)
    (rl,) = [rl for r in requests for rl in r.resource_logs if rl.schema_url]
    sl = rl.scope_logs[0]
    record = sl.log_records[0]
    assert (record.severity_text, record.event_name) == ("owner <EMAIL>", "owner <EMAIL>")
    assert (sl.scope.name, sl.scope.version) == ("owner <EMAIL>", "owner <EMAIL>")
    assert rl.schema_url == sl.schema_url == "https://example.com/<EMAIL>"
    a = as_dict(record.attributes)
    assert a["k <EMAIL>"] == "v"
    assert plain(record.body) == {"b <EMAIL>": "v", "msg": "ok"}
    assert {"log.severity_text", "log.event_name", "k <EMAIL>"} <= set(a["redaction.masked.keys"].split(","))
    assert a["redaction.body.masked.keys"] == "b <EMAIL>"


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["jsonl", "pb"])
def test_metric_fields_and_keys(run: Path, fmt: str) -> None:
    path = run / f"metrics.{fmt}"
    requests = read_json(path, Signal.METRICS) if fmt == "jsonl" else read_proto(path, Signal.METRICS)
    (rm,) = [rm for r in requests for rm in r.resource_metrics if rm.schema_url]
    sm = rm.scope_metrics[0]
    metric = sm.metrics[0]
    # The address takes the name's dots as its own: the whole name goes (and with it the metric's identity).
    assert (metric.name, metric.description, metric.unit) == ("<EMAIL>", "owner <EMAIL>", "owner <EMAIL>")
    assert (sm.scope.name, sm.scope.version) == ("owner <EMAIL>", "owner <EMAIL>")
    assert rm.schema_url == sm.schema_url == "https://example.com/<EMAIL>"
    metadata = as_dict(metric.metadata)
    assert metadata["md <EMAIL>"] == "v"
    assert {"metric.name", "metric.description", "metric.unit", "md <EMAIL>"} <= set(metadata["redaction.masked.keys"].split(","))
    point = metric.gauge.data_points[0]
    assert as_dict(point.attributes)["p <EMAIL>"] == "v"
    assert as_dict(point.exemplars[0].filtered_attributes)["x <EMAIL>"] == "v"
