"""The protobuf bytes a request arrived as, lent to a processor that would otherwise serialize it again.

The redaction processor runs its prefilter over a request's wire bytes; serializing the request for that
costs as much as a fifth of its work, while the OTLP receiver has just decoded the request from exactly
such bytes. Stale bytes would let PII through (the prefilter would not see what a processor in front added
or changed), so they are only ever read where they cannot be stale:

- the receiver publishes them for the decoded request object, only when it changed nothing in it (no span
  refused by validation), and withdraws them in `finally` when the pipeline returns;
- a reader gets them only for that very object (a fan-out clone, a batch, a new request is another object);
- the service grants reading (`grant`) only to a processor with nothing in front of it in its pipeline that
  declares `capabilities.mutates_data`; a mutating pipeline behind a fan-out gets its own copy anyway;
- a mutating processor that has its output's bytes at hand anyway (redaction with workers: the worker's
  answer) publishes them for the object it hands on and withdraws them when that call returns; it declares
  `publishes_bytes`, and the processors behind it are granted again, up to the next mutating one.

HTTP JSON requests have no protobuf bytes: nothing is published and the reader serializes as before.

A sender's bytes are any valid encoding of the request, e.g. with a message field split into several
occurrences that a parser merges. A reader that relies on the bytes being upb's own serialization (tail
sampling keys its resource and scope shells by their bytes) asks for `canonical` ones: those a processor
serialized, which the receiver's never are assumed to be.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

_PUBLISHED: dict[int, tuple[Any, bytes, bool]] = {}


def publish(data: Any, payload: bytes, canonical: bool = False) -> None:
    """`canonical`: `payload` is `data.SerializeToString()` (or equal to it), not just any encoding of it."""
    _PUBLISHED[id(data)] = (data, payload, canonical)


def withdraw(data: Any) -> None:
    entry = _PUBLISHED.get(id(data))
    if entry is not None and entry[0] is data:
        del _PUBLISHED[id(data)]


def received(data: Any, canonical: bool = False) -> bytes | None:
    """The bytes `data` was decoded from, if they were published for this object and not withdrawn (and,
    when asked, are its canonical serialization)."""
    entry = _PUBLISHED.get(id(data))
    if entry is None or entry[0] is not data or (canonical and not entry[2]):
        return None
    return entry[1]


def grant(chain: Iterable[Any]) -> None:
    """Called by the service with one pipeline's processors in order: each that asks for the received
    bytes (`reads_received_bytes`) may read them if no processor can have changed the data since they were
    published, by the receiver or by a processor that `publishes_bytes`."""
    current = True
    for processor in chain:
        if current and getattr(processor, "reads_received_bytes", False):
            processor.received_bytes_granted = True
        if processor.capabilities.mutates_data:
            current = getattr(processor, "publishes_bytes", False)
