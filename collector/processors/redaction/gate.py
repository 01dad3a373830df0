"""The redaction processor's request-level gate: which items of an OTLP request its walk must visit.

The prefilter runs over the request's wire bytes (`Scanner.wire_hits`): the bytes it arrived as when the
receiver lends them (collector/envelope.py), else the request serialized once. Strings are raw UTF-8
on the wire, so a value the scan would find something in has a hit overlapping its bytes. A light walk of
tags and lengths (collector/wire/locate.py, in C when it is built) maps the hits to items, and only those
are walked: resource and scope attributes, log records and metrics whose bytes were hit, and inside a hit
span only the attributes, events, links, name and status that were. A request without a hit is not walked
at all.

The gate is also where the processor fails closed on fields the schema does not know: a newer schema's or
a sender's own fields would be parsed into unknown fields, which no walk looks at and the parser writes out
again. A C walk of tags against the schema (collector/wire/schema.py) says whether the bytes hold any, and
only then are they discarded (upb's DiscardUnknownFields walks every message of the request by reflection,
~2.5 µs a span; the check ~0.35). Where the check cannot run (no C walk, or a config that walks every item
of a request whose bytes it was not given), they are discarded from every request.

What the walk then does with the marked items is walk.py's.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import Any

from ...wire import locate
from ...wire.schema import Schema, known_only
from .scan_batch import SUMMARY_PREFIX, Stats


def request_marks(
    wire_hits: Callable[[bytes], tuple[list[int], list[int]]] | None,
    request: Any,
    spec: dict[int, Any],
    schema: Schema,
    stats: Stats,
    payload: bytes | None = None,
) -> tuple[dict[int, Any] | None, bool, Any]:
    """Which items of the request to walk (`spec` is one of collector.wire.locate's layouts), or None to
    walk all of it (no `wire_hits`: the config needs every value); whether an upstream redaction summary may already be there (else the summary
    need not look for one); and the wire (payload, hit starts, hit ends) for the JSON values' splice path.
    `payload`: the request's bytes as received, when the caller knows they are exactly this request's (see
    collector/envelope.py); else it is serialized. On return the request holds no unknown field (`schema`:
    the request's table in collector.wire.schema)."""
    if wire_hits is None:
        if payload is None or not known_only(payload, schema):
            request.DiscardUnknownFields()
        return None, True, None
    try:
        if payload is None:
            payload = request.SerializeToString()
        if not known_only(payload, schema):
            request.DiscardUnknownFields()
        starts, ends = wire_hits(payload)
        stats.characters += len(payload)
        if not starts:
            return {}, True, None
        marks = locate.request_marks(payload, spec, starts, ends)
        return marks, SUMMARY_PREFIX.encode() in payload, (payload, starts, ends)
    except Exception:  # noqa: BLE001 - the gate only saves work; on any doubt, walk everything
        request.DiscardUnknownFields()
        return None, True, None


def clip(starts: list[int], ends: list[int], start: int, end: int) -> list[tuple[int, int]]:
    """The (sorted, disjoint) hits overlapping buf[start:end], clipped to it and relative to `start`."""
    first = bisect.bisect_right(ends, start)  # the first hit that ends after `start`
    last = bisect.bisect_left(starts, end, first)  # the first hit that starts at or after `end`
    if first >= last:
        return []
    # Only the first and the last hit can reach past the range; the ones between are inside it.
    out = [(s - start, e - start) for s, e in zip(starts[first:last], ends[first:last], strict=True)]
    if starts[first] < start:
        out[0] = (0, out[0][1])
    if ends[last - 1] > end:
        out[-1] = (out[-1][0], end - start)
    return out
