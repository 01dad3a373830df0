"""Micro-benchmark for collector.otlpjson against google.protobuf.json_format.

Run:  .venv/bin/python benchmarks/json_codec.py [--spans 100] [--seconds 2] [--all]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, SeverityNumber
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AGGREGATION_TEMPORALITY_CUMULATIVE,
    HistogramDataPoint,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from collector import otlpjson

_WORDS = (
    "the model should answer concisely and cite the retrieved documents when "
    "possible while keeping the tone friendly and helpful for a customer who "
    "asked about billing refunds shipping delays and account security settings"
).split()


def _text(rng: random.Random, n_chars: int) -> str:
    out: list[str] = []
    size = 0
    while size < n_chars:
        w = rng.choice(_WORDS)
        out.append(w)
        size += len(w) + 1
    return " ".join(out)


def _kv(key: str, **value: object) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(**value))


def make_llm_span(rng: random.Random, trace_id: bytes, parent: bytes) -> Span:
    """A chat-completion span shaped like what GenAI instrumentations emit (~1 KB as OTLP-JSON)."""
    start = 1_730_000_000_000_000_000 + rng.randrange(10**12)
    in_tok = rng.randrange(50, 2000)
    out_tok = rng.randrange(10, 800)
    return Span(
        trace_id=trace_id,
        span_id=rng.randbytes(8),
        parent_span_id=parent,
        flags=0x101,
        name="chat gpt-4o-mini",
        kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=start,
        end_time_unix_nano=start + rng.randrange(10**8, 10**10),
        attributes=[
            _kv("gen_ai.operation.name", string_value="chat"),
            _kv("gen_ai.system", string_value="openai"),
            _kv("gen_ai.request.model", string_value="gpt-4o-mini"),
            _kv("gen_ai.response.model", string_value="gpt-4o-mini-2024-07-18"),
            _kv("gen_ai.request.temperature", double_value=0.7),
            _kv("gen_ai.request.max_tokens", int_value=1024),
            _kv("gen_ai.usage.input_tokens", int_value=in_tok),
            _kv("gen_ai.usage.output_tokens", int_value=out_tok),
            _kv(
                "gen_ai.response.finish_reasons",
                array_value={"values": [AnyValue(string_value="stop")]},
            ),
            _kv("gen_ai.prompt", string_value=_text(rng, 320)),
            _kv("gen_ai.completion", string_value=_text(rng, 260)),
        ],
        status=Status(code=Status.STATUS_CODE_OK),
    )


def make_request(n_spans: int, seed: int = 1) -> ExportTraceServiceRequest:
    rng = random.Random(seed)
    trace_id = rng.randbytes(16)
    parent = rng.randbytes(8)
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.extend(
        [
            _kv("service.name", string_value="support-bot"),
            _kv("service.version", string_value="1.4.2"),
            _kv("telemetry.sdk.language", string_value="python"),
        ]
    )
    ss = rs.scope_spans.add()
    ss.scope.name = "opentelemetry.instrumentation.openai_v2"
    ss.scope.version = "2.1b0"
    ss.spans.extend(make_llm_span(rng, trace_id, parent) for _ in range(n_spans))
    return req


def make_logs_request(n_records: int, seed: int = 2) -> ExportLogsServiceRequest:
    """GenAI event log records: a kvlist body holding the message content."""
    rng = random.Random(seed)
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.append(_kv("service.name", string_value="support-bot"))
    sl = rl.scope_logs.add()
    sl.scope.name = "opentelemetry.instrumentation.openai_v2"
    for _ in range(n_records):
        sl.log_records.append(
            LogRecord(
                time_unix_nano=1_730_000_000_000_000_000 + rng.randrange(10**12),
                observed_time_unix_nano=1_730_000_000_000_000_000 + rng.randrange(10**12),
                severity_number=SeverityNumber.SEVERITY_NUMBER_INFO,
                event_name="gen_ai.user.message",
                trace_id=rng.randbytes(16),
                span_id=rng.randbytes(8),
                flags=1,
                body=AnyValue(
                    kvlist_value={
                        "values": [
                            _kv("role", string_value="user"),
                            _kv("content", string_value=_text(rng, 400)),
                        ]
                    }
                ),
                attributes=[
                    _kv("gen_ai.system", string_value="openai"),
                    _kv("gen_ai.request.model", string_value="gpt-4o-mini"),
                ],
            )
        )
    return req


def make_metrics_request(n_points: int, seed: int = 3) -> ExportMetricsServiceRequest:
    """gen_ai.client.token.usage-style histograms, one data point per attribute set."""
    rng = random.Random(seed)
    bounds = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304]
    req = ExportMetricsServiceRequest()
    sm = req.resource_metrics.add().scope_metrics.add()
    metric = sm.metrics.add(name="gen_ai.client.token.usage", unit="{token}")
    metric.histogram.aggregation_temporality = AGGREGATION_TEMPORALITY_CUMULATIVE
    for i in range(n_points):
        counts = [rng.randrange(100) for _ in range(len(bounds) + 1)]
        metric.histogram.data_points.append(
            HistogramDataPoint(
                attributes=[
                    _kv("gen_ai.request.model", string_value=f"model-{i}"),
                    _kv("gen_ai.token.type", string_value="input"),
                ],
                start_time_unix_nano=1_730_000_000_000_000_000,
                time_unix_nano=1_730_000_060_000_000_000,
                count=sum(counts),
                sum=float(rng.randrange(10**6)),
                bucket_counts=counts,
                explicit_bounds=bounds,
                min=1.0,
                max=50000.0,
            )
        )
    return req


def _rate(fn: Callable[[], object], n_items: int, seconds: float) -> float:
    fn()  # warm-up (precomputed tables, caches)
    best = 0.0
    deadline = time.perf_counter() + seconds
    while True:
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        best = max(best, n_items / dt)
        if time.perf_counter() > deadline:
            return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--spans", type=int, default=100, help="spans per request")
    ap.add_argument("--seconds", type=float, default=2.0, help="time budget per case")
    ap.add_argument("--all", action="store_true", help="also benchmark logs and metrics")
    args = ap.parse_args()

    req = make_request(args.spans)
    encoded = otlpjson.encode_traces(req)
    reference = json_format.MessageToJson(req).encode()
    assert otlpjson.decode_traces(encoded) == req, "round-trip mismatch"

    print(f"traces: {args.spans} spans/request, OTLP-JSON {len(encoded)} bytes "
          f"({len(encoded) / args.spans:.0f} B/span, protobuf {req.ByteSize() / args.spans:.0f} B/span)")
    cases: list[tuple[str, Callable[[], object], str]] = [
        ("otlpjson.encode_traces", lambda: otlpjson.encode_traces(req), "spans"),
        ("json_format.MessageToJson", lambda: json_format.MessageToJson(req), "spans"),
        ("otlpjson.decode_traces", lambda: otlpjson.decode_traces(encoded), "spans"),
        (
            "json_format.Parse (base64 ids)",
            lambda: json_format.Parse(reference, ExportTraceServiceRequest()),
            "spans",
        ),
        ("protobuf SerializeToString", lambda: req.SerializeToString(), "spans"),
    ]
    if args.all:
        logs = make_logs_request(args.spans)
        logs_json = otlpjson.encode_logs(logs)
        assert otlpjson.decode_logs(logs_json) == logs, "logs round-trip mismatch"
        metrics = make_metrics_request(args.spans)
        metrics_json = otlpjson.encode_metrics(metrics)
        assert otlpjson.decode_metrics(metrics_json) == metrics, "metrics round-trip mismatch"
        cases += [
            ("otlpjson.encode_logs", lambda: otlpjson.encode_logs(logs), "records"),
            ("json_format.MessageToJson (logs)", lambda: json_format.MessageToJson(logs), "records"),
            ("otlpjson.decode_logs", lambda: otlpjson.decode_logs(logs_json), "records"),
            ("otlpjson.encode_metrics (histogram)", lambda: otlpjson.encode_metrics(metrics), "points"),
            ("json_format.MessageToJson (metrics)", lambda: json_format.MessageToJson(metrics), "points"),
            ("otlpjson.decode_metrics", lambda: otlpjson.decode_metrics(metrics_json), "points"),
        ]
    for name, fn, unit in cases:
        rate = _rate(fn, args.spans, args.seconds)
        print(f"{name:38s} {rate:>12,.0f} {unit}/s")


if __name__ == "__main__":
    main()
