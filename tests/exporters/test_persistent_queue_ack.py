"""The persistent queue's record of what is delivered (the `ack` file): after a crash only the requests
dispatched and not delivered, and the deliveries not yet recorded (fewer than `ack_every`), are sent
again, however the deliveries were ordered; the old single-position ack file is still read; a torn slot
or more requests in flight than a slot holds cost duplicates, never loss.

A crash is a copy of the queue's directory taken while it is open: kill -9 leaves exactly that (every
write so far is in the files, the OS has them; nothing more is written on the way out)."""

from __future__ import annotations

import asyncio
import io
import json
import random
import shutil
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest

from collector.component import ComponentID, Kind, Settings
from collector.config import Invalid
from collector.exporterhelper.persistent import HEADER_SIZE, MAX_HELD, PersistentQueue, decode_state, encode_state, held_entry, read_state, segment_name
from collector.extensions.file_storage import FileStorageConfig, FileStorageExtension
from collector.telemetry import Telemetry, component_logger, setup_logging
from tests.exporters.test_exporterhelper import span_ids, spans_request
from tests.exporters.test_persistent_queue import open_queue, put_all, write_records


@pytest.fixture(name="logs")
def captured_logs() -> Any:
    stream = io.StringIO()
    setup_logging("debug", stream=stream)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    setup_logging("info")


def crash_copy(directory: Path, into: Path) -> Path:
    """What kill -9 of the process holding `directory` open would leave on disk right now."""
    if into.exists():
        shutil.rmtree(into)
    shutil.copytree(directory, into)
    return into


async def recover(directory: Path, **kwargs: Any) -> list[int]:
    """Open the queue and take everything it resends: the span ids, in the order sent."""
    queue = open_queue(directory, **kwargs)
    await queue.open()
    got: list[int] = []
    while queue.size:
        request = await queue.get()
        assert request is not None
        got.extend(span_ids(request.data))
        queue.done(request)
    await queue.release()
    return got


def first_id(request: Any) -> int:
    return span_ids(request.data)[0]


@pytest.mark.parametrize("ack_every", [1, 3, 8])
def test_after_a_crash_only_what_is_undelivered_or_not_yet_recorded_is_sent_again(tmp_path: Path, ack_every: int) -> None:
    """Four consumers finish in random order while the first request they took stays in flight (a backend
    slow to answer it, or retries): at 40 crash points everything undelivered comes back, in order, and of
    what was delivered at most ack_every - 1 requests."""
    rng = random.Random(ack_every)
    directory = tmp_path / "queue"
    worst = 0

    async def run() -> None:
        nonlocal worst
        queue = open_queue(directory, segment_bytes=1024, ack_every=ack_every)  # ~16 records a segment
        await queue.open()
        sent = [spans_request(1) for _ in range(300)]
        await put_all(queue, sent)
        all_ids = [i for r in sent for i in span_ids(r)]
        stuck = await queue.get()
        assert stuck is not None
        in_flight: list[Any] = []
        delivered: set[int] = set()
        dispatched = 1
        for step in range(1, 401):
            can_take = dispatched < len(sent)
            if in_flight and (not can_take or len(in_flight) >= 3 or rng.random() < 0.5):
                request = in_flight.pop(rng.randrange(len(in_flight)))
                delivered.add(first_id(request))
                queue.done(request)
            elif can_take:
                request = await queue.get()
                assert request is not None
                in_flight.append(request)
                dispatched += 1
            if step == 350:
                delivered.add(first_id(stuck))
                queue.done(stuck)
            if step % 10:
                continue
            resent = await recover(crash_copy(directory, tmp_path / "crashed"), segment_bytes=1024)
            undelivered = [i for i in all_ids if i not in delivered]
            assert set(undelivered) <= set(resent), f"step {step}: lost {sorted(set(undelivered) - set(resent))}"
            assert resent == sorted(resent), "resent in the order first sent"
            again = set(resent) - set(undelivered)
            assert again <= delivered
            worst = max(worst, len(again))
            assert len(again) <= ack_every - 1, f"step {step}: {len(again)} delivered requests sent again"
        await queue.release()

    asyncio.run(run())
    if ack_every == 1:
        assert worst == 0


def test_a_request_delivered_while_an_older_one_is_in_flight_is_not_sent_again(tmp_path: Path, logs: Any) -> None:
    """The case a single "first undelivered record" position gets wrong: one request stays in flight while
    the others are delivered; after the crash only it (and what was never dispatched) comes back."""
    directory = tmp_path / "queue"
    sent = [spans_request(2) for _ in range(30)]

    async def run() -> None:
        queue = open_queue(directory, segment_bytes=512)
        await queue.open()
        await put_all(queue, sent)
        taken = [await queue.get() for _ in range(20)]
        for request in taken[1:]:
            assert request is not None
            queue.done(request)
        crash_copy(directory, tmp_path / "crashed")
        await queue.release()

    asyncio.run(run())
    resent = asyncio.run(recover(tmp_path / "crashed"))
    assert resent == [i for r in [sent[0], *sent[20:]] for i in span_ids(r)]
    resending = next(r for r in logs() if r["event"].startswith("persistent queue: resending"))
    assert resending["requests"] == 11 and resending["in_flight_at_stop"] == 1


def test_a_clean_stop_records_the_deliveries_not_yet_recorded(tmp_path: Path) -> None:
    directory = tmp_path / "queue"
    sent = [spans_request(1) for _ in range(10)]

    async def run() -> None:
        queue = open_queue(directory, ack_every=100)
        await queue.open()
        await put_all(queue, sent)
        taken = [await queue.get() for _ in range(6)]
        for request in taken[:5]:
            assert request is not None
            queue.done(request)  # one still in flight: none of these writes the ack file
        crash_copy(directory, tmp_path / "crashed")
        await queue.release()

    asyncio.run(run())
    ids = [i for r in sent for i in span_ids(r)]
    assert asyncio.run(recover(tmp_path / "crashed")) == ids, "a crash before anything was recorded resends it all"
    assert asyncio.run(recover(directory)) == ids[5:], "release() recorded the five deliveries"


def test_a_torn_newest_slot_falls_back_to_the_older_one_without_loss(tmp_path: Path) -> None:
    directory = tmp_path / "queue"
    sent = [spans_request(1) for _ in range(10)]

    async def run() -> None:
        queue = open_queue(directory)
        await queue.open()
        await put_all(queue, sent)
        taken = [await queue.get() for _ in range(6)]
        for request in taken[:4]:
            assert request is not None
            queue.done(request)
        crash_copy(directory, tmp_path / "crashed")
        await queue.release()

    asyncio.run(run())
    ack = tmp_path / "crashed" / "ack"
    raw = bytearray(ack.read_bytes())
    newest = read_state(bytes(raw))
    assert newest is not None
    raw[(newest[0] % 2) * 4096 + 20] ^= 0xFF  # the last write was torn (a power loss; kill -9 cannot)
    ack.write_bytes(bytes(raw))
    older = read_state(bytes(raw))
    assert older is not None and older[0] == newest[0] - 1
    ids = [i for r in sent for i in span_ids(r)]
    assert asyncio.run(recover(tmp_path / "crashed")) == ids[3:], "the older slot: one delivery more is sent again"


def test_more_requests_in_flight_than_a_slot_holds_costs_duplicates_not_loss(tmp_path: Path) -> None:
    directory = tmp_path / "queue"
    count = MAX_HELD + 50
    sent = [spans_request(1) for _ in range(count + 10)]

    async def run() -> None:
        queue = open_queue(directory)
        await queue.open()
        await put_all(queue, sent)
        taken = [await queue.get() for _ in range(count)]
        for request in [*taken[:20], *taken[-10:]]:
            assert request is not None
            queue.done(request)
        crash_copy(directory, tmp_path / "crashed")
        await queue.release()

    asyncio.run(run())
    ids = [i for r in sent for i in span_ids(r)]
    resent = asyncio.run(recover(tmp_path / "crashed"))
    undelivered = ids[20 : count - 10] + ids[count:]
    assert set(undelivered) <= set(resent) and resent == sorted(resent)
    assert not set(ids[:20]) & set(resent), "the oldest deliveries are still recorded"
    assert set(resent) - set(undelivered) == set(ids[count - 10 : count]), "the newest ones, past what the slot holds, come back"


def test_an_ack_file_of_the_single_position_layout_is_still_read(tmp_path: Path) -> None:
    """Upgrading: the layout before the dispatched list, one position (the first record not delivered) in
    two 32-byte slots, resumes where it says; the next write is in the current layout."""
    directory = tmp_path / "queue"
    requests = write_records(directory, 5)
    offset = sum(HEADER_SIZE + r.ByteSize() for r in requests[:2])
    body = struct.pack(">QQQ", 7, 1, offset)
    legacy = bytearray(64)
    legacy[32:60] = body + zlib.crc32(body).to_bytes(4, "big")  # generation 7: the second slot
    (directory / "ack").write_bytes(bytes(legacy))
    assert asyncio.run(recover(directory)) == [i for r in requests[2:] for i in span_ids(r)]
    state = read_state((directory / "ack").read_bytes())
    assert state is not None and state[0] > 7
    assert asyncio.run(recover(directory)) == []


def test_slots_round_trip_and_damaged_ones_are_refused() -> None:
    slot = encode_state(42, (3, 1000), [held_entry((2, 17)), held_entry((3, 5))])
    assert decode_state(slot) == (42, (3, 1000), [(2, 17), (3, 5)])
    assert decode_state(slot + b"\0" * 100) == (42, (3, 1000), [(2, 17), (3, 5)]), "the rest of the slot is ignored"
    assert decode_state(slot[:-1]) is None
    for i in range(len(slot)):
        damaged = bytearray(slot)
        damaged[i] ^= 0x01
        assert decode_state(bytes(damaged)) is None, i
    assert read_state(b"") is None and read_state(bytes(8192)) is None


def test_a_held_record_that_no_longer_reads_is_skipped_and_counted(tmp_path: Path) -> None:
    directory = tmp_path / "queue"
    sent = [spans_request(1) for _ in range(5)]
    counted: list[tuple[int, int]] = []

    async def run() -> None:
        queue = open_queue(directory)
        await queue.open()
        await put_all(queue, sent)
        taken = [await queue.get() for _ in range(3)]
        assert taken[1] is not None
        queue.done(taken[1])
        crash_copy(directory, tmp_path / "crashed")
        await queue.release()

    asyncio.run(run())
    segment = tmp_path / "crashed" / segment_name(1)
    data = bytearray(segment.read_bytes())
    data[HEADER_SIZE + 3] ^= 0xFF  # inside the first record, held (in flight) at the crash
    segment.write_bytes(bytes(data))
    resent = asyncio.run(recover(tmp_path / "crashed", on_corrupt=lambda records, nbytes: counted.append((records, nbytes))))
    ids = [i for r in sent for i in span_ids(r)]
    assert resent == [ids[2], ids[3], ids[4]]
    assert counted == [(1, HEADER_SIZE + sent[0].ByteSize())]


def test_ack_every_is_a_file_storage_key(tmp_path: Path) -> None:
    with pytest.raises(Invalid, match="at least 1"):
        FileStorageConfig(directory=str(tmp_path), ack_every=0).validate()
    owner = ComponentID("file_storage", "q")
    settings = Settings(id=owner, kind=Kind.EXTENSION, log=component_logger(owner, Kind.EXTENSION), telemetry=Telemetry())
    ext = FileStorageExtension(settings, FileStorageConfig(directory=str(tmp_path), ack_every=16))
    queue = ext.queue(ComponentID("otlp"), capacity=10, sizer="requests", log=component_logger("t", "t"))
    assert isinstance(queue, PersistentQueue) and queue.ack_every == 16
