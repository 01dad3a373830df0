"""The wheel carries everything a user needs (the embedded default config above all), and the
Dockerfile stays consistent with the files and ports it refers to. No Docker engine runs on the
development machines, so the image itself cannot be built here; these checks catch drift."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, free_ports


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(REPO)], check=True, capture_output=True)
    (path,) = out.glob("llm_collector-*.whl")
    return path


@pytest.mark.slow
def test_wheel_ships_the_embedded_default_config(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        default = z.read("collector/data/default.yaml")
    assert default == (REPO / "config" / "default.yaml").read_bytes()
    assert "collector/exporters/json_writer.py" in names
    # The C extensions, compiled for this platform (setup.py).
    assert any(n.startswith("collector/wire/_walks.") and n.endswith(".so") for n in names)
    assert any(n.startswith("collector/wire/_otlp_json.") and n.endswith(".so") for n in names)
    assert any(n.startswith("collector/wire/_pii.") and n.endswith(".so") for n in names)
    assert any(n.endswith("entry_points.txt") for n in names)


@pytest.mark.slow
def test_installed_wheel_runs_on_its_embedded_default(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target), str(wheel)], check=True, capture_output=True)
    grpc_port, http_port, health_port, metrics_port = free_ports(4)
    env = {
        **os.environ,
        # The installed copy, not the repository's, must be the one imported.
        "PYTHONPATH": str(target),
        "LLM_COLLECTOR_GRPC_ENDPOINT": f"127.0.0.1:{grpc_port}",
        "LLM_COLLECTOR_HTTP_ENDPOINT": f"127.0.0.1:{http_port}",
        "LLM_COLLECTOR_HEALTH_ENDPOINT": f"127.0.0.1:{health_port}",
        "LLM_COLLECTOR_METRICS_ENDPOINT": f"127.0.0.1:{metrics_port}",
        "LLM_COLLECTOR_DATA_DIR": str(tmp_path / "data"),
    }
    where = subprocess.run([sys.executable, "-c", "import collector; print(collector.__file__)"], env=env, cwd=tmp_path, capture_output=True, text=True, check=True)
    assert where.stdout.strip().startswith(str(target))
    result = subprocess.run([sys.executable, "-m", "collector.cli", "validate"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert str(target) in result.stdout  # it validated the copy inside the installed package


@pytest.mark.slow
def test_without_a_c_compiler_the_install_works_and_redacts_in_python(tmp_path: Path) -> None:
    """setup.py marks the extensions optional: a machine with no compiler gets a working install that
    runs the Python walks and encoder."""
    import shutil

    source = tmp_path / "src"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".venv", ".phoenix-venv", ".git", "data", "build",
                                                                  "__pycache__", "*.so", "*.egg-info"))
    out = tmp_path / "wheel"
    env = {**os.environ, "CC": "false"}
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out),
                    str(source)], check=True, capture_output=True, env=env)
    (path,) = out.glob("llm_collector-*.whl")
    with zipfile.ZipFile(path) as z:
        assert not [n for n in z.namelist() if n.endswith(".so")]
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target), str(path)],
                   check=True, capture_output=True)
    script = (
        "from collector.wire import native\n"
        "assert native.locate is None and native.json_tokens is None\n"
        "from collector.processors.redaction import Detectors, RedactionConfig, build_redactor\n"
        "from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest\n"
        "r = ExportTraceServiceRequest()\n"
        "s = r.resource_spans.add().scope_spans.add().spans.add(name='s')\n"
        "a = s.attributes.add(key='gen_ai.input.messages')\n"
        "a.value.string_value = '[{\"content\": \"mail maria.silva@example.com\"}]'\n"
        "build_redactor(RedactionConfig(detectors=Detectors(), allow_all_keys=True))[0].traces(r)\n"
        "print(r.resource_spans[0].scope_spans[0].spans[0].attributes[0].value.string_value)\n"
        "from collector.exporters import json_writer as j\n"
        "assert native.genai_attributes is native.number_sum is native.fnv1a64 is native.otlp_json_traces is None\n"
        "assert native.pii_scan is native.pii_rewrite is None\n"
        "print(j.encode('traces', ExportTraceServiceRequest, r.SerializeToString()).decode()[:41])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    result = subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ['[{"content": "mail <EMAIL>"}]', '{"resourceSpans":[{"scopeSpans":[{"spans"']


def dockerfile() -> str:
    return (REPO / "Dockerfile").read_text()


def test_dockerfile_copies_only_existing_paths_and_runs_as_non_root() -> None:
    text = dockerfile()
    for line in text.splitlines():
        m = re.match(r"COPY\s+(?!--from)(.+)\s+\S+$", line)
        if m:
            for source in m.group(1).split():
                assert (REPO / source).exists(), f"Dockerfile copies missing {source}"
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK ", text, re.M)


def test_dockerfile_matches_the_agent_config_it_runs() -> None:
    text = dockerfile()
    assert "COPY config/agent.yaml /etc/llm-collector/config.yaml" in text
    agent: Any = yaml.safe_load((REPO / "config" / "agent.yaml").read_text())
    endpoints = [
        agent["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"],
        agent["receivers"]["otlp"]["protocols"]["http"]["endpoint"],
        agent["extensions"]["health_check"]["endpoint"],
        agent["service"]["telemetry"]["metrics"]["address"],
    ]
    exposed = {int(p) for line in re.findall(r"^EXPOSE\s+(.+)$", text, re.M) for p in line.split()}
    for endpoint in endpoints:
        host, port = endpoint.rsplit(":", 1)
        assert host == "0.0.0.0", f"{endpoint} would be unreachable from outside the container"
        assert int(port) in exposed
    health_port = agent["extensions"]["health_check"]["endpoint"].rsplit(":", 1)[1]
    assert f"127.0.0.1:{health_port}/" in text.split("HEALTHCHECK", 1)[1]
    entry = re.search(r'^ENTRYPOINT \["([^"]+)"\]', text, re.M)
    assert entry is not None and entry.group(1) in (REPO / "pyproject.toml").read_text()
