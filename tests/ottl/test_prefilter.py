"""collector/ottl/prefilter.py: a condition or where-clause it rules out on a request's wire bytes holds on no
item of that request (checked against the evaluated condition), and the transform and filter processors pass
such a request on untouched, its wire bytes still attached."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from collector import ottl
from collector.component import Signal
from collector.envelope import Envelope
from collector.ottl import prefilter
from collector.ottl.groups import contexts_of
from collector.testing import Sink, build_chain, kv, traces_request
from collector.tools.loadgen import build_templates

CONDITIONS = [
    ('attributes["gen_ai.operation.name"] == "chat"', True),
    ('attributes["gen_ai.operation.name"] == "healthcheck"', True),
    ('"healthcheck" == attributes["gen_ai.operation.name"]', True),
    ('resource.attributes["service.name"] == "nope-service"', True),
    ('name == "chat gpt-4o" and attributes["x"] == "nope"', True),
    ('name == "nope" or attributes["gen_ai.operation.name"] == "nope"', True),
    ('span.attributes["a"]["b"] == "deep"', True),
    ("false", True),
    ('attributes["gen_ai.operation.name"] != "healthcheck"', False),
    ('IsMatch(name, "nope")', False),
    ('not (name == "nope")', False),
    ('name == "nope" or attributes["n"] > 1', False),
    ('trace_id.string == "00000000000000000000000000000001"', False),  # hex of bytes: not verbatim
    ('cache["x"] == "y"', False),
]


def requests() -> list[ExportTraceServiceRequest]:
    out = [ExportTraceServiceRequest.FromString(t.payload) for t in build_templates(batch_size=20, count=4, seed=3, usage="reported", pii_share=None)]
    deep = Span(trace_id=b"\1" * 16, span_id=b"\1" * 8, name="nope")
    deep.attributes.append(kv("a", {"b": "deep"}))
    out.append(traces_request(deep, resource={"service.name": "nope-service"}))
    return out


@pytest.mark.parametrize("text,known", CONDITIONS, ids=[c[0] for c in CONDITIONS])
def test_ruled_out_means_no_item_matches(text: str, known: bool) -> None:
    may = prefilter.condition(text)
    assert (may is not None) is known
    test = ottl.condition(text, "span")
    for request in requests():
        holds = any(test(ctx) for ctx in contexts_of("traces", "span", request))
        if may is not None and not may(request.SerializeToString()):
            assert not holds, text


def test_a_statement_without_where_always_may_run() -> None:
    assert prefilter.statement('set(attributes["x"], "y")') is None
    may = prefilter.statement('set(attributes["x"], "y") where name == "zzz"')
    assert may is not None and not may(b"abc") and may(b"..zzz..")


class Keep(Sink):
    """A sink that keeps the envelopes (to see whether their wire bytes are still attached)."""

    def __init__(self) -> None:
        super().__init__(keep=False)
        self.envelopes: list[Envelope] = []

    async def consume(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)


def run(spec: str, request: ExportTraceServiceRequest) -> tuple[Envelope, ExportTraceServiceRequest]:
    async def go() -> Envelope:
        keep = Keep()
        chain = await build_chain([spec], keep)
        try:
            await chain.head.consume(Envelope(Signal.TRACES, request, request.SerializeToString()))
        finally:
            await chain.shutdown()
        return keep.envelopes[0]

    return asyncio.run(go()), request


def chat_request() -> ExportTraceServiceRequest:
    s = Span(trace_id=b"\1" * 16, span_id=b"\2" * 8, name="chat")
    s.attributes.append(kv("gen_ai.operation.name", "chat"))
    return traces_request(s)


def test_transform_passes_a_request_no_where_clause_can_match_untouched() -> None:
    envelope, _ = run('transform={trace_statements: [{context: span, statements: [\'set(attributes["x"], "y") where name == "healthcheck"\']}]}', chat_request())
    assert envelope.wire() is not None  # the request was not taken


def test_transform_runs_when_a_statement_may_apply() -> None:
    # The first statement has no where-clause: every statement runs, the second seeing what the first set
    # (its text is in no wire bytes).
    spec = ('transform={trace_statements: [{context: span, statements: [\'set(attributes["tier"], "gold")\','
            ' \'set(attributes["seen"], true) where attributes["tier"] == "gold"\']}]}')
    envelope, request = run(spec, chat_request())
    attrs = {a.key for a in request.resource_spans[0].scope_spans[0].spans[0].attributes}
    assert {"tier", "seen"} <= attrs and envelope.wire() is None


def test_filter_passes_a_request_no_condition_can_match_untouched() -> None:
    envelope, request = run("filter={traces: {span: ['name == \"healthcheck\"']}}", chat_request())
    assert envelope.wire() is not None and len(request.resource_spans[0].scope_spans[0].spans) == 1
    # "chat" is in the bytes: the condition is evaluated (the request taken) and holds on no span.
    envelope, request = run("filter={traces: {span: ['attributes[\"x\"] == \"chat\"']}}", chat_request())
    assert envelope.wire() is None and len(request.resource_spans[0].scope_spans[0].spans) == 1
