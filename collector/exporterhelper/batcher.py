"""otelcol's `sending_queue.batch` (exporterhelper's queuebatch): requests taken from the queue are merged
per signal into batches, sent once a batch holds `min_size` (in the batch's `sizer` units: items or
bytes) or `flush_timeout` after its first request arrived; with `max_size`, a batch never exceeds it and
a request that would is split (spans and log records one by one, metrics by whole metric with all its
data points). Batches are sent by up to `num_consumers` at a time, each with the retry rules of one
request.

A queued request leaves the queue (its room freed, a persistent queue's record acknowledged) only once
every batch holding a part of it has been delivered (sent or dropped); shutdown sends what is pending.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from ..component import Signal
from ..config import Duration, Invalid, option
from ..pdata import FIELDS, REQUEST_TYPES, RequestBuilder, count_items
from .queue import Request


@dataclass
class BatchConfig:
    flush_timeout: Duration = option(Duration(0.2), "Longest time a batch waits for more requests after its first one.")
    min_size: int = option(8192, "A batch is sent once it holds this much (in `sizer` units).")
    max_size: int = option(0, "Largest batch; larger ones are split. 0 = no limit.")
    sizer: Literal["items", "bytes"] | None = option(None, "What min_size and max_size count: `items` (spans, log records, data points) or `bytes` (serialized). Unset: the queue's sizer when that is items or bytes, else items (otelcol's rule).")

    def validate(self) -> None:
        if self.flush_timeout <= 0:
            raise Invalid("must be positive", "flush_timeout")
        if self.min_size < 0:
            raise Invalid("must be non-negative", "min_size")
        if self.max_size < 0:
            raise Invalid("must be non-negative", "max_size")
        if 0 < self.max_size < self.min_size:
            raise Invalid(f"max_size ({self.max_size}) must be greater or equal to min_size ({self.min_size})", "max_size")

    def resolved_sizer(self, queue_sizer: str) -> str:
        if self.sizer is not None:
            return self.sizer
        return queue_sizer if queue_sizer in ("items", "bytes") else "items"


def _item_cost(signal: Signal, item: Any, sizer: str) -> int:
    if sizer == "bytes":
        return item.ByteSize() + 4  # the item's field tag and length prefix, roughly
    if signal is Signal.METRICS:
        kind = item.WhichOneof("data")
        return len(getattr(item, kind).data_points) if kind is not None else 0
    return 1


def size_of(signal: Signal, data: Any, sizer: str) -> int:
    return data.ByteSize() if sizer == "bytes" else count_items(signal, data)


def split(signal: Signal, data: Any, room: int, sizer: str) -> tuple[Any, Any]:
    """`data` cut in two: a first part of at most `room` units (at least one item, so a batch always
    moves on) and the rest, each keeping its items' resources and scopes."""
    resources_field, scopes_field, items_field = FIELDS[signal]
    head, tail = RequestBuilder(signal), RequestBuilder(signal)
    used, full = 0, False
    for resource in getattr(data, resources_field):
        for scope in getattr(resource, scopes_field):
            for item in getattr(scope, items_field):
                cost = _item_cost(signal, item, sizer)
                if not full and (used + cost <= room or used == 0):
                    head.items_for(resource, scope).add().CopyFrom(item)
                    used += cost
                else:
                    full = True
                    tail.items_for(resource, scope).add().CopyFrom(item)
    return head.request, tail.request


class _Batch:
    __slots__ = ("signal", "parts", "requests", "size", "deadline")

    def __init__(self, signal: Signal, deadline: float):
        self.signal = signal
        self.parts: list[Any] = []
        self.requests: list[Request] = []  # each queued request with a part here (once per part)
        self.size = 0
        self.deadline = deadline

    def merged(self) -> Any:
        if len(self.parts) == 1:
            return self.parts[0]
        out = REQUEST_TYPES[self.signal]()
        resources_field = FIELDS[self.signal][0]
        for part in self.parts:
            getattr(out, resources_field).extend(getattr(part, resources_field))
        return out


Deliver = Callable[[Signal, Any, int], Awaitable[bool]]


class Batcher:
    """Runs in place of the queue's consumers: `run()` reads the queue until it closes. `deliver(signal,
    data, items)` sends one batch (with retries) and returns False when shutdown interrupted it."""

    def __init__(self, queue: Any, config: BatchConfig, queue_sizer: str, num_consumers: int, deliver: Deliver):
        self.queue = queue
        self.config = config
        self.sizer = config.resolved_sizer(queue_sizer)
        self.deliver = deliver
        self._slots = asyncio.Semaphore(num_consumers)
        self._arrived: asyncio.Queue[Request | None] = asyncio.Queue()
        self._open: dict[Signal, _Batch] = {}
        self._parts_left: dict[Request, int] = {}
        self._abandoned: set[Request] = set()
        self._sending: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        reader = asyncio.get_running_loop().create_task(self._read())
        try:
            while True:
                timeout = self._next_deadline()
                try:
                    request = await (asyncio.wait_for(self._arrived.get(), timeout) if timeout is not None else self._arrived.get())
                except TimeoutError:
                    self._flush_due()
                    continue
                if request is None:
                    break
                await self._add(request)
            for signal in list(self._open):
                await self._flush(signal)
            while self._sending:
                await asyncio.gather(*list(self._sending), return_exceptions=True)
        finally:
            reader.cancel()
            for task in list(self._sending):
                task.cancel()

    async def _read(self) -> None:
        # A queue read is not interrupted by a flush timer: it runs here, on its own.
        while True:
            request = await self.queue.get()
            self._arrived.put_nowait(request)
            if request is None:
                return

    def _next_deadline(self) -> float | None:
        if not self._open:
            return None
        return max(0.0, min(b.deadline for b in self._open.values()) - time.monotonic())

    def _flush_due(self) -> None:
        now = time.monotonic()
        for signal, batch in list(self._open.items()):
            if batch.deadline <= now:
                self._start(self._open.pop(signal))

    async def _add(self, request: Request) -> None:
        signal, data = request.signal, request.data
        size = size_of(signal, data, self.sizer)
        limit = self.config.max_size
        while True:
            batch = self._open.get(signal)
            if batch is None:
                batch = self._open[signal] = _Batch(signal, time.monotonic() + float(self.config.flush_timeout))
            if limit and batch.size + size > limit:
                head, data = split(signal, data, limit - batch.size, self.sizer)
                head_size = size_of(signal, head, self.sizer)
                self._put(batch, request, head, head_size)
                size = size_of(signal, data, self.sizer)
                await self._flush(signal)
                if count_items(signal, data) == 0:
                    return
                continue
            self._put(batch, request, data, size)
            if batch.size >= self.config.min_size:
                await self._flush(signal)
            return

    def _put(self, batch: _Batch, request: Request, data: Any, size: int) -> None:
        batch.parts.append(data)
        batch.requests.append(request)
        batch.size += size
        self._parts_left[request] = self._parts_left.get(request, 0) + 1

    async def _flush(self, signal: Signal) -> None:
        batch = self._open.pop(signal, None)
        if batch is not None:
            await self._slots.acquire()  # at most num_consumers batches in flight; the queue holds the rest
            self._start(batch, slot_held=True)

    def _start(self, batch: _Batch, slot_held: bool = False) -> None:
        task = asyncio.get_running_loop().create_task(self._send(batch, slot_held))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, batch: _Batch, slot_held: bool) -> None:
        delivered = False  # also when cancelled at shutdown: the batch's requests are abandoned
        try:
            if not slot_held:
                await self._slots.acquire()
                slot_held = True
            data = batch.merged()
            delivered = await self.deliver(batch.signal, data, count_items(batch.signal, data))
        finally:
            if slot_held:
                self._slots.release()
            self._settle(batch, delivered)

    def _settle(self, batch: _Batch, delivered: bool) -> None:
        for request in batch.requests:
            if not delivered:
                self._abandoned.add(request)
            left = self._parts_left[request] - 1
            if left:
                self._parts_left[request] = left
                continue
            del self._parts_left[request]
            if request in self._abandoned:
                self._abandoned.discard(request)
                self.queue.abandon(request)
            else:
                self.queue.done(request)
