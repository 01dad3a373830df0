"""OTLP → Jaeger api_v2 translation, rule by rule (docs/wire-formats.md, "OTLP → Jaeger
mapping"), on real OTLP protobuf requests; every result is also serialized and decoded back with the
generated api_v2 stubs, as Jaeger's collector would read it."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from collector.exporters.jaeger_translate import NO_SERVICE_NAME, batches_from_request
from collector.jaeger_proto import api_v2_pb2 as jaeger
from collector.testing import kv

TRACE_ID = bytes.fromhex("0102030405060708090a0b0c0d0e0f10")
SPAN_ID = bytes.fromhex("1112131415161718")
PARENT_ID = bytes.fromhex("2122232425262728")


def request(*resources: tuple[dict[str, Any] | None, list[tuple[tuple[str, str], list[Span]]]]) -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    for attributes, scopes in resources:
        rs = req.resource_spans.add()
        for key, value in (attributes or {}).items():
            rs.resource.attributes.append(kv(key, value))
        for (name, version), spans in scopes:
            ss = rs.scope_spans.add()
            ss.scope.name = name
            ss.scope.version = version
            ss.spans.extend(spans)
    return req


def span(**fields: Any) -> Span:
    fields.setdefault("trace_id", TRACE_ID)
    fields.setdefault("span_id", SPAN_ID)
    fields.setdefault("name", "op")
    attributes = fields.pop("attributes", {})
    out = Span(**fields)
    out.attributes.extend(kv(k, v) for k, v in attributes.items())
    return out


def translate(req: ExportTraceServiceRequest) -> list[jaeger.Batch]:
    batches = batches_from_request(req)
    # What Jaeger reads is the wire form: decode it back with the generated stubs.
    decoded = [jaeger.PostSpansRequest.FromString(jaeger.PostSpansRequest(batch=b).SerializeToString()).batch for b in batches]
    assert decoded == batches
    return decoded


def one_span(s: Span, scope: tuple[str, str] = ("", ""), resource: dict[str, Any] | None = None) -> jaeger.Span:
    (batch,) = translate(request((resource or {"service.name": "svc"}, [(scope, [s])])))
    (out,) = batch.spans
    return out


def tags(s: jaeger.Span | jaeger.Process) -> list[tuple[str, str, Any]]:
    return [_kv(t) for t in s.tags]


def _kv(t: jaeger.KeyValue) -> tuple[str, str, Any]:
    kind = jaeger.ValueType.Name(t.v_type)
    value = {"STRING": t.v_str, "BOOL": t.v_bool, "INT64": t.v_int64, "FLOAT64": t.v_float64, "BINARY": t.v_binary}[kind]
    return (t.key, kind, value)


# --- batches and process -------------------------------------------------------------------------


def test_one_batch_per_resource_spans_with_its_process() -> None:
    req = request(
        ({"service.name": "checkout", "host.name": "h1", "process.pid": 42}, [(("", ""), [span(name="a")]), (("lib", ""), [span(name="b")])]),
        ({"service.name": "llm-gateway"}, [(("", ""), [span(name="c")])]),
    )
    first, second = translate(req)
    assert first.process.service_name == "checkout"
    assert tags(first.process) == [("host.name", "STRING", "h1"), ("process.pid", "INT64", 42)]  # service.name is not a tag
    assert [s.operation_name for s in first.spans] == ["a", "b"]  # every scope's spans in one Batch
    assert second.process.service_name == "llm-gateway" and not second.process.tags
    assert all(not s.HasField("process") and not s.process_id for b in (first, second) for s in b.spans)


def test_resource_without_attributes_gets_the_placeholder_service_name() -> None:
    (batch,) = translate(request((None, [(("", ""), [span()])])))
    assert batch.process.service_name == NO_SERVICE_NAME == "OTLPResourceNoServiceName"
    assert not batch.process.tags


def test_resource_with_attributes_but_no_service_name_keeps_them_as_tags() -> None:
    (batch,) = translate(request(({"host.name": "h"}, [(("", ""), [span()])])))
    assert batch.process.service_name == ""  # as upstream: only a resource with no attributes at all gets the placeholder
    assert tags(batch.process) == [("host.name", "STRING", "h")]


def test_empty_resource_spans_make_no_batch() -> None:
    assert translate(request((None, []))) == []
    (batch,) = translate(request(({"service.name": "idle"}, [])))
    assert batch.process.service_name == "idle" and not batch.spans


# --- ids, times, name ----------------------------------------------------------------------------


def test_ids_are_big_endian_and_times_are_protobuf_timestamps() -> None:
    start = 1_700_000_000_123_456_789
    out = one_span(span(name="chat gpt-4o", start_time_unix_nano=start, end_time_unix_nano=start + 2_500_000_001))
    assert out.trace_id == TRACE_ID and out.span_id == SPAN_ID
    assert int.from_bytes(out.trace_id[:8], "big") == 0x0102030405060708  # Jaeger's TraceID.High
    assert int.from_bytes(out.trace_id[8:], "big") == 0x090A0B0C0D0E0F10  # TraceID.Low
    assert out.operation_name == "chat gpt-4o"
    assert (out.start_time.seconds, out.start_time.nanos) == (1_700_000_000, 123_456_789)
    assert (out.duration.seconds, out.duration.nanos) == (2, 500_000_001)
    assert out.start_time.ToNanoseconds() == start


def test_an_end_before_the_start_is_a_negative_duration() -> None:
    out = one_span(span(start_time_unix_nano=5_000_000_000, end_time_unix_nano=3_500_000_000))
    assert (out.duration.seconds, out.duration.nanos) == (-1, -500_000_000)
    assert out.duration.ToNanoseconds() == -1_500_000_000


def test_the_w3c_sampled_flag_becomes_jaegers_sampled_flag() -> None:
    assert one_span(span(flags=0x101)).flags == 1
    assert one_span(span(flags=0x100)).flags == 0


# --- tags ----------------------------------------------------------------------------------------


def test_span_tags_come_in_upstreams_order() -> None:
    out = one_span(
        span(attributes={"gen_ai.system": "openai", "gen_ai.usage.input_tokens": 12}, kind=Span.SPAN_KIND_CLIENT,
             status=Status(code=Status.STATUS_CODE_ERROR, message="rate limited"), trace_state="vendor=abc"),
        scope=("opentelemetry.instrumentation.openai", "0.1.2"),
    )
    assert tags(out) == [
        ("otel.scope.name", "STRING", "opentelemetry.instrumentation.openai"),
        ("otel.scope.version", "STRING", "0.1.2"),
        ("gen_ai.system", "STRING", "openai"),
        ("gen_ai.usage.input_tokens", "INT64", 12),
        ("span.kind", "STRING", "client"),
        ("otel.status_code", "STRING", "ERROR"),
        ("error", "BOOL", True),
        ("otel.status_description", "STRING", "rate limited"),
        ("w3c.tracestate", "STRING", "vendor=abc"),
    ]


def test_scope_tags_only_when_set() -> None:
    assert tags(one_span(span(), scope=("lib", ""))) == [("otel.scope.name", "STRING", "lib")]
    assert tags(one_span(span(), scope=("", "2.0"))) == [("otel.scope.version", "STRING", "2.0")]
    assert tags(one_span(span())) == []


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (Span.SPAN_KIND_INTERNAL, "internal"),
        (Span.SPAN_KIND_SERVER, "server"),
        (Span.SPAN_KIND_CLIENT, "client"),
        (Span.SPAN_KIND_PRODUCER, "producer"),
        (Span.SPAN_KIND_CONSUMER, "consumer"),
        (Span.SPAN_KIND_UNSPECIFIED, None),
    ],
)
def test_span_kind(kind: int, expected: str | None) -> None:
    found = [value for key, _, value in tags(one_span(span(kind=kind))) if key == "span.kind"]
    assert found == ([expected] if expected else [])


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (Status(code=Status.STATUS_CODE_OK), [("otel.status_code", "STRING", "OK")]),
        (Status(code=Status.STATUS_CODE_ERROR), [("otel.status_code", "STRING", "ERROR"), ("error", "BOOL", True)]),
        (Status(code=Status.STATUS_CODE_UNSET), []),
        (Status(code=Status.STATUS_CODE_UNSET, message="odd"), [("otel.status_description", "STRING", "odd")]),
        (Status(code=Status.STATUS_CODE_OK, message="fine"), [("otel.status_code", "STRING", "OK"), ("otel.status_description", "STRING", "fine")]),
    ],
)
def test_status(status: Status, expected: list[tuple[str, str, Any]]) -> None:
    assert tags(one_span(span(status=status))) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("text", ("STRING", "text")),
        (-7, ("INT64", -7)),
        (2**62, ("INT64", 2**62)),
        (True, ("BOOL", True)),
        (False, ("BOOL", False)),
        (0.25, ("FLOAT64", 0.25)),
        (b"\x00\xffraw", ("BINARY", b"\x00\xffraw")),
        (AnyValue(), ("STRING", "")),
    ],
)
def test_scalar_attribute_types(value: Any, expected: tuple[str, Any]) -> None:
    assert tags(one_span(span(attributes={"a": value}))) == [("a", *expected)]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["a", 1, True, 1.5], '["a",1,true,1.5]'),
        ({"z": 1, "a": {"y": [1.0, 2.5]}}, '{"a":{"y":[1,2.5]},"z":1}'),  # Go sorts keys and writes 1.0 as 1
        ([b"\x01\x02"], '["AQI="]'),  # bytes inside a map or array are base64, as Go's encoder does
        ([1e-7, 1e21, 1e20, 0.00001, -0.0], '[1e-7,1e+21,100000000000000000000,0.00001,-0]'),
        (["<b>&", "line\u2028sep", "é"], '["\\u003cb\\u003e\\u0026","line\\u2028sep","é"]'),
        ([AnyValue(), []], "[null,[]]"),
    ],
)
def test_maps_and_arrays_become_json_strings(value: Any, expected: str) -> None:
    ((key, kind, text),) = tags(one_span(span(attributes={"m": value})))
    assert (key, kind, text) == ("m", "STRING", expected)
    json.loads(text)


def test_resource_attribute_types_follow_the_same_rules() -> None:
    (batch,) = translate(request(({"service.name": "s", "k8s.pod.uid": b"\x01", "labels": {"team": "ml"}}, [(("", ""), [span()])])))
    assert tags(batch.process) == [("k8s.pod.uid", "BINARY", b"\x01"), ("labels", "STRING", '{"team":"ml"}')]


def test_dropped_counts_become_tags_only_when_something_was_dropped() -> None:
    out = one_span(span(dropped_attributes_count=3, dropped_events_count=2, dropped_links_count=1))
    assert tags(out) == [
        ("otel.dropped_attributes_count", "INT64", 3),
        ("otel.dropped_events_count", "INT64", 2),
        ("otel.dropped_links_count", "INT64", 1),
    ]


# --- references ----------------------------------------------------------------------------------


def refs(s: jaeger.Span) -> list[tuple[bytes, bytes, str]]:
    return [(r.trace_id, r.span_id, jaeger.SpanRefType.Name(r.ref_type)) for r in s.references]


def test_parent_is_the_first_child_of_reference() -> None:
    assert refs(one_span(span(parent_span_id=PARENT_ID))) == [(TRACE_ID, PARENT_ID, "CHILD_OF")]
    assert refs(one_span(span())) == []


def test_links_follow_the_parent_as_follows_from_or_child_of() -> None:
    other_trace, a, b = bytes(range(16, 32)), b"\xaa" * 8, b"\xbb" * 8
    s = span(parent_span_id=PARENT_ID)
    s.links.add(trace_id=other_trace, span_id=a)
    link = s.links.add(trace_id=other_trace, span_id=b)
    link.attributes.append(kv("opentracing.ref_type", "child_of"))
    link = s.links.add(trace_id=other_trace, span_id=a)
    link.attributes.append(kv("opentracing.ref_type", "follows_from"))
    assert refs(one_span(s)) == [
        (TRACE_ID, PARENT_ID, "CHILD_OF"),
        (other_trace, a, "FOLLOWS_FROM"),
        (other_trace, b, "CHILD_OF"),
        (other_trace, a, "FOLLOWS_FROM"),
    ]


def test_a_link_to_the_parent_only_sets_the_parent_references_type() -> None:
    s = span(parent_span_id=PARENT_ID)
    s.links.add(trace_id=TRACE_ID, span_id=PARENT_ID)  # no ref_type attribute: FOLLOWS_FROM
    assert refs(one_span(s)) == [(TRACE_ID, PARENT_ID, "FOLLOWS_FROM")]


# --- events → logs -------------------------------------------------------------------------------


def test_events_become_logs_with_an_event_field() -> None:
    s = span()
    event = s.events.add(time_unix_nano=1_700_000_000_000_000_042, name="gen_ai.choice")
    event.attributes.extend([kv("index", 0), kv("finish_reason", "stop")])
    s.events.add(time_unix_nano=1_700_000_001_000_000_000, name="exception").attributes.append(kv("event", "custom"))
    s.events.add(time_unix_nano=1_700_000_002_000_000_000, name="").attributes.append(kv("k", "v"))
    s.events.add(time_unix_nano=1_700_000_003_000_000_000, name="trimmed", dropped_attributes_count=4)
    first, second, third, fourth = one_span(s).logs
    assert first.timestamp.ToNanoseconds() == 1_700_000_000_000_000_042
    assert [_kv(f) for f in first.fields] == [("event", "STRING", "gen_ai.choice"), ("index", "INT64", 0), ("finish_reason", "STRING", "stop")]
    assert [_kv(f) for f in second.fields] == [("event", "STRING", "custom")]  # the attribute wins over the name
    assert [_kv(f) for f in third.fields] == [("k", "STRING", "v")]  # no name, no event field
    assert [_kv(f) for f in fourth.fields] == [("event", "STRING", "trimmed"), ("otel.dropped_attributes_count", "INT64", 4)]


# --- speed ---------------------------------------------------------------------------------------


def llm_request(spans: int) -> ExportTraceServiceRequest:
    """A realistic LLM request: ~10 attributes per span, one event, a parent."""
    rs_spans = []
    for i in range(spans):
        s = span(
            span_id=(0x1000 + i).to_bytes(8, "big"), parent_span_id=PARENT_ID, name="chat gpt-4o", kind=Span.SPAN_KIND_CLIENT,
            start_time_unix_nano=1_700_000_000_000_000_000 + i, end_time_unix_nano=1_700_000_001_000_000_000 + i,
            status=Status(code=Status.STATUS_CODE_OK),
            attributes={"gen_ai.system": "openai", "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                        "gen_ai.response.model": "gpt-4o-2024-08-06", "gen_ai.usage.input_tokens": 812, "gen_ai.usage.output_tokens": 95,
                        "gen_ai.request.temperature": 0.2, "server.address": "api.openai.com", "server.port": 443,
                        "gen_ai.response.finish_reasons": ["stop"]},
        )
        s.events.add(time_unix_nano=1_700_000_000_500_000_000, name="gen_ai.content.completion").attributes.append(kv("gen_ai.completion", "ok " * 20))
        rs_spans.append(s)
    return request(({"service.name": "chatbot", "telemetry.sdk.language": "python"}, [(("openai", "1.0"), rs_spans)]))


def test_translator_throughput_is_reported() -> None:
    """Not a pass/fail figure (the machine is shared): prints spans/s, to compare versions of the translation
    over 0.3 s of translating requests of 512 spans."""
    req = llm_request(512)
    batches_from_request(req)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < 0.3:
        batches_from_request(req)
        done += 512
    rate = done / (time.perf_counter() - started)
    print(f"\njaeger translator: {rate:,.0f} spans/s (10 attributes, 1 event per span)")
    assert done >= 512
