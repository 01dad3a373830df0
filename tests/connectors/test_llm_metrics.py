"""llm_metrics through the running daemon: spans in over OTLP gRPC, through the cost processor, metrics out to a
file exporter, values checked against hand-computed ones; dimension caps and their overflow count; config errors."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from collector.component import Signal
from collector.genai import prices
from collector.testing import kv, traces_request, wait_for
from tests.conftest import Daemon, daemon_yaml
from tests.processors.test_redaction import as_dict, read_json, send

PIPELINE = """
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
processors:
  cost:
exporters:
  file/metrics: {{path: "{data}/metrics.jsonl"}}
connectors:
  llm_metrics:
    dimensions:
      - name: user.id
        max_values: 2
      - name: deployment.environment
"""
PIPELINES = """
traces: {{receivers: [otlp], processors: [cost], exporters: [llm_metrics]}}
metrics: {{receivers: [llm_metrics], exporters: [file/metrics]}}
"""
MODEL = "gpt-4o-mini"


def _span(i: int, *, seconds: float = 1.0, error: bool = False, **attributes: Any) -> Span:
    span = Span(name=f"s{i}", trace_id=bytes(range(16)), span_id=(i + 1).to_bytes(8, "big"),
                start_time_unix_nano=10**18, end_time_unix_nano=10**18 + int(seconds * 1e9),
                attributes=[kv(k, v) for k, v in attributes.items()])
    if error:
        span.status.code = Status.STATUS_CODE_ERROR
    return span


def _chat(i: int, user: str | None, inp: int, out: int, **more: Any) -> Span:
    attributes = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": MODEL,
                  "gen_ai.response.model": MODEL, "gen_ai.usage.input_tokens": inp, "gen_ai.usage.output_tokens": out,
                  "server.address": "api.openai.com", "server.port": 443, **more}
    if user is not None:
        attributes["user.id"] = user
    return _span(i, **attributes)


def _metrics(path: Path) -> dict[str, list[tuple[dict[str, Any], Any]]]:
    """metric name -> [(attributes, value)]: a sum's value, or a histogram's (count, sum, bucket counts)."""
    out: dict[str, list[tuple[dict[str, Any], Any]]] = {}
    for request in read_json(path, Signal.METRICS):
        for rm in request.resource_metrics:
            assert as_dict(rm.resource.attributes)["service.name"] == "shop"
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    if m.HasField("histogram"):
                        assert m.histogram.aggregation_temporality == 1
                        points = [(as_dict(p.attributes), (p.count, p.sum, list(p.bucket_counts))) for p in m.histogram.data_points]
                    else:
                        assert m.sum.is_monotonic and m.sum.aggregation_temporality == 1
                        points = [(as_dict(p.attributes), p.as_double if p.HasField("as_double") else p.as_int) for p in m.sum.data_points]
                    out.setdefault(m.name, []).extend(points)
    return out


def _total(points: list[tuple[dict[str, Any], Any]], **where: Any) -> float:
    return sum(v for a, v in points if all(a.get(k) == w for k, w in where.items()))


def _wait(daemon: Daemon) -> dict[str, list[tuple[dict[str, Any], Any]]]:
    path = daemon.data / "metrics.jsonl"
    wait_for(lambda: path.exists() and path.stat().st_size > 0, timeout=20, what="metrics file")
    return _metrics(path)


def test_llm_metrics_from_priced_spans_with_capped_dimensions(daemon_factory: Any) -> None:
    daemon = daemon_factory(daemon_yaml(PIPELINE, PIPELINES))
    spans = [
        _chat(0, "alice", 1000, 100, **{"gen_ai.response.finish_reasons": ["stop"], "gen_ai.usage.cache_read.input_tokens": 400}),
        _chat(1, "bob", 2000, 50),
        _chat(2, "carol", 10, 5),  # a third user: past max_values 2, counted as "other"
        _chat(3, None, 30, 3, **{"error.type": "RateLimitError"}),
        _span(4, **{"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "a", "user.id": "alice"}),  # a wrapper: no call
        _chat(5, "alice", 7, 7, **{"gen_ai.request.model": "no-such-model", "gen_ai.response.model": "no-such-model"}),
    ]
    spans[3].status.code = Status.STATUS_CODE_ERROR
    send(daemon, Signal.TRACES, traces_request(*spans, resource={"service.name": "shop", "deployment.environment": "prod"}))
    m = _wait(daemon)

    base = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": MODEL,
            "gen_ai.response.model": MODEL, "server.address": "api.openai.com", "server.port": 443, "deployment.environment": "prod"}
    # Token usage histograms: one observation per call and type.
    usage = {(a["gen_ai.token.type"], a.get("user.id")): v for a, v in m["gen_ai.client.token.usage"] if a.get("gen_ai.request.model") == MODEL}
    assert usage[("input", "alice")][:2] == (1, 1000.0)
    assert usage[("input", "alice")][2][5] == 1  # bucket 5: (256, 1024]
    assert usage[("output", "bob")][:2] == (1, 50.0)
    assert usage[("input", "other")][:2] == (1, 10.0)
    assert usage[("input", None)][:2] == (1, 30.0)
    # The usage counters: input includes the cache read, modality unknown.
    inputs = m["gen_ai.client.inference.usage.input_tokens"]
    assert _total(inputs, **base) == 1000 + 2000 + 10 + 30
    assert all(a["gen_ai.token.modality"] == "unknown" for a, _ in inputs)
    assert _total(m["gen_ai.client.inference.usage.output_tokens"], **base) == 100 + 50 + 5 + 3
    assert m["gen_ai.client.inference.usage.cache_read.input_tokens"] == [({**base, "user.id": "alice", "gen_ai.token.modality": "unknown"}, 400)]
    # Durations: every call lasted 1 s, the failed one with its error.type.
    durations = {a.get("user.id"): (a.get("error.type"), v[:2]) for a, v in m["gen_ai.client.operation.duration"] if a.get("gen_ai.request.model") == MODEL}
    assert durations == {"alice": (None, (1, 1.0)), "bob": (None, (1, 1.0)), "other": (None, (1, 1.0)), None: ("RateLimitError", (1, 1.0))}
    # Cost: the cost processor's price, read back from the spans.
    book = prices.PriceBook(None)
    expected = {user: book.cost_of("openai", MODEL, i, o, cr, 0, 0).total_usd
                for user, i, o, cr in (("alice", 1000, 100, 400), ("bob", 2000, 50, 0), ("other", 10, 5, 0), (None, 30, 3, 0))}
    costs = {a.get("user.id"): v for a, v in m["llm.cost"]}
    assert costs.keys() == expected.keys()
    for user, usd in expected.items():
        assert abs(costs[user] - usd) < 1e-12
    # Calls by status and finish reason; the unknown model is unpriced, its reason the cost processor's.
    requests = {(a.get("user.id"), a.get("gen_ai.request.model"), a["llm.status"], a.get("gen_ai.response.finish_reason")): v for a, v in m["llm.requests"]}
    assert requests == {("alice", MODEL, "ok", "stop"): 1, ("bob", MODEL, "ok", None): 1, ("other", MODEL, "ok", None): 1,
                        (None, MODEL, "error", None): 1, ("alice", "no-such-model", "ok", None): 1}
    assert [(a["gen_ai.request.model"], a["llm.unpriced_reason"], v) for a, v in m["llm.unpriced_requests"]] == [("no-such-model", "unknown_model", 1)]
    # The overflow is counted.
    assert daemon.metric("llm_metrics_dimension_overflow_total", dimension="user.id") == 1


def test_llm_metrics_counts_a_call_once_when_the_cost_processor_marked_its_duplicate(daemon_factory: Any) -> None:
    daemon = daemon_factory(daemon_yaml(PIPELINE, PIPELINES))
    same = {"gen_ai.response.id": "chatcmpl-1"}
    original = _chat(0, "alice", 100, 10, **same)
    copy = _chat(1, "alice", 100, 10, **same)  # a second instrumentation's span of the same API call
    send(daemon, Signal.TRACES, traces_request(original, copy, resource={"service.name": "shop"}))
    m = _wait(daemon)
    assert [v for _, v in m["llm.requests"]] == [1]
    assert [v for _, v in m["gen_ai.client.inference.usage.input_tokens"]] == [100]


def test_llm_metrics_config_errors_name_the_key(daemon_factory: Any) -> None:
    for dimensions, message in (("[{{max_values: 3}}]", "name missing"),
                                ("[{{name: user.id}}, {{name: user.id}}]", "given more than once"),
                                ("[{{name: gen_ai.request.model}}]", "already an attribute"),
                                ("[{{name: user.id, max_values: 0}}]", "at least 1")):
        config = daemon_yaml(PIPELINE.replace("""    dimensions:
      - name: user.id
        max_values: 2
      - name: deployment.environment
""", f"    dimensions: {dimensions}\n"), PIPELINES)
        daemon = daemon_factory(config, start=False)
        daemon.start(wait=False)
        assert daemon.proc is not None
        assert daemon.proc.wait(30) != 0
        assert message in daemon.logs() and "llm_metrics" in daemon.logs(), daemon.logs()


def _connector(config: str, sink: Any) -> Any:
    from collector.component import ComponentID, Kind, Settings
    from collector.telemetry import Telemetry, component_logger
    from collector.testing import decode_config

    cls, decoded = decode_config("llm_metrics", config, Kind.CONNECTOR)
    settings = Settings(id=ComponentID("llm_metrics"), kind=Kind.CONNECTOR, log=component_logger("llm_metrics", Kind.CONNECTOR),
                        telemetry=Telemetry(), signal=Signal.TRACES, out_signal=Signal.METRICS)
    return cls(settings, decoded, {"metrics": sink}, sink)


def test_the_c_walk_and_the_parsed_spans_give_the_same_metrics() -> None:
    asyncio.run(_same_metrics())


async def _same_metrics() -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    from collector.envelope import Envelope
    from collector.testing import Sink
    from collector.tools.loadgen import build_templates
    from collector.wire import native

    assert native.genai_attributes is not None
    config = "{dimensions: [{name: user.id}, {name: gen_ai.agent.name}, {name: deployment.environment, max_values: 1}]}"
    outputs = []
    for in_c in (True, False):
        sink = Sink()
        connector = _connector(config, sink)
        assert connector.table is not None
        if not in_c:
            connector.table = None
        for template in build_templates(batch_size=100, count=4, seed=3):
            await connector.consume(Envelope(Signal.TRACES, ExportTraceServiceRequest.FromString(template.payload), template.payload))
        points = []
        for request in sink.requests:
            for rm in request.resource_metrics:
                for m in rm.scope_metrics[0].metrics:
                    for p in (m.histogram.data_points if m.HasField("histogram") else m.sum.data_points):
                        p.ClearField("start_time_unix_nano")
                        p.ClearField("time_unix_nano")
                        points.append((m.name, p.SerializeToString()))
        outputs.append(sorted(points))
    assert outputs[0] == outputs[1] and len(outputs[0]) > 50
