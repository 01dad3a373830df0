"""memory_limiter: refuses with retryable codes above the soft limit (so SDKs back off), forces GC
above the hard limit, recovers below, and reads percentages against the container limit."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from collector.config import ConfigErrors, load_config
from collector.envelope import Envelope
from collector.processors import memory_limiter as ml
from tests.processors.test_batch import request

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def config(block: str) -> str:
    return f"""
receivers:
  otlp:
    protocols:
      grpc: {{{{endpoint: "127.0.0.1:{{grpc}}"}}}}
      http: {{{{endpoint: "127.0.0.1:{{http}}"}}}}
processors:
  memory_limiter: {block}
exporters:
  file/traces: {{{{path: "{{data}}/traces.jsonl"}}}}
extensions:
  health_check: {{{{endpoint: "127.0.0.1:{{health}}"}}}}
service:
  extensions: [health_check]
  telemetry: {{{{metrics: {{{{address: "127.0.0.1:{{metrics}}"}}}}}}}}
  pipelines:
    traces: {{{{receivers: [otlp], processors: [memory_limiter], exporters: [file/traces]}}}}
"""


@pytest.mark.slow
def test_over_the_limit_both_transports_get_retryable_refusals(daemon_factory: Any) -> None:
    # A 10 MiB limit is far below any Python daemon, so it refuses from the first check.
    daemon = daemon_factory(config("{{limit_mib: 10, spike_limit_mib: 2, check_interval: 100ms}}"))
    with grpc.insecure_channel(daemon.grpc_endpoint) as channel:
        with pytest.raises(grpc.RpcError) as info:
            channel.unary_unary(EXPORT)(request(5), timeout=10)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    details = status_pb2.Status.FromString(dict(info.value.trailing_metadata())["grpc-status-details-bin"])
    retry = error_details_pb2.RetryInfo()
    assert details.details[0].Unpack(retry) and retry.retry_delay.seconds >= 1
    http = urllib.request.Request(f"{daemon.http_url}/v1/traces", data=request(3), headers={"Content-Type": "application/x-protobuf"})
    with pytest.raises(urllib.error.HTTPError) as http_info:
        urllib.request.urlopen(http, timeout=10)
    assert http_info.value.code == 503 and int(http_info.value.headers["Retry-After"]) >= 1
    # Refused data is counted by the limiter and as refused by the receiver, and never written.
    assert daemon.metric("otelcol_processor_refused_spans", processor="memory_limiter") == 8
    assert daemon.metric("otelcol_receiver_refused_spans", receiver="otlp") == 8
    assert daemon.alive()
    assert daemon.stop() == 0
    assert not (daemon.data / "traces.jsonl").read_bytes()


@pytest.mark.slow
def test_under_the_limit_data_flows(daemon_factory: Any) -> None:
    daemon = daemon_factory(config("{{limit_mib: 4000, check_interval: 100ms}}"))
    with grpc.insecure_channel(daemon.grpc_endpoint) as channel:
        channel.unary_unary(EXPORT)(request(5), timeout=10)
    assert daemon.stop() == 0
    assert len((daemon.data / "traces.jsonl").read_bytes().splitlines()) == 1


class Scripted(ml.MemoryLimiterProcessor):
    readings: list[int] = []

    def measure(self) -> int:
        return self.readings.pop(0)


def make(tmp_path: Path, block: str) -> Scripted:
    from collector.component import ComponentID, Kind, Settings, Signal
    from collector.telemetry import Telemetry, component_logger

    path = tmp_path / "c.yaml"
    path.write_text(config(block).format(grpc=1, http=2, health=3, metrics=4, data=tmp_path))
    cfg = load_config([str(path)]).component(Kind.PROCESSOR, ComponentID("memory_limiter"))
    settings = Settings(ComponentID("memory_limiter"), Kind.PROCESSOR, component_logger("memory_limiter", "processor"), Telemetry(), "traces", Signal.TRACES)
    return Scripted(settings, cfg.config, next_consumer=None)


def test_soft_limit_refuses_hard_limit_forces_gc_and_it_recovers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    collected: list[int] = []
    monkeypatch.setattr(ml.gc, "collect", lambda: collected.append(1) or 0)
    p = make(tmp_path, "{{limit_mib: 100, spike_limit_mib: 20}}")
    assert (p.hard, p.soft) == (100 * ml.MIB, 80 * ml.MIB)
    p.readings = [70 * ml.MIB, 85 * ml.MIB, 120 * ml.MIB, 110 * ml.MIB, 60 * ml.MIB]
    p.check()
    assert not p.refusing and not collected
    p.check()
    assert p.refusing and not collected  # soft: refuse, no GC
    p.check()
    assert p.refusing and collected == [1]  # hard: GC, re-measured (110 MiB) and still refusing
    p.check()
    assert not p.refusing  # recovered


def test_percentages_follow_the_container_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    limit = tmp_path / "memory.max"
    limit.write_text("536870912\n")  # 512 MiB
    monkeypatch.setattr(ml, "CGROUP_MEMORY_MAX", limit)
    p = make(tmp_path, "{{limit_percentage: 50}}")
    assert p.hard == 256 * ml.MIB and p.soft == p.hard - p.hard // 5
    limit.write_text("max\n")  # no container limit: total memory instead
    assert ml.total_memory_bytes() > 512 * ml.MIB


@pytest.mark.parametrize(
    "block,message",
    [
        ("{{check_interval: 1s}}", "set limit_mib or limit_percentage to a value greater than 0"),
        ("{{limit_mib: 100, spike_limit_mib: 100}}", "spike_limit_mib: must be lower than limit_mib (100)"),
        ("{{limit_mib: 100, limit_percentage: 50}}", "set either limit_mib or limit_percentage, not both"),
        ("{{limit_percentage: 150}}", "percentages must be between 0 and 100"),
    ],
)
def test_bad_config(tmp_path: Path, block: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(config(block).format(grpc=1, http=2, health=3, metrics=4, data=tmp_path))
    with pytest.raises(ConfigErrors) as info:
        load_config([str(path)])
    assert message in str(info.value)


def test_gc_intervals_follow_otelcols_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    collected: list[int] = []
    monkeypatch.setattr(ml.gc, "collect", lambda: collected.append(1) or 0)
    clock = [1000.0]
    monkeypatch.setattr(ml.time, "monotonic", lambda: clock[0])
    p = make(tmp_path, "{{limit_mib: 100, spike_limit_mib: 20, min_gc_interval_when_hard_limited: 5s, min_gc_interval_when_soft_limited: 30s}}")
    hard, soft = 120 * ml.MIB, 90 * ml.MIB
    p.readings = [hard, hard, hard, hard, soft, soft, soft]
    p.check()  # hard, but only 0 s since start: within the 5 s hard interval
    assert collected == []
    clock[0] += 6
    p.check()  # hard, 6 s: GC
    assert collected == [1]
    clock[0] += 1
    p.check()  # hard again 1 s later: throttled, still refusing
    assert collected == [1] and p.refusing
    clock[0] += 10
    p.check()  # soft only, 10 s since GC: under the 30 s soft interval
    assert collected == [1]
    clock[0] += 25
    p.check()  # soft, 35 s since GC: GC
    assert collected == [1, 1]


def test_near_the_soft_limit_each_request_is_measured_so_a_burst_is_refused_before_the_next_tick(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    from collector.component import RetryableError, Signal

    one = ExportTraceServiceRequest.FromString(request(1))
    clock = [1000.0]
    monkeypatch.setattr(ml.time, "monotonic", lambda: clock[0])

    class Sink:
        async def consume(self, envelope: Envelope) -> None:
            return None

    p = make(tmp_path, "{{limit_mib: 100, spike_limit_mib: 20, check_interval: 1s}}")  # soft 80, watched from 60
    p.next = Sink()
    p.readings = [50 * ml.MIB]
    p.check()
    clock[0] += 0.5
    asyncio.run(p.consume(Envelope(Signal.TRACES, one)))  # 50 MiB: far from soft, no extra measurement
    assert p.readings == []

    p.readings = [65 * ml.MIB]
    p.check()  # the tick: now within one spike of the soft limit
    clock[0] += 0.005
    asyncio.run(p.consume(Envelope(Signal.TRACES, one)))  # < 10 ms since the last measurement: not measured
    p.readings = [85 * ml.MIB]
    clock[0] += 0.01
    with pytest.raises(RetryableError):  # half a check_interval before the next tick
        asyncio.run(p.consume(Envelope(Signal.TRACES, one)))
    assert p.readings == [] and p.refusing


def test_a_refusal_does_not_keep_the_refused_request_alive(tmp_path: Path) -> None:
    """While a refusal is answered, the receiver holds the RetryableError; its traceback holds the
    limiter's frame. That frame must not hold the request, or every refused request in flight stays in
    memory until its answer is sent (with many clients, tens of MiB above the soft limit)."""
    import asyncio
    import traceback

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    from collector.component import RetryableError, Signal

    p = make(tmp_path, "{{limit_mib: 100, spike_limit_mib: 20}}")
    p.readings = [90 * ml.MIB]
    p.check()
    refused = ExportTraceServiceRequest.FromString(request(3))
    with pytest.raises(RetryableError) as info:
        asyncio.run(p.consume(Envelope(Signal.TRACES, refused)))
    frames = [frame for frame, _ in traceback.walk_tb(info.value.__traceback__)]
    limiter = [f for f in frames if f.f_code is ml.MemoryLimiterProcessor.consume.__code__]
    assert limiter, [f.f_code.co_name for f in frames]
    assert all(value is not refused for f in limiter for value in f.f_locals.values())
    assert p.m_refused.value == 3
