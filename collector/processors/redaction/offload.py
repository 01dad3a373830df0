"""Which requests the redaction processor redacts on the event loop, and the thread that redacts the others
(`redaction: {workers: 0}`).

On the event loop nothing else runs while a request is redacted: no other client, no health check. What a
request costs is about its bytes (the prefilter pass, the walk of what it hit; ~15-40 ns a byte) plus its
prefilter hits (the exact patterns, validators and edits; ~25-50 µs each, e-mails to phone numbers, with
the exact pass in Python, about a third of that with it in C: benchmarks/redaction_cpu.py --profile dense). So
`LoopBudget` lets a request on the loop only if it has at most `inline_max_bytes` and `inline_max_hits`:
the hits are counted on the loop with the prefilter the walk starts with anyway, up to the limit, and the
walk that follows gets them back instead of finding them again. Those limits keep a request's turn on the
loop to ~20 ms; a request past either is redacted in the thread.

The walk is Python and holds the GIL, but the interpreter hands the GIL to a waiting thread every switch
interval (5 ms), the re2 passes release it, the C exact pass releases it on a value of 4096+ characters (a
shorter value is a short call), and no other step is one long C call (no sort calls back into Python). So
the loop waits a few milliseconds at a time. There is one thread: large requests
queue behind each other there, never in front of the loop, and two of them would only share the GIL.

The thread runs a `Redactor` of its own, built from the same config on its first request, as a worker
process builds its own (worker.py): none of the loop's Redactor state is shared between threads. What a
request found and cost comes back to the loop, which turns it into metrics and logs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ...component import Signal
from .scan_batch import Stats


class LoopBudget:
    """Whether a request is cheap enough to redact on the event loop; `hits` is the prefilter the loop's
    walk gates with, which hands back the hits `inline` counted for the same bytes."""

    def __init__(self, scanner: Any, max_bytes: int, max_hits: int):
        self.scanner = scanner
        self.max_bytes = max_bytes
        self.max_hits = max_hits
        # The last request `inline` let on the loop and its hits, until its walk asks (or the next request).
        self.counted: tuple[bytes, tuple[list[int], list[int]]] | None = None

    def inline(self, payload: bytes) -> bool:
        """`payload`: the request's protobuf bytes, which the walk must then be given (the very object)."""
        self.counted = None
        if len(payload) > self.max_bytes:
            return False
        if not self.scanner.has_wire_prefilter:
            return True  # no hits to count: the size alone decides
        hits = self.scanner.wire_hits_upto(payload, self.max_hits)
        if hits is None:
            return False
        self.counted = (payload, hits)
        return True

    def hits(self, buf: bytes) -> tuple[list[int], list[int]]:
        counted, self.counted = self.counted, None
        if counted is not None and counted[0] is buf:
            return counted[1]
        return self.scanner.wire_hits(buf)


@dataclass
class Outcome:
    stats: Stats
    errors: int  # values masked whole because scanning them failed (fail closed)
    error_key: str | None  # where the last of them was, and what failed, for the daemon's log
    error_type: str | None


class ThreadLane:
    """The thread, and the requests it has been handed and not yet answered."""

    def __init__(self, config: Any):
        self.config = config
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="redaction")
        self.walks: dict[Signal, Callable[[Any, bytes | None], Stats]] | None = None  # built in the thread
        self.errors: list[Any] = [0, None, None]  # the current request's fail-closed errors: count, last key, type
        self.pending: set[asyncio.Future[Outcome]] = set()

    def _on_error(self, where: str, exc: BaseException | None) -> None:
        errors = self.errors
        errors[0] += 1
        errors[1], errors[2] = where, type(exc).__name__ if exc is not None else "detector error"

    def _redact(self, signal: Signal, request: Any, payload: bytes | None) -> Outcome:
        """In the thread: redacts `request` in place (`payload`: its bytes, as the processor's walk takes them)."""
        if self.walks is None:
            from .build import build_redactor

            redactor, _scanner = build_redactor(self.config, on_error=self._on_error)
            self.walks = {Signal.TRACES: redactor.traces, Signal.LOGS: redactor.logs, Signal.METRICS: redactor.metrics}
        self.errors = [0, None, None]
        stats = self.walks[signal](request, payload)
        count, key, error = self.errors
        return Outcome(stats, count, key, error)

    async def redact(self, signal: Signal, request: Any, payload: bytes | None) -> Outcome:
        """The request is the caller's alone until this returns: the thread edits it in place."""
        future = asyncio.get_running_loop().run_in_executor(self.executor, self._redact, signal, request, payload)
        self.pending.add(future)
        future.add_done_callback(self.pending.discard)
        return await future

    async def close(self, timeout: float = 10.0) -> None:
        if self.pending:
            await asyncio.wait([*self.pending], timeout=timeout)
        self.executor.shutdown(wait=False)
