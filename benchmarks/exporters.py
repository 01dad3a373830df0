#!/usr/bin/env python3
"""Each network exporter delivering into its backend, in one run (issue 6, "Figures"):

    otlp                   otlp exporter (gRPC, no compression), in-memory sending_queue -> sink daemon
    otlp-persistent        the same through a file_storage persistent queue, fsync: false
    otlp-persistent-fsync  the same with fsync: true (group commit before each client answer)
    otlphttp               otlphttp exporter (protobuf, no compression) -> sink daemon's OTLP/HTTP receiver
    jaeger                 jaeger exporter, protocol grpc (api_v2 PostSpans) -> tests/fakes/jaeger.py
    elasticsearch          elasticsearch exporter (otel mapping, gzip) -> tests/fakes/elasticsearch.py

For each: start the backend in its own process (a second `llm-collector run` with configs/sink-proto.yaml
writing length-prefixed protobuf, or a fake via benchmarks/fake_backends.py), start the measured daemon
(configs/exporter-<...>.yaml) on free ports, drive it with `llm-collector loadgen --rate max` over OTLP gRPC
while sampling the daemon's and the backend's CPU and the daemon's RSS, then let the exporter drain: wait for
its sending queue to be empty (a persistent queue keeps its backlog on disk at SIGTERM rather than sending it,
so SIGTERM alone would not measure delivery), send SIGTERM, wait for the exit, and count what the backend got.

  acked/s      spans the loadgen saw acknowledged / load window (what clients get)
  delivered/s  spans counted at the backend / (load window + drain until the daemon exited)
  drain s      from the end of the load to the daemon's exit: the backlog the exporter had not sent yet

At-least-once: delivered must be >= acknowledged; the difference is reported as duplicates.

Daemon, loadgen and backend share the machine's cores, so absolute figures move between runs and with
other load; compare scenarios within one run (the `vs otlp` column).

    .venv/bin/python benchmarks/exporters.py                       # every scenario, 10 s each
    .venv/bin/python benchmarks/exporters.py --duration 2 --scenario otlp
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import queue
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (shares the daemon, sampler, port and span-counting helpers)

FAKE_BACKENDS = Path(__file__).resolve().parent / "fake_backends.py"
BASELINE = "otlp"
SPAN_INDEX = "traces-generic.otel-default"  # the span documents; span events go to logs-*


@dataclass(frozen=True)
class Scenario:
    name: str
    config: str  # configs/<config>.yaml
    backend: str  # "sink" or a fake_backends.py backend name
    description: str
    env: tuple[tuple[str, str], ...] = ()

    @property
    def config_path(self) -> Path:
        return bench.CONFIGS / f"{self.config}.yaml"


SCENARIOS = {s.name: s for s in (
    Scenario("otlp", "exporter-otlp", "sink", "otlp (gRPC, no compression), memory queue -> sink daemon"),
    Scenario("otlp-persistent", "exporter-otlp-persistent", "sink",
             "otlp (gRPC, no compression), persistent queue (file_storage, fsync false) -> sink daemon",
             env=(("BENCH_FSYNC", "false"),)),
    Scenario("otlp-persistent-fsync", "exporter-otlp-persistent", "sink",
             "otlp (gRPC, no compression), persistent queue (file_storage, fsync true) -> sink daemon",
             env=(("BENCH_FSYNC", "true"),)),
    Scenario("otlphttp", "exporter-otlphttp", "sink", "otlphttp (protobuf, no compression), memory queue -> sink daemon"),
    Scenario("jaeger", "exporter-jaeger", "jaeger", "jaeger protocol grpc (api_v2 PostSpans) -> fake Jaeger collector"),
    Scenario("elasticsearch", "exporter-elasticsearch", "elasticsearch",
             "elasticsearch (otel mapping, gzip) -> fake Elasticsearch _bulk"),
)}


class BenchError(Exception):
    """A scenario cannot go on; the message says which process failed and how."""


# ---------------------------------------------------------------------------------------------------------
# Child processes
# ---------------------------------------------------------------------------------------------------------

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # If this script is killed outright (no finally blocks run), its servers must not outlive it on a
    # shared machine: the kernel sends them SIGTERM when their parent dies.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def spawn(command: list[str], *, cwd: Path, env: dict[str, str], log_path: Path,
          pipes: bool = False) -> subprocess.Popen:
    """A child that writes its output (stderr only, with `pipes`: stdin and stdout are then a text channel
    to it) to `log_path`."""
    with open(log_path, "wb") as log_file:
        if pipes:
            return subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=log_file, text=True, bufsize=1, preexec_fn=_die_with_parent)
        return subprocess.Popen(command, cwd=cwd, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                                preexec_fn=_die_with_parent)


def terminate(proc: subprocess.Popen | None, timeout: float) -> int | None:
    """SIGTERM, then SIGKILL after `timeout`; the exit code, or None if it had to be killed."""
    if proc is None or proc.poll() is not None:
        return None if proc is None else proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None


# ---------------------------------------------------------------------------------------------------------
# Backends
# ---------------------------------------------------------------------------------------------------------

class SinkBackend:
    """A second daemon (configs/sink-proto.yaml) receiving OTLP gRPC and HTTP and writing length-prefixed
    protobuf; the spans in its file after it stopped are what was delivered."""

    label = "sink daemon"

    def __init__(self, workdir: Path, args: argparse.Namespace) -> None:
        self.workdir = workdir
        self.args = args
        self.output = workdir / "sink-traces.pb"
        self.log_path = workdir / "sink.log"
        self.proc: subprocess.Popen | None = None

    def start(self, env: dict[str, str]) -> dict[str, str]:
        grpc_port, http_port, health_port, metrics_port = bench.free_ports(4)
        sink_env = {**env, "BENCH_GRPC_ENDPOINT": f"127.0.0.1:{grpc_port}",
                    "BENCH_HTTP_ENDPOINT": f"127.0.0.1:{http_port}",
                    "BENCH_HEALTH_ENDPOINT": f"127.0.0.1:{health_port}",
                    "BENCH_METRICS_ENDPOINT": f"127.0.0.1:{metrics_port}", "BENCH_OUTPUT": str(self.output)}
        config = bench.CONFIGS / "sink-proto.yaml"
        self.proc = spawn([*bench.daemon_command(), "run", "--config", str(config)], cwd=self.workdir,
                          env=sink_env, log_path=self.log_path)
        if not bench.wait_healthy(self.proc, f"http://127.0.0.1:{health_port}/", self.args.startup_timeout):
            state = f"exited with {self.proc.returncode}" if self.proc.poll() is not None else "never became healthy"
            raise BenchError(f"sink daemon ({config.name}) {state}; last log lines:\n{bench.tail(self.log_path)}")
        return {"BENCH_EXPORT_ENDPOINT": f"127.0.0.1:{grpc_port}",
                "BENCH_EXPORT_HTTP_ENDPOINT": f"http://127.0.0.1:{http_port}"}

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def finish(self) -> dict[str, Any]:
        """Stop the sink (it flushes its file on SIGTERM) and count the spans in the file."""
        code = terminate(self.proc, self.args.shutdown_timeout)
        if code != 0:
            raise BenchError(f"sink daemon did not stop cleanly (exit {code}); last log lines:\n{bench.tail(self.log_path)}")
        if not self.output.exists():
            return {"spans": 0}
        try:
            return {"spans": bench.count_proto_spans(self.output), "bytes": self.output.stat().st_size}
        except ValueError as exc:
            raise BenchError(f"sink output unreadable: {exc}") from exc

    def cleanup(self) -> None:
        terminate(self.proc, 5)


class FakeBackend:
    """A tests/fakes server in its own process (benchmarks/fake_backends.py), asked for its counts over a pipe."""

    def __init__(self, name: str, workdir: Path, args: argparse.Namespace) -> None:
        self.name = name
        self.label = f"fake {name}"
        self.workdir = workdir
        self.args = args
        self.log_path = workdir / f"fake-{name}.log"
        self.proc: subprocess.Popen | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _message(self, timeout: float) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise BenchError(f"{self.label} did not answer within {timeout:g}s") from None
        if line is None:
            code = self.proc.poll() if self.proc else None
            raise BenchError(f"{self.label} exited (code {code}); its stderr:\n{bench.tail(self.log_path)}")
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            raise BenchError(f"{self.label} answered {line.strip()!r}, not JSON") from None

    def start(self, env: dict[str, str]) -> dict[str, str]:
        self.proc = spawn([sys.executable, str(FAKE_BACKENDS), self.name], cwd=bench.ROOT, env=env,
                          log_path=self.log_path, pipes=True)
        threading.Thread(target=self._read, daemon=True).start()
        ready = self._message(self.args.startup_timeout)
        if not ready.get("ready"):
            raise BenchError(f"{self.label} could not start: {ready.get('error', ready)}")
        port = ready["port"]
        return {"BENCH_EXPORT_ENDPOINT": f"127.0.0.1:{port}", "BENCH_EXPORT_HTTP_ENDPOINT": f"http://127.0.0.1:{port}"}

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def finish(self) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write("count\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise BenchError(f"{self.label} is gone; its stderr:\n{bench.tail(self.log_path)}") from None
        counts = self._message(30)
        self.cleanup()
        return counts

    def cleanup(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.proc.stdin.write("quit\n")  # type: ignore[union-attr]
            self.proc.stdin.close()  # type: ignore[union-attr]
        except (BrokenPipeError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            terminate(self.proc, 5)


# ---------------------------------------------------------------------------------------------------------
# Daemon self-metrics
# ---------------------------------------------------------------------------------------------------------

def scrape(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            return response.read().decode()
    except (urllib.error.URLError, OSError):
        return None


def metric(text: str | None, name: str) -> float | None:
    """Sum of every series of `name` (a Prometheus counter may carry a `_total` suffix); None if absent."""
    if text is None:
        return None
    values = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        base = series.split("{", 1)[0]
        if base in (name, name + "_total"):
            values.append(float(value))
    return sum(values) if values else None


def wait_queue_empty(port: int, timeout: float) -> tuple[bool, str | None]:
    """Until the exporter's sending queue holds nothing (otelcol_exporter_queue_size == 0). Returns whether it
    emptied, and the last scrape."""
    deadline = time.monotonic() + timeout
    text = None
    while time.monotonic() < deadline:
        text = scrape(port)
        size = metric(text, "otelcol_exporter_queue_size")
        if size is None:
            return False, text  # no queue gauge: nothing to wait on, SIGTERM's own drain has to do
        if size == 0:
            return True, text
        time.sleep(0.1)
    return False, text


# ---------------------------------------------------------------------------------------------------------
# One scenario
# ---------------------------------------------------------------------------------------------------------

@dataclass
class Result:
    scenario: str
    description: str
    ok: bool = False
    error: str = ""
    acked_spans: int = 0
    acked_per_second: float = 0.0
    delivered_spans: int | None = None
    delivered_per_second: float = 0.0
    load_seconds: float = 0.0
    drain_seconds: float = 0.0
    queue_emptied: bool = False
    daemon_cpu_percent: float = 0.0
    backend_cpu_percent: float = 0.0
    loadgen_cpu_percent: float = 0.0
    peak_rss_mb: float = 0.0
    requests_refused: int = 0
    refused_by_code: dict[str, int] = field(default_factory=dict)
    enqueue_failed_spans: float | None = None
    send_failed_spans: float | None = None
    p99_ms: float = 0.0
    exit_code: int | None = None
    backend: dict[str, Any] = field(default_factory=dict)

    @property
    def duplicates(self) -> int:
        return max(0, (self.delivered_spans or 0) - self.acked_spans)

    @property
    def complete(self) -> bool:
        return self.delivered_spans is not None and self.delivered_spans >= self.acked_spans


def make_backend(scenario: Scenario, workdir: Path, args: argparse.Namespace) -> SinkBackend | FakeBackend:
    if scenario.backend == "sink":
        return SinkBackend(workdir, args)
    return FakeBackend(scenario.backend, workdir, args)


def run_scenario(scenario: Scenario, args: argparse.Namespace) -> Result:
    result = Result(scenario.name, scenario.description)
    name = scenario.name
    workdir = Path(tempfile.mkdtemp(prefix=f"llm-collector-exporters-{name}-"))
    grpc_port, health_port, metrics_port = bench.free_ports(3)
    env = {**os.environ, "BENCH_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "info")}
    env.pop("BENCH_EXPORT_ENDPOINT", None)
    env.pop("BENCH_EXPORT_HTTP_ENDPOINT", None)
    backend = make_backend(scenario, workdir, args)
    daemon: subprocess.Popen | None = None
    samplers: list[bench.Sampler] = []
    daemon_log = workdir / "daemon.log"
    try:
        bench.log(f"{name}: {scenario.description}; starting the {backend.label} (workdir {workdir})")
        env.update(backend.start(env))
        env.update({
            "BENCH_GRPC_ENDPOINT": f"127.0.0.1:{grpc_port}",
            "BENCH_HEALTH_ENDPOINT": f"127.0.0.1:{health_port}",
            "BENCH_METRICS_ENDPOINT": f"127.0.0.1:{metrics_port}",
            "BENCH_STORAGE_DIR": str(workdir / "queue"),
            **dict(scenario.env),
        })
        bench.log(f"{name}: starting the daemon ({scenario.config_path.relative_to(bench.ROOT)})")
        daemon = spawn([*bench.daemon_command(), "run", "--config", str(scenario.config_path)], cwd=workdir,
                       env=env, log_path=daemon_log)
        if not bench.wait_healthy(daemon, f"http://127.0.0.1:{health_port}/", args.startup_timeout):
            state = f"exited with {daemon.returncode}" if daemon.poll() is not None else "never became healthy"
            raise BenchError(f"daemon {state}; last log lines:\n{bench.tail(daemon_log)}")
        daemon_sampler, backend_sampler = bench.Sampler(daemon.pid), bench.Sampler(backend.pid)
        samplers = [daemon_sampler, backend_sampler]
        for s in samplers:
            s.start()
        time.sleep(args.idle)

        command = [sys.executable, "-m", "collector.cli", "loadgen", "--endpoint", f"127.0.0.1:{grpc_port}",
                   "--protocol", "grpc", "--rate", "max", "--duration", f"{args.duration}s",
                   "--concurrency", str(args.concurrency), "--batch-size", str(args.batch_size), "--json"]
        if args.seed is not None:
            command += ["--seed", str(args.seed)]
        bench.log(f"{name}: loadgen --rate max for {args.duration:g}s (concurrency {args.concurrency}, "
                  f"batch {args.batch_size})")
        try:
            # stderr passes through so the loadgen's per-second progress line shows up here.
            loadgen = subprocess.run(command, cwd=bench.ROOT, stdout=subprocess.PIPE, timeout=args.duration + 120,
                                     preexec_fn=_die_with_parent)
        except subprocess.TimeoutExpired:
            raise BenchError(f"loadgen still running {args.duration + 120:g}s after it started") from None
        if loadgen.returncode not in (0, 1):
            raise BenchError(f"loadgen exited with {loadgen.returncode}")
        try:
            report = json.loads(loadgen.stdout)
        except json.JSONDecodeError:
            raise BenchError(f"loadgen printed no JSON report: {loadgen.stdout[:200]!r}") from None
        result.acked_spans = report["spans_acknowledged"]
        result.acked_per_second = report["spans_per_second"]
        result.requests_refused = report["requests_failed"]
        result.refused_by_code = report.get("failed_by_code") or {}
        result.p99_ms = report["latency_ms"]["p99"]
        result.loadgen_cpu_percent = report["loadgen_cpu_percent"]
        start, end = report["start_unix"], report["end_unix"]
        result.load_seconds = end - start
        for s in samplers:
            s.sample()
        result.daemon_cpu_percent = daemon_sampler.cpu_percent(start, end)
        result.backend_cpu_percent = backend_sampler.cpu_percent(start, end)
        result.peak_rss_mb = daemon_sampler.peak_rss(start, end) / 1e6
        if result.requests_refused:
            bench.log(f"{name}: {result.requests_refused:,} requests refused: {result.refused_by_code}")
        bench.log(f"{name}: {result.acked_per_second:,.0f} spans/s acknowledged at {result.daemon_cpu_percent:.0f}% "
                  f"daemon CPU; waiting for the sending queue to empty")

        result.queue_emptied, text = wait_queue_empty(metrics_port, args.drain_timeout)
        if not result.queue_emptied:
            bench.log(f"{name}: the sending queue did not empty within {args.drain_timeout:g}s; SIGTERM anyway")
        result.enqueue_failed_spans = metric(text, "otelcol_exporter_enqueue_failed_spans")
        result.send_failed_spans = metric(text, "otelcol_exporter_send_failed_spans")
        for s in samplers:
            s.stop()
        samplers = []
        daemon.send_signal(signal.SIGTERM)
        try:
            result.exit_code = daemon.wait(timeout=args.shutdown_timeout)
        except subprocess.TimeoutExpired:
            raise BenchError(f"daemon still running {args.shutdown_timeout:g}s after SIGTERM") from None
        exited = time.time()
        result.drain_seconds = exited - end
        bench.log(f"{name}: daemon exited {result.exit_code} {result.drain_seconds:.2f}s after the load ended; "
                  f"counting at the {backend.label}")
        if result.exit_code != 0:
            result.error = f"daemon exited {result.exit_code}"
            bench.log(f"{name}: last daemon log lines:\n{bench.tail(daemon_log)}")

        result.backend = backend.finish()
        result.delivered_spans = int(result.backend["spans"])
        result.delivered_per_second = result.delivered_spans / max(exited - start, 1e-9)
        if not result.complete:
            result.error = result.error or (f"{result.delivered_spans:,} spans delivered but {result.acked_spans:,} "
                                            "acknowledged")
            bench.log(f"{name}: last daemon log lines:\n{bench.tail(daemon_log)}")
        if result.acked_spans == 0:
            result.error = result.error or "no span was acknowledged"
        result.ok = not result.error
        bench.log(f"{name}: delivered {result.delivered_spans:,} spans, {result.delivered_per_second:,.0f}/s; "
                  f"{'ok' if result.ok else 'FAILED: ' + result.error}")
    except BenchError as exc:
        result.error = str(exc).splitlines()[0]
        bench.log(f"{name}: FAILED: {exc}")
    finally:
        for s in samplers:
            s.stop()
        terminate(daemon, 10)
        backend.cleanup()
        if args.keep:
            bench.log(f"{name}: kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return result


# ---------------------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------------------

def reproduce_command(args: argparse.Namespace, names: list[str]) -> str:
    command = [".venv/bin/python", "benchmarks/exporters.py", "--duration", f"{args.duration:g}"]
    if names != list(SCENARIOS):
        for n in names:
            command += ["--scenario", n]
    if args.concurrency != 4:
        command += ["--concurrency", str(args.concurrency)]
    if args.batch_size != 100:
        command += ["--batch-size", str(args.batch_size)]
    if args.seed is not None:
        command += ["--seed", str(args.seed)]
    return shlex.join(command)


def per_core(r: Result) -> float:
    return r.acked_per_second / (r.daemon_cpu_percent / 100) if r.daemon_cpu_percent > 0 else 0.0


def render_table(results: list[Result], args: argparse.Namespace, names: list[str]) -> str:
    base = next((r for r in results if r.scenario == BASELINE and r.delivered_per_second > 0), None)
    headers = ["scenario", "acked spans/s", "delivered spans/s", "vs otlp", "drain s", "daemon CPU%",
               "spans/daemon core-s", "backend CPU%", "peak RSS MB", "refused req", "delivered ≥ acked"]
    rows = []
    for r in results:
        if r.delivered_spans is None:
            verdict = "n/a"
        elif r.complete:
            verdict = f"yes ({r.delivered_spans:,}" + (f", {r.duplicates:,} dup" if r.duplicates else "") + ")"
        else:
            verdict = f"NO ({r.delivered_spans:,} of {r.acked_spans:,})"
        versus = f"{r.delivered_per_second / base.delivered_per_second:.2f}x" if base else "-"
        rows.append([f"`{r.scenario}`", f"{r.acked_per_second:,.0f}", f"{r.delivered_per_second:,.0f}", versus,
                     f"{r.drain_seconds:.1f}", f"{r.daemon_cpu_percent:.0f}", f"{per_core(r):,.0f}",
                     f"{r.backend_cpu_percent:.0f}",
                     f"{r.peak_rss_mb:.0f}", f"{r.requests_refused:,}", verdict])
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(headers))) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    out.append("")
    out.append(f"{args.duration:g} s of `loadgen --rate max` (OTLP gRPC, concurrency {args.concurrency}, batch "
               f"{args.batch_size}) per scenario on {os.cpu_count()} CPUs shared by the daemon, the loadgen and the "
               "backend. delivered/s = spans counted at the backend / (load window + drain to the daemon's exit). "
               "CPU% is of one core over the load window; spans/daemon core-s = acked spans/s per fully used daemon "
               "core, the figure least moved by other load on the machine; refused req = requests the daemon "
               "answered with an error.")
    out.append(f"Reproduce: `{reproduce_command(args, names)}`")
    notes = []
    for r in results:
        extra = []
        if r.refused_by_code:
            extra.append(f"refused {r.refused_by_code}")
        if r.enqueue_failed_spans:
            extra.append(f"{r.enqueue_failed_spans:,.0f} spans failed to enqueue")
        if r.send_failed_spans:
            extra.append(f"{r.send_failed_spans:,.0f} spans in failed send attempts")
        if not r.queue_emptied and r.delivered_spans is not None:
            extra.append("sending queue not empty at SIGTERM")
        other_documents = {k: v for k, v in (r.backend.get("documents") or {}).items() if v and k != SPAN_INDEX}
        if other_documents:
            extra.append("also indexed " + ", ".join(f"{v:,} documents in {k}" for k, v in other_documents.items()))
        if r.error:
            extra.append(f"FAILED: {r.error}")
        if extra:
            notes.append(f"- {r.scenario}: " + "; ".join(extra))
    if notes:
        out.append("")
        out.extend(notes)
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", action="append", metavar="NAME",
                        help=f"run only these (repeat or comma-separate); one of: {', '.join(SCENARIOS)}")
    parser.add_argument("--duration", type=bench.parse_seconds, default=10.0, help="load per scenario, seconds (default 10)")
    parser.add_argument("--concurrency", type=int, default=4, help="loadgen requests in flight (default 4)")
    parser.add_argument("--batch-size", type=int, default=100, help="loadgen spans per request (default 100)")
    parser.add_argument("--seed", type=int, default=None, help="loadgen --seed")
    parser.add_argument("--idle", type=float, default=1.0, help="seconds between healthy and the load (default 1)")
    parser.add_argument("--startup-timeout", type=float, default=30.0, help="seconds to wait for a server to be ready (default 30)")
    parser.add_argument("--drain-timeout", type=float, default=120.0,
                        help="seconds to wait for the sending queue to empty after the load (default 120)")
    parser.add_argument("--shutdown-timeout", type=float, default=90.0, help="seconds to wait after SIGTERM (default 90)")
    parser.add_argument("--keep", action="store_true", help="keep each scenario's work dir (logs, sink output, queue)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout instead of the table")
    args = parser.parse_args()
    if args.duration <= 0:
        parser.error("--duration must be positive")

    names = [n.strip() for item in (args.scenario or list(SCENARIOS)) for n in item.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)} (choose from {', '.join(SCENARIOS)})")

    # SIGTERM to this script unwinds like Ctrl-C, so every scenario's finally block stops its servers.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    results = []
    try:
        for n in names:
            results.append(run_scenario(SCENARIOS[n], args))
    except KeyboardInterrupt:
        bench.log("interrupted; reporting the scenarios that finished")

    if args.json:
        print(json.dumps([{**asdict(r), "duplicates": r.duplicates, "complete": r.complete} for r in results], indent=2))
    else:
        print()
        print(render_table(results, args, names))
    return 0 if len(results) == len(names) and all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
