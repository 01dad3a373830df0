"""The `llm-collector` command line, run as a user runs it: a subprocess in a scratch directory."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import collector
from collector import registry
from collector.component import Kind
from tests.conftest import free_ports, run_in_process

REPO = Path(__file__).resolve().parents[2]


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLM_COLLECTOR_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    env.update(extra or {})
    return env


def cli(cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "collector.cli", *args], cwd=cwd, env=_env(env), capture_output=True, text=True, timeout=timeout)


def docs_command(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m collector.docs ARGS` (what `make docs` runs) in a subprocess."""
    return subprocess.run([sys.executable, "-m", "collector.docs", *args], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=60)


def docs(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The same by `collector.docs.main` in this process. The drift tests compare what it writes with what it
    prints and need no process start per call; the `__main__` entry, and the reference of a process that
    registered only the real components, go through `docs_command` (test_docs_reference_covers_every_registered_type,
    test_configuration_reference_is_up_to_date)."""
    from collector.docs import main

    return run_in_process(main, *args, cwd=cwd)


GOOD = """\
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:4317"}
exporters:
  debug:
service:
  pipelines:
    traces: {receivers: [otlp], exporters: [debug]}
"""

BAD = """\
receivers:
  otlp:
    protocols:
      grpc: {endpoint: nowhere}
exporters:
  debug:
    verbosity: loud
service:
  pipelines:
    traces: {receivers: [otlp], processors: [batch], exporters: [debug]}
"""

BAD_PROBLEMS = [
    'config.yaml:4: receivers.otlp.protocols.grpc.endpoint: expected an endpoint like "127.0.0.1:4317", got no :port',
    'config.yaml:7: exporters.debug.verbosity: expected one of "basic", "normal", "detailed", got "loud"',
    'config.yaml:10: service.pipelines.traces.processors[0]: references processor "batch" which is not configured',
]


# --------------------------------------------------------------------------------------------------
# Quick commands
# --------------------------------------------------------------------------------------------------


def test_version(tmp_path: Path) -> None:
    result = cli(tmp_path, "--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"llm-collector {collector.__version__}"


def test_no_command_is_a_usage_error(tmp_path: Path) -> None:
    result = cli(tmp_path)
    assert result.returncode == 2
    assert "usage: llm-collector" in result.stderr


def test_components_lists_every_registered_type(tmp_path: Path) -> None:
    result = cli(tmp_path, "components")
    assert result.returncode == 0, result.stderr
    listed: dict[str, dict[str, str]] = {}
    section = ""
    for line in result.stdout.splitlines():
        if not line.startswith(" "):
            section = line.rstrip(":")
            listed[section] = {}
        else:
            name, _, rest = line.strip().partition(" ")
            listed[section][name] = rest.strip()
    assert list(listed) == [kind.section for kind in Kind]
    for kind in Kind:
        assert sorted(listed[kind.section]) == registry.types(kind), kind
        for name, text in listed[kind.section].items():
            cls = registry.lookup(kind, name)
            assert cls is not None and cls.description
            assert text.startswith(cls.description), (name, text)
            if kind is not Kind.EXTENSION:
                assert text.endswith("[" + ", ".join(sorted(s.value for s in cls.signals)) + "]"), (name, text)


def test_validate_good_config(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(GOOD)
    result = cli(tmp_path, "validate", "--config", "config.yaml")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "configuration is valid (config.yaml): pipelines traces\n"
    assert result.stderr == ""


def test_validate_embedded_default(tmp_path: Path) -> None:
    result = cli(tmp_path, "validate")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("configuration is valid (")
    assert result.stdout.endswith("default.yaml): pipelines traces, logs, metrics\n")


def test_validate_bad_config_lists_every_problem(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(BAD)
    result = cli(tmp_path, "validate", "--config", "config.yaml")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == ["invalid configuration: 3 problem(s)", *(f"  {p}" for p in BAD_PROBLEMS)]


def test_validate_merges_two_configs_and_set(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(GOOD)
    (tmp_path / "more.yaml").write_text("exporters:\n  file/logs: {path: logs.jsonl}\nservice:\n  pipelines:\n    logs: {receivers: [otlp], exporters: [file/logs]}\n")
    result = cli(tmp_path, "validate", "--config", "config.yaml", "--config", "more.yaml", "--set", "service.pipelines.metrics.receivers=[otlp]", "--set", "service::pipelines::metrics::exporters=[debug]")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "configuration is valid (config.yaml, more.yaml): pipelines traces, logs, metrics\n"


def test_validate_reports_problems_from_each_file_and_set(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(GOOD)
    (tmp_path / "more.yaml").write_text("exporters:\n  debug:\n    verbosity: chatty\n")
    result = cli(tmp_path, "validate", "--config", "config.yaml", "--config", "more.yaml", "--set", "receivers.otlp.protocols.grpc.endpoint=:x")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "invalid configuration: 2 problem(s)",
        '  --set receivers.otlp.protocols.grpc.endpoint=:x: receivers.otlp.protocols.grpc.endpoint: expected an endpoint like "127.0.0.1:4317", got a port that is not a number from 0 to 65535',
        '  more.yaml:3: exporters.debug.verbosity: expected one of "basic", "normal", "detailed", got "chatty"',
    ]


def test_validate_missing_file(tmp_path: Path) -> None:
    result = cli(tmp_path, "validate", "--config", "nope.yaml")
    assert result.returncode == 1
    assert result.stderr.splitlines() == ["invalid configuration: 1 problem(s)", "  nope.yaml: cannot read config file: No such file or directory"]


def test_run_bad_config_exits_1_quickly_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(BAD)
    started = time.monotonic()
    result = cli(tmp_path, "run", "--config", "config.yaml", timeout=30)
    assert time.monotonic() - started < 10
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == ["invalid configuration: 3 problem(s)", *(f"  {p}" for p in BAD_PROBLEMS)]


# --------------------------------------------------------------------------------------------------
# Running daemons
# --------------------------------------------------------------------------------------------------


class Proc:
    """`llm-collector run ...` in the background with stdout and stderr kept apart."""

    def __init__(self, cwd: Path, args: list[str], env: dict[str, str] | None = None):
        self.cwd = cwd
        self.stdout_path = cwd / "stdout.log"
        self.stderr_path = cwd / "stderr.log"
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "collector.cli", "run", *args], cwd=cwd, env=_env(env), stdout=self._out, stderr=self._err)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def wait_healthy(self, port: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited with {self.proc.returncode}:\n{self.stderr()}")
            if http_status(port) == 200:
                return
            time.sleep(0.05)
        raise AssertionError(f"daemon not healthy on port {port} after {timeout}s:\n{self.stderr()}")

    def wait(self, timeout: float = 20.0) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self._out.close()
            self._err.close()

    def terminate(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._out.close()
        self._err.close()


def http_status(port: int, path: str = "/") -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, ConnectionError, OSError):
        return None


@pytest.fixture
def procs() -> Iterator[Any]:
    started: list[Proc] = []

    def start(cwd: Path, args: list[str], env: dict[str, str] | None = None) -> Proc:
        proc = Proc(cwd, args, env)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()


def default_env(tmp_path: Path) -> tuple[dict[str, str], dict[str, int]]:
    ports = dict(zip(("grpc", "http", "health", "metrics"), free_ports(4), strict=True))
    env = {
        "LLM_COLLECTOR_GRPC_ENDPOINT": f"127.0.0.1:{ports['grpc']}",
        "LLM_COLLECTOR_HTTP_ENDPOINT": f"127.0.0.1:{ports['http']}",
        "LLM_COLLECTOR_HEALTH_ENDPOINT": f"127.0.0.1:{ports['health']}",
        "LLM_COLLECTOR_METRICS_ENDPOINT": f"127.0.0.1:{ports['metrics']}",
        "LLM_COLLECTOR_DATA_DIR": str(tmp_path / "data"),
    }
    return env, ports


def json_lines(text: str) -> list[dict[str, Any]]:
    records = []
    for line in text.splitlines():
        if line.strip():
            try:
                records.append(json.loads(line))
            except ValueError:
                raise AssertionError(f"stderr line is not JSON: {line!r}") from None
    return records


@pytest.mark.slow
def test_run_embedded_default_until_sigterm(tmp_path: Path, procs: Any) -> None:
    env, ports = default_env(tmp_path)
    proc = procs(tmp_path, [], env)
    proc.wait_healthy(ports["health"])
    assert http_status(ports["metrics"], "/metrics") == 200
    assert http_status(ports["http"], "/v1/traces") is not None  # the OTLP/HTTP port is listening
    with socket.create_connection(("127.0.0.1", ports["grpc"]), timeout=2):
        pass
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["logs.jsonl", "metrics.jsonl", "traces.jsonl"]
    assert proc.terminate() == 0
    assert proc.stdout_path.read_text() == ""

    records = json_lines(proc.stderr())  # every stderr line is JSON ...
    assert records
    for record in records:
        assert record.get("component"), record  # ... naming the component that logged it
        assert {"event", "level", "ts"} <= set(record), record
    components = {r["component"] for r in records}
    assert {"service", "otlp", "health_check", "file/traces", "file/logs", "file/metrics"} <= components
    starting = next(r for r in records if r["event"] == "starting")
    assert starting["sources"][0].endswith("default.yaml")
    assert any(r["event"] == "shutdown complete" for r in records)


@pytest.mark.slow
def test_run_merges_two_configs_and_set(tmp_path: Path, procs: Any) -> None:
    ports = dict(zip(("grpc", "health", "health2", "metrics"), free_ports(4), strict=True))
    (tmp_path / "base.yaml").write_text(
        textwrap.dedent(f"""\
            receivers:
              otlp:
                protocols:
                  grpc: {{endpoint: "127.0.0.1:{ports['grpc']}"}}
            exporters:
              debug:
            extensions:
              health_check: {{endpoint: "127.0.0.1:{ports['health']}"}}
            service:
              extensions: [health_check]
              telemetry:
                metrics: {{address: "127.0.0.1:{ports['metrics']}"}}
              pipelines:
                traces: {{receivers: [otlp], exporters: [debug]}}
            """)
    )
    # The second file adds a pipeline and a path; --set moves the health endpoint.
    (tmp_path / "more.yaml").write_text(
        "extensions:\n  health_check:\n    path: /healthz\nexporters:\n  file/logs: {path: data/logs.jsonl}\n"
        "service:\n  pipelines:\n    logs: {receivers: [otlp], exporters: [file/logs]}\n"
    )
    proc = procs(tmp_path, ["--config", "base.yaml", "--config", "more.yaml", "--set", f"extensions.health_check.endpoint=127.0.0.1:{ports['health2']}"])
    deadline = time.monotonic() + 20
    while http_status(ports["health2"], "/healthz") != 200:
        assert proc.proc.poll() is None, proc.stderr()
        assert time.monotonic() < deadline, proc.stderr()
        time.sleep(0.05)
    assert http_status(ports["health"], "/healthz") is None  # nothing listens on the file's port
    assert http_status(ports["health2"], "/") == 404  # the path came from the second file
    assert (tmp_path / "data" / "logs.jsonl").exists()
    starting = next(r for r in json_lines(proc.stderr()) if r["event"] == "starting")
    assert starting["pipelines"] == ["traces", "logs"]
    assert proc.terminate() == 0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("taken", "variable", "prefix"),
    [
        ("grpc", "LLM_COLLECTOR_GRPC_ENDPOINT", "receiver otlp: cannot listen on {endpoint} (gRPC)"),
        ("http", "LLM_COLLECTOR_HTTP_ENDPOINT", "receiver otlp: "),
        ("health", "LLM_COLLECTOR_HEALTH_ENDPOINT", "extension health_check: "),
        ("metrics", "LLM_COLLECTOR_METRICS_ENDPOINT", "service.telemetry.metrics: cannot listen on {endpoint}"),
    ],
    ids=["grpc", "http", "health_check", "metrics"],
)
def test_run_port_in_use_names_component_and_endpoint(tmp_path: Path, procs: Any, taken: str, variable: str, prefix: str) -> None:
    env, ports = default_env(tmp_path)
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        busy = blocker.getsockname()[1]
        endpoint = env[variable] = f"127.0.0.1:{busy}"
        started = time.monotonic()
        proc = procs(tmp_path, [], env)
        code = proc.wait(timeout=30)
        assert time.monotonic() - started < 20
    stderr = proc.stderr()
    assert code == 1, stderr
    assert "Traceback" not in stderr
    failure = next((r for r in _json_records_lenient(stderr) if r.get("event") == "start-up failed"), None)
    assert failure is not None, stderr
    error = failure["error"]
    assert error.startswith(prefix.format(endpoint=endpoint)), error
    # gRPC and the metrics server say "cannot listen on 127.0.0.1:PORT"; aiohttp's own message (HTTP
    # receiver, health_check) says "('127.0.0.1', PORT)". Either way the port is named.
    assert str(busy) in error, error
    # Nothing is left listening: every port the daemon opened before the failure was closed again.
    for name, port in ports.items():
        if name != taken:
            assert http_status(port) is None, name


def _json_records_lenient(text: str) -> list[dict[str, Any]]:
    """JSON log records, skipping lines native libraries print themselves (gRPC core's bind error)."""
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


# --------------------------------------------------------------------------------------------------
# Generated config reference (collector/docs.py)
# --------------------------------------------------------------------------------------------------


def test_docs_reference_covers_every_registered_type(tmp_path: Path) -> None:
    from collector.docs import KIND_TITLES

    result = docs_command(tmp_path)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    sections = re.split(r"^### ", text, flags=re.M)
    by_title = {s.splitlines()[0]: s for s in sections[1:]}
    assert list(by_title) == [*KIND_TITLES.values(), "`service`"]
    for kind, title in KIND_TITLES.items():
        section = by_title[title]
        names = re.findall(r"^#### `([^`]+)`$", section, flags=re.M)
        assert names == registry.types(kind), title
        for name in names:
            cls = registry.lookup(kind, name)
            assert cls is not None
            block = section.split(f"#### `{name}`", 1)[1].split("#### ", 1)[0]
            assert cls.description in block
            for f in dataclasses.fields(cls.config_class):
                assert f"| `{f.metadata.get('key', f.name)}` |" in block, (name, f.name)
    service = by_title["`service`"]
    for key in ("extensions", "pipelines", "pipelines.<name>.receivers", "telemetry.logs.level", "telemetry.metrics.address", "shutdown_timeout"):
        assert f"| `{key}` |" in service, key


def test_docs_table_rows() -> None:
    from collector.docs import generate
    from collector.exporters.file import FileExporterConfig
    from collector.receivers.otlp import GRPCConfig

    def doc(cls: type, name: str) -> str:
        return next(f.metadata["doc"] for f in dataclasses.fields(cls) if f.name == name)

    text = generate()
    # Nested dataclasses give dotted keys; each type renders its default its own way.
    assert f'| `protocols.grpc.endpoint` | host:port | `"127.0.0.1:4317"` | {doc(GRPCConfig, "endpoint")} |' in text
    assert "| `protocols` | mapping | `{grpc: {}, http: {}}` |" in text  # both protocols on when the key is absent
    assert "| `protocols.grpc` | mapping | `unset` |" in text
    assert "| `protocols.http.max_request_body_size` | size | `20MiB` |" in text
    assert f"| `path` | string | **required** | {doc(FileExporterConfig, 'path')} |" in text
    assert "| `flush_interval` | duration | `1s` |" in text
    assert "| `append` | bool | `false` |" in text
    assert '| `format` | `json` \\| `proto` | `"json"` |' in text
    assert "| `pipelines.<name>.receivers` | list of string | `[]` |" in text
    assert "| `telemetry.metrics.address` | host:port | `\"127.0.0.1:8888\"` |" in text
    for line in text.splitlines():
        if line.startswith("| `"):
            assert len(re.findall(r"(?<!\\)\|", line)) == 5, line  # four cells, no stray pipes


def test_docs_write_and_check_detect_drift(tmp_path: Path) -> None:
    from collector.docs import MARK

    reference = tmp_path / "configuration.md"
    reference.write_text(f"# Configuration reference\n\n{MARK}.\n\nstale\n")

    check = docs(tmp_path, "--check", "configuration.md")
    assert check.returncode == 1
    assert "out of date" in check.stderr

    write = docs(tmp_path, "--write", "configuration.md")
    assert write.returncode == 0, write.stderr
    content = reference.read_text()
    assert content == docs(tmp_path).stdout  # the whole file is generated
    assert docs(tmp_path, "--check", "configuration.md").returncode == 0

    # Hand-edit: drift again.
    reference.write_text(content.replace("| `path` |", "| `paht` |", 1))
    assert docs(tmp_path, "--check", "configuration.md").returncode == 1
    # Writing twice changes nothing the second time.
    docs(tmp_path, "--write", "configuration.md")
    once = reference.read_text()
    docs(tmp_path, "--write", "configuration.md")
    assert reference.read_text() == once == content

    # A file that does not exist yet is written; checking one that does not exist is an error.
    fresh = docs(tmp_path, "--write", "new.md")
    assert fresh.returncode == 0, fresh.stderr
    assert (tmp_path / "new.md").read_text() == content
    missing = docs(tmp_path, "--check", "absent.md")
    assert missing.returncode == 2
    assert "make docs" in missing.stderr


def test_docs_write_refuses_a_file_it_did_not_generate(tmp_path: Path) -> None:
    from collector.docs import MARK

    readme = tmp_path / "README.md"
    readme.write_text("# No generated reference here\n")
    for mode in ("--write", "--check"):
        result = docs(tmp_path, mode, "README.md")
        assert result.returncode == 2
        assert MARK in result.stderr
    assert readme.read_text() == "# No generated reference here\n"


def test_configuration_reference_is_up_to_date(tmp_path: Path) -> None:
    result = docs_command(tmp_path, "--check", str(REPO / "docs" / "configuration.md"))
    assert result.returncode == 0, result.stderr + "\nrun `make docs`"


def test_serving_daemon_freezes_start_up_objects_and_raises_the_first_gc_threshold() -> None:
    # In a child: the freeze and the threshold are process-wide, not for a test runner's process.
    code = ("import gc\nfrom collector.cli import GC_FIRST_THRESHOLD, tune_garbage_collector\n"
            "before = gc.get_threshold()\ntune_garbage_collector()\n"
            "print(before[0], gc.get_threshold()[0], GC_FIRST_THRESHOLD, gc.get_freeze_count() > 1000, gc.get_threshold()[1:] == before[1:])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    default, tuned, expected, frozen, rest_kept = done.stdout.split()
    assert int(default) == 700 and int(tuned) == int(expected) == 10_000
    assert frozen == "True" and rest_kept == "True"
