"""Config loading, table-driven: every user-visible behaviour has a case asserting the exact message
(`file:line: key.path: problem`) or the decoded value.

Most bodies are partial configs: `complete()` appends whatever of a minimal valid config (otlp receiver,
debug exporter, one traces pipeline) the body does not define itself. It appends *after* the body, so
the line numbers in a body are the ones the messages report, and the only errors are the body's.
"""

from __future__ import annotations

import os
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from collector import registry
from collector.component import ComponentID, Exporter, Kind, Signal
from collector.config import Config, ConfigErrors, default_config_path, load_config
from collector.config.missing_types import connector_message, otelcol_explanation
from collector.config.typed import ByteSize, Duration, Endpoint, option

REPO = Path(__file__).resolve().parents[2]

SCAFFOLD = {
    "receivers": "receivers: {otlp: {}}",
    "exporters": "exporters: {debug: {}}",
    "service": "service: {pipelines: {traces: {receivers: [otlp], exporters: [debug]}}}",
}

TOP_LEVEL_KEYS = "receivers, processors, exporters, extensions, connectors, service"


def complete(body: str) -> str:
    body = textwrap.dedent(body)
    missing = [text for key, text in SCAFFOLD.items() if not re.search(rf"^{key}:", body, re.M)]
    return body + ("\n" if body and not body.endswith("\n") else "") + "\n".join(missing) + "\n"


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def errors_of(paths: list[Path] | None = None, sets: list[str] | None = None) -> list[str]:
    with pytest.raises(ConfigErrors) as info:
        load_config([str(p) for p in paths or []], sets)
    return [str(e) for e in info.value.errors]


def expand(messages: list[str], **names: Path) -> list[str]:
    """`{path}` (or any `{name}` given) in an expected message becomes that file's path. Plain replace,
    not str.format, because messages contain braces of their own (`${env:X}`)."""
    out = []
    for message in messages:
        for name, value in names.items():
            message = message.replace("{" + name + "}", str(value))
        out.append(message)
    return out


def config_of(cfg: Config, kind: Kind, id: str) -> Any:
    return cfg.component(kind, ComponentID.parse(id)).config


def valid(kind: Kind) -> str:
    return ", ".join(registry.types(kind))


@pytest.fixture(autouse=True)
def _no_collector_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The embedded default reads LLM_COLLECTOR_*; a developer's shell must not change the results."""
    for name in list(os.environ):
        if name.startswith("LLM_COLLECTOR_"):
            monkeypatch.delenv(name)


# --------------------------------------------------------------------------------------------------
# Errors: one case per user-visible problem, exact rendered messages.
# --------------------------------------------------------------------------------------------------

D = textwrap.dedent

# (id, body, expected messages, append the scaffold?)
ERROR_CASES: list[tuple[str, str, list[str], bool]] = [
    # --- the file itself ---
    (
        "yaml-syntax-unclosed-flow",
        D("""\
            receivers:
              otlp:
                protocols: {grpc
            exporters:
              debug:
            """),
        ["{path}:4: invalid YAML: expected ',' or '}', but got ':'"],
        False,
    ),
    (
        "yaml-syntax-tab",
        "receivers:\n  otlp:\n\tprotocols:\n",
        ["{path}:3: invalid YAML: found character '\\t' that cannot start any token"],
        False,
    ),
    ("top-level-list", "- receivers\n- exporters\n", ["{path}:1: the top level of a config file must be a mapping"], False),
    ("top-level-scalar", "\n\n42\n", ["{path}:3: the top level of a config file must be a mapping"], False),
    ("empty-file", "", ["{path}:1: service.pipelines: service must have at least one pipeline"], False),
    ("comments-only", "# nothing here\n", ["{path}:1: service.pipelines: service must have at least one pipeline"], False),
    (
        "duplicate-top-level-key",
        D("""\
            exporters:
              debug:
            exporters:
              debug:
            """),
        ["{path}:3: exporters: duplicate key (first written at line 1)"],
        True,
    ),
    (
        "duplicate-nested-key",
        D("""\
            exporters:
              debug:
                verbosity: basic
                sampling_initial: 5
                verbosity: detailed
            """),
        ["{path}:5: exporters.debug.verbosity: duplicate key (first written at line 3)"],
        True,
    ),
    (
        "unknown-top-level-key",
        "extras: 1\n",
        [f"{{path}}:1: extras: unknown top-level key (valid keys: {TOP_LEVEL_KEYS})"],
        True,
    ),
    (
        "unknown-top-level-key-did-you-mean",
        "recievers:\n  otlp:\n",
        [f'{{path}}:1: recievers: unknown top-level key (valid keys: {TOP_LEVEL_KEYS}); did you mean "receivers"?'],
        True,
    ),
    (
        "missing-connector-type-rejected",
        "connectors:\n  servicegraph:\n",
        [f"{{path}}:2: connectors.servicegraph: {connector_message('servicegraph', 'count, forward, llm_metrics, routing, span_metrics')}"],
        True,
    ),
    (
        "section-not-a-mapping",
        "extensions: [health_check]\n",
        ["{path}:1: extensions: expected a mapping of extension ids to their config, got a list"],
        True,
    ),
    # --- unknown keys ---
    (
        "unknown-key-did-you-mean",
        D("""\
            exporters:
              debug:
                verbosty: detailed
            """),
        ['{path}:3: exporters.debug.verbosty: unknown key (valid keys: verbosity, sampling_initial, sampling_thereafter, use_internal_logger, output_paths); did you mean "verbosity"?'],
        True,
    ),
    (
        "unknown-key-no-close-match",
        D("""\
            exporters:
              debug:
                colour: red
            """),
        ["{path}:3: exporters.debug.colour: unknown key (valid keys: verbosity, sampling_initial, sampling_thereafter, use_internal_logger, output_paths)"],
        True,
    ),
    (
        "unknown-key-nested-did-you-mean",
        D("""\
            receivers:
              otlp:
                protocols:
                  grpc:
                    max_recv_msg_size: 8
            """),
        ['{path}:5: receivers.otlp.protocols.grpc.max_recv_msg_size: unknown key (valid keys: endpoint, transport, max_recv_msg_size_mib, max_concurrent_streams, tls, auth, keepalive, include_metadata, read_buffer_size, write_buffer_size); did you mean "max_recv_msg_size_mib"?'],
        True,
    ),
    (
        "unknown-service-key",
        D("""\
            service:
              pipeline:
                traces: {receivers: [otlp], exporters: [debug]}
            """),
        [
            '{path}:2: service.pipeline: unknown key (valid keys: extensions, pipelines, telemetry, shutdown_timeout); did you mean "pipelines"?',
            "{path}:1: service.pipelines: service must have at least one pipeline",
        ],
        True,
    ),
    (
        "unknown-protocol",
        D("""\
            receivers:
              otlp:
                protocols:
                  grpc:
                  thrift:
            """),
        ["{path}:5: receivers.otlp.protocols.thrift: unknown protocol (valid keys: grpc, http)"],
        True,
    ),
    # --- wrong types, one per scalar kind ---
    (
        "bool-given-string",
        D("""\
            exporters:
              debug:
              file:
                path: out.jsonl
                append: "yes"
            """),
        ['{path}:5: exporters.file.append: expected true or false, got "yes"'],
        True,
    ),
    (
        "bool-given-int",
        "exporters:\n  debug:\n  file: {path: out.jsonl, append: 1}\n",
        ["{path}:3: exporters.file.append: expected true or false, got 1"],
        True,
    ),
    (
        "int-given-string",
        "exporters:\n  debug:\n    sampling_initial: two\n",
        ['{path}:3: exporters.debug.sampling_initial: expected an integer, got "two"'],
        True,
    ),
    (
        "int-given-float",
        "exporters:\n  debug:\n    sampling_initial: 2.5\n",
        ["{path}:3: exporters.debug.sampling_initial: expected an integer, got 2.5"],
        True,
    ),
    (
        "int-given-bool",
        "exporters:\n  debug:\n    sampling_initial: true\n",
        ["{path}:3: exporters.debug.sampling_initial: expected an integer, got true"],
        True,
    ),
    (
        "str-given-list",
        "exporters:\n  debug:\n  file:\n    path: [a, b]\n",
        ["{path}:4: exporters.file.path: expected a string, got a list"],
        True,
    ),
    (
        "str-given-mapping",
        "exporters:\n  debug:\n  file:\n    path: {a: b}\n",
        ["{path}:4: exporters.file.path: expected a string, got a mapping"],
        True,
    ),
    (
        "str-given-null",
        "exporters:\n  debug:\n  file:\n    path:\n",
        ["{path}:4: exporters.file.path: expected a string, got null"],
        True,
    ),
    (
        "list-given-string",
        D("""\
            extensions:
              health_check:
            service:
              extensions: health_check
              pipelines:
                traces: {receivers: [otlp], exporters: [debug]}
            """),
        ['{path}:4: service.extensions: expected a list, got "health_check"'],
        True,
    ),
    (
        "pipeline-list-given-string",
        D("""\
            service:
              pipelines:
                traces:
                  receivers: otlp
                  exporters: [debug]
            """),
        [
            '{path}:4: service.pipelines.traces.receivers: expected a list, got "otlp"',
            "{path}:3: service.pipelines.traces: pipeline must have at least one receiver",
        ],
        True,
    ),
    (
        "mapping-given-list",
        "exporters:\n  debug: [verbose]\n",
        ["{path}:2: exporters.debug: expected a mapping, got a list"],
        True,
    ),
    (
        "mapping-given-scalar",
        D("""\
            service:
              telemetry: verbose
              pipelines:
                traces: {receivers: [otlp], exporters: [debug]}
            """),
        ['{path}:2: service.telemetry: expected a mapping, got "verbose"'],
        True,
    ),
    (
        "protocols-given-scalar",
        "receivers:\n  otlp:\n    protocols: grpc\n",
        ["{path}:3: receivers.otlp.protocols: expected a mapping with grpc and/or http"],
        True,
    ),
    # --- Literal choices ---
    (
        "literal-bad-choice",
        "exporters:\n  debug:\n    verbosity: loud\n",
        ['{path}:3: exporters.debug.verbosity: expected one of "basic", "normal", "detailed", got "loud"'],
        True,
    ),
    (
        "literal-wrong-type",
        "exporters:\n  debug:\n    verbosity: 2\n",
        ['{path}:3: exporters.debug.verbosity: expected one of "basic", "normal", "detailed", got 2'],
        True,
    ),
    (
        "literal-case-sensitive",
        "exporters:\n  debug:\n  file: {path: x, format: JSON}\n",
        ['{path}:3: exporters.file.format: expected one of "json", "proto", got "JSON"'],
        True,
    ),
    (
        "literal-nested-service",
        D("""\
            service:
              telemetry:
                logs:
                  level: warning
              pipelines:
                traces: {receivers: [otlp], exporters: [debug]}
            """),
        ['{path}:4: service.telemetry.logs.level: expected one of "debug", "info", "warn", "error", got "warning"'],
        True,
    ),
    # --- Duration ---
    *[
        (
            f"duration-bad-{label}",
            f"exporters:\n  debug:\n  file:\n    path: x\n    flush_interval: {raw}\n",
            [f'{{path}}:5: exporters.file.flush_interval: expected a duration like "200ms", got {shown}'],
            True,
        )
        for label, raw, shown in [
            ("word", "fast", '"fast"'),
            ("unitless-string", '"5"', '"5"'),
            ("negative", "-1s", '"-1s"'),
            ("negative-number", "-5", "-5"),
            ("unknown-unit", "5d", '"5d"'),
            ("trailing-garbage", "5s!", '"5s!"'),
            ("empty", '""', '""'),
            ("bool", "true", "true"),
        ]
    ],
    (
        "duration-validate-hook",
        "exporters:\n  debug:\n  file:\n    path: x\n    flush_interval: 0s\n",
        ["{path}:5: exporters.file.flush_interval: must be greater than 0"],
        True,
    ),
    # --- ByteSize ---
    *[
        (
            f"bytesize-bad-{label}",
            f"receivers:\n  otlp:\n    protocols:\n      http:\n        max_request_body_size: {raw}\n",
            [f'{{path}}:5: receivers.otlp.protocols.http.max_request_body_size: expected a size like "4MiB" or a number of bytes, got {shown}'],
            True,
        )
        for label, raw, shown in [
            ("word", "lots", '"lots"'),
            ("negative", "-1", "-1"),
            ("float", "1.5", "1.5"),
            ("unknown-unit", "4 parsecs", '"4 parsecs"'),
            ("bool", "false", "false"),
        ]
    ],
    # --- Endpoint ---
    *[
        (
            f"endpoint-bad-{label}",
            f"extensions:\n  health_check:\n    endpoint: {raw}\n",
            [f'{{path}}:3: extensions.health_check.endpoint: expected an endpoint like "127.0.0.1:4317", {shown}'],
            True,
        )
        for label, raw, shown in [
            # What is wrong, never the value (endpoints are often built from environment variables).
            ("no-port", "localhost", "got no :port"),
            ("bare-port", "13133", "got an integer"),
            ("port-too-big", "127.0.0.1:70000", "got a port that is not a number from 0 to 65535"),
            ("port-not-number", "127.0.0.1:http", "got a port that is not a number from 0 to 65535"),
            ("empty-port", '"127.0.0.1:"', "got nothing after the last colon"),
            ("unbalanced-bracket", '"[::1:13133"', "got an IPv6 host without both [ and ]"),
            ("empty", '""', "got an empty string"),
        ]
    ],
    # --- validate() hooks and required keys ---
    (
        "validate-hook-path",
        "extensions:\n  health_check:\n    path: health\n",
        ['{path}:3: extensions.health_check.path: expected a path starting with "/"'],
        True,
    ),
    (
        "validate-hook-int",
        "receivers:\n  otlp:\n    protocols:\n      grpc:\n        max_recv_msg_size_mib: 0\n",
        ["{path}:5: receivers.otlp.protocols.grpc.max_recv_msg_size_mib: must be a positive number of MiB"],
        True,
    ),
    (
        "missing-required-key",
        "exporters:\n  debug:\n  file/out:\n    format: proto\n",
        ['{path}:3: exporters.file/out: missing required key "path"'],
        True,
    ),
    (
        "missing-required-key-empty-component",
        "exporters:\n  debug:\n  file:\n",
        ['{path}:3: exporters.file: missing required key "path"'],
        True,
    ),
    (
        "no-protocol-enabled",
        "receivers:\n  otlp:\n    protocols: {}\n",
        ["{path}:3: receivers.otlp.protocols: must enable at least one protocol (grpc or http)"],
        True,
    ),
    # --- component ids and types ---
    (
        "unknown-receiver-type",
        "receivers:\n  otlp:\n  kafka:\n",
        [f'{{path}}:3: receivers.kafka: unknown receiver type "kafka" (valid values: [{valid(Kind.RECEIVER)}]){otelcol_explanation(Kind.RECEIVER, "kafka")}'],
        True,
    ),
    (
        "unknown-exporter-type-named",
        "exporters:\n  debug:\n  clickhouse/main:\n    endpoint: x\n",
        [f'{{path}}:3: exporters.clickhouse/main: unknown exporter type "clickhouse" (valid values: [{valid(Kind.EXPORTER)}])'],
        True,
    ),
    (
        "unknown-processor-type",
        "processors:\n  not_a_processor:\n",
        [f'{{path}}:2: processors.not_a_processor: unknown processor type "not_a_processor" (valid values: [{valid(Kind.PROCESSOR)}])'],
        True,
    ),
    (
        "unknown-extension-type",
        "extensions:\n  oidc:\n",
        [f'{{path}}:2: extensions.oidc: unknown extension type "oidc" (valid values: [{valid(Kind.EXTENSION)}]){otelcol_explanation(Kind.EXTENSION, "oidc")}'],
        True,
    ),
    *[
        (
            f"invalid-component-id-{label}",
            f'exporters:\n  debug:\n  "{raw}":\n',
            [f'{{path}}:3: exporters.{raw}: invalid component id "{raw}" (expected "type" or "type/name", type matching [a-zA-Z][a-zA-Z0-9_]*)'],
            True,
        )
        for label, raw in [("empty-name", "file/"), ("starts-with-digit", "2file"), ("space-in-name", "file/a b"), ("dash-in-type", "my-file")]
    ],
    # --- references from the service section ---
    (
        "undefined-receiver",
        "service:\n  pipelines:\n    traces:\n      receivers: [otlp, otlp/other]\n      exporters: [debug]\n",
        ['{path}:4: service.pipelines.traces.receivers[1]: references receiver "otlp/other" which is not configured'],
        True,
    ),
    (
        "undefined-processor",
        "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      processors: [batch]\n      exporters: [debug]\n",
        ['{path}:5: service.pipelines.traces.processors[0]: references processor "batch" which is not configured'],
        True,
    ),
    (
        "undefined-exporter-block-list",
        D("""\
            service:
              pipelines:
                traces:
                  receivers: [otlp]
                  exporters:
                    - debug
                    - otlphttp
            """),
        ['{path}:7: service.pipelines.traces.exporters[1]: references exporter "otlphttp" which is not configured'],
        True,
    ),
    (
        "undefined-extension",
        "service:\n  extensions: [health_check]\n  pipelines:\n    traces: {receivers: [otlp], exporters: [debug]}\n",
        ['{path}:2: service.extensions[0]: references extension "health_check" which is not configured'],
        True,
    ),
    (
        "invalid-reference-id",
        "service:\n  pipelines:\n    traces: {receivers: [otlp], exporters: [debug, debug/]}\n",
        ['{path}:3: service.pipelines.traces.exporters[1]: invalid component id "debug/" (expected "type" or "type/name", type matching [a-zA-Z][a-zA-Z0-9_]*)'],
        True,
    ),
    (
        "duplicate-reference-in-pipeline",
        "service:\n  pipelines:\n    traces: {receivers: [otlp], exporters: [debug, debug]}\n",
        ['{path}:3: service.pipelines.traces.exporters[1]: references exporter "debug" more than once'],
        True,
    ),
    (
        "duplicate-extension-reference",
        D("""\
            extensions:
              health_check:
            service:
              extensions: [health_check, health_check]
              pipelines:
                traces: {receivers: [otlp], exporters: [debug]}
            """),
        ['{path}:4: service.extensions[1]: references extension "health_check" more than once'],
        True,
    ),
    # --- pipelines ---
    (
        "pipeline-without-receivers",
        "service:\n  pipelines:\n    traces:\n      exporters: [debug]\n",
        ["{path}:3: service.pipelines.traces: pipeline must have at least one receiver"],
        True,
    ),
    (
        "pipeline-without-exporters",
        "service:\n  pipelines:\n    logs/audit:\n      receivers: [otlp]\n      exporters: []\n",
        ["{path}:3: service.pipelines.logs/audit: pipeline must have at least one exporter"],
        True,
    ),
    (
        "pipeline-empty",
        "service:\n  pipelines:\n    metrics:\n",
        [
            "{path}:3: service.pipelines.metrics: pipeline must have at least one receiver",
            "{path}:3: service.pipelines.metrics: pipeline must have at least one exporter",
        ],
        True,
    ),
    ("no-pipelines-empty-map", "service:\n  pipelines: {}\n", ["{path}:2: service.pipelines: service must have at least one pipeline"], True),
    ("no-pipelines-key", "service:\n  extensions: []\n", ["{path}:1: service.pipelines: service must have at least one pipeline"], True),
    ("no-service", "receivers:\n  otlp:\nexporters:\n  debug:\nservice:\n", ["{path}:5: service.pipelines: service must have at least one pipeline"], False),
    (
        "unknown-pipeline-signal",
        "service:\n  pipelines:\n    traces: {receivers: [otlp], exporters: [debug]}\n    profiles: {receivers: [otlp], exporters: [debug]}\n",
        ['{path}:4: service.pipelines.profiles: pipeline "profiles": profiling signal support is at alpha level, gated under the "service.profilesSupport" feature gate'
         " (otelcol's words); this daemon has no profiles signal even with it: remove the pipeline"],
        True,
    ),
    (
        "unknown-pipeline-signal-named",
        "service:\n  pipelines:\n    span/main: {receivers: [otlp], exporters: [debug]}\n",
        ['{path}:3: service.pipelines.span/main: unknown pipeline signal "span" (expected traces, logs or metrics, optionally followed by "/name")'],
        True,
    ),
    *[
        (
            f"invalid-pipeline-id-{label}",
            f'service:\n  pipelines:\n    traces: {{receivers: [otlp], exporters: [debug]}}\n    "{raw}": {{receivers: [otlp], exporters: [debug]}}\n',
            [f'{{path}}:4: service.pipelines.{raw}: invalid pipeline id "{raw}" (the name after "/" must be non-empty, without "/" or whitespace)'],
            True,
        )
        for label, raw in [("empty-name", "traces/"), ("two-slashes", "traces/a/b"), ("space", "traces/a b")]
    ],
    (
        "file-exporter-shared-by-two-signals",
        D("""\
            exporters:
              file/all:
                path: all.jsonl
            service:
              pipelines:
                traces: {receivers: [otlp], exporters: [file/all]}
                logs: {receivers: [otlp], exporters: [file/all]}
                logs/again: {receivers: [otlp], exporters: [file/all]}
            """),
        [
            "{path}:2: exporters.file/all: one file holds one signal, but this exporter is used by logs, traces pipelines; "
            "configure one file exporter per signal (e.g. file/traces, file/logs)"
        ],
        True,
    ),
    # --- several problems in one file: every one is reported, in one go ---
    (
        "many-errors-all-reported",
        D("""\
            receivers:
              otlp:
                protocols:
                  grpc:
                    endpoint: localhost
                  http:
                    max_request_body_size: huge
              kafka:
            exporters:
              debug:
                verbosity: loud
              file:
                path: x
                flush_interval: fast
            extensions:
              health_check:
                path: nope
            service:
              extensions: [health_check, zpages]
              telemetry:
                logs: {level: trace}
              shutdown_timeout: "10"
              pipelines:
                traces:
                  receivers: [otlp]
                  processors: [batch]
                  exporters: [debug, file, nope]
                logs:
                  exporters: [debug]
                events:
                  receivers: [otlp]
                  exporters: [debug]
            """),
        [
            '{path}:5: receivers.otlp.protocols.grpc.endpoint: expected an endpoint like "127.0.0.1:4317", got no :port',
            '{path}:7: receivers.otlp.protocols.http.max_request_body_size: expected a size like "4MiB" or a number of bytes, got "huge"',
            f'{{path}}:8: receivers.kafka: unknown receiver type "kafka" (valid values: [{valid(Kind.RECEIVER)}]){otelcol_explanation(Kind.RECEIVER, "kafka")}',
            '{path}:11: exporters.debug.verbosity: expected one of "basic", "normal", "detailed", got "loud"',
            '{path}:14: exporters.file.flush_interval: expected a duration like "200ms", got "fast"',
            '{path}:17: extensions.health_check.path: expected a path starting with "/"',
            '{path}:21: service.telemetry.logs.level: expected one of "debug", "info", "warn", "error", got "trace"',
            '{path}:22: service.shutdown_timeout: expected a duration like "200ms", got "10"',
            '{path}:26: service.pipelines.traces.processors[0]: references processor "batch" which is not configured',
            '{path}:27: service.pipelines.traces.exporters[2]: references exporter "nope" which is not configured',
            "{path}:28: service.pipelines.logs: pipeline must have at least one receiver",
            '{path}:30: service.pipelines.events: unknown pipeline signal "events" (expected traces, logs or metrics, optionally followed by "/name")',
            '{path}:19: service.extensions[1]: references extension "zpages" which is not configured',
        ],
        True,
    ),
]


@pytest.mark.parametrize(("body", "expected", "scaffold"), [pytest.param(b, e, s, id=i) for i, b, e, s in ERROR_CASES])
def test_config_error(tmp_path: Path, body: str, expected: list[str], scaffold: bool) -> None:
    path = write(tmp_path, complete(body) if scaffold else body)
    assert errors_of([path]) == expand(expected, path=path)


def test_error_case_ids_are_unique() -> None:
    ids = [case[0] for case in ERROR_CASES]
    assert len(ids) == len(set(ids))


def test_missing_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert errors_of([missing]) == [f"{missing}: cannot read config file: No such file or directory"]


def test_every_file_error_is_reported_not_just_the_first(tmp_path: Path) -> None:
    """Syntax errors in two files and a bad --set: all three reported at once."""
    a = write(tmp_path, "receivers: [\n", "a.yaml")
    b = write(tmp_path, "- x\n", "b.yaml")
    assert errors_of([a, b], ["oops"]) == [
        f"{a}:2: invalid YAML: expected the node content, but found '<stream end>'",
        f"{b}:1: the top level of a config file must be a mapping",
        '--set oops: expected "key.path=value"',
    ]


# --------------------------------------------------------------------------------------------------
# Signal support: a test-only exporter that takes traces only, registered for one test at a time.
# --------------------------------------------------------------------------------------------------


@dataclass
class _TracesOnlyConfig:
    level: int = option(1, "Test only.")


class _TracesOnlyExporter(Exporter):
    type_name = "tracesonly"
    description = "Test-only exporter that supports traces only."
    config_class = _TracesOnlyConfig
    signals = frozenset({Signal.TRACES})


@pytest.fixture
def traces_only_exporter(monkeypatch: pytest.MonkeyPatch) -> None:
    registry.load_all()  # load the built-ins first, so the undo leaves exactly them
    monkeypatch.setitem(registry._REGISTRY[Kind.EXPORTER], "tracesonly", _TracesOnlyExporter)


def test_signal_mismatch(tmp_path: Path, traces_only_exporter: None) -> None:
    path = write(
        tmp_path,
        D("""\
            receivers:
              otlp:
            exporters:
              tracesonly:
            service:
              pipelines:
                traces: {receivers: [otlp], exporters: [tracesonly]}
                logs:
                  receivers: [otlp]
                  exporters: [tracesonly]
                metrics/x: {receivers: [otlp], exporters: [tracesonly]}
            """),
    )
    assert errors_of([path]) == [
        f'{path}:10: service.pipelines.logs.exporters[0]: exporter "tracesonly" does not support logs (supports: traces)',
        f'{path}:11: service.pipelines.metrics/x.exporters[0]: exporter "tracesonly" does not support metrics (supports: traces)',
    ]


def test_test_only_component_does_not_leak() -> None:
    assert "tracesonly" not in registry.types(Kind.EXPORTER)


# --------------------------------------------------------------------------------------------------
# Values that decode: what the component actually receives.
# --------------------------------------------------------------------------------------------------

R, E, X = Kind.RECEIVER, Kind.EXPORTER, Kind.EXTENSION


def _grpc(cfg: Config) -> Any:
    return config_of(cfg, R, "otlp").protocols.grpc


def _http(cfg: Config) -> Any:
    return config_of(cfg, R, "otlp").protocols.http


VALUE_CASES: list[tuple[str, str, Callable[[Config], Any], Any]] = [
    # Duration
    *[
        (f"duration-{label}", f"service:\n  shutdown_timeout: {raw}\n  pipelines: {{traces: {{receivers: [otlp], exporters: [debug]}}}}\n", lambda c: c.service.shutdown_timeout, seconds)
        for label, raw, seconds in [
            ("ms", "200ms", 0.2),
            ("compound", "1m30s", 90.0),
            ("zero-string", '"0"', 0.0),
            ("zero-int", "0", 0.0),
            ("zero-seconds", "0s", 0.0),
            ("fraction", "1.5h", 5400.0),
            ("micro", "250us", 0.00025),
            ("micro-sign", "250µs", 0.00025),
            ("nanos", "1500ns", 1.5e-6),
            ("padded", '" 5s "', 5.0),
            # otelcol's confmap has no hook for numbers into time.Duration: a YAML number is its int64
            # nanoseconds (a float truncated), as mapstructure decodes it (confmap/confmap.go decodeConfig).
            ("bare-int-nanoseconds", "5", 5e-9),
            ("bare-int-one-second", "1000000000", 1.0),
            ("bare-float-truncated", "1.5", 1e-9),
        ]
    ],
    ("duration-type", "exporters:\n  debug:\n  file: {path: x, flush_interval: 200ms}\n", lambda c: type(config_of(c, E, "file").flush_interval), Duration),
    # ByteSize
    *[
        (f"bytesize-{label}", f"receivers:\n  otlp:\n    protocols:\n      http:\n        max_request_body_size: {raw}\n", lambda c: _http(c).max_request_body_size, size)
        for label, raw, size in [
            ("mib", "4MiB", 4 * 2**20),
            ("mb-decimal", "20MB", 20_000_000),
            ("int", "123", 123),
            ("zero", "0", 0),
            ("kib-fraction", "1.5KiB", 1536),
            ("space-lower", "4 mib", 4 * 2**20),
            ("k-decimal", "4k", 4000),
            ("bytes", "512B", 512),
            ("gib", "1GiB", 2**30),
        ]
    ],
    ("bytesize-type", "receivers:\n  otlp:\n    protocols:\n      http:\n", lambda c: type(_http(c).max_request_body_size), ByteSize),
    # Endpoint
    *[
        (f"endpoint-{label}", f"extensions:\n  health_check:\n    endpoint: {raw}\n", lambda c: (lambda e: (str(e), e.host, e.port))(config_of(c, X, "health_check").endpoint), expected)
        for label, raw, expected in [
            ("ipv4", "127.0.0.1:13133", ("127.0.0.1:13133", "127.0.0.1", 13133)),
            ("hostname", "localhost:80", ("localhost:80", "localhost", 80)),
            ("all-interfaces", '":9000"', (":9000", "", 9000)),
            ("ipv6", '"[::1]:13133"', ("[::1]:13133", "::1", 13133)),
            ("port-zero", "127.0.0.1:0", ("127.0.0.1:0", "127.0.0.1", 0)),
        ]
    ],
    ("endpoint-type", "receivers:\n  otlp:\n", lambda c: type(_grpc(c).endpoint), Endpoint),
    # Scalars and defaults
    ("str-accepts-number", "exporters:\n  debug:\n  file: {path: 42}\n", lambda c: config_of(c, E, "file").path, "42"),
    ("bool-true", "exporters:\n  debug:\n  file: {path: x, append: true}\n", lambda c: config_of(c, E, "file").append, True),
    ("defaults", "exporters:\n  debug:\n", lambda c: (lambda d: (d.verbosity, d.sampling_initial, d.sampling_thereafter))(config_of(c, E, "debug")), ("basic", 2, 1)),
    ("empty-component-is-defaults", "extensions:\n  health_check:\n", lambda c: (config_of(c, X, "health_check").endpoint, config_of(c, X, "health_check").path), ("127.0.0.1:13133", "/")),
    ("literal-choice", "exporters:\n  debug:\n    verbosity: detailed\n", lambda c: config_of(c, E, "debug").verbosity, "detailed"),
    ("nullable-endpoint", "service:\n  telemetry: {metrics: {address: null}}\n  pipelines: {traces: {receivers: [otlp], exporters: [debug]}}\n", lambda c: c.service.telemetry.metrics.address, None),
    ("otlp-no-protocols-key-enables-both", "receivers:\n  otlp:\n", lambda c: (_grpc(c) is not None, _http(c) is not None), (True, True)),
    ("otlp-empty-protocol-enables-only-it", "receivers:\n  otlp:\n    protocols:\n      http:\n", lambda c: (_grpc(c), _http(c).endpoint), (None, "127.0.0.1:4318")),
    (
        "yaml-merge-key-override-is-not-a-duplicate",
        D("""\
            extensions:
              health_check/a: &hc
                endpoint: 127.0.0.1:1
                path: /shared
              health_check/b:
                <<: *hc
                endpoint: 127.0.0.1:2
            """),
        lambda c: [(str(i), v.config.endpoint, v.config.path) for i, v in sorted(c.components[X].items())],
        [("health_check/a", "127.0.0.1:1", "/shared"), ("health_check/b", "127.0.0.1:2", "/shared")],
    ),
    (
        "pipeline-names-and-order",
        D("""\
            exporters:
              debug:
              file/t: {path: t.jsonl}
            service:
              pipelines:
                traces: {receivers: [otlp], exporters: [debug, file/t]}
                traces/second: {receivers: [otlp], exporters: [debug]}
                logs: {receivers: [otlp], exporters: [debug]}
            """),
        lambda c: [(p.name, p.signal, [str(e) for e in p.exporters]) for p in c.pipelines.values()],
        [("traces", Signal.TRACES, ["debug", "file/t"]), ("traces/second", Signal.TRACES, ["debug"]), ("logs", Signal.LOGS, ["debug"])],
    ),
]


@pytest.mark.parametrize(("body", "get", "expected"), [pytest.param(b, g, e, id=i) for i, b, g, e in VALUE_CASES])
def test_config_value(tmp_path: Path, body: str, get: Callable[[Config], Any], expected: Any) -> None:
    cfg = load_config([str(write(tmp_path, complete(body)))])
    assert get(cfg) == expected


def test_yaml_merge_key_still_rejects_a_real_duplicate(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        complete(
            D("""\
                extensions:
                  health_check/a: &hc
                    path: /shared
                  health_check/b:
                    <<: *hc
                    endpoint: 127.0.0.1:2
                    endpoint: 127.0.0.1:3
                """)
        ),
    )
    assert errors_of([path]) == [f"{path}:7: extensions.health_check/b.endpoint: duplicate key (first written at line 6)"]


# --------------------------------------------------------------------------------------------------
# Substitution: ${env:X}, ${env:X:-default}, ${X}, ${file:path}, $$ escape.
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMC_PATH", "/var/out.jsonl")
    monkeypatch.setenv("LLMC_N", "32")
    monkeypatch.setenv("LLMC_TRUE", "true")
    monkeypatch.setenv("LLMC_PORT", "4999")
    monkeypatch.setenv("LLMC_EMPTY", "")
    monkeypatch.setenv("LLMC_NESTED", "${env:LLMC_PATH}")
    monkeypatch.delenv("LLMC_UNSET", raising=False)


SUBSTITUTION_CASES = [
    ("env", "${env:LLMC_PATH}", "/var/out.jsonl"),
    ("env-embedded", "dir/${env:LLMC_N}/x.jsonl", "dir/32/x.jsonl"),
    ("env-twice", "${env:LLMC_N}-${env:LLMC_PORT}", "32-4999"),
    ("bare", "${LLMC_PATH}", "/var/out.jsonl"),
    ("bare-with-default", "${LLMC_UNSET:-fallback.jsonl}", "fallback.jsonl"),
    ("default-when-unset", "${env:LLMC_UNSET:-./data}/t.jsonl", "./data/t.jsonl"),
    ("default-when-empty", "${env:LLMC_EMPTY:-./data}/t.jsonl", "./data/t.jsonl"),
    ("default-not-used-when-set", "${env:LLMC_PATH:-./data}", "/var/out.jsonl"),
    ("default-with-colons", "${env:LLMC_UNSET:-127.0.0.1:4317}", "127.0.0.1:4317"),
    ("unset-is-empty", "a${env:LLMC_UNSET}b", "ab"),
    ("empty-is-empty", "a${env:LLMC_EMPTY}b", "ab"),
    ("escape", "$${env:LLMC_PATH}", "${env:LLMC_PATH}"),
    ("escape-embedded", "cost$$5-$${LLMC_N}", "cost$5-${LLMC_N}"),
    ("lone-dollar", "a$b", "a$b"),
    ("unclosed", "${env:LLMC_PATH", "${env:LLMC_PATH"),
    ("value-not-re-expanded", "${env:LLMC_NESTED}", "${env:LLMC_PATH}"),
]


@pytest.mark.parametrize(("raw", "expected"), [pytest.param(r, e, id=i) for i, r, e in SUBSTITUTION_CASES])
def test_substitution_in_string(tmp_path: Path, env: None, raw: str, expected: str) -> None:
    path = write(tmp_path, complete(f"exporters:\n  debug:\n  file:\n    path: '{raw}'\n"))
    assert config_of(load_config([str(path)]), E, "file").path == expected


def test_whole_value_substitution_yields_typed_values(tmp_path: Path, env: None) -> None:
    path = write(
        tmp_path,
        complete(
            D("""\
                receivers:
                  otlp:
                    protocols:
                      grpc:
                        max_recv_msg_size_mib: ${env:LLMC_N}
                        endpoint: 127.0.0.1:${env:LLMC_PORT}
                exporters:
                  debug:
                  file:
                    path: x
                    append: ${env:LLMC_TRUE}
                """)
        ),
    )
    cfg = load_config([str(path)])
    assert _grpc(cfg).max_recv_msg_size_mib == 32
    assert _grpc(cfg).endpoint == "127.0.0.1:4999"
    assert config_of(cfg, E, "file").append is True


def test_whole_value_substitution_type_errors_point_at_the_reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMC_SIZE", "big")
    path = write(tmp_path, complete("receivers:\n  otlp:\n    protocols:\n      grpc:\n        max_recv_msg_size_mib: ${env:LLMC_SIZE}\n"))
    assert errors_of([path]) == [f'{path}:5: receivers.otlp.protocols.grpc.max_recv_msg_size_mib: expected an integer, got "big"']


def test_substitution_from_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("/from/file.jsonl\n")
    path = write(tmp_path, complete(f"exporters:\n  debug:\n  file:\n    path: ${{file:{secret}}}\n"))
    assert config_of(load_config([str(path)]), E, "file").path == "/from/file.jsonl"


def test_substitution_errors(tmp_path: Path, env: None) -> None:
    missing = tmp_path / "missing.txt"
    path = write(
        tmp_path,
        complete(
            D(f"""\
                exporters:
                  debug:
                  file/a:
                    path: ${{env:1BAD}}
                  file/b:
                    path: out/${{env:BAD-NAME:-x}}.jsonl
                  file/c:
                    path: ${{vault:secret/path}}
                  file/d:
                    path: ${{file:{missing}}}
                service:
                  extensions:
                    - ${{env:}}
                  pipelines:
                    traces: {{receivers: [otlp], exporters: [debug]}}
                """)
        ),
    )
    assert errors_of([path]) == [
        f'{path}:4: exporters.file/a.path: invalid environment variable name "1BAD" in "${{env:1BAD}}" (expected [a-zA-Z_][a-zA-Z0-9_]*)',
        f'{path}:6: exporters.file/b.path: invalid environment variable name "BAD-NAME" in "${{env:BAD-NAME:-x}}" (expected [a-zA-Z_][a-zA-Z0-9_]*)',
        f'{path}:8: exporters.file/c.path: unsupported config provider "vault" in "${{vault:secret/path}}" (supported: env, file)',
        f'{path}:10: exporters.file/d.path: cannot read "{missing}" for "${{file:{missing}}}": No such file or directory',
        f'{path}:13: service.extensions[0]: invalid environment variable name "" in "${{env:}}" (expected [a-zA-Z_][a-zA-Z0-9_]*)',
    ]


# --------------------------------------------------------------------------------------------------
# Several --config files and --set.
# --------------------------------------------------------------------------------------------------

BASE = D("""\
    receivers:
      otlp:
        protocols:
          grpc:
            endpoint: 127.0.0.1:5317
          http:
    exporters:
      debug:
        verbosity: normal
      file/traces:
        path: base.jsonl
        append: true
    service:
      pipelines:
        traces: {receivers: [otlp], exporters: [debug, file/traces]}
    """)


def test_merge_maps_deep_lists_replace(tmp_path: Path) -> None:
    base = write(tmp_path, BASE, "base.yaml")
    override = write(
        tmp_path,
        D("""\
            receivers:
              otlp:
                protocols:
                  grpc:
                    max_recv_msg_size_mib: 64
            exporters:
              file/traces:
                path: override.jsonl
            service:
              pipelines:
                traces:
                  exporters: [file/traces]
                logs: {receivers: [otlp], exporters: [debug]}
            """),
        "override.yaml",
    )
    cfg = load_config([str(base), str(override)])
    grpc = _grpc(cfg)
    assert (grpc.endpoint, grpc.max_recv_msg_size_mib) == ("127.0.0.1:5317", 64)  # sibling keys survive
    assert _http(cfg) is not None  # a key only the base has survives
    file = config_of(cfg, E, "file/traces")
    assert (file.path, file.append, file.format) == ("override.jsonl", True, "json")  # replaced, kept, default
    assert config_of(cfg, E, "debug").verbosity == "normal"
    assert [str(e) for e in cfg.pipelines["traces"].exporters] == ["file/traces"]  # the list was replaced, not appended to
    assert [str(r) for r in cfg.pipelines["traces"].receivers] == ["otlp"]  # the map around it merged
    assert list(cfg.pipelines) == ["traces", "logs"]
    assert cfg.sources == [str(base), str(override)]


def test_merge_later_file_replaces_a_mapping_with_null(tmp_path: Path) -> None:
    base = write(tmp_path, BASE, "base.yaml")
    override = write(tmp_path, "exporters:\n  debug:\n", "override.yaml")
    cfg = load_config([str(base), str(override)])
    assert config_of(cfg, E, "debug").verbosity == "basic"


def test_merge_errors_point_at_the_file_that_supplied_the_value(tmp_path: Path) -> None:
    base = write(
        tmp_path,
        BASE.replace("verbosity: normal", "verbosity: loud") + "extensions:\n  health_check:\n    path: nope\n",
        "base.yaml",
    )
    override = write(
        tmp_path,
        D("""\
            # the override
            receivers:
              otlp:
                protocols:
                  grpc:
                    endpoint: not-an-endpoint
            extensions:
              health_check:
                path: /ok
            exporters:
              file/traces:
                flush_interval: soon
            service:
              pipelines:
                traces:
                  exporters: [debug, file/traces, missing]
            """),
        "override.yaml",
    )
    assert errors_of([base, override]) == [
        f'{override}:6: receivers.otlp.protocols.grpc.endpoint: expected an endpoint like "127.0.0.1:4317", got no :port',
        f'{base}:9: exporters.debug.verbosity: expected one of "basic", "normal", "detailed", got "loud"',
        f'{override}:12: exporters.file/traces.flush_interval: expected a duration like "200ms", got "soon"',
        f'{override}:16: service.pipelines.traces.exporters[2]: references exporter "missing" which is not configured',
    ]


def test_merge_replaced_list_errors_point_at_the_new_list(tmp_path: Path) -> None:
    """A stale location from the base's longer list must not survive the replacement."""
    base = write(tmp_path, BASE, "base.yaml")
    override = write(tmp_path, "service:\n  pipelines:\n    traces:\n      exporters: [nope]\n", "override.yaml")
    assert errors_of([base, override]) == [f'{override}:4: service.pipelines.traces.exporters[0]: references exporter "nope" which is not configured']


SET_CASES = [
    ("dot", "exporters.debug.verbosity=detailed", lambda c: config_of(c, E, "debug").verbosity, "detailed"),
    ("double-colon", "exporters::debug::verbosity=detailed", lambda c: config_of(c, E, "debug").verbosity, "detailed"),
    ("colon-value", "receivers::otlp::protocols::grpc::endpoint=127.0.0.1:6000", lambda c: _grpc(c).endpoint, "127.0.0.1:6000"),
    ("dot-value-with-colon", "receivers.otlp.protocols.grpc.endpoint=127.0.0.1:6001", lambda c: _grpc(c).endpoint, "127.0.0.1:6001"),
    ("slash-in-id", "exporters.file/traces.path=set.jsonl", lambda c: config_of(c, E, "file/traces").path, "set.jsonl"),
    ("int-typed", "receivers.otlp.protocols.grpc.max_recv_msg_size_mib=8", lambda c: _grpc(c).max_recv_msg_size_mib, 8),
    ("bool-typed", "exporters.file/traces.append=false", lambda c: config_of(c, E, "file/traces").append, False),
    ("duration", "service.shutdown_timeout=1m30s", lambda c: c.service.shutdown_timeout, 90.0),
    ("list-replaces", "service.pipelines.traces.exporters=[debug]", lambda c: [str(e) for e in c.pipelines["traces"].exporters], ["debug"]),
    ("new-component", "exporters.file/extra.path=extra.jsonl", lambda c: config_of(c, E, "file/extra").path, "extra.jsonl"),
    ("keeps-siblings", "exporters.file/traces.format=proto", lambda c: (config_of(c, E, "file/traces").path, config_of(c, E, "file/traces").format), ("base.jsonl", "proto")),
]


@pytest.mark.parametrize(("expr", "get", "expected"), [pytest.param(s, g, e, id=i) for i, s, g, e in SET_CASES])
def test_set_override(tmp_path: Path, expr: str, get: Callable[[Config], Any], expected: Any) -> None:
    base = write(tmp_path, BASE, "base.yaml")
    assert get(load_config([str(base)], [expr])) == expected


def test_set_applies_after_every_file_in_order(tmp_path: Path) -> None:
    base = write(tmp_path, BASE, "base.yaml")
    override = write(tmp_path, "exporters:\n  debug:\n    verbosity: basic\n", "override.yaml")
    cfg = load_config([str(base), str(override)], ["exporters.debug.verbosity=normal", "exporters.debug.verbosity=detailed"])
    assert config_of(cfg, E, "debug").verbosity == "detailed"


def test_set_substitutes_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMC_PORT", "7777")
    base = write(tmp_path, BASE, "base.yaml")
    cfg = load_config([str(base)], ["receivers.otlp.protocols.grpc.endpoint=127.0.0.1:${env:LLMC_PORT}"])
    assert _grpc(cfg).endpoint == "127.0.0.1:7777"


def test_set_errors_are_attributed_to_the_set(tmp_path: Path) -> None:
    base = write(tmp_path, BASE, "base.yaml")
    sets = [
        "exporters.debug.verbosity=loud",
        "receivers::otlp::protocols::grpc::endpoint=nowhere",
        "service.pipelines.traces.exporters=[debug, ghost]",
        "exporters.file/traces.path=",
        "exporters.debug.verbosty=basic",
    ]
    assert errors_of([base], sets) == [
        '--set receivers::otlp::protocols::grpc::endpoint=nowhere: receivers.otlp.protocols.grpc.endpoint: expected an endpoint like "127.0.0.1:4317", got no :port',
        '--set exporters.debug.verbosty=basic: exporters.debug.verbosty: unknown key (valid keys: verbosity, sampling_initial, sampling_thereafter, use_internal_logger, output_paths); did you mean "verbosity"?',
        '--set exporters.debug.verbosity=loud: exporters.debug.verbosity: expected one of "basic", "normal", "detailed", got "loud"',
        "--set exporters.file/traces.path=: exporters.file/traces.path: must name a file",
        '--set service.pipelines.traces.exporters=[debug, ghost]: service.pipelines.traces.exporters[1]: references exporter "ghost" which is not configured',
    ]


def test_malformed_set(tmp_path: Path) -> None:
    base = write(tmp_path, BASE, "base.yaml")
    assert errors_of([base], ["no-equals-sign", "=value", "exporters..debug=1", "exporters.debug.verbosity=${env:9}"]) == [
        '--set no-equals-sign: expected "key.path=value"',
        '--set =value: expected "key.path=value"',
        '--set exporters..debug=1: empty segment in key path "exporters..debug"',
        '--set exporters.debug.verbosity=${env:9}: exporters.debug.verbosity: invalid environment variable name "9" in "${env:9}" (expected [a-zA-Z_][a-zA-Z0-9_]*)',
    ]


# --------------------------------------------------------------------------------------------------
# Shipped configs.
# --------------------------------------------------------------------------------------------------


def test_embedded_default_is_the_repo_default() -> None:
    assert default_config_path().read_bytes() == (REPO / "config" / "default.yaml").read_bytes()


def test_embedded_default_is_valid_and_used_without_config() -> None:
    cfg = load_config()
    assert cfg.sources == [str(default_config_path())]
    assert list(cfg.pipelines) == ["traces", "logs", "metrics"]
    assert [str(e) for e in cfg.extensions] == ["health_check"]
    assert _grpc(cfg).endpoint == "127.0.0.1:4317"
    assert _http(cfg).endpoint == "127.0.0.1:4318"
    assert config_of(cfg, E, "file/traces").path == "./data/traces.jsonl"
    assert config_of(cfg, X, "health_check").endpoint == "127.0.0.1:13133"
    assert cfg.service.telemetry.metrics.address == "127.0.0.1:8888"


def test_embedded_default_reads_its_env_vars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_COLLECTOR_GRPC_ENDPOINT", "127.0.0.1:1")
    monkeypatch.setenv("LLM_COLLECTOR_HTTP_ENDPOINT", "127.0.0.1:2")
    monkeypatch.setenv("LLM_COLLECTOR_HEALTH_ENDPOINT", "127.0.0.1:3")
    monkeypatch.setenv("LLM_COLLECTOR_METRICS_ENDPOINT", "127.0.0.1:4")
    monkeypatch.setenv("LLM_COLLECTOR_DATA_DIR", "/tmp/llmc")
    monkeypatch.setenv("LLM_COLLECTOR_LOG_LEVEL", "debug")
    cfg = load_config()
    assert (_grpc(cfg).endpoint, _http(cfg).endpoint) == ("127.0.0.1:1", "127.0.0.1:2")
    assert config_of(cfg, X, "health_check").endpoint == "127.0.0.1:3"
    assert cfg.service.telemetry.metrics.address == "127.0.0.1:4"
    assert [config_of(cfg, E, f"file/{s}").path for s in ("traces", "logs", "metrics")] == [f"/tmp/llmc/{s}.jsonl" for s in ("traces", "logs", "metrics")]
    assert cfg.service.telemetry.logs.level == "debug"


def _yaml_files(folder: str) -> list[Path]:
    return sorted((REPO / folder).glob("*.yaml")) + sorted((REPO / folder).glob("*.yml"))


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(REPO)) for p in paths]


# config/prices.yaml is the cost processor's price-overrides example, not a collector config.
PRICE_FILES = [p for p in _yaml_files("config") if p.name == "prices.yaml"]
CONFIGS = [p for p in _yaml_files("config") if p not in PRICE_FILES]
FRAGMENTS = _yaml_files("pipelines")


@pytest.mark.parametrize("path", CONFIGS or [None], ids=_ids(CONFIGS) or ["none"])
def test_shipped_config_is_valid(path: Path | None) -> None:
    if path is None:
        pytest.skip("no YAML under config/")
    load_config([str(path)])


def test_shipped_price_overrides_file_is_valid() -> None:
    from collector.genai.prices import PriceBook

    assert PRICE_FILES, "config/prices.yaml is the documented example"
    for path in PRICE_FILES:
        PriceBook(str(path))


@pytest.mark.parametrize("path", FRAGMENTS or [None], ids=_ids(FRAGMENTS) or ["none"])
def test_pipeline_fragment_is_valid_over_the_default(path: Path | None) -> None:
    """As pipelines/README.md says to use them: `--config config/default.yaml --config pipelines/X.yaml`."""
    if path is None:
        pytest.skip("no YAML under pipelines/")
    load_config([str(REPO / "config" / "default.yaml"), str(path)])


def test_all_pipeline_fragments_together_over_the_default() -> None:
    if not FRAGMENTS:
        pytest.skip("no YAML under pipelines/")
    load_config([str(REPO / "config" / "default.yaml"), *map(str, FRAGMENTS)])
