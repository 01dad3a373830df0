"""The shared delivery machinery (sending_queue, retry_on_failure, timeout) driven through a small
QueuedExporter whose send() follows a script, with the real queue, retry loop, metrics exposition
and JSON logs. Config checks go through the real loader; the persistent queue has its own files."""

from __future__ import annotations

import asyncio
import io
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from collector.component import ComponentID, Kind, PermanentError, Rejected, RetryableError, Settings, Signal
from collector.config import ConfigErrors, Duration, load_config
from collector.envelope import Envelope
from collector.exporterhelper import DeliveryConfig, QueueConfig, QueuedExporter, RetryConfig
from collector.exporterhelper.retry import backoff_delays
from collector.service import FanOut
from collector.telemetry import Telemetry, component_logger, setup_logging
from collector.testing import wait_for_async

_span_ids = iter(range(1, 1 << 62))


def spans_request(n: int) -> ExportTraceServiceRequest:
    spans = []
    for _ in range(n):
        i = next(_span_ids)
        spans.append(Span(trace_id=i.to_bytes(16, "big"), span_id=i.to_bytes(8, "big"), name=f"span-{i}"))
    return ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])])


def span_ids(data: ExportTraceServiceRequest) -> list[int]:
    return [int.from_bytes(s.span_id, "big") for rs in data.resource_spans for ss in rs.scope_spans for s in ss.spans]


@dataclass(kw_only=True)
class ScriptedConfig(DeliveryConfig):
    pass


class Scripted(QueuedExporter):
    """send() asks `script(attempt number)` what to do: return a value, or raise what it returns."""

    type_name = "scripted"
    description = "test exporter"
    config_class = ScriptedConfig

    def __init__(self, settings: Any, config: ScriptedConfig, script: Callable[[int], Any] | None = None):
        super().__init__(settings, config)
        self.script = script or (lambda attempt: None)
        self.attempts: list[float] = []
        self.delivered: list[int] = []
        self.gate: asyncio.Event | None = None  # when set, send() waits for it

    async def send(self, signal: Signal, data: Any) -> Rejected | None:
        self.attempts.append(time.monotonic())
        if self.gate is not None:
            await self.gate.wait()
        outcome = self.script(len(self.attempts))
        if isinstance(outcome, BaseException):
            raise outcome
        if outcome is None or isinstance(outcome, Rejected):
            self.delivered.extend(span_ids(data))
        return outcome


class FakeHost:
    def __init__(self, extensions: dict[ComponentID, Any] | None = None, grace: float = 5.0):
        self.extensions = extensions or {}
        self.shutdown_grace = grace
        self.ready = True
        self.draining = False

    def extension(self, id: ComponentID) -> Any:
        return self.extensions[id]


def make_exporter(
    telemetry: Telemetry,
    script: Callable[[int], Any] | None = None,
    *,
    name: str = "",
    queue: dict[str, Any] | None = None,
    retry: dict[str, Any] | None = None,
    timeout: float = 5.0,
    cls: type[Scripted] = Scripted,
) -> Scripted:
    retry_cfg = {"initial_interval": Duration(0.01), "max_interval": Duration(0.05), "randomization_factor": 0.0, **(retry or {})}
    config = ScriptedConfig(timeout=Duration(timeout), sending_queue=QueueConfig(**(queue or {})), retry_on_failure=RetryConfig(**retry_cfg))
    id = ComponentID("scripted", name)
    settings = Settings(id=id, kind=Kind.EXPORTER, log=component_logger(id, Kind.EXPORTER), telemetry=telemetry)
    return cls(settings, config, script)


def metric(telemetry: Telemetry, name: str, **labels: str) -> float:
    """The value of one series, read from the Prometheus exposition text as a scraper would."""
    for line in telemetry.exposition().decode().splitlines():
        if line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        metric_name, _, label_text = series.partition("{")
        if metric_name == name and all(f'{k}="{v}"' in label_text for k, v in labels.items()):
            return float(value)
    return 0.0


@pytest.fixture
def logs() -> Any:
    stream = io.StringIO()
    setup_logging("debug", stream=stream)

    def records() -> list[dict[str, Any]]:
        return [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]

    yield records
    setup_logging("info")


# --- retry ------------------------------------------------------------------------------------


def test_backoff_grows_by_the_multiplier_is_capped_and_jittered_within_the_factor() -> None:
    cfg = RetryConfig(initial_interval=Duration(1.0), max_interval=Duration(5.0), multiplier=2.0, randomization_factor=0.5)
    delays = backoff_delays(cfg, random.Random(7))
    base = [1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    drawn = [next(delays) for _ in base]
    for want, got in zip(base, drawn, strict=True):
        assert want * 0.5 <= got <= want * 1.5
    assert len({round(d, 6) for d in drawn[3:]}) == 3, "jitter makes equal intervals differ"
    exact = backoff_delays(RetryConfig(initial_interval=Duration(0.1), max_interval=Duration(0.3), multiplier=1.5, randomization_factor=0.0))
    assert [round(next(exact), 6) for _ in range(5)] == [0.1, 0.15, 0.225, 0.3, 0.3]


def test_retry_waits_grow_and_are_capped_in_real_time() -> None:
    telemetry = Telemetry()

    async def run() -> Scripted:
        exporter = make_exporter(
            telemetry,
            lambda n: RetryableError("backend down") if n <= 5 else None,
            retry={"initial_interval": Duration(0.1), "max_interval": Duration(0.2), "multiplier": 2.0},
        )
        await exporter.start(FakeHost())
        await exporter.consume(Envelope(Signal.TRACES, spans_request(3)))
        await wait_for_async(lambda: len(exporter.delivered) == 3)
        await exporter.shutdown()
        return exporter

    exporter = asyncio.run(run())
    gaps = [b - a for a, b in pairwise(exporter.attempts)]
    assert len(gaps) == 5
    for gap, want in zip(gaps, [0.1, 0.2, 0.2, 0.2, 0.2], strict=True):
        assert gap >= want - 0.005
    assert max(gaps[2:]) < 0.4, f"waits past max_interval: {gaps}"  # uncapped they would be 0.4, 0.8, 1.6
    assert metric(telemetry, "llm_collector_exporter_retried_spans", exporter="scripted") == 15
    assert metric(telemetry, "otelcol_exporter_sent_spans", exporter="scripted") == 3


def test_server_retry_after_overrides_the_backoff() -> None:
    telemetry = Telemetry()

    async def run() -> Scripted:
        exporter = make_exporter(telemetry, lambda n: RetryableError("RESOURCE_EXHAUSTED", retry_after=0.5) if n == 1 else None)
        await exporter.start(FakeHost())
        await exporter.consume(Envelope(Signal.TRACES, spans_request(2)))
        await wait_for_async(lambda: len(exporter.delivered) == 2)
        await exporter.shutdown()
        return exporter

    exporter = asyncio.run(run())
    gap = exporter.attempts[1] - exporter.attempts[0]
    assert 0.5 <= gap < 2.0, gap  # the backoff alone would have waited 10 ms


def test_retry_after_longer_than_max_elapsed_time_drops_at_once(logs: Any) -> None:
    telemetry = Telemetry()

    async def run() -> tuple[Scripted, float]:
        exporter = make_exporter(telemetry, lambda n: RetryableError("throttled", retry_after=60), retry={"max_elapsed_time": Duration(1.0)})
        await exporter.start(FakeHost())
        started = time.monotonic()
        await exporter.consume(Envelope(Signal.TRACES, spans_request(4)))
        await wait_for_async(lambda: metric(telemetry, "otelcol_exporter_send_failed_spans", exporter="scripted") == 4)
        took = time.monotonic() - started
        await exporter.shutdown()
        return exporter, took

    exporter, took = asyncio.run(run())
    assert len(exporter.attempts) == 1 and took < 0.9
    drops = [r for r in logs() if r["event"].startswith("dropping data")]
    assert drops and drops[0]["exporter"] == "scripted" and drops[0]["level"] == "error"


def test_retries_stop_at_max_elapsed_time_and_the_drop_is_counted_and_logged(logs: Any) -> None:
    telemetry = Telemetry()

    async def run() -> tuple[Scripted, float]:
        exporter = make_exporter(telemetry, lambda n: ConnectionRefusedError("refused"), retry={"max_elapsed_time": Duration(0.3)})
        await exporter.start(FakeHost())
        started = time.monotonic()
        await exporter.consume(Envelope(Signal.TRACES, spans_request(5)))  # queued: the client is answered at once
        await wait_for_async(lambda: metric(telemetry, "otelcol_exporter_send_failed_spans", exporter="scripted") == 5)
        took = time.monotonic() - started
        await exporter.shutdown()
        return exporter, took

    exporter, took = asyncio.run(run())
    assert 0.25 <= took < 2.0
    assert len(exporter.attempts) >= 5  # 10 ms, then 20, 40, 50, 50... ms within 300 ms
    assert metric(telemetry, "otelcol_exporter_sent_spans", exporter="scripted") == 0
    drop = next(r for r in logs() if r["event"] == "dropping data: retries exhausted")
    assert drop["exporter"] == "scripted" and drop["items"] == 5 and "ConnectionRefusedError" in drop["error"]


def test_attempt_timeout_is_retried() -> None:
    telemetry = Telemetry()

    class Slow(Scripted):
        async def send(self, signal: Signal, data: Any) -> Rejected | None:
            self.attempts.append(time.monotonic())
            if len(self.attempts) == 1:
                await asyncio.sleep(10)
            self.delivered.extend(span_ids(data))
            return None

    async def run() -> Scripted:
        exporter = make_exporter(telemetry, timeout=0.1, cls=Slow)
        await exporter.start(FakeHost())
        await exporter.consume(Envelope(Signal.TRACES, spans_request(2)))
        await wait_for_async(lambda: len(exporter.delivered) == 2)
        await exporter.shutdown()
        return exporter

    exporter = asyncio.run(run())
    assert len(exporter.attempts) == 2
    assert exporter.attempts[1] - exporter.attempts[0] >= 0.1


def test_permanent_error_is_dropped_at_once_and_counted(logs: Any) -> None:
    telemetry = Telemetry()

    async def run() -> Scripted:
        exporter = make_exporter(telemetry, lambda n: PermanentError("INVALID_ARGUMENT: bad span"))
        await exporter.start(FakeHost())
        await exporter.consume(Envelope(Signal.TRACES, spans_request(7)))
        await wait_for_async(lambda: metric(telemetry, "otelcol_exporter_send_failed_spans", exporter="scripted") == 7)
        await asyncio.sleep(0.1)  # would-be retries after 10 ms
        await exporter.shutdown()
        return exporter

    exporter = asyncio.run(run())
    assert len(exporter.attempts) == 1
    assert metric(telemetry, "llm_collector_exporter_retried_spans", exporter="scripted") == 0
    drop = next(r for r in logs() if r["event"] == "dropping data: permanent error")
    assert drop["exporter"] == "scripted" and drop["items"] == 7 and drop["level"] == "error"


def test_partial_success_is_counted_and_not_retried() -> None:
    telemetry = Telemetry()

    async def run() -> Scripted:
        exporter = make_exporter(telemetry, lambda n: Rejected(3, "3 spans too old"))
        await exporter.start(FakeHost())
        await exporter.consume(Envelope(Signal.TRACES, spans_request(10)))
        await wait_for_async(lambda: metric(telemetry, "otelcol_exporter_send_failed_spans", exporter="scripted") == 3)
        await asyncio.sleep(0.1)
        await exporter.shutdown()
        return exporter

    exporter = asyncio.run(run())
    assert len(exporter.attempts) == 1
    assert metric(telemetry, "otelcol_exporter_sent_spans", exporter="scripted") == 7


def test_retry_disabled_drops_after_the_first_failure() -> None:
    telemetry = Telemetry()

    async def run() -> Scripted:
        exporter = make_exporter(telemetry, lambda n: RetryableError("UNAVAILABLE"), retry={"enabled": False})
        await exporter.start(FakeHost())
        await exporter.consume(Envelope(Signal.TRACES, spans_request(2)))
        await wait_for_async(lambda: metric(telemetry, "otelcol_exporter_send_failed_spans", exporter="scripted") == 2)
        await exporter.shutdown()
        return exporter

    assert len(asyncio.run(run()).attempts) == 1


# --- queue ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sizer", "queue_size", "spans", "fits"),
    [("requests", 2, 4, 2), ("items", 10, 4, 2), ("bytes", None, 4, 3)],
)
def test_full_queue_refuses_with_a_retryable_error_and_counts_enqueue_failed(sizer: str, queue_size: int | None, spans: int, fits: int) -> None:
    telemetry = Telemetry()
    requests = [spans_request(spans) for _ in range(fits + 1)]
    if queue_size is None:  # room for `fits` serialized requests and a bit, not for one more
        queue_size = sum(r.ByteSize() for r in requests[:fits]) + requests[0].ByteSize() // 2

    async def run() -> tuple[Scripted, BaseException | None]:
        exporter = make_exporter(telemetry, queue={"queue_size": queue_size, "sizer": sizer, "num_consumers": 1})
        exporter.gate = asyncio.Event()  # the backend hangs: nothing leaves the queue
        await exporter.start(FakeHost())
        assert metric(telemetry, "otelcol_exporter_queue_capacity", exporter="scripted") == queue_size
        for r in requests[:fits]:
            await exporter.consume(Envelope(Signal.TRACES, r))
        refused: BaseException | None = None
        try:
            await exporter.consume(Envelope(Signal.TRACES, requests[fits]))
        except RetryableError as exc:
            refused = exc
        expected_size = {"requests": fits, "items": fits * spans, "bytes": sum(r.ByteSize() for r in requests[:fits])}[sizer]
        assert metric(telemetry, "otelcol_exporter_queue_size", exporter="scripted") == expected_size
        exporter.gate.set()
        await wait_for_async(lambda: len(exporter.delivered) == fits * spans)
        assert metric(telemetry, "otelcol_exporter_queue_size", exporter="scripted") == 0
        await exporter.shutdown()
        return exporter, refused

    exporter, refused = asyncio.run(run())
    assert refused is not None and "queue is full" in str(refused) and "scripted" in str(refused)
    assert metric(telemetry, "otelcol_exporter_enqueue_failed_spans", exporter="scripted") == spans
    assert metric(telemetry, "otelcol_exporter_sent_spans", exporter="scripted") == fits * spans


def test_request_larger_than_the_whole_queue_is_refused_permanently() -> None:
    telemetry = Telemetry()

    async def run() -> None:
        exporter = make_exporter(telemetry, queue={"queue_size": 5, "sizer": "items", "block_on_overflow": True})
        await exporter.start(FakeHost())
        with pytest.raises(PermanentError, match="larger than the whole queue"):
            await asyncio.wait_for(exporter.consume(Envelope(Signal.TRACES, spans_request(6))), 2)  # must not block forever
        await exporter.shutdown()

    asyncio.run(run())
    assert metric(telemetry, "otelcol_exporter_enqueue_failed_spans", exporter="scripted") == 6


def test_block_on_overflow_makes_the_client_wait_for_room() -> None:
    telemetry = Telemetry()

    async def run() -> Scripted:
        exporter = make_exporter(telemetry, queue={"queue_size": 2, "num_consumers": 1, "block_on_overflow": True})
        exporter.gate = asyncio.Event()
        await exporter.start(FakeHost())
        await exporter.consume(Envelope(Signal.TRACES, spans_request(1)))
        await exporter.consume(Envelope(Signal.TRACES, spans_request(1)))
        third = asyncio.ensure_future(exporter.consume(Envelope(Signal.TRACES, spans_request(1))))
        await asyncio.sleep(0.2)
        assert not third.done(), "a full queue with block_on_overflow must hold the client"
        exporter.gate.set()
        await asyncio.wait_for(third, 5)
        await wait_for_async(lambda: len(exporter.delivered) == 3)
        await exporter.shutdown()
        return exporter

    asyncio.run(run())
    assert metric(telemetry, "otelcol_exporter_enqueue_failed_spans", exporter="scripted") == 0


def test_disabled_queue_sends_inline_and_the_client_sees_the_error() -> None:
    telemetry = Telemetry()

    async def run() -> None:
        exporter = make_exporter(telemetry, lambda n: PermanentError("bad"), queue={"enabled": False})
        await exporter.start(FakeHost())
        with pytest.raises(PermanentError):
            await exporter.consume(Envelope(Signal.TRACES, spans_request(3)))
        await exporter.shutdown()

    asyncio.run(run())
    assert metric(telemetry, "otelcol_exporter_send_failed_spans", exporter="scripted") == 3


def test_one_slow_exporter_does_not_stall_another() -> None:
    """Fan-out as the service builds it: the hung exporter's queue fills and refuses, while the other
    exporter keeps receiving every request at full speed."""
    telemetry = Telemetry()

    async def run() -> tuple[Scripted, Scripted, int, float]:
        slow = make_exporter(telemetry, name="slow", queue={"queue_size": 5, "num_consumers": 2})
        slow.gate = asyncio.Event()  # never set: the backend hangs
        fast = make_exporter(telemetry, name="fast", queue={"queue_size": 5, "num_consumers": 2})
        await slow.start(FakeHost())
        await fast.start(FakeHost())
        fan_out = FanOut([slow, fast])
        refused = 0
        started = time.monotonic()
        for _ in range(200):
            try:
                await fan_out.consume(Envelope(Signal.TRACES, spans_request(10)))
            except RetryableError:
                refused += 1
        await wait_for_async(lambda: len(fast.delivered) == 2000)
        took = time.monotonic() - started
        for exporter in (slow, fast):
            exporter._drain_budget = 0.1
            await exporter.shutdown()
        return slow, fast, refused, took

    slow, fast, refused, took = asyncio.run(run())
    assert len(fast.delivered) == 2000 and len(set(fast.delivered)) == 2000
    assert took < 5, f"the fast exporter was held back: {took:.1f}s"
    assert refused == 195  # the slow exporter's queue took 5, then refused: the client retries those
    assert metric(telemetry, "otelcol_exporter_enqueue_failed_spans", exporter="scripted/slow") == 1950
    assert metric(telemetry, "otelcol_exporter_enqueue_failed_spans", exporter="scripted/fast") == 0


# --- shutdown ---------------------------------------------------------------------------------


def test_shutdown_drains_the_memory_queue() -> None:
    telemetry = Telemetry()

    class Paced(Scripted):
        async def send(self, signal: Signal, data: Any) -> Rejected | None:
            await asyncio.sleep(0.02)
            self.delivered.extend(span_ids(data))
            return None

    async def run() -> Scripted:
        exporter = make_exporter(telemetry, queue={"num_consumers": 2}, cls=Paced)
        await exporter.start(FakeHost(grace=5.0))
        for _ in range(30):
            await exporter.consume(Envelope(Signal.TRACES, spans_request(2)))
        await exporter.shutdown()
        return exporter

    exporter = asyncio.run(run())
    assert len(exporter.delivered) == 60
    assert metric(telemetry, "otelcol_exporter_sent_spans", exporter="scripted") == 60


def test_memory_queue_that_cannot_drain_logs_and_counts_what_was_lost(logs: Any) -> None:
    telemetry = Telemetry()

    async def run() -> float:
        exporter = make_exporter(telemetry, lambda n: RetryableError("UNAVAILABLE"), queue={"num_consumers": 2})
        await exporter.start(FakeHost(grace=0.3))
        for _ in range(5):
            await exporter.consume(Envelope(Signal.TRACES, spans_request(3)))
        started = time.monotonic()
        await exporter.shutdown()
        return time.monotonic() - started

    took = asyncio.run(run())
    assert 0.3 <= took < 2.0
    lost = next(r for r in logs() if r["event"].startswith("sending queue could not drain"))
    assert lost["level"] == "error" and lost["exporter"] == "scripted"
    assert lost["requests"] == 5 and lost["lost_spans"] == 15
    assert metric(telemetry, "otelcol_exporter_send_failed_spans", exporter="scripted") == 15


def test_data_after_shutdown_is_refused_as_retryable() -> None:
    telemetry = Telemetry()

    async def run() -> None:
        exporter = make_exporter(telemetry)
        await exporter.start(FakeHost())
        await exporter.shutdown()
        with pytest.raises(RetryableError):
            await exporter.consume(Envelope(Signal.TRACES, spans_request(1)))

    asyncio.run(run())


# --- config -----------------------------------------------------------------------------------

CONFIG = """receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:4317"}
exporters:
  otlp:
    endpoint: "127.0.0.1:4317"
    tls: {insecure: true}
    sending_queue:
      storage: STORAGE
extensions:
EXTENSIONS
service:
  extensions: [ENABLED]
  pipelines:
    traces: {receivers: [otlp], exporters: [otlp]}
"""


def config_errors(tmp_path: Path, storage: str, extensions: str, enabled: str) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.replace("STORAGE", storage).replace("EXTENSIONS", extensions).replace("ENABLED", enabled))
    with pytest.raises(ConfigErrors) as info:
        load_config([str(path)])
    return str(info.value)


def test_storage_naming_an_unconfigured_extension_is_a_config_error_with_file_line_and_key(tmp_path: Path) -> None:
    text = config_errors(tmp_path, "file_storage/missing", '  file_storage/q: {directory: "/tmp"}', "file_storage/q")
    assert "config.yaml:10" in text
    assert "exporters::otlp::sending_queue::storage" in text or "exporters.otlp.sending_queue.storage" in text
    assert 'references extension "file_storage/missing" which is not configured' in text


def test_storage_naming_something_other_than_file_storage_is_a_config_error(tmp_path: Path) -> None:
    text = config_errors(tmp_path, "health_check", '  health_check: {endpoint: "127.0.0.1:13133"}', "health_check")
    assert "config.yaml:10" in text
    assert 'expected the id of a file_storage extension, like "file_storage/queue", got "health_check"' in text


def test_storage_extension_must_be_enabled_in_the_service(tmp_path: Path) -> None:
    text = config_errors(tmp_path, "file_storage/q", '  file_storage/q: {directory: "/tmp"}\n  health_check: {}', "health_check")
    assert 'extension "file_storage/q" must also be listed in service.extensions' in text


def test_valid_storage_reference_loads(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.replace("STORAGE", "file_storage/q").replace("EXTENSIONS", f'  file_storage/q: {{directory: "{tmp_path}", fsync: true}}').replace("ENABLED", "file_storage/q"))
    config = load_config([str(path)])
    exporter = config.component(Kind.EXPORTER, ComponentID("otlp"))
    assert exporter.config.sending_queue.storage == "file_storage/q"
    assert config.component(Kind.EXTENSION, ComponentID("file_storage", "q")).config.fsync is True
