"""Writes the seed corpus (fuzz/corpus/<target>/seed-*) from real requests: the load generator's LLM traffic
(traces and logs, usage reported and missing, with PII), the GenAI fixtures recorded from real
instrumentation libraries (tests/fixtures/genai/), a metrics request, spans after token_count and cost, and
an edge request with every value kind. The redaction prefilter's own hits go with the locate and json_tokens
seeds. Fixed seeds, so a rerun writes the same files; inputs kept for a fixed bug (regression-*) are left
alone.

    python -m fuzz.seeds
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from collector import otlpjson
from collector.component import Signal
from collector.envelope import Envelope
from collector.processors.redaction import Detectors, RedactionConfig, build_redactor
from collector.testing import any_value, build_chain, kv, traces_request
from collector.tools.loadgen import build_templates
from collector.wire import spans as wire_spans
from collector.wire.encode import varint
from fuzz import (
    _harness,
    fuzz_attribute_values,
    fuzz_count_walk,
    fuzz_fnv1a64,
    fuzz_json_tokens,
    fuzz_locate,
    fuzz_number_sum,
    fuzz_unknown_fields,
)
from fuzz._pii_texts import encode as encode_text

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "genai"
NOW = 1_750_000_000_000_000_000  # the load generator's clock, fixed so that a rerun writes the same bytes
KEYS = ["gen_ai.usage.cost", "gen_ai.request.model", "gen_ai.usage.input_tokens", "openinference.span.kind", "input.value", "ключ"]


def loadgen_traces() -> list[bytes]:
    out = []
    for seed, usage in ((1, "reported"), (2, "missing"), (3, "reported")):
        out += [t.payload for t in build_templates(batch_size=3, count=2, seed=seed, now_ns=NOW, usage=usage, pii_share=0.5)]
    return out


def fixture_traces() -> list[bytes]:
    wanted = ("openinference-usage", "openinference-error", "openllmetry-usage", "openllmetry-stream-no-usage", "otel-genai-usage", "otel-genai-tools")
    return [otlpjson.decode("traces", line).SerializeToString() for name in wanted for line in (FIXTURES / f"{name}.jsonl").read_bytes().splitlines()[:1]]


def edge_traces() -> bytes:
    values: list[Any] = ["", "quote \" backslash \\ tab \t newline \n", "".join(chr(c) for c in range(32)), "olá 日本 \U0001f600", 0, -1,
                         2**63 - 1, -(2**63), -0.0, 1e-7, 5e-324, math.nan, math.inf, True, b"\x00\xff", [1, "a", [2.5]], {"nested": {"deep": [True, b"x"]}}]
    attributes = [kv(f"k{i}", v) for i, v in enumerate(values)] + [kv("no value"), kv("gen_ai.usage.cost", 0.25), kv("ключ", "значение")]
    full = Span(trace_id=bytes(range(16)), span_id=b"\x00\x01\x02\x03\xfe\xff\x10\x20", trace_state="k=v", parent_span_id=b"\x09" * 8, flags=0x301,
                name="full \u00e9", kind=3, start_time_unix_nano=2**64 - 1, end_time_unix_nano=1, attributes=attributes, dropped_attributes_count=2,
                status=Status(code=2, message="boom\n"), events=[Span.Event(time_unix_nano=5, name="e", attributes=attributes[:4]), Span.Event()],
                links=[Span.Link(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, attributes=attributes[4:6], flags=1)])
    request = traces_request(full, Span(name="bare"), resource={"service.name": "edge", "n": 3}, scope="lib")
    request.resource_spans[0].scope_spans[0].scope.version = "1.0"
    request.resource_spans[0].schema_url = "https://schema/1"
    return request.SerializeToString()


def metrics_request() -> bytes:
    point = NumberDataPoint(time_unix_nano=1, as_double=0.5, attributes=[kv("user.email", "ada@example.com")])
    metric = Metric(name="llm.tokens", unit="1", gauge=Gauge(data_points=[point, NumberDataPoint(as_int=7)]))
    rm = ResourceMetrics(resource={"attributes": [kv("service.name", "svc")]}, scope_metrics=[ScopeMetrics(metrics=[metric, metric])])
    return ExportMetricsServiceRequest(resource_metrics=[rm]).SerializeToString()


def costed_spans() -> list[bytes]:
    """Spans of whole traces after token_count and cost, as tail_sampling holds them."""

    async def run() -> list[ExportTraceServiceRequest]:
        chain = await build_chain(["token_count", "cost"])
        requests = [ExportTraceServiceRequest.FromString(t.payload) for t in build_templates(batch_size=4, count=3, seed=5, now_ns=NOW, usage="missing")]
        for request in requests:
            await chain.head.consume(Envelope(Signal.TRACES, request))
        await chain.shutdown()
        return requests

    return [span for request in asyncio.run(run()) for _, _, scopes in wire_spans.cut(request) for _, _, spans in scopes for span in spans]


def json_documents(traces: list[bytes]) -> list[bytes]:
    """JSON texts as redaction lexes them: GenAI message values, an OTLP-JSON request, escapes."""
    out = []
    for payload in traces[:3]:
        for rs in ExportTraceServiceRequest.FromString(payload).resource_spans:
            for span in (s for ss in rs.scope_spans for s in ss.spans):
                out += [a.value.string_value.encode() for a in span.attributes if a.value.string_value.startswith(("[", "{"))][:2]
    out.append(otlpjson.encode_traces(ExportTraceServiceRequest.FromString(traces[0])))
    out.append(json.dumps({"a\"b": ["x\\", "\\\"", 12345678, -7654321, 1.5e10], "e": "ada@example.com", "é": {"k": None}}, ensure_ascii=False).encode())
    out.append(json.dumps([{"role": "user", "content": "call +1 415 555 0100 or mail bob@example.org"}], indent=1).encode())
    return [doc for doc in out if len(doc) <= 6000]


# Values the detectors' edges are about: brackets, quotes, escapes, labels, wide characters.
EDGE_TEXTS = ("Maria ((11) 98765-4321) ou maria.silva@uol.com.br", "John (555-123-4567); CPF 529.982.247-25",
              '{"card":"4111 1111 1111 1111","iban":"DE89370400440532013000"}', "ssn: 123-45-6789 / ip 10.0.0.1",
              "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "olá 日本 😀 ana@example.com")


def pii_texts(traces: list[bytes]) -> list[str]:
    """The loadgen prompts that carry PII or secrets, and the edge values."""
    out: list[str] = []
    for payload in traces:
        for rs in ExportTraceServiceRequest.FromString(payload).resource_spans:
            for span in (s for ss in rs.scope_spans for s in ss.spans):
                out += [a.value.string_value for a in span.attributes if "@" in a.value.string_value and len(a.value.string_value) < 3000]
    return sorted(set(out))[:10] + list(EDGE_TEXTS)


def with_unknown_field(payload: bytes) -> bytes:
    """The request with an e-mail in a field number no OTLP message has (50), as a newer SDK might send."""
    value = b"ada@example.com"
    return payload + varint(50 << 3 | 2) + varint(len(value)) + value


def with_hits(data: bytes) -> list[tuple[int, int]]:
    redactor, _ = build_redactor(RedactionConfig(detectors=Detectors(), allow_all_keys=True))
    starts, ends = redactor._wire_hits(data)
    return list(zip(starts, ends, strict=True))[:64] or [(0, min(len(data), 8))]


def seeds() -> Iterator[tuple[str, bytes]]:
    """(target, input) for every seed."""
    traces = loadgen_traces()
    logs = [t.payload for t in build_templates(signal_name="logs", batch_size=3, count=2, seed=4, now_ns=NOW, pii_share=0.5)]
    requests = traces + fixture_traces() + [edge_traces()]
    for layout, payloads in ((0, traces[:4] + [edge_traces()]), (1, logs), (2, [metrics_request()])):
        for payload in payloads:
            yield "locate", fuzz_locate.encode(layout, with_hits(payload), payload)
    for doc in json_documents(traces):
        yield "json_tokens", fuzz_json_tokens.encode(with_hits(doc), doc)
    costed = costed_spans()
    for i, span in enumerate(costed[:12]):
        yield "attribute_values", fuzz_attribute_values.encode(KEYS[i % len(KEYS)].encode(), span)
    for i in range(0, 12, 4):
        yield "number_sum", fuzz_number_sum.encode(b"gen_ai.usage.cost", costed[i:i + fuzz_number_sum.SPANS])
    salted = wire_spans.fnv1a64(b"default-hash-seed")
    for span in costed[:4]:
        yield "fnv1a64", fuzz_fnv1a64.encode(salted, Span.FromString(span).trace_id)
    yield "fnv1a64", fuzz_fnv1a64.encode(wire_spans.FNV_OFFSET, b"")
    for payload in requests:
        yield "genai_attributes", payload
        yield "otlp_json_traces", payload
    logs_and_metrics = [(1, payload) for payload in logs] + [(2, metrics_request())]
    for kind, payload in [(0, p) for p in traces[:3] + [edge_traces()]] + logs_and_metrics:
        yield "unknown_fields", fuzz_unknown_fields.encode(kind, payload)
        yield "unknown_fields", fuzz_unknown_fields.encode(kind, with_unknown_field(payload))
        yield "count_walk", fuzz_count_walk.encode(kind, len(payload) // 3, payload)
    yield "count_walk", fuzz_count_walk.encode(0, 1, with_unknown_field(traces[0]))
    for i, text in enumerate(pii_texts(traces)):
        yield "pii_scan", encode_text(i % 3, text)
        yield "pii_rewrite", encode_text(i % 3, text)
    # A request with only unusual values, for the walks that read any AnyValue.
    odd = traces_request(Span(name="odd", attributes=[kv("gen_ai.request.model", any_value(b"\xff")), kv("gen_ai.operation.name", "chat")]))
    yield "genai_attributes", odd.SerializeToString()


def write(corpus: Path = _harness.CORPUS) -> dict[str, int]:
    written: dict[str, int] = {}
    for directory in corpus.glob("*/"):
        for old in directory.glob("seed-*"):
            old.unlink()
    for target, data in seeds():
        directory = corpus / target
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"seed-{hashlib.sha1(data).hexdigest()[:16]}").write_bytes(data)
        written[target] = written.get(target, 0) + 1
    return written


if __name__ == "__main__":
    for target, count in sorted(write().items()):
        print(f"{target}: {count} seeds")
