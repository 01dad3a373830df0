"""The protobuf bytes a request arrived as, lent to a processor that would otherwise serialize it again.

The redaction processor runs its prefilter over a request's wire bytes; serializing the request for that
costs as much as a fifth of its work, while the OTLP receiver has just decoded the request from exactly
such bytes. Stale bytes would let PII through (the prefilter would not see what a processor in front added
or changed), so they are only ever read where they cannot be stale:

- the receiver publishes them for the decoded request object, only when it changed nothing in it (no span
  refused by validation), and withdraws them in `finally` when the pipeline returns;
- a reader gets them only for that very object (a fan-out clone, a batch, a new request is another object);
- the service grants reading (`grant`) only to a processor with nothing in front of it in its pipeline that
  declares `capabilities.mutates_data`; a mutating pipeline behind a fan-out gets its own copy anyway.

HTTP JSON requests have no protobuf bytes: nothing is published and the reader serializes as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

_PUBLISHED: dict[int, tuple[Any, bytes]] = {}


def publish(data: Any, payload: bytes) -> None:
    _PUBLISHED[id(data)] = (data, payload)


def withdraw(data: Any) -> None:
    entry = _PUBLISHED.get(id(data))
    if entry is not None and entry[0] is data:
        del _PUBLISHED[id(data)]


def received(data: Any) -> bytes | None:
    """The bytes `data` was decoded from, if they were published for this object and not withdrawn."""
    entry = _PUBLISHED.get(id(data))
    return entry[1] if entry is not None and entry[0] is data else None


def grant(chain: Iterable[Any]) -> None:
    """Called by the service with one pipeline's processors in order: each that asks for the received
    bytes (`reads_received_bytes`) may read them if no processor before it can have changed the data."""
    for processor in chain:
        if getattr(processor, "reads_received_bytes", False):
            processor.received_bytes_granted = True
        if processor.capabilities.mutates_data:
            return
