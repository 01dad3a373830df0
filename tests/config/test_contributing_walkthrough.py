"""docs/contributing.md's "Adding a component" walk-through, followed literally: a newcomer who does what it
says gets a processor that is one new file plus one registration line, passes its own unit test and lint,
and changes what a real daemon built from it writes for real OTLP it receives.

The blocks are found by the HTML comment on the line before each fence, `<!-- walkthrough: ACTION [PATH] -->`,
not by headings or prose: a comment is invisible when the page is rendered, survives rewording of the text
around it, and says what to do with its block, so the test has nothing of the walk-through built in:

- `file PATH`: write the block to PATH, relative to the repository root (the daemon's cwd);
- `insert PATH`: apply the block, a unified-diff hunk without header (` ` context, `+` added), to PATH;
- `run`: the shell command that starts the daemon.

The walk-through is followed on a copy of the `collector` package in a temporary directory (the C extensions
included, so it is the same build), which the test's subprocesses import through PYTHONPATH; the fast tests
load the new module into this process's package instead, with the registry restored afterwards.
"""

from __future__ import annotations

import asyncio
import difflib
import filecmp
import importlib.util
import inspect
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import types
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

import collector
from collector import otlpjson, registry
from collector.component import Kind, Signal
from collector.envelope import Envelope
from collector.testing import Sink, build_processor, spans_request, wait_for
from tests.conftest import free_ports

PACKAGE = Path(collector.__file__).resolve().parent
REPO = PACKAGE.parent
DOC = REPO / "docs" / "contributing.md"

_MARKED_BLOCK = re.compile(r"^<!-- walkthrough: (?P<action>[a-z]+)(?: (?P<path>\S+))? -->\n```(?P<lang>\w*)\n(?P<body>.*?)^```$", re.M | re.S)


@dataclass(frozen=True)
class Block:
    action: str
    path: str
    lang: str
    body: str


@dataclass(frozen=True)
class Walkthrough:
    module: Block  # the new component module, the `file` block inside the package
    registration: Block  # the `insert` hunk
    config: Block  # the YAML config file
    run: Block  # the command that starts the daemon
    unit_test: Block  # the test file under tests/

    @property
    def module_name(self) -> str:
        return self.module.path.removesuffix(".py").replace("/", ".")


def read_walkthrough() -> Walkthrough:
    blocks = [Block(m["action"], m["path"] or "", m["lang"], m["body"]) for m in _MARKED_BLOCK.finditer(DOC.read_text())]
    files = [b for b in blocks if b.action == "file"]

    def one(what: str, found: list[Block]) -> Block:
        assert len(found) == 1, f"docs/contributing.md: expected one walkthrough block for {what}, found {found}"
        return found[0]

    return Walkthrough(
        module=one("the component module", [b for b in files if b.path.startswith(f"{PACKAGE.name}/")]),
        registration=one("the registration line", [b for b in blocks if b.action == "insert"]),
        config=one("the config", [b for b in files if b.lang == "yaml"]),
        run=one("the run command", [b for b in blocks if b.action == "run"]),
        unit_test=one("the unit test", [b for b in files if b.path.startswith("tests/")]),
    )


def _code(line: str) -> str:
    """A line as compared when placing the hunk: without its comment and indentation (a `noqa` or a
    re-indent elsewhere does not make the walk-through wrong)."""
    return line.split("#", 1)[0].strip()


def apply_hunk(text: str, hunk: str) -> str:
    """`text` with the hunk applied where its context lines (and only there) stand."""
    lines = hunk.splitlines()
    assert all(line[:1] in (" ", "+") for line in lines), f"the hunk may only keep and add lines:\n{hunk}"
    old = [line[1:] for line in lines if line.startswith(" ")]
    target = text.splitlines(keepends=True)
    at = [i for i in range(len(target) - len(old) + 1) if [_code(t) for t in target[i:i + len(old)]] == [_code(o) for o in old]]
    assert len(at) == 1, f"the hunk's context must stand exactly once in the file, found {len(at)} places:\n{hunk}"
    out = target[:at[0]]
    rest = iter(target[at[0]:])
    for line in lines:
        out.append(next(rest) if line.startswith(" ") else line[1:] + "\n")
    out.extend(rest)
    return "".join(out)


def follow(walkthrough: Walkthrough, root: Path) -> Path:
    """Does what the walk-through says in `root`, a copy of the repository's package; returns `root`."""
    shutil.copytree(PACKAGE, root / PACKAGE.name, ignore=shutil.ignore_patterns("__pycache__"))
    for block in (walkthrough.module, walkthrough.unit_test):
        path = root / block.path
        assert not path.exists(), f"{block.path} already exists"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(block.body)
    target = root / walkthrough.registration.path
    target.write_text(apply_hunk(target.read_text(), walkthrough.registration.body))
    return root


def package_files(root: Path) -> dict[str, Path]:
    return {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def walkthrough() -> Walkthrough:
    return read_walkthrough()


@pytest.fixture
def tree(walkthrough: Walkthrough, tmp_path: Path) -> Path:
    return follow(walkthrough, tmp_path / "repo")


def test_following_it_adds_one_file_and_one_line(walkthrough: Walkthrough, tree: Path) -> None:
    before, after = package_files(PACKAGE), package_files(tree / PACKAGE.name)
    assert sorted(set(before) - set(after)) == []
    new = sorted(set(after) - set(before))
    changed = sorted(name for name in before if not filecmp.cmp(before[name], after[name], shallow=False))
    assert [f"{PACKAGE.name}/{name}" for name in new] == [walkthrough.module.path]
    assert [f"{PACKAGE.name}/{name}" for name in changed] == [walkthrough.registration.path]
    name = changed[0]
    diff = list(difflib.ndiff(before[name].read_text().splitlines(), after[name].read_text().splitlines()))
    assert [line for line in diff if line[:1] in "-?"] == []
    added = [line[2:] for line in diff if line.startswith("+ ")]
    assert added == [line[1:] for line in walkthrough.registration.body.splitlines() if line.startswith("+")] and len(added) == 1


def test_what_it_writes_passes_the_project_lint(walkthrough: Walkthrough, tree: Path) -> None:
    pytest.importorskip("ruff")
    paths = [str(tree / b.path) for b in (walkthrough.module, walkthrough.registration, walkthrough.unit_test)]
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--config", str(REPO / "pyproject.toml"), *paths],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def loaded(walkthrough: Walkthrough, tree: Path, monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """The new module imported into this process's package under its own name. The built-ins are
    registered first and the processor table is a copy for this test, so the registration does not outlive it."""
    registry.load_all()
    monkeypatch.setitem(registry._REGISTRY, Kind.PROCESSOR, dict(registry._REGISTRY[Kind.PROCESSOR]))
    spec = importlib.util.spec_from_file_location(walkthrough.module_name, tree / walkthrough.module.path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, walkthrough.module_name, module)
    spec.loader.exec_module(module)
    return module


def test_the_module_registers_a_mutating_traces_processor(walkthrough: Walkthrough, loaded: types.ModuleType) -> None:
    config = yaml.safe_load(walkthrough.config.body)
    (type_name,) = config["processors"]
    cls = registry.lookup(Kind.PROCESSOR, type_name)
    assert cls is not None and sys.modules[cls.__module__] is loaded
    assert cls.capabilities.mutates_data and Signal.TRACES in cls.signals
    assert type_name in config["service"]["pipelines"]["traces"]["processors"]
    settings = config["processors"][type_name]
    sink = Sink()
    assert asyncio.run(build_processor(type_name, settings, sink).consume(Envelope.of(spans_request(2)))) is None
    assert [{a.key: a.value.string_value for a in span.attributes} for span in sink.spans] == [{settings["key"]: settings["value"]}] * 2


def test_its_unit_test_passes_in_process(walkthrough: Walkthrough, loaded: types.ModuleType) -> None:
    module = types.ModuleType("walkthrough_unit_test")
    exec(compile(walkthrough.unit_test.body, walkthrough.unit_test.path, "exec"), module.__dict__)
    tests = {name: f for name, f in vars(module).items() if name.startswith("test_") and inspect.isfunction(f)}
    assert tests, "the unit-test block has no test functions"
    for name, test in tests.items():
        assert not inspect.signature(test).parameters, f"{name} takes fixtures; this in-process run calls it bare"
        test()


@pytest.mark.slow
def test_its_unit_test_passes_under_pytest_in_the_copy(walkthrough: Walkthrough, tree: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", walkthrough.unit_test.path],
                            cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)}, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b\d+ passed\b", result.stdout) and " failed" not in result.stdout, result.stdout


@pytest.mark.slow
def test_a_daemon_built_from_the_copy_stamps_what_an_sdk_sends(walkthrough: Walkthrough, tree: Path) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    config = yaml.safe_load(walkthrough.config.body)
    (type_name,) = config["processors"]
    key, value = config["processors"][type_name]["key"], config["processors"][type_name]["value"]
    (exporter_id,) = config["service"]["pipelines"]["traces"]["exporters"]
    output = tree / config["exporters"][exporter_id]["path"]
    # The doc's well-known ports, moved to free ones so that tests can run side by side.
    grpc, http, health, metrics = free_ports(4)
    protocols = config["receivers"]["otlp"]["protocols"]
    protocols["grpc"]["endpoint"], protocols["http"]["endpoint"] = f"127.0.0.1:{grpc}", f"127.0.0.1:{http}"
    config["extensions"]["health_check"]["endpoint"] = f"127.0.0.1:{health}"
    config["service"].setdefault("telemetry", {})["metrics"] = {"address": f"127.0.0.1:{metrics}"}
    (tree / walkthrough.config.path).write_text(yaml.safe_dump(config))

    argv = shlex.split(walkthrough.run.body.strip())
    assert argv[:2] == ["llm-collector", "run"] and argv[argv.index("--config") + 1] == walkthrough.config.path, argv
    # `llm-collector` is the console script for collector.cli:main (pyproject.toml).
    command = [sys.executable, "-m", "collector.cli", *argv[1:]]
    log = tree / "daemon.log"
    with open(log, "wb") as out:
        daemon = subprocess.Popen(command, cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)}, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: _healthy(daemon, health, log), timeout=30, what=f"the daemon's health endpoint\n{log.read_text()}")
        provider = TracerProvider(resource=Resource.create({"service.name": "walkthrough"}))
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"http://127.0.0.1:{http}/v1/traces", timeout=10)))
        tracer = provider.get_tracer("walkthrough")
        with tracer.start_as_current_span("checkout", attributes={key: "someone-else", "cart.items": 3}):
            with tracer.start_as_current_span("charge card"):
                pass
        provider.shutdown()

        spans = wait_for(lambda: _spans(output) if len(_spans(output)) == 2 else None, timeout=15, what=f"two spans in {output}")
    finally:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(30)
    assert code == 0, log.read_text()

    by_name = {span.name: {a.key: a.value for a in span.attributes} for span in spans}
    assert sorted(by_name) == ["charge card", "checkout"]
    assert by_name["checkout"][key].string_value == value and by_name["checkout"]["cart.items"].int_value == 3
    assert by_name["charge card"][key].string_value == value


def _healthy(daemon: subprocess.Popen[bytes], port: int, log: Path) -> bool:
    assert daemon.poll() is None, f"the daemon exited with {daemon.returncode}:\n{log.read_text()}"
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, OSError):
        return False


def _spans(path: Path) -> list[Any]:
    if not path.exists():
        return []
    requests = [otlpjson.decode(Signal.TRACES, line) for line in path.read_bytes().splitlines() if line.strip()]
    return [span for r in requests for rs in r.resource_spans for ss in rs.scope_spans for span in ss.spans]

