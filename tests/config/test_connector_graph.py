"""Connector graph errors through `llm-collector validate`, each at file:line:key, in otelcol's words:
service/internal/graph graph.go createNodes ("used as exporter in [...] pipeline but not used in any
supported receiver pipeline" and the receiver one, graph_test.go / collector_test.go cases), cycleErr
("cycle detected: ...", the cyclic_connector case), otelcol/config.go Validate (ambiguous ids), and the
routing and count configs' own errors (contrib connector/routingconnector config.go Validate,
connector/countconnector config.go)."""

from __future__ import annotations

from pathlib import Path

import pytest

import collector.cli
from tests.conftest import run_in_process

BASE = """receivers:
  otlp:
exporters:
  debug:
"""


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    result = run_in_process(collector.cli.main, "validate", "--config", str(path))
    assert result.returncode == (1 if result.stderr else 0), result.stderr
    return [line.strip().replace(f"{path}:", "") for line in result.stderr.splitlines()[1:]]


CASES = [
    ("exporter-without-supported-receiver",
     "connectors:\n  forward:\nservice:\n  pipelines:\n    traces: {receivers: [otlp], exporters: [forward]}\n"
     "    logs: {receivers: [forward], exporters: [debug]}\n",
     ['9: service.pipelines.traces.exporters[0]: connector "forward" used as exporter in [traces] pipeline but not used in any supported receiver pipeline',
      '10: service.pipelines.logs.receivers[0]: connector "forward" used as receiver in [logs] pipeline but not used in any supported exporter pipeline']),
    ("count-has-no-traces-receiver-side",
     "connectors:\n  count:\nservice:\n  pipelines:\n    traces: {receivers: [otlp], exporters: [count]}\n"
     "    traces/2: {receivers: [count], exporters: [debug]}\n",
     ['9: service.pipelines.traces.exporters[0]: connector "count" used as exporter in [traces] pipeline but not used in any supported receiver pipeline',
      '10: service.pipelines.traces/2.receivers[0]: connector "count" used as receiver in [traces/2] pipeline but not used in any supported exporter pipeline']),
    ("cycle-through-one-pipeline",  # collector_test.go cyclic_connector
     "connectors:\n  forward:\nservice:\n  pipelines:\n    traces/in: {receivers: [forward], exporters: [forward]}\n"
     "    traces/out: {receivers: [forward], exporters: [forward]}\n",
     ['9: service.pipelines.traces/in.exporters[0]: cycle detected: connector "forward" (traces to traces) -> connector "forward" (traces to traces)']),
    ("cycle-through-processors",
     "processors:\n  batch:\nconnectors:\n  forward/a:\n  forward/b:\nservice:\n  pipelines:\n"
     "    traces/in: {receivers: [otlp], exporters: [forward/a]}\n"
     "    traces/a: {receivers: [forward/a, forward/b], processors: [batch], exporters: [forward/b]}\n",
     ['13: service.pipelines.traces/a.exporters[0]: cycle detected: connector "forward/b" (traces to traces) -> '
      'processor "batch" in pipeline "traces/a" -> connector "forward/b" (traces to traces)']),
    ("ambiguous-id",
     "connectors:\n  debug:\nservice:\n  pipelines:\n    traces: {receivers: [otlp], exporters: [debug]}\n",
     ['6: connectors.debug: unknown connector type "debug" (valid values: [count, forward, llm_metrics, routing, span_metrics])',
      '6: connectors.debug: ambiguous ID: Found both "debug" exporter and "debug" connector. Change one of the components\' IDs '
      'to eliminate ambiguity (e.g. rename "debug" connector to "debug/connector")']),
    ("routing-empty-table",
     "connectors:\n  routing:\n    default_pipelines: [traces/out]\nservice:\n  pipelines:\n"
     "    traces: {receivers: [otlp], exporters: [routing]}\n    traces/out: {receivers: [routing], exporters: [debug]}\n",
     ["6: connectors.routing.table: invalid routing table: the routing table is empty"]),
    ("routing-route-errors",
     "connectors:\n  routing:\n    table:\n      - pipelines: [traces/out]\n      - condition: a\n        statement: b\n        pipelines: [traces/out]\n"
     "      - condition: 'attributes[\"x\"] == 1'\n      - context: request\n        statement: route()\n        pipelines: [traces/out]\n"
     "      - condition: 'attributes[\"x\"] =='\n        pipelines: [traces/out]\n"
     "service:\n  pipelines:\n    traces: {receivers: [otlp], exporters: [routing]}\n    traces/out: {receivers: [routing], exporters: [debug]}\n",
     ["8: connectors.routing.table[0]: invalid route: no condition or statement provided",
      "9: connectors.routing.table[1]: invalid route: both condition and statement provided",
      "12: connectors.routing.table[2].pipelines: invalid route: no pipelines defined",
      "14: connectors.routing.table[3].statement: \"request\" context requires a 'condition'",
      "16: connectors.routing.table[4].condition: expected a value (unexpected end) "
      "(at column 19 of 'attributes[\"x\"] ==')"]),
    ("routing-pipeline-and-context",
     "connectors:\n  routing:\n    default_pipelines: [traces/nowhere]\n    table:\n      - context: log\n        condition: 'attributes[\"x\"] == 1'\n"
     "        pipelines: [traces/out]\n"
     "service:\n  pipelines:\n    traces: {receivers: [otlp], exporters: [routing]}\n    traces/out: {receivers: [routing], exporters: [debug]}\n",
     ['7: connectors.routing.default_pipelines[0]: pipeline not found: "traces/nowhere" does not list routing connector "routing" among its receivers',
      "9: connectors.routing.table[0].context: the log context is not available to traces (valid: resource, span, request)"]),
    ("count-config-errors",
     "connectors:\n  count:\n    metrics:\n      m: {attributes: [{key: env}]}\n    spans:\n      s:\n        conditions: ['nme == 1']\n"
     "        attributes: [{key: a}, {key: a}]\n"
     "service:\n  pipelines:\n    traces: {receivers: [otlp], exporters: [count]}\n    metrics: {receivers: [count], exporters: [debug]}\n",
     ['12: connectors.count.spans.s.attributes[1].key: attribute "a" given more than once',
      "11: connectors.count.spans.s.conditions[0]: invalid path \"nme\" for the span context (at column 1 of 'nme == 1')",
      "8: connectors.count.metrics.m.attributes: metrics attributes not supported: m"]),
]


@pytest.mark.parametrize(("text", "expected"), [pytest.param(t, e, id=i) for i, t, e in CASES])
def test_connector_graph_errors(tmp_path: Path, text: str, expected: list[str]) -> None:
    problems = _problems(tmp_path, BASE + text)
    assert len(problems) == len(expected), problems
    for problem, want in zip(problems, expected, strict=True):
        assert problem.startswith(want), (problem, want)


def test_a_valid_graph_with_every_connector_validates(tmp_path: Path) -> None:
    text = BASE + """connectors:
  forward:
  count:
  routing:
    default_pipelines: [logs/out]
    table:
      - context: log
        condition: severity_number >= SEVERITY_NUMBER_ERROR
        pipelines: [logs/out]
service:
  pipelines:
    traces: {receivers: [otlp], exporters: [forward, count]}
    traces/2: {receivers: [forward], exporters: [debug]}
    logs: {receivers: [otlp], exporters: [routing, count]}
    logs/out: {receivers: [routing], exporters: [debug]}
    metrics: {receivers: [count], exporters: [debug]}
"""
    assert _problems(tmp_path, text) == []
