"""OTLP → Elasticsearch documents, mode by mode, field by field (docs/wire-formats.md, "Span documents")."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from collector.exporters import elasticsearch_mapping as m

TRACE_ID = bytes(range(1, 17))
SPAN_ID = bytes(range(1, 9))
PARENT_ID = bytes(range(9, 17))
START = 1_700_000_000_123_000_456


def put(attrs: Any, key: str, v: Any) -> None:
    kv = attrs.add()
    kv.key = key
    set_value(kv.value, v)


def set_value(target: AnyValue, v: Any) -> None:
    if isinstance(v, bool):
        target.bool_value = v
    elif isinstance(v, int):
        target.int_value = v
    elif isinstance(v, float):
        target.double_value = v
    elif isinstance(v, str):
        target.string_value = v
    elif isinstance(v, bytes):
        target.bytes_value = v
    elif isinstance(v, list):
        target.array_value.SetInParent()
        for x in v:
            set_value(target.array_value.values.add(), x)
    elif isinstance(v, dict):
        target.kvlist_value.SetInParent()
        for k, x in v.items():
            put(target.kvlist_value.values, k, x)


def traces(resource: dict[str, Any] | None = None, scope_attrs: dict[str, Any] | None = None, **span_fields: Any) -> tuple[ExportTraceServiceRequest, Any]:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.schema_url = "https://opentelemetry.io/schemas/1.26.0"
    for k, v in (resource if resource is not None else {"service.name": "shop"}).items():
        put(rs.resource.attributes, k, v)
    ss = rs.scope_spans.add()
    ss.scope.name, ss.scope.version = "checkout.lib", "2.1.0"
    for k, v in (scope_attrs or {}).items():
        put(ss.scope.attributes, k, v)
    span = ss.spans.add()
    span.trace_id, span.span_id, span.name = TRACE_ID, SPAN_ID, "charge"
    span.start_time_unix_nano, span.end_time_unix_nano = START, START + 1_500
    for k, v in span_fields.items():
        setattr(span, k, v)
    return req, span


def one(docs: list[m.Document]) -> dict[str, Any]:
    (doc,) = [d for d in docs if d.primary]
    return orjson.loads(orjson.dumps(doc.source))  # what goes on the wire


def test_otel_span_document_shape() -> None:
    req, span = traces(parent_span_id=PARENT_ID, kind=3, trace_state="vendor=x", dropped_attributes_count=2, dropped_events_count=1, dropped_links_count=4)
    put(span.attributes, "http.response.status_code", 502)
    span.status.code, span.status.message = 2, "payment failed"
    link = span.links.add()
    link.trace_id, link.span_id, link.trace_state = TRACE_ID, PARENT_ID, "a=b"
    put(link.attributes, "link.kind", "follows")
    link.dropped_attributes_count = 1
    doc = one(m.trace_documents(req))
    assert doc == {
        "@timestamp": "1700000000123.000456",
        "data_stream": {"type": "traces", "dataset": "generic.otel", "namespace": "default"},
        "trace_id": "0102030405060708090a0b0c0d0e0f10",
        "span_id": "0102030405060708",
        "trace_state": "vendor=x",
        "parent_span_id": "090a0b0c0d0e0f10",
        "name": "charge",
        "kind": "Client",
        "duration": 1500,
        "attributes": {"http.response.status_code": 502},
        "dropped_attributes_count": 2,
        "dropped_events_count": 1,
        "links": [{"trace_id": "0102030405060708090a0b0c0d0e0f10", "span_id": "090a0b0c0d0e0f10", "trace_state": "a=b", "attributes": {"link.kind": "follows"}, "dropped_attributes_count": 1}],
        "dropped_links_count": 4,
        "status": {"message": "payment failed", "code": "Error"},
        "resource": {"schema_url": "https://opentelemetry.io/schemas/1.26.0", "attributes": {"service.name": "shop"}},
        "scope": {"name": "checkout.lib", "version": "2.1.0"},
    }


def test_otel_defaults_are_left_out() -> None:
    req, _ = traces(resource={})
    doc = one(m.trace_documents(req))
    assert set(doc) == {"@timestamp", "data_stream", "trace_id", "span_id", "name", "kind", "duration", "links", "status", "resource", "scope"}
    assert doc["kind"] == "Unspecified" and doc["status"] == {"code": "Unset"} and doc["links"] == [] and doc["resource"] == {"schema_url": "https://opentelemetry.io/schemas/1.26.0"}


@pytest.mark.parametrize(("kind", "otel", "ecs"), [(0, "Unspecified", None), (1, "Internal", "INTERNAL"), (2, "Server", "SERVER"), (3, "Client", "CLIENT"), (4, "Producer", "PRODUCER"), (5, "Consumer", "CONSUMER")])
def test_span_kind_names(kind: int, otel: str, ecs: str | None) -> None:
    req, _ = traces(kind=kind)
    assert one(m.trace_documents(req))["kind"] == otel
    assert one(m.trace_documents(req, "ecs"))["span"].get("kind") == ecs


@pytest.mark.parametrize(("code", "otel", "outcome"), [(0, "Unset", "unknown"), (1, "Ok", "success"), (2, "Error", "failure")])
def test_status_code_names_and_ecs_outcome(code: int, otel: str, outcome: str) -> None:
    req, span = traces()
    span.status.code = code
    assert one(m.trace_documents(req))["status"]["code"] == otel
    assert one(m.trace_documents(req, "ecs"))["event"]["outcome"] == outcome


@pytest.mark.parametrize(
    ("value", "json"),
    [("s", "s"), (7, 7), (-(2**63), -(2**63)), (0.25, 0.25), (1.0, 1.0), (True, True), (b"\x00\xff", "00ff"), ([1, "a"], [1, "a"]), ({"k": {"n": 1}}, {"k": {"n": 1}}), ([], [])],
)
def test_attribute_value_types(value: Any, json: Any) -> None:
    req, span = traces()
    put(span.attributes, "a", value)
    got = one(m.trace_documents(req))["attributes"]["a"]
    assert got == json and type(got) is type(json)


def test_timestamp_fraction_is_zero_padded_nanoseconds() -> None:
    assert m.otel_timestamp(1_700_000_000_123_000_456) == "1700000000123.000456"
    assert m.otel_timestamp(1_700_000_000_123_456_789) == "1700000000123.456789"
    assert m.otel_timestamp(0) == "0.000000"
    assert m.rfc3339_nanos(1_700_000_000_000_000_007) == "2023-11-14T22:13:20.000000007Z"


def test_span_events_become_log_documents_in_otel_mode() -> None:
    req, span = traces()
    event = span.events.add()
    event.time_unix_nano, event.name, event.dropped_attributes_count = START + 10, "exception", 3
    put(event.attributes, "exception.message", "boom")
    anonymous = span.events.add()
    anonymous.time_unix_nano = START + 20
    docs = m.trace_documents(req)
    assert [(d.index, d.primary) for d in docs] == [("traces-generic.otel-default", True), ("logs-generic.otel-default", False), ("logs-generic.otel-default", False)]
    named, unnamed = (orjson.loads(orjson.dumps(d.source)) for d in docs[1:])
    assert named == {
        "@timestamp": "1700000000123.000466",
        "data_stream": {"type": "logs", "dataset": "generic.otel", "namespace": "default"},
        "trace_id": "0102030405060708090a0b0c0d0e0f10",
        "span_id": "0102030405060708",
        "dropped_attributes_count": 3,
        "event_name": "exception",
        "attributes": {"exception.message": "boom", "event.name": "exception"},
        "resource": {"schema_url": "https://opentelemetry.io/schemas/1.26.0", "attributes": {"service.name": "shop"}},
        "scope": {"name": "checkout.lib", "version": "2.1.0"},
    }
    assert "event_name" not in unnamed and "attributes" not in unnamed


def test_routing_attributes_choose_the_data_stream_most_specific_first() -> None:
    req, span = traces(resource={"service.name": "shop", "data_stream.dataset": "Shop-Front", "data_stream.namespace": "prod"}, scope_attrs={"data_stream.namespace": "eu:west"})
    doc_index = m.trace_documents(req)[0].index
    assert doc_index == "traces-shop_front.otel-eu_west"
    put(span.attributes, "data_stream.dataset", "payments")
    (doc,) = m.trace_documents(req)
    assert doc.index == "traces-payments.otel-eu_west"
    assert doc.source["data_stream"] == {"type": "traces", "dataset": "payments.otel", "namespace": "eu_west"}
    assert "attributes" not in doc.source  # its only attribute was the routing hint
    assert doc.source["resource"]["attributes"] == {"service.name": "shop"}
    assert m.trace_documents(req, "ecs")[0].index == "traces-payments-eu_west"


def test_configured_index_is_plain_and_has_no_data_stream_fields() -> None:
    req, span = traces()
    span.events.add().time_unix_nano = START
    docs = m.trace_documents(req, "otel", m.Routing("spans", "traces"), m.Routing("events", "logs"))
    assert [d.index for d in docs] == ["spans", "events"]
    assert all("data_stream" not in d.source for d in docs)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("hello", {"text": "hello"}),
        (42, {"text": 42}),
        ({"user": {"id": 1}}, {"structured": {"user": {"id": 1}}}),
        ([{"a": 1}, {"b": 2}], {"structured": [{"a": 1}, {"b": 2}]}),
        ([1, "x"], {"structured": {"value": [1, "x"]}}),
    ],
)
def test_otel_log_body(body: Any, expected: dict[str, Any]) -> None:
    req = ExportLogsServiceRequest()
    record = req.resource_logs.add().scope_logs.add().log_records.add()
    record.observed_time_unix_nano = START
    set_value(record.body, body)
    (doc,) = m.log_documents(req)
    assert doc.index == "logs-generic.otel-default"
    assert doc.source["body"] == expected
    assert doc.source["@timestamp"] == doc.source["observed_timestamp"] == "1700000000123.000456"  # no time: observed


def test_otel_log_record_fields() -> None:
    req = ExportLogsServiceRequest()
    record = req.resource_logs.add().scope_logs.add().log_records.add()
    record.time_unix_nano, record.observed_time_unix_nano = START, START + 5
    record.severity_text, record.severity_number = "WARN", 13
    record.trace_id, record.span_id = TRACE_ID, SPAN_ID
    put(record.attributes, "event.name", "payment.declined")
    (doc,) = m.log_documents(req)
    assert doc.source["@timestamp"] == "1700000000123.000456" and doc.source["observed_timestamp"] == "1700000000123.000461"
    assert doc.source["severity_text"] == "WARN" and doc.source["severity_number"] == 13
    assert doc.source["trace_id"] == TRACE_ID.hex() and doc.source["span_id"] == SPAN_ID.hex()
    assert doc.source["event_name"] == "payment.declined"
    assert "body" not in doc.source


@pytest.mark.parametrize(
    ("semconv", "ecs"),
    [
        ("deployment.environment", "service.environment"),
        ("service.instance.id", "service.node.name"),
        ("host.name", "host.hostname"),
        ("k8s.pod.name", "kubernetes.pod.name"),
        ("k8s.cluster.name", "orchestrator.cluster.name"),
        ("process.runtime.name", "service.runtime.name"),
        ("custom.thing", "custom.thing"),
    ],
)
def test_ecs_resource_renames(semconv: str, ecs: str) -> None:
    req, _ = traces(resource={semconv: "v"})
    doc = one(m.trace_documents(req, "ecs"))
    node: Any = doc
    for part in ecs.split("."):
        node = node[part]
    assert node == "v"
    if semconv != ecs and semconv != "host.name":
        top = semconv.split(".")[0]
        assert top not in doc or semconv.split(".")[1] not in doc[top]


def test_ecs_span_document() -> None:
    req, span = traces(
        resource={"service.name": "shop", "host.name": "web-1", "os.type": "darwin", "telemetry.sdk.name": "opentelemetry", "telemetry.sdk.language": "python", "telemetry.sdk.version": "1.45.0"},
        parent_span_id=PARENT_ID,
        kind=2,
    )
    put(span.attributes, "http.request.method", "GET")
    span.status.code = 1
    doc = one(m.trace_documents(req, "ecs"))
    assert doc == {
        "@timestamp": "2023-11-14T22:13:20.123000456Z",
        "agent": {"name": "opentelemetry/python", "version": "1.45.0"},
        "data_stream": {"type": "traces", "dataset": "generic", "namespace": "default"},
        "event": {"duration": 1500, "outcome": "success"},
        "host": {"hostname": "web-1", "name": "web-1", "os": {"platform": "darwin", "type": "macos"}},
        "http": {"request": {"method": "GET"}},
        "parent": {"id": "090a0b0c0d0e0f10"},
        "service": {"name": "shop", "framework": {"name": "checkout.lib", "version": "2.1.0"}},
        "span": {"id": "0102030405060708", "kind": "SERVER", "name": "charge"},
        "trace": {"id": "0102030405060708090a0b0c0d0e0f10"},
    }
    assert m.trace_documents(req, "ecs")[0].index == "traces-generic-default"


def test_ecs_agent_name_with_a_distro() -> None:
    req, _ = traces(resource={"telemetry.sdk.name": "opentelemetry", "telemetry.distro.name": "elastic", "telemetry.distro.version": "9.0"})
    assert one(m.trace_documents(req, "ecs"))["agent"] == {"name": "opentelemetry/unknown/elastic", "version": "9.0"}


def test_nest_moves_a_conflicting_leaf_to_value() -> None:
    assert m.nest({"a.b": 1, "a.b.c": 2, "a.d": 3, "x": 4}) == {"a": {"b": {"value": 1, "c": 2}, "d": 3}, "x": 4}
    assert m.nest({"a": 1, "a.b": 2}) == {"a": {"value": 1, "b": 2}}


def test_ecs_log_document() -> None:
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    put(rl.resource.attributes, "service.name", "shop")
    record = rl.scope_logs.add().log_records.add()
    record.time_unix_nano = START
    record.severity_text, record.severity_number = "ERROR", 17
    record.trace_id = TRACE_ID
    record.body.string_value = "card declined"
    (doc,) = m.log_documents(req, "ecs")
    assert doc.index == "logs-generic-default"
    assert doc.source["message"] == "card declined" and doc.source["log"] == {"level": "ERROR"} and doc.source["event"] == {"severity": 17}
    assert doc.source["trace"] == {"id": TRACE_ID.hex()} and doc.source["service"]["name"] == "shop"


def test_sanitize_follows_the_data_stream_name_rules() -> None:
    assert m.sanitize('My-Data/Set*?"<>| ,#:\\') == "my_data_set" + "_" * 11
    assert len(m.sanitize("x" * 300)) == 100
