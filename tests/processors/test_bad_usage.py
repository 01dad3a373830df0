"""One span with bad LLM usage never sinks its request: through the running daemon, with every processor in
the pipeline (memory_limiter, redaction, token_count, cost, tail_sampling with its usage policies and rollup,
batch), nine valid LLM spans plus one whose usage is negative, infinite, NaN, a string that is no count, past
any context window, or a bad MLflow usage document. Each request is answered OK on gRPC, OTLP/HTTP protobuf
and OTLP/HTTP JSON; the nine are priced; the bad one arrives flagged (`gen_ai.usage.invalid` naming the
attribute, unpriced with reason invalid_usage) and counted in `llm_invalid_usage_total`.

Before the fix a negative count raised `ValueError: negative token count` in cost and the request got HTTP 500
/ gRPC INTERNAL, which clients do not retry: the nine good spans were lost with it.
"""

from __future__ import annotations

import json
import math
import urllib.request
from typing import Any

import grpc
import orjson
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from collector import otlpjson
from collector.component import Signal
from collector.testing import kv, spans_request, wait_for

pytestmark = pytest.mark.slow

CONFIG = """
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
      http: {{endpoint: "127.0.0.1:{http}"}}
processors:
  memory_limiter: {{limit_mib: 4000, check_interval: 1s}}
  redaction: {{detectors: {{}}, allow_all_keys: true}}
  token_count: {{}}
  cost: {{}}
  tail_sampling:
    decision_wait: 200ms
    rollup: true
    policies:
      - {{name: tokens, type: llm_tokens, llm_tokens: {{min_tokens: 1}}}}
      - {{name: cost, type: llm_cost, llm_cost: {{min_usd: 0.0}}}}
      - {{name: input, type: numeric_attribute, numeric_attribute: {{key: gen_ai.usage.input_tokens, min_value: 1}}}}
  batch: {{timeout: 100ms}}
exporters:
  file/traces: {{path: "{data}/traces.jsonl"}}
extensions:
  health_check: {{endpoint: "127.0.0.1:{health}"}}
service:
  extensions: [health_check]
  telemetry: {{metrics: {{address: "127.0.0.1:{metrics}"}}}}
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter, redaction, token_count, cost, tail_sampling, batch]
      exporters: [file/traces]
"""

# (case, attribute key, bad value): a count that is present but is no count.
BAD = [
    ("negative-input", "gen_ai.usage.input_tokens", -5),
    ("negative-output", "gen_ai.usage.output_tokens", -1),
    ("infinite", "gen_ai.usage.input_tokens", math.inf),
    ("nan", "gen_ai.usage.output_tokens", math.nan),
    ("negative-string", "gen_ai.usage.input_tokens", "-3"),
    ("not-a-number", "gen_ai.usage.output_tokens", "lots"),
    ("negative-cache-read", "gen_ai.usage.cache_read.input_tokens", -1),
    ("past-any-window", "gen_ai.usage.input_tokens", 2**63 - 1),
    ("openinference-negative", "llm.token_count.prompt", -4),
]


def request(trace: int, key: str, value: Any) -> Any:
    """Ten LLM chat spans of one trace; span 4 carries the bad value under `key`."""
    message = spans_request(10)
    message.resource_spans[0].resource.attributes.append(kv("service.name", "bad-usage-test"))
    for i, span in enumerate(message.resource_spans[0].scope_spans[0].spans):
        span.trace_id = trace.to_bytes(16, "big")
        span.span_id = (i + 1).to_bytes(8, "big")
        span.name = f"chat {i}"
        usage = {"gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20}
        if i == 4 and key.startswith("llm."):  # OpenInference's names alone (gen_ai.* would take precedence)
            usage = {key: value, "llm.token_count.completion": 20}
        elif i == 4:
            usage[key] = value
        span.attributes.extend([kv("gen_ai.operation.name", "chat"), kv("gen_ai.system", "openai"),
                                kv("gen_ai.request.model", "gpt-4o-mini"), *(kv(k, v) for k, v in usage.items())])
    return message


def send(daemon: Any, transport: str, message: Any) -> None:
    body = message.SerializeToString()
    if transport == "grpc":
        with grpc.insecure_channel(daemon.grpc_endpoint) as channel:
            answer = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")(body, timeout=10)
        assert trace_service_pb2.ExportTraceServiceResponse.FromString(answer).partial_success.rejected_spans == 0
        return
    if transport == "http/json":
        body, ctype = otlpjson.encode(Signal.TRACES, message), "application/json"
    else:
        ctype = "application/x-protobuf"
    http = urllib.request.Request(f"{daemon.http_url}/v1/traces", data=body, headers={"Content-Type": ctype})
    with urllib.request.urlopen(http, timeout=10) as response:  # raises on 500
        assert response.status == 200


def spans_of(daemon: Any) -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    path = daemon.data / "traces.jsonl"
    for line in path.read_bytes().splitlines() if path.exists() else ():
        for rs in orjson.loads(line)["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    attrs = {a["key"]: next(iter(a["value"].values()), None) for a in span.get("attributes", [])}
                    out[(span["traceId"], span["name"])] = attrs
    return out


def test_one_bad_usage_value_flags_its_span_and_the_rest_goes_on(daemon_factory: Any) -> None:
    daemon = daemon_factory(CONFIG)
    sent: dict[int, tuple[str, str, str]] = {}
    trace = 1
    for transport in ("grpc", "http", "http/json"):
        for case, key, value in BAD:
            if transport == "http/json" and isinstance(value, float) and not math.isfinite(value):
                continue  # OTLP-JSON has no spelling of inf/NaN doubles other than strings, sent as strings below
            send(daemon, transport, request(trace, key, value))
            sent[trace] = (transport, case, key)
            trace += 1
    # An MLflow usage document with a negative count, as mlflow-tracing writes it (a JSON string).
    mlflow = request(trace, "mlflow.chat.tokenUsage", json.dumps({"input_tokens": -7, "output_tokens": 3}))
    for span in mlflow.resource_spans[0].scope_spans[0].spans:
        if span.name == "chat 4":
            kept = [a for a in span.attributes if not a.key.startswith("gen_ai.usage.")]
            del span.attributes[:]
            span.attributes.extend(kept)
    send(daemon, "http", mlflow)
    sent[trace] = ("http", "mlflow", "mlflow.chat.tokenUsage.input_tokens")

    wait_for(lambda: len(spans_of(daemon)) == 10 * len(sent), timeout=20, what="every span written")
    spans = spans_of(daemon)
    for number, (transport, case, key) in sent.items():
        trace_id = number.to_bytes(16, "big").hex()
        for i in range(10):
            attrs = spans[(trace_id, f"chat {i}")]
            if i == 4:
                assert attrs.get("gen_ai.usage.invalid") == key, (transport, case, attrs)
                assert attrs.get("gen_ai.usage.cost_unpriced_reason") == "invalid_usage", (transport, case, attrs)
                assert "gen_ai.usage.cost" not in attrs
            else:
                assert attrs.get("gen_ai.usage.cost", 0) > 0, (transport, case, i, attrs)
                assert "gen_ai.usage.invalid" not in attrs
    assert daemon.metric("otelcol_receiver_refused_spans") == 0
    assert daemon.metric("otelcol_receiver_failed_spans") == 0
    assert daemon.metric("llm_invalid_usage_total") == len(sent)
    assert daemon.metric("llm_invalid_usage_total", attribute="gen_ai.usage.input_tokens") > 0
    assert daemon.stop() == 0
    assert "Traceback" not in daemon.logs()
