"""What otelcol has and this daemon does not, refused the way the issue asks, through `llm-collector
validate`: a `profiles` pipeline with otelcol's own explanation (service/pipelines/config.go: profiles sit
behind the service.profilesSupport feature gate), and each common missing type with its name, what it
does in otelcol and the closest thing here; a pipeline naming a refused connector gets no second error."""

from __future__ import annotations

from pathlib import Path

import pytest

import collector.cli
from collector.component import Kind
from collector.config.missing_types import MISSING
from tests.conftest import run_in_process

BASE = """
receivers:
  otlp:
exporters:
  debug:
"""
PIPELINE = "    traces: {receivers: [otlp], exporters: [debug]}\n"


def _validate(tmp_path: Path, text: str) -> tuple[int, list[str]]:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    result = run_in_process(collector.cli.main, "validate", "--config", str(path))
    return result.returncode, [line.strip().split(": ", 1)[1] for line in result.stderr.splitlines()[1:]]


@pytest.mark.parametrize("name", ["profiles", "profiles/continuous"])
def test_profiles_pipeline_is_refused_with_otelcols_explanation(tmp_path: Path, name: str) -> None:
    code, problems = _validate(tmp_path, BASE + "service:\n  pipelines:\n" + PIPELINE + f"    {name}: {{receivers: [otlp], exporters: [debug]}}\n")
    assert code == 1
    assert problems == [f'service.pipelines.{name}: pipeline "{name}": profiling signal support is at alpha level, gated under the "service.profilesSupport" feature gate'
                        " (otelcol's words); this daemon has no profiles signal even with it: remove the pipeline"]


CASES = [(kind, name, does, closest) for kind, table in MISSING.items() if kind != Kind.CONNECTOR for name, (does, closest) in table.items()]


@pytest.mark.parametrize(("kind", "name", "does", "closest"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_missing_type_is_refused_with_what_it_does_and_the_closest_thing(tmp_path: Path, kind: str, name: str, does: str, closest: str) -> None:
    section = f"{kind}s"
    text = BASE.replace(f"{section}:\n", f"{section}:\n  {name}/x:\n") if f"{section}:" in BASE else BASE + f"{section}:\n  {name}/x:\n"
    code, problems = _validate(tmp_path, text + "service:\n  pipelines:\n" + PIPELINE)
    assert code == 1
    assert len(problems) == 1, problems
    assert problems[0].startswith(f'{section}.{name}/x: unknown {kind} type "{name}" (valid values: [')
    assert problems[0].endswith(f"; in otelcol it {does}; closest here: {closest}")


def test_missing_connector_types_are_refused_by_type_and_pipelines_naming_them_get_no_second_error(tmp_path: Path) -> None:
    text = BASE + """connectors:
  servicegraph:
  forward/in:
  my_connector:
service:
  pipelines:
    traces: {receivers: [otlp], exporters: [debug, servicegraph, forward/in]}
    metrics: {receivers: [servicegraph], exporters: [debug]}
    traces/2: {receivers: [forward/in, my_connector], exporters: [debug]}
"""
    code, problems = _validate(tmp_path, text)
    assert code == 1
    does, closest = MISSING[Kind.CONNECTOR]["servicegraph"]
    assert problems == [
        f'connectors.servicegraph: connector type "servicegraph" is not supported here (valid values: [count, forward, llm_metrics, routing, span_metrics]); in otelcol it {does}; closest here: {closest}',
        'connectors.my_connector: unknown connector type "my_connector" (valid values: [count, forward, llm_metrics, routing, span_metrics])',
    ]


def test_a_refused_type_is_named_once_not_again_where_it_is_referenced(tmp_path: Path) -> None:
    text = BASE + """  logging: {verbosity: detailed}
extensions:
  oidc:
service:
  extensions: [oidc]
  pipelines:
    traces: {receivers: [otlp], exporters: [logging]}
"""
    code, problems = _validate(tmp_path, text)
    assert code == 1
    assert [p.split(":", 1)[0] for p in problems] == ["exporters.logging", "extensions.oidc"]
    assert problems[0].endswith("; in otelcol it printed telemetry to the console (removed from otelcol in v0.111.0 for debug); closest here: the debug exporter, with the same verbosity key")
