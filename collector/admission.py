"""Admission by bytes: memory for a request is reserved before it is decoded.

memory_limiter measures the process every `check_interval` and refuses once it is above its soft limit. That
alone does not bound memory when requests are large. Fourteen 20 MiB requests arriving within one interval
are all decoded, copied and encoded before the next measurement, and RSS passes the limit several times
over. So the receivers ask first. The service owns one `Admission`. Every memory_limiter registers with it
at start. A receiver reserves a request's estimated cost (its wire size times `COST_FACTOR`) before it
decodes it, and releases the reservation when the pipeline has answered.

A limiter refuses the reservation, retryably and with its retry hint, when the memory it last measured plus
what is reserved plus this request's cost would pass its soft limit. It also refuses whenever it is
refusing anyway. With nothing else reserved, one request is always let in below the soft limit, so a
request larger than the headroom still makes progress. Without a memory_limiter the reservation costs a
length check.

Items of a refused request are counted from its bytes without decoding it (`count_items_on_wire`).
"""

from __future__ import annotations

from typing import Any, Protocol

from .component import RetryableError, Signal

# Memory a request costs while it is in flight, per byte on the wire. The received bytes count 1. upb's
# decoded message measures ~1.6 (a 20.6 MiB request of LLM spans: +33.8 MiB RSS). The re-encoding for an
# exporter or worker counts 1, and ~0.4 is left for the processors' copies.
COST_FACTOR = 4


class Gate(Protocol):
    def admit(self, cost: int, reserved: int) -> RetryableError | None:
        """None to let a request costing `cost` in while `reserved` bytes are in flight, else the refusal."""
        ...

    def refused(self, items: int) -> None:
        """Counts the items of a request this gate refused."""
        ...


class Refused(RetryableError):
    """A reservation refused: retryable, with the refused request's item count when its bytes were in hand."""

    def __init__(self, cause: RetryableError, items: int, gate: Gate):
        super().__init__(str(cause), retry_after=cause.retry_after)
        self.items = items
        self.gate = gate  # the gate that refused, to count items found later


class Admission:
    """Bytes reserved by requests in flight, checked against every registered gate (memory_limiter)."""

    def __init__(self) -> None:
        self.gates: list[Gate] = []
        self.reserved = 0

    def add(self, gate: Gate) -> None:
        self.gates.append(gate)

    def remove(self, gate: Gate) -> None:
        if gate in self.gates:
            self.gates.remove(gate)

    def reserve(self, wire_bytes: int, signal: Signal | None = None, payload: bytes | None = None) -> int:
        """Reserves the cost of a request of `wire_bytes` and returns it (0 when no gate is registered), or
        raises `Refused` with the first refusing gate's reason. With the request's protobuf `payload` (and its
        `signal`), a refusal counts its items, in the gate and in `Refused.items`. The caller releases the
        returned cost when done."""
        if not self.gates:
            return 0
        cost = wire_bytes * COST_FACTOR
        for gate in self.gates:
            refusal = gate.admit(cost, self.reserved)
            if refusal is not None:
                items = count_items_on_wire(signal, payload) if signal is not None and payload is not None else 0
                gate.refused(items)
                raise Refused(refusal, items, gate)
        self.reserved += cost
        return cost

    def release(self, cost: int) -> None:
        self.reserved -= cost


# --- counting a refused request's items from its bytes ----------------------------------------------

# Field numbers from the OTLP protos, outermost first: Export*ServiceRequest.resource_* (1),
# Resource*.scope_* (2), Scope*.spans / log_records / metrics (2); for metrics, then Metric's gauge (5),
# sum (7), histogram (9), exponential_histogram (10), summary (11), each with data_points (1).
_PATHS: dict[Signal, tuple[frozenset[int], ...]] = {
    Signal.TRACES: (frozenset({1}), frozenset({2}), frozenset({2})),
    Signal.LOGS: (frozenset({1}), frozenset({2}), frozenset({2})),
    Signal.METRICS: (frozenset({1}), frozenset({2}), frozenset({2}), frozenset({5, 7, 9, 10, 11}), frozenset({1})),
}


def count_items_on_wire(signal: Signal, data: bytes | memoryview) -> int:
    """Spans, log records or data points in a serialized request, found by skipping over the bytes of
    everything else (one step per item, no message built). Malformed bytes end the count where they start:
    the result is what was found before them."""
    view = memoryview(data)
    return _count(view, 0, len(view), _PATHS[signal])


def _count(buf: memoryview, pos: int, end: int, path: tuple[frozenset[int], ...]) -> int:
    wanted, rest = path[0], path[1:]
    total = 0
    while pos < end:
        key, pos = _varint(buf, pos, end)
        if key < 0:
            return total
        field, wire_type = key >> 3, key & 7
        if wire_type == 2:
            size, pos = _varint(buf, pos, end)
            if size < 0 or pos + size > end:
                return total
            if field in wanted:
                total += _count(buf, pos, pos + size, rest) if rest else 1
            pos += size
        elif wire_type == 0:
            _, pos = _varint(buf, pos, end)
            if pos < 0:
                return total
        elif wire_type == 1:
            pos += 8
        elif wire_type == 5:
            pos += 4
        else:
            return total
    return total


def _varint(buf: memoryview, pos: int, end: int) -> tuple[int, int]:
    """(value, next position), or (-1, -1) past `end` or after 10 bytes."""
    value = shift = 0
    while pos < end and shift < 70:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
    return -1, -1


def host_admission(host: Any) -> Admission | None:
    """The service's Admission, or None for a host without one (a component built in a test)."""
    return getattr(host, "admission", None)
