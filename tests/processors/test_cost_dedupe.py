"""cost prices one API call once when stacked instrumentations give it two LLM spans (collector/genai/dedupe.py):
the duplicate keeps its attributes, gets `gen_ai.usage.cost_duplicate = true` and no cost, and the LLM
metrics count the call once, with the spans in one request or in two, through the processor and through the
running daemon (two OTLP requests, the file exporter's output and the Prometheus counters)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from collector import otlpjson
from collector.component import Signal
from collector.envelope import Envelope
from collector.processors.cost import DedupeConfig
from collector.telemetry import Telemetry
from collector.testing import BuildError, Sink, build_chain, build_processor, decode_config, kv, traces_request
from tests.conftest import daemon_yaml

TRACE = bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736")
T0 = 1_767_225_600_000_000_000
RESPONSE_ID = "msg_01XFDUDYJgAACzvnptvVoYEL"
# claude-sonnet-4-5: $3 per M input tokens, $15 per M output tokens: 1200 in, 300 out.
COST = 1200 * 3e-6 + 300 * 15e-6


def sdk_span(**extra: Any) -> Span:
    """The Anthropic SDK's own span of the call: OTel GenAI names, the response id; child of span 1."""
    attrs = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic", "gen_ai.request.model": "claude-sonnet-4-5",
             "gen_ai.response.model": "claude-sonnet-4-5-20250929", "gen_ai.response.id": RESPONSE_ID,
             "gen_ai.usage.input_tokens": 1200, "gen_ai.usage.output_tokens": 300, **extra}
    return Span(trace_id=TRACE, span_id=(2).to_bytes(8, "big"), parent_span_id=(1).to_bytes(8, "big"), name="chat claude-sonnet-4-5",
                start_time_unix_nano=T0 + 10_000_000, end_time_unix_nano=T0 + 990_000_000, attributes=[kv(k, v) for k, v in attrs.items() if v is not None])


def openinference_span() -> Span:
    """OpenInference's span around it (span 1): its own names, no response id."""
    attrs = {"openinference.span.kind": "LLM", "llm.provider": "anthropic", "llm.system": "anthropic", "llm.model_name": "claude-sonnet-4-5",
             "llm.token_count.prompt": 1200, "llm.token_count.completion": 300, "llm.token_count.total": 1500}
    return Span(trace_id=TRACE, span_id=(1).to_bytes(8, "big"), parent_span_id=(9).to_bytes(8, "big"), name="Messages",
                start_time_unix_nano=T0, end_time_unix_nano=T0 + 1_000_000_000, attributes=[kv(k, v) for k, v in attrs.items()])


def attributes(span: Span) -> dict[str, Any]:
    return {a.key: getattr(a.value, a.value.WhichOneof("value")) for a in span.attributes}


def samples(text: str, name: str) -> dict[str, float]:
    """{label text: value} of the metric `name` in a Prometheus exposition."""
    out = {}
    for line in text.splitlines():
        m = re.match(rf"{name}(\{{[^}}]*\}})? (\S+)$", line)
        if m:
            out[m.group(1) or ""] = float(m.group(2))
    return out


def run(config: dict[str, Any] | None, *requests: list[Span], wire: bool = False) -> tuple[list[dict[str, Any]], str]:
    telemetry = Telemetry()
    sink = Sink()
    processor = build_processor("cost", config, sink, telemetry=telemetry)

    async def send() -> None:
        for spans in requests:
            request = traces_request(*spans, resource={"service.name": "support-bot"})
            payload = request.SerializeToString()
            await processor.consume(Envelope(Signal.TRACES, request, wire=payload if wire else None, canonical=wire))

    asyncio.run(send())
    return [attributes(s) for s in sink.spans], telemetry.exposition().decode()


@pytest.mark.parametrize("wire", [False, True], ids=["parsed", "bytes"])
@pytest.mark.parametrize("together", [False, True], ids=["two-requests", "one-request"])
def test_a_call_traced_twice_is_priced_and_counted_once(wire: bool, together: bool) -> None:
    spans = [sdk_span(), openinference_span()]
    spans_out, metrics = run(None, *([spans] if together else [[s] for s in spans]), wire=wire)
    sdk, oi = spans_out
    assert sdk["gen_ai.usage.cost"] == pytest.approx(COST, abs=1e-12) and sdk["llm.cost.total"] == pytest.approx(COST, abs=1e-12)
    assert "gen_ai.usage.cost_duplicate" not in sdk
    assert oi["gen_ai.usage.cost_duplicate"] is True and oi["gen_ai.usage.cost_duplicate_of"] == "0000000000000002"
    assert not {"gen_ai.usage.cost", "llm.cost.total", "llm.cost.prompt", "gen_ai.usage.cost_unpriced"} & oi.keys()
    assert oi["llm.token_count.prompt"] == 1200  # its own attributes are kept
    labels = '{service="support-bot",provider="anthropic",model="claude-sonnet-4-5-20250929"'
    assert samples(metrics, "llm_cost_usd_total") == {labels + "}": pytest.approx(COST, abs=1e-12)}
    assert samples(metrics, "llm_requests_total") == {labels + ',status="ok"}': 1}
    assert samples(metrics, "llm_tokens_total") == {labels + ',type="input"}': 1200, labels + ',type="output"}': 300}
    assert samples(metrics, "llm_latency_seconds_count") == {labels + "}": 1}
    assert samples(metrics, "llm_duplicate_spans_total") == {'{service="support-bot"}': 1}
    assert samples(metrics, "llm_dedupe_evictions_total") == {"": 0}


def test_without_dedupe_both_spans_are_priced() -> None:
    (sdk, oi), metrics = run({"dedupe": {"enabled": False}}, [sdk_span()], [openinference_span()])
    assert sdk["gen_ai.usage.cost"] == pytest.approx(COST, abs=1e-12) and oi["gen_ai.usage.cost"] == pytest.approx(COST, abs=1e-12)
    assert sum(samples(metrics, "llm_cost_usd_total").values()) == pytest.approx(2 * COST, abs=1e-12)
    assert "llm_duplicate_spans_total{" not in metrics


def test_a_call_whose_first_span_has_no_usage_is_priced_on_the_next() -> None:
    # The first span (no usage, no content) is unpriced; the other span of the call, by response id, has usage.
    no_usage = sdk_span(**{"gen_ai.usage.input_tokens": None, "gen_ai.usage.output_tokens": None})
    other = sdk_span()
    other.span_id, other.parent_span_id = (3).to_bytes(8, "big"), (2).to_bytes(8, "big")
    (first, second), metrics = run(None, [no_usage], [other])
    assert first["gen_ai.usage.cost_unpriced"] is True and first["gen_ai.usage.cost_unpriced_reason"] == "no_usage"
    assert second["gen_ai.usage.cost"] == pytest.approx(COST, abs=1e-12) and "gen_ai.usage.cost_duplicate" not in second
    assert sum(samples(metrics, "llm_requests_total").values()) == 1
    assert sum(samples(metrics, "llm_cost_usd_total").values()) == pytest.approx(COST, abs=1e-12)
    assert sum(samples(metrics, "llm_tokens_total").values()) == 1500


def test_evictions_past_max_entries_are_counted() -> None:
    calls = []
    for n in range(5):
        span = sdk_span(**{"gen_ai.response.id": f"msg_{n}"})
        span.span_id = (10 + n).to_bytes(8, "big")
        calls.append([span])
    _, metrics = run({"dedupe": {"max_entries": 2}}, *calls)
    assert samples(metrics, "llm_dedupe_evictions_total") == {"": 3}


def test_trace_rollup_counts_the_call_once() -> None:
    # cost, then tail_sampling's rollup: the app's root span gets the call's cost and tokens once.
    root = Span(trace_id=TRACE, span_id=(9).to_bytes(8, "big"), name="answer", start_time_unix_nano=T0 - 1_000_000, end_time_unix_nano=T0 + 1_100_000_000)
    sink = Sink()

    async def run() -> None:
        chain = await build_chain([("cost", None), ("tail_sampling", {"decision_wait": "1h", "rollup": True, "policies": [{"name": "tokens", "type": "llm_tokens", "llm_tokens": {"min_tokens": 1}}]})], sink)
        for spans in ([sdk_span()], [openinference_span(), root]):
            await chain.consume(traces_request(*spans, resource={"service.name": "support-bot"}))
        await chain.shutdown()

    asyncio.run(run())
    rolled = next(attributes(s) for s in sink.spans if s.name == "answer")
    assert rolled["gen_ai.trace.cost"] == pytest.approx(COST, abs=1e-10)
    assert (rolled["gen_ai.trace.input_tokens"], rolled["gen_ai.trace.output_tokens"]) == (1200, 300)


def test_a_span_marked_upstream_is_left_as_it_is() -> None:
    # A daemon behind another: the first one's mark stands, whatever this one remembers.
    marked = openinference_span()
    marked.attributes.extend([kv("gen_ai.usage.cost_duplicate", True), kv("gen_ai.usage.cost_duplicate_of", "0000000000000002")])
    (out,), metrics = run(None, [marked])
    assert out == attributes(marked)
    assert "llm_requests_total{" not in metrics and "llm_duplicate_spans_total{" not in metrics


@pytest.mark.parametrize("values", [{"window": "0s"}, {"max_entries": 0}])
def test_dedupe_limits_are_checked(values: dict[str, Any]) -> None:
    with pytest.raises(BuildError, match=f"dedupe.{next(iter(values))}"):
        decode_config("cost", {"dedupe": values})


def test_dedupe_is_on_by_default_with_a_window_in_the_yaml_spelling() -> None:
    _, config = decode_config("cost", {"dedupe": {"window": "5m"}})
    assert config.dedupe == DedupeConfig(enabled=True, window=300.0, max_entries=50_000)


CONFIG = daemon_yaml("""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
processors:
  token_count: {{}}
  cost: {{}}
exporters:
  file/traces: {{path: "{data}/traces.jsonl"}}
""", """
traces: {{receivers: [otlp], processors: [token_count, cost], exporters: [file/traces]}}
""")


@pytest.mark.slow
def test_daemon_prices_a_call_sent_in_two_requests_once(daemon_factory: Any) -> None:
    daemon = daemon_factory(CONFIG)
    export = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
    with grpc.insecure_channel(daemon.grpc_endpoint) as channel:
        for span in (sdk_span(), openinference_span()):  # the inner span ends, so is exported, first
            request = traces_request(span, resource={"service.name": "support-bot"})
            channel.unary_unary(export)(request.SerializeToString(), timeout=30)
    metrics = daemon.metrics()
    assert daemon.stop() == 0
    exported = [attributes(s) for line in (daemon.data / "traces.jsonl").read_bytes().splitlines()
                for rs in otlpjson.decode(Signal.TRACES, line).resource_spans for ss in rs.scope_spans for s in ss.spans]
    sdk, oi = exported
    assert sdk["gen_ai.usage.cost"] == pytest.approx(COST, abs=1e-12) and sdk["gen_ai.usage.token_source"] == "reported"
    assert oi["gen_ai.usage.cost_duplicate"] is True and "gen_ai.usage.cost" not in oi and "llm.cost.total" not in oi
    assert sum(samples(metrics, "llm_cost_usd_total").values()) == pytest.approx(COST, abs=1e-12)
    assert sum(samples(metrics, "llm_requests_total").values()) == 1
    assert sum(samples(metrics, "llm_duplicate_spans_total").values()) == 1


# Recorded spans of the anthropic SDK next to OpenLLMetry or OpenInference (tests/fixtures/genai, one call per
# fixture): OpenLLMetry's span and OpenInference's streaming span are roots of traces of their own, apart from
# the SDK's span, in the same process (one resource).
FIXTURES = Path(__file__).parents[1] / "fixtures" / "genai"
PAIRS = ["anthropic-openllmetry-usage", "anthropic-openllmetry-stream-usage", "anthropic-openinference-usage",
         "anthropic-openinference-stream-usage"]


def recorded(name: str) -> tuple[Resource, list[Span]]:
    """The fixture's resource and its spans (the SDK's first)."""
    (rs,) = otlpjson.decode(Signal.TRACES, (FIXTURES / f"{name}.jsonl").read_bytes()).resource_spans
    spans = [s for ss in rs.scope_spans for s in ss.spans]
    assert len(spans) == 2 and spans[0].name == "anthropic.messages.create"
    return rs.resource, spans


def request_of(resource: Resource, *spans: Span) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.CopyFrom(resource)
    rs.scope_spans.add().spans.extend(spans)
    return request


def run_requests(*requests: ExportTraceServiceRequest) -> tuple[list[Span], str]:
    telemetry = Telemetry()
    sink = Sink()
    processor = build_processor("cost", None, sink, telemetry=telemetry)

    async def send() -> None:
        for request in requests:
            await processor.consume(Envelope(Signal.TRACES, request))

    asyncio.run(send())
    return sink.spans, telemetry.exposition().decode()


def instance(resource: Resource, value: str) -> Resource:
    """`resource` as another process's: another service.instance.id."""
    other = Resource()
    other.CopyFrom(resource)
    for a in other.attributes:
        if a.key == "service.instance.id":
            a.value.string_value = value
    return other


def sent(name: str, order: str) -> tuple[list[Span], str]:
    """The recorded pair through cost: in one request, the SDK's span first or last, or in two (the SDK's span
    ends first, so is exported first)."""
    resource, (sdk, other) = recorded(name)
    if order == "two-requests":
        return run_requests(request_of(resource, sdk), request_of(resource, other))
    return run_requests(request_of(resource, *((sdk, other) if order == "sdk-first" else (other, sdk))))


ORDERS = ["sdk-first", "sdk-last", "two-requests"]


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("name", PAIRS)
def test_a_recorded_call_traced_by_the_sdk_and_an_instrumentation_is_priced_once(name: str, order: str) -> None:
    spans, metrics = sent(name, order)
    by_name = {s.name: attributes(s) for s in spans}
    (priced,) = [s for s in spans if "gen_ai.usage.cost" in attributes(s)]
    (duplicate,) = [a for a in by_name.values() if a.get("gen_ai.usage.cost_duplicate") is True]
    assert duplicate["gen_ai.usage.cost_duplicate_of"] == priced.span_id.hex() and "gen_ai.usage.cost_unpriced" not in duplicate
    if order != "sdk-last":
        assert priced.name == "anthropic.messages.create"  # the first to arrive
    assert sum(samples(metrics, "llm_requests_total").values()) == 1
    assert sum(samples(metrics, "llm_cost_usd_total").values()) == pytest.approx(attributes(priced)["gen_ai.usage.cost"], abs=1e-15)
    assert "llm_unpriced_requests_total{" not in metrics
    assert sum(samples(metrics, "llm_duplicate_spans_total").values()) == 1


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("name", ["anthropic-openllmetry-no-usage", "anthropic-openinference-no-usage"])
def test_a_recorded_call_without_usage_is_counted_once(name: str, order: str) -> None:
    # The SDK's span of a call the stub answered without usage (an id, no counts), and OpenLLMetry's (zeros),
    # tied by their response id across two traces, or OpenInference's (neither), its parent: one request in
    # the metrics, and no unpriced count beside a price.
    spans, metrics = sent(name, order)
    priced = [s for s in spans if "gen_ai.usage.cost" in attributes(s)]
    unpriced = [s for s in spans if "gen_ai.usage.cost_unpriced" in attributes(s)]
    duplicates = [s for s in spans if "gen_ai.usage.cost_duplicate" in attributes(s)]
    assert sum(samples(metrics, "llm_requests_total").values()) == 1
    assert sum(samples(metrics, "llm_cost_usd_total").values()) == 0
    if order == "two-requests":
        # The SDK's span came alone, so is the call's (unpriced) span: the documented limit across requests.
        assert "gen_ai.usage.cost_unpriced" in attributes(spans[0])
        assert sum(samples(metrics, "llm_unpriced_requests_total").values()) == 1
    else:
        # Within a request the SDK's span is the duplicate of OpenLLMetry's if that one has a price.
        assert len(duplicates) == 1 and len(priced) + len(unpriced) == 1
        assert sum(samples(metrics, "llm_unpriced_requests_total").values()) == len(unpriced)
        if priced:
            assert duplicates[0].name == "anthropic.messages.create"


def test_recorded_calls_of_two_processes_are_two_calls() -> None:
    # The same recording sent by two processes at once (the test stub's ids repeat across runs): each process's
    # pair is one call, the two processes' spans are never tied.
    for name in ("anthropic-openllmetry-usage", "anthropic-openinference-stream-usage"):
        resource, (sdk, other) = recorded(name)
        spans, metrics = run_requests(request_of(resource, sdk, other), request_of(instance(resource, "another"), sdk, other))
        assert [("gen_ai.usage.cost" in a, a.get("gen_ai.usage.cost_duplicate", False)) for a in map(attributes, spans)] == [
            (True, False), (False, True), (True, False), (False, True)]
        assert sum(samples(metrics, "llm_requests_total").values()) == 2


def test_sequential_recorded_calls_with_a_reused_id_are_two_calls() -> None:
    # A server answering every call with the same id (chatcmpl-stub0001): the second call, made after the
    # first one ended, is priced too, in the same process and in new traces.
    resource, pair = recorded("anthropic-openllmetry-usage")
    later = []
    for span in pair:
        for a in span.attributes:
            if a.key == "gen_ai.response.id":
                a.value.string_value = "chatcmpl-stub0001"
        copy = Span()
        copy.CopyFrom(span)
        copy.trace_id = bytes(reversed(span.trace_id))
        copy.start_time_unix_nano += 5 * 10**9
        copy.end_time_unix_nano += 5 * 10**9
        later.append(copy)
    spans, metrics = run_requests(request_of(resource, *pair), request_of(resource, *later))
    assert ["gen_ai.usage.cost" in attributes(s) for s in spans] == [True, False, True, False]
    assert sum(samples(metrics, "llm_requests_total").values()) == 2
    assert sum(samples(metrics, "llm_duplicate_spans_total").values()) == 2
