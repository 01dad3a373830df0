"""The redaction processor's request-level gate: which items of an OTLP request its walk must visit.

The prefilter runs over the request's wire bytes (`Scanner.wire_hits`): the bytes it arrived as when the
receiver lends them (collector/envelope.py), else the request serialized once. Strings are raw UTF-8
on the wire, so a value the scan would find something in has a hit overlapping its bytes. A light walk of
tags and lengths (`_locate`, in C when `_wire_walks` is built) maps the hits to items, and only those are
walked: resource and scope attributes, log records and metrics whose bytes were hit, and inside a hit span
only the attributes, events, links, name and status that were. A request without a hit is not walked at
all.

This module is byte walking only; what the walk then does with the marked items is walk.py's.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import Any

from .scan_batch import SUMMARY_PREFIX, Stats

try:
    from collector.processors._wire_walks import locate as _locate_in_c
except ImportError:  # built without a C compiler: the same walk in Python
    _locate_in_c = None

# Which length-delimited fields `_locate` descends into, by field number (opentelemetry-proto v1): a nested
# spec descends further, None marks the item as hit. Spans go down to single attributes, events and links.
TRACES: dict[int, Any] = {1: {1: None, 2: {1: None, 2: None}}}  # resource_spans: resource, scope_spans: scope, spans
LOGS = {1: {1: None, 2: {1: None, 2: None}}}  # resource_logs: resource, scope_logs: scope, log_records
METRICS = {1: {1: None, 2: {1: None, 2: None}}}  # resource_metrics: resource, scope_metrics: scope, metrics


def request_marks(
    wire_hits: Callable[[bytes], tuple[list[int], list[int]]] | None,
    request: Any,
    spec: dict[int, Any],
    stats: Stats,
    payload: bytes | None = None,
) -> tuple[dict[int, Any] | None, bool, Any]:
    """Which items of the request to walk (see `_locate`), or None to walk all of it (no `wire_hits`: the
    config needs every value); whether an upstream redaction summary may already be there (else the summary
    need not look for one); and the wire (payload, hit starts, hit ends) for the JSON values' splice path.
    `payload`: the request's bytes as received, when the caller knows they are exactly this request's (see
    collector/envelope.py); else it is serialized."""
    if wire_hits is None:
        return None, True, None
    try:
        if payload is None:
            payload = request.SerializeToString()
        starts, ends = wire_hits(payload)
        stats.characters += len(payload)
        if not starts:
            return {}, True, None
        if _locate_in_c is not None:
            marks = _locate_in_c(payload, 0, len(payload), spec, starts, ends, _span_marks)
        else:
            marks = _locate(payload, 0, len(payload), spec, starts, ends)
        return marks, SUMMARY_PREFIX.encode() in payload, (payload, starts, ends)
    except Exception:  # noqa: BLE001 - the gate only saves work; on any doubt, walk everything
        return None, True, None


def clip(starts: list[int], ends: list[int], start: int, end: int) -> list[tuple[int, int]]:
    """The (sorted, disjoint) hits overlapping buf[start:end], clipped to it and relative to `start`."""
    out = []
    h = bisect.bisect_right(ends, start)
    count = len(starts)
    while h < count and starts[h] < end:
        out.append((max(starts[h], start) - start, min(ends[h], end) - start))
        h += 1
    return out


_NOT_SPECIFIED = object()


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _locate(buf: bytes, start: int, end: int, spec: dict[int, Any], starts: list[int], ends: list[int]) -> dict:
    """{field: {index: nested marks or None}} for the repeated/message fields in `spec` of the message in
    buf[start:end] whose bytes overlap a hit [starts[i], ends[i]); index counts that field's occurrences, which
    is its position in the parsed message's repeated field. A hit across two items marks both."""
    out: dict[int, dict[int, Any]] = {}
    seen = [0] * 32  # occurrences so far, by field number (the specs name fields below 32)
    wanted = spec.get
    h = bisect.bisect_right(ends, start)
    count = len(starts)
    next_hit = starts[h] if h < count else end
    pos = start
    while pos < end:
        if next_hit >= end:
            return out  # no hit left in this message: the items after this one do not matter
        tag = buf[pos]
        if tag < 0x80:
            pos += 1
        else:
            tag, pos = _varint(buf, pos)
        wire_type = tag & 7
        if wire_type == 2:
            size = buf[pos]
            if size < 0x80:
                pos += 1
            elif buf[pos + 1] < 0x80:  # items of up to 16 KB: the common two-byte length, inline
                size = (size & 0x7F) | (buf[pos + 1] << 7)
                pos += 2
            else:
                size, pos = _varint(buf, pos)
            item_start = pos
            pos += size
            field = tag >> 3
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
                            out.setdefault(field, {})[index] = _locate(buf, item_start, pos, sub, starts, ends)
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


def _span_marks(buf: bytes, start: int, end: int, starts: list[int], ends: list[int]) -> dict:
    """`_locate` for one span, written out (a hit span's fields are most of the gate's walking): marks its
    name (5), attributes (9: by index, with each one's byte range, for `JsonValues._json`), events (11),
    links (13) and status (15)."""
    out: dict[int, dict[int, Any]] = {}
    attributes: dict[int, Any] = {}
    events: dict[int, Any] = {}
    links: dict[int, Any] = {}
    n_attributes = n_events = n_links = 0
    h = bisect.bisect_right(ends, start)
    count = len(starts)
    next_hit = starts[h] if h < count else end
    pos = start
    while pos < end and next_hit < end:
        tag = buf[pos]
        if tag == 0x4A:
            # A run of attributes (field 9, length-delimited) is most of a span: a tight loop for it
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
                    size, pos = _varint(buf, pos)
                item_start = pos
                pos += size
                if next_hit < pos:
                    while h < count and ends[h] <= item_start:
                        h += 1
                    next_hit = starts[h] if h < count else end
                    if next_hit < pos:
                        attributes[n_attributes] = (item_start, pos)
                n_attributes += 1
                if pos >= end or next_hit >= end or buf[pos] != 0x4A:
                    break
            continue
        if tag < 0x80:
            pos += 1
        else:
            tag, pos = _varint(buf, pos)
        wire_type = tag & 7
        if wire_type == 2:
            size = buf[pos]
            if size < 0x80:
                pos += 1
            elif buf[pos + 1] < 0x80:
                size = (size & 0x7F) | (buf[pos + 1] << 7)
                pos += 2
            else:
                size, pos = _varint(buf, pos)
            item_start = pos
            pos += size
            field = tag >> 3
            hit = False
            if next_hit < pos:
                while h < count and ends[h] <= item_start:
                    h += 1
                next_hit = starts[h] if h < count else end
                hit = next_hit < pos
            if field == 9:
                if hit:
                    attributes[n_attributes] = (item_start, pos)
                n_attributes += 1
            elif field == 11:
                if hit:
                    events[n_events] = None
                n_events += 1
            elif field == 13:
                if hit:
                    links[n_links] = None
                n_links += 1
            elif hit and (field == 5 or field == 15):
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
        out[9] = attributes
    if events:
        out[11] = events
    if links:
        out[13] = links
    return out


TRACES[1][2][2] = _span_marks
