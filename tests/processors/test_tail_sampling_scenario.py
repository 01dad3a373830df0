"""tail_sampling end to end, driven by the load generator (issue 5, "Tests").

Scenario: one OTLP receiver feeds two traces pipelines, `traces/all` (token_count, cost -> file/all) and
`traces/sampled` (token_count, cost, tail_sampling -> file/sampled). `all` is the ground truth: every trace
that is an error, expensive or slow there must be in `sampled` whole, the other traces must be kept at the
probabilistic rate, and nothing else may leak.

Memory: 200k distinct traces offered to a tail sampler holding `num_traces: 10000` with a long decision
wait: the daemon's RSS stays bounded and every evicted trace is counted as dropped too early.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest

from collector.component import Signal
from collector.envelope import Envelope
from tests.conftest import REPO, daemon_yaml

TS = "otelcol_processor_tail_sampling_"


def esc(block: str) -> str:
    return block.replace("{", "{{").replace("}", "}}")


def run_loadgen(daemon: Any, *args: str, timeout: float = 120.0) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "collector.cli", "loadgen", "--endpoint", daemon.grpc_endpoint, "--json", "--quiet", *args]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, timeout=timeout)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    report: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert report["requests_failed"] == 0, report
    return report


def _attr(span: dict[str, Any], key: str) -> Any:
    for kv in span.get("attributes", ()):
        if kv["key"] == key:
            value = kv["value"]
            for kind in ("doubleValue", "intValue", "stringValue", "boolValue"):
                if kind in value:
                    return float(value[kind]) if kind == "intValue" else value[kind]
    return None


class Trace:
    __slots__ = ("cost", "end", "error", "spans", "start")

    def __init__(self) -> None:
        self.spans: set[str] = set()
        self.error = False
        self.cost = 0.0
        self.start = 1 << 64
        self.end = 0

    @property
    def duration_s(self) -> float:
        return (self.end - self.start) / 1e9


def read_traces(path: Path) -> tuple[dict[str, Trace], int]:
    """Spans of an OTLP-JSON lines file grouped by trace id; also returns the number of span records."""
    traces: dict[str, Trace] = defaultdict(Trace)
    records = 0
    if not path.exists():
        return traces, 0
    for line in path.read_bytes().splitlines():
        if not line.strip():
            continue
        for rs in orjson.loads(line).get("resourceSpans", ()):
            for ss in rs.get("scopeSpans", ()):
                for span in ss.get("spans", ()):
                    records += 1
                    t = traces[span["traceId"]]
                    t.spans.add(span["spanId"])
                    if span.get("status", {}).get("code") in (2, "STATUS_CODE_ERROR"):
                        t.error = True
                    cost = _attr(span, "gen_ai.usage.cost")
                    if cost is not None:
                        t.cost += cost
                    t.start = min(t.start, int(span["startTimeUnixNano"]))
                    t.end = max(t.end, int(span["endTimeUnixNano"]))
    return dict(traces), records


# ------------------------------------------------------------------------------------------------
# 1. Scenario: errors + cost >= $0.01 + latency >= 5s + 10% probabilistic
# ------------------------------------------------------------------------------------------------

TAIL = esc(
    "{decision_wait: 1s, num_traces: 100000, policies: ["
    "{name: errors, type: status_code, status_code: {status_codes: [ERROR]}}, "
    "{name: expensive, type: llm_cost, llm_cost: {min_usd: 0.01}}, "
    "{name: slow, type: latency, latency: {threshold_ms: 5000}}, "
    "{name: sample, type: probabilistic, probabilistic: {sampling_percentage: 10}}]}"
)

SCENARIO_CONFIG = daemon_yaml("""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
processors:
  token_count: {{}}
  cost: {{}}
  tail_sampling: TAIL
exporters:
  file/all: {{path: "{data}/all.jsonl", flush_interval: 50ms}}
  file/sampled: {{path: "{data}/sampled.jsonl", flush_interval: 50ms}}
""", """
traces/all: {{receivers: [otlp], processors: [token_count, cost], exporters: [file/all]}}
traces/sampled: {{receivers: [otlp], processors: [token_count, cost, tail_sampling], exporters: [file/sampled]}}
""").replace("TAIL", TAIL)

SPANS_PER_TRACE = 5


@pytest.mark.slow
def test_llm_stream_keeps_errors_expensive_slow_whole_and_samples_ten_percent(daemon_factory: Any) -> None:
    daemon = daemon_factory(SCENARIO_CONFIG)
    # 5,000 spans/s for 6 s = 6,000 traces; 50 templates x 20 traces = 1,000 distinct trace bodies.
    report = run_loadgen(daemon, "--rate", "5000", "--duration", "6s", "--batch-size", "100", "--seed", "7", "--templates", "50", "--concurrency", "8")
    sent_spans = report["spans_sent"]
    assert report["spans_acknowledged"] == sent_spans
    time.sleep(1.5)  # most decisions by the timer; the rest is decided at shutdown
    assert daemon.stop() == 0

    everything, all_records = read_traces(daemon.data / "all.jsonl")
    sampled, sampled_records = read_traces(daemon.data / "sampled.jsonl")
    assert all_records == sent_spans, "the unsampled pipeline must see every span once"
    assert len(everything) == sent_spans // SPANS_PER_TRACE, "the loadgen must send distinct trace ids"
    assert all(len(t.spans) == SPANS_PER_TRACE for t in everything.values())
    assert sampled_records == sum(len(t.spans) for t in sampled.values()), "a sampled span was exported twice"

    # Nothing leaks: every sampled trace exists in `all`, with the same spans.
    leaked = set(sampled) - set(everything)
    assert not leaked, f"{len(leaked)} sampled traces were never sent"
    partial = [tid for tid, t in sampled.items() if t.spans != everything[tid].spans]
    assert not partial, f"{len(partial)} sampled traces are not whole"

    def must_keep(t: Trace) -> bool:
        return t.error or t.cost >= 0.01 or t.duration_s >= 5.0

    kept = {tid for tid, t in everything.items() if must_keep(t)}
    missing = kept - set(sampled)
    assert not missing, f"{len(missing)} of {len(kept)} error/expensive/slow traces were not sampled"
    others = set(everything) - kept
    kept_others = others & set(sampled)
    share = len(kept_others) / len(others)
    counts = {
        "errors": sum(t.error for t in everything.values()),
        "expensive": sum(t.cost >= 0.01 for t in everything.values()),
        "slow": sum(t.duration_s >= 5.0 for t in everything.values()),
    }
    print(
        f"\nscenario: {len(everything)} traces, must keep {len(kept)} {counts}, "
        f"others sampled {len(kept_others)}/{len(others)} = {share:.2%}, exported {len(sampled)} traces"
    )
    # The loadgen's mix is the issue's: 2% errors (exact over its template pool), 5% expensive, 3% slow, and
    # every other trace under both thresholds, so the must-keep share is their union (they overlap by chance).
    n = len(everything)
    assert counts["errors"] >= 0.015 * n and counts["slow"] >= 0.025 * n and counts["expensive"] >= 0.04 * n, counts
    assert len(kept) <= 0.105 * n, f"{len(kept)} must-keep traces: ordinary ones cross a threshold {counts}"
    assert 0.08 <= share <= 0.12, f"probabilistic share {share:.2%} outside 10% +/- 2 points"
    # Every sampled trace is either a must-keep or a probabilistic pick: nothing else leaks.
    assert set(sampled) == kept | kept_others


# ------------------------------------------------------------------------------------------------
# 2. Memory: 200k traces offered, num_traces 10000
# ------------------------------------------------------------------------------------------------

MEMORY_CONFIG = daemon_yaml("""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
processors:
  tail_sampling: TAIL
exporters:
  file/sampled: {{path: "{data}/sampled.jsonl"}}
""", """
traces: {{receivers: [otlp], processors: [tail_sampling], exporters: [file/sampled]}}
""").replace(
    "TAIL",
    esc(
        "{decision_wait: 1h, num_traces: 10000, decide_on_shutdown: false, policies: ["
        "{name: errors, type: status_code, status_code: {status_codes: [ERROR]}}]}"
    ),
)

NUM_TRACES = 10_000
OFFERED_TRACES = 200_000
TRACES_PER_REQUEST = 20  # loadgen llm profile, batch 100 = 20 whole 5-span traces


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class RssSampler(threading.Thread):
    def __init__(self, pid: int, interval: float = 0.05):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, int]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                self.samples.append((time.monotonic(), rss_bytes(self.pid)))
            except (OSError, AssertionError):
                return
            self.done.wait(self.interval)

    def peak(self) -> int:
        return max(rss for _, rss in self.samples)


@pytest.mark.slow
def test_200k_traces_with_num_traces_10000_keep_rss_bounded_and_count_drops(daemon_factory: Any) -> None:
    import grpc

    from collector.tools import loadgen

    daemon = daemon_factory(MEMORY_CONFIG)
    pid = daemon.proc.pid
    time.sleep(0.5)
    idle = rss_bytes(pid)

    # The loadgen's own payloads (templates with fresh random trace ids patched in per send), sent as an exact
    # number of requests so exactly OFFERED_TRACES distinct traces are offered.
    templates = loadgen.build_templates(batch_size=100, count=32, seed=3)
    assert all(t.traces == TRACES_PER_REQUEST for t in templates)
    source = loadgen.PayloadSource(templates, seed=3)
    trace_bytes = sum(len(t.payload) for t in templates) / sum(t.traces for t in templates)
    requests = OFFERED_TRACES // TRACES_PER_REQUEST
    lock = threading.Lock()
    remaining = [requests]
    errors: list[BaseException] = []

    def sender() -> None:
        with grpc.insecure_channel(daemon.grpc_endpoint) as channel:
            export = channel.unary_unary(loadgen.GRPC_METHODS["traces"])
            while True:
                with lock:
                    if remaining[0] == 0:
                        return
                    remaining[0] -= 1
                    payload, _ = source.next()
                try:
                    export(payload, timeout=30)
                except BaseException as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)
                    return

    sampler = RssSampler(pid)
    sampler.start()
    started = time.monotonic()
    rss_when_full: int | None = None
    senders = [threading.Thread(target=sender) for _ in range(4)]
    for t in senders:
        t.start()
    while any(t.is_alive() for t in senders):
        time.sleep(0.2)
        if rss_when_full is None and (requests - remaining[0]) * TRACES_PER_REQUEST >= 2 * NUM_TRACES:
            rss_when_full = rss_bytes(pid)
    for t in senders:
        t.join()
    elapsed = time.monotonic() - started
    time.sleep(0.3)
    sampler.done.set()
    sampler.join()
    assert not errors, errors[0]
    assert daemon.alive()
    daemon.wait_healthy(timeout=5)

    new = daemon.metric(TS + "new_trace_id_received")
    on_memory = daemon.metric(TS + "sampling_traces_on_memory")
    too_early = daemon.metric(TS + "sampling_trace_dropped_too_early")
    peak = sampler.peak()
    buffered = NUM_TRACES * trace_bytes  # serialized size of the traces the buffer may hold
    # The buffer keeps a parsed protobuf copy of every span (plus per-trace bookkeeping); measured at ~4x the
    # serialized size, so allow 5x, plus 48 MiB for gRPC buffers and requests in flight.
    bound = idle + 5 * buffered + 48 * 2**20
    t0 = sampler.samples[0][0]
    print(
        f"\nmemory: {OFFERED_TRACES:,} traces in {elapsed:.1f}s ({OFFERED_TRACES * 5 / elapsed:,.0f} spans/s); "
        f"idle RSS {idle / 2**20:.0f} MiB, after {2 * NUM_TRACES:,} traces {(rss_when_full or 0) / 2**20:.0f} MiB, "
        f"peak {peak / 2**20:.0f} MiB (bound {bound / 2**20:.0f} MiB; {NUM_TRACES:,} traces = {buffered / 2**20:.0f} MiB "
        f"serialized, held at {(peak - idle) / buffered:.1f}x); new {new:,.0f}, on memory {on_memory:,.0f}, "
        f"dropped too early {too_early:,.0f}\n"
        f"rss MiB by second: {[(round(t - t0), rss >> 20) for t, rss in sampler.samples[::20]]}"
    )
    assert new == OFFERED_TRACES
    assert daemon.metric(TS + "global_count_traces_sampled") == 0  # nothing was decided (1 h wait)
    assert on_memory == NUM_TRACES
    # So every trace that is not on memory was evicted before its decision, and counted.
    assert too_early == OFFERED_TRACES - NUM_TRACES
    assert peak <= bound, f"peak RSS {peak / 2**20:.0f} MiB above {bound / 2**20:.0f} MiB"
    # Bounded means a plateau once the buffer is full: the next 180k traces only replace evicted ones. (Before
    # the eviction fix in tail_sampling, stale queue items grew RSS by ~250 B per evicted trace, ~43 MiB here.)
    assert rss_when_full is not None
    assert peak <= rss_when_full + 16 * 2**20, (rss_when_full >> 20, peak >> 20)
    assert daemon.stop() == 0


def test_evicted_traces_do_not_pile_up_in_the_decision_queue() -> None:
    """Regression: with a long decision_wait every evicted trace used to leave its deadline item in the
    queue until that deadline passed, so memory grew with the offered rate instead of num_traces."""
    import asyncio

    from .test_tail_sampling import _processor, req, span

    async def run() -> None:
        p, _ = _processor("decision_wait: 1h\nnum_traces: 10\npolicies: [{name: all, type: always_sample}]")
        for tid in range(1, 1001):
            await p.consume(Envelope(Signal.TRACES, req([span(tid, 1)])))
        assert p.m_too_early.value == 990 and p._pending_count == 10
        assert len(p.queue) == 10
        sampled, _ = p.decide_due(float("inf"))
        assert sorted(int.from_bytes(t.trace_id, "big") for t in sampled) == list(range(991, 1001))

    asyncio.run(run())
