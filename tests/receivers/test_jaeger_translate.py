"""The jaeger receiver's Jaeger -> OTLP translation (collector/receivers/jaeger/translate.py) as table tests of
otelcol-contrib's pkg/translator/jaeger: each case names the contrib function (jaegerproto_to_traces.go,
jaegerthrift_to_traces.go) or test (jaegerproto_to_traces_test.go, jaegerthrift_to_traces_test.go,
sampled_flag_test.go) whose behaviour it checks."""

from __future__ import annotations

from typing import Any

import pytest

from collector.jaeger_proto import api_v2_pb2 as pb
from collector.receivers.jaeger import thrift as th
from collector.receivers.jaeger.translate import Attrs, from_proto, from_thrift

TRACE = bytes.fromhex("f1f2f3f4f5f6f7f8f9fafbfcfdfeff80")
SPAN = bytes.fromhex("afaeadacabaaa9a8")
CHILD = bytes.fromhex("1f1e1d1c1b1a1918")
HIGH, LOW = int.from_bytes(TRACE[:8], "big", signed=True), int.from_bytes(TRACE[8:], "big", signed=True)
SPAN_I, CHILD_I = int.from_bytes(SPAN, "big", signed=True), int.from_bytes(CHILD, "big", signed=True)


def _pv(key: str, value: Any) -> pb.KeyValue:
    if isinstance(value, bool):
        return pb.KeyValue(key=key, v_type=pb.BOOL, v_bool=value)
    if isinstance(value, int):
        return pb.KeyValue(key=key, v_type=pb.INT64, v_int64=value)
    if isinstance(value, float):
        return pb.KeyValue(key=key, v_type=pb.FLOAT64, v_float64=value)
    if isinstance(value, bytes):
        return pb.KeyValue(key=key, v_type=pb.BINARY, v_binary=value)
    return pb.KeyValue(key=key, v_type=pb.STRING, v_str=value)


def _tv(key: str, value: Any) -> th.Tag:
    kind = th.TAG_BOOL if isinstance(value, bool) else th.TAG_LONG if isinstance(value, int) else th.TAG_DOUBLE if isinstance(value, float) \
        else th.TAG_BINARY if isinstance(value, bytes) else th.TAG_STRING
    return th.Tag(key, kind, value)


def proto_span(tags: dict[str, Any] | None = None, **kw: Any) -> pb.Span:
    span = pb.Span(trace_id=TRACE, span_id=SPAN, operation_name="operationA", **kw)
    span.start_time.FromNanoseconds(1_581_452_772_000_000_321)
    span.duration.FromNanoseconds(1_000_000)
    span.tags.extend(_pv(k, v) for k, v in (tags or {}).items())
    return span


def thrift_span(tags: dict[str, Any] | None = None, **kw: Any) -> th.Span:
    base: dict[str, Any] = dict(trace_id_high=HIGH, trace_id_low=LOW, span_id=SPAN_I, operation_name="operationA", start_time=1_581_452_772_000_000, duration=1000)
    base.update(kw)
    return th.Span(tags=[_tv(k, v) for k, v in tags.items()] if tags is not None else None, **base)


def _attrs(kvs: Any) -> list[tuple[str, Any]]:
    out = []
    for kv in kvs:
        which = kv.value.WhichOneof("value")
        out.append((kv.key, getattr(kv.value, which) if which else None))
    return out


def one_proto(span: pb.Span, process: pb.Process | None = None) -> Any:
    batch = pb.Batch(spans=[span], process=process or pb.Process(service_name="svc"))
    request, refused = from_proto(batch)
    assert refused == 0
    return request.resource_spans[0].scope_spans[0].spans[0]


def one_thrift(span: th.Span) -> Any:
    request, refused = from_thrift(th.Batch(th.Process("svc", None), [span]))
    assert refused == 0
    return request.resource_spans[0].scope_spans[0].spans[0]


BOTH = pytest.mark.parametrize("model", ["proto", "thrift"])


def one(model: str, tags: dict[str, Any], **kw: Any) -> Any:
    return one_proto(proto_span(tags, **kw)) if model == "proto" else one_thrift(thrift_span(tags, **kw))


# ------------------------------------------------------------------------------------------------ tags

@BOTH
def test_tag_types_become_attribute_types(model: str) -> None:
    # TestJTagsToInternalAttributes / TestJThriftTagsToInternalAttributes: string, bool, int, double, and binary
    # as bytes (jTagsToInternalAttributes: PutEmptyBytes(...).FromRaw).
    span = one(model, {"bool-val": True, "int-val": 123, "string-val": "abc", "double-val": 1.23, "binary-val": b"\x00\x00\x00\x00\x00\x64\x7d\x98"})
    assert _attrs(span.attributes) == [("bool-val", True), ("int-val", 123), ("string-val", "abc"), ("double-val", 1.23),
                                       ("binary-val", b"\x00\x00\x00\x00\x00\x64\x7d\x98")]


def test_unknown_tag_types_are_named_as_go_formats_them() -> None:
    # jTagsToInternalAttributes' default case: fmt.Sprintf("<Unknown Jaeger TagType %q>", tag.GetVType()): gogo's
    # String() of an unknown enum value is its number; Thrift's generated String() is "<UNSET>".
    proto = proto_span()
    proto.tags.add(key="odd", v_type=7)
    assert _attrs(one_proto(proto).attributes) == [("odd", '<Unknown Jaeger TagType "7">')]
    span = thrift_span({})
    span.tags = [th.Tag("odd", 9, None)]
    assert _attrs(one_thrift(span).attributes) == [("odd", '<Unknown Jaeger TagType "<UNSET>">')]


def test_attribute_maps_change_as_pcommon_map_does() -> None:
    # pcommon.Map: Put on an existing key overwrites in place; Remove moves the last entry into the removed slot.
    a = Attrs()
    for key in "abcd":
        a.put(key, ("s", key))
    a.put("b", ("i", 2))
    a.remove("a")
    assert [(k, v) for k, v in a.items] == [("d", ("s", "d")), ("b", ("i", 2)), ("c", ("s", "c"))]
    a.remove("c")
    a.remove("missing")
    assert [k for k, _ in a.items] == ["d", "b"]


# ------------------------------------------------------------------------------------------------ resource

@BOTH
def test_process_becomes_the_resource(model: str) -> None:
    # jProcessToInternalResource / jThriftProcessToInternalResource, translateHostnameAttr, translateJaegerVersionAttr.
    tags = {"hostname": "h1", "jaeger.version": "Go-2.30.0", "ip": "10.0.0.1"}
    if model == "proto":
        request, _ = from_proto(pb.Batch(process=pb.Process(service_name="svc", tags=[_pv(k, v) for k, v in tags.items()]), spans=[proto_span()]))
    else:
        request, _ = from_thrift(th.Batch(th.Process("svc", [_tv(k, v) for k, v in tags.items()]), [thrift_span()]))
    # host.name is appended, then Remove("hostname") moves it into hostname's slot; likewise the exporter version.
    assert _attrs(request.resource_spans[0].resource.attributes) == [
        ("service.name", "svc"), ("host.name", "h1"), ("opencensus.exporterversion", "Jaeger-Go-2.30.0"), ("ip", "10.0.0.1")]


def test_existing_host_name_and_exporter_version_win() -> None:
    tags = {"hostname": "h1", "host.name": "real", "jaeger.version": "x", "opencensus.exporterversion": "y"}
    request, _ = from_thrift(th.Batch(th.Process("", [_tv(k, v) for k, v in tags.items()]), [thrift_span()]))
    assert _attrs(request.resource_spans[0].resource.attributes) == [(k, v) for k, v in tags.items()]  # no service.name: it was empty


def test_the_no_service_name_placeholder_gives_an_empty_resource() -> None:
    # jProcessToInternalResource: process.ServiceName == tracetranslator.ResourceNoServiceName -> no attributes
    # (proto only: the Thrift path has no such check).
    request, _ = from_proto(pb.Batch(process=pb.Process(service_name="OTLPResourceNoServiceName", tags=[_pv("a", "b")]), spans=[proto_span()]))
    assert not request.resource_spans[0].resource.attributes
    request, _ = from_thrift(th.Batch(th.Process("OTLPResourceNoServiceName", None), [thrift_span()]))
    assert _attrs(request.resource_spans[0].resource.attributes) == [("service.name", "OTLPResourceNoServiceName")]


def test_proto_batches_are_regrouped_by_the_spans_own_process() -> None:
    # regroup/batchForProcess: a span's own Process takes precedence; spans of equal processes share a resource.
    other = pb.Process(service_name="other")
    spans = [proto_span(), proto_span(process=other), proto_span(), proto_span(process=pb.Process(service_name="other"))]
    request, _ = from_proto(pb.Batch(process=pb.Process(service_name="svc"), spans=spans))
    assert [(_attrs(rs.resource.attributes), sum(len(ss.spans) for ss in rs.scope_spans)) for rs in request.resource_spans] == [
        ([("service.name", "svc")], 2), ([("service.name", "other")], 2)]


def test_thrift_batch_without_spans_is_a_resource_alone() -> None:
    # TestThriftBatchToInternalTraces "no-spans": the resource without scope spans; "empty" batches give nothing.
    request, _ = from_thrift(th.Batch(th.Process("", [_tv("resource-attr", "resource-attr-val-1")]), []))
    assert len(request.resource_spans) == 1 and not request.resource_spans[0].scope_spans
    assert _attrs(request.resource_spans[0].resource.attributes) == [("resource-attr", "resource-attr-val-1")]
    request, _ = from_proto(pb.Batch())
    assert not request.resource_spans


# ------------------------------------------------------------------------------------------------ span fields

def test_ids_names_and_times() -> None:
    # jSpanToInternal / jThriftSpanToInternal: ids big-endian from high/low, times in ns (Thrift: microseconds * 1000).
    p = one_proto(proto_span())
    assert (p.trace_id, p.span_id, p.name, p.start_time_unix_nano, p.end_time_unix_nano) == (TRACE, SPAN, "operationA", 1_581_452_772_000_000_321, 1_581_452_772_001_000_321)
    t = one_thrift(thrift_span())
    assert (t.trace_id, t.span_id, t.name, t.start_time_unix_nano, t.end_time_unix_nano) == (TRACE, SPAN, "operationA", 1_581_452_772_000_000_000, 1_581_452_772_001_000_000)


@BOTH
@pytest.mark.parametrize(("kind", "expected"), [("client", 3), ("server", 2), ("producer", 4), ("consumer", 5), ("internal", 1), ("CLIENT", 0), ("other", 0)])
def test_span_kind_comes_from_the_span_kind_tag(model: str, kind: str, expected: int) -> None:
    # jSpanKindToInternal: exact lower-case names; anything else is unspecified. The tag is removed.
    span = one(model, {"span.kind": kind, "x": 1})
    assert span.kind == expected and _attrs(span.attributes) == [("x", 1)]


@BOTH
def test_sampled_flag_becomes_the_w3c_sampled_bit(model: str) -> None:
    # TestProtoSampledFlagToOTLP / TestThriftSampledFlagToOTLP.
    assert one(model, {}, flags=1).flags & 1 == 1
    assert one(model, {}, flags=2).flags & 1 == 0


STATUS_CASES = [
    # (tags, kind, expected code, expected message, attributes left) -- setInternalSpanStatus
    ({"error": True, "otel.status_description": "boom"}, None, 2, "boom", []),
    ({"error": True, "http.status_message": "Bad Gateway"}, None, 2, "Bad Gateway", [("http.status_message", "Bad Gateway")]),
    ({"error": "true"}, None, None, "", [("error", "true")]),  # only a bool error tag counts
    ({"error": False}, None, None, "", [("error", False)]),
    ({"otel.status_code": "ERROR", "otel.status_description": "status-cancelled"}, None, 2, "status-cancelled", []),  # generateThriftSpan
    ({"otel.status_code": "ok", "otel.status_description": "status-ok"}, None, 1, "status-ok", []),  # ToUpper: "ok" is OK
    ({"otel.status_code": "weird"}, None, 0, "", []),  # present but neither: code stays unset, message set
    ({"otel.status_code": 2}, None, 0, "", []),  # Str() of an int is ""
    ({"error": True, "otel.status_code": "OK"}, None, 2, "", []),  # the error tag is the ultimate truth
    ({"error": False, "otel.status_code": "OK"}, None, 1, "", [("error", False)]),
    ({"http.status_code": 404}, "server", None, "", [("http.status_code", 404)]),  # generateThriftChildSpan: 4xx on a server
    ({"http.status_code": 404}, "client", 2, "", [("http.status_code", 404)]),
    ({"http.status_code": 404}, None, 2, "", [("http.status_code", 404)]),
    ({"http.status_code": "503", "http.status_message": "down"}, None, 2, "down", [("http.status_code", "503"), ("http.status_message", "down")]),
    ({"http.status_code": 399}, None, 2, "", [("http.status_code", 399)]),  # StatusCodeFromHTTP: 100 <= code < 399 is unset
    ({"http.status_code": 200, "http.status_message": "OK"}, None, None, "", [("http.status_code", 200), ("http.status_message", "OK")]),
    ({"http.status_code": " 500"}, None, None, "", [("http.status_code", " 500")]),  # ParseInt refuses spaces
    ({"http.status_code": 500.0}, None, None, "", [("http.status_code", 500.0)]),  # codeFromAttr: not int or string
]


@BOTH
@pytest.mark.parametrize(("tags", "kind", "code", "message", "left"), STATUS_CASES)
def test_status_from_tags(model: str, tags: dict[str, Any], kind: str | None, code: int | None, message: str, left: list[Any]) -> None:
    all_tags = dict(tags)
    if kind is not None:
        all_tags["span.kind"] = kind
    span = one(model, all_tags)
    if code is None:
        assert not span.HasField("status")
    else:
        assert (span.status.code, span.status.message) == (code, message)
    assert sorted(_attrs(span.attributes), key=str) == sorted(left, key=str)


def test_tracestate_and_scope_come_from_tags_in_proto_only() -> None:
    # getTraceStateFromAttrs and getScope (jaegerproto_to_traces.go); the Thrift translator reads neither.
    tags = {"otel.scope.name": "lib", "otel.scope.version": "1.2", "w3c.tracestate": "a=b", "k": "v"}
    request, _ = from_proto(pb.Batch(process=pb.Process(service_name="svc"), spans=[proto_span(tags), proto_span()]))
    scopes = request.resource_spans[0].scope_spans
    assert [(s.scope.name, s.scope.version, len(s.spans)) for s in scopes] == [("lib", "1.2", 1), ("", "", 1)]
    assert scopes[0].spans[0].trace_state == "a=b" and _attrs(scopes[0].spans[0].attributes) == [("k", "v")]
    t = one_thrift(thrift_span(tags))
    assert t.trace_state == "" and [k for k, _ in _attrs(t.attributes)] == list(tags)


def test_scope_version_without_name_stays_an_attribute() -> None:
    span = one_proto(proto_span({"otel.scope.version": "1.2"}))
    assert _attrs(span.attributes) == [("otel.scope.version", "1.2")]


# ------------------------------------------------------------------------------------------------ logs, references

@BOTH
def test_logs_become_events_named_by_their_event_field(model: str) -> None:
    # jLogsToSpanEvents / jThriftLogsToSpanEvents: the "event" field (eventNameAttr) names the event and is removed;
    # a "message" field (what some clients write) stays an attribute.
    if model == "proto":
        span = proto_span()
        for fields in ({"event": "event-with-attr", "span-event-attr": "span-event-attr-val"}, {"attr-int": 123}, {"message": "m"}):
            log = span.logs.add(fields=[_pv(k, v) for k, v in fields.items()])
            log.timestamp.FromNanoseconds(1_581_452_773_000_000_123)
        out = one_proto(span)
        when = 1_581_452_773_000_000_123
    else:
        logs = [th.Log(1_581_452_773_000_000, [_tv(k, v) for k, v in f.items()])
                for f in ({"event": "event-with-attr", "span-event-attr": "span-event-attr-val"}, {"attr-int": 123}, {"message": "m"})]
        out = one_thrift(thrift_span(logs=logs))
        when = 1_581_452_773_000_000_000
    assert [(e.time_unix_nano, e.name, _attrs(e.attributes)) for e in out.events] == [
        (when, "event-with-attr", [("span-event-attr", "span-event-attr-val")]), (when, "", [("attr-int", 123)]), (when, "", [("message", "m")])]


def _refs(model: str, refs: list[tuple[int, bytes, bytes]], parent: bytes | None = None) -> Any:
    if model == "proto":
        return one_proto(proto_span(references=[pb.SpanRef(ref_type=rt, trace_id=t, span_id=s) for rt, t, s in refs]))
    return one_thrift(thrift_span(references=[th.SpanRef(rt, int.from_bytes(t[8:], "big", signed=True), int.from_bytes(t[:8], "big", signed=True),
                                                         int.from_bytes(s, "big", signed=True)) for rt, t, s in refs],
                                  parent_span_id=int.from_bytes(parent, "big", signed=True) if parent else 0))


OTHER_TRACE = bytes(15) + b"\x09"
P1, P2, P3 = (bytes(7) + bytes([i]) for i in (1, 2, 3))


@BOTH
@pytest.mark.parametrize(("refs", "parent", "links"), [
    # Span.ParentSpanID (jaeger model) / jThriftSpanParentID: the first CHILD_OF in the trace, else the first FOLLOWS_FROM.
    ([(0, TRACE, P1)], P1, []),  # the only reference is the parent: no links
    ([(1, TRACE, P1)], P1, [(TRACE, P1, "follows_from")]),  # generateThriftFollowerSpan: a FOLLOWS_FROM parent is still a link
    ([(1, TRACE, P1), (0, TRACE, P2)], P2, [(TRACE, P1, "follows_from")]),
    ([(0, OTHER_TRACE, P1), (0, TRACE, P2), (0, TRACE, P3)], P2, [(OTHER_TRACE, P1, "child_of"), (TRACE, P3, "child_of")]),
    ([(0, OTHER_TRACE, P1)], None, [(OTHER_TRACE, P1, "child_of")]),  # another trace's span is never the parent
    ([(0, OTHER_TRACE, P2), (0, TRACE, P2)], P2, []),  # jReferencesToSpanLinks compares span ids only
])
def test_references_give_the_parent_and_the_links(model: str, refs: list[Any], parent: bytes | None, links: list[Any]) -> None:
    span = _refs(model, refs)
    assert (span.parent_span_id or None) == parent
    assert [(link.trace_id, link.span_id, _attrs(link.attributes)[0][1]) for link in span.links] == links


def test_thrift_parent_span_id_comes_first() -> None:
    span = _refs("thrift", [(0, TRACE, P2)], parent=P1)
    assert span.parent_span_id == P1 and [(link.span_id, _attrs(link.attributes)) for link in span.links] == [(P2, [("opentracing.ref_type", "child_of")])]


# ------------------------------------------------------------------------------------------------ refused and skipped spans

def test_blank_spans_are_skipped() -> None:
    # jSpansToInternal / jThriftSpansToInternal skip spans equal to a zero-valued span.
    request, refused = from_proto(pb.Batch(process=pb.Process(service_name="svc"), spans=[pb.Span(), proto_span()]))
    assert refused == 0 and len(request.resource_spans[0].scope_spans[0].spans) == 1
    # (the Thrift reader leaves blank spans out: test_jaeger_thrift.py's test_blank_and_broken_spans_are_not_kept)


@pytest.mark.parametrize("bad", [{"trace_id": b""}, {"trace_id": bytes(16)}, {"span_id": bytes(8)}, {"span_id": b"\x01" * 9}, {"trace_id": b"\x01" * 8}])
def test_spans_with_ids_otlp_forbids_are_refused_one_by_one(bad: dict[str, bytes]) -> None:
    # Not otelcol's (it passes them on); the otlp receiver refuses such spans, and so does this one.
    broken = proto_span()
    for key, value in bad.items():
        setattr(broken, key, value)
    request, refused = from_proto(pb.Batch(process=pb.Process(service_name="svc"), spans=[broken, proto_span()]))
    assert refused == 1 and len(request.resource_spans[0].scope_spans[0].spans) == 1
    request, refused = from_thrift(th.Batch(th.Process("svc", None), [thrift_span(span_id=0), thrift_span(trace_id_high=0, trace_id_low=0), thrift_span()]))
    assert refused == 2 and len(request.resource_spans[0].scope_spans[0].spans) == 1
