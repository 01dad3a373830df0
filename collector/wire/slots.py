"""Chosen attributes of every span of a serialized trace request, read in C without parsing it: the GenAI
view's slots (`_walks.c`'s `genai_attributes`, collector.wire.native).

A slot table names the attribute keys to read, the slot each key feeds and its rank there (the best-ranked
key present wins, its first occurrence); for each span the walk gives {slot: (key, member, value)}, where
member is the AnyValue field that holds the value (fields.AnyValue; 0 for none) and value the str, bool,
int or float it holds, or the AnyValue's own bytes for arrays, kvlists and bytes. What the slots mean is
collector/genai/view.py's, whose GenAIView.of on the parsed span is the reference and the fallback.
"""

from __future__ import annotations

from typing import Any

from . import native


def slot_table(slots: dict[str, str], ranks: dict[str, int]) -> tuple:
    """The C walk's table for keys -> slot names (`slots`) and keys -> rank within their slot (`ranks`)."""
    names = tuple(dict.fromkeys(slots.values()))
    table = (
        tuple(key.encode() for key in slots),
        tuple(slots),
        tuple(names.index(slot) for slot in slots.values()),
        tuple(ranks[key] for key in slots),
        names,
    )
    if native.genai_attributes is not None:
        # A table the built walk cannot hold (more keys than it has room for, or an extension built before
        # the table grew) fails here, at import, rather than on the first request.
        native.genai_attributes(b"", table)
    return table


def request_slots(request: Any, payload: bytes | None, table: tuple) -> list[Any] | None:
    """Each span's slots (in iteration order) read in C from `payload`, the bytes `request` was decoded
    from: reading a upb message builds a Python object for every attribute, the C walk reads only the
    table's keys. None when there are no bytes, no C walk, or the bytes do not hold the request's spans."""
    in_c = native.genai_attributes
    if payload is None or in_c is None:
        return None
    try:
        scanned = in_c(payload, table)
    except ValueError:  # not a well-formed request after all: read the parsed spans
        return None
    spans = sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
    return scanned if len(scanned) == spans else None
