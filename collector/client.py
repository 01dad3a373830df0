"""Who sent the data being processed: request metadata (HTTP headers, gRPC metadata) as otelcol's
client.Info carries it, for processors that partition by it (batch's metadata_keys) and exporters
that forward it. Each request runs in its own asyncio task, so a ContextVar keeps them apart."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextvars import ContextVar

Metadata = Mapping[str, tuple[str, ...]]

_EMPTY: Metadata = {}
client_metadata: ContextVar[Metadata] = ContextVar("client_metadata", default=_EMPTY)


def metadata_from_pairs(pairs: Iterable[tuple[str, str | bytes]]) -> Metadata:
    """Lower-cased keys (HTTP/2 and gRPC keys are case-insensitive), values in arrival order;
    binary (-bin) gRPC values are skipped."""
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        if isinstance(value, bytes):
            continue
        out.setdefault(key.lower(), []).append(value)
    return {k: tuple(v) for k, v in out.items()}
