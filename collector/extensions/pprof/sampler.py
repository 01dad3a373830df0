"""A sampling CPU profiler of every Python thread of the process, for the pprof extension's CPU profiles.

It works as Go's CPU profiler does: an interval timer on the process's CPU time (setitimer ITIMER_PROF, SIGPROF
every 10 ms of CPU used by any thread, so an idle daemon is not interrupted at all). At each signal the
handler, which Python runs in the main thread (the event loop's) at the next bytecode boundary, reads every
thread's own CPU clock (time.pthread_getcpuclockid) and charges what each used since the previous tick to the
stack it is in: the main thread's interrupted frame, and the other threads' current frames
(sys._current_frames()). A waiting thread (a worker on its queue) used no CPU and adds nothing, so the profile
shows where CPU goes, not where threads wait (the goroutine dump shows that).

Why a signal and not a sampling thread: a Python thread gets the interpreter lock only when the running thread
releases it, which the event loop does mostly in system calls, so a sampling thread would see the loop almost
only in socket writes and epoll. The signal handler instead interrupts the main thread wherever it is, except
inside a long C call (a large protobuf parse), which is charged to the frame that made the call once it
returns. Threads that never run Python code (gRPC's C threads) have no Python stack and are not seen.

The process has one ITIMER_PROF: every sampler running (an HTTP profile, save_to_file's whole run) shares it,
and it is switched off when the last one stops. Samplers start and stop in the main thread (signal handlers
can only be installed there); the daemon's extensions run in it."""

from __future__ import annotations

import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

from .profile import Frame, ProfileBuilder, Stack

HZ = 100  # ticks per second of CPU time, as Go's runtime/pprof
MAX_DEPTH = 256  # frames kept of a stack, innermost first


def frame_of(frame: FrameType) -> Frame:
    code = frame.f_code
    module = frame.f_globals.get("__name__") or "?"
    if module == "__main__":  # run with -m: the module's own name (collector.cli), not __main__
        spec = frame.f_globals.get("__spec__")
        module = getattr(spec, "name", None) or module
    return (f"{module}.{code.co_qualname}", code.co_filename, code.co_firstlineno, frame.f_lineno or 0)


def stack_of(frame: FrameType | None) -> Stack:
    """A thread's stack, innermost frame first."""
    out: list[Frame] = []
    while frame is not None and len(out) < MAX_DEPTH:
        out.append(frame_of(frame))
        frame = frame.f_back
    return tuple(out)


def _cpu_ns(ident: int) -> int | None:
    try:
        return time.clock_gettime_ns(time.pthread_getcpuclockid(ident))
    except (OSError, OverflowError):  # the thread ended between the listing and the read
        return None


class _Timer:
    """The process's SIGPROF timer and the samplers it feeds."""

    samplers: list[CPUSampler] = []
    last_cpu: dict[int, int] = {}
    previous: Any = None

    @classmethod
    def add(cls, sampler: CPUSampler) -> None:
        if not cls.samplers:
            cls.last_cpu = {ident: cpu for ident in sys._current_frames() if (cpu := _cpu_ns(ident)) is not None}
            cls.previous = signal.signal(signal.SIGPROF, cls.tick)
            interval = 1.0 / HZ
            signal.setitimer(signal.ITIMER_PROF, interval, interval)
        cls.samplers.append(sampler)

    @classmethod
    def remove(cls, sampler: CPUSampler) -> None:
        if sampler not in cls.samplers:
            return
        cls.samplers.remove(sampler)
        if not cls.samplers:
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.signal(signal.SIGPROF, cls.previous if cls.previous is not None else signal.SIG_DFL)

    @classmethod
    def tick(cls, _: int, interrupted: FrameType | None) -> None:
        frames: dict[int, FrameType | None] = dict(sys._current_frames())
        main = threading.main_thread().ident
        if main is not None:
            frames[main] = interrupted  # not this handler's own frame
        # threading's table read without its lock: the handler may have interrupted a thread holding that lock.
        names = {ident: t.name for ident, t in dict(threading._active).items()}  # type: ignore[attr-defined]
        last = cls.last_cpu
        charged: list[tuple[tuple[Stack, str], int]] = []
        for ident, frame in frames.items():
            cpu = _cpu_ns(ident)
            if cpu is None:
                continue
            before = last.get(ident)
            last[ident] = cpu
            if before is not None and cpu > before:
                charged.append(((stack_of(frame), names.get(ident, f"thread-{ident}")), cpu - before))
        for ident in [i for i in last if i not in frames]:
            del last[ident]
        for sampler in cls.samplers:
            sampler.record(charged)


class CPUSampler:
    """Start it, let it run, stop it: `gzipped()` then gives what it saw as a pprof CPU profile."""

    def __init__(self) -> None:
        self.period_ns = 1_000_000_000 // HZ
        self._seen: dict[tuple[Stack, str], list[int]] = {}  # (stack, thread name) -> [samples, cpu ns]
        self.ticks = 0
        self.started_ns = 0
        self.stopped_ns = 0

    def start(self) -> None:
        self.started_ns = time.time_ns()
        _Timer.add(self)

    def stop(self) -> None:
        _Timer.remove(self)
        self.stopped_ns = time.time_ns()

    def record(self, charged: list[tuple[tuple[Stack, str], int]]) -> None:
        self.ticks += 1
        for key, cpu in charged:
            entry = self._seen.get(key)
            if entry is None:
                self._seen[key] = [1, cpu]
            else:
                entry[0] += 1
                entry[1] += cpu

    def profile(self) -> ProfileBuilder:
        """What the sampler saw, typed as Go's CPU profiles are (samples/count, cpu/nanoseconds), each sample
        labelled with its thread's name."""
        builder = ProfileBuilder((("samples", "count"), ("cpu", "nanoseconds")), period_type=("cpu", "nanoseconds"),
                                 period=self.period_ns, default_sample_type="cpu")
        builder.comment(f"llm-collector CPU profile: every Python thread's stack at each {self.period_ns // 1_000_000} ms of process CPU, {self.ticks} ticks")
        for (stack, thread), (count, cpu) in self._seen.items():
            builder.add(stack, (count, cpu), {"thread": thread})
        return builder

    def gzipped(self) -> bytes:
        return self.profile().gzipped(time_nanos=self.started_ns, duration_nanos=(self.stopped_ns or time.time_ns()) - self.started_ns,
                                      mapping_file=sys.executable)
