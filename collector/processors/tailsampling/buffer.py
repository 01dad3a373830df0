"""tail_sampling's trace buffer: the spans of each pending trace (`TraceData`, held serialized, with the
facts the policies read gathered at intake), a request's spans grouped into them, sampled traces built back
into a request, and the decision cache.

Which trace ids are pending or decided and when each is due are the processor's (processor.py); this module
holds what one trace, or one request, is made of.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from ... import pdata
from ...component import Signal
from ...genai.view import GenAIView
from ...wire.spans import cut

Group = tuple[Any, Any, Any, Any]  # (resource_key, ResourceSpans shell, scope_key, ScopeSpans shell)

# Facts about a trace gathered at intake from the spans already parsed by the receiver, so that the
# policies reading them never parse the held bytes back (TraceData.facts says which were gathered).
TIMES = 1  # earliest start, latest end
STATUSES = 2  # bit per status code present
ROOTS = 4  # has_root: a span without a parent arrived
BATCH_BYTES = 8  # batch_bytes, size_bytes: the protobuf sizes of the batches otelcol keeps for the trace
ALL_FACTS = TIMES | STATUSES | ROOTS | BATCH_BYTES
_STATUS_BIT = {0: 1, 1: 2, 2: 4}


class TraceData:
    """The spans of one trace, each with its resource and scope (shared message shells).

    While a trace waits for its decision its spans are held serialized: a parsed Span costs several times
    its wire size in memory, a bytes object barely more than it. Policies read the facts gathered at
    intake or search the bytes (lookups.span_attribute_values); `spans` parses them back (upb, ~1.5M
    spans/s) only for the policies and the rollup that need whole spans. Released spans are parsed
    straight into the outgoing request.

    A held trace is also its own buffer entry (`deadline`, `sampled`) and its own queue item, and its
    spans' groups are one shared Group while they have the same resource and scope (nearly always): a
    trace costs the garbage collector two tracked objects (itself and `_raw`), not six. Every tracked
    object alive for decision_wait is traversed again by each full collection, which came every few
    seconds at 30k spans/s and took a tenth of the event loop."""

    __slots__ = (
        "_groups", "_raw", "_spans", "_views", "batch_bytes", "bytes", "deadline", "end", "facts", "has_root", "sampled", "size_bytes", "start", "statuses", "trace_id",
    )

    def __init__(self, trace_id: bytes, facts: int = 0):
        self.trace_id = trace_id
        self._groups: Group | list[Group] | None = None  # one Group for every held span, or one per span
        self._raw: list[bytes] = []
        self._spans: list[tuple[Any, Any, Any, Any, Span]] | None = None
        self._views: list[Any] | None = None
        self.bytes = 0
        self.batch_bytes = 0  # BATCH_BYTES: TracesSize of the batches (bytes_limiting.go calculateTraceSize)
        self.size_bytes = 0  # BATCH_BYTES: their ResourceSpansSize summed (processor.go SizeBytes)
        self.has_root = False
        self.facts = facts
        self.start = 1 << 64 if facts & TIMES else None
        self.end = 0
        self.statuses = 0
        self.deadline = 0.0
        self.sampled: bool | None = None  # None while the trace awaits its decision

    @property
    def span_count(self) -> int:
        return len(self._raw) if self._spans is None else len(self._spans)

    def add_held(self, group: Group, raw: bytes) -> None:
        groups = self._groups
        if groups is None:
            self._groups = group
        elif isinstance(groups, list):
            groups.append(group)
        elif groups is not group:
            self._groups = [groups] * len(self._raw) + [group]
        self._raw.append(raw)

    def held_groups(self) -> Any:
        """The group of each held span, parallel to `_raw`."""
        groups = self._groups
        return groups if type(groups) is list else itertools.repeat(groups, len(self._raw))

    def release(self) -> None:
        """Lets go of the spans once the trace is decided (its id may stay in a queue until then)."""
        self._groups, self._raw, self._spans, self._views = None, [], None, None

    @property
    def spans(self) -> list[tuple[Any, Any, Any, Any, Span]]:
        if self._spans is None:
            parse = Span.FromString
            self._spans = [(*group, parse(raw)) for group, raw in zip(self.held_groups(), self._raw, strict=True)]
            self._groups, self._raw = None, []
        return self._spans

    def extend(self, other: TraceData) -> None:
        if not self.span_count:
            self.facts = other.facts
        elif other.span_count:
            self.facts &= other.facts
        if self._spans is None and other._spans is None:
            for group, raw in zip(other.held_groups(), other._raw, strict=True):
                self.add_held(group, raw)
        else:
            self.spans.extend(other.spans)
        self.bytes += other.bytes
        self.batch_bytes += other.batch_bytes
        self.size_bytes += other.size_bytes
        self.has_root = self.has_root or other.has_root
        if other.start is not None and (self.start is None or other.start < self.start):
            self.start = other.start
        self.end = max(self.end, other.end)
        self.statuses |= other.statuses
        self._views = None

    def times(self) -> tuple[int, int] | None:
        """(earliest start, latest end) in unix ns; None without spans."""
        if not self.span_count:
            return None
        if self.facts & TIMES:
            return self.start, self.end  # type: ignore[return-value]
        spans = self.spans
        return min(e[4].start_time_unix_nano for e in spans), max(e[4].end_time_unix_nano for e in spans)

    def batches_size(self) -> int:
        """The protobuf size of the trace as otelcol holds it (processor.go newResourceSpanFromSpanAndScopes,
        bytes_limiting.go calculateTraceSize): per arrived ResourceSpans with spans of the trace, one
        ResourceSpans of its resource and, per ScopeSpans, one of its scope and those spans, without the
        schema URLs. Gathered at intake (BATCH_BYTES); without it, the spans sharing a resource are taken to
        have arrived together."""
        if self.facts & BATCH_BYTES:
            return self.batch_bytes
        chunks: dict[bytes, dict[bytes, int]] = {}
        if self._spans is None:
            for group, raw in zip(self.held_groups(), self._raw, strict=True):
                scopes = chunks.setdefault(group[0][0], {})
                scopes[group[2][0]] = scopes.get(group[2][0], 0) + field_size(len(raw))
        else:
            for entry in self._spans:
                scopes = chunks.setdefault(entry[0][0], {})
                scopes[entry[2][0]] = scopes.get(entry[2][0], 0) + field_size(entry[4].ByteSize())
        return sum(field_size(field_size(len(resource)) + sum(field_size(field_size(len(scope)) + n) for scope, n in scopes.items())) for resource, scopes in chunks.items())

    def has_status(self, codes: set[int]) -> bool:
        if self.facts & STATUSES:
            return any(self.statuses & _STATUS_BIT[c] for c in codes if c in _STATUS_BIT)
        return any(e[4].status.code in codes for e in self.spans)

    def views(self) -> list[Any]:
        """GenAI views of the trace's LLM spans (computed once per evaluation)."""
        if self._views is None:
            out = []
            for entry in self.spans:
                view = GenAIView.of(entry[4])
                if view is not None:
                    out.append(view)
            self._views = out
        return self._views


_MAX_INTERNED = 4096


def field_size(n: int) -> int:
    """The wire size of a length-delimited field (field number < 16) holding `n` bytes: tag, length, bytes."""
    length, v = 1, n
    while v >= 0x80:
        v >>= 7
        length += 1
    return 1 + length + n


def group_by_trace(request: Any, traces: dict[bytes, TraceData] | None = None, interned: dict[Any, Group] | None = None, facts: int = ALL_FACTS, payload: bytes | None = None) -> dict[bytes, TraceData]:
    """Copies the spans of a request (serialized) into per-trace groups (appending to `traces` when given),
    gathering the `facts` the policies need from the parsed spans.

    `interned` shares one shell per distinct resource and scope across requests: every shell is a upb
    message with its own arena, which would otherwise cost more than the spans it labels."""
    out = traces if traces is not None else {}
    if interned is None:
        interned = {}
    elif len(interned) > _MAX_INTERNED:
        interned.clear()  # shells still referenced by pending traces stay alive; only sharing restarts
    times = facts & TIMES
    statuses = facts & STATUSES
    roots = facts & ROOTS
    batches = facts & BATCH_BYTES
    status_bit = _STATUS_BIT.get
    in_resource: dict[bytes, int] = {}  # per trace: its ScopeSpans fields in this ResourceSpans (BATCH_BYTES)
    in_scope: dict[bytes, int] = {}  # per trace: its span fields in this ScopeSpans
    for rs, resource, scopes in cut(request, payload):
        rkey = (resource, rs.schema_url)
        rshell = None
        for ss, scope, raws in scopes:
            skey = (scope, ss.schema_url)
            group = interned.get((rkey, skey))
            if group is None:
                if rshell is None:
                    rshell = ResourceSpans(resource=rs.resource, schema_url=rs.schema_url)
                group = interned[(rkey, skey)] = (rkey, rshell, skey, ScopeSpans(scope=ss.scope, schema_url=ss.schema_url))
            for span, raw in zip(ss.spans, raws, strict=True):
                tid = span.trace_id
                trace = out.get(tid)
                if trace is None:
                    trace = out[tid] = TraceData(tid, facts)
                trace.add_held(group, raw)
                trace.bytes += len(raw)
                if roots and not span.parent_span_id:
                    trace.has_root = True
                if times:
                    start = span.start_time_unix_nano
                    if start < trace.start:
                        trace.start = start
                    end = span.end_time_unix_nano
                    if end > trace.end:
                        trace.end = end
                if statuses:
                    trace.statuses |= status_bit(span.status.code, 0)
                if batches:
                    in_scope[tid] = in_scope.get(tid, 0) + field_size(len(raw))
            if batches:
                scope_field = field_size(len(scope))
                for tid, n in in_scope.items():
                    in_resource[tid] = in_resource.get(tid, 0) + field_size(scope_field + n)
                in_scope.clear()
        if batches:
            resource_field = field_size(len(resource))
            for tid, n in in_resource.items():
                trace = out[tid]
                trace.size_bytes += resource_field + n
                trace.batch_bytes += field_size(resource_field + n)
            in_resource.clear()
    return out


def build_request(traces: list[TraceData]) -> ExportTraceServiceRequest:
    """One request holding the given traces, merged per resource and scope. Held spans are parsed
    straight into their place in the request: no intermediate Span message to copy. (Measured faster
    than framing them all as one message for a single parse, which copies the bytes twice more.)"""
    builder = pdata.RequestBuilder(Signal.TRACES)
    targets: dict[int, Any] = {}  # id(group) -> the request's spans field for it (groups are interned)
    for trace in traces:
        if trace._spans is None:
            for group, raw in zip(trace.held_groups(), trace._raw, strict=True):
                spans = targets.get(id(group))
                if spans is None:
                    rkey, rshell, skey, sshell = group
                    spans = targets[id(group)] = builder.items_for(rshell, sshell, rkey, skey)
                spans.add().MergeFromString(raw)
        else:
            for rkey, rshell, skey, sshell, span in trace._spans:
                builder.items_for(rshell, sshell, rkey, skey).append(span)
    return builder.request


class DecisionCache:
    """Trace ids whose decision is remembered (least recently added forgotten first); size 0 = off."""

    def __init__(self, size: int):
        self.size = size
        self.items: OrderedDict[bytes, None] = OrderedDict()

    def add(self, key: bytes) -> None:
        if self.size <= 0:
            return
        self.items[key] = None
        self.items.move_to_end(key)
        while len(self.items) > self.size:
            self.items.popitem(last=False)

    def __contains__(self, key: bytes) -> bool:
        return key in self.items
