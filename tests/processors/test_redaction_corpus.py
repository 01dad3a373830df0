"""The labelled Faker corpus through the running daemon: every prompt is put in one of the places data can hide
(span attributes, arrays, kvlists, JSON-string attributes with \\uXXXX escapes, events, links, resource, scope,
log bodies and attributes, metric data-point attributes), sent over OTLP/gRPC with `redaction` in the pipeline,
and the file exporter's bytes are checked: recall = the PII value is absent from every exported byte (raw and
JSON-escaped, and from every decoded string); survival = the look-alike is still there."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, InstrumentationScope, KeyValueList
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.metrics.v1 import metrics_pb2 as m
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from collector.testing import kv
from tests.conftest import daemon_yaml
from tests.pii.test_pii_corpus import report
from tests.pii_corpus import Item, generate

pytestmark = pytest.mark.slow

ITEMS = 1200

CONFIG = daemon_yaml("""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}", max_recv_msg_size_mib: 64}}
processors:
  redaction: {{detectors: {{}}, allow_all_keys: true}}
exporters:
  file/traces: {{path: "{data}/traces.jsonl"}}
  file/logs: {{path: "{data}/logs.jsonl"}}
  file/metrics: {{path: "{data}/metrics.jsonl"}}
""", """
traces: {{receivers: [otlp], processors: [redaction], exporters: [file/traces]}}
logs: {{receivers: [otlp], processors: [redaction], exporters: [file/logs]}}
metrics: {{receivers: [otlp], processors: [redaction], exporters: [file/metrics]}}
""")

LOCATIONS = (
    "span_attr", "span_array", "span_kvlist", "span_json", "span_event", "span_link", "resource", "scope",
    "log_body", "log_body_kvlist", "log_attr", "metric_point",
)  # fmt: skip


def s(text: str) -> AnyValue:
    return AnyValue(string_value=text)


def escaped_json(text: str) -> str:
    """gen_ai.input.messages as some SDKs write it: ASCII-only JSON, and '@', '.', '-' also as \\u escapes."""
    doc = json.dumps([{"role": "user", "content": text}], ensure_ascii=True)
    return doc.replace("@", "\\u0040").replace("-", "\\u002d")


def build(items: list[Item]) -> tuple[ExportTraceServiceRequest, ExportLogsServiceRequest, ExportMetricsServiceRequest]:
    traces, logs, metrics = ExportTraceServiceRequest(), ExportLogsServiceRequest(), ExportMetricsServiceRequest()
    for i, item in enumerate(items):
        where = LOCATIONS[i % len(LOCATIONS)]
        text = item.text
        tid, sid = (i + 1).to_bytes(16, "big"), (i + 1).to_bytes(8, "big")
        if where.startswith("span") or where in ("resource", "scope"):
            span = Span(trace_id=tid, span_id=sid, name="chat", start_time_unix_nano=1, end_time_unix_nano=2)
            rs = ResourceSpans()
            scope = InstrumentationScope(name="corpus")
            if where == "span_attr":
                span.attributes.append(kv("gen_ai.prompt", s(text)))
            elif where == "span_array":
                span.attributes.append(kv("llm.prompts", AnyValue(array_value=ArrayValue(values=[s("ok"), s(text)]))))
            elif where == "span_kvlist":
                inner = KeyValueList(values=[kv("msg", AnyValue(kvlist_value=KeyValueList(values=[kv("content", s(text))])))])
                span.attributes.append(kv("input", AnyValue(kvlist_value=inner)))
            elif where == "span_json":
                span.attributes.append(kv("gen_ai.input.messages", s(escaped_json(text))))
            elif where == "span_event":
                ev = span.events.add(name="gen_ai.user.message", time_unix_nano=1)
                ev.attributes.append(kv("content", s(text)))
            elif where == "span_link":
                link = span.links.add(trace_id=tid, span_id=sid)
                link.attributes.append(kv("note", s(text)))
            elif where == "resource":
                rs.resource.CopyFrom(Resource(attributes=[kv("deployment.note", s(text))]))
            else:
                scope.attributes.append(kv("scope.note", s(text)))
            rs.scope_spans.append(ScopeSpans(scope=scope, spans=[span]))
            traces.resource_spans.append(rs)
        elif where.startswith("log"):
            rec = LogRecord(time_unix_nano=1)
            if where == "log_body":
                rec.body.CopyFrom(s(text))
            elif where == "log_body_kvlist":
                rec.body.CopyFrom(AnyValue(kvlist_value=KeyValueList(values=[kv("prompt", s(text))])))
            else:
                rec.attributes.append(kv("gen_ai.completion", s(text)))
            logs.resource_logs.append(ResourceLogs(scope_logs=[ScopeLogs(log_records=[rec])]))
        else:
            point = m.NumberDataPoint(as_int=1, time_unix_nano=1, attributes=[kv("prompt", s(text))])
            metric = m.Metric(name="gen_ai.client.token.usage", sum=m.Sum(data_points=[point], aggregation_temporality=2))
            metrics.resource_metrics.append(m.ResourceMetrics(scope_metrics=[m.ScopeMetrics(metrics=[metric])]))
    return traces, logs, metrics


def strings(node: Any, out: list[str]) -> None:
    """Every string in an OTLP-JSON document, with JSON-string values decoded into their leaves too."""
    if isinstance(node, dict):
        for k, v in node.items():
            out.append(k)
            strings(v, out)
    elif isinstance(node, list):
        for v in node:
            strings(v, out)
    elif isinstance(node, str):
        out.append(node)
        if node[:1] in "[{":
            try:
                strings(json.loads(node), out)
            except ValueError:
                pass


def encodings(value: str) -> set[str]:
    once = json.dumps(value)[1:-1]
    return {value, once, json.dumps(value, ensure_ascii=False)[1:-1], json.dumps(once)[1:-1]}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Item], str, str]:
    from tests.conftest import Daemon

    items = generate(ITEMS, seed=4242)
    daemon = Daemon(tmp_path_factory.mktemp("redaction_corpus"), CONFIG).start()
    try:
        with grpc.insecure_channel(daemon.grpc_endpoint, options=[("grpc.max_send_message_length", 64 << 20)]) as ch:
            traces, logs, metrics = build(items)
            ch.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")(traces.SerializeToString(), timeout=60)
            ch.unary_unary("/opentelemetry.proto.collector.logs.v1.LogsService/Export")(logs.SerializeToString(), timeout=60)
            ch.unary_unary("/opentelemetry.proto.collector.metrics.v1.MetricsService/Export")(metrics.SerializeToString(), timeout=60)
    finally:
        assert daemon.stop() == 0, daemon.logs()[-3000:]
    raw = b"".join(Path(daemon.data, f).read_bytes() for f in ("traces.jsonl", "logs.jsonl", "metrics.jsonl"))
    decoded: list[str] = []
    for line in raw.splitlines():
        strings(json.loads(line), decoded)
    return items, raw.decode("utf-8"), "\n".join(decoded)


def test_every_item_was_exported(exported) -> None:
    items, raw, decoded = exported
    assert raw.count('"chat"') + raw.count("gen_ai.completion") + raw.count('"prompt"') >= len(items) * 0.9
    # The look-alike check would pass vacuously if nothing came out: the common opener text must be there.
    assert sum(1 for item in items if item.text.split(" ")[0] in decoded) == len(items)


def test_recall_and_survival_through_the_daemon(exported) -> None:
    items, raw, decoded = exported
    pii_total, pii_hit, look_total, look_kept = Counter(), Counter(), Counter(), Counter()
    misses = []
    for i, item in enumerate(items):
        where = LOCATIONS[i % len(LOCATIONS)]
        for det, value in item.pii:
            pii_total[det] += 1
            leaked = value in decoded or any(e in raw for e in encodings(value))
            if not leaked:
                pii_hit[det] += 1
            else:
                misses.append(f"LEAKED {det} {value!r} from {where}")
        for kind, value in item.lookalikes:
            look_total[kind] += 1
            if value in decoded:
                look_kept[kind] += 1
            else:
                misses.append(f"DESTROYED {kind} {value!r} in {where}")
    recall, survival = report(f"daemon redaction on {len(items)} prompts", pii_total, pii_hit, look_total, look_kept)
    for line in misses[:40]:
        print(line)
    assert recall >= 0.995
    assert survival >= 0.99
