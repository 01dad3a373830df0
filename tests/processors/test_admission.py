"""collector/admission.py and memory_limiter as its gate: reservations before decoding (refused above the soft
limit, one request alone always let in), gRPC reads held by their largest size under the hard limit (waiting
in arrival order, one always possible when nothing else is in flight, refused unread after the wait),
reservations grown and shrunk as a body's size becomes known, and the heap trimmed after large requests."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from collector import admission as adm
from collector.admission import COST_FACTOR, READ_FACTOR, Admission, Hold, Refused
from collector.component import RetryableError
from collector.processors import memory_limiter as ml

from .test_memory_limiter import make

MIB = 1 << 20


class Gate:
    """A gate with a fixed budget: `soft` for reservations, `hard` for reads and reservations together."""

    def __init__(self, soft: int, hard: int):
        self.soft, self.hard = soft, hard
        self.counted: list[int] = []

    def admit(self, cost: int, reserved: int) -> RetryableError | None:
        if reserved and reserved + cost > self.soft:
            return RetryableError("over soft", retry_after=2.0)
        return None

    def may_read(self, reading: int, reserved: int) -> bool:
        return reading + reserved <= self.hard

    def busy(self) -> RetryableError:
        return RetryableError("busy", retry_after=3.0)

    def refused(self, items: int) -> None:
        self.counted.append(items)


def test_without_a_gate_nothing_is_reserved_or_waited_for() -> None:
    a = Admission()
    assert a.reserve(50 * MIB) == 0 and a.reserved == 0
    assert asyncio.run(a.start_read(32 * MIB, 0.0)) == 0 and a.reading == 0


def test_reservations_count_the_cost_and_are_refused_past_the_soft_limit_but_one_alone_gets_in() -> None:
    a = Admission()
    gate = Gate(soft=100 * MIB, hard=200 * MIB)
    a.add(gate)
    big = a.reserve(30 * MIB)  # 30 MiB * 8 = 240 MiB, over the soft limit, but alone: let in
    assert big == 30 * MIB * COST_FACTOR and a.reserved == big
    with pytest.raises(Refused) as info:
        a.reserve(1 * MIB)
    assert info.value.retry_after == 2.0 and info.value.gate is gate
    info.value.count(7)
    assert gate.counted == [7] and a.reserved == big  # a refusal reserves nothing
    a.release(big)
    assert a.reserved == 0 and a.reserve(0) == 0
    small = [a.reserve(1 * MIB) for _ in range(12)]  # 12 * 8 MiB = 96 MiB
    assert sum(small) == 96 * MIB
    with pytest.raises(Refused):
        a.reserve(1 * MIB)
    a.remove(gate)
    assert a.reserve(100 * MIB) == 0  # no gate any more


def test_a_hold_grows_as_a_body_arrives_shrinks_to_what_it_inflated_to_and_releases_everything() -> None:
    a = Admission()
    a.add(Gate(soft=100 * MIB, hard=200 * MIB))
    hold = Hold(a)
    hold.grow_to(4 * MIB)
    hold.grow_to(2 * MIB)  # never less than it has
    assert (hold.bytes, hold.cost, a.reserved) == (4 * MIB, 32 * MIB, 32 * MIB)
    other = a.reserve(1 * MIB)
    with pytest.raises(Refused):
        hold.resize(20 * MIB)  # 160 MiB more would pass the soft limit
    assert (hold.bytes, a.reserved) == (4 * MIB, 32 * MIB + other)  # what it held, it still holds
    hold.resize(3 * MIB)
    assert (hold.bytes, hold.cost, a.reserved) == (3 * MIB, 24 * MIB, 24 * MIB + other)
    hold.release()
    assert (hold.bytes, hold.cost, a.reserved) == (0, 0, other)


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


def test_reads_hold_their_largest_size_until_they_end_and_wait_their_turn_in_order() -> None:
    async def scenario() -> None:
        a = Admission()
        a.add(Gate(soft=100 * MIB, hard=200 * MIB))
        largest = 20 * MIB  # each read holds 60 MiB: three fit under 200
        held = [await a.start_read(largest, 1.0) for _ in range(3)]
        assert held == [READ_FACTOR * largest] * 3 and a.reading == 180 * MIB
        order: list[int] = []

        async def waiter(n: int) -> None:
            got = await a.start_read(largest, 5.0)
            order.append(n)
            await asyncio.sleep(0)
            a.end_read(got)

        waiters = [asyncio.create_task(waiter(n)) for n in range(4)]
        await asyncio.sleep(0.01)
        assert order == [] and len(a._waiting) == 4
        a.end_read(held.pop())  # room for one: the first in line
        await asyncio.sleep(0.01)
        assert order[:1] == [0]
        for h in held:
            a.end_read(h)
        await asyncio.gather(*waiters)
        assert order == [0, 1, 2, 3] and a.reading == 0

    run(scenario())


def test_one_read_may_start_when_nothing_else_is_in_flight_else_it_waits_for_room() -> None:
    async def scenario() -> None:
        a = Admission()
        a.add(Gate(soft=10 * MIB, hard=20 * MIB))
        alone = await a.start_read(32 * MIB, 0.0)  # 96 MiB, over the hard limit, but nothing else: starts
        with pytest.raises(Refused) as info:
            await a.start_read(1 * MIB, 0.05)  # no room while it reads: waits, then is refused unread
        assert str(info.value) == "busy" and info.value.retry_after == 3.0
        a.end_read(alone)
        cost = a.reserve(1 * MIB)  # a request being decoded and exported: 8 MiB
        task = asyncio.create_task(a.start_read(5 * MIB, 5.0))  # 15 MiB: 23 with it, over 20
        await asyncio.sleep(0.01)
        assert not task.done()
        a.release(cost)  # done: nothing else in flight, the read starts
        assert await task == 15 * MIB and a.reading == 15 * MIB and not a._waiting

    run(scenario())


def test_a_read_whose_wait_is_cancelled_leaves_nothing_behind() -> None:
    async def scenario() -> None:
        a = Admission()
        a.add(Gate(soft=10 * MIB, hard=20 * MIB))
        first = await a.start_read(10 * MIB, 0.0)
        task = asyncio.create_task(a.start_read(10 * MIB, 5.0))
        await asyncio.sleep(0.01)
        task.cancel()  # the client went away while waiting
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not a._waiting and a.reading == first
        a.end_read(first)
        assert a.reading == 0

    run(scenario())


def test_large_requests_trim_the_heap_when_read_and_when_done(monkeypatch: pytest.MonkeyPatch) -> None:
    trims: list[int] = []
    monkeypatch.setattr(adm.malloc, "trim", lambda: trims.append(1))
    a = Admission()
    a.add(Gate(soft=1000 * MIB, hard=2000 * MIB))
    held = run(a.start_read(32 * MIB, 0.0))
    a.end_read(held, 1 * MIB)  # type: ignore[arg-type]
    assert trims == []
    held = run(a.start_read(32 * MIB, 0.0))
    a.end_read(held, 20 * MIB)  # type: ignore[arg-type]
    assert trims == [1]
    hold = Hold(a)
    hold.grow_to(20 * MIB)
    hold.release()
    assert trims == [1, 1]
    a.dropped(2 * MIB)
    assert trims == [1, 1]


def test_the_memory_limiter_gates_reservations_by_its_soft_limit_and_reads_by_its_hard_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(ml.time, "monotonic", lambda: clock[0])
    p = make(tmp_path, "{{limit_mib: 300, check_interval: 1s}}")  # soft 240, hard 300
    p.readings = [60 * MIB]
    p.check()
    a = Admission()
    a.add(p)
    first = a.reserve(20 * MIB)  # 160 MiB: 60 + 160 under 240
    # Measured again at most every 10 ms when the answer is near: now 70 MiB.
    p.readings = [70 * MIB]
    clock[0] += 0.02
    with pytest.raises(Refused) as info:
        a.reserve(2 * MIB)  # 70 + 160 + 16 > 240
    assert "would pass the soft limit 240 MiB" in str(info.value) and info.value.retry_after == 1.0
    assert p.m_refused_bytes.value == 2 * MIB
    info.value.count(2000)
    assert p.m_refused.value == 2000
    assert p.may_read(70 * MIB, a.reserved)  # 70 + 160 + 70 = 300: the hard limit
    assert not p.may_read(71 * MIB, a.reserved)  # measured 10 ms ago: not again
    a.release(first)
    # Above the soft limit everything is refused; reads still fit under the hard one.
    p.readings = [250 * MIB]
    clock[0] += 1
    p.check()
    with pytest.raises(Refused) as info:
        a.reserve(1)
    assert "above the soft limit" in str(info.value)
    assert p.may_read(50 * MIB, 0) and not p.may_read(51 * MIB, 0)
    assert "not read in time" in str(p.busy()) and p.busy().retry_after == 1.0
