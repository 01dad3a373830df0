"""What tests of every area share: a real daemon started as a subprocess on free ports, the way a user runs
it (`Daemon`, the `daemon` / `daemon_factory` fixtures, `BASIC_CONFIG`, `daemon_yaml`), a command's
`main` run in this process (`run_in_process`), and damaged copies of wire bytes for the tests that hold
a C walk to the parser (`damaged_copies`). Helpers that benchmarks and tools use too (`kv`, request
builders, `wait_for`, `Sink`, `build_chain`) are in collector/testing.py."""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    # Keep every socket bound until all are chosen, or the kernel may hand out one port twice.
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class Daemon:
    """`llm-collector run --config <file>` in a subprocess. The config text may use {grpc}, {http},
    {health}, {metrics}, any `extra_ports` names and {data}, filled with free ports and a temp dir."""

    def __init__(self, tmp: Path, config: str, extra_args: list[str] | None = None, env: dict[str, str] | None = None, extra_ports: tuple[str, ...] = ()):
        self.tmp = tmp
        self.data = tmp / "data"
        names = ("grpc", "http", "health", "metrics", *extra_ports)
        self.ports = dict(zip(names, free_ports(len(names)), strict=True))
        self.config_path = tmp / "config.yaml"
        self.config_path.write_text(textwrap.dedent(config).format(data=self.data, **self.ports))
        self.log_path = tmp / "daemon.log"
        self.extra_args = extra_args or []
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_seconds = 0.0

    @property
    def grpc_endpoint(self) -> str:
        return f"127.0.0.1:{self.ports['grpc']}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['http']}"

    def start(self, wait: bool = True) -> Daemon:
        cmd = [sys.executable, "-m", "collector.cli", "run", "--config", str(self.config_path), *self.extra_args]
        self._log = open(self.log_path, "wb")
        started = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, cwd=self.tmp, env=self.env)
        if wait:
            self.wait_healthy()
            self.startup_seconds = time.monotonic() - started
        return self

    def wait_healthy(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.ports['health']}/"
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.05)
        raise AssertionError(f"daemon not healthy after {timeout}s:\n{self.logs()}")

    def stop(self, timeout: float = 20.0, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"daemon did not stop within {timeout}s:\n{self.logs()}") from None
        self._log.close()
        return code

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def logs(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_records(self) -> list[dict[str, Any]]:
        out = []
        for line in self.logs().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ports['metrics']}/metrics", timeout=5) as response:
            return response.read().decode()

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of `name` whose labels include `labels`."""
        total = 0.0
        found = False
        for line in self.metrics().splitlines():
            if line.startswith("#") or not line.startswith(name):
                continue
            series, _, value = line.rpartition(" ")
            metric_name, _, label_text = series.partition("{")
            if metric_name != name:
                continue
            if all(f'{k}="{v}"' in label_text for k, v in labels.items()):
                total += float(value)
                found = True
        if not found:
            raise KeyError(f"no series {name}{labels} in:\n{self.metrics()}")
        return total


# What `Daemon` needs of every config: the health_check extension it waits for on {health} and the
# self-metrics it reads on {metrics}.
_DAEMON_SERVICE = """\
extensions:
  health_check: {{endpoint: "127.0.0.1:{health}"}}
service:
  extensions: [health_check]
  telemetry:
    metrics: {{address: "127.0.0.1:{metrics}"}}
"""


def daemon_yaml(components: str, pipelines: str) -> str:
    """A config for `Daemon`: `components` (the receivers, processors and exporters sections), the health_check
    extension and self-metrics `Daemon` relies on, then `pipelines`, the entries of service.pipelines. Both are
    YAML text at any indentation, with `Daemon`'s placeholders (so literal braces are doubled)."""
    body = textwrap.dedent(components).strip("\n")
    entries = textwrap.indent(textwrap.dedent(pipelines).strip("\n"), "    ")
    return f"\n{body}\n{_DAEMON_SERVICE}  pipelines:\n{entries}\n"


BASIC_CONFIG = daemon_yaml("""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
      http: {{endpoint: "127.0.0.1:{http}"}}
exporters:
  file/traces: {{path: "{data}/traces.jsonl"}}
  file/logs: {{path: "{data}/logs.jsonl"}}
  file/metrics: {{path: "{data}/metrics.jsonl"}}
""", """
traces: {{receivers: [otlp], exporters: [file/traces]}}
logs: {{receivers: [otlp], exporters: [file/logs]}}
metrics: {{receivers: [otlp], exporters: [file/metrics]}}
""")


@pytest.fixture
def daemon_factory(tmp_path: Path) -> Iterator[Any]:
    started: list[Daemon] = []

    def make(config: str = BASIC_CONFIG, *, start: bool = True, subdir: str | None = None, **kwargs: Any) -> Daemon:
        where = tmp_path / (subdir or f"d{len(started)}")
        where.mkdir(parents=True, exist_ok=True)
        daemon = Daemon(where, config, **kwargs)
        started.append(daemon)
        return daemon.start() if start else daemon

    yield make
    for daemon in started:
        if daemon.alive():
            daemon.stop()


@pytest.fixture
def daemon(daemon_factory: Any) -> Daemon:
    return daemon_factory()


def run_in_process(main: Callable[[list[str]], int], *args: str, cwd: Path | None = None,
                   env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """A command line's `main(ARGS)` (`collector.cli.main` for `llm-collector validate`, `collector.docs.main`)
    run in this process, in `cwd` and with `env` as the whole environment (as subprocess.run takes them):
    the exit code, stdout and stderr the command gives, without the ~1 s start of a process. For commands
    that return; the command line itself is tested as a user runs it, in a subprocess
    (tests/config/test_cli.py)."""
    out, err = io.StringIO(), io.StringIO()
    saved = dict(os.environ)
    try:
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        with contextlib.chdir(cwd or Path.cwd()), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse's usage errors
                code = exc.code if isinstance(exc.code, int) else 2
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return subprocess.CompletedProcess([getattr(main, "__module__", "main"), *args], code, out.getvalue(), err.getvalue())

def damaged_copies(rng: random.Random, originals: Sequence[bytes], rounds: int, *, cut: bool = False, overwrite: int = 3,
                   insert: bool = False) -> Iterator[bytes]:
    """`rounds` damaged copies of `originals` (each one chosen with `rng`), for checking that a walk over wire
    bytes fails where the parser does and otherwise answers as the parser reads them. The kinds of damage take
    turns: cut short at a random offset (`cut`), 1 to `overwrite` random bytes overwritten, 1 to 12 random
    bytes inserted (`insert`)."""
    kinds = [kind for kind, wanted in (("cut", cut), ("overwrite", True), ("insert", insert)) if wanted]
    for round_ in range(rounds):
        buf = bytearray(rng.choice(originals))
        kind = kinds[round_ % len(kinds)]
        if kind == "cut":
            del buf[rng.randrange(len(buf)):]
        elif kind == "overwrite":
            for _ in range(rng.randint(1, overwrite)):
                buf[rng.randrange(len(buf))] = rng.randrange(256)
        else:
            at = rng.randrange(len(buf))
            buf[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 12)))
        yield bytes(buf)
