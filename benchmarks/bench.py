#!/usr/bin/env python3
"""Daemon throughput, CPU and memory under `llm-collector loadgen --rate max`: the pass-through pipelines,
and the LLM processors (token_count -> cost) on the same path.

For each scenario: start `llm-collector run` on free ports with a temp output file, time start-up until the
health endpoint answers 200, measure idle RSS, run the load generator as a separate process while sampling the
daemon's CPU and RSS from /proc every 200 ms, send SIGTERM and time the shutdown, then check the spans written
to the file against the spans the load generator saw acknowledged. One table at the end.

The load generator shares the machine's cores with the daemon, so absolute figures move between runs;
compare scenarios within one run (the `vs best` and `spans/core-s` columns, and the footer's ratios to
passthrough-json, the pipeline the llm-* scenarios extend with processors).

The llm-* scenarios fix the loadgen's --usage (are token counts reported on the LLM spans, or must
token_count count them?); `--usage` sets it for the others.

    make bench ARGS="--duration 10 --scenario passthrough-json"
    make bench ARGS="--duration 15 --scenario passthrough-json --scenario llm-reported --scenario llm-missing"
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = Path(__file__).resolve().parent / "configs"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


@dataclass(frozen=True)
class Scenario:
    name: str
    protocol: str  # loadgen --protocol
    output_format: str  # the file exporter's format
    description: str
    usage: str | None = None  # loadgen --usage; None: the bench's --usage
    config_name: str | None = None  # configs/<config_name>.yaml; None: configs/<name>.yaml
    sink: str | None = None  # configs/<sink>.yaml: a second daemon the scenario's exporter sends to; it writes the output
    pii_share: float | None = None  # loadgen --pii-share; None: the loadgen's default (0.05)
    processed_by: str | None = None  # loadgen --processed-by: send the spans as these processors leave them

    @property
    def config(self) -> Path:
        return CONFIGS / f"{self.config_name or self.name}.yaml"


SCENARIOS = {s.name: s for s in (
    Scenario("passthrough-json", "grpc", "json", "OTLP gRPC -> file (OTLP-JSON lines, encoder child process)"),
    Scenario("passthrough-json-inline", "grpc", "json", "OTLP gRPC -> file (OTLP-JSON lines, encoded in the daemon process)"),
    Scenario("passthrough-proto", "grpc", "proto", "OTLP gRPC -> file (length-prefixed protobuf)"),
    Scenario("passthrough-http", "http", "json", "OTLP/HTTP protobuf -> file (OTLP-JSON lines)"),
    Scenario("passthrough-otlp", "grpc", "proto", "OTLP gRPC -> otlp exporter (gRPC, no compression) -> sink daemon "
             "-> file (protobuf)", sink="sink-proto"),
    Scenario("passthrough-otlp-gzip", "grpc", "proto", "OTLP gRPC -> otlp exporter (gRPC, gzip, otelcol's default) -> "
             "sink daemon -> file (protobuf)", sink="sink-proto"),
    Scenario("passthrough-json-costed", "grpc", "json", "OTLP gRPC -> file (OTLP-JSON lines), no processors; the "
             "LLM spans arrive already carrying what token_count and cost write (loadgen --processed-by): the share of "
             "llm-reported's loss that is the exporter's, for the attributes alone", usage="reported",
             config_name="passthrough-json", processed_by="token_count,cost"),
    Scenario("llm-reported", "grpc", "json", "OTLP gRPC -> token_count -> cost -> file (OTLP-JSON lines); "
             "LLM spans report their usage", usage="reported", config_name="llm-token-cost"),
    Scenario("llm-missing", "grpc", "json", "OTLP gRPC -> token_count -> cost -> file (OTLP-JSON lines); "
             "no LLM span reports usage, token_count counts every one", usage="missing", config_name="llm-token-cost"),
    Scenario("llm-mixed", "grpc", "json", "OTLP gRPC -> token_count -> cost -> file (OTLP-JSON lines); "
             "half the LLM spans report usage", usage="mixed", config_name="llm-token-cost"),
    Scenario("llm-redaction", "grpc", "json", "OTLP gRPC -> redaction (built-in detectors, JSON values) -> file "
             "(OTLP-JSON lines); PII or secrets in half the prompts", pii_share=0.5),
)}
BASELINE = "passthrough-json"  # what the footer's ratios compare against
USAGE_MODES = ("reported", "missing", "mixed")  # collector.tools.loadgen.USAGE_MODES (not imported: keep start-up light)


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def parse_seconds(text: str) -> float:
    units = {"ms": 0.001, "s": 1.0, "m": 60.0}
    for suffix in ("ms", "s", "m"):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * units[suffix]
    return float(text)


def free_ports(count: int) -> list[int]:
    # Hold all sockets open until every port is chosen so the same port is not handed out twice.
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()


def daemon_command() -> list[str]:
    script = Path(sys.executable).parent / "llm-collector"
    return [str(script)] if script.exists() else [sys.executable, "-m", "collector.cli"]


# ---------------------------------------------------------------------------------------------------------
# /proc sampling
# ---------------------------------------------------------------------------------------------------------

def process_tree(pid: int) -> list[int]:
    pids, queue = [], [pid]
    while queue:
        current = queue.pop()
        pids.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as f:
                    queue.extend(int(child) for child in f.read().split())
        except OSError:
            pass
    return pids


def tree_usage(pid: int) -> tuple[float, int]:
    """(CPU seconds, RSS bytes) of a process and its live descendants.

    Each process counts its own time plus that of children it has already reaped (cutime/cstime), so a
    child's CPU is neither lost when it exits nor counted twice while it lives."""
    ticks = rss_pages = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[0] is field 3 (state) of proc(5): utime=14, stime=15, cutime=16, cstime=17, rss=24
        ticks += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
        rss_pages += int(fields[21])
    return ticks / CLK_TCK, rss_pages * PAGE_KB * 1024


def peak_rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class Sampler(threading.Thread):
    def __init__(self, pid: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, float, int]] = []  # (wall time, cpu seconds, rss bytes)
        self.hwm = 0
        self._halt = threading.Event()

    def sample(self) -> tuple[float, float, int]:
        cpu, rss = tree_usage(self.pid)
        self.hwm = max(self.hwm, peak_rss(self.pid))
        point = (time.time(), cpu, rss)
        self.samples.append(point)
        return point

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join(2)

    def cpu_at(self, t: float) -> float:
        """Cumulative CPU seconds at wall time t, interpolated between samples."""
        s = self.samples
        if t <= s[0][0]:
            return s[0][1]
        for (t0, c0, _), (t1, c1, _) in pairwise(s):
            if t <= t1:
                return c0 + (c1 - c0) * (t - t0) / max(t1 - t0, 1e-9)
        return s[-1][1]

    def cpu_percent(self, start: float, end: float) -> float:
        if len(self.samples) < 2 or end <= start:
            return 0.0
        return 100.0 * (self.cpu_at(end) - self.cpu_at(start)) / (end - start)

    def peak_rss(self, start: float, end: float) -> int:
        during = [rss for t, _, rss in self.samples if start - self.interval <= t <= end + self.interval]
        return max(during + [self.hwm])


# ---------------------------------------------------------------------------------------------------------
# Output verification
# ---------------------------------------------------------------------------------------------------------

def count_json_spans(path: Path) -> int:
    total = 0
    with open(path, "rb") as f:
        for line in f:
            if not line.strip():
                continue
            doc = orjson.loads(line)
            for rs in doc.get("resourceSpans") or doc.get("resource_spans") or ():
                for ss in rs.get("scopeSpans") or rs.get("scope_spans") or ():
                    total += len(ss.get("spans") or ())
    return total


def count_proto_spans(path: Path) -> int:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    total = 0
    with open(path, "rb") as f:
        while header := f.read(4):
            if len(header) < 4:
                raise ValueError(f"{path}: truncated length prefix at the end")
            (size,) = struct.unpack(">I", header)
            record = f.read(size)
            if len(record) < size:
                raise ValueError(f"{path}: truncated record at the end ({len(record)} of {size} bytes)")
            request = ExportTraceServiceRequest.FromString(record)
            total += sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
    return total


# ---------------------------------------------------------------------------------------------------------
# One scenario
# ---------------------------------------------------------------------------------------------------------

@dataclass
class Result:
    scenario: str
    usage: str = "reported"
    ok: bool = False
    error: str = ""
    startup_ms: float = 0.0
    idle_rss_mb: float = 0.0
    peak_rss_mb: float = 0.0
    cpu_percent: float = 0.0
    spans_per_second: float = 0.0
    spans_acknowledged: int = 0
    requests_failed: int = 0
    p99_ms: float = 0.0
    loadgen_cpu_percent: float = 0.0
    shutdown_ms: float = 0.0
    exit_code: int | None = None
    spans_written: int | None = None
    output_bytes: int = 0
    loadgen: dict[str, Any] = field(default_factory=dict)
    scanned_characters: float | None = None  # redaction_scanned_characters_total at the end of the load

    @property
    def verified(self) -> bool:
        return self.spans_written == self.spans_acknowledged


def wait_healthy(proc: subprocess.Popen[bytes], url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=0.5) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.01)
    return False


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def start_sink(scenario: Scenario, workdir: Path, env: dict[str, str], args: argparse.Namespace) -> subprocess.Popen[bytes] | None:
    """The receiving daemon of an exporter scenario: it takes BENCH_OUTPUT, and the measured daemon gets
    its address as BENCH_EXPORT_ENDPOINT. Its CPU is not in the table (it runs on the same two cores)."""
    grpc_port, http_port, health_port, metrics_port = free_ports(4)
    sink_env = {**env, "BENCH_GRPC_ENDPOINT": f"127.0.0.1:{grpc_port}", "BENCH_HTTP_ENDPOINT": f"127.0.0.1:{http_port}",
                "BENCH_HEALTH_ENDPOINT": f"127.0.0.1:{health_port}", "BENCH_METRICS_ENDPOINT": f"127.0.0.1:{metrics_port}"}
    env["BENCH_EXPORT_ENDPOINT"] = f"127.0.0.1:{grpc_port}"
    config = CONFIGS / f"{scenario.sink}.yaml"
    log(f"{scenario.name}: starting sink daemon ({config.relative_to(ROOT)})")
    with open(workdir / "sink.log", "wb") as log_file:
        proc = subprocess.Popen([*daemon_command(), "run", "--config", str(config)], cwd=workdir, env=sink_env,
                                stdout=log_file, stderr=subprocess.STDOUT)
    if not wait_healthy(proc, f"http://127.0.0.1:{health_port}/", args.startup_timeout):
        log(f"{scenario.name}: sink never became healthy; last log lines:\n{tail(workdir / 'sink.log')}")
        proc.kill()
        proc.wait()
        return None
    return proc


def stop_sink(sink: subprocess.Popen[bytes], args: argparse.Namespace) -> None:
    """After the measured daemon has drained its queue into it, so the output holds everything."""
    sink.send_signal(signal.SIGTERM)
    try:
        sink.wait(timeout=args.shutdown_timeout)
    except subprocess.TimeoutExpired:
        log("sink daemon did not stop after SIGTERM; killing it")
        sink.kill()
        sink.wait()


def run_scenario(scenario: Scenario, args: argparse.Namespace) -> Result:
    result = Result(scenario.name, usage=scenario.usage or args.usage)
    workdir = Path(tempfile.mkdtemp(prefix=f"llm-collector-bench-{scenario.name}-"))
    grpc_port, http_port, health_port, metrics_port = free_ports(4)
    output = workdir / ("traces.jsonl" if scenario.output_format == "json" else "traces.pb")
    env = {
        **os.environ,
        "BENCH_GRPC_ENDPOINT": f"127.0.0.1:{grpc_port}",
        "BENCH_HTTP_ENDPOINT": f"127.0.0.1:{http_port}",
        "BENCH_HEALTH_ENDPOINT": f"127.0.0.1:{health_port}",
        "BENCH_METRICS_ENDPOINT": f"127.0.0.1:{metrics_port}",
        "BENCH_OUTPUT": str(output),
    }
    daemon_log = workdir / "daemon.log"
    name = scenario.name
    sink = None
    if scenario.sink:
        sink = start_sink(scenario, workdir, env, args)
        if sink is None:
            result.error = "sink daemon did not become healthy"
            return result
    log(f"{name}: {scenario.description}; starting daemon ({scenario.config.relative_to(ROOT)}, workdir {workdir})")
    with open(daemon_log, "wb") as log_file:
        started = time.monotonic()
        proc = subprocess.Popen([*daemon_command(), "run", "--config", str(scenario.config)], cwd=workdir, env=env,
                                stdout=log_file, stderr=subprocess.STDOUT)
    sampler: Sampler | None = None
    try:
        if not wait_healthy(proc, f"http://127.0.0.1:{health_port}/", args.startup_timeout):
            state = f"exited with {proc.returncode}" if proc.poll() is not None else "never became healthy"
            result.error = f"daemon {state}"
            log(f"{name}: daemon {state}; last log lines:\n{tail(daemon_log)}")
            return result
        result.startup_ms = (time.monotonic() - started) * 1000
        sampler = Sampler(proc.pid)
        sampler.start()
        time.sleep(args.idle)
        result.idle_rss_mb = sampler.sample()[2] / 1e6
        log(f"{name}: healthy after {result.startup_ms:.0f} ms; idle RSS {result.idle_rss_mb:.1f} MB")

        endpoint = f"127.0.0.1:{grpc_port}" if scenario.protocol == "grpc" else f"http://127.0.0.1:{http_port}"
        command = [sys.executable, "-m", "collector.cli", "loadgen", "--endpoint", endpoint,
                   "--protocol", scenario.protocol, "--rate", "max", "--duration", f"{args.duration}s",
                   "--concurrency", str(args.concurrency), "--batch-size", str(args.batch_size),
                   "--usage", result.usage, "--json"]
        if args.seed is not None:
            command += ["--seed", str(args.seed)]
        if scenario.pii_share is not None:
            command += ["--pii-share", str(scenario.pii_share)]
        if scenario.processed_by is not None:
            command += ["--processed-by", scenario.processed_by]
        log(f"{name}: loadgen --rate max --usage {result.usage} for {args.duration:g}s over {scenario.protocol} "
            f"(concurrency {args.concurrency}, batch {args.batch_size})")
        # stderr passes through so the loadgen's per-second progress line shows up here.
        loadgen = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, timeout=args.duration + 120)
        if loadgen.returncode not in (0, 1):
            result.error = f"loadgen exited with {loadgen.returncode}"
            return result
        report = json.loads(loadgen.stdout)
        result.loadgen = report
        result.scanned_characters = scrape_counter(metrics_port, "redaction_scanned_characters_total")
        result.spans_acknowledged = report["spans_acknowledged"]
        result.spans_per_second = report["spans_per_second"]
        result.requests_failed = report["requests_failed"]
        result.p99_ms = report["latency_ms"]["p99"]
        result.loadgen_cpu_percent = report["loadgen_cpu_percent"]
        sampler.sample()
        result.cpu_percent = sampler.cpu_percent(report["start_unix"], report["end_unix"])
        result.peak_rss_mb = sampler.peak_rss(report["start_unix"], report["end_unix"]) / 1e6
        if report["requests_failed"]:
            log(f"{name}: {report['requests_failed']:,} requests failed: {report['failed_by_code']}")

        sampler.stop()
        log(f"{name}: {result.spans_per_second:,.0f} spans/s acknowledged at {result.cpu_percent:.0f}% CPU; "
            "sending SIGTERM")
        stopping = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            result.exit_code = proc.wait(timeout=args.shutdown_timeout)
        except subprocess.TimeoutExpired:
            result.error = f"daemon still running {args.shutdown_timeout:g}s after SIGTERM"
            log(f"{name}: {result.error}; killing it")
            return result
        result.shutdown_ms = (time.monotonic() - stopping) * 1000
        log(f"{name}: daemon exited {result.exit_code} after {result.shutdown_ms:.0f} ms")
        if result.exit_code != 0:
            result.error = f"daemon exited {result.exit_code}"
            log(f"{name}: last log lines:\n{tail(daemon_log)}")

        if sink is not None:
            stop_sink(sink, args)
        if output.exists():
            result.output_bytes = output.stat().st_size
            log(f"{name}: counting spans in {output.name} ({result.output_bytes / 1e6:,.0f} MB)")
            try:
                count = count_json_spans if scenario.output_format == "json" else count_proto_spans
                result.spans_written = count(output)
            except (ValueError, orjson.JSONDecodeError) as exc:
                result.error = result.error or f"unreadable output: {exc}"
        else:
            result.error = result.error or f"no output file {output}"
        if result.spans_written is not None and not result.verified:
            result.error = result.error or (f"{result.spans_written:,} spans written but "
                                            f"{result.spans_acknowledged:,} acknowledged")
        if sink is not None and result.spans_written:
            # Acknowledged means queued in the exporter; what reached the sink includes the drain at SIGTERM.
            window = (report["end_unix"] - report["start_unix"]) + result.shutdown_ms / 1000
            log(f"{name}: delivered to the sink: {result.spans_written / window:,.0f} spans/s "
                f"(load window plus the {result.shutdown_ms:.0f} ms queue drain at shutdown)")
        result.ok = not result.error
        log(f"{name}: {'ok' if result.ok else 'FAILED: ' + result.error}")
        return result
    finally:
        if sampler is not None and sampler.is_alive():
            sampler.stop()
        if sink is not None and sink.poll() is None:
            sink.kill()
            sink.wait()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if args.keep:
            log(f"{name}: kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------------------

def render_table(results: list[Result], args: argparse.Namespace) -> str:
    best = max((r.spans_per_second for r in results), default=0.0) or 1.0
    headers = ["scenario", "usage", "spans/s acked", "vs best", "daemon CPU%", "spans/core-s", "peak RSS MB",
               "idle RSS MB", "start-up ms", "p99 ms", "loadgen CPU%", "failed req", "shutdown ms", "exit",
               "written = acked"]
    rows = []
    for r in results:
        if r.spans_written is None:
            written = "n/a"
        elif r.verified:
            written = f"yes ({r.spans_written:,})"
        else:
            written = f"NO ({r.spans_written:,} vs {r.spans_acknowledged:,})"
        rows.append([
            r.scenario, r.usage, f"{r.spans_per_second:,.0f}", f"{r.spans_per_second / best:.2f}x", f"{r.cpu_percent:.0f}",
            f"{per_core(r):,.0f}", f"{r.peak_rss_mb:.1f}", f"{r.idle_rss_mb:.1f}", f"{r.startup_ms:.0f}",
            f"{r.p99_ms:.1f}", f"{r.loadgen_cpu_percent:.0f}", f"{r.requests_failed:,}", f"{r.shutdown_ms:.0f}",
            "-" if r.exit_code is None else str(r.exit_code), written,
        ])
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i in (0, 1, len(cells) - 1) else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    out = [line(headers), line(["-" * w for w in widths])] + [line(row) for row in rows]
    failures = [f"  {r.scenario}: {r.error}" for r in results if r.error]
    out.append("")
    out.append(f"{args.duration:g}s per scenario at --rate max, concurrency {args.concurrency}, batch "
               f"{args.batch_size}, {os.cpu_count()} CPUs shared by daemon and loadgen. CPU% is of one core over "
               "the load window; spans/core-s = spans/s per fully used core.")
    ratios = baseline_ratios(results)
    if ratios:
        out.append(ratios)
    scanned = scanned_text_rates(results)
    if scanned:
        out.append(scanned)
    if failures:
        out.append("Failures:")
        out.extend(failures)
    return "\n".join(out)


def per_core(r: Result) -> float:
    return r.spans_per_second / (r.cpu_percent / 100) if r.cpu_percent > 0 else 0.0


def scrape_counter(port: int, name: str) -> float | None:
    """Sum of a counter's series on the daemon's self-metrics endpoint; None if it has none."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except (urllib.error.URLError, OSError):
        return None
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
              if line.startswith(name + "{") or line.startswith(name + " ")]
    return sum(values) if values else None


def scanned_text_rates(results: list[Result]) -> str:
    """Footer: how much text the redaction scenarios scanned per second, and their cost per span."""
    base = next((r for r in results if r.scenario == BASELINE and r.spans_per_second > 0), None)
    parts = []
    for r in results:
        if not r.scanned_characters or not r.spans_per_second:
            continue
        seconds = r.loadgen.get("duration_s") or 1.0
        part = (f"{r.scenario} scanned {r.scanned_characters / seconds / 1e6:,.1f} M characters/s "
                f"({r.scanned_characters / max(r.spans_acknowledged, 1):,.0f} per span)")
        if base is not None:
            extra_us = (1 / r.spans_per_second - 1 / base.spans_per_second) * 1e6
            extra_core_us = (1 / per_core(r) - 1 / per_core(base)) * 1e6 if per_core(r) and per_core(base) else 0.0
            part += f", {extra_us:+.1f} us/span wall and {extra_core_us:+.1f} us/span of daemon CPU vs {BASELINE}"
        parts.append(part)
    return "; ".join(parts)


def baseline_ratios(results: list[Result]) -> str:
    """Footer: each llm-* (processor) scenario's throughput and spans/core-s as a fraction of passthrough-json's
    (passthrough-json-costed's too: the same pipeline, its spans already carrying the processors' attributes);
    and llm-reported's as a fraction of passthrough-json-costed's, which is the processors' own work."""
    by_name = {r.scenario: r for r in results if r.spans_per_second > 0}
    base = by_name.get(BASELINE)
    others = [r for r in results if r.scenario.startswith("llm-") or SCENARIOS[r.scenario].processed_by]
    if base is None or not others:
        return ""
    parts = []
    for r in others:
        ratio = r.spans_per_second / base.spans_per_second
        core = per_core(r) / per_core(base) if per_core(base) > 0 else 0.0
        parts.append(f"{r.scenario} {ratio:.2f}x ({(ratio - 1) * 100:+.0f}%), {core:.2f}x per core-s")
    line = f"vs {BASELINE} ({base.spans_per_second:,.0f} spans/s): " + "; ".join(parts)
    costed, reported = by_name.get("passthrough-json-costed"), by_name.get("llm-reported")
    if costed is not None and reported is not None:
        line += (f"\nllm-reported vs passthrough-json-costed (the processors' own work, the attributes' cost set aside): "
                 f"{reported.spans_per_second / costed.spans_per_second:.2f}x")
    return line


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", action="append", metavar="NAME",
                        help=f"run only these (repeat or comma-separate); one of: {', '.join(SCENARIOS)}")
    parser.add_argument("--duration", type=parse_seconds, default=20.0, help="load per scenario, seconds (default 20)")
    parser.add_argument("--concurrency", type=int, default=4, help="loadgen requests in flight (default 4)")
    parser.add_argument("--batch-size", type=int, default=100, help="loadgen spans per request (default 100)")
    parser.add_argument("--seed", type=int, default=None, help="loadgen --seed")
    parser.add_argument("--usage", choices=USAGE_MODES, default="reported",
                        help="loadgen --usage for the scenarios that do not set their own, i.e. all but llm-* "
                             "(default reported)")
    parser.add_argument("--idle", type=float, default=2.0, help="seconds after healthy before idle RSS (default 2)")
    parser.add_argument("--startup-timeout", type=float, default=30.0, help="seconds to wait for health (default 30)")
    parser.add_argument("--shutdown-timeout", type=float, default=30.0, help="seconds to wait after SIGTERM")
    parser.add_argument("--keep", action="store_true", help="keep each scenario's temp dir (config output, logs)")
    parser.add_argument("--json", action="store_true", help="print results as JSON on stdout instead of the table")
    args = parser.parse_args()

    names = [n.strip() for item in (args.scenario or list(SCENARIOS)) for n in item.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)} (choose from {', '.join(SCENARIOS)})")

    results = []
    try:
        for n in names:
            results.append(run_scenario(SCENARIOS[n], args))
    except KeyboardInterrupt:
        log("interrupted; reporting the scenarios that finished")

    if args.json:
        print(json.dumps([{**r.__dict__, "verified": r.verified} for r in results], indent=2))
    else:
        print()
        print(render_table(results, args))
    return 0 if results and all(r.ok for r in results) and len(results) == len(names) else 1


if __name__ == "__main__":
    sys.exit(main())
