"""The envelope (collector/envelope.py): what a component derived from a request travels with it and is
void the moment anyone takes the request, whatever that component declares in its capabilities. These are
the rules the received-bytes grants and the GenAI-view handoff used to enforce from outside `consume`; the
pipelines that rely on them are driven through the daemon in test_redaction_received.py,
test_redaction_workers.py and test_genai_view_native.py."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.component import Signal
from collector.envelope import Envelope
from collector.testing import spans_request


def spans(n: int) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    for i in range(n):
        scope.spans.add(name=f"s{i}", trace_id=b"\x01" * 16, span_id=bytes([i + 1]) * 8)
    return request


def test_taking_the_request_voids_the_wire_bytes_and_views_derived_before() -> None:
    request = spans(2)
    envelope = Envelope(Signal.TRACES, request, request.SerializeToString())
    envelope.attach_views(["a", "b"])
    assert envelope.wire() == request.SerializeToString() and envelope.views() == ["a", "b"]
    assert envelope.request is request  # taken: whatever the taker does with it now, nothing else holds
    assert envelope.wire() is None and envelope.views() is None


def test_looking_at_the_envelope_keeps_what_was_derived() -> None:
    request = spans(3)
    envelope = Envelope(Signal.TRACES, request, b"as sent")
    assert (envelope.signal, envelope.items) == (Signal.TRACES, 3)
    assert envelope.wire() == b"as sent"  # counting items read the request without taking it


def test_a_sender_s_bytes_are_not_canonical_unless_declared() -> None:
    sender = Envelope(Signal.TRACES, spans(1), b"as sent")
    assert sender.wire() == b"as sent" and sender.wire(canonical=True) is None
    request = spans(1)
    serialized = Envelope(Signal.TRACES, request, request.SerializeToString(), canonical=True)
    assert serialized.wire(canonical=True) == request.SerializeToString()
    assert Envelope(Signal.TRACES, spans(1), None, canonical=True).wire(canonical=True) is None


def test_what_a_processor_attaches_after_its_last_change_reaches_the_next_one() -> None:
    # token_count takes the request, changes it, attaches its views; cost reads them, then takes the request.
    envelope = Envelope(Signal.TRACES, spans(2), b"as sent")
    payload = envelope.wire()
    request = envelope.request
    request.resource_spans[0].scope_spans[0].spans[0].name = "changed"
    envelope.attach_views(["v0", "v1"])
    assert payload == b"as sent" and envelope.wire() is None and envelope.views() == ["v0", "v1"]
    handed = envelope.views()
    assert envelope.request is request and handed == ["v0", "v1"] and envelope.views() is None


def test_a_worker_s_answer_replaces_the_request_with_its_own_bytes() -> None:
    envelope = Envelope(Signal.TRACES, spans(2))
    envelope.attach_views(["stale"])
    answer = spans(1)
    envelope.replace(answer, answer.SerializeToString(), canonical=True)
    assert envelope.wire(canonical=True) == answer.SerializeToString() and envelope.views() is None
    assert envelope.items == 1


def test_readers_get_bytes_until_the_next_taker_and_only_from_the_latest_producer() -> None:
    """The pipeline memory_limiter -> token_count -> redaction (workers) -> memory_limiter -> tail_sampling ->
    tag -> late reader, as each stage touches the envelope."""
    request = spans(2)
    envelope = Envelope(Signal.TRACES, request, b"as sent")
    assert envelope.items == 2  # memory_limiter: looks only
    assert envelope.wire() == b"as sent"  # token_count: reads the received bytes, then takes the request
    envelope.request.resource_spans[0].scope_spans[0].spans[0].name = "counted"
    assert envelope.wire() is None  # redaction: nothing current to read, so it serializes
    answer = ExportTraceServiceRequest.FromString(envelope.request.SerializeToString())
    envelope.replace(answer, answer.SerializeToString(), canonical=True)
    assert envelope.items == 2  # memory_limiter again: looks only
    assert envelope.wire(canonical=True) == answer.SerializeToString()  # tail_sampling: reads, then takes
    envelope.request.resource_spans[0].scope_spans[0].spans.add(name="tagged")  # tag: takes and changes
    assert envelope.wire() is None and envelope.items == 3  # the late reader: counted again, no bytes


def test_a_copy_for_a_mutating_branch_is_its_own_request_with_the_same_bytes() -> None:
    request = spans(2)
    envelope = Envelope(Signal.TRACES, request, b"as sent")
    envelope.attach_views(["v0", "v1"])
    twin = envelope.copy()
    assert twin.wire() == b"as sent" and twin.views() is None  # views point at the original's spans
    twin.request.resource_spans[0].scope_spans[0].spans[0].name = "branch"
    assert request.resource_spans[0].scope_spans[0].spans[0].name == "s0"
    assert envelope.wire() == b"as sent"  # the original's bytes still hold for the original


def test_of_tells_the_signal_from_the_message_type() -> None:
    assert Envelope.of(ExportLogsServiceRequest()).signal is Signal.LOGS
    assert Envelope.of(spans(1)).signal is Signal.TRACES
    with pytest.raises(TypeError, match="not an OTLP export request"):
        Envelope.of(object())


def test_digest_reads_without_taking_and_follows_the_content() -> None:
    request = spans_request(3)
    wire = request.SerializeToString()
    received = Envelope(Signal.TRACES, request, wire)
    received.attach_views(["view"])
    same = Envelope(Signal.TRACES, traces_pb2_clone(request))
    assert received.digest() == same.digest()  # the wire bytes and the serialization agree
    assert received.wire() == wire and received.views() == ["view"]  # nothing was voided
    changed = Envelope(Signal.TRACES, traces_pb2_clone(request))
    changed.request.resource_spans[0].scope_spans[0].spans[0].name = "other"
    assert changed.digest() != same.digest()
    assert len(same.digest()) == 16


def traces_pb2_clone(request: Any) -> Any:
    twin = type(request)()
    twin.CopyFrom(request)
    return twin
