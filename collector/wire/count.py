"""The items of a serialized OTLP request (spans, log records, data points) counted from its bytes without
decoding it: what a receiver counts for a request it refuses before decoding (collector/admission.py).

`ItemCounter` takes the bytes in chunks as they arrive (an HTTP body refused unread is counted as it is
drained, never held) and keeps only a partial tag or length between chunks; `count_items` is the same walk
over bytes in hand. Whatever is not on the way to an item is stepped over by its length, so a request costs
one step per resource, scope, metric and item, not per byte. `_walks.c`'s `count_walk` is the walk in C
(collector.wire.native); `walk` here is its reference, and tests/wire/test_count.py holds both to the same answers.

The count is protobuf's: repeated fields concatenate, and a metric's data points are those of the last field
of its `data` oneof on the wire (repeats of one field merge). On malformed or truncated bytes it is the items
complete before the first bad or missing byte.
"""

from __future__ import annotations

from . import native
from .fields import (
    LEN,
    ExponentialHistogram,
    ExportLogsServiceRequest,
    ExportMetricsServiceRequest,
    ExportTraceServiceRequest,
    Gauge,
    Histogram,
    Metric,
    ResourceLogs,
    ResourceMetrics,
    ResourceSpans,
    ScopeLogs,
    ScopeMetrics,
    ScopeSpans,
    Sum,
    Summary,
)

VARINT, I64, START_GROUP, END_GROUP, I32 = 0, 1, 3, 4, 5
MAX_GROUPS = 100  # nested unknown groups, as deep as upb parses


def _mask(*fields: int) -> int:
    return sum(1 << f for f in set(fields))


# From the request down, the length-delimited fields that lead to the items at each depth (the last depth's
# are the items), as bit masks of field numbers (all below 64), and the depth of a oneof among them (or -1).
_PATHS: dict[str, tuple[tuple[int, ...], int]] = {
    "traces": ((_mask(ExportTraceServiceRequest.RESOURCE_SPANS), _mask(ResourceSpans.SCOPE_SPANS), _mask(ScopeSpans.SPANS)), -1),
    "logs": ((_mask(ExportLogsServiceRequest.RESOURCE_LOGS), _mask(ResourceLogs.SCOPE_LOGS), _mask(ScopeLogs.LOG_RECORDS)), -1),
    "metrics": ((_mask(ExportMetricsServiceRequest.RESOURCE_METRICS), _mask(ResourceMetrics.SCOPE_METRICS), _mask(ScopeMetrics.METRICS),
                 _mask(Metric.GAUGE, Metric.SUM, Metric.HISTOGRAM, Metric.EXPONENTIAL_HISTOGRAM, Metric.SUMMARY),
                 _mask(Gauge.DATA_POINTS, Sum.DATA_POINTS, Histogram.DATA_POINTS, ExponentialHistogram.DATA_POINTS, Summary.DATA_POINTS)), 3),
}

# The walk's state, a list of ints shared with the C walk: the next byte to read (an absolute offset, past the
# bytes received while a field is being stepped over), the items complete so far, where the item being
# stepped over ends (-1: none; it counts once all of it is there), the oneof field the current metric's
# points were counted under and how many, and whether malformed bytes stopped the walk.
POS, ITEMS, LEAF_END, ONEOF_FIELD, ONEOF_ITEMS, BAD = range(6)


class ItemCounter:
    """Counts the items of one request of `signal` ("traces", "logs", "metrics") fed to it in order."""

    __slots__ = ("_masks", "_oneof", "_state", "_ends", "_groups", "_received", "_carry")

    def __init__(self, signal: str):
        self._masks, self._oneof = _PATHS[signal]
        self._state = [0, 0, -1, 0, 0, 0]
        self._ends: list[int] = []  # where the messages entered on the way down end (absolute offsets)
        self._groups: list[int] = []  # field numbers of the (unknown) groups being stepped over
        self._received = 0
        self._carry = b""  # a tag and length not complete at the end of the last chunk

    @property
    def items(self) -> int:
        return self._state[ITEMS]

    @property
    def bad(self) -> bool:
        """Whether malformed bytes stopped the count."""
        return bool(self._state[BAD])

    def feed(self, chunk: bytes | memoryview) -> ItemCounter:
        if self._state[BAD] or not len(chunk):
            return self
        carry = self._carry
        buf = carry + bytes(chunk) if carry else chunk
        base = self._received - len(carry)  # absolute offset of buf[0]
        self._received = base + len(buf)
        c_walk = native.count_walk
        at = (c_walk or walk)(buf, base, self._state, self._ends, self._groups, self._masks, self._oneof)
        self._carry = bytes(buf[at:]) if at >= 0 else b""
        return self


def walk(buf: bytes | memoryview, base: int, state: list[int], ends: list[int], groups: list[int], masks: tuple[int, ...],
         oneof: int) -> int:
    """Walks `buf` (which starts at absolute offset `base`) on from `state`, updating it, `ends` and `groups`.
    Returns where in `buf` a tag or length starts that `buf` ends in the middle of (kept for the next chunk),
    or -1."""
    n = len(buf)
    top = base + n
    leaf = len(masks) - 1
    pos, items, leaf_end, oneof_field, oneof_items, bad = state
    limit = ends[-1] if ends else _NO_END  # where the innermost message entered ends
    carry = -1
    while pos <= top:
        if leaf_end >= 0:
            leaf_end = -1
            items += 1
            oneof_items += 1
        if pos >= limit:
            if groups:
                bad = 1  # a group left open at its message's end
                break
            ends.pop()
            limit = ends[-1] if ends else _NO_END
            continue
        if pos == top:
            break
        i = pos - base
        # The tag (one byte up to field 15), then for length-delimited fields their length.
        key = buf[i]
        j = i + 1
        if key >= 0x80:
            key, j = _varint(buf, i)
        if j >= 0:
            field = key >> 3
            wire_type = key & 7
            if field == 0:
                bad = 1
                break
            if wire_type == LEN:
                size = 0
                if j >= n:
                    j = _INCOMPLETE
                else:
                    size = buf[j]
                    j += 1
                    if size >= 0x80:
                        size, j = _varint(buf, j - 1)
                if j >= 0:
                    start = base + j
                    end = start + size
                    if end > limit:
                        bad = 1  # runs past the message it is in
                        break
                    depth = len(ends)
                    if groups or not masks[depth] >> field & 1:
                        pos = end
                    elif depth == leaf:
                        leaf_end = pos = end
                    else:
                        if depth == oneof:
                            if field != oneof_field:
                                # protobuf keeps the last field of a oneof: the points counted under another go
                                items -= oneof_items
                                oneof_field = field
                                oneof_items = 0
                        elif depth == oneof - 1:
                            oneof_field = oneof_items = 0  # a new metric
                        ends.append(end)
                        limit = end
                        pos = start
                    continue
            elif wire_type == VARINT:
                _, j = _varint(buf, j)
                if j >= 0:
                    pos = base + j
            elif wire_type == I64:
                pos = base + j + 8
            elif wire_type == I32:
                pos = base + j + 4
            elif wire_type == START_GROUP and len(groups) < MAX_GROUPS:
                groups.append(field)
                pos = base + j
            elif wire_type == END_GROUP and groups and groups[-1] == field:
                groups.pop()
                pos = base + j
            else:
                bad = 1
                break
        if j == _OVERLONG:
            bad = 1
            break
        if j == _INCOMPLETE:
            carry = i
            break
        if pos > limit:
            bad = 1  # a fixed-size field runs past the message it is in
            break
    state[:] = pos, items, leaf_end, oneof_field, oneof_items, bad
    return carry


_NO_END = 1 << 62
_OVERLONG = -2
_INCOMPLETE = -1


def _varint(buf: bytes | memoryview, i: int) -> tuple[int, int]:
    """(value, position after it), or (0, _INCOMPLETE) when `buf` ends first, (0, _OVERLONG) past 10 bytes."""
    n = len(buf)
    value = shift = 0
    for k in range(i, min(n, i + 10)):
        byte = buf[k]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, k + 1
        shift += 7
    return 0, (_OVERLONG if n - i >= 10 else _INCOMPLETE)


def count_items(signal: str, data: bytes | memoryview) -> int:
    """The items of the serialized request `data` of `signal` (see ItemCounter)."""
    return ItemCounter(signal).feed(data).items
