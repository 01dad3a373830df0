"""Who sent the data being processed: request metadata (HTTP headers, gRPC metadata) and the peer's address, as
otelcol's client.Info carries them (Metadata and Addr), for processors that partition by the metadata (batch's
metadata_keys), exporters that forward it, and k8s_attributes, which finds a pod by the sender's IP. Each request
runs in its own asyncio task, so ContextVars keep them apart."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextvars import ContextVar

Metadata = Mapping[str, tuple[str, ...]]

_EMPTY: Metadata = {}
client_metadata: ContextVar[Metadata] = ContextVar("client_metadata", default=_EMPTY)
# The sender's IP address ("" when unknown, e.g. a Unix socket): set for every request, as otelcol sets Addr
# whatever include_metadata says.
client_address: ContextVar[str] = ContextVar("client_address", default="")


def peer_ip(peer: str) -> str:
    """The IP address in a gRPC peer string (`ipv4:10.0.0.5:4711`, `ipv6:[::1]:4711`); "" for other transports."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rpartition(":")[0]
    if kind == "ipv6":
        return rest.rpartition(":")[0].strip("[]")
    return ""


def metadata_from_pairs(pairs: Iterable[tuple[str, str | bytes]]) -> Metadata:
    """Lower-cased keys (HTTP/2 and gRPC keys are case-insensitive), values in arrival order;
    binary (-bin) gRPC values are skipped."""
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        if isinstance(value, bytes):
            continue
        out.setdefault(key.lower(), []).append(value)
    return {k: tuple(v) for k, v in out.items()}
