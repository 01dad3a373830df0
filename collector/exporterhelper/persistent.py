"""The persistent sending queue: a write-ahead log of requests in one directory per exporter.

Layout of the directory:
- `NNNNNNNNNNNNNNNN.seg` segment files, appended to in order. Each record is a 17-byte header
  (magic `LCQ\\x01`, signal, payload length, item count, CRC-32 of header and payload) and the serialized
  Export*ServiceRequest. A new segment starts every `segment_bytes`, and at every start, so a torn tail
  left by a crash is never appended to.
- `ack`: which records are delivered, in two alternating checksummed slots (so a torn write of one slot
  leaves the other readable): the read position (every record before it was dispatched to a consumer) and
  the positions of the records dispatched and not yet delivered, as otelcol's persistent queue keeps its
  read index and `CurrentlyDispatchedItems`. A record is delivered if it is before the read position and
  not in that list.
- `lock`: an exclusive flock, so two daemons never share one queue.

Guarantee: `put()` returns only after the record is written to the segment file (so it survives the
process dying, `kill -9` included); with `fsync` it also waits for an fsync of the segment (so it survives
power loss), shared by every put that arrived meanwhile (group commit). The ack file is rewritten after
every `ack_every` deliveries and whenever nothing is left in flight, so after a crash everything not yet
delivered is sent again (at-least-once) and what is sent twice is bounded: the requests in flight at the
crash (at most the exporter's num_consumers) plus the deliveries not yet recorded (at most ack_every - 1).
A request delivered while an older one is still retrying is recorded as delivered, not held back behind
it. The ack file itself is not fsynced: kill -9 keeps its last write (the OS has it), a power loss may
take it back to an older state, which costs more duplicates, never loss.

On start the remaining records are checked; corrupt or truncated ones (a torn tail after a crash, a
damaged disk) are skipped and counted, and reading resumes at the next valid record.
"""

from __future__ import annotations

import asyncio
import collections
import errno
import os
import struct
import zlib
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from ..component import Signal
from ..pdata import REQUEST_TYPES, count_items
from .queue import QueueClosed, QueueFull, Request, TooLarge, Waiters
from .sizer import sizer as make_sizer

MAGIC = b"LCQ\x01"
_HEADER = struct.Struct(">4sBIII")  # magic, signal, payload length, items, crc32
HEADER_SIZE = _HEADER.size
_CRC_OFFSET = HEADER_SIZE - 4
_SIGNAL_CODE = {Signal.TRACES: 1, Signal.LOGS: 2, Signal.METRICS: 3}
_CODE_SIGNAL = {code: signal for signal, code in _SIGNAL_CODE.items()}
# The ack file's slots: a header, the dispatched-not-delivered positions, a crc32 of both.
_STATE_MAGIC = b"LCA\x02"
_STATE = struct.Struct(">4sQQQI")  # magic, generation, read segment, read offset, number of entries
_ENTRY = struct.Struct(">QQ")  # segment, offset
_STATE_SLOT = 4096
# Past this many requests held at once the read position recorded is moved back to the first that does
# not fit: still no loss, only more duplicates (num_consumers is 10 by default).
MAX_HELD = (_STATE_SLOT - _STATE.size - 4) // _ENTRY.size
# The ack file before the dispatched list: two 32-byte slots of generation, segment, offset, crc32 of the
# first three, the position of the first record not yet delivered. Read once, when a queue is upgraded.
_LEGACY_ACK = struct.Struct(">QQQI")
_LEGACY_SLOT = 32
DEFAULT_SEGMENT_BYTES = 16 << 20
# Requests written by this process keep their decoded message while waiting, up to this many serialized
# bytes per queue, so with a healthy backend nothing is read back and parsed again (~100 µs per
# 100-span request). Past it (a backlog during an outage) they are read from disk when their turn comes.
HOT_CACHE_BYTES = 32 << 20

Position = tuple[int, int]  # (segment number, byte offset)


def segment_name(number: int) -> str:
    return f"{number:016d}.seg"


def encode_record(signal: Signal, payload: bytes, items: int) -> bytes:
    head = _HEADER.pack(MAGIC, _SIGNAL_CODE[signal], len(payload), items, 0)[:_CRC_OFFSET]
    crc = zlib.crc32(payload, zlib.crc32(head))
    return head + crc.to_bytes(4, "big")


def parse_record(buf: Any, pos: int) -> tuple[Signal, int, int] | None:
    """(signal, payload length, items) of a valid record at `pos` of `buf`, else None."""
    end = len(buf)
    if end - pos < HEADER_SIZE:
        return None
    magic, code, length, items, crc = _HEADER.unpack_from(buf, pos)
    if magic != MAGIC or code not in _CODE_SIGNAL or pos + HEADER_SIZE + length > end:
        return None
    view = memoryview(buf)
    actual = zlib.crc32(view[pos + HEADER_SIZE : pos + HEADER_SIZE + length], zlib.crc32(view[pos : pos + _CRC_OFFSET]))
    if actual != crc:
        return None
    return _CODE_SIGNAL[code], length, items


def held_entry(position: Position) -> bytes:
    return _ENTRY.pack(position[0], position[1])


def encode_state(generation: int, read: Position, held: Collection[bytes]) -> bytes:
    """One ack slot: everything before `read` was dispatched; of that, the `held_entry`s in `held` are
    not delivered yet."""
    body = _STATE.pack(_STATE_MAGIC, generation, read[0], read[1], len(held)) + b"".join(held)
    return body + zlib.crc32(body).to_bytes(4, "big")


def decode_state(chunk: bytes) -> tuple[int, Position, list[Position]] | None:
    """(generation, read position, held positions) of a valid slot, else None."""
    if len(chunk) < _STATE.size + 4:
        return None
    magic, generation, segment, offset, count = _STATE.unpack_from(chunk)
    end = _STATE.size + count * _ENTRY.size
    if magic != _STATE_MAGIC or count > MAX_HELD or end + 4 > len(chunk):
        return None
    if zlib.crc32(chunk[:end]) != int.from_bytes(chunk[end : end + 4], "big"):
        return None
    return generation, (segment, offset), [_ENTRY.unpack_from(chunk, _STATE.size + i * _ENTRY.size) for i in range(count)]


def _decode_legacy(chunk: bytes) -> tuple[int, Position, list[Position]] | None:
    if len(chunk) < _LEGACY_ACK.size:
        return None
    generation, segment, offset, crc = _LEGACY_ACK.unpack_from(chunk)
    if zlib.crc32(chunk[: _LEGACY_ACK.size - 4]) != crc:
        return None
    return generation, (segment, offset), []


def read_state(raw: bytes) -> tuple[int, Position, list[Position]] | None:
    """The newest valid slot of an ack file's content; the pre-dispatched-list layout if no slot has the new one."""
    for slot_size, decode in ((_STATE_SLOT, decode_state), (_LEGACY_SLOT, _decode_legacy)):
        found = [state for slot in range(2) if (state := decode(raw[slot * slot_size : (slot + 1) * slot_size])) is not None]
        if found:
            return max(found, key=lambda state: state[0])
    return None


def _resync(buf: bytes, pos: int) -> int:
    """The first offset after `pos` holding a valid record, else the end of `buf`."""
    resume = pos + 1
    while True:
        resume = buf.find(MAGIC, resume)
        if resume < 0:
            return len(buf)
        if parse_record(buf, resume) is not None:
            return resume
        resume += 1


def scan_segment(buf: bytes, start: int) -> tuple[list[tuple[int, Signal, int, int]], int, int]:
    """Valid records from `start`: ([(offset, signal, length, items)], corrupt regions, corrupt bytes).
    After a bad record, reading resumes at the next offset holding a valid one."""
    records: list[tuple[int, Signal, int, int]] = []
    regions = skipped = 0
    pos, end = start, len(buf)
    while pos < end:
        found = parse_record(buf, pos)
        if found is not None:
            records.append((pos, *found))
            pos += HEADER_SIZE + found[1]
            continue
        resume = _resync(buf, pos)
        regions += 1
        skipped += resume - pos
        pos = resume
    return records, regions, skipped


def _fsync_all(fds: list[int], directory: Path | None) -> None:
    for fd in fds:
        os.fsync(fd)
    if directory is not None:
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


class PersistentQueue:
    persistent = True

    def __init__(
        self,
        directory: Path | str,
        *,
        capacity: int,
        sizer: str,
        max_bytes: int,
        fsync: bool,
        log: Any,
        on_corrupt: Callable[[int, int], None] = lambda records, nbytes: None,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
        hot_cache_bytes: int = HOT_CACHE_BYTES,
        ack_every: int = 1,
    ):
        self.directory = Path(directory)
        self.capacity = capacity
        self.sizer_name = sizer
        self._sizer = make_sizer(sizer)
        self.max_bytes = max_bytes
        self.fsync = fsync
        self.log = log
        self.on_corrupt = on_corrupt
        self.segment_bytes = segment_bytes
        self.hot_cache_bytes = hot_cache_bytes
        self.ack_every = ack_every
        self.on_size_change: Callable[[int], None] = lambda size: None

        self.size = 0  # sizer units not yet delivered (waiting + in flight)
        self.bytes = 0  # record bytes on disk not yet delivered
        self.recovered = 0  # requests found on disk at open
        self._recovered_held = 0  # of which were dispatched and not delivered when the previous run ended
        self._pending: collections.deque[Request] = collections.deque()
        self._cached = 0  # serialized bytes of the pending requests that still hold their message
        # Dispatched, not delivered, each with its held_entry. In dispatch order, which is record order:
        # the first is the oldest record not delivered.
        self._in_flight: dict[Request, bytes] = {}
        self._abandoned: dict[Request, bytes] = {}
        self._segments: collections.deque[int] = collections.deque()  # on disk, oldest first
        self._read_fds: dict[int, int] = {}
        self._write_segment = 0
        self._write_offset = 0
        self._write_fd = -1
        self._ack_fd = -1
        self._lock_fd = -1
        self._ack_generation = 0
        self._unsaved = 0  # deliveries since the ack file was last written
        self._low: Position = (0, 0)  # the oldest record the ack file does not count as delivered
        self._writes = 0
        self._synced = 0
        self._sync_task: asyncio.Task[None] | None = None
        self._unsynced_fds: list[int] = []
        self._directory_dirty = False
        self._closed = False
        self._dispatching = True
        self._getters = Waiters()
        self._putters = Waiters()
        self._idle = Waiters()

    # --- open / recover ----------------------------------------------------------------------

    async def open(self) -> None:
        # Recovery reads every remaining segment: keep that disk I/O off the event loop.
        corrupt = await asyncio.to_thread(self._open_sync)
        self.on_size_change(self.size)
        if corrupt[0]:
            self.on_corrupt(*corrupt)
            self.log.warning(
                "persistent queue: skipped corrupt or truncated records (e.g. a write torn by a crash)",
                directory=str(self.directory),
                corrupt_regions=corrupt[0],
                corrupt_bytes=corrupt[1],
            )
        if self.recovered:
            self.log.info(
                "persistent queue: resending requests left undelivered by the previous run",
                directory=str(self.directory),
                requests=self.recovered,
                items=sum(r.items for r in self._pending),
                in_flight_at_stop=self._recovered_held,
            )

    def _open_sync(self) -> tuple[int, int]:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(self.directory / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            import fcntl

            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            self._lock_fd = -1
            raise OSError(errno.EBUSY, f"persistent queue {self.directory} is in use by another process") from None
        except ImportError:
            pass  # no flock on this platform: nothing stops a second daemon, as before
        self._ack_fd = os.open(self.directory / "ack", os.O_RDWR | os.O_CREAT, 0o600)
        state = read_state(os.pread(self._ack_fd, 2 * _STATE_SLOT, 0))
        read: Position | None = None
        held_at: dict[int, list[int]] = {}
        low: Position | None = None
        if state is not None:
            self._ack_generation, read, held = state
            held.sort()
            for segment, offset in held:
                held_at.setdefault(segment, []).append(offset)
            low = min([read, *held])
        numbers = sorted(int(p.name[:-4]) for p in self.directory.glob("*.seg") if p.name[:-4].isdigit())
        regions = skipped = 0
        for number in numbers:
            path = self.directory / segment_name(number)
            if low is not None and number < low[0]:
                path.unlink(missing_ok=True)  # fully delivered; the crash came before it was removed
                continue
            buf = path.read_bytes()
            self._segments.append(number)
            for offset in held_at.get(number, ()):  # dispatched, not delivered: sent again, first
                found = parse_record(buf, offset)
                if found is None:
                    regions += 1
                    skipped += _resync(buf, offset) - offset
                    continue
                self._recovered_held += 1
                self._add_pending(Request(found[0], None, found[2], self._sizer(found[0], None, found[2], found[1]), (number, offset, HEADER_SIZE + found[1])))
            if read is not None and number < read[0]:
                continue
            start = read[1] if read is not None and number == read[0] else 0
            records, bad_regions, bad_bytes = scan_segment(buf, min(start, len(buf)))
            regions += bad_regions
            skipped += bad_bytes
            for offset, signal, length, items in records:
                self._add_pending(Request(signal, None, items, self._sizer(signal, None, items, length), (number, offset, HEADER_SIZE + length)))
        self.recovered = len(self._pending)
        self._write_segment = (numbers[-1] if numbers else 0) + 1
        self._open_write_segment()
        self._save_state()
        return regions, skipped

    def _save_state(self) -> None:
        """Write which records are delivered to the ack file's older slot, then delete the segments it
        no longer needs. One pwrite, no fsync: kill -9 keeps it."""
        self._unsaved = 0
        read = self._pending[0].ref[:2] if self._pending else (self._write_segment, self._write_offset)
        held = self._in_flight
        if self._abandoned or len(held) > MAX_HELD:  # at shutdown, or more consumers than a slot holds
            ordered = sorted([*held.items(), *self._abandoned.items()], key=lambda item: item[0].ref)
            if len(ordered) > MAX_HELD:
                read = ordered[MAX_HELD][0].ref[:2]
                del ordered[MAX_HELD:]
            held = dict(ordered)
        self._ack_generation += 1
        os.pwrite(self._ack_fd, encode_state(self._ack_generation, read, held.values()), (self._ack_generation % 2) * _STATE_SLOT)
        self._low = next(iter(held)).ref[:2] if held else read
        self._reclaim()

    def _open_write_segment(self) -> None:
        path = self.directory / segment_name(self._write_segment)
        self._write_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._write_offset = 0
        self._segments.append(self._write_segment)
        self._directory_dirty = True

    # --- write side --------------------------------------------------------------------------

    async def put(self, signal: Signal, data: Any, *, block: bool) -> None:
        if self._closed:
            raise QueueClosed("shutting down")
        payload = data.SerializeToString()
        items = count_items(signal, data)
        size = self._sizer(signal, data, items, len(payload))
        record_bytes = HEADER_SIZE + len(payload)
        if size > self.capacity:
            raise TooLarge(f"a request of {size} {self.sizer_name} is larger than the whole queue ({self.capacity})")
        if record_bytes > self.max_bytes:
            raise TooLarge(f"a request of {record_bytes} bytes is larger than the queue's disk bound ({self.max_bytes})")
        while self.size + size > self.capacity or self.bytes + record_bytes > self.max_bytes:
            if self._closed:
                raise QueueClosed("shutting down")
            if not block:
                raise QueueFull(
                    f"persistent sending queue is full ({self.size}/{self.capacity} {self.sizer_name}, {self.bytes}/{self.max_bytes} bytes on disk)"
                )
            await self._putters.wait()
        if self._closed:
            raise QueueClosed("shutting down")
        position = self._append(signal, payload, items)
        keep = self._cached + record_bytes <= self.hot_cache_bytes
        if keep:
            self._cached += record_bytes
        self._add_pending(Request(signal, data if keep else None, items, size, (*position, record_bytes)))
        self.on_size_change(self.size)
        self._getters.wake_one()
        if self.fsync:
            await self._commit()

    def _add_pending(self, request: Request) -> None:
        self._pending.append(request)
        self.size += request.size
        self.bytes += request.ref[2]

    def _append(self, signal: Signal, payload: bytes, items: int) -> Position:
        if self._write_offset >= self.segment_bytes:
            self._rotate()
        header = encode_record(signal, payload, items)
        offset = self._write_offset
        total = len(header) + len(payload)
        try:
            written = os.pwritev(self._write_fd, [header, payload], offset)
            if written != total:
                raise OSError(errno.ENOSPC, f"short write to {segment_name(self._write_segment)} ({written} of {total} bytes)")
        except OSError:
            try:
                os.ftruncate(self._write_fd, offset)  # no half record for the next start to skip
            except OSError:
                pass
            raise
        self._write_offset = offset + total
        self._writes += 1
        return self._write_segment, offset

    def _rotate(self) -> None:
        if self.fsync:
            self._unsynced_fds.append(self._write_fd)  # closed once its last records are synced
        else:
            os.close(self._write_fd)
        self._write_segment += 1
        self._open_write_segment()

    async def _commit(self) -> None:
        """Wait for an fsync that covers every write so far; concurrent callers share one."""
        target = self._writes
        while self._synced < target:
            task = self._sync_task
            if task is None:
                task = self._sync_task = asyncio.get_running_loop().create_task(self._sync())
            await asyncio.shield(task)

    async def _sync(self) -> None:
        try:
            upto = self._writes
            retired, self._unsynced_fds = self._unsynced_fds, []
            directory = self.directory if self._directory_dirty else None
            self._directory_dirty = False
            await asyncio.to_thread(_fsync_all, [*retired, self._write_fd], directory)
            for fd in retired:
                os.close(fd)
            self._synced = max(self._synced, upto)
        finally:
            self._sync_task = None

    # --- read side ---------------------------------------------------------------------------

    async def get(self) -> Request | None:
        while True:
            while not (self._pending and self._dispatching):
                if self._closed and (not self._pending or not self._dispatching):
                    return None
                await self._getters.wait()
            request = self._pending.popleft()
            self._in_flight[request] = held_entry(request.ref)
            if request.data is not None:
                self._cached -= request.ref[2]
                return request
            try:
                request.data = self._load(request)
            except (OSError, ValueError) as exc:
                self.on_corrupt(1, request.ref[2])
                self.log.warning("persistent queue: unreadable record skipped", directory=str(self.directory), position=request.ref[:2], error=str(exc))
                self.done(request)
                continue
            return request

    def _load(self, request: Request) -> Any:
        segment, offset, length = request.ref
        fd = self._read_fds.get(segment)
        if fd is None:
            fd = self._read_fds[segment] = os.open(self.directory / segment_name(segment), os.O_RDONLY)
        buf = os.pread(fd, length, offset)
        found = parse_record(buf, 0)
        if found is None or found[0] is not request.signal:
            raise ValueError("checksum or header mismatch")
        message = REQUEST_TYPES[request.signal]()
        message.ParseFromString(memoryview(buf)[HEADER_SIZE:])  # type: ignore[arg-type]  # upb parses any buffer; the stub says bytes
        return message

    def done(self, request: Request) -> None:
        self._in_flight.pop(request, None)
        request.data = None
        self.size -= request.size
        self.bytes -= request.ref[2]
        self.on_size_change(self.size)
        self._unsaved += 1
        if self._unsaved >= self.ack_every or not self._in_flight:
            self._save_state()
        self._putters.wake_all()
        if not self._in_flight and not (self._pending and self._dispatching):
            self._idle.wake_all()

    def abandon(self, request: Request) -> None:
        """Delivery was interrupted by shutdown: keep the record; the next start sends it again."""
        entry = self._in_flight.pop(request, None)
        if entry is not None:
            self._abandoned[request] = entry
        if not self._in_flight:
            self._idle.wake_all()

    def _reclaim(self) -> None:
        """Delete segments wholly before the oldest record not recorded as delivered."""
        while self._segments and self._segments[0] < self._low[0] and self._segments[0] != self._write_segment:
            number = self._segments.popleft()
            fd = self._read_fds.pop(number, None)
            if fd is not None:
                os.close(fd)
            try:
                (self.directory / segment_name(number)).unlink()
            except FileNotFoundError:
                pass

    # --- shutdown ----------------------------------------------------------------------------

    def close(self, *, dispatch_rest: bool = False) -> None:
        """Take no more data. Records not yet dispatched stay on disk for the next start."""
        self._closed = True
        self._dispatching = dispatch_rest
        self._getters.wake_all()
        self._putters.wake_all()

    async def drained(self) -> None:
        while self._in_flight or (self._pending and self._dispatching):
            await self._idle.wait()

    def outstanding(self) -> list[Request]:
        return [*self._pending, *self._in_flight, *self._abandoned]

    async def release(self) -> None:
        if self._sync_task is not None:
            await asyncio.gather(self._sync_task, return_exceptions=True)
        if self._unsaved and self._ack_fd >= 0:
            self._save_state()  # a clean stop records every delivery, so the next start resends none
        fds = [*self._read_fds.values(), *self._unsynced_fds, self._write_fd, self._ack_fd]
        if self.fsync:
            await asyncio.to_thread(_fsync_all, [fd for fd in (self._write_fd, self._ack_fd) if fd >= 0], None)
        for fd in fds:
            if fd >= 0:
                os.close(fd)
        self._read_fds.clear()
        self._unsynced_fds = []
        self._write_fd = self._ack_fd = -1
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # closing drops the flock
            self._lock_fd = -1

    def disk_bytes(self) -> int:
        total = 0
        for number in self._segments:
            try:
                total += (self.directory / segment_name(number)).stat().st_size
            except FileNotFoundError:
                pass
        return total
