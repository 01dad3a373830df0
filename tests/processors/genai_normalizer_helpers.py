"""Shared by the gen_ai_normalizer tests: run one span through the processor built from a config."""

from __future__ import annotations

import asyncio
from typing import Any

from opentelemetry.proto.trace.v1.trace_pb2 import Span

from collector.envelope import Envelope
from collector.processors.genai_normalizer.coerce import to_python
from collector.testing import Sink, build_processor, kv, traces_request


def single(name: str, **settings: Any) -> dict[str, Any]:
    """A list-shape config of one source."""
    return {"sources": [{"name": name, **settings}]}


def run_span(config: Any, attributes: list[tuple[str, Any]], *, events: list[list[tuple[str, Any]]] | None = None,
             scope_schema_url: str = "", resource_schema_url: str = "") -> tuple[Any, Any, Span]:
    """The request, scope spans and span the processor forwarded for one span with `attributes`."""
    span = Span(name="s")
    span.attributes.extend(kv(k, v) for k, v in attributes)
    for event_attributes in events or []:
        event = span.events.add(name="e")
        event.attributes.extend(kv(k, v) for k, v in event_attributes)
    request = traces_request(span)
    request.resource_spans[0].scope_spans[0].schema_url = scope_schema_url
    request.resource_spans[0].schema_url = resource_schema_url
    sink = Sink()
    asyncio.run(build_processor("gen_ai_normalizer", config, sink).consume(Envelope.of(request)))
    (out,) = sink.requests
    scope = out.resource_spans[0].scope_spans[0]
    return out, scope, scope.spans[0]


def attrs_of(kvs: Any) -> dict[str, Any]:
    return {a.key: to_python(a.value) for a in kvs}


def normalized(config: Any, attributes: list[tuple[str, Any]]) -> dict[str, Any]:
    return attrs_of(run_span(config, attributes)[2].attributes)
