"""otelcol's consistent-hash ring (contrib exporter/loadbalancingexporter/consistent_hashing.go), position for
position, so that otelcol and llm-collector agents in one fleet send each routing key to the same backend.

- 36,000 positions (360 degrees with two decimals); each endpoint takes 100 points: the CRC-32 (IEEE) of the
  endpoint's bytes followed by one byte, the point's index, modulo 36,000.
- Endpoints are placed in the order given (the resolvers sort them); a position already taken stays with the
  endpoint that took it first.
- A key's position is CRC-32 (IEEE) of its bytes modulo 36,000; its owner is the first ring point at or after
  that position, wrapping around to the first point (otelcol's bsearch, which is this bisection).
"""

from __future__ import annotations

import bisect
import zlib
from collections.abc import Iterable, Sequence

MAX_POSITIONS = 36_000
DEFAULT_WEIGHT = 100


def positions_for(endpoint: str, points: int = DEFAULT_WEIGHT) -> list[int]:
    """otelcol's positionsFor: the ring positions of one endpoint, in point order."""
    base = zlib.crc32(endpoint.encode())
    # crc32(endpoint + byte(i)) continued from the endpoint's CRC: Go's byte(i) wraps at 256, as here.
    return [zlib.crc32(bytes((i & 0xFF,)), base) % MAX_POSITIONS for i in range(points)]


def position_of(key: bytes) -> int:
    return zlib.crc32(key) % MAX_POSITIONS


class HashRing:
    """An immutable ring over `endpoints` (otelcol's newHashRing)."""

    __slots__ = ("endpoints", "positions", "owners", "_distinct")

    def __init__(self, endpoints: Sequence[str], weight: int = DEFAULT_WEIGHT):
        taken: dict[int, str] = {}
        for endpoint in endpoints:
            for pos in positions_for(endpoint, weight):
                taken.setdefault(pos, endpoint)
        items = sorted(taken.items())
        self.endpoints = tuple(dict.fromkeys(endpoints))
        self.positions = [pos for pos, _ in items]
        self.owners = [endpoint for _, endpoint in items]
        self._distinct = len(self.endpoints)

    def __len__(self) -> int:
        return len(self.positions)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HashRing) and self.positions == other.positions and self.owners == other.owners

    def __hash__(self) -> int:
        return hash((tuple(self.positions), tuple(self.owners)))

    def _index(self, key: bytes) -> int:
        i = bisect.bisect_left(self.positions, zlib.crc32(key) % MAX_POSITIONS)
        return 0 if i == len(self.positions) else i

    def endpoint_for(self, key: bytes) -> str:
        """The owner of `key` ("" on an empty ring, as otelcol)."""
        if not self.positions:
            return ""
        return self.owners[self._index(key)]

    def successors(self, key: bytes, excluded: Iterable[str] = ()) -> list[str]:
        """Every endpoint in the order a walk round the ring from `key`'s position meets them, leaving out
        `excluded`: the owner first, then where its data goes when the owner fails."""
        if not self.positions:
            return []
        skip = set(excluded)
        out: list[str] = []
        seen: set[str] = set()
        start = self._index(key)
        n = len(self.owners)
        for k in range(n):
            endpoint = self.owners[(start + k) % n]
            if endpoint not in seen:
                seen.add(endpoint)
                if endpoint not in skip:
                    out.append(endpoint)
                if len(seen) == self._distinct:
                    break
        return out
