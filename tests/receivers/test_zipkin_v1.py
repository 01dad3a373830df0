"""Zipkin v1 JSON to OTLP (collector/receivers/zipkin/v1.py), case by case against otelcol-contrib's
pkg/translator/zipkin/zipkinv1 (json.go, status_code.go): each test names the contrib test it follows. The
receiver serving /api/v1/spans is tests/receivers/test_zipkin_receiver.py."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from collector.receivers.zipkin.model import ZipkinError
from collector.receivers.zipkin.v1 import to_request_v1

TRACE, SPAN = "00000000000000010000000000000002", "0000000000000001"


def attrs(kvs: Any) -> dict[str, Any]:
    return {kv.key: getattr(kv.value, kv.value.WhichOneof("value")) for kv in kvs}


def v1(*spans: dict[str, Any], parse_string_tags: bool = False) -> Any:
    return to_request_v1(json.dumps(list(spans)).encode(), parse_string_tags).request


def one(span: dict[str, Any], parse_string_tags: bool = False) -> Any:
    request = v1({"traceId": TRACE, "id": SPAN, **span}, parse_string_tags=parse_string_tags)
    return request.resource_spans[0].scope_spans[0].spans[0]


@pytest.mark.parametrize(
    ("tags", "attributes", "status"),
    [
        ([("otel.status_code", "2")], {}, (Status.STATUS_CODE_ERROR, "")),
        ([("otel.status_description", "Forbidden")], {}, (Status.STATUS_CODE_UNSET, "")),
        ([("otel.status_code", "2"), ("otel.status_description", "Forbidden")], {}, (Status.STATUS_CODE_ERROR, "Forbidden")),
        ([("http.status_code", "404"), ("http.status_message", "NotFound")], {"http.status_code": 404, "http.status_message": "NotFound"},
         (Status.STATUS_CODE_ERROR, "NotFound")),
        ([("http.status_code", "404"), ("http.status_message", "NotFound"), ("otel.status_code", "2"), ("otel.status_description", "Forbidden")],
         {"http.status_code": 404, "http.status_message": "NotFound"}, (Status.STATUS_CODE_ERROR, "Forbidden")),
        ([("http.status_code", "404"), ("http.status_message", "NotFound"), ("otel.status_code", "2")],
         {"http.status_code": 404, "http.status_message": "NotFound"}, (Status.STATUS_CODE_ERROR, "")),
        ([("http.status_code", "404"), ("http.status_message", "NotFound"), ("otel.status_description", "Forbidden")],
         {"http.status_code": 404, "http.status_message": "NotFound"}, (Status.STATUS_CODE_ERROR, "NotFound")),
        ([("census.status_code", "10"), ("census.status_description", "RPCError")], {}, (Status.STATUS_CODE_ERROR, "RPCError")),
        ([("census.status_code", "10"), ("census.status_description", "RPCError"), ("http.status_code", "404"), ("http.status_message", "NotFound"),
          ("otel.status_description", "Forbidden"), ("otel.status_code", "7")], {"http.status_code": 404, "http.status_message": "NotFound"},
         (Status.STATUS_CODE_ERROR, "RPCError")),
        # status_code.go fromAttribute: `error` is always an error (taking a description); a non-numeric otel.status_code is dropped.
        ([("error", "boom"), ("otel.status_description", "why")], {}, (Status.STATUS_CODE_ERROR, "why")),
        ([("otel.status_code", "ERROR")], {}, (Status.STATUS_CODE_UNSET, "")),
        ([("census.status_code", "0")], {}, (Status.STATUS_CODE_OK, "")),
    ],
)
def test_binary_annotations_to_span_status(tags: list[tuple[str, str]], attributes: dict[str, Any], status: tuple[int, str]) -> None:
    """json_test.go TestZipkinAnnotationsToSpanStatus (with parse_string_tags, as there)."""
    span = one({"binaryAnnotations": [{"key": k, "value": v} for k, v in tags], "timestamp": 1}, parse_string_tags=True)
    assert attrs(span.attributes) == attributes
    assert (span.status.code, span.status.message) == status


@pytest.mark.parametrize("code", [99, 100, 399, 400, 404, 500, 600])
def test_http_status_code_to_status(code: int) -> None:
    """json_test.go TestJSONHTTPToStatusCode (statusCodeFromHTTP: 100-399 unset, others an error)."""
    span = one({"binaryAnnotations": [{"key": "http.status_code", "value": str(code)}]})
    assert span.status.code == (Status.STATUS_CODE_UNSET if 100 <= code < 400 else Status.STATUS_CODE_ERROR)
    assert attrs(span.attributes)["http.status_code"] == str(code)


def test_core_annotations_give_kind_times_endpoint_and_events() -> None:
    """json_test.go TestSingleJSONV1BatchToTraces (zipkin_v1_single_batch.json's shape): the first core
    annotation with a named endpoint gives kind and resource; others are events; one resource per endpoint."""
    front = {"serviceName": "front-proxy", "ipv4": "172.31.0.2"}
    service1 = {"serviceName": "service1", "ipv4": "172.31.0.4", "port": 9000}
    request = v1(
        {"traceId": "0ed2e63cbe71f5a8", "id": "0ed2e63cbe71f5a8", "name": "checkAvailability",
         "annotations": [{"timestamp": 1544805927446743, "value": "cs", "endpoint": front}, {"timestamp": 1544805927459699, "value": "cr", "endpoint": front}]},
        {"traceId": "0ed2e63cbe71f5a8", "id": "0ed2e63cbe71f5a8", "name": "checkAvailability",
         "annotations": [{"timestamp": 1544805927448081, "value": "sr", "endpoint": service1}, {"timestamp": 1544805927450000, "value": "custom time event", "endpoint": service1},
                         {"timestamp": 1544805927460102, "value": "ss", "endpoint": service1}, {"timestamp": 1, "value": ""}, None]},
        {"traceId": "0ed2e63cbe71f5a8", "id": "f9ebb6e64880612a", "parentId": "0ed2e63cbe71f5a8", "name": "checkStock",
         "annotations": [{"timestamp": 1544805927453923, "value": "mr", "endpoint": service1}, {"timestamp": 1544805927457663, "value": "ms", "endpoint": service1}]},
    )
    groups = [(attrs(rs.resource.attributes), [(s.name, s.kind, s.start_time_unix_nano, s.end_time_unix_nano, [(e.name, e.time_unix_nano) for e in s.events])
                                               for s in rs.scope_spans[0].spans]) for rs in request.resource_spans]
    assert groups == [
        ({"service.name": "front-proxy", "ipv4": "172.31.0.2"}, [("checkAvailability", Span.SPAN_KIND_CLIENT, 1544805927446743000, 1544805927459699000, [])]),
        ({"service.name": "service1", "ipv4": "172.31.0.4", "port": "9000"}, [
            ("checkAvailability", Span.SPAN_KIND_SERVER, 1544805927448081000, 1544805927460102000, [("custom time event", 1544805927450000000)]),
            ("checkStock", Span.SPAN_KIND_CONSUMER, 1544805927453923000, 1544805927457663000, []),
        ]),
    ]
    assert request.resource_spans[1].scope_spans[0].spans[1].parent_span_id.hex() == "0ed2e63cbe71f5a8"
    assert request.resource_spans[0].scope_spans[0].spans[0].trace_id.hex() == "00000000000000000ed2e63cbe71f5a8"


def test_service_name_falls_back_to_binary_annotation_endpoint_then_local_component() -> None:
    """json_test.go TestZipkinJSONFallbackToLocalComponent: `lc` becomes the `component` attribute and, with no
    endpoint anywhere, the service name."""
    request = v1(
        {"traceId": TRACE, "id": SPAN, "timestamp": 1, "binaryAnnotations": [{"key": "lc", "value": "myLocalComponent"}]},
        {"traceId": TRACE, "id": "0000000000000002", "timestamp": 1, "binaryAnnotations": [
            {"key": "lc", "value": "myLocalComponent"}, {"key": "k", "value": "v", "endpoint": {"serviceName": "myServiceName"}}]},
        {"traceId": TRACE, "id": "0000000000000003", "timestamp": 1},
    )
    assert [attrs(rs.resource.attributes)["service.name"] for rs in request.resource_spans] == ["myLocalComponent", "myServiceName", "unknown-service"]
    assert attrs(request.resource_spans[0].scope_spans[0].spans[0].attributes) == {"component": "myLocalComponent"}


def test_span_timestamp_wins_and_absent_time_is_now_and_marked() -> None:
    """json_test.go TestSpanWithTimestamp and TestSpanWithoutTimestampGetsTag."""
    span = one({"timestamp": 1667492727795000, "duration": 5, "annotations": [{"timestamp": 7, "value": "sr", "endpoint": {"serviceName": "s"}}]})
    assert (span.start_time_unix_nano, span.end_time_unix_nano, span.kind) == (1667492727795000000, 1667492727795005000, Span.SPAN_KIND_SERVER)
    before = time.time_ns()
    absent = one({})
    assert before <= absent.start_time_unix_nano == absent.end_time_unix_nano <= time.time_ns()
    assert attrs(absent.attributes) == {"otel.zipkin.absentField.startTime": True}


@pytest.mark.parametrize(
    ("span", "reason"),
    [
        ({"traceId": "", "id": SPAN}, "traceId: hex id has wrong length (expected 16 or 32)"),
        ({"traceId": "000000000000000010", "id": SPAN}, "traceId: hex id has wrong length"),
        ({"traceId": "000000000000000X0000000000000000", "id": SPAN}, "traceId: not hex"),
        ({"traceId": "00000000000000000000000000000000", "id": SPAN}, "traceId: id is zero"),
        ({"traceId": TRACE, "id": "0000"}, "id: hex id has wrong length (expected 16)"),
        ({"traceId": TRACE, "id": "000000000000000-"}, "id: not hex"),
        ({"traceId": TRACE, "id": "0000000000000000"}, "id: id is zero"),
        ({"traceId": TRACE, "id": SPAN, "parentId": "12"}, "parentId: hex id has wrong length"),
        ({"traceId": TRACE, "id": SPAN, "binaryAnnotations": [{"key": "lc", "value": True}]}, "binaryAnnotations[0].value: expected a string"),
        ({"traceId": TRACE, "id": SPAN, "timestamp": "1"}, "timestamp: expected a 64-bit integer"),
        ({"traceId": TRACE, "id": SPAN, "annotations": [{"value": "cs", "endpoint": {"port": 1 << 40}}]}, "endpoint.port: expected a 32-bit integer"),
    ],
)
def test_bad_span_fails_the_request(span: dict[str, Any], reason: str) -> None:
    """json_test.go TestHexIDToSpanID, TestHexToTraceID and TestErrorSpanToTraces: jsonBatchToTraces fails on the
    first bad span; json.Unmarshal refuses a value of another type (a boolean binary annotation included)."""
    with pytest.raises(ZipkinError) as caught:
        to_request_v1(json.dumps([{"traceId": TRACE, "id": SPAN}, span]).encode())
    assert str(caught.value).startswith("span 1") and reason in str(caught.value)


@pytest.mark.parametrize("body", [b"", b"{}", b"[1]", b"[" * 5000])
def test_malformed_body(body: bytes) -> None:
    with pytest.raises(ZipkinError):
        to_request_v1(body)
