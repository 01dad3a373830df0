"""Self-telemetry: structlog JSON logs and Prometheus metrics named as the OTel Collector names them,
so existing otelcol dashboards and alerts work unchanged. Libraries' own logging (asyncio, aiohttp, grpc,
warnings) and the event loop's unhandled errors come out as the same JSON lines, rate-limited: a storm of
one error (e.g. accept() failing with EMFILE) is a few lines and a count, never a wall of tracebacks."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Hashable, Iterable, MutableMapping
from typing import Any

import orjson
import structlog

from .component import ComponentID, Kind, Signal
from .metrics import Counter, Family, Gauge, Histogram, Registry

ITEM = {Signal.TRACES: "spans", Signal.LOGS: "log_records", Signal.METRICS: "metric_points"}
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "warning": logging.WARNING, "error": logging.ERROR,
          "dpanic": logging.CRITICAL, "panic": logging.CRITICAL, "fatal": logging.CRITICAL}


def _json_renderer(_: Any, __: str, event: dict[str, Any]) -> str:
    return orjson.dumps(event, default=str).decode()


# An event logged with `rate_limit=` passes at most this many times per window and key.
RATE_LIMIT_BURST = 5
RATE_LIMIT_WINDOW = 10.0
# How often the daemon looks for windows that are over, to report what they suppressed.
RATE_LIMIT_REPORT_INTERVAL = 1.0
_RATE_LIMIT_MAX_KEYS = 10_000


class _Window:
    __slots__ = ("start", "passed", "suppressed", "method", "fields")

    def __init__(self, start: float):
        self.start = start
        self.passed = 0
        self.suppressed = 0
        self.method = "info"
        self.fields: dict[str, Any] = {}


class RateLimiter:
    """structlog processor for events logged with `rate_limit=True` (keyed by component, level and event)
    or `rate_limit=<key>`: each key passes RATE_LIMIT_BURST times per RATE_LIMIT_WINDOW seconds; the rest are
    dropped and counted, and once the window is over one line says how many (on the next event of any kind,
    or at flush(), which the daemon calls every window and at exit). Thread-safe: gRPC logs from its threads."""

    def __init__(self, burst: int = RATE_LIMIT_BURST, window: float = RATE_LIMIT_WINDOW, clock: Any = time.monotonic):
        self.burst, self.window, self.clock = burst, window, clock
        self._lock = threading.Lock()
        self._windows: dict[Hashable, _Window] = {}
        self._next_due = float("inf")

    def __call__(self, _: Any, method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        key = event.pop("rate_limit", None)
        now = self.clock()
        if now >= self._next_due:
            self.flush(now)
        if key is None or key is False:
            return event
        if key is True:
            key = (event.get("component"), method, event.get("event"))
        with self._lock:
            window = self._windows.get(key)
            ended = None
            if window is None or now - window.start >= self.window:
                if window is not None and window.suppressed:
                    ended = window
                elif len(self._windows) >= _RATE_LIMIT_MAX_KEYS:
                    self._sweep(now)
                window = self._windows[key] = _Window(now)
            window.passed += 1
            drop = window.passed > self.burst
            if drop:
                if not window.suppressed:
                    window.method = method
                    window.fields = {k: event[k] for k in ("component", "kind", "logger", "event") if k in event}
                    self._next_due = min(self._next_due, window.start + self.window)
                window.suppressed += 1
        if ended is not None:
            self._report(ended)
        if drop:
            raise structlog.DropEvent
        return event

    def flush(self, now: float | None = None, everything: bool = False) -> None:
        """Report the windows that are over (all with `everything`) and forget them."""
        now = self.clock() if now is None else now
        if now < self._next_due and not everything:
            return
        with self._lock:
            ended = self._sweep(float("inf") if everything else now)
        for window in ended:
            self._report(window)

    def _sweep(self, now: float) -> list[_Window]:
        ended = []
        for key in [k for k, w in self._windows.items() if now - w.start >= self.window]:
            window = self._windows.pop(key)
            if window.suppressed:
                ended.append(window)
        self._next_due = min((w.start + self.window for w in self._windows.values() if w.suppressed), default=float("inf"))
        return ended

    def _report(self, window: _Window) -> None:
        fields = dict(window.fields)
        message = fields.pop("event", "")
        log = structlog.get_logger().bind(**fields)
        getattr(log, window.method)("repeated log message suppressed", message=message, suppressed=window.suppressed, window_seconds=self.window)


rate_limiter = RateLimiter()

# Loggers of the libraries the daemon runs on, by their top-level name: the `component` of their lines.
_LIBRARY_COMPONENTS = {"asyncio": "asyncio", "aiohttp": "aiohttp", "grpc": "grpc", "py": "python"}


def _level_method(levelno: int) -> str:
    if levelno >= logging.CRITICAL:
        return "critical"
    if levelno >= logging.ERROR:
        return "error"
    if levelno >= logging.WARNING:
        return "warning"
    if levelno >= logging.INFO:
        return "info"
    return "debug"


def _error_fields(exc: BaseException | None, exc_info: Any) -> dict[str, Any]:
    """A system error's one-line reason says it all (EMFILE, a reset); anything else keeps its traceback,
    as a field of the JSON line."""
    if exc is None:
        return {}
    fields: dict[str, Any] = {"error": f"{type(exc).__name__}: {exc}"}
    if not isinstance(exc, OSError):
        fields["exc_info"] = exc_info
    return fields


class _LibraryLogHandler(logging.Handler):
    """Python logging (asyncio, aiohttp, grpc, warnings, ...) into the structlog JSON output, rate-limited
    per logger, level and message template (so "Error handling request from %s" is one key for all peers)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields: dict[str, Any] = {
                "component": _LIBRARY_COMPONENTS.get(record.name.partition(".")[0], record.name),
                "kind": "library",
                "logger": record.name,
                "rate_limit": (record.name, record.levelno, str(record.msg)),
            }
            if record.exc_info:
                fields.update(_error_fields(record.exc_info[1], record.exc_info))
            getattr(structlog.get_logger(), _level_method(record.levelno))(record.getMessage(), **fields)
        except Exception:
            pass  # a record that cannot be logged is dropped: logging's own fallback prints a traceback


def log_loop_exception(_: Any, context: dict[str, Any]) -> None:
    """Event-loop exception handler (loop.set_exception_handler): asyncio's default prints a multi-line
    message and a traceback; this logs one JSON line per distinct message, rate-limited."""
    message = str(context.get("message") or "unhandled exception in the event loop")
    exc = context.get("exception")
    fields = {k: repr(v) for k, v in context.items() if k not in ("message", "exception")}
    exc_info = (type(exc), exc, exc.__traceback__) if isinstance(exc, BaseException) else None
    fields.update(_error_fields(exc if isinstance(exc, BaseException) else None, exc_info))
    structlog.get_logger().error(message, component="asyncio", kind="library", rate_limit=("asyncio", message), **fields)


def log_uncaught_exceptions() -> None:
    """Uncaught exceptions (main thread and other threads) as JSON lines instead of printed tracebacks."""

    def excepthook(kind: type[BaseException], exc: BaseException, tb: Any) -> None:
        structlog.get_logger().critical("uncaught exception", component="python", kind="library", error=f"{kind.__name__}: {exc}", exc_info=(kind, exc, tb))

    def thread_excepthook(args: Any) -> None:
        if args.exc_type is SystemExit:
            return
        thread = args.thread.name if args.thread is not None else None
        structlog.get_logger().critical("uncaught exception in thread", component="python", kind="library", thread=thread, error=f"{args.exc_type.__name__}: {args.exc_value}", exc_info=(args.exc_type, args.exc_value, args.exc_traceback))

    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook


def _route_library_logs(level: int) -> None:
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _LibraryLogHandler)]:
        root.removeHandler(handler)
    root.addHandler(_LibraryLogHandler())
    root.setLevel(level)
    logging.captureWarnings(True)


class OutputStreams:
    """One text stream over otelcol's `output_paths` (service.telemetry.logs', the debug exporter's):
    `stderr`, `stdout`, or files (appended to; `file://` URLs too); several paths get every line."""

    def __init__(self, paths: list[str]):
        self.streams: list[Any] = []
        for path in paths:
            if path in ("stderr", "stdout"):
                self.streams.append(getattr(sys, path))
            else:
                self.streams.append(open(path.removeprefix("file://"), "a", encoding="utf-8", buffering=1))  # noqa: SIM115  (open for the daemon's life)

    def write(self, text: str) -> None:
        for stream in self.streams:
            stream.write(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()


def _initial_fields(fields: dict[str, Any]) -> Any:
    def add(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        for key, value in fields.items():
            event.setdefault(key, value)
        return event

    return add


def setup_logging(level: str = "info", encoding: str = "json", stream: Any = None, *,
                  output_paths: list[str] | None = None, initial_fields: dict[str, Any] | None = None) -> None:
    """`output_paths` (when no `stream` is given) and `initial_fields` are service.telemetry.logs'."""
    renderer: Any = _json_renderer if encoding == "json" else structlog.dev.ConsoleRenderer(colors=False)
    if stream is None and output_paths and output_paths != ["stderr"]:
        stream = OutputStreams(output_paths)
    extra = [_initial_fields(initial_fields)] if initial_fields else []
    structlog.configure(
        processors=[
            rate_limiter,
            *extra,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS.get(level, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
    _route_library_logs(LEVELS.get(level, logging.INFO))


def component_logger(id: ComponentID | str, kind: Kind | str) -> Any:
    return structlog.get_logger().bind(component=str(id), kind=str(kind))


_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes(pid: int | None = None) -> int:
    """Resident set size of a process (this one by default); 0 if it cannot be read."""
    try:
        with open(f"/proc/{pid or 'self'}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):
        if pid is None:
            import resource

            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # peak, where /proc is missing
        return 0


def child_pids(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out.extend(int(c) for c in f.read().split())
    except OSError:
        pass
    return out


_CHILDREN_MAX_AGE = 1.0
_children_listed: tuple[float, int, list[int]] = (float("-inf"), 0, [])  # (when, by which pid, children)


def process_tree_rss() -> int:
    """This process and its children (e.g. the file exporter's encoder): what a container limit counts.

    The children are listed at most once a second: a listing reads one file per thread (gRPC alone runs a
    dozen), and memory_limiter measures every 10 ms near its limit. A child started meanwhile counts from
    the next listing; one that exited reads as 0."""
    global _children_listed
    pid = os.getpid()
    now = time.monotonic()
    listed_at, listed_by, children = _children_listed
    if listed_by != pid or now - listed_at >= _CHILDREN_MAX_AGE:
        children = child_pids(pid)
        _children_listed = (now, pid, children)
    return rss_bytes(pid) + sum(rss_bytes(c) for c in children)


class _ProcessMetrics:
    """otelcol_process_* read from /proc at scrape time (no background thread)."""

    def __init__(self) -> None:
        self.started = time.time()

    def collect(self) -> Iterable[Family]:
        t = os.times()
        cpu = Counter("otelcol_process_cpu_seconds", "Total CPU user and system time in seconds")
        cpu.labels().set(t.user + t.system)  # type: ignore[attr-defined]
        rss = Gauge("otelcol_process_memory_rss", "Total physical memory (resident set size) in bytes")
        rss.labels().set(rss_bytes())  # type: ignore[attr-defined]
        up = Counter("otelcol_process_uptime", "Uptime of the process in seconds")
        up.labels().set(time.time() - self.started)  # type: ignore[attr-defined]
        return (cpu, rss, up)


class ReceiverCounters:
    __slots__ = ("accepted", "refused", "failed")

    def __init__(self, accepted: Any, refused: Any, failed: Any):
        self.accepted, self.refused, self.failed = accepted, refused, failed


class ExporterCounters:
    __slots__ = ("sent", "send_failed", "enqueue_failed")

    def __init__(self, sent: Any, send_failed: Any, enqueue_failed: Any):
        self.sent, self.send_failed, self.enqueue_failed = sent, send_failed, enqueue_failed


class ProcessorCounters:
    __slots__ = ("incoming", "outgoing")

    def __init__(self, incoming: Any, outgoing: Any):
        self.incoming, self.outgoing = incoming, outgoing


# Why the server closed a connection (llm_collector_receiver_closed_connections' reason label).
CONNECTION_CLOSE_REASONS = ("read_header_timeout", "read_timeout", "write_timeout", "idle_timeout", "evicted")


class ConnectionCounters:
    """One HTTP listener's connections: open now, refused at max_connections, closed by the server by reason."""

    __slots__ = ("open", "refused", "closed")

    def __init__(self, open: Any, refused: Any, closed: dict[str, Any]):
        self.open, self.refused, self.closed = open, refused, closed

    @classmethod
    def create(cls, registry: Registry, labels: tuple[str, ...] = (), values: tuple[str, ...] = ()) -> ConnectionCounters:
        def family(kind: type[Family], name: str, doc: str, extra: tuple[str, ...] = ()) -> Any:
            return registry.get_or_create(kind, name, doc, labels + extra)

        closed = family(Counter, "llm_collector_receiver_closed_connections", "Connections the server closed: a timeout (read_header_timeout, read_timeout, write_timeout, idle_timeout) or evicted (the longest-idle, for a new one at max_connections).", ("reason",))
        return cls(
            family(Gauge, "llm_collector_receiver_open_connections", "HTTP connections open now.").labels(*values),
            family(Counter, "llm_collector_receiver_refused_connections", "New connections closed at once: max_connections were open, none of them idle.").labels(*values),
            {reason: closed.labels(*values, reason) for reason in CONNECTION_CLOSE_REASONS},
        )

    @classmethod
    def unregistered(cls) -> ConnectionCounters:
        """For a listener that exports no metrics (the health check, the metrics endpoint itself)."""
        return cls.create(Registry())


class Telemetry:
    """One registry per service. Components ask for pre-bound counters once, so the hot path only calls inc()."""

    def __init__(self) -> None:
        self.registry = Registry()
        self.process = _ProcessMetrics()
        self.registry.add_collector(self.process.collect)

    def counter(self, name: str, doc: str, labels: tuple[str, ...]) -> Any:
        return self.registry.get_or_create(Counter, name, doc, labels)

    def gauge(self, name: str, doc: str, labels: tuple[str, ...]) -> Any:
        return self.registry.get_or_create(Gauge, name, doc, labels)

    def histogram(self, name: str, doc: str, labels: tuple[str, ...], buckets: tuple[float, ...]) -> Any:
        return self.registry.get_or_create(Histogram, name, doc, labels, buckets=buckets)

    def receiver_counters(self, id: ComponentID, transport: str, signal: Signal) -> ReceiverCounters:
        item = ITEM[signal]
        labels = ("receiver", "transport")

        def bound(outcome: str, doc: str) -> Any:
            return self.counter(f"otelcol_receiver_{outcome}_{item}", doc, labels).labels(str(id), transport)

        return ReceiverCounters(
            bound("accepted", f"Number of {item} successfully pushed into the pipeline."),
            bound("refused", f"Number of {item} that could not be pushed into the pipeline."),
            bound("failed", f"Number of {item} that the receiver failed to process."),
        )

    def exporter_counters(self, id: ComponentID, signal: Signal) -> ExporterCounters:
        item = ITEM[signal]
        labels = ("exporter",)

        def bound(outcome: str, doc: str) -> Any:
            return self.counter(f"otelcol_exporter_{outcome}_{item}", doc, labels).labels(str(id))

        return ExporterCounters(
            bound("sent", f"Number of {item} successfully sent to destination."),
            bound("send_failed", f"Number of {item} in failed attempts to send to destination."),
            bound("enqueue_failed", f"Number of {item} failed to be added to the sending queue."),
        )

    def processor_counters(self, id: ComponentID, signal: Signal) -> ProcessorCounters:
        labels = ("processor", "otel_signal")
        incoming = self.counter("otelcol_processor_incoming_items", "Number of items passed to the processor.", labels)
        outgoing = self.counter("otelcol_processor_outgoing_items", "Number of items emitted from the processor.", labels)
        return ProcessorCounters(incoming.labels(str(id), signal.value), outgoing.labels(str(id), signal.value))

    def connection_counters(self, id: ComponentID, transport: str) -> ConnectionCounters:
        return ConnectionCounters.create(self.registry, ("receiver", "transport"), (str(id), transport))

    def exposition(self) -> bytes:
        return self.registry.exposition()
