#!/usr/bin/env python3
"""The full LLM pipeline under load (issue 5's figure):

    memory_limiter -> token_count -> cost -> redaction -> tail_sampling (decision_wait 10s) -> batch -> file

Two phases against one daemon (benchmarks/configs/full-pipeline.yaml), with the loadgen's LLM profile and PII in
half the prompts:
1. steady: `--rate STEADY` (10k spans/s) for `--steady` seconds; after decision_wait the buffer holds ~10 s of
   traffic. Reports the RSS (median of the last half), the serialized bytes tail_sampling holds and RSS per
   buffered byte, and the p99 of the decision lag (how late after its decision_wait a trace was decided) and of
   otelcol's per-policy evaluation latency.
2. max: `--rate max` for `--max` seconds (30), with memory_limiter free to refuse. For its first decision_wait
   (10 s) the daemon only takes spans in: the traces it decides and releases meanwhile came at the steady rate.
   The figure is the acknowledged rate after that (`sustained`, from the receiver's accepted-spans counter read
   every second), when the traces arriving at the max rate are decided and exported too; the whole phase's
   average is reported beside it. Before the phase, `host_reference_ms` times a fixed Python loop: the host is
   shared, and runs of the same code vary by a third at the same CPU use.
3. control: a second daemon, the steady phase only, with decision_wait `--control-wait` (1s): the same traffic
   and pipeline holding a tenth of the spans. The RSS difference over the held-bytes difference is the memory
   the buffered spans cost, without the rest of the working set (gRPC, the encoder child, allocator pools).

    .venv/bin/python benchmarks/full_pipeline.py [--steady 40] [--max 30] [--rate 10000] [--config FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from itertools import pairwise
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (shares the daemon, sampler and port helpers)

CONFIG = bench.CONFIGS / "full-pipeline.yaml"
MAIN_WAIT = 10.0  # tail_sampling's decision_wait in the main daemon (seconds)


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def series(text: str, name: str) -> list[tuple[str, float]]:
    out = []
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            labels, _, value = line.rpartition(" ")
            out.append((labels, float(value)))
    return out


def histogram_quantile(text: str, name: str, q: float) -> float | None:
    """Upper bound of the bucket holding quantile q, summed over every series of the histogram."""
    buckets: dict[float, float] = {}
    for labels, value in series(text, name + "_bucket"):
        le = labels.split('le="', 1)[1].split('"', 1)[0]
        bound = float("inf") if le == "+Inf" else float(le)
        buckets[bound] = buckets.get(bound, 0.0) + value
    if not buckets or not buckets.get(float("inf")):
        return None
    total = buckets[float("inf")]
    for bound in sorted(buckets):
        if buckets[bound] >= q * total:
            return bound
    return None


def total(text: str, name: str, **labels: str) -> float:
    return sum(v for lab, v in series(text, name) if all(f'{k}="{val}"' in lab for k, val in labels.items()))


def loadgen(endpoint: str, rate: str, seconds: float, every_second: Any = None) -> dict:
    """Runs the load generator to the end; `every_second()` is called about once a second meanwhile."""
    command = [sys.executable, "-m", "collector.cli", "loadgen", "--endpoint", endpoint, "--rate", rate,
               "--duration", f"{seconds}s", "--pii-share", "0.5", "--json"]
    with subprocess.Popen(command, cwd=bench.ROOT, stdout=subprocess.PIPE) as proc:
        deadline = time.monotonic() + seconds + 120
        while every_second is not None and proc.poll() is None and time.monotonic() < deadline:
            every_second()
            time.sleep(1.0)
        out, _ = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    return json.loads(out)


def rate_between(points: list[tuple[float, float]], start: float, end: float) -> float | None:
    """Counter increase per second between two wall times, from (time, value) readings (interpolated)."""
    def at(t: float) -> float:
        for (t0, v0), (t1, v1) in pairwise(points):
            if t0 <= t <= t1:
                return v0 + (v1 - v0) * (t - t0) / max(t1 - t0, 1e-9)
        return points[0][1] if t < points[0][0] else points[-1][1]

    if len(points) < 2 or end <= start or start < points[0][0]:
        return None
    return (at(min(end, points[-1][0])) - at(start)) / (min(end, points[-1][0]) - start)


def steady_phase(args: argparse.Namespace, endpoint: str, metrics_port: int, sampler: Any, idle: float) -> dict:
    steady = loadgen(endpoint, args.rate, args.steady)
    text = scrape(metrics_port)
    half = steady["start_unix"] + (steady["end_unix"] - steady["start_unix"]) / 2
    late_rss = [rss for t, _, rss in sampler.samples if half <= t <= steady["end_unix"]]
    return {
        "offered_spans_per_second": float(args.rate),
        "acked_spans_per_second": steady["spans_per_second"],
        "requests_failed": steady["requests_failed"],
        "idle_rss_mb": idle / 1e6,
        "rss_mb_median_second_half": statistics.median(late_rss) / 1e6 if late_rss else None,
        "buffered_serialized_mb_at_end": total(text, "llm_collector_tail_sampling_buffered_bytes") / 1e6,
        "traces_on_memory_at_end": total(text, "otelcol_processor_tail_sampling_sampling_traces_on_memory"),
        "decision_lag_p99_s": histogram_quantile(text, "llm_collector_tail_sampling_decision_lag_seconds", 0.99),
        "policy_evaluation_p99_us": histogram_quantile(text, "otelcol_processor_tail_sampling_sampling_decision_latency", 0.99),
        "daemon_cpu_percent": sampler.cpu_percent(steady["start_unix"], steady["end_unix"]),
        "traces_sampled": total(text, "otelcol_processor_tail_sampling_global_count_traces_sampled", sampled="true"),
        "traces_not_sampled": total(text, "otelcol_processor_tail_sampling_global_count_traces_sampled", sampled="false"),
    }


def host_reference_ms() -> float:
    """Median wall time of a fixed pure-Python loop. On a shared host the max rate varies by a third between
    runs of the same code at the same CPU use; this says how fast the host ran Python just before the phase."""
    times = []
    for _ in range(5):
        start = time.perf_counter()
        total = 0
        for i in range(400_000):
            total += i * i % 7
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def max_phase(args: argparse.Namespace, endpoint: str, metrics_port: int, sampler: Any, decision_wait: float) -> dict:
    reference = host_reference_ms()
    accepted: list[tuple[float, float]] = []

    def read_accepted() -> None:
        accepted.append((time.time(), total(scrape(metrics_port), "otelcol_receiver_accepted_spans")))

    peak = loadgen(endpoint, "max", args.max, read_accepted)
    read_accepted()
    text = scrape(metrics_port)
    # From one decision_wait in, the traces decided and released are those sent at the max rate.
    sustained_from = peak["start_unix"] + decision_wait
    sustained = rate_between(accepted, sustained_from, peak["end_unix"])
    return {
        "sustained_spans_per_second": round(sustained, 1) if sustained is not None else None,
        "sustained_window_s": round(peak["end_unix"] - sustained_from, 1),
        "sustained_daemon_cpu_percent": sampler.cpu_percent(sustained_from, peak["end_unix"]),
        "acked_spans_per_second": peak["spans_per_second"],
        "requests_failed": peak["requests_failed"],
        "failed_by_code": peak["failed_by_code"],
        "daemon_cpu_percent": sampler.cpu_percent(peak["start_unix"], peak["end_unix"]),
        "peak_rss_mb": sampler.peak_rss(peak["start_unix"], peak["end_unix"]) / 1e6,
        "memory_limiter_refused_spans": total(text, "otelcol_receiver_refused_spans"),
        "host_reference_ms": round(reference, 1),
    }


def run_daemon(args: argparse.Namespace, decision_wait: float, with_max: bool) -> dict:
    """One daemon on the config with tail_sampling's decision_wait set: the steady phase, then (with_max) the max phase."""
    workdir = Path(tempfile.mkdtemp(prefix="llm-collector-full-pipeline-"))
    grpc_port, health_port, metrics_port = bench.free_ports(3)
    env = {**os.environ, "BENCH_GRPC_ENDPOINT": f"127.0.0.1:{grpc_port}", "BENCH_HEALTH_ENDPOINT": f"127.0.0.1:{health_port}",
           "BENCH_METRICS_ENDPOINT": f"127.0.0.1:{metrics_port}", "BENCH_OUTPUT": str(workdir / "traces.jsonl"),
           "BENCH_DECISION_WAIT": f"{decision_wait:g}s"}
    endpoint = f"127.0.0.1:{grpc_port}"
    with open(workdir / "daemon.log", "wb") as log_file:
        proc = subprocess.Popen([*bench.daemon_command(), "run", "--config", str(args.config.resolve())], cwd=workdir, env=env,
                                stdout=log_file, stderr=subprocess.STDOUT)
    report: dict = {"decision_wait": f"{decision_wait:g}s"}
    try:
        if not bench.wait_healthy(proc, f"http://127.0.0.1:{health_port}/", 30):
            raise SystemExit(f"daemon did not become healthy:\n{bench.tail(workdir / 'daemon.log')}")
        sampler = bench.Sampler(proc.pid)
        sampler.start()
        time.sleep(1)
        idle = sampler.sample()[2]
        bench.log(f"steady phase: {args.rate} spans/s for {args.steady:g}s (decision_wait {decision_wait:g}s)")
        report["steady"] = steady_phase(args, endpoint, metrics_port, sampler, idle)
        if with_max:
            bench.log(f"max phase: --rate max for {args.max:g}s")
            report["max"] = max_phase(args, endpoint, metrics_port, sampler, decision_wait)
        sampler.stop()
        proc.send_signal(signal.SIGTERM)
        report["exit_code"] = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steady", type=float, default=40.0, help="seconds at --rate (default 40)")
    parser.add_argument("--max", type=float, default=30.0, help="seconds at --rate max (default 30; the sustained rate is read after the first 10)")
    parser.add_argument("--rate", default="10000", help="steady-phase spans/s (default 10000)")
    parser.add_argument("--config", type=Path, default=CONFIG, help=f"daemon config (default {CONFIG.relative_to(bench.ROOT)})")
    parser.add_argument("--control-wait", type=float, default=1.0, help="decision_wait of the control daemon in seconds (default 1); 0: no control run")
    parser.add_argument("--keep", action="store_true", help="keep the work directories")
    args = parser.parse_args()

    if args.max <= MAIN_WAIT + 5:
        parser.error(f"--max must be over {MAIN_WAIT + 5:g} s: the sustained rate is read after the first {MAIN_WAIT:g}")
    main_run = run_daemon(args, MAIN_WAIT, with_max=True)
    control = run_daemon(args, args.control_wait, with_max=False) if args.control_wait > 0 else None
    print(json.dumps({"main": main_run, "control": control}, indent=2))
    s, m = main_run["steady"], main_run["max"]
    rss_per_byte = ((s["rss_mb_median_second_half"] - s["idle_rss_mb"]) / s["buffered_serialized_mb_at_end"]) if s["buffered_serialized_mb_at_end"] else float("nan")
    print(f"\nsteady {s['acked_spans_per_second']:,.0f} spans/s: RSS {s['rss_mb_median_second_half']:.0f} MB (idle {s['idle_rss_mb']:.0f}), "
          f"tail_sampling holds {s['buffered_serialized_mb_at_end']:.1f} MB serialized -> {rss_per_byte:.2f}x RSS growth over idle per buffered byte; "
          f"decision lag p99 <= {s['decision_lag_p99_s']} s; policy evaluation p99 <= {s['policy_evaluation_p99_us']} us")
    if control is not None:
        c = control["steady"]
        held = s["buffered_serialized_mb_at_end"] - c["buffered_serialized_mb_at_end"]
        grown = s["rss_mb_median_second_half"] - c["rss_mb_median_second_half"]
        print(f"control (decision_wait {args.control_wait:g}s, same rate): RSS {c['rss_mb_median_second_half']:.0f} MB, holds "
              f"{c['buffered_serialized_mb_at_end']:.1f} MB -> buffered-span memory {grown:.0f} MB for {held:.1f} MB more held = "
              f"{grown / held if held else float('nan'):.2f}x")
    sustained = f"{m['sustained_spans_per_second']:,.0f}" if m["sustained_spans_per_second"] is not None else "n/a"
    print(f"max: sustained {sustained} spans/s acknowledged over the last {m['sustained_window_s']:g} s at {m['sustained_daemon_cpu_percent']:.0f}% CPU "
          f"(whole phase {m['acked_spans_per_second']:,.0f} spans/s, its first {MAIN_WAIT:g} s before any of its traces was due), peak RSS {m['peak_rss_mb']:.0f} MB, "
          f"{m['requests_failed']} requests refused {m['failed_by_code']}; host reference {m['host_reference_ms']:.0f} ms (a fixed Python loop "
          f"just before: higher is a slower host)")
    ok = main_run.get("exit_code") == 0 and (control is None or control.get("exit_code") == 0)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
