"""Type names as otelcol spells them today and before: core's metadata.yaml renames the OTLP exporters
(`type: otlp_grpc, deprecated_type: otlp`; `type: otlp_http, deprecated_type: otlphttp`). Both spellings
load and run; an older one logs one warning at start-up in otelcol's words (service/internal/builders'
logDeprecatedTypeAlias: `"otlp" alias is deprecated; use "otlp_grpc" instead`); `components` and the
config reference name both."""

from __future__ import annotations

from pathlib import Path

import pytest

import collector.cli
import collector.docs
from collector import registry
from collector.component import Kind
from collector.exporters.otlp import OTLPExporter
from collector.exporters.otlphttp import OTLPHTTPExporter
from tests.conftest import Daemon, daemon_yaml, run_in_process

RENAMED = [(Kind.EXPORTER, "otlp_grpc", "otlp", OTLPExporter), (Kind.EXPORTER, "otlp_http", "otlphttp", OTLPHTTPExporter)]


@pytest.mark.parametrize(("kind", "current", "older", "cls"), RENAMED)
def test_both_spellings_find_the_type(kind: Kind, current: str, older: str, cls: type) -> None:
    assert registry.lookup(kind, current) is cls
    assert registry.lookup(kind, older) is cls
    assert registry.current_name(kind, older) == current
    assert registry.current_name(kind, current) is None
    assert current in registry.types(kind) and older not in registry.types(kind)


def _config(exporters: str, ids: str) -> str:
    return daemon_yaml(f"""
receivers:
  otlp:
    protocols:
      grpc: {{{{endpoint: "127.0.0.1:{{grpc}}"}}}}
exporters:
{exporters}
""", f"traces: {{{{receivers: [otlp], exporters: [{ids}]}}}}")


OLDER = _config("""
  otlp: {{endpoint: "127.0.0.1:1", tls: {{insecure: true}}}}
  otlp/second: {{endpoint: "127.0.0.1:1", tls: {{insecure: true}}}}
  otlphttp: {{endpoint: "http://127.0.0.1:1"}}
""", "otlp, otlp/second, otlphttp")
CURRENT = _config("""
  otlp_grpc: {{endpoint: "127.0.0.1:1", tls: {{insecure: true}}}}
  otlp_http/backend: {{endpoint: "http://127.0.0.1:1"}}
""", "otlp_grpc, otlp_http/backend")


@pytest.mark.parametrize("config", [OLDER, CURRENT], ids=["older", "current"])
def test_validate_accepts_both_spellings(tmp_path: Path, config: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(config.format(grpc=1, http=2, health=3, metrics=4, data=tmp_path))
    result = run_in_process(collector.cli.main, "validate", "--config", str(path))
    assert result.returncode == 0, result.stderr


def _alias_warnings(daemon: Daemon) -> list[dict[str, object]]:
    return [r for r in daemon.log_records() if "alias is deprecated" in str(r.get("event"))]


def test_older_spelling_runs_and_warns_once_naming_the_current_one(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, OLDER).start()
    assert daemon.stop() == 0
    warnings = {str(r["event"]): r for r in _alias_warnings(daemon)}
    assert set(warnings) == {'"otlp" alias is deprecated; use "otlp_grpc" instead', '"otlphttp" alias is deprecated; use "otlp_http" instead'}
    assert warnings['"otlp" alias is deprecated; use "otlp_grpc" instead']["components"] == ["otlp", "otlp/second"]
    assert all(r["level"] == "warning" for r in warnings.values())


def test_current_spelling_runs_without_warning(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, CURRENT).start()
    assert daemon.stop() == 0
    assert _alias_warnings(daemon) == []


def test_components_and_the_reference_name_the_older_spelling() -> None:
    listed = run_in_process(collector.cli.main, "components").stdout
    lines = {line.split()[0]: line for line in listed.splitlines() if line.startswith("  ")}
    assert "also answers to its older name otlp)" in lines["otlp_grpc"]
    assert "also answers to its older name otlphttp)" in lines["otlp_http"]
    reference = run_in_process(collector.docs.main).stdout
    block = reference.split("#### `otlp_http`", 1)[1].split("#### ", 1)[0]
    assert "Also answers to its older name `otlphttp`" in block
