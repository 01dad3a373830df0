"""The zipkin receiver's decoding (collector/receivers/zipkin/model.py) and translation to OTLP
(translate.py), case by case against otelcol-contrib: each test names the contrib (or zipkin-go) file and
function whose behaviour it follows. The receiver over HTTP is tests/receivers/test_zipkin_receiver.py."""

from __future__ import annotations

import json
from typing import Any

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from collector.receivers.zipkin.model import Endpoint, ZipkinError, ZipkinSpan, spans_from_json, spans_from_proto
from collector.receivers.zipkin.proto import zipkin_pb2
from collector.receivers.zipkin.translate import to_request

TRACE = bytes([0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE, 0xFF, 0x80])
SPAN = bytes([0xAF, 0xAE, 0xAD, 0xAC, 0xAB, 0xAA, 0xA9, 0xA8])
START = 1596911098294000000  # time.Unix(1596911098, 294000000), contrib's to_translator_test.go


def attrs(kvs: Any) -> dict[str, Any]:
    out = {}
    for kv in kvs:
        kind = kv.value.WhichOneof("value")
        out[kv.key] = getattr(kv.value, kind) if kind else None
    return out


def zspan(**fields: Any) -> ZipkinSpan:
    base: dict[str, Any] = {"trace_id": TRACE, "id": int.from_bytes(SPAN, "big"), "name": "min.data", "timestamp_ns": START, "duration_ns": 1_000_000}
    return ZipkinSpan(**{**base, **fields})


def only_span(spans: list[ZipkinSpan | None], parse_string_tags: bool = False) -> Any:
    request = to_request(spans, parse_string_tags).request
    assert len(request.resource_spans) == 1 and len(request.resource_spans[0].scope_spans) == 1
    (span,) = request.resource_spans[0].scope_spans[0].spans
    return span


def json_span(**fields: Any) -> bytes:
    return json.dumps([{"traceId": TRACE.hex(), "id": SPAN.hex(), "timestamp": START // 1000, **fields}]).encode()


# --- to_translator_test.go: TestZipkinSpansToInternalTraces ---------------------------------------------------


def test_minimal_span_has_no_resource_or_scope_attributes() -> None:
    """TestZipkinSpansToInternalTraces "minimalSpan" (generateSpanNoEndpoints)."""
    translation = to_request([zspan(name="MinimalData", kind="CLIENT")])
    rs = translation.request.resource_spans[0]
    assert len(rs.resource.attributes) == 0 and rs.scope_spans[0].scope.name == ""
    span = rs.scope_spans[0].spans[0]
    assert (span.trace_id, span.span_id, span.name, span.kind) == (TRACE, SPAN, "MinimalData", Span.SPAN_KIND_CLIENT)
    assert (span.start_time_unix_nano, span.end_time_unix_nano) == (START, START + 1_000_000)
    assert len(span.attributes) == 0 and span.status.code == Status.STATUS_CODE_UNSET and span.parent_span_id == b""
    assert (translation.spans, translation.invalid) == (1, 0)


def test_local_endpoint_service_name_is_the_resource() -> None:
    """TestZipkinSpansToInternalTraces "onlyLocalEndpointSpan" (generateSpanNoTags)."""
    request = to_request([zspan(local_endpoint=Endpoint(service_name="SoleAttr"))]).request
    assert attrs(request.resource_spans[0].resource.attributes) == {"service.name": "SoleAttr"}


@pytest.mark.parametrize(
    ("tags", "code", "message", "left"),
    [
        # TestZipkinSpansToInternalTraces "errorTag", TestConvertSpansToTraceSpans_JSONWithSimpleError (sample3.json)
        ({"error": "true"}, Status.STATUS_CODE_ERROR, "", {}),
        # TestConvertSpansToTraceSpans_JSONWithErrorMessage (sample4.json): any error tag is an error, its text stays
        ({"error": "Non-basic error message"}, Status.STATUS_CODE_ERROR, "", {"error": "Non-basic error message"}),
        # TestZipkinSpansToInternalTraces "span ok status" / "span unset status" / "span error status" (issue 14965's names)
        ({"otel.status_code": "Ok"}, Status.STATUS_CODE_OK, "", {}),
        ({"otel.status_code": "Unset"}, Status.STATUS_CODE_UNSET, "", {}),
        ({"otel.status_code": "Error"}, Status.STATUS_CODE_ERROR, "", {}),
        # populateSpanStatus: the proto names, the description only with a code, an unknown name is unset
        ({"otel.status_code": "STATUS_CODE_ERROR", "otel.status_description": "boom"}, Status.STATUS_CODE_ERROR, "boom", {}),
        ({"otel.status_description": "alone"}, Status.STATUS_CODE_UNSET, "", {"otel.status_description": "alone"}),
        ({"otel.status_code": "ERROR"}, Status.STATUS_CODE_UNSET, "", {}),
    ],
)
def test_status_from_tags(tags: dict[str, str], code: int, message: str, left: dict[str, str]) -> None:
    span = only_span([zspan(tags=tags)])
    assert (span.status.code, span.status.message) == (code, message)
    assert attrs(span.attributes) == left


def test_span_without_timestamp_starts_at_the_epoch_and_is_marked() -> None:
    """to_translator_test.go TestV2SpanWithoutTimestampGetsTag; trace_receiver_test.go TestFromBytesWithNoTimestamp."""
    span = only_span([zspan(timestamp_ns=None, duration_ns=2948533333000)])
    assert (span.start_time_unix_nano, span.end_time_unix_nano) == (0, 2948533333000)
    assert attrs(span.attributes) == {"otel.zipkin.absentField.startTime": True}
    (decoded,) = spans_from_json(json_span(timestamp=0, duration=5))
    assert decoded is not None and decoded.timestamp_ns is None
    # zipkin_proto3.ParseSpans: a protobuf span without timestamp is at the epoch, not absent: no mark.
    body = zipkin_pb2.ListOfSpans(spans=[zipkin_pb2.Span(trace_id=TRACE, id=SPAN, duration=5)]).SerializeToString()
    (from_proto,) = spans_from_proto(body)
    assert from_proto is not None
    assert attrs(only_span([from_proto]).attributes) == {}


def test_parse_string_tags_and_endpoints() -> None:
    """trace_receiver_test.go TestReceiverConvertsStringsToTypes (zipkin_v2_single.json's tags and endpoints):
    numbers and booleans parsed, the local IPv6 printed as Go does (7::0.128.128.127 -> 7::80:807f)."""
    body = json_span(
        localEndpoint={"serviceName": "frontend", "ipv6": "7::0.128.128.127"},
        remoteEndpoint={"serviceName": "backend", "ipv4": "192.168.99.101", "port": 9000},
        tags={"cache_hit": "true", "ping_count": "25", "timeout": "12.3", "clnt/finagle.version": "6.45.0", "http.path": "/api", "http.status_code": "500"},
    )
    span = only_span(spans_from_json(body), parse_string_tags=True)
    assert attrs(span.attributes) == {
        "cache_hit": True, "ping_count": 25, "timeout": 12.3, "clnt/finagle.version": "6.45.0", "http.path": "/api",
        "http.status_code": 500, "net.host.ip": "7::80:807f", "peer.service": "backend", "net.peer.ip": "192.168.99.101",
        "net.peer.port": 9000,
    }
    plain = attrs(only_span(spans_from_json(body)).attributes)
    assert (plain["cache_hit"], plain["ping_count"], plain["timeout"], plain["http.status_code"]) == ("true", "25", "12.3", "500")


@pytest.mark.parametrize(
    ("value", "parsed"),
    [("", ""), ("-12", -12), ("99999999999999999999", (1 << 63) - 1), ("1.50", 1.5), ("1.", "1."), (".5", ".5"), ("1e3", "1e3"),
     ("True", "True"), ("false", False), ("12\n", "12\n"), ("١٢", "١٢"), ('{"a":1}', '{"a":1}'), ("[1]", "[1]")],
)
def test_parse_string_tags_follows_determine_value_type(value: str, parsed: Any) -> None:
    """internal/zipkin/attributes.go DetermineValueType with to_translator.go tagsToAttributeMap: Go's regexps
    (ASCII digits, `$` at the very end), ParseInt saturating; map- and array-looking values stay strings."""
    span = only_span([zspan(tags={"t": value})], parse_string_tags=True)
    assert attrs(span.attributes)["t"] == parsed


def test_spans_group_into_resources_by_service_and_scopes_by_library() -> None:
    """to_translator.go ToTraces (sort by service then library), populateResourceFromZipkinSpan and
    populateILFromZipkinSpan: the first span of a group gives its resource and scope; resource tags never
    become span attributes."""
    spans: list[ZipkinSpan | None] = [
        zspan(id=1, local_endpoint=Endpoint("b-svc"), tags={"otel.library.name": "lib2", "otel.library.version": "2", "host.name": "h1", "k": "1"}),
        None,
        zspan(id=2, local_endpoint=Endpoint("a-svc"), tags={"k": "2"}),
        zspan(id=3, local_endpoint=Endpoint("b-svc"), tags={"otel.library.name": "lib1", "host.name": "h2", "otlp.service.name.source": "faas.name"}),
        zspan(id=4, local_endpoint=Endpoint("b-svc"), tags={"otel.library.name": "lib2", "otel.library.version": "2"}),
        zspan(id=5, tags={"service.name": "dropped", "k": "5"}),
    ]
    translation = to_request(spans)
    groups = [
        (attrs(rs.resource.attributes), [((ss.scope.name, ss.scope.version), [(int.from_bytes(s.span_id, "big"), attrs(s.attributes)) for s in ss.spans])
                                         for ss in rs.scope_spans])
        for rs in translation.request.resource_spans
    ]
    assert groups == [
        ({}, [(("", ""), [(5, {"k": "5"})])]),  # "OTLPResourceNoServiceName" sorts first; its resource tags are dropped
        ({"service.name": "a-svc"}, [(("", ""), [(2, {"k": "2"})])]),
        # b-svc's first span (library lib1) gives the resource: otlp.service.name.source names the key, host.name moves over
        ({"faas.name": "b-svc", "host.name": "h2"}, [(("lib1", ""), [(3, {})]), (("lib2", "2"), [(1, {"k": "1"}), (4, {})])]),
    ]
    assert translation.spans == 5


def test_kind_trace_state_and_parent() -> None:
    """to_translator.go zipkinKindToSpanKind (span.kind tag only for an unkinded span), zSpanToInternal
    (w3c.tracestate, a parent equal to the span itself is no parent)."""
    assert only_span([zspan(kind="PRODUCER", tags={"span.kind": "internal"})]).kind == Span.SPAN_KIND_PRODUCER
    assert attrs(only_span([zspan(kind="PRODUCER", tags={"span.kind": "internal"})]).attributes) == {"span.kind": "internal"}
    internal = only_span([zspan(tags={"span.kind": "internal", "w3c.tracestate": "k=v"}, parent_id=7)])
    assert (internal.kind, internal.trace_state, internal.parent_span_id, attrs(internal.attributes)) == (Span.SPAN_KIND_INTERNAL, "k=v", (7).to_bytes(8, "big"), {})
    assert only_span([zspan(kind="client")]).kind == Span.SPAN_KIND_UNSPECIFIED  # zipkin-go's kinds are upper case
    assert only_span([zspan(parent_id=int.from_bytes(SPAN, "big"))]).parent_span_id == b""


def test_annotations_become_events() -> None:
    """to_translator.go populateSpanEvents and jsonMapToAttributeMap: `name|{attrs}|dropped`, whole numbers as
    ints, nested values dropped; a plain value is the name."""
    span = only_span([zspan(annotations=[(5000, "ws"), (6000, 'retry|{"n": 2, "r": 0.5, "s": "x", "b": true, "o": {}, "l": [1], "z": null}|4'),
                                         (7000, "a|b"), (8000, 'p|{"x": "a|b"}|0')])])
    events = [(e.name, e.time_unix_nano, attrs(e.attributes), e.dropped_attributes_count) for e in span.events]
    assert events == [("ws", 5000, {}, 0), ("retry", 6000, {"n": 2, "r": 0.5, "s": "x", "b": True}, 4), ("a", 7000, {}, 0), ("p", 8000, {"x": "a|b"}, 0)]


@pytest.mark.parametrize("value", ["e|not json|1", "e|[1]|1", "e|{}|-1", "e|{}|4294967296", "e|{}|", 'e|{"n": 1e400}|0'])
def test_annotation_that_does_not_parse_fails_the_request(value: str) -> None:
    """to_translator.go populateSpanEvents returns json.Unmarshal's and ParseUint's errors: ToTraces fails."""
    with pytest.raises(ZipkinError) as caught:
        to_request([zspan(annotations=[(1, value)])])
    assert "not json" not in str(caught.value) and "1e400" not in str(caught.value)


def test_link_tags() -> None:
    """to_translator.go zTagsToSpanLinks: otlp.link.0.. up to the first gap, fewer than 5 parts skipped."""
    other_trace, other_span = "0102030405060708090a0b0c0d0e0f10", "1112131415161718"
    span = only_span([zspan(tags={
        "otlp.link.0": f'{other_trace}|{other_span}|k=v|{{"a": "b"}}|2',
        "otlp.link.1": "too|few",
        "otlp.link.2": f'"{other_trace}"|||{{}}|0',
        "otlp.link.4": "after a gap",
    })])
    links = [(lk.trace_id.hex(), lk.span_id.hex(), lk.trace_state, attrs(lk.attributes), lk.dropped_attributes_count) for lk in span.links]
    assert links == [(other_trace, other_span, "k=v", {"a": "b"}, 2), (other_trace, "", "", {}, 0)]
    assert attrs(span.attributes) == {"otlp.link.4": "after a gap"}
    for bad in ("0102|x|||0", f"{other_trace}|zz{other_span[2:]}||{{}}|0", f"{other_trace}|{other_span}|||0", f"{other_trace}|{other_span}||{{}}|x"):
        with pytest.raises(ZipkinError):  # unmarshalJSON's length and hex checks, json.Unmarshal of "", ParseUint
            to_request([zspan(tags={"otlp.link.0": bad})])


def test_spans_with_zero_ids_are_left_out_alone() -> None:
    """otelcol passes a JSON span without traceId (all-zero trace id) and a protobuf span with a zero id on;
    they are invalid OTLP, so here they are left out and counted while the others go through."""
    body = json.dumps([{"id": "1", "name": "no trace"}, {"traceId": TRACE.hex(), "id": "2", "name": "fine"}]).encode()
    translation = to_request(spans_from_json(body))
    assert (translation.spans, translation.invalid) == (1, 1)
    zero = zipkin_pb2.ListOfSpans(spans=[zipkin_pb2.Span(trace_id=TRACE, id=bytes(8)), zipkin_pb2.Span(trace_id=TRACE, id=SPAN)])
    assert to_request(spans_from_proto(zero.SerializeToString())).invalid == 1


# --- zipkin-go's decoding (model/span.go, span_id.go, traceid.go; proto/zipkin_proto3/decode_proto.go) -------


def test_json_ids_and_times() -> None:
    """zipkin-go model: TraceIDFromHex (up to 32 digits, high half first), ID.UnmarshalJSON (hex up to 64 bits),
    timestamps and durations in microseconds; Go's encoding/json matches keys ignoring case."""
    body = json.dumps([{"TRACEID": "a", "Id": "0000000000000b", "parentId": "", "timestamp": 1472470996199000, "duration": 207000,
                        "annotations": [{"timestamp": 1472470996238000, "value": "ws"}], "unknown": [1]}]).encode()
    (span,) = spans_from_json(body)
    assert span is not None
    assert (span.trace_id, span.id, span.parent_id) == (bytes(15) + b"\x0a", 11, 0)
    assert (span.timestamp_ns, span.duration_ns, span.annotations) == (1472470996199000000, 207000000, [(1472470996238000000, "ws")])
    (full,) = spans_from_json(json_span())
    assert full is not None and full.trace_id == TRACE


@pytest.mark.parametrize(
    ("span", "reason"),
    [
        ({"traceId": "00000000000000000000000000000000x", "id": "1"}, "traceId: not a hex number"),
        ({"traceId": "", "id": "1"}, "traceId: valid traceId required"),
        ({"traceId": None, "id": "1"}, "traceId: expected a hex string"),
        ({"traceId": "1"}, "valid span id required"),
        ({"traceId": "1", "id": "0000"}, "valid span id required"),
        ({"traceId": "1", "id": "1ffffffffffffffff"}, "id: more than 64 bits"),
        ({"traceId": "1", "id": 12}, "id: expected a hex string, got a number"),
        ({"traceId": "1", "id": "0x12"}, "id: not a hex number"),
        ({"traceId": "1", "id": "1", "parentId": "g"}, "parentId: not a hex number"),
        ({"traceId": "1", "id": "1", "timestamp": -1}, "timestamp: expected an unsigned integer"),
        ({"traceId": "1", "id": "1", "timestamp": 1.5}, "timestamp: expected an unsigned integer"),
        ({"traceId": "1", "id": "1", "duration": "5"}, "duration: expected an unsigned integer"),
        ({"traceId": "1", "id": "1", "name": 5}, "name: expected a string"),
        ({"traceId": "1", "id": "1", "shared": "yes"}, "shared: expected true or false"),
        ({"traceId": "1", "id": "1", "tags": {"a": 1}}, "tags (a value): expected a string"),
        ({"traceId": "1", "id": "1", "tags": ["a"]}, "tags: expected an object of strings"),
        ({"traceId": "1", "id": "1", "localEndpoint": {"ipv4": "10.0.0.300"}}, "localEndpoint.ipv4: invalid IP address"),
        ({"traceId": "1", "id": "1", "localEndpoint": {"ipv6": "fe80::1%eth0"}}, "localEndpoint.ipv6: invalid IP address"),
        ({"traceId": "1", "id": "1", "remoteEndpoint": {"port": 70000}}, "remoteEndpoint.port: expected an unsigned integer below 65536"),
        ({"traceId": "1", "id": "1", "annotations": [None]}, "annotations[0]: expected an object"),
        ({"traceId": "1", "id": "1", "annotations": [{"timestamp": 1 << 63}]}, "annotations[0].timestamp"),
    ],
)
def test_json_span_that_zipkin_go_refuses_fails_the_request(span: dict[str, Any], reason: str) -> None:
    """zipkin-go's SpanModel.UnmarshalJSON fails json.Unmarshal for the whole body (jsonUnmarshaler.UnmarshalTraces):
    one bad span fails the request in otelcol, so here too; the reason never quotes the value."""
    good = {"traceId": "1", "id": "2"}
    with pytest.raises(ZipkinError) as caught:
        spans_from_json(json.dumps([good, span]).encode())
    assert str(caught.value).startswith("span 1") and reason in str(caught.value)


@pytest.mark.parametrize("body", [b"", b"{", b"[1]", b'{"traceId": "1"}', b"[NaN]", b"[" * 100_000, b"[] []", b"\xef\xbb\xbf[]", b'["\x01"]'])
def test_malformed_json_body(body: bytes) -> None:
    with pytest.raises(ZipkinError):
        spans_from_json(body)


def test_json_null_body_and_null_spans_are_nothing() -> None:
    """to_translator.go ToTraces skips nil spans; json.Unmarshal of null leaves the slice empty."""
    assert spans_from_json(b"null") == []
    assert to_request(spans_from_json(b"[null, null]")).spans == 0


def test_json_strings_are_repaired_as_go_does() -> None:
    """Go's decoder writes U+FFFD for invalid UTF-8 and for a lone surrogate escape."""
    (span,) = spans_from_json(b'[{"traceId": "1", "id": "1", "name": "a\\ud800b\xffc", "tags": {"k": "\\ud83d\\ude00"}}]')
    assert span is not None and span.name == "a\ufffdb\ufffdc" and span.tags == {"k": "\U0001f600"}
    only_span([span]).SerializeToString()


def test_protobuf_spans() -> None:
    """zipkin_proto3.ParseSpans / protoSpanToModelSpan: 16-byte trace ids, 8-byte ids, the kind enum's name,
    endpoints' IPs as Go's net.IP prints them, port as uint16."""
    message = zipkin_pb2.ListOfSpans(spans=[zipkin_pb2.Span(
        trace_id=TRACE, id=SPAN, parent_id=(9).to_bytes(8, "big"), kind=zipkin_pb2.Span.SERVER, name="get", timestamp=1472470996199000, duration=207000,
        local_endpoint=zipkin_pb2.Endpoint(service_name="backend", ipv4=bytes([10, 0, 0, 1]), port=70000),
        remote_endpoint=zipkin_pb2.Endpoint(ipv6=bytes(10) + b"\xff\xff" + bytes([192, 168, 0, 9]), port=-1),
        annotations=[zipkin_pb2.Annotation(timestamp=1472470996238000, value="ws")], tags={"http.path": "/api"},
    )])
    (span,) = spans_from_proto(message.SerializeToString())
    assert span is not None
    assert (span.kind, span.parent_id, span.timestamp_ns, span.duration_ns) == ("SERVER", 9, 1472470996199000000, 207000000)
    assert span.local_endpoint == Endpoint("backend", "10.0.0.1", None, 70000 & 0xFFFF)
    assert span.remote_endpoint == Endpoint("", None, "192.168.0.9", 65535)
    out = only_span([span])
    assert attrs(out.attributes) == {"http.path": "/api", "net.host.ip": "10.0.0.1", "net.host.port": 4464, "net.peer.ip": "192.168.0.9", "net.peer.port": 65535}
    odd = zipkin_pb2.ListOfSpans(spans=[zipkin_pb2.Span(trace_id=TRACE, id=SPAN, kind=7, local_endpoint=zipkin_pb2.Endpoint(ipv4=b"\x01\x02\x03"))])
    (strange,) = spans_from_proto(odd.SerializeToString())
    assert strange is not None and strange.kind == "7" and strange.local_endpoint is not None and strange.local_endpoint.ipv4 == "?010203"


@pytest.mark.parametrize(
    ("span", "reason"),
    [
        (zipkin_pb2.Span(trace_id=SPAN, id=SPAN), "invalid TraceID: has length 8 yet wanted length 16"),
        (zipkin_pb2.Span(trace_id=TRACE), "expected a non-nil SpanID"),
        (zipkin_pb2.Span(trace_id=TRACE, id=b"\x01"), "invalid SpanID: has length 1"),
        (zipkin_pb2.Span(trace_id=TRACE, id=SPAN, parent_id=TRACE), "invalid ParentID: has length 16"),
    ],
)
def test_protobuf_span_that_zipkin_go_refuses_fails_the_request(span: Any, reason: str) -> None:
    """zipkin_proto3.ParseSpans returns protoSpanToModelSpan's error: the request fails."""
    body = zipkin_pb2.ListOfSpans(spans=[zipkin_pb2.Span(trace_id=TRACE, id=SPAN), span]).SerializeToString()
    with pytest.raises(ZipkinError, match="^span 1: " + reason):
        spans_from_proto(body)


@pytest.mark.parametrize("body", [b"\x0a\x05\x0a", b"\xff\xff", b"\x0a\x02\x5a\x01"])
def test_malformed_protobuf_body(body: bytes) -> None:
    with pytest.raises(ZipkinError, match="^malformed protobuf ListOfSpans"):
        spans_from_proto(body)
