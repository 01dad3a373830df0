"""Which items of a serialized OTLP request byte ranges fall in: the redaction gate's walk (`locate`, with
`span_marks` inside spans), reading only tags and lengths.

The prefilter's hits are byte offsets into the request; a walk of a layout (which length-delimited fields
to descend into) maps them to items by their index in the parsed message's repeated fields. `_walks.c`'s
`locate` is the same walk in C (collector.wire.native); these functions are its reference, run where it is
not built, and tests/processors/test_redaction_native.py holds both to the same answers. What the walk then does with
the marked items is collector/processors/redaction's.
"""

from __future__ import annotations

import bisect
from typing import Any

from . import native
from .fields import (
    LEN,
    ExportLogsServiceRequest,
    ExportMetricsServiceRequest,
    ExportTraceServiceRequest,
    ResourceLogs,
    ResourceMetrics,
    ResourceSpans,
    ScopeLogs,
    ScopeMetrics,
    ScopeSpans,
    Span,
    tag,
)

_NOT_SPECIFIED = object()
_MAX_FIELD = 32  # the layouts name fields below 32 (so does the C walk's MAX_FIELD)

# The fields of a span that span_marks marks (by index for the repeated ones, {0: None} for the others),
# and the attributes' tag: bound to locals at each call, as fast to compare with as literals.
_SPAN_FIELDS = (tag(Span.ATTRIBUTES, LEN), Span.ATTRIBUTES, Span.EVENTS, Span.LINKS, Span.NAME, Span.STATUS, Span.TRACE_STATE)


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """The base-128 varint at buf[pos], and the position after it."""
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def locate(buf: bytes, start: int, end: int, spec: dict[int, Any], starts: list[int], ends: list[int]) -> dict:
    """{field: {index: nested marks or None}} for the repeated/message fields in `spec` of the message in
    buf[start:end] whose bytes overlap a hit [starts[i], ends[i]); index counts that field's occurrences, which
    is its position in the parsed message's repeated field. A hit across two items marks both. In `spec`, a
    nested spec descends further, None marks the item as hit, and a function (span_marks) walks the item."""
    out: dict[int, dict[int, Any]] = {}
    seen = [0] * _MAX_FIELD  # occurrences so far, by field number
    wanted = spec.get
    h = bisect.bisect_right(ends, start)
    count = len(starts)
    next_hit = starts[h] if h < count else end
    pos = start
    while pos < end:
        if next_hit >= end:
            return out  # no hit left in this message: the items after this one do not matter
        key = buf[pos]
        if key < 0x80:
            pos += 1
        else:
            key, pos = read_varint(buf, pos)
        wire_type = key & 7
        if wire_type == 2:
            size = buf[pos]
            if size < 0x80:
                pos += 1
            elif buf[pos + 1] < 0x80:  # items of up to 16 KB: the common two-byte length, inline
                size = (size & 0x7F) | (buf[pos + 1] << 7)
                pos += 2
            else:
                size, pos = read_varint(buf, pos)
            item_start = pos
            pos += size
            field = key >> 3
            sub = wanted(field, _NOT_SPECIFIED)
            if sub is not _NOT_SPECIFIED:
                index = seen[field]
                seen[field] = index + 1
                if next_hit < pos:  # the next hit starts before this item ends; does it end inside it?
                    while h < count and ends[h] <= item_start:
                        h += 1
                    next_hit = starts[h] if h < count else end
                    if next_hit < pos:
                        if sub is None:
                            out.setdefault(field, {})[index] = None
                        elif type(sub) is dict:
                            out.setdefault(field, {})[index] = locate(buf, item_start, pos, sub, starts, ends)
                        else:
                            out.setdefault(field, {})[index] = sub(buf, item_start, pos, starts, ends)
        elif wire_type == 0:
            while buf[pos] >= 0x80:
                pos += 1
            pos += 1
        elif wire_type == 1:
            pos += 8
        elif wire_type == 5:
            pos += 4
        else:
            raise ValueError(f"unexpected wire type {wire_type}")
    if pos != end:
        raise ValueError("truncated message")
    return out


def span_marks(buf: bytes, start: int, end: int, starts: list[int], ends: list[int]) -> dict:
    """`locate` for one span, written out (a hit span's fields are most of the gate's walking): marks its
    name, trace_state, attributes (by index, with each one's byte range, for the JSON values' splice path),
    events, links and status."""
    out: dict[int, dict[int, Any]] = {}
    attributes: dict[int, Any] = {}
    events: dict[int, Any] = {}
    links: dict[int, Any] = {}
    n_attributes = n_events = n_links = 0
    h = bisect.bisect_right(ends, start)
    count = len(starts)
    next_hit = starts[h] if h < count else end
    pos = start
    attributes_tag, attributes_field, events_field, links_field, name_field, status_field, trace_state_field = _SPAN_FIELDS
    while pos < end and next_hit < end:
        key = buf[pos]
        if key == attributes_tag:
            # A run of attributes (length-delimited, tag below 128) is most of a span: a tight loop for it
            # skips the per-field dispatch below (~15% of this function on the loadgen's spans).
            while True:
                pos += 1
                size = buf[pos]
                if size < 0x80:
                    pos += 1
                elif buf[pos + 1] < 0x80:
                    size = (size & 0x7F) | (buf[pos + 1] << 7)
                    pos += 2
                else:
                    size, pos = read_varint(buf, pos)
                item_start = pos
                pos += size
                if next_hit < pos:
                    while h < count and ends[h] <= item_start:
                        h += 1
                    next_hit = starts[h] if h < count else end
                    if next_hit < pos:
                        attributes[n_attributes] = (item_start, pos)
                n_attributes += 1
                if pos >= end or next_hit >= end or buf[pos] != attributes_tag:
                    break
            continue
        if key < 0x80:
            pos += 1
        else:
            key, pos = read_varint(buf, pos)
        wire_type = key & 7
        if wire_type == 2:
            size = buf[pos]
            if size < 0x80:
                pos += 1
            elif buf[pos + 1] < 0x80:
                size = (size & 0x7F) | (buf[pos + 1] << 7)
                pos += 2
            else:
                size, pos = read_varint(buf, pos)
            item_start = pos
            pos += size
            field = key >> 3
            hit = False
            if next_hit < pos:
                while h < count and ends[h] <= item_start:
                    h += 1
                next_hit = starts[h] if h < count else end
                hit = next_hit < pos
            if field == attributes_field:
                if hit:
                    attributes[n_attributes] = (item_start, pos)
                n_attributes += 1
            elif field == events_field:
                if hit:
                    events[n_events] = None
                n_events += 1
            elif field == links_field:
                if hit:
                    links[n_links] = None
                n_links += 1
            elif hit and (field == name_field or field == status_field or field == trace_state_field):
                out[field] = {0: None}
        elif wire_type == 0:
            while buf[pos] >= 0x80:
                pos += 1
            pos += 1
        elif wire_type == 1:
            pos += 8
        elif wire_type == 5:
            pos += 4
        else:
            raise ValueError(f"unexpected wire type {wire_type}")
    if pos > end:
        raise ValueError("truncated message")
    if attributes:
        out[attributes_field] = attributes
    if events:
        out[events_field] = events
    if links:
        out[links_field] = links
    return out


# The layouts of the three requests: resources, scopes and the schema URLs beside them are marked whole,
# log records and metrics as items, spans down to single attributes, events and links (span_marks).
TRACES: dict[int, Any] = {
    ExportTraceServiceRequest.RESOURCE_SPANS: {
        ResourceSpans.RESOURCE: None,
        ResourceSpans.SCHEMA_URL: None,
        ResourceSpans.SCOPE_SPANS: {ScopeSpans.SCOPE: None, ScopeSpans.SCHEMA_URL: None, ScopeSpans.SPANS: span_marks},
    },
}
LOGS: dict[int, Any] = {
    ExportLogsServiceRequest.RESOURCE_LOGS: {
        ResourceLogs.RESOURCE: None,
        ResourceLogs.SCHEMA_URL: None,
        ResourceLogs.SCOPE_LOGS: {ScopeLogs.SCOPE: None, ScopeLogs.SCHEMA_URL: None, ScopeLogs.LOG_RECORDS: None},
    },
}
METRICS: dict[int, Any] = {
    ExportMetricsServiceRequest.RESOURCE_METRICS: {
        ResourceMetrics.RESOURCE: None,
        ResourceMetrics.SCHEMA_URL: None,
        ResourceMetrics.SCOPE_METRICS: {ScopeMetrics.SCOPE: None, ScopeMetrics.SCHEMA_URL: None, ScopeMetrics.METRICS: None},
    },
}


def request_marks(payload: bytes, layout: dict[int, Any], starts: list[int], ends: list[int]) -> dict:
    """`locate` over a whole request, in C when it is built."""
    in_c = native.locate
    if in_c is not None:
        return in_c(payload, 0, len(payload), layout, starts, ends, span_marks)
    return locate(payload, 0, len(payload), layout, starts, ends)
