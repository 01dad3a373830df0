"""pprof extension: contrib's `pprof` keys (extension/pprofextension/config.go: `endpoint` defaulting to
localhost:1777, `block_profile_fraction`, `mutex_profile_fraction`, `save_to_file`) and Go's net/http/pprof
routes under /debug/pprof/, serving what a Python process can give in the formats `go tool pprof` reads:
- `profile?seconds=N` (30 when absent or not a positive integer, as Go): a CPU profile of every Python thread
  for N seconds, sampled at each 10 ms of CPU the process uses (sampler.py), gzip-compressed profile.proto;
- `heap`: the allocations tracemalloc traced and still alive, when the daemon runs with PYTHONTRACEMALLOC set;
- `goroutine`: every thread's stack, as a profile (debug=0) or text (debug=1 grouped, debug=2 each thread);
- `cmdline`: the command line, NUL-separated.
Go's block, mutex, allocs, threadcreate, trace and symbol profiles have no Python counterpart: 404 saying why.
`save_to_file` profiles the CPU from start-up to shutdown and writes the profile there at shutdown (the file is
created at start-up, so an unwritable path fails the start, as otelcol's does)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ...component import Extension, Host
from ...config import Endpoint, option
from ...lazyimport import lazy
from ...registry import register
from ...serverlimits import INTERNAL_LIMITS, ConnectionLimits
from . import stacks
from .sampler import HZ, CPUSampler

if TYPE_CHECKING:
    from aiohttp import web

    from ... import httpserver
else:  # imported by start(), not by `validate` (collector/lazyimport.py)
    web, httpserver = lazy("aiohttp.web"), lazy("collector.httpserver")

PREFIX = "/debug/pprof/"
DEFAULT_SECONDS = 30  # Go's net/http/pprof default for `profile`

UNAVAILABLE = {
    "allocs": "Python keeps no record of past allocations; /debug/pprof/heap shows the live ones (with tracemalloc)",
    "block": "Python has no blocking-event profiler (Go's runtime.SetBlockProfileRate); goroutine?debug=1 shows where threads wait",
    "mutex": "Python has no lock-contention profiler (Go's runtime.SetMutexProfileFraction); goroutine?debug=1 shows threads waiting on locks",
    "threadcreate": "Python does not record where threads were created; goroutine?debug=2 lists every thread",
    "trace": "Go's execution tracer has no Python counterpart; use profile for CPU and goroutine for thread stacks",
    "symbol": "profiles here are already symbolized (function, file and line in each location)",
}
INDEX = (
    ("profile", "CPU profile of every Python thread for ?seconds=N (default 30), sampled at each 10 ms of CPU used."),
    ("heap", "Live memory by allocating stack (tracemalloc; start the daemon with PYTHONTRACEMALLOC=25). ?gc=1 collects garbage first."),
    ("goroutine", "Every thread's current stack: ?debug=1 grouped by stack, ?debug=2 thread by thread, as text."),
    ("cmdline", "The daemon's command line."),
)


@dataclass
class PprofConfig:
    endpoint: Endpoint = option(Endpoint("localhost:1777"), "Address to listen on (otelcol's default; `:1777` listens on every interface).")
    block_profile_fraction: int = option(0, f"otelcol: share of blocking events profiled. No effect here: {UNAVAILABLE['block']} (a start-up warning says so when > 0).")
    mutex_profile_fraction: int = option(0, f"otelcol: share of mutex contention events profiled. No effect here: {UNAVAILABLE['mutex']} (a start-up warning says so when > 0).")
    save_to_file: str = option("", f"File to write a CPU profile of the whole run to (from start-up to shutdown, {HZ} Hz of CPU time), written at shutdown; created at start-up.")
    dialer: dict[str, Any] | None = option(None, "confignet's dialer settings. No effect: the extension listens and dials nothing (a start-up warning says so).")


@register
class PprofExtension(Extension):
    type_name = "pprof"
    description = "Profiles of the daemon's process for `go tool pprof`: CPU (sampled Python stacks), heap (tracemalloc), thread stacks."
    config_class = PprofConfig
    _running: PprofExtension | None = None  # the started instance of this process

    def __init__(self, settings: Any, config: PprofConfig):
        super().__init__(settings, config)
        self._runner: web.AppRunner | None = None
        self._whole_run: CPUSampler | None = None
        self._file: BinaryIO | None = None

    @classmethod
    def ineffective_keys(cls, config: PprofConfig) -> list[tuple[str, str]]:
        out = []
        if config.block_profile_fraction > 0:
            out.append(("block_profile_fraction", UNAVAILABLE["block"]))
        if config.mutex_profile_fraction > 0:
            out.append(("mutex_profile_fraction", UNAVAILABLE["mutex"]))
        if config.dialer is not None:
            out.append(("dialer", "the extension listens and dials nothing"))
        return out

    async def start(self, host: Host) -> None:
        from ...service import StartupError

        # As contrib's pprofExtension.Start: the profiler's settings are the process's, so one instance at a time.
        if PprofExtension._running is not None:
            raise StartupError("only a single pprof extension instance can be running per process")
        app = web.Application()
        app.router.add_get("/debug/pprof", self._redirect)
        app.router.add_get(PREFIX, self._index)
        app.router.add_get(PREFIX + "profile", self._profile)
        app.router.add_get(PREFIX + "heap", self._heap)
        app.router.add_get(PREFIX + "goroutine", self._goroutine)
        app.router.add_get(PREFIX + "cmdline", self._cmdline)
        app.router.add_get(PREFIX + "{name}", self._unavailable)
        # Go's pprof server has no write timeout (a profile takes `seconds` to write); head and idle limits stay.
        limits = ConnectionLimits(write_timeout=0.0, max_connections=INTERNAL_LIMITS.max_connections)
        self._runner = await httpserver.serve(app, self.config.endpoint, limits=limits, log=self.log, shutdown_timeout=1.0)
        if self.config.save_to_file:
            try:
                self._file = open(self.config.save_to_file, "wb")  # noqa: SIM115  (written at shutdown)
            except OSError as exc:
                await self._runner.cleanup()
                raise OSError(f"save_to_file: cannot create {self.config.save_to_file}: {exc.strerror}") from None
            self._whole_run = CPUSampler()
            self._whole_run.start()
        PprofExtension._running = self
        self.log.info("pprof listening", endpoint=str(self.config.endpoint), save_to_file=self.config.save_to_file or None)

    async def _redirect(self, _: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently(PREFIX)

    async def _index(self, _: web.Request) -> web.Response:
        rows = "".join(f'<tr><td><a href="{name}?debug=1">{name}</a></td><td>{escape(what)}</td></tr>' for name, what in INDEX)
        missing = "".join(f"<tr><td>{name}</td><td>{escape(why)}</td></tr>" for name, why in UNAVAILABLE.items())
        body = (f"<!DOCTYPE html><html><head><title>/debug/pprof/</title></head><body><h1>/debug/pprof/</h1>"
                f"<p>Profiles of this llm-collector process (Python {escape(sys.version.split()[0])}). "
                f"<code>go tool pprof http://HOST/debug/pprof/profile?seconds=10</code> reads the CPU profile.</p>"
                f"<table>{rows}</table><h2>Not available in a Python process</h2><table>{missing}</table></body></html>")
        return web.Response(text=body, content_type="text/html")

    async def _profile(self, request: web.Request) -> web.Response:
        try:
            seconds = int(request.query.get("seconds", ""))
        except ValueError:
            seconds = 0
        if seconds <= 0:
            seconds = DEFAULT_SECONDS
        sampler = CPUSampler()  # several at once share one timer (sampler.py), so unlike Go's, none is refused
        sampler.start()
        try:
            await asyncio.sleep(seconds)
        finally:
            sampler.stop()
        return _profile_response(await asyncio.to_thread(sampler.gzipped), "profile")

    async def _heap(self, request: web.Request) -> web.Response:
        if request.query.get("gc", "") not in ("", "0"):
            import gc

            gc.collect()
        try:
            data = await asyncio.to_thread(stacks.heap_profile)
        except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
            self.log.error("heap profile failed", error=str(exc))
            return web.Response(status=500, text="heap profile failed; the daemon's log says why\n")
        if data is None:
            return web.Response(status=404, text=stacks.HEAP_NEEDS_TRACEMALLOC)
        return _profile_response(data, "heap")

    async def _goroutine(self, request: web.Request) -> web.Response:
        try:
            debug = int(request.query.get("debug", "0"))
        except ValueError:
            debug = 0
        if debug > 0:
            return web.Response(text=stacks.goroutine_text(debug))
        return _profile_response(stacks.goroutine_profile(), "goroutine")

    async def _cmdline(self, _: web.Request) -> web.Response:
        return web.Response(text="\x00".join(sys.orig_argv))

    async def _unavailable(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        why = UNAVAILABLE.get(name)
        if why is None:
            return web.Response(status=404, text="Unknown profile\n")  # Go's answer
        return web.Response(status=404, text=f"profile {name} is not available in this Python process: {why}\n")

    async def shutdown(self) -> None:
        if PprofExtension._running is self:
            PprofExtension._running = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._whole_run is not None and self._file is not None:
            sampler, file = self._whole_run, self._file
            self._whole_run = self._file = None
            sampler.stop()
            data = await asyncio.to_thread(sampler.gzipped)
            with file:
                file.write(data)
            self.log.info("CPU profile of the whole run written", path=str(Path(self.config.save_to_file).resolve()), bytes=len(data), ticks=sampler.ticks)


def _profile_response(data: bytes, name: str) -> web.Response:
    # As Go's net/http/pprof: a binary attachment.
    return web.Response(body=data, content_type="application/octet-stream", headers={"Content-Disposition": f'attachment; filename="{name}"'})
