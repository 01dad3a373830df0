"""redaction through the running daemon: every location data can hide in, every action, hash tokens that
are stable across spans and restarts, JSON values that stay JSON, an otelcol block pasted unchanged, the
metrics, and no exporter (file json, file proto, OTLP to a second daemon) ever seeing a raw value."""

from __future__ import annotations

import json
import re
import struct
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.metrics.v1 import metrics_pb2 as m
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from collector import otlpjson
from collector.component import Signal
from tests.conftest import Daemon, daemon_yaml

pytestmark = pytest.mark.slow

# Synthetic but checksum-valid: the detectors only take values whose check digits are right.
EMAIL = "maria.silva@example.com"
EMAIL2 = "joao.santos@example.org"
CARD = "4111 1111 1111 1111"
CPF = "529.982.247-25"
PHONE = "+55 11 98765-4321"
SSN = "123-45-6789"
AWS = "AKIAIOSFODNN7EXAMPLE"
IBAN = "DE89 3704 0044 0532 0130 00"
GITHUB = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
RAW_VALUES = [EMAIL, EMAIL2, CARD, CPF, PHONE, SSN, AWS, IBAN, GITHUB, "4111111111111111", "52998224725", "98765-4321"]
# Look-alikes that must survive.
SURVIVORS = ["order A1234567", "2024-05-01", "$1,234.56", "5b8efff798038103d269b633813fc60c", "gpt-4o-mini-2024-07-18",
             "4111 1111 1111 1112"]
HASH_KEY = "k3y-for-tests-0123456789abcdef"

PROCESSORS = """
processors:
  redaction:
    allow_all_keys: true
    summary: debug
    redact_span_names: true
    redact_all_types: true
    hash_key: ${{env:REDACTION_HASH_KEY}}
    detectors:
      card: {{action: partial}}
      us_ssn: {{action: drop_attribute}}
      aws_access_key: {{action: hash}}
      iban: {{placeholder: "[iban removed]"}}
"""

CONFIG = daemon_yaml("""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
""" + PROCESSORS + """
exporters:
  file/traces: {{path: "{data}/traces.jsonl"}}
  file/traces_proto: {{path: "{data}/traces.pb", format: proto}}
  file/logs: {{path: "{data}/logs.jsonl"}}
  file/logs_proto: {{path: "{data}/logs.pb", format: proto}}
  file/metrics: {{path: "{data}/metrics.jsonl"}}
  file/metrics_proto: {{path: "{data}/metrics.pb", format: proto}}
""", """
traces: {{receivers: [otlp], processors: [redaction], exporters: [file/traces, file/traces_proto]}}
logs: {{receivers: [otlp], processors: [redaction], exporters: [file/logs, file/logs_proto]}}
metrics: {{receivers: [otlp], processors: [redaction], exporters: [file/metrics, file/metrics_proto]}}
""")

METHODS = {
    Signal.TRACES: "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    Signal.LOGS: "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    Signal.METRICS: "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
}


# ------------------------------------------------------------------------------------------------ builders


def with_detectors(data: dict[str, Any]) -> dict[str, Any]:
    """A redaction config with the built-in detectors on (`detectors: {}` unless it names its own) and, unless
    it has a key list, every key kept (`allow_all_keys: true`): what `{}` meant before otelcol's defaults
    (no detectors, every attribute removed) became the processor's."""
    out = dict(data)
    out.setdefault("detectors", {})
    if "allowed_keys" not in out and "allow_all_keys" not in out:
        out["allow_all_keys"] = True
    return out


def llm_config() -> Any:
    """`with_detectors({})` as a RedactionConfig."""
    from collector.processors.redaction import Detectors, RedactionConfig

    return RedactionConfig(detectors=Detectors(), allow_all_keys=True)

def value(v: Any) -> AnyValue:
    if isinstance(v, str):
        return AnyValue(string_value=v)
    if isinstance(v, bool):
        return AnyValue(bool_value=v)
    if isinstance(v, int):
        return AnyValue(int_value=v)
    if isinstance(v, float):
        return AnyValue(double_value=v)
    if isinstance(v, list):
        return AnyValue(array_value=ArrayValue(values=[value(x) for x in v]))
    return AnyValue(kvlist_value=KeyValueList(values=attrs(v)))


def attrs(d: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=k, value=value(v)) for k, v in d.items()]


def plain(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [plain(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: plain(kv.value) for kv in v.kvlist_value.values}
    return getattr(v, kind) if kind else None


def as_dict(kvs: Any) -> dict[str, Any]:
    return {kv.key: plain(kv.value) for kv in kvs}


def send(daemon: Daemon, signal: Signal, request: Any) -> None:
    with grpc.insecure_channel(daemon.grpc_endpoint) as channel:
        channel.unary_unary(METHODS[signal])(request.SerializeToString(), timeout=30)


def read_json(path: Path, signal: Signal) -> list[Any]:
    return [otlpjson.decode(signal, line) for line in path.read_bytes().splitlines() if line.strip()]


def read_proto(path: Path, signal: Signal) -> list[Any]:
    from collector.pdata import REQUEST_TYPES

    out, data, pos = [], path.read_bytes(), 0
    while pos < len(data):
        (size,) = struct.unpack(">I", data[pos:pos + 4])
        out.append(REQUEST_TYPES[signal].FromString(data[pos + 4:pos + 4 + size]))
        pos += 4 + size
    return out


def assert_no_raw_pii(raw: bytes) -> None:
    """The bytes an exporter wrote contain none of the sent values, in any spelling a reader could decode."""
    for secret in RAW_VALUES:
        for spelling in {secret, secret.replace("@", "\\u0040"), json.dumps(secret)[1:-1]}:
            assert spelling.encode() not in raw, f"{secret!r} leaked"


MESSAGES = [
    {"role": "system", "parts": [{"type": "text", "content": "You are a support agent."}]},
    {"role": "user", "parts": [{"type": "text", "content": f"Hi, I am Maria ({EMAIL}).\nMy card is\n{CARD} and CPF {CPF}."}]},
]


def trace_request() -> ExportTraceServiceRequest:
    escaped = json.dumps({"messages": [{"role": "user", "content": f"write to {EMAIL2}"}]}).replace("@", "\\u0040")
    span = Span(
        trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name=f"lookup {EMAIL}",
        status=Status(code=Status.STATUS_CODE_ERROR, message=f"customer {EMAIL2} not found"),
        attributes=attrs({
            "case": "main",
            "gen_ai.prompt": f"Call me at {PHONE} or mail {EMAIL}; order A1234567 on 2024-05-01 costs $1,234.56",
            "gen_ai.input.messages": json.dumps(MESSAGES),
            "input.value": escaped,
            "mlflow.spanInputs": json.dumps({EMAIL2: "key that is an address", "n": 4111111111111111}),
            "user.ssn": f"ssn {SSN}",
            "cloud.key": f"aws {AWS}",
            "bank.iban": IBAN,
            "tags": ["ok", f"cpf {CPF}", {"nested": {"deeper": f"mail {EMAIL}"}}],
            "profile": {"contact": {"email": EMAIL, "trace": "5b8efff798038103d269b633813fc60c"}},
            "payment.card_number": 4111111111111111,
            "lookalikes": "model gpt-4o-mini-2024-07-18, ticket 4111 1111 1111 1112",
            "tool.token": GITHUB,
        }),
        events=[Span.Event(name="user_message", attributes=attrs({"text": f"my email is {EMAIL}"}))],
        links=[Span.Link(trace_id=b"\x03" * 16, span_id=b"\x04" * 8, attributes=attrs({"origin": f"forwarded by {EMAIL2}"}))],
    )
    twin = Span(trace_id=b"\x05" * 16, span_id=b"\x06" * 8, name="second", attributes=attrs({"case": "twin", "cloud.key": AWS}))
    return ExportTraceServiceRequest(resource_spans=[ResourceSpans(
        resource=Resource(attributes=attrs({"service.name": "support-bot", "deployment.owner": EMAIL})),
        scope_spans=[ScopeSpans(scope=InstrumentationScope(name="app", attributes=attrs({"scope.owner": EMAIL2})), spans=[span, twin])],
    )])


def log_request() -> ExportLogsServiceRequest:
    records = [
        LogRecord(body=AnyValue(string_value=f"password reset for {EMAIL}, card {CARD}"), attributes=attrs({"case": "string"})),
        LogRecord(body=value({"user": {"email": EMAIL, "cpf": CPF}, "msg": "ok", "items": [f"phone {PHONE}"]}), attributes=attrs({"case": "map"})),
        LogRecord(body=AnyValue(string_value=json.dumps({"prompt": f"my card {CARD}"})), attributes=attrs({"case": "json", "user.email": EMAIL})),
    ]
    return ExportLogsServiceRequest(resource_logs=[ResourceLogs(resource=Resource(attributes=attrs({"service.name": "api"})),
                                                                scope_logs=[ScopeLogs(log_records=records)])])


def metric_request() -> ExportMetricsServiceRequest:
    point = attrs({"user.email": EMAIL, "route": "/v1/chat"})
    exemplar = [m.Exemplar(as_double=1.0, time_unix_nano=1, filtered_attributes=attrs({"user.cpf": CPF}))]
    metrics = [
        m.Metric(name="g", gauge=m.Gauge(data_points=[m.NumberDataPoint(as_int=1, attributes=point, exemplars=exemplar)])),
        m.Metric(name="s", sum=m.Sum(data_points=[m.NumberDataPoint(as_double=1.5, attributes=point)], aggregation_temporality=2)),
        m.Metric(name="h", histogram=m.Histogram(data_points=[m.HistogramDataPoint(count=1, sum=1.0, attributes=point, exemplars=exemplar)], aggregation_temporality=2)),
        m.Metric(name="e", exponential_histogram=m.ExponentialHistogram(data_points=[m.ExponentialHistogramDataPoint(count=1, attributes=point)], aggregation_temporality=2)),
        m.Metric(name="q", summary=m.Summary(data_points=[m.SummaryDataPoint(count=1, sum=2.0, attributes=point)])),
    ]
    return ExportMetricsServiceRequest(resource_metrics=[m.ResourceMetrics(
        resource=Resource(attributes=attrs({"service.name": "api", "owner": EMAIL2})),
        scope_metrics=[m.ScopeMetrics(metrics=metrics)])])


# ------------------------------------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("redaction")
    daemon = Daemon(root, CONFIG, env={"REDACTION_HASH_KEY": HASH_KEY}).start()
    send(daemon, Signal.TRACES, trace_request())
    send(daemon, Signal.LOGS, log_request())
    send(daemon, Signal.METRICS, metric_request())
    metrics = daemon.metrics()
    assert daemon.stop() == 0
    data = daemon.data
    return {"data": data, "metrics": metrics, "logs": daemon.logs()}


def spans_by_name(run: dict[str, Any], fmt: str = "json") -> dict[str, Span]:
    requests = read_json(run["data"] / "traces.jsonl", Signal.TRACES) if fmt == "json" else read_proto(run["data"] / "traces.pb", Signal.TRACES)
    out = {}
    for req in requests:
        for rs in req.resource_spans:
            for ss in rs.scope_spans:
                for s in ss.spans:
                    out[as_dict(s.attributes)["case"]] = (s, rs, ss)
    return out


# ------------------------------------------------------------------------------------------------ tests

@pytest.mark.parametrize("name", ["traces.jsonl", "traces.pb", "logs.jsonl", "logs.pb", "metrics.jsonl", "metrics.pb"])
def test_no_exported_byte_holds_a_raw_value(run: dict[str, Any], name: str) -> None:
    raw = (run["data"] / name).read_bytes()
    assert raw
    assert_no_raw_pii(raw)


def test_span_attributes_masked_where_the_match_is(run: dict[str, Any]) -> None:
    span, _, _ = spans_by_name(run)["main"]
    a = as_dict(span.attributes)
    assert a["gen_ai.prompt"] == "Call me at <PHONE> or mail <EMAIL>; order A1234567 on 2024-05-01 costs $1,234.56"
    assert a["bank.iban"] == "[iban removed]"
    assert a["lookalikes"] == "model gpt-4o-mini-2024-07-18, ticket 4111 1111 1111 1112"  # fails Luhn: survives
    assert a["tool.token"] == "<GITHUB_TOKEN>"


def test_arrays_and_kvlists_recursively(run: dict[str, Any]) -> None:
    a = as_dict(spans_by_name(run)["main"][0].attributes)
    assert a["tags"] == ["ok", "cpf <CPF>", {"nested": {"deeper": "mail <EMAIL>"}}]
    assert a["profile"] == {"contact": {"email": "<EMAIL>", "trace": "5b8efff798038103d269b633813fc60c"}}


def test_json_values_stay_valid_json_and_escaped_pii_is_found(run: dict[str, Any]) -> None:
    a = as_dict(spans_by_name(run)["main"][0].attributes)
    messages = json.loads(a["gen_ai.input.messages"])
    assert messages[1]["parts"][0]["content"] == "Hi, I am Maria (<EMAIL>).\nMy card is\n**** **** **** 1111 and CPF <CPF>."
    assert messages[0] == MESSAGES[0]
    assert json.loads(a["input.value"]) == {"messages": [{"role": "user", "content": "write to <EMAIL>"}]}
    # Object keys are scanned too, and a number in JSON is scanned as its digits.
    assert json.loads(a["mlflow.spanInputs"]) == {"<EMAIL>": "key that is an address", "n": "************1111"}


def test_partial_keeps_the_last_four_digits_and_drop_removes_the_attribute(run: dict[str, Any]) -> None:
    a = as_dict(spans_by_name(run)["main"][0].attributes)
    assert "user.ssn" not in a
    # redact_all_types: the int card number is scanned as its digits and becomes a string.
    assert a["payment.card_number"] == "************1111"
    assert "user.ssn" in a["redaction.redacted.keys"].split(",")


def test_hash_tokens_are_stable_across_spans(run: dict[str, Any]) -> None:
    spans = spans_by_name(run)
    main = as_dict(spans["main"][0].attributes)["cloud.key"]
    twin = as_dict(spans["twin"][0].attributes)["cloud.key"]
    token = re.fullmatch(r"aws (<AWS_ACCESS_KEY:[0-9a-f]{16}>)", main)
    assert token is not None, main
    assert twin == token.group(1)


def test_events_links_names_status_resource_and_scope(run: dict[str, Any]) -> None:
    span, rs, ss = spans_by_name(run)["main"]
    assert span.name == "lookup <EMAIL>"
    assert span.status.message == "customer <EMAIL> not found"
    assert as_dict(span.events[0].attributes)["text"] == "my email is <EMAIL>"
    assert as_dict(span.links[0].attributes)["origin"] == "forwarded by <EMAIL>"
    resource = as_dict(rs.resource.attributes)
    assert resource["deployment.owner"] == "<EMAIL>" and resource["service.name"] == "support-bot"
    assert resource["redaction.masked.count"] == 1
    assert as_dict(ss.scope.attributes)["scope.owner"] == "<EMAIL>"
    assert as_dict(span.events[0].attributes)["redaction.masked.email.count"] == 1


def test_summary_at_debug_names_keys_and_counts_per_detector(run: dict[str, Any]) -> None:
    a = as_dict(spans_by_name(run)["main"][0].attributes)
    masked = a["redaction.masked.keys"].split(",")
    assert masked == sorted(masked)
    assert {"gen_ai.prompt", "gen_ai.input.messages", "input.value", "mlflow.spanInputs", "tags", "profile", "span.name",
            "status.message", "cloud.key", "bank.iban", "payment.card_number", "tool.token"} == set(masked)
    assert a["redaction.masked.count"] == len(masked)
    assert a["redaction.redacted.count"] == 1
    assert a["redaction.masked.email.count"] >= 5
    assert a["redaction.masked.card.count"] == 3  # the message, the int attribute, the JSON number
    assert "lookalikes" not in masked


def test_proto_output_matches_json_output(run: dict[str, Any]) -> None:
    as_json = {k: as_dict(v[0].attributes) for k, v in spans_by_name(run, "json").items()}
    as_proto = {k: as_dict(v[0].attributes) for k, v in spans_by_name(run, "proto").items()}
    assert as_json == as_proto


def test_log_bodies_string_structured_and_json(run: dict[str, Any]) -> None:
    records = {}
    for req in read_json(run["data"] / "logs.jsonl", Signal.LOGS):
        for rl in req.resource_logs:
            for sl in rl.scope_logs:
                for r in sl.log_records:
                    records[as_dict(r.attributes)["case"]] = r
    assert plain(records["string"].body) == "password reset for <EMAIL>, card **** **** **** 1111"
    assert plain(records["map"].body) == {"user": {"email": "<EMAIL>", "cpf": "<CPF>"}, "msg": "ok", "items": ["phone <PHONE>"]}
    assert json.loads(plain(records["json"].body)) == {"prompt": "my card **** **** **** 1111"}
    a = as_dict(records["map"].attributes)
    assert a["redaction.body.masked.keys"] == "items.[0],user.cpf,user.email"  # otelcol's body summary names
    assert a["redaction.body.masked.count"] == 3
    j = as_dict(records["json"].attributes)
    assert j["user.email"] == "<EMAIL>" and j["redaction.masked.count"] == 1 and j["redaction.body.masked.count"] == 1


def test_metric_data_points_of_every_type_and_exemplars(run: dict[str, Any]) -> None:
    seen = set()
    for req in read_json(run["data"] / "metrics.jsonl", Signal.METRICS):
        for rm in req.resource_metrics:
            assert as_dict(rm.resource.attributes)["owner"] == "<EMAIL>"
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    kind = metric.WhichOneof("data")
                    for point in getattr(metric, kind).data_points:
                        a = as_dict(point.attributes)
                        assert a["user.email"] == "<EMAIL>" and a["route"] == "/v1/chat"
                        for exemplar in getattr(point, "exemplars", ()):
                            assert as_dict(exemplar.filtered_attributes)["user.cpf"] == "<CPF>"
                            assert a["redaction.masked.cpf.count"] == 1  # reported on the point
                        seen.add(kind)
    assert seen == {"gauge", "sum", "histogram", "exponential_histogram", "summary"}


def test_metrics_on_the_self_metrics_endpoint(run: dict[str, Any]) -> None:
    text = run["metrics"]

    def sample(name: str, **labels: str) -> float:
        for line in text.splitlines():
            if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
        raise AssertionError(f"{name}{labels} not in metrics")

    assert sample("redaction_matches_total", processor="redaction", detector="email") >= 10
    assert sample("redaction_matches_total", processor="redaction", detector="cpf") >= 3
    assert sample("redaction_values_scanned_total", processor="redaction") > 20
    assert sample("redaction_scanned_characters_total", processor="redaction") > 500
    assert "redaction_errors_total" in text


def test_hash_key_never_in_logs(run: dict[str, Any]) -> None:
    assert HASH_KEY not in run["logs"]


# ------------------------------------------------------------------------------------------ restart, otelcol

HASH_ONLY = daemon_yaml("""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
processors:
  redaction:
    detectors: {{email: {{action: hash}}}}
    allow_all_keys: true
    hash_key: ${{env:REDACTION_HASH_KEY}}
exporters:
  file/traces: {{path: "{data}/traces.jsonl"}}
""", """
traces: {{receivers: [otlp], processors: [redaction], exporters: [file/traces]}}
""")


def _token_after_run(daemon_factory: Any, key: str, subdir: str) -> str:
    daemon = daemon_factory(HASH_ONLY, subdir=subdir, env={"REDACTION_HASH_KEY": key})
    request = ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[
        Span(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="x", attributes=attrs({"user": EMAIL}))])])])
    send(daemon, Signal.TRACES, request)
    assert daemon.stop() == 0
    raw = (daemon.data / "traces.jsonl").read_bytes()
    assert EMAIL.encode() not in raw
    (req,) = read_json(daemon.data / "traces.jsonl", Signal.TRACES)
    return as_dict(req.resource_spans[0].scope_spans[0].spans[0].attributes)["user"]


def test_hash_is_stable_across_restarts_with_the_same_key(daemon_factory: Any) -> None:
    first = _token_after_run(daemon_factory, HASH_KEY, "first")
    second = _token_after_run(daemon_factory, HASH_KEY, "second")
    other = _token_after_run(daemon_factory, "another-key-of-enough-length", "other")
    assert re.fullmatch(r"<EMAIL:[0-9a-f]{16}>", first)
    assert first == second
    assert other != first


OTELCOL_BLOCK = """
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
processors:
  redaction:
    # `detectors: {{}}`: otelcol's keys in the detectors' engine, every built-in on (the pure otelcol
    # block, without it, is tests/processors/test_redaction_otelcol.py's).
    detectors: {{}}
    allow_all_keys: false
    allowed_keys: [description, group, id, name, notes, access_token, case]
    ignored_keys: [safe_attribute]
    blocked_key_patterns: [".*token.*", ".*api_key.*"]
    blocked_values:
      - "4[0-9]{{12}}(?:[0-9]{{3}})?"   ## Visa credit card number
      - "(5[1-5][0-9]{{14}})"           ## MasterCard number
    allowed_values: [".+@mycompany.com"]
    summary: debug
exporters:
  file/traces: {{path: "{data}/traces.jsonl"}}
extensions:
  health_check: {{endpoint: "127.0.0.1:{health}"}}
service:
  extensions: [health_check]
  pipelines:
    traces: {{receivers: [otlp], processors: [redaction], exporters: [file/traces]}}
"""


def test_an_otelcol_block_in_the_detectors_engine_keeps_otelcols_key_rules(daemon_factory: Any) -> None:
    daemon = daemon_factory(OTELCOL_BLOCK)
    span = Span(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="op", attributes=attrs({
        "case": "otelcol",
        "description": "visa 4111111111111111 and mastercard 5500000000000004",
        "name": "bob@mycompany.com",
        "notes": "nothing to see",
        "access_token": "abc123",
        "secret_stuff": "removed because it is not allowed",
        "safe_attribute": "4111111111111111",
        "group": 42,
    }))
    request = ExportTraceServiceRequest(resource_spans=[ResourceSpans(
        resource=Resource(attributes=attrs({"service.name": "svc"})), scope_spans=[ScopeSpans(spans=[span])])])
    send(daemon, Signal.TRACES, request)
    assert daemon.stop() == 0
    (req,) = read_json(daemon.data / "traces.jsonl", Signal.TRACES)
    rs = req.resource_spans[0]
    a = as_dict(rs.scope_spans[0].spans[0].attributes)
    assert a == {
        "case": "otelcol",
        "description": "visa **** and mastercard ****",
        "name": "bob@mycompany.com",
        "notes": "nothing to see",
        "access_token": "****",
        "safe_attribute": "4111111111111111",
        "group": 42,
        "redaction.redacted.keys": "secret_stuff",
        "redaction.redacted.count": 1,
        "redaction.masked.keys": "access_token,description",
        "redaction.masked.count": 2,
        "redaction.masked.blocked_value_0.count": 1,
        "redaction.masked.blocked_value_1.count": 1,
        "redaction.allowed.keys": "name",
        "redaction.allowed.count": 1,
        "redaction.ignored.count": 1,
    }
    # Fail closed on resources too: service.name is not an allowed key.
    assert as_dict(rs.resource.attributes) == {"redaction.redacted.keys": "service.name", "redaction.redacted.count": 1}


def test_otlp_exporter_never_receives_a_raw_value(daemon_factory: Any) -> None:
    from tests.conftest import BASIC_CONFIG

    sink = daemon_factory(BASIC_CONFIG, subdir="sink")
    forward = CONFIG.replace("exporters:\n", f'exporters:\n  otlp: {{{{endpoint: "http://{sink.grpc_endpoint}"}}}}\n', 1)
    forward = forward.replace("exporters: [file/traces, file/traces_proto]", "exporters: [otlp]")
    front = daemon_factory(forward, subdir="front", env={"REDACTION_HASH_KEY": HASH_KEY})
    send(front, Signal.TRACES, trace_request())
    deadline = time.monotonic() + 20
    path = sink.data / "traces.jsonl"
    while time.monotonic() < deadline and not (path.exists() and b"<EMAIL>" in path.read_bytes()):
        time.sleep(0.1)
    assert front.stop() == 0
    assert sink.stop() == 0
    raw = path.read_bytes()
    assert b"<EMAIL>" in raw and b"<CPF>" in raw
    assert_no_raw_pii(raw)


def test_bad_config_names_file_line_and_key(daemon_factory: Any) -> None:
    bad = """
receivers:
  otlp: {{protocols: {{grpc: {{endpoint: "127.0.0.1:{grpc}"}}}}}}
processors:
  redaction:
    detectors:
      emial: {{action: mask}}
      phone: {{action: partial}}
    blocked_values: ["(unclosed"]
    hash_function: hmac-sha256
exporters:
  file/traces: {{path: "{data}/traces.jsonl"}}
service:
  pipelines:
    traces: {{receivers: [otlp], processors: [redaction], exporters: [file/traces]}}
"""
    daemon = daemon_factory(bad, start=False)
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "collector.cli", "validate", "--config", str(daemon.config_path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    out = result.stdout + result.stderr
    assert 'config.yaml:7: processors.redaction.detectors.emial: unknown detector \'emial\'' in out and 'did you mean "email"' in out
    assert "processors.redaction.detectors.phone.action" in out and "only for the card detector" in out
    assert "processors.redaction.blocked_values[0].pattern" in out and "missing )" in out
