"""The load_balancing exporter's hash ring against otelcol's: the vectors of contrib
exporter/loadbalancingexporter/consistent_hashing_test.go (TestNewHashRing, TestEndpointFor, TestBinarySearch,
TestPositionsForEndpoints) and otelcol's bsearch (consistent_hashing.go) ported literally below, compared with
our bisection over every position."""

from __future__ import annotations

import random
import zlib

import pytest

from collector.exporters.loadbalancing.ring import DEFAULT_WEIGHT, MAX_POSITIONS, HashRing, positions_for


def go_positions_for(endpoint: str, num_points: int) -> list[int]:
    """consistent_hashing.go positionsFor, literally: crc32.NewIEEE over endpoint then byte(i)."""
    return [zlib.crc32(endpoint.encode() + bytes([i % 256])) % MAX_POSITIONS for i in range(num_points)]


def go_positions_for_endpoints(endpoints: list[str], weight: int) -> list[tuple[int, str]]:
    items, used = [], set()
    for endpoint in endpoints:
        for pos in go_positions_for(endpoint, weight):
            if pos in used:
                continue
            used.add(pos)
            items.append((pos, endpoint))
    return sorted(items)


def go_bsearch(pos: int, left: list[tuple[int, str]], right: list[tuple[int, str]]) -> tuple[int, str]:
    """consistent_hashing.go bsearch, literally."""
    if left[-1][0] == pos:
        return left[-1]
    if right[0][0] == pos:
        return right[0]
    if pos > right[-1][0]:
        return left[0]
    if pos > left[-1][0]:
        if len(right) == 1:
            return right[0]
        return go_bsearch(pos, right[: len(right) // 2], right[len(right) // 2:])
    if len(left) == 1:
        return left[0]
    return go_bsearch(pos, left[: len(left) // 2], left[len(left) // 2:])


def go_endpoint_for(items: list[tuple[int, str]], identifier: bytes) -> str:
    pos = zlib.crc32(identifier) % MAX_POSITIONS
    return go_bsearch(pos, items[: len(items) // 2], items[len(items) // 2:])[1]


def test_new_hash_ring_has_weight_points_per_endpoint() -> None:
    assert len(HashRing(["endpoint-1", "endpoint-2"])) == 2 * DEFAULT_WEIGHT


@pytest.mark.parametrize(("identifier", "expected"), [
    (bytes([1, 2, 0, 0]), "endpoint-1"),
    (bytes([128, 128, 0, 0]), "endpoint-2"),
    (b"ad-service-7", "endpoint-1"),
    (b"get-recommendations-1", "endpoint-2"),
])
def test_endpoint_for(identifier: bytes, expected: str) -> None:
    assert HashRing(["endpoint-1", "endpoint-2"]).endpoint_for(identifier) == expected


@pytest.mark.parametrize(("requested", "expected"), [(85, 121), (14, 14), (351, 14), (270, 270), (271, 350)])
def test_binary_search_vectors(requested: int, expected: int) -> None:
    ring = HashRing([])
    ring.positions = [14, 25, 33, 47, 56, 121, 134, 158, 240, 270, 350]
    ring.owners = [str(p) for p in ring.positions]
    key = next(k for k in (i.to_bytes(4, "big") for i in range(10**7)) if zlib.crc32(k) % MAX_POSITIONS == requested)
    assert ring.endpoint_for(key) == str(expected)


@pytest.mark.parametrize(("endpoints", "expected"), [
    (["endpoint-1"], [(1401, "endpoint-1"), (4175, "endpoint-1"), (14133, "endpoint-1"), (17836, "endpoint-1"), (21667, "endpoint-1")]),
    (["endpoint-1", "endpoint-1"], [(1401, "endpoint-1"), (4175, "endpoint-1"), (14133, "endpoint-1"), (17836, "endpoint-1"), (21667, "endpoint-1")]),
    (["endpoint-1", "endpoint-2"], [
        (1401, "endpoint-1"), (4175, "endpoint-1"), (10240, "endpoint-2"), (14133, "endpoint-1"), (15002, "endpoint-2"),
        (17836, "endpoint-1"), (21263, "endpoint-2"), (21667, "endpoint-1"), (26806, "endpoint-2"), (27020, "endpoint-2"),
    ]),
])
def test_positions_for_endpoints(endpoints: list[str], expected: list[tuple[int, str]]) -> None:
    ring = HashRing(endpoints, weight=5)
    assert list(zip(ring.positions, ring.owners, strict=True)) == expected


def test_positions_match_the_literal_port() -> None:
    for endpoint in ("10.0.0.1:4317", "gateway-0.gateways.observability:4317", "[::1]:4317"):
        assert positions_for(endpoint) == go_positions_for(endpoint, DEFAULT_WEIGHT)


def test_every_position_has_otelcols_owner() -> None:
    """Ties between endpoints (two endpoints' points on one position) go to the endpoint placed first, as otelcol."""
    endpoints = sorted(f"10.1.{i}.{j}:4317" for i in range(3) for j in range(7))
    items = go_positions_for_endpoints(endpoints, DEFAULT_WEIGHT)
    assert len(items) < len(endpoints) * DEFAULT_WEIGHT  # some positions collide: the tie rule is exercised
    ring = HashRing(endpoints)
    assert list(zip(ring.positions, ring.owners, strict=True)) == items
    rng = random.Random(7)
    for _ in range(5000):
        trace_id = rng.randbytes(16)
        assert ring.endpoint_for(trace_id) == go_endpoint_for(items, trace_id)


def test_successors_start_with_the_owner_and_skip_excluded() -> None:
    ring = HashRing(["a:4317", "b:4317", "c:4317"])
    key = b"\x01" * 16
    order = ring.successors(key)
    assert order[0] == ring.endpoint_for(key) and sorted(order) == ["a:4317", "b:4317", "c:4317"]
    assert ring.successors(key, {order[0]}) == order[1:]
    assert HashRing(["a:4317"]).successors(key, {"a:4317"}) == []
    assert HashRing([]).endpoint_for(key) == ""
