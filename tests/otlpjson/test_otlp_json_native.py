"""The file exporter's OTLP-JSON of trace requests in C (`wire._otlp_json.traces`, used by the encoder
process through `json_writer.encode`) against `otlpjson.encode_traces`, the encoder it stands in for: the same
bytes for the loadgen's and the SDK's requests and for every field, value kind, escape and number edge; bytes
that are not upb's one-occurrence-per-field serialization are refused and encoded in Python; the daemon's file
output is what the Python encoder writes."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from collector import otlpjson
from collector.exporters import json_writer
from collector.testing import any_value
from collector.tools.loadgen import build_templates
from collector.wire._otlp_json import traces
from tests.conftest import damaged_copies
from tests.service.test_pipeline import InProcessService


def in_c(request: ExportTraceServiceRequest) -> bytes:
    return traces(request.SerializeToString(), orjson.dumps)


def assert_same(request: ExportTraceServiceRequest) -> None:
    assert in_c(request) == otlpjson.encode_traces(request)


@pytest.mark.parametrize("usage", ["reported", "missing"])
def test_the_loadgens_requests_encode_to_the_same_bytes(usage: str) -> None:
    for template in build_templates(batch_size=50, count=6, seed=3, usage=usage, pii_share=0.5):
        assert_same(ExportTraceServiceRequest.FromString(template.payload))


EDGE_VALUES: list[object] = [
    "", "plain", "quote \" backslash \\ slash / tab \t newline \n", "".join(chr(c) for c in range(32)) + "\x7f",
    "olá 日本 \u2028 \U0001f600", 0, 1, -1, 2**63 - 1, -(2**63), 0.0, -0.0, 0.1, 1e-7, 1e16, 1.5e300, 5e-324,
    math.nan, math.inf, -math.inf, True, False, b"", b"\x00\xff\x10", b"ab", b"abc", b"abcd", [], [1, "a", [2.5, AnyValue()]],
    {}, {"nested": {"deep": [True, b"x"]}}, AnyValue(), AnyValue(string_value_strindex=7), AnyValue(string_value_strindex=-3),
]


def edge_request() -> ExportTraceServiceRequest:
    attributes = [KeyValue(key=f"k{i}", value=any_value(v)) for i, v in enumerate(EDGE_VALUES)]
    attributes += [KeyValue(key="no value"), KeyValue(key="", value=AnyValue(string_value="keyless")), KeyValue(key_strindex=4, value=AnyValue(int_value=2)),
                   KeyValue(key="both", key_strindex=5), KeyValue()]
    full = Span(
        trace_id=bytes(range(16)), span_id=b"\x00\x01\x02\x03\xfe\xff\x10\x20", trace_state="k=v,\"odd\"", parent_span_id=b"\x09" * 8,
        flags=0x301, name="full \u00e9", kind=3, start_time_unix_nano=2**64 - 1, end_time_unix_nano=1, attributes=attributes,
        dropped_attributes_count=2**32 - 1, dropped_events_count=1, dropped_links_count=9, status=Status(code=2, message="boom\n"),
        events=[Span.Event(time_unix_nano=5, name="e", attributes=attributes[:6], dropped_attributes_count=1), Span.Event()],
        links=[Span.Link(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, trace_state="a=b", attributes=attributes[6:9], dropped_attributes_count=3, flags=1), Span.Link()],
    )
    bare = Span()
    status_only = Span(name="ok", status=Status())
    negative_kind = Span(name="odd kind", kind=-2, status=Status(code=-1))
    scope = InstrumentationScope(name="lib", version="1.0", attributes=attributes[:3], dropped_attributes_count=4)
    return ExportTraceServiceRequest(resource_spans=[
        ResourceSpans(resource=Resource(attributes=attributes[:4], dropped_attributes_count=1), schema_url="https://schema/1",
                      scope_spans=[ScopeSpans(scope=scope, spans=[full, bare], schema_url="s"), ScopeSpans(spans=[status_only]), ScopeSpans()]),
        ResourceSpans(resource=Resource(), scope_spans=[ScopeSpans(scope=InstrumentationScope(), spans=[negative_kind])]),
        ResourceSpans(),
    ])


def test_every_field_value_kind_escape_and_number_edge_encodes_to_the_same_bytes() -> None:
    request = edge_request()
    assert_same(request)
    assert_same(ExportTraceServiceRequest())
    decoded = json.loads(in_c(request))
    attrs = decoded["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"]
    assert {"key": "k17", "value": {"doubleValue": "NaN"}} in attrs and {"key": "k8", "value": {"intValue": str(2**63 - 1)}} in attrs


def test_random_requests_encode_to_the_same_bytes() -> None:
    rng = random.Random(8)
    for _ in range(200):
        spans = [Span(trace_id=rng.randbytes(16), span_id=rng.randbytes(8), name=rng.choice(["", "a", "ü\"x"]), kind=rng.randrange(6),
                      start_time_unix_nano=rng.randrange(2**64), attributes=[KeyValue(key=rng.choice(["a", "b", ""]), value=any_value(rng.choice(EDGE_VALUES)))
                                                                             for _ in range(rng.randrange(5))])
                 for _ in range(rng.randrange(4))]
        assert_same(ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])]))


def wrap(field: int, message: bytes) -> bytes:
    assert len(message) < 128
    return bytes([field << 3 | 2, len(message)]) + message


def test_bytes_upb_would_not_write_are_left_to_the_python_encoder() -> None:
    twice = Span(name="a", status=Status(code=1)).SerializeToString() + Span(name="b").SerializeToString()
    request = wrap(1, wrap(2, wrap(2, twice)))  # one span whose name comes twice: a parser keeps "b"
    with pytest.raises(ValueError):
        traces(request, orjson.dumps)
    expected = otlpjson.encode_traces(ExportTraceServiceRequest.FromString(request))
    assert b'"name":"b"' in expected
    assert json_writer.encode("traces", ExportTraceServiceRequest, request) == expected

    refs = Resource(attributes=[KeyValue(key="a", value=AnyValue(int_value=1))])
    refs.entity_refs.add(type="service", id_keys=["service.name"])
    with_refs = ExportTraceServiceRequest(resource_spans=[ResourceSpans(resource=refs)])
    with pytest.raises(ValueError):
        in_c(with_refs)
    assert json_writer.encode("traces", ExportTraceServiceRequest, with_refs.SerializeToString()) == otlpjson.encode_traces(with_refs)

    for damaged in (b"\x0a\x05\x12", b"\x0a\x02\x12\x01", b"\xff" * 11, b"\x0b"):
        with pytest.raises(ValueError):
            traces(damaged, orjson.dumps)
    bad_utf8 = wrap(1, wrap(2, wrap(2, b"\x2a\x01\xff")))  # a span named b"\xff"
    with pytest.raises(ValueError):
        traces(bad_utf8, orjson.dumps)


def test_damaged_bytes_are_refused_or_encode_as_the_parser_reads_them() -> None:
    rng = random.Random(6)
    payloads = [t.payload for t in build_templates(batch_size=5, count=10, seed=4, pii_share=0.5)] + [edge_request().SerializeToString()]
    agreed = 0
    for raw in damaged_copies(rng, payloads, 2000):
        try:
            got = traces(raw, orjson.dumps)
        except ValueError:
            continue
        try:
            expected = otlpjson.encode_traces(ExportTraceServiceRequest.FromString(raw))
        except Exception:  # noqa: BLE001 - upb refuses what the walk skips (e.g. inside an unknown field)
            continue
        assert got == expected
        agreed += 1
    assert agreed > 200


CONFIG = """
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
exporters:
  file: {{path: "{data}/traces.jsonl", encoder_process: ENCODER_PROCESS}}
service:
  telemetry: {{metrics: {{address: null}}}}
  pipelines:
    traces: {{receivers: [otlp], exporters: [file]}}
"""


@pytest.mark.parametrize("encoder_process", [True, False])
def test_the_daemons_file_holds_what_the_python_encoder_writes(tmp_path: Path, encoder_process: bool) -> None:
    edges = edge_request()
    for i, span in enumerate(s for rs in edges.resource_spans for ss in rs.scope_spans for s in ss.spans):
        if not span.trace_id:  # the receiver refuses spans without ids
            span.trace_id, span.span_id = bytes([i + 1]) * 16, bytes([i + 1]) * 8
    requests = [edges] + [ExportTraceServiceRequest.FromString(t.payload) for t in build_templates(batch_size=20, count=3, seed=9, pii_share=0.5)]
    with InProcessService(tmp_path, CONFIG.replace("ENCODER_PROCESS", str(encoder_process).lower())) as svc:
        for request in requests:
            svc.export(request.SerializeToString(), timeout=10)
    lines = (tmp_path / "data" / "traces.jsonl").read_bytes().splitlines()
    assert lines == [otlpjson.encode_traces(request) for request in requests]
