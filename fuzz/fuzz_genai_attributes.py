"""`genai_attributes`, the GenAI view's attributes of every span of a request read in C, against
GenAIView.of on the parsed spans (the reference and the fallback, collector/genai/view.py).

Input: a serialized ExportTraceServiceRequest. The walk may refuse (ValueError) what upb reads, and
request_slots uses its answer only where it has one entry per parsed span; there, every span's view built
from the slots answers everything token_count, cost and tail_sampling ask as the parsed span's view does.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.genai import view as view_module
from collector.genai.view import GenAIView
from collector.wire import native
from fuzz import _harness

SLOTS = sorted(set(view_module._SLOTS.values()))


def answers(view: GenAIView | None) -> Any:
    """What the processors ask a view (tests/test_genai_view_native.py compares the same)."""
    if view is None:
        return None
    return (
        view.operation, view.provider, view.request_model, view.response_model, view.usage, view.is_generation,
        view.is_embedding, view.errored, view.reported_token_source, view.finish_reasons,
        [(slot, view.has(slot), view.key_of(slot)) for slot in SLOTS],
        view.prompt_messages(), view.completion_messages(),
    )


def test_one_input(data: bytes) -> None:
    assert native.genai_attributes is not None
    try:
        scanned = native.genai_attributes(_harness.exact(data), view_module._C_TABLE)
    except ValueError:
        return
    assert type(scanned) is list
    try:
        request = ExportTraceServiceRequest.FromString(data)
    except DecodeError:
        return
    spans = [span for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]
    if len(scanned) != len(spans):
        return  # request_slots answers None: the views are read from the parsed spans
    for span, slots in zip(spans, scanned, strict=True):
        assert answers(GenAIView.from_slots(span, slots)) == answers(GenAIView.of(span)), span


if __name__ == "__main__":
    _harness.main(test_one_input, [view_module])
