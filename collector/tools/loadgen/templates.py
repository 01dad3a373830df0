"""Templates: requests generated and serialized once, with the byte offsets of every trace id and LLM response id
in them, so that a send only copies one and patches fresh ids into those offsets (`PayloadSource`): each send is
new traces of new calls (a replayed response id would make the cost processor's dedupe take a send for the
same calls seen again)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from .content import Scope
from .profile import PROFILES, GeneratedTrace, Profile


@dataclass(frozen=True)
class Template:
    payload: bytes
    items: int  # spans or log records in the request
    traces: int
    id_width: int  # 16 raw bytes (protobuf) or 32 hex characters (JSON)
    # (byte offset, trace index) of every trace id occurrence, ascending
    id_slots: tuple[tuple[int, int], ...]
    # (byte offset, response id index) of the last RESPONSE_ID_TAIL characters of every gen_ai.response.id
    response_id_slots: tuple[tuple[int, int], ...] = ()
    response_ids: int = 0


RESPONSE_ID_TAIL = 16  # characters of each response id made new by a send (hex), at its end


def _group(profile: Profile, traces: list[GeneratedTrace], records: Callable[[GeneratedTrace], list[tuple[Scope, Any]]],
           container: Any, add_resource: Callable[[Any], Any], add_scope: Callable[[Any], Any],
           add_items: Callable[[Any, Any], None]) -> Any:
    resources: dict[int, tuple[Any, dict[Scope, Any]]] = {}
    for trace in traces:
        if trace.resource not in resources:
            node = add_resource(container)
            node.resource.CopyFrom(profile.resources[trace.resource])
            node.schema_url = "https://opentelemetry.io/schemas/1.37.0"
            resources[trace.resource] = (node, {})
        node, scopes = resources[trace.resource]
        for scope, item in records(trace):
            if scope not in scopes:
                scope_node = add_scope(node)
                scope_node.scope.name, scope_node.scope.version = scope
                scopes[scope] = scope_node
            add_items(scopes[scope], item)
    return container


def build_request(profile: Profile, traces: list[GeneratedTrace], signal_name: str) -> Any:
    """One Export*ServiceRequest holding `traces`, grouped by resource and then by scope."""
    if signal_name == "traces":
        return _group(profile, traces, lambda t: t.spans, trace_service_pb2.ExportTraceServiceRequest(),
                      lambda req: req.resource_spans.add(), lambda rs: rs.scope_spans.add(),
                      lambda ss, span: ss.spans.append(span))
    return _group(profile, traces, profile.logs_for, logs_service_pb2.ExportLogsServiceRequest(),
                  lambda req: req.resource_logs.add(), lambda rl: rl.scope_logs.add(),
                  lambda sl, record: sl.log_records.append(record))


def _encode(profile: Profile, traces: list[GeneratedTrace], signal_name: str, encoding: str,
            transform: Callable[[Any], None] | None = None) -> Template:
    message = build_request(profile, traces, signal_name)
    if transform is not None:
        transform(message)
    if encoding == "json":
        from ... import otlpjson  # only http/json needs it

        payload, needles, width = otlpjson.encode(signal_name, message), [t.trace_id.hex().encode() for t in traces], 32
    else:
        payload, needles, width = message.SerializeToString(), [t.trace_id for t in traces], 16
    slots: list[tuple[int, int]] = []
    for index, needle in enumerate(needles):
        found, pos = 0, payload.find(needle)
        while pos != -1:
            slots.append((pos, index))
            found += 1
            pos = payload.find(needle, pos + width)
        if found != len(traces[index].spans):  # ids are random, so a stray match would be a bug, not bad luck
            raise RuntimeError(f"trace id found {found} times in a template, expected {len(traces[index].spans)}")
    slots.sort()
    spans = [span for rs in message.resource_spans for ss in rs.scope_spans for span in ss.spans] if signal_name == "traces" else []
    response_ids = sorted({kv.value.string_value for span in spans for kv in span.attributes
                           if kv.key == "gen_ai.response.id" and len(kv.value.string_value) >= RESPONSE_ID_TAIL})
    text_slots: list[tuple[int, int]] = []
    for index, response_id in enumerate(response_ids):
        needle = response_id.encode()
        pos = payload.find(needle)
        while pos != -1:
            text_slots.append((pos + len(needle) - RESPONSE_ID_TAIL, index))
            pos = payload.find(needle, pos + len(needle))
    text_slots.sort()
    return Template(payload=payload, items=sum(len(t.spans) for t in traces), traces=len(traces), id_width=width,
                    id_slots=tuple(slots), response_id_slots=tuple(text_slots), response_ids=len(response_ids))


def build_templates(*, profile: str = "llm", signal_name: str = "traces", encoding: str = "proto",
                    batch_size: int = 100, count: int = 32, seed: int | None = None,
                    now_ns: int | None = None, usage: str = "reported", pii_share: float | None = None,
                    transform: Callable[[Any], None] | None = None) -> list[Template]:
    """`count` requests of exactly `batch_size` spans (or log records), made of whole traces where possible;
    `transform` may change each request message in place before it is encoded."""
    prof = PROFILES[profile](random.Random(seed), usage, pii_share=pii_share)
    per_trace = prof.spans_per_trace
    traces_per_request = -(-batch_size // per_trace)
    last_keeps = batch_size - (traces_per_request - 1) * per_trace
    traces = prof.generate(traces_per_request * count, now_ns if now_ns is not None else time.time_ns())
    # Like an SDK's exporter, each request mostly comes from one service instance.
    traces.sort(key=lambda t: t.resource)
    templates = []
    for i in range(count):
        chunk = traces[i * traces_per_request:(i + 1) * traces_per_request]
        chunk[-1] = replace(chunk[-1], spans=chunk[-1].spans[:last_keeps])
        templates.append(_encode(prof, chunk, signal_name, encoding, transform))
    return templates


class PayloadSource:
    """Cycles through the templates, patching fresh trace ids and response ids into each copy."""

    def __init__(self, templates: list[Template], seed: int | None) -> None:
        self._templates = templates
        self._next = 0
        # Seeded separately from the content so that changing --templates does not change the id stream.
        self._randbytes = random.Random(None if seed is None else seed ^ 0x5EED1D5).randbytes

    def next(self) -> tuple[bytes, int]:
        template = self._templates[self._next]
        self._next = (self._next + 1) % len(self._templates)
        width = template.id_width
        ids = self._randbytes(16 * template.traces)
        if width == 32:
            ids = ids.hex().encode()
        buf = bytearray(template.payload)
        for offset, index in template.id_slots:
            start = index * width
            buf[offset:offset + width] = ids[start:start + width]
        if template.response_ids:
            tails = self._randbytes(RESPONSE_ID_TAIL // 2 * template.response_ids).hex().encode()
            for offset, index in template.response_id_slots:
                start = index * RESPONSE_ID_TAIL
                buf[offset:offset + RESPONSE_ID_TAIL] = tails[start:start + RESPONSE_ID_TAIL]
        return bytes(buf), template.items
