"""Redaction in worker processes (`redaction: {workers: N}`), so it runs on another core.

Redaction is pure CPU work in Python, most of a span's cost in an LLM pipeline, and the daemon has one event
loop. A worker is a child process running the same `Redactor`, built from the same config; the daemon sends
it each request's protobuf bytes and gets back the redacted request's bytes and the `Stats` for its metrics.
The bytes it is sent are the request's own serialization (or the received bytes, where the service grants
them), so the worker's prefilter reads them as they are and never serializes the request again.

Nothing passes unredacted: a worker that dies or cannot answer fails its requests with a retryable error
(the client sends them again), and the next request starts a new worker.

A large request (above `inline_max_bytes`) takes a worker for long: a smaller one goes to a worker without
one in flight, and where every worker has one, `redact` answers None and the processor redacts the smaller
request on its event loop (what it may cost there is what `inline_max_bytes` bounds).

Protocol on the child's stdin/stdout (lengths 4-byte big-endian):

    first frame:  4-byte length + the pickled RedactionConfig (the pipe is private to the two processes;
                  the config may hold a hash key, which must not go on a command line)
    request:      1 byte kind (T/L/M) + length + serialized Export*ServiceRequest; answered in order
    answer:       b"=" (unchanged) or b"R" + length + the redacted request, then length + stats JSON;
                  or b"E" + length + UTF-8 error message
"""

from __future__ import annotations

import asyncio
import collections
import json
import pickle
import signal
import struct
import sys
from dataclasses import dataclass
from typing import Any

from ...component import RetryableError, Signal

LENGTH = struct.Struct(">I")
KINDS = {Signal.TRACES: b"T", Signal.LOGS: b"L", Signal.METRICS: b"M"}
UNCHANGED, REPLACED, FAILED = b"=", b"R", b"E"
_PIPE_SIZE = 1 << 20  # a request is ~100 KB; the default 64 KiB pipe would wake both sides several times


@dataclass
class Answer:
    payload: bytes | None  # None: the request came back unchanged
    values: int
    characters: int
    matches: dict[str, int]
    errors: int  # values masked whole because scanning them failed (fail closed)
    error_key: str | None  # where the last of them was, and what failed, for the daemon's log
    error_type: str | None


# ------------------------------------------------------------------------------------------------ child


def _widen(fd: int) -> None:
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), _PIPE_SIZE)
    except (OSError, AttributeError, ImportError):
        pass  # not Linux, or a lower system limit: correct, just more wake-ups


def _read_exact(stream: Any, size: int) -> bytes | None:
    data = stream.read(size)
    if len(data) < size:
        return None  # the daemon went away
    return data


def serve(stdin: Any, stdout: Any) -> int:
    from ...pdata import REQUEST_TYPES
    from .build import build_redactor

    head = _read_exact(stdin, 4)
    if head is None:
        return 0
    blob = _read_exact(stdin, LENGTH.unpack(head)[0])
    if blob is None:
        return 0
    config = pickle.loads(blob)
    errors: list[Any] = [0, None, None]  # fail-closed errors in this request: count, last key, last type

    def on_error(where: str, exc: BaseException | None) -> None:
        errors[0] += 1
        errors[1], errors[2] = where, type(exc).__name__ if exc is not None else "detector error"

    redactor, _scanner = build_redactor(config, on_error=on_error)
    walks = {kind: (REQUEST_TYPES[signal], getattr(redactor, signal.value)) for signal, kind in KINDS.items()}
    while True:
        header = _read_exact(stdin, 5)
        if header is None:
            return 0
        kind, size = header[:1], LENGTH.unpack_from(header, 1)[0]
        payload = _read_exact(stdin, size)
        if payload is None:
            return 0
        errors[0], errors[1], errors[2] = 0, None, None
        try:
            request_type, walk = walks[kind]
            request = request_type.FromString(payload)
            stats = walk(request, payload)  # payload is exactly what request was parsed from
            out = request.SerializeToString()
        except Exception as exc:  # noqa: BLE001 - costs this request only; the daemon fails it
            message = f"{type(exc).__name__}: {exc}".encode("utf-8", "replace")
            stdout.write(FAILED + LENGTH.pack(len(message)) + message)
            stdout.flush()
            continue
        meta = json.dumps([stats.values, stats.characters, stats.matches, *errors]).encode()
        if out == payload:
            stdout.write(UNCHANGED + LENGTH.pack(len(meta)) + meta)
        else:
            stdout.write(REPLACED + LENGTH.pack(len(out)))
            stdout.write(out)
            stdout.write(LENGTH.pack(len(meta)) + meta)
        stdout.flush()


def main() -> int:
    for fd in (0, 1):
        _widen(fd)
    # A terminal's Ctrl-C or systemd's cgroup-wide SIGTERM reach the workers too; the daemon still needs
    # them while it drains, and closes their stdin when it is done.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return serve(sys.stdin.buffer, sys.stdout.buffer)


# ----------------------------------------------------------------------------------------------- daemon


class _Worker:
    def __init__(self, proc: asyncio.subprocess.Process):
        self.proc = proc
        self.pending: collections.deque[asyncio.Future[Answer]] = collections.deque()
        self.finished = False
        self.reader: asyncio.Task[None] | None = None
        self.large = 0  # large requests in flight


class WorkerPool:
    """The daemon's end: `workers` child processes, each request to the one with the fewest in flight (a
    large one to the one with the fewest large ones in flight, a smaller one only to one with none)."""

    def __init__(self, processor: Any, config: Any, workers: int):
        self.processor = processor
        self.config_blob = pickle.dumps(config)
        self.slots: list[_Worker | None] = [None] * workers
        self.lock = asyncio.Lock()
        self.closed = False

    async def start(self) -> None:
        for i in range(len(self.slots)):
            self.slots[i] = await self._spawn()

    async def _spawn(self) -> _Worker:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", __name__, stdin=asyncio.subprocess.PIPE,
                                                    stdout=asyncio.subprocess.PIPE, limit=4 * _PIPE_SIZE)
        assert proc.stdin is not None
        proc.stdin.write(LENGTH.pack(len(self.config_blob)) + self.config_blob)
        worker = _Worker(proc)
        worker.reader = asyncio.get_running_loop().create_task(self._read_answers(worker))
        self.processor.log.info("started redaction worker process", pid=proc.pid)
        return worker

    async def _pick(self, large: bool) -> _Worker | None:
        workers = []
        for i, worker in enumerate(self.slots):
            if worker is None or worker.finished:
                async with self.lock:  # concurrent requests must not start two workers for one slot
                    worker = self.slots[i]
                    if worker is None or worker.finished:
                        worker = self.slots[i] = await self._spawn()
            if large or not worker.large:
                workers.append(worker)
        return min(workers, key=lambda w: (w.large, len(w.pending)), default=None)

    async def redact(self, signal: Signal, payload: bytes, large: bool = False) -> Answer | None:
        """None: the request is not large and every worker has a large one in flight; redact it elsewhere."""
        if self.closed:
            raise RetryableError(f"processor {self.processor.id}: shutting down")
        worker = await self._pick(large)
        if worker is None:
            return None
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        worker.pending.append(future)
        worker.large += large
        try:
            stdin = worker.proc.stdin
            assert stdin is not None
            try:
                stdin.write(KINDS[signal] + LENGTH.pack(len(payload)))
                stdin.write(payload)
                await stdin.drain()
            except (ConnectionError, RuntimeError):
                pass  # a dead worker: its reader fails every pending future, this one included
            if worker.finished and not future.done():
                future.set_exception(RetryableError(f"processor {self.processor.id}: redaction worker is not running"))
            return await future
        finally:
            worker.large -= large

    async def _read_answers(self, worker: _Worker) -> None:
        stdout = worker.proc.stdout
        assert stdout is not None
        try:
            while True:
                status = await stdout.read(1)
                if not status:
                    break
                if status == FAILED:
                    (size,) = LENGTH.unpack(await stdout.readexactly(4))
                    result: Any = RuntimeError(f"processor {self.processor.id}: redaction worker: {(await stdout.readexactly(size)).decode('utf-8', 'replace')}")
                else:
                    payload = None
                    if status == REPLACED:
                        (size,) = LENGTH.unpack(await stdout.readexactly(4))
                        payload = await stdout.readexactly(size)
                    elif status != UNCHANGED:
                        raise ValueError(f"unknown answer {status!r}")
                    (size,) = LENGTH.unpack(await stdout.readexactly(4))
                    values, characters, matches, errors, error_key, error_type = json.loads(await stdout.readexactly(size))
                    result = Answer(payload, values, characters, matches, errors, error_key, error_type)
                if not worker.pending:
                    continue
                future = worker.pending.popleft()
                if future.done():
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)
        except (asyncio.IncompleteReadError, ValueError):
            worker.proc.kill()  # a torn or unknown answer: nothing after it can be trusted
        code = await worker.proc.wait()
        worker.finished = True
        if not self.closed or worker.pending:
            self.processor.log.error("redaction worker process exited; its requests get a retryable error and the next request starts a new one",
                                     pid=worker.proc.pid, exit_code=code, in_flight=len(worker.pending))
        while worker.pending:
            future = worker.pending.popleft()
            if not future.done():
                future.set_exception(RetryableError(f"processor {self.processor.id}: redaction worker exited ({code})"))

    async def close(self, timeout: float = 10.0) -> None:
        self.closed = True
        for worker in self.slots:
            if worker is None or worker.finished:
                continue
            if worker.pending:
                await asyncio.wait([*worker.pending], timeout=timeout)
            if worker.proc.stdin is not None:
                worker.proc.stdin.close()
            try:
                await asyncio.wait_for(worker.proc.wait(), timeout)
            except TimeoutError:
                worker.proc.kill()
            if worker.reader is not None:
                await worker.reader


if __name__ == "__main__":
    sys.exit(main())
