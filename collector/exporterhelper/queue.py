"""The in-memory sending queue, bounded in sizer units.

A request occupies the queue from the moment it is accepted until its delivery has ended (sent,
dropped or given up), so `queue_size` bounds what the exporter holds in memory, in flight included.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from typing import Any

from ..component import Signal
from ..pdata import count_items
from .sizer import sizer as make_sizer


class QueueFull(Exception):
    """No room now; the caller may try again later."""


class TooLarge(Exception):
    """The request alone is larger than the whole queue: waiting or retrying can never help."""


class QueueClosed(Exception):
    """The exporter is shutting down and takes no more data."""


class Request:
    """One queued request and what the queue needs to release it when delivery ends."""

    __slots__ = ("signal", "data", "items", "size", "ref")

    def __init__(self, signal: Signal, data: Any, items: int, size: int, ref: Any = None):
        self.signal = signal
        self.data = data
        self.items = items
        self.size = size
        self.ref = ref  # the persistent queue's record position; None in memory


class Waiters:
    """Futures parked until a state change; woken ones re-check their condition themselves."""

    __slots__ = ("_futures",)

    def __init__(self) -> None:
        self._futures: collections.deque[asyncio.Future[None]] = collections.deque()

    async def wait(self) -> None:
        future = asyncio.get_running_loop().create_future()
        self._futures.append(future)
        try:
            await future
        finally:
            if not future.done():
                future.cancel()

    def wake_one(self) -> None:
        while self._futures:
            future = self._futures.popleft()
            if not future.done():
                future.set_result(None)
                return

    def wake_all(self) -> None:
        while self._futures:
            future = self._futures.popleft()
            if not future.done():
                future.set_result(None)


class MemoryQueue:
    persistent = False

    def __init__(self, capacity: int, sizer: str):
        self.capacity = capacity
        self.sizer_name = sizer
        self._sizer = make_sizer(sizer)
        self.size = 0
        self._ready: collections.deque[Request] = collections.deque()
        self._in_flight: set[Request] = set()
        self._lost: list[Request] = []
        self._closed = False
        self._dispatching = True
        self._getters = Waiters()
        self._putters = Waiters()
        self._idle = Waiters()
        self.on_size_change: Callable[[int], None] = lambda size: None

    async def put(self, signal: Signal, data: Any, *, block: bool) -> None:
        items = count_items(signal, data)
        size = self._sizer(signal, data, items, -1)
        if size > self.capacity:
            raise TooLarge(f"a request of {size} {self.sizer_name} is larger than the whole queue ({self.capacity})")
        while self.size + size > self.capacity:
            if self._closed:
                raise QueueClosed("shutting down")
            if not block:
                raise QueueFull(f"sending queue is full ({self.size}/{self.capacity} {self.sizer_name})")
            await self._putters.wait()
        if self._closed:
            raise QueueClosed("shutting down")
        self._ready.append(Request(signal, data, items, size))
        self.size += size
        self.on_size_change(self.size)
        self._getters.wake_one()

    async def get(self) -> Request | None:
        """The next request to send, or None once the queue is closed and nothing more is to be sent."""
        while not (self._ready and self._dispatching):
            if self._closed and (not self._ready or not self._dispatching):
                return None
            await self._getters.wait()
        request = self._ready.popleft()
        self._in_flight.add(request)
        return request

    def done(self, request: Request) -> None:
        """Delivery of `request` ended (sent or dropped): its room is free again."""
        self._in_flight.discard(request)
        self.size -= request.size
        self.on_size_change(self.size)
        self._putters.wake_all()
        if not self._ready and not self._in_flight:
            self._idle.wake_all()

    def abandon(self, request: Request) -> None:
        """Delivery of `request` was interrupted by shutdown: in memory that means it is lost."""
        self._lost.append(request)
        self.done(request)

    def close(self, *, dispatch_rest: bool = True) -> None:
        """Take no more data; consumers finish what is queued (or, with dispatch_rest=False, only what they hold)."""
        self._closed = True
        self._dispatching = dispatch_rest
        self._getters.wake_all()
        self._putters.wake_all()

    async def drained(self) -> None:
        while self._ready or self._in_flight:
            await self._idle.wait()

    def outstanding(self) -> list[Request]:
        """What was accepted and has not been delivered: waiting plus in flight."""
        return [*self._ready, *self._in_flight, *self._lost]

    def take_waiting(self) -> list[Request]:
        """Remove and return the requests no consumer has started sending (the load_balancing exporter hands
        them to another backend when theirs leaves the ring)."""
        taken = list(self._ready)
        self._ready.clear()
        for request in taken:
            self.size -= request.size
        if taken:
            self.on_size_change(self.size)
            self._putters.wake_all()
            if not self._in_flight:
                self._idle.wake_all()
        return taken

    async def open(self) -> None:
        pass

    async def release(self) -> None:
        pass
