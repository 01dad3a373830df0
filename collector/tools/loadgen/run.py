"""One loadgen run: a closed loop (--rate max: --concurrency senders back to back) or an open loop paced to
--rate, the counters it keeps, a progress line per second, and the drain of what is in flight at the end."""

from __future__ import annotations

import asyncio
import functools
import math
import signal
import time
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from .options import UNITS, Options
from .report import build_report
from .templates import PayloadSource, Template, build_templates
from .transports import Transport, make_transport


@dataclass
class Stats:
    requests_ok: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    items_sent: int = 0
    items_acked: int = 0
    items_rejected: int = 0
    bytes_sent: int = 0
    inflight: int = 0
    latencies_ms: array = field(default_factory=lambda: array("d"))  # successful requests only


class LoadRun:
    def __init__(self, opts: Options, source: PayloadSource, transport: Transport, progress: TextIO | None) -> None:
        self.opts = opts
        self.source = source
        self.transport = transport
        self.progress = progress
        self.stats = Stats()
        self.stop = asyncio.Event()  # no more new requests
        self.abandon = asyncio.Event()  # stop waiting for in-flight ones too (second Ctrl-C)
        self.interrupted = False
        self.scheduled = 0
        self.late = 0
        self.slot_waits = 0  # sends that had to wait because --concurrency requests were already in flight
        self.max_lag = 0.0
        self.abandoned = 0

    def interrupt(self) -> None:
        self.interrupted = True
        if self.stop.is_set():
            self.abandon.set()
        self.stop.set()

    async def _send(self, payload: bytes, items: int) -> bool:
        st = self.stats
        st.items_sent += items
        st.bytes_sent += len(payload)
        st.inflight += 1
        started = time.perf_counter()
        try:
            error, rejected = await self.transport.send(payload)
        except asyncio.CancelledError:
            st.failures["CANCELLED"] += 1
            raise
        except Exception as exc:  # a transport bug must not kill the run; count it like any failure
            error, rejected = type(exc).__name__, 0
        finally:
            st.inflight -= 1
        if error is None:
            st.latencies_ms.append((time.perf_counter() - started) * 1000.0)
            st.requests_ok += 1
            st.items_acked += items - rejected
            st.items_rejected += rejected
            return True
        st.failures[error] += 1
        return False

    async def _closed_loop(self) -> set[asyncio.Task[None]]:
        async def worker() -> None:
            while not self.stop.is_set():
                payload, items = self.source.next()
                if not await self._send(payload, items):
                    await asyncio.sleep(0.001)  # avoid a hot spin when the server refuses instantly

        loop = asyncio.get_running_loop()
        timer = loop.call_later(self.opts.duration, self.stop.set)
        workers = {asyncio.create_task(worker()) for _ in range(self.opts.concurrency)}
        await self.stop.wait()
        timer.cancel()
        return workers

    async def _open_loop(self) -> set[asyncio.Task[bool]]:
        assert self.opts.rate is not None
        duration = self.opts.duration
        interval = self.opts.batch_size / self.opts.rate
        total = max(1, math.ceil(duration / interval - 1e-9))
        late_after = max(interval, 0.010)
        slots = asyncio.Semaphore(self.opts.concurrency)
        inflight: set[asyncio.Task[bool]] = set()
        stop_waiter = asyncio.create_task(self.stop.wait())
        t0 = time.perf_counter()
        try:
            for k in range(total):
                due = t0 + k * interval
                while not self.stop.is_set() and (delay := due - time.perf_counter()) > 0:
                    await asyncio.sleep(min(delay, 0.05))
                if self.stop.is_set() or time.perf_counter() - t0 >= duration:
                    break
                if slots.locked():
                    self.slot_waits += 1
                    acquire = asyncio.create_task(slots.acquire())
                    await asyncio.wait({acquire, stop_waiter}, return_when=asyncio.FIRST_COMPLETED)
                    if not acquire.done():
                        acquire.cancel()
                        break
                else:
                    await slots.acquire()
                lag = time.perf_counter() - due
                if lag > late_after:
                    self.late += 1
                self.max_lag = max(self.max_lag, lag)
                payload, items = self.source.next()
                task = asyncio.create_task(self._send(payload, items))
                task.add_done_callback(lambda _t: slots.release())
                task.add_done_callback(inflight.discard)
                inflight.add(task)
            else:
                # Every send went out; keep the measured window equal to --duration.
                while not self.stop.is_set() and (delay := t0 + duration - time.perf_counter()) > 0:
                    await asyncio.sleep(min(delay, 0.05))
        finally:
            stop_waiter.cancel()
        # Sends that were due by the time sending stopped (all of them unless interrupted): more than were
        # actually sent means the generator fell behind the requested rate.
        self.scheduled = min(total, math.ceil(min(time.perf_counter() - t0, duration) / interval - 1e-9))
        self.stop.set()
        return inflight

    async def _report_progress(self, t0: float) -> None:
        assert self.progress is not None
        tty = self.progress.isatty()
        unit = UNITS[self.opts.signal]
        last_sent, last_t = 0, t0
        while True:
            await asyncio.sleep(1.0)
            now = time.perf_counter()
            st = self.stats
            rate = (st.items_sent - last_sent) / (now - last_t)
            last_sent, last_t = st.items_sent, now
            failed = sum(st.failures.values())
            line = (f"loadgen {now - t0:6.1f}s  sent {st.items_sent:,} {unit} ({rate:,.0f}/s)  "
                    f"acked {st.items_acked:,}  failed {failed:,} req  in-flight {st.inflight}")
            self.progress.write(("\r" + line + "\x1b[K") if tty else line + "\n")
            self.progress.flush()

    async def run(self) -> dict[str, Any]:
        start_unix = time.time()
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        progress = asyncio.create_task(self._report_progress(t0)) if self.progress is not None else None
        try:
            pending: set[asyncio.Task[Any]]
            if self.opts.rate is None:
                pending = await self._closed_loop()
            else:
                pending = await self._open_loop()
            send_end = time.perf_counter()
            pending = {t for t in pending if not t.done()}
            if pending:
                abandon = asyncio.create_task(self.abandon.wait())
                deadline = time.perf_counter() + self.opts.drain_timeout
                while pending and not self.abandon.is_set():
                    remaining = deadline - time.perf_counter()
                    if remaining <= 0:
                        break
                    _, pending = await asyncio.wait(pending | {abandon}, timeout=remaining,
                                                    return_when=asyncio.FIRST_COMPLETED)
                    pending.discard(abandon)
                abandon.cancel()
                for task in pending:
                    task.cancel()
                self.abandoned = len(pending)
                if pending:
                    await asyncio.gather(*pending, return_exceptions=True)
        finally:
            if progress is not None:
                progress.cancel()
            if self.progress is not None and self.progress.isatty():
                self.progress.write("\n")
        end = time.perf_counter()
        return build_report(self, start_unix, t0, send_end, end, time.process_time() - cpu0)


async def _processed_templates(specs: list[str], signal_name: str, build: Callable[..., list[Template]]) -> list[Template]:
    """Templates whose requests went through a processor chain first. The chain runs on this event loop (its
    processors may wait, e.g. token_count loading an encoding) while a thread builds the templates."""
    from ...component import Signal
    from ...envelope import Envelope
    from ...testing import BuildError, build_chain

    if signal_name != "traces":
        raise BuildError("--processed-by applies to traces only")
    chain = await build_chain(specs)
    loop = asyncio.get_running_loop()

    def transform(message: Any) -> None:
        asyncio.run_coroutine_threadsafe(chain.head.consume(Envelope(Signal.TRACES, message)), loop).result()

    try:
        return await asyncio.to_thread(build, transform=transform)
    finally:
        await chain.shutdown()


async def run_async(opts: Options, *, progress: TextIO | None = None, handle_signals: bool = False,
                    templates: list[Template] | None = None) -> dict[str, Any]:
    """Build templates (unless given), run the load, return the report dict.

    With `handle_signals`, SIGINT and SIGTERM are taken from the start: one that arrives while the templates
    are built (seconds on a busy host) stops the run before it sends, and the report is still printed."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    run: LoadRun | None = None
    interrupted_early = False

    def on_signal() -> None:
        nonlocal interrupted_early
        if run is None:
            interrupted_early = True
        else:
            run.interrupt()

    if handle_signals:
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(signum, on_signal)
                installed.append(signum)
            except (NotImplementedError, RuntimeError):
                pass
    transport = None
    try:
        if templates is None:
            encoding = "json" if opts.protocol == "http/json" else "proto"
            build = functools.partial(build_templates, profile=opts.profile, signal_name=opts.signal, encoding=encoding,
                                      batch_size=opts.batch_size, count=opts.templates, seed=opts.seed,
                                      usage=opts.usage, pii_share=opts.pii_share)
            if opts.processed_by:
                templates = await _processed_templates(opts.processed_by, opts.signal, build)
            else:
                templates = build()
        transport = make_transport(opts)
        await transport.start()
        run = LoadRun(opts, PayloadSource(templates, opts.seed), transport, progress)
        if interrupted_early:
            run.interrupt()
        return await run.run()
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
        if transport is not None:
            await transport.close()
