"""Admission by bytes: the memory of a request is reserved before the request is read and decoded.

memory_limiter measures the process every `check_interval` and refuses once it is above its soft limit. That
alone does not bound memory when requests are large: fourteen 20 MiB requests arriving within one interval
are all read, decoded, copied and encoded before the next measurement, and RSS passes the limit several
times over. So the receivers ask first. The service owns one `Admission`, and every memory_limiter
registers with it (a gate) when it starts. Without a memory_limiter nothing is asked and nothing waits.

**Decoding.** Before a receiver decodes a request it reserves the request's cost, its size on the wire times
`COST_FACTOR`, and releases it when the pipeline has answered. A limiter refuses the reservation, retryably
and with its retry hint, when it is refusing anyway or when the memory it last measured plus everything
reserved plus this request would pass its soft limit. With nothing else reserved one request is always let
in below the soft limit, so a request larger than the headroom still makes progress. The HTTP receiver
reserves before it reads the body, from Content-Length (times `bodies.INFLATE_GUESS` when compressed; a body
without a length, or one that inflates more, reserves the rest as it comes), so a refused body is never
held: it is drained and its items counted as it arrives (collector/wire/count.py).

**Reading (gRPC).** The gRPC library receives a message whole before the handler sees a byte of it, so by the
time its size is known its memory is spent. The receiver therefore asks before it reads: a read holds
`READ_FACTOR` times the largest message it may turn out to be (`max_recv_msg_size_mib`) until it is
complete; then its real size is reserved as above (or refused: its items counted from the bytes, which are
dropped). Reads may start while the memory measured plus everything reserved plus the reads in progress
stays under the hard limit: what is between the soft and the hard limit is for reading. When nothing is
being read or decoded one read may always start. A request waiting for its turn holds only what HTTP/2 flow
control lets its client send ahead (receivers/otlp.py), and waits at most `READ_WAIT_SECONDS`, or half the
time its client's deadline leaves: then it is refused unread (with the retry hint), the one refusal whose
items are not known, counted in `llm_collector_receiver_refused_uncounted_requests`.

**Giving memory back.** A request of `TRIM_FROM` bytes or more hands the heap's free pages back to the system
when its read ends and when it is done (malloc.trim): the library's buffers and the decoded message are freed
in pieces the allocator would otherwise keep resident, and the limiter, which measures RSS, would go on
refusing after a burst has passed.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, Protocol

from . import malloc
from .component import RetryableError

# Memory a request costs while it is in flight, per byte on the wire, as measured (process tree RSS) with a
# 20 MiB request of LLM spans through memory_limiter -> file: in the daemon ~5 (the received bytes 1, upb's
# decoded message 2, the serialization for the exporter 1, the pieces on their way down the pipe and what the
# heap keeps around them), and ~3.5 in the file exporter's encoder process (the request, its OTLP-JSON and the
# line written).
COST_FACTOR = 8

# Memory a gRPC read holds per byte of the largest message it may be: the library's buffer of the message,
# its copy into Python, and what the library allocated around them (a 20 MiB read peaks at +58 MiB RSS).
READ_FACTOR = 3

# Requests of this size and more give the heap's free pages back when their read ends and when they are done
# (malloc.trim, 1-8 ms measured): a 20 MiB read leaves ~40 MiB resident otherwise.
TRIM_FROM = 4 << 20

# The longest a gRPC request waits for its turn to be read before it is refused unread (less when its
# client's deadline is nearer).
READ_WAIT_SECONDS = 10.0


class Gate(Protocol):
    def admit(self, cost: int, reserved: int) -> RetryableError | None:
        """None to let a request costing `cost` in while `reserved` bytes are in flight, else the refusal."""
        ...

    def may_read(self, reading: int, reserved: int) -> bool:
        """Whether reads in progress may hold `reading` bytes while `reserved` bytes are in flight."""
        ...

    def busy(self) -> RetryableError:
        """The refusal of a request that could not be read in time."""
        ...

    def refused(self, items: int) -> None:
        """Counts the items of a request this gate refused."""
        ...


class Refused(RetryableError):
    """A reservation refused: retryable with the refusing gate's hint. The receiver counts the request's items
    (from its bytes) and reports them with `count`."""

    def __init__(self, cause: RetryableError, gate: Gate):
        super().__init__(str(cause), retry_after=cause.retry_after)
        self.gate = gate

    def count(self, items: int) -> None:
        self.gate.refused(items)


class Admission:
    """Bytes reserved by requests in flight and held by reads in progress, checked against every registered
    gate (memory_limiter)."""

    def __init__(self) -> None:
        self.gates: list[Gate] = []
        self.reserved = 0
        self.reading = 0
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()

    def add(self, gate: Gate) -> None:
        self.gates.append(gate)

    def remove(self, gate: Gate) -> None:
        if gate in self.gates:
            self.gates.remove(gate)
        self._wake()

    def reserve(self, wire_bytes: int) -> int:
        """Reserves the cost of `wire_bytes` more of a request and returns it (0 when no gate is registered),
        or raises `Refused` with the first refusing gate's reason. The caller releases what it got."""
        if not self.gates or wire_bytes <= 0:
            return 0
        cost = wire_bytes * COST_FACTOR
        for gate in self.gates:
            refusal = gate.admit(cost, self.reserved)
            if refusal is not None:
                raise Refused(refusal, gate)
        self.reserved += cost
        return cost

    def release(self, cost: int) -> None:
        if cost:
            self.reserved -= cost
            self._wake()

    def dropped(self, wire_bytes: int) -> None:
        """A request of `wire_bytes` is done with (answered, or refused and let go)."""
        if wire_bytes >= TRIM_FROM and self.gates:
            malloc.trim()

    async def start_read(self, largest: int, wait: float) -> int:
        """Waits (at most `wait` seconds) until a read of a message of up to `largest` bytes may start and
        returns what the read holds, for `end_read` (0 when no gate is registered). Raises `Refused` when the
        wait is over first."""
        if not self.gates:
            return 0
        held = READ_FACTOR * largest
        if not self._waiting and self._may_start(held):
            self.reading += held
            return held
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (held, granted)
        self._waiting.append(entry)
        try:
            await asyncio.wait_for(asyncio.shield(granted), wait)
        except (TimeoutError, asyncio.CancelledError) as exc:
            if granted.done() and not granted.cancelled():
                self.end_read(held)  # granted just as the wait ended
            else:
                granted.cancel()
                self._waiting.remove(entry)
            if isinstance(exc, TimeoutError):
                raise Refused(self.gates[0].busy(), self.gates[0]) from None
            raise
        return held

    def end_read(self, held: int, size: int = 0) -> None:
        """A read that held `held` is over, having received a message of `size` bytes."""
        if held:
            self.reading -= held
            self.dropped(size)  # what the library freed of its buffers
            self._wake()

    def _may_start(self, held: int) -> bool:
        """A read fits under every gate's limit, or nothing else is being read or in flight (progress)."""
        if not self.reading and not self.reserved:
            return True
        return all(gate.may_read(self.reading + held, self.reserved) for gate in self.gates)

    def _wake(self) -> None:
        """Lets waiting reads start, in arrival order, while they fit (the first always when none runs)."""
        waiting = self._waiting
        while waiting:
            held, granted = waiting[0]
            if self.gates and not self._may_start(held):
                return
            waiting.popleft()
            self.reading += held
            granted.set_result(None)


class Hold:
    """One request's reservation, grown as more of its size becomes known."""

    __slots__ = ("admission", "bytes", "cost")

    def __init__(self, admission: Admission):
        self.admission = admission
        self.bytes = 0  # wire bytes reserved for
        self.cost = 0

    def grow_to(self, size: int) -> None:
        """Reserves up to `size` wire bytes in all; `Refused` leaves what was held."""
        if size > self.bytes:
            self.cost += self.admission.reserve(size - self.bytes)
            self.bytes = size

    def resize(self, size: int) -> None:
        """Holds for `size` wire bytes: more reserved (or `Refused`), or the excess released."""
        if size >= self.bytes:
            self.grow_to(size)
        elif self.cost:
            excess = (self.bytes - size) * COST_FACTOR
            self.admission.release(excess)
            self.cost -= excess
            self.bytes = size

    def release(self) -> None:
        """The request is done with."""
        self.admission.release(self.cost)
        self.admission.dropped(self.bytes)
        self.bytes = self.cost = 0


def host_admission(host: Any) -> Admission | None:
    """The service's Admission, or None for a host without one (a component built in a test)."""
    return getattr(host, "admission", None)
