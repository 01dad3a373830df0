"""Self-telemetry: structlog JSON logs and Prometheus metrics named as the OTel Collector names them,
so existing otelcol dashboards and alerts work unchanged."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterable
from typing import Any

import orjson
import structlog

from .component import ComponentID, Kind, Signal
from .metrics import Counter, Family, Gauge, Histogram, Registry

ITEM = {Signal.TRACES: "spans", Signal.LOGS: "log_records", Signal.METRICS: "metric_points"}
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "warning": logging.WARNING, "error": logging.ERROR}


def _json_renderer(_: Any, __: str, event: dict[str, Any]) -> str:
    return orjson.dumps(event, default=str).decode()


def setup_logging(level: str = "info", encoding: str = "json", stream: Any = None) -> None:
    renderer: Any = _json_renderer if encoding == "json" else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS.get(level, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=False,
    )


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

    def exposition(self) -> bytes:
        return self.registry.exposition()
