"""The persistent sending queue: a write-ahead log of requests in one directory per exporter.

Layout of the directory:
- `NNNNNNNNNNNNNNNN.seg` segment files, appended to in order. Each record is a 17-byte header
  (magic `LCQ\\x01`, signal, payload length, item count, CRC-32 of header and payload) and the serialized
  Export*ServiceRequest. A new segment starts every `segment_bytes`, and at every start, so a torn tail
  left by a crash is never appended to.
- `ack`: the position of the first record not yet delivered, in two alternating checksummed slots so a
  torn write of one slot leaves the other readable.
- `lock`: an exclusive flock, so two daemons never share one queue.

Guarantee: `put()` returns only after the record is written to the segment file (so it survives the
process dying, `kill -9` included); with `fsync` it also waits for an fsync of the segment (so it survives
power loss), shared by every put that arrived meanwhile (group commit). Consumers advance the ack
position only past requests whose delivery has ended, so after a crash everything not yet delivered is
sent again: at-least-once, with duplicates for requests that were in flight (or delivered out of order
ahead of a slower one) at the moment of the crash. The ack file itself is not fsynced: if it is lost,
the cost is more duplicates, never loss.

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
from collections.abc import Callable
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
_ACK = struct.Struct(">QQQI")  # generation, segment, offset, crc32 of the first three
_ACK_SLOT = 32
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
        resume = pos + 1
        while True:
            resume = buf.find(MAGIC, resume)
            if resume < 0:
                resume = end
                break
            if parse_record(buf, resume) is not None:
                break
            resume += 1
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
        self.on_size_change: Callable[[int], None] = lambda size: None

        self.size = 0  # sizer units not yet delivered (waiting + in flight)
        self.bytes = 0  # record bytes on disk not yet delivered
        self.recovered = 0  # requests found on disk at open
        self._pending: collections.deque[Request] = collections.deque()
        self._cached = 0  # serialized bytes of the pending requests that still hold their message
        self._in_flight: set[Request] = set()
        self._abandoned: set[Request] = set()
        self._segments: collections.deque[int] = collections.deque()  # on disk, oldest first
        self._read_fds: dict[int, int] = {}
        self._write_segment = 0
        self._write_offset = 0
        self._write_fd = -1
        self._ack_fd = -1
        self._lock_fd = -1
        self._ack_generation = 0
        self._acked: Position = (0, 0)
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
        acked = self._read_ack()
        numbers = sorted(int(p.name[:-4]) for p in self.directory.glob("*.seg") if p.name[:-4].isdigit())
        regions = skipped = 0
        for number in numbers:
            path = self.directory / segment_name(number)
            if acked is not None and number < acked[0]:
                path.unlink(missing_ok=True)  # fully delivered; the crash came before it was removed
                continue
            buf = path.read_bytes()
            start = acked[1] if acked is not None and number == acked[0] else 0
            records, bad_regions, bad_bytes = scan_segment(buf, min(start, len(buf)))
            regions += bad_regions
            skipped += bad_bytes
            self._segments.append(number)
            for offset, signal, length, items in records:
                self._add_pending(Request(signal, None, items, self._sizer(signal, None, items, length), (number, offset, HEADER_SIZE + length)))
        self.recovered = len(self._pending)
        self._write_segment = (numbers[-1] if numbers else 0) + 1
        self._open_write_segment()
        self._acked = self._pending[0].ref[:2] if self._pending else (self._write_segment, 0)
        self._write_ack(self._acked)
        self._reclaim()
        return regions, skipped

    def _read_ack(self) -> Position | None:
        raw = os.pread(self._ack_fd, 2 * _ACK_SLOT, 0)
        best: tuple[int, int, int] | None = None
        for slot in range(2):
            chunk = raw[slot * _ACK_SLOT : slot * _ACK_SLOT + _ACK.size]
            if len(chunk) < _ACK.size:
                continue
            generation, segment, offset, crc = _ACK.unpack(chunk)
            if zlib.crc32(chunk[: _ACK.size - 4]) != crc:
                continue
            if best is None or generation > best[0]:
                best = (generation, segment, offset)
        if best is None:
            return None
        self._ack_generation = best[0]
        return best[1], best[2]

    def _write_ack(self, position: Position) -> None:
        self._ack_generation += 1
        body = _ACK.pack(self._ack_generation, position[0], position[1], 0)[: _ACK.size - 4]
        os.pwrite(self._ack_fd, body + zlib.crc32(body).to_bytes(4, "big"), (self._ack_generation % 2) * _ACK_SLOT)

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
            self._in_flight.add(request)
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
        self._in_flight.discard(request)
        request.data = None
        self.size -= request.size
        self.bytes -= request.ref[2]
        self.on_size_change(self.size)
        self._advance_ack()
        self._putters.wake_all()
        if not self._in_flight and not (self._pending and self._dispatching):
            self._idle.wake_all()

    def abandon(self, request: Request) -> None:
        """Delivery was interrupted by shutdown: keep the record; the next start sends it again."""
        self._in_flight.discard(request)
        self._abandoned.add(request)
        if not self._in_flight:
            self._idle.wake_all()

    def _advance_ack(self) -> None:
        held = self._in_flight | self._abandoned
        if held:
            position = min(r.ref[:2] for r in held)
        elif self._pending:
            position = self._pending[0].ref[:2]
        else:
            position = (self._write_segment, self._write_offset)
        if position > self._acked:
            self._acked = position
            self._write_ack(position)
            self._reclaim()

    def _reclaim(self) -> None:
        """Delete segments wholly before the ack position: everything in them was delivered."""
        while self._segments and self._segments[0] < self._acked[0] and self._segments[0] != self._write_segment:
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
