"""collector/wire/span_summary.py: a trace request's spans read as summaries give the same ids, name,
kind, times, trace state, status code and attribute bytes as the full messages; the bare view skips
attributes and events."""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from collector.testing import kv, traces_request
from collector.wire import span_summary


def _request() -> Any:
    span = Span(name="op", kind=3, trace_id=bytes(range(16)), span_id=bytes(range(8)), trace_state="ot=th:8",
                start_time_unix_nano=5, end_time_unix_nano=2**63 + 9, status=Status(code=2, message="boom"),
                attributes=[kv("k", "v"), kv("n", 3)])
    span.events.add(name="e").attributes.append(kv("exception.type", "E"))
    span.links.add(trace_id=bytes(16))
    request = traces_request(span, resource={"service.name": "svc"}, scope="lib")
    request.resource_spans[0].scope_spans[0].scope.version = "1.2"
    return request


def test_summary_matches_the_full_messages() -> None:
    request = _request()
    (rs,) = span_summary.read(request.SerializeToString()).resource_spans
    assert Resource.FromString(rs.resource) == request.resource_spans[0].resource
    (ss,) = rs.scope_spans
    assert (ss.scope.name, ss.scope.version) == ("lib", "1.2")
    (s,) = ss.spans
    full = request.resource_spans[0].scope_spans[0].spans[0]
    assert (s.trace_id, s.span_id, s.trace_state, s.name, s.kind, s.start_time_unix_nano, s.end_time_unix_nano, s.status.code) == (
        full.trace_id, full.span_id, full.trace_state, full.name, full.kind, full.start_time_unix_nano, full.end_time_unix_nano, 2)
    assert {k: AnyValue.FromString(v) for k, v in s.attributes.items()} == {a.key: a.value for a in full.attributes}
    (event,) = s.events
    assert AnyValue.FromString(event.attributes["exception.type"]).string_value == "E"


def test_bare_summary_has_no_attributes() -> None:
    (s,) = span_summary.read(_request().SerializeToString(), attributes=False).resource_spans[0].scope_spans[0].spans
    assert (s.name, s.kind, s.status.code) == ("op", 3, 2)
    assert not hasattr(s, "attributes") and not hasattr(s, "events")
