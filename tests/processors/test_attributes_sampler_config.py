"""Config errors of attributes, resource and probabilistic_sampler as `llm-collector validate` reports them:
the file, the line and the key at fault, with otelcol's reason (attraction.go NewAttrProc, filterconfig
ValidateForSpans/ValidateForLogs/ValidateForMetrics, probabilisticsamplerprocessor config.go Validate)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

import collector.cli
from collector.component import Signal
from collector.config.source import expand_string
from collector.testing import BuildError, build_processor
from tests.conftest import run_in_process

HEAD = """\
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:4317"}
exporters:
  debug: {}
processors:
"""


def validate(tmp_path: Path, processors: str, pipelines: str) -> tuple[int, str, Path]:
    path = tmp_path / "config.yaml"
    path.write_text(HEAD + textwrap.indent(textwrap.dedent(processors), "  ") + "service:\n  pipelines:\n" + textwrap.indent(textwrap.dedent(pipelines), "    "))
    result = run_in_process(collector.cli.main, "validate", "--config", str(path))
    return result.returncode, result.stdout + result.stderr, path


CASES = [
    ("extract without named groups", """\
attributes:
  actions:
    - key: http.target
      action: extract
      pattern: ".*$"
""", "traces: {receivers: [otlp], processors: [attributes], exporters: [debug]}\n",
     ':12: processors.attributes.actions[0].pattern: field "pattern" contains no named matcher groups'),
    # contrib's testdata/config.yaml attributes/regex_insert has an unnamed group `(\?|\&)`: otelcol's validate
    # passes it (Config.Validate only counts actions) and its start fails with this reason (NewAttrProc).
    ("extract with an unnamed group", r"""
attributes:
  actions:
    - key: "http.url"
      pattern: ^(?P<http_protocol>.*):\/\/(?P<http_domain>.*)\/(?P<http_path>.*)(\?|\&)(?P<http_query_params>.*)
      action: extract
""", "traces: {receivers: [otlp], processors: [attributes], exporters: [debug]}\n",
     ':12: processors.attributes.actions[0].pattern: field "pattern" contains at least one unnamed matcher group'),
    ("insert without a value", """\
attributes:
  actions:
    - {key: a, action: insert}
""", "traces: {receivers: [otlp], processors: [attributes], exporters: [debug]}\n",
     ':10: processors.attributes.actions[0].value: either field "value", "from_attribute" or "from_context" setting must be specified'),
    ("unknown action", """\
resource:
  attributes:
    - key: a
      value: 1
      action: add
""", "logs: {receivers: [otlp], processors: [resource], exporters: [debug]}\n",
     ':12: processors.resource.attributes[0].action: unsupported action "add"'),
    ("match_type missing", """\
attributes:
  include:
    services: [checkout]
  actions: [{key: a, value: 1, action: insert}]
""", "traces: {receivers: [otlp], processors: [attributes], exporters: [debug]}\n",
     ":9: processors.attributes.include.match_type: unrecognized match_type: '', valid types are: [regexp strict]"),
    ("span properties in a logs pipeline", """\
attributes:
  include:
    match_type: strict
    span_names: [GET]
  actions: [{key: a, value: 1, action: insert}]
""", "logs: {receivers: [otlp], processors: [attributes], exporters: [debug]}\n",
     ":8: processors.attributes: include: services, span_names, span_kinds and metric_names are not valid for log records"),
    ("sampling percentage", """\
probabilistic_sampler:
  sampling_percentage: -5
""", "traces: {receivers: [otlp], processors: [probabilistic_sampler], exporters: [debug]}\n",
     ":9: processors.probabilistic_sampler.sampling_percentage: sampling rate is negative: -5.000000%"),
    ("sampling precision", """\
probabilistic_sampler:
  sampling_percentage: 5
  sampling_precision: 15
""", "traces: {receivers: [otlp], processors: [probabilistic_sampler], exporters: [debug]}\n",
     ":10: processors.probabilistic_sampler.sampling_precision: sampling precision is too great, should be <= 14: 15"),
    ("sampler mode", """\
probabilistic_sampler:
  mode: consistent
""", "traces: {receivers: [otlp], processors: [probabilistic_sampler], exporters: [debug]}\n",
     ':9: processors.probabilistic_sampler.mode: expected one of "", "hash_seed", "equalizing", "proportional", got "consistent"'),
    ("sampler on metrics", """\
probabilistic_sampler: {sampling_percentage: 5}
""", "metrics: {receivers: [otlp], processors: [probabilistic_sampler], exporters: [debug]}\n", "probabilistic_sampler"),
]


@pytest.mark.parametrize(("name", "processors", "pipelines", "expected"), CASES, ids=[c[0] for c in CASES])
def test_config_errors_name_file_line_and_key(tmp_path: Path, name: str, processors: str, pipelines: str, expected: str) -> None:
    code, output, path = validate(tmp_path, processors, pipelines)
    assert code != 0
    assert (f"{path}{expected}" if expected.startswith(":") else expected) in output, output


def test_otelcol_s_own_testdata_loads(tmp_path: Path) -> None:
    """processor/probabilisticsamplerprocessor/testdata/config.yaml and the attributes and resource READMEs'
    examples, as written."""
    code, output, _ = validate(tmp_path, """\
probabilistic_sampler:
  sampling_percentage: 15.3
probabilistic_sampler/logs:
  sampling_percentage: 15.3
  hash_seed: 22
  attribute_source: "record"
  from_attribute: "foo"
  sampling_priority: "bar"
resource:
  attributes:
  - key: cloud.availability_zone
    value: "zone-1"
    action: upsert
  - key: k8s.cluster.name
    from_attribute: k8s-cluster
    action: insert
  - key: redundant-attribute
    action: delete
attributes/hash:
  actions:
    - key: user.email
      action: hash
    - key: "^.*password.*$"
      pattern: "^.*password.*$"
      action: delete
attributes/regex:
  include:
    match_type: regexp
    services: ["auth.*"]
    span_kinds: ["SPAN_KIND_SERVER"]
  exclude:
    match_type: strict
    attributes:
      - key: redact_trace
        value: false
  actions:
    - key: http.url
      pattern: ^(?P<http_protocol>.*):\\/\\/(?P<http_domain>.*)\\/(?P<http_path>.*)(?:\\?|\\&)(?P<http_query_params>.*)
      action: extract
    - key: credit_card
      action: convert
      converted_type: string
""", """\
traces: {receivers: [otlp], processors: [probabilistic_sampler, resource, attributes/hash, attributes/regex], exporters: [debug]}
logs: {receivers: [otlp], processors: [probabilistic_sampler/logs, resource], exporters: [debug]}
""")
    assert code == 0, output


def expand(value: Any) -> Any:
    """The config loader's ${...} expansion of every string in a block."""
    if isinstance(value, dict):
        return {k: expand(v) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v) for v in value]
    return expand_string(value) if isinstance(value, str) else value


CONTRIB = Path(__file__).resolve().parents[1] / "fixtures" / "contrib-testdata"
# What otelcol itself refuses among its testdata blocks: regex_insert's pattern has an unnamed group (NewAttrProc
# fails at start), resource/empty has no attributes (config.go Validate; config_test.go expects the error).
REFUSED = {
    "attributes/regex_insert": 'field "pattern" contains at least one unnamed matcher group',
    "resource/empty": 'missing required field "attributes"',
}


@pytest.mark.parametrize("fixture", ["attributesprocessor.yaml", "resourceprocessor.yaml", "probabilisticsamplerprocessor.yaml"])
def test_contrib_testdata_blocks_load(fixture: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each processor block of contrib's testdata/config.yaml, as written there, builds, except those otelcol
    refuses too (with otelcol's reason)."""
    monkeypatch.delenv("DEPLOYMENT_ENV", raising=False)
    data = yaml.safe_load((CONTRIB / fixture).read_text())
    blocks = data.get("processors", data)
    refused = {}
    for name, block in blocks.items():
        signal = Signal.LOGS if "log" in name else Signal.TRACES
        try:
            build_processor(name.partition("/")[0], expand(block), name=name.partition("/")[2], signal=signal)
        except BuildError as exc:
            refused[name] = str(exc)
    assert sorted(refused) == sorted(k for k in REFUSED if k in blocks)
    for name, reason in refused.items():
        assert REFUSED[name] in reason
