"""Overload with memory_limiter, through the daemon (issue 5, "Tests": "Overload").

Pipeline `memory_limiter -> tail_sampling -> file`. tail_sampling holds every accepted span for
`decision_wait` (3 s), so the daemon's memory grows with what it accepts; three closed-loop load generators
offer far more than it can hold (>15x what it accepts). memory_limiter must push back with retryable
refusals (gRPC UNAVAILABLE), the daemon must stay up and healthy with its RSS under the hard limit, and
every accepted span must be accounted for:

    receiver accepted = spans written to the file
                        + llm_collector_tail_sampling_dropped_spans (not sampled, evicted too early, too large)
                        + llm_collector_tail_sampling_send_failed_spans (sampled, refused by the exporter)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import REPO, daemon_yaml

MIB = 1 << 20
TS = "otelcol_processor_tail_sampling_"
DECISION_WAIT = 3.0
LOAD_SECONDS = 10
LOADGENS = 3
CONCURRENCY = 8
BATCH = 100  # loadgen llm profile: 20 whole 5-span traces per request
SPANS_PER_TRACE = 5
HEADROOM_MIB = 120  # hard limit = idle + this
SPIKE_MIB = 30
# The process tree's RSS must stay under the hard limit. What grows after memory_limiter starts refusing
# at the soft limit (it measures every check_interval and, within one spike of soft, on every request at
# most every 10 ms) and has to fit in the spike, as measured on a 2-core machine:
# - requests in flight: a refused request used to stay in memory (parsed and raw) until its refusal was
#   sent, so the 24 in-flight refused requests held ~15 MiB (0.6 MiB each; 55 MiB with 400-span requests).
#   The gRPC receiver must let go of them before it answers (receivers/otlp.py), and memory_limiter's own
#   frame (kept alive by the error's traceback) must not hold the request either: then ~5 MiB remain.
# - tail_sampling's releases: a decided trace is parsed back into the outgoing request (~4x its held bytes)
#   and the file exporter serializes it again and its encoder process decodes and encodes it. Released as
#   one request per 500-trace decision chunk, that was ~12 MiB in the daemon and ~19 MiB in the encoder
#   process on top of everything held; released in requests of <= 256 KiB held bytes, a few MiB.
# Before: peaks 8-28 MiB above the hard limit; after: 15-20 MiB below it (peak within ~10 MiB of soft).

CONFIG = daemon_yaml("""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
processors:
  memory_limiter: {{limit_mib: LIMIT, spike_limit_mib: SPIKE, check_interval: 100ms}}
  tail_sampling: {{decision_wait: 3s, num_traces: 1000000, policies: [{{name: half, type: probabilistic, probabilistic: {{sampling_percentage: 50}}}}]}}
exporters:
  file/traces: {{path: "{data}/traces.jsonl", flush_interval: 100ms}}
""", """
traces: {{receivers: [otlp], processors: [memory_limiter, tail_sampling], exporters: [file/traces]}}
""")


def config(limit_mib: int, spike_mib: int) -> str:
    return CONFIG.replace("LIMIT", str(limit_mib)).replace("SPIKE", str(spike_mib))


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return out


def tree_rss(pid: int) -> int:
    """RSS of the daemon plus its children (the file exporter's encoder process): what memory_limiter
    measures and what a container limit counts."""
    total = _rss(pid)
    for child in _children(pid):
        try:
            total += _rss(child)
        except OSError:
            pass
    return total


class RssSampler(threading.Thread):
    def __init__(self, pid: int, interval: float = 0.02):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, int, int]] = []  # (time, tree RSS, main process RSS)
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                self.samples.append((time.monotonic(), tree_rss(self.pid), _rss(self.pid)))
            except OSError:
                return
            self.done.wait(self.interval)

    def peak(self) -> int:
        return max(s[1] for s in self.samples)


def healthy(daemon: Any) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{daemon.ports['health']}/", timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, OSError):
        return False


def count_spans(path: Path) -> int:
    spans = 0
    for line in path.read_bytes().splitlines():
        if line.strip():
            for rs in orjson.loads(line).get("resourceSpans", ()):
                for ss in rs.get("scopeSpans", ()):
                    spans += len(ss.get("spans", ()))
    return spans


def warm_up(daemon: Any) -> None:
    """One loadgen request through the whole pipeline, so the file exporter's encoder process (started at
    the first export) is running."""
    import grpc

    from collector.tools import loadgen

    templates = loadgen.build_templates(batch_size=BATCH, count=1, seed=1)
    payload, _ = loadgen.PayloadSource(templates, seed=1).next()
    with grpc.insecure_channel(daemon.grpc_endpoint) as channel:
        channel.unary_unary(loadgen.GRPC_METHODS["traces"])(payload, timeout=10)
    deadline = time.monotonic() + DECISION_WAIT + 10
    while daemon.metric(TS + "sampling_traces_on_memory") > 0 or not _children(daemon.proc.pid):
        assert time.monotonic() < deadline, daemon.logs()
        time.sleep(0.1)
    time.sleep(0.5)


@pytest.mark.slow
def test_overload_refuses_retryably_keeps_rss_under_the_limit_and_accounts_for_every_span(daemon_factory: Any) -> None:
    # Idle RSS of the same pipeline (encoder process included), with a limit it cannot reach.
    probe = daemon_factory(config(100_000, 1000), subdir="probe")
    warm_up(probe)
    idle = tree_rss(probe.proc.pid)
    assert probe.stop() == 0

    limit_mib = -(-(idle + HEADROOM_MIB * MIB) // MIB)
    hard, soft = limit_mib * MIB, (limit_mib - SPIKE_MIB) * MIB
    daemon = daemon_factory(config(limit_mib, SPIKE_MIB), subdir="overload")
    pid = daemon.proc.pid
    warm_up(daemon)  # as when idle was measured; its 100 spans are part of the accounting below
    warm_accepted = daemon.metric("otelcol_receiver_accepted_spans")
    assert tree_rss(pid) < soft

    sampler = RssSampler(pid)
    sampler.start()
    cmd = [sys.executable, "-m", "collector.cli", "loadgen", "--endpoint", daemon.grpc_endpoint, "--json", "--quiet",
           "--rate", "max", "--duration", f"{LOAD_SECONDS}s", "--concurrency", str(CONCURRENCY),
           "--batch-size", str(BATCH), "--drain-timeout", "20s"]
    gens = [subprocess.Popen([*cmd, "--seed", str(11 + i)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(LOADGENS)]
    health: list[bool] = []
    t0 = time.monotonic()
    try:
        while any(g.poll() is None for g in gens):
            health.append(daemon.alive() and healthy(daemon))
            time.sleep(0.5)
        reports = []
        for g in gens:
            out, err = g.communicate(timeout=60)
            assert g.returncode == 0, err.decode(errors="replace")
            reports.append(json.loads(out.decode().strip().splitlines()[-1]))
    finally:
        for g in gens:
            if g.poll() is None:
                g.kill()
                g.wait()
    load_s = time.monotonic() - t0
    assert daemon.alive(), daemon.logs()
    assert health and all(health), health
    daemon.wait_healthy(timeout=5)

    # Shutdown: first let every pending trace reach its decision (3 s wait), so the counters are final while
    # the metrics endpoint is still up; SIGTERM then has nothing left to decide and only flushes the file.
    deadline = time.monotonic() + DECISION_WAIT + 15
    while daemon.metric(TS + "sampling_traces_on_memory") > 0:
        assert time.monotonic() < deadline, "traces still pending long after decision_wait"
        time.sleep(0.2)
    time.sleep(0.3)  # past the RSS of the last decision batch's export
    sampler.done.set()
    sampler.join()

    accepted = daemon.metric("otelcol_receiver_accepted_spans")
    refused = daemon.metric("otelcol_receiver_refused_spans")
    failed = daemon.metric("otelcol_receiver_failed_spans")
    limiter_refused = daemon.metric("otelcol_processor_refused_spans", processor="memory_limiter")
    dropped = daemon.metric("llm_collector_tail_sampling_dropped_spans")
    send_failed = daemon.metric("llm_collector_tail_sampling_send_failed_spans")
    too_early = daemon.metric(TS + "sampling_trace_dropped_too_early")
    new_traces = daemon.metric(TS + "new_trace_id_received")
    sampled = daemon.metric(TS + "global_count_traces_sampled", sampled="true")
    not_sampled = daemon.metric(TS + "global_count_traces_sampled", sampled="false")
    forced_gc = daemon.metric("llm_collector_memory_limiter_forced_gc")
    assert daemon.metric(TS + "sampling_traces_on_memory") == 0
    assert daemon.stop() == 0
    written = count_spans(daemon.data / "traces.jsonl")

    peak = sampler.peak()
    sent = sum(r["spans_sent"] for r in reports)
    acked = sum(r["spans_acknowledged"] for r in reports)
    codes: dict[str, int] = {}
    for r in reports:
        for code, n in r["failed_by_code"].items():
            codes[code] = codes.get(code, 0) + n
    ts0 = sampler.samples[0][0]
    print(
        f"\noverload: idle {idle / MIB:.0f} MiB, hard {limit_mib} MiB, soft {limit_mib - SPIKE_MIB} MiB, "
        f"peak {peak / MIB:.0f} MiB ({(peak - hard) / MIB:+.0f} MiB vs hard), forced GCs {forced_gc:.0f}\n"
        f"clients: {LOADGENS} loadgens x {CONCURRENCY} in flight, {load_s:.1f}s: sent {sent:,} spans, acked {acked:,}, "
        f"failed requests {codes}\n"
        f"daemon: accepted {accepted:,.0f} (warm-up {warm_accepted:.0f}), refused {refused:,.0f} "
        f"(memory_limiter {limiter_refused:,.0f}), failed {failed:,.0f}; written {written:,} + tail_sampling dropped "
        f"{dropped:,.0f} + send_failed {send_failed:,.0f}; traces new {new_traces:,.0f} sampled {sampled:,.0f} "
        f"not sampled {not_sampled:,.0f} dropped too early {too_early:,.0f}\n"
        f"tree RSS MiB by 0.2 s (main process): {[(round(t - ts0, 1), rss >> 20, main >> 20) for t, rss, main in sampler.samples[::10]]}"
    )

    # More was offered than it could take, and all of the excess was refused retryably. How much more depends
    # on how fast this host's load generators are next to the daemon (3.5x to 6x on a quiet host, 1.5x with
    # other work on the cores), so the bound only says that the limiter had to refuse; the RSS bound below is
    # what this test is about.
    assert sent > acked, (sent, acked)
    assert set(codes) == {"UNAVAILABLE"} and codes["UNAVAILABLE"] > 0, codes
    assert all(r["spans_rejected"] == 0 and r["abandoned_in_flight"] == 0 for r in reports), reports
    assert refused == limiter_refused == sent - acked == BATCH * codes["UNAVAILABLE"]
    assert failed == 0

    # RSS stayed under the hard limit (see SPIKE_MIB).
    assert peak <= hard, f"peak {peak / MIB:.0f} MiB, hard limit {limit_mib} MiB"

    # Accounting: what clients were told was accepted is what the receiver accepted (plus the warm-up) ...
    assert accepted - warm_accepted == acked
    # ... and every accepted span was written or counted as dropped: nothing lost silently.
    assert accepted == written + dropped + send_failed, (accepted, written, dropped, send_failed)
    assert send_failed == 0 and too_early == 0
    # Whole traces only: each decision covered one 5-span trace.
    assert accepted == SPANS_PER_TRACE * new_traces == SPANS_PER_TRACE * (sampled + not_sampled)
    assert written == SPANS_PER_TRACE * sampled and dropped == SPANS_PER_TRACE * not_sampled
    assert 0.45 <= sampled / new_traces <= 0.55, sampled / new_traces
