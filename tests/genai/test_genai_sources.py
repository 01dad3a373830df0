"""Tokens, cache tokens, token source and USD cost through token_count and cost for spans shaped as each
library writes them (MLflow, Langfuse, Langtrace with its events, the Anthropic SDK's own tracing, the
current OTel GenAI names), with costs worked out by hand from the bundled prices:

    USD per million tokens   input   cache read   cache write   output
    gpt-4o-mini              0.15    0.075        (input)       0.60
    gpt-4o                   2.50    1.25         (input)       10.00
    claude-3-5-sonnet        3.00    0.30         3.75          15.00

Also: usage reported as 0/0 on a call with content is counted, and wrapper spans (agent, workflow, tool,
chain...) are never priced, whatever usage they roll up."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from collector.component import Signal
from collector.envelope import Envelope
from collector.genai import tokens
from collector.genai.tokens import ChatMessage
from collector.genai.view import GenAIView
from collector.telemetry import Telemetry
from collector.testing import Sink, build_chain
from tests.genai.test_genai_view import span

MINI = "gpt-4o-mini-2024-07-18"
SONNET = "claude-3-5-sonnet-20241022"


def js(value: Any) -> str:
    return json.dumps(value)


def mlflow(value: Any) -> str:
    """MLflow writes every attribute value JSON-encoded, strings with their quotes."""
    return json.dumps(value)


CHAT_IN = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Where is my parcel?"}]
CHAT_OUT = {"role": "assistant", "content": "It left the depot this morning."}

# MLflow tracing (mlflow.openai.autolog / mlflow.anthropic.autolog, OTLP export): the provider's own counts.
MLFLOW_OPENAI = {
    "mlflow.spanType": mlflow("CHAT_MODEL"),
    "mlflow.llm.model": mlflow(MINI),
    "mlflow.message.format": mlflow("openai"),
    "mlflow.chat.tokenUsage": js({"input_tokens": 1200, "output_tokens": 300, "total_tokens": 1500, "cache_read_input_tokens": 1000}),
    "mlflow.spanInputs": js({"messages": CHAT_IN, "model": "gpt-4o-mini"}),
    "mlflow.spanOutputs": js({"choices": [{"message": CHAT_OUT, "finish_reason": "stop"}]}),
}
MLFLOW_ANTHROPIC = {
    "mlflow.spanType": mlflow("CHAT_MODEL"),
    "mlflow.llm.model": mlflow(SONNET),
    "mlflow.message.format": mlflow("anthropic"),
    # Anthropic's input_tokens excludes the cache.
    "mlflow.chat.tokenUsage": js({"input_tokens": 100, "output_tokens": 20, "total_tokens": 120, "cache_read_input_tokens": 3000, "cache_creation_input_tokens": 500}),
}
# Langfuse SDK v3+: OpenAI's usage shape (prompt_tokens includes the cache) or Langfuse's own usage types
# (disjoint: input excludes cache reads and writes).
LANGFUSE_OPENAI = {
    "langfuse.observation.type": "generation",
    "langfuse.observation.model.name": MINI,
    "langfuse.observation.usage_details": js({"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500, "prompt_tokens_details": {"cached_tokens": 1000}, "completion_tokens_details": {"reasoning_tokens": 0}}),
    "langfuse.observation.input": js(CHAT_IN),
    "langfuse.observation.output": js(CHAT_OUT),
}
LANGFUSE_OWN = {
    "langfuse.observation.type": "generation",
    "langfuse.observation.model.name": SONNET,
    "langfuse.observation.usage_details": js({"input": 100, "output": 20, "input_cache_read": 3000, "input_cache_creation": 500, "total": 3620}),
}
LANGFUSE_COST = {**LANGFUSE_OPENAI, "langfuse.observation.cost_details": js({"input": 0.0001, "output": 0.0002, "total": 0.0003})}
# Langtrace: cached_tokens is part of OpenAI's input count, not of Anthropic's.
LANGTRACE_OPENAI = {
    "gen_ai.system": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.usage.input_tokens": 1200,
    "gen_ai.usage.output_tokens": 300,
    "gen_ai.usage.cached_tokens": 1000,
}
LANGTRACE_ANTHROPIC = {"gen_ai.system": "anthropic", "gen_ai.request.model": SONNET, "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20, "gen_ai.usage.cached_tokens": 3000}
LANGTRACE_EVENTS = [("gen_ai.content.prompt", {"gen_ai.prompt": js(CHAT_IN)}), ("gen_ai.content.completion", {"gen_ai.completion": js([CHAT_OUT])})]
# The anthropic SDK's own tracing: OTel names, cache writes as cache_write.input_tokens.
ANTHROPIC_SDK = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "anthropic",
    "gen_ai.request.model": SONNET,
    "gen_ai.usage.input_tokens": 3600,
    "gen_ai.usage.output_tokens": 20,
    "gen_ai.usage.cache_read.input_tokens": 3000,
    "gen_ai.usage.cache_write.input_tokens": 500,
}
# Current OTel GenAI names, with the per-modality input parts.
OTEL_CURRENT = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.response.model": MINI,
    "gen_ai.usage.input_tokens": 1200,
    "gen_ai.usage.output_tokens": 300,
    "gen_ai.usage.cache_read.input_tokens": 1000,
    "gen_ai.usage.cache_creation.input_tokens": 0,
    "gen_ai.usage.reasoning.output_tokens": 100,
    "gen_ai.usage.text.input_tokens": 1100,
    "gen_ai.usage.image.input_tokens": 60,
    "gen_ai.usage.audio.input_tokens": 40,
    "gen_ai.system_instructions": js([{"type": "text", "content": "You are terse."}]),
}

# (200 x 0.15 + 1000 x 0.075 + 300 x 0.60) / 1e6
MINI_COST = 0.000285
# (100 x 3 + 3000 x 0.30 + 500 x 3.75 + 20 x 15) / 1e6
SONNET_COST = 0.003375
# (200 x 2.50 + 1000 x 1.25 + 300 x 10) / 1e6
GPT4O_COST = 0.00475


def attrs_of(s: Span) -> dict[str, Any]:
    out = {}
    for kv in s.attributes:
        kind = kv.value.WhichOneof("value")
        out[kv.key] = getattr(kv.value, kind) if kind else None
    return out


def run(spans: list[Span], processors: tuple[str, ...] = ("token_count", "cost"), wire: bool = False) -> tuple[list[dict[str, Any]], Telemetry]:
    """The spans after the processors, as attribute dicts; `wire`: handed with their bytes (the C walk)."""
    request = ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])])
    sink = Sink()
    telemetry = Telemetry()

    async def go() -> None:
        chain = await build_chain(processors, sink, telemetry=telemetry)
        payload = request.SerializeToString()
        envelope = Envelope(Signal.TRACES, ExportTraceServiceRequest.FromString(payload), wire=payload) if wire else Envelope(Signal.TRACES, request)
        await chain.head.consume(envelope)
        await chain.shutdown()

    asyncio.run(go())
    return [attrs_of(s) for s in sink.spans], telemetry


@pytest.mark.parametrize("wire", [False, True], ids=["parsed", "c-walk"])
@pytest.mark.parametrize(
    "attrs,events,input_tokens,output_tokens,cache_read,cache_write,cost",
    [
        (MLFLOW_OPENAI, (), 1200, 300, 1000, None, MINI_COST),
        (MLFLOW_ANTHROPIC, (), 3600, 20, 3000, 500, SONNET_COST),
        (LANGFUSE_OPENAI, (), 1200, 300, 1000, None, MINI_COST),
        (LANGFUSE_OWN, (), 3600, 20, 3000, 500, SONNET_COST),
        (LANGTRACE_OPENAI, LANGTRACE_EVENTS, 1200, 300, 1000, None, GPT4O_COST),
        # 100 + 3000 cached: (100 x 3 + 3000 x 0.30 + 20 x 15) / 1e6
        (LANGTRACE_ANTHROPIC, (), 3100, 20, 3000, None, 0.0015),
        (ANTHROPIC_SDK, (), 3600, 20, 3000, 500, SONNET_COST),
        # The reasoning tokens are part of the output, priced at gpt-4o-mini's output rate too.
        (OTEL_CURRENT, (), 1200, 300, 1000, 0, MINI_COST),
    ],
    ids=["mlflow-openai", "mlflow-anthropic", "langfuse-openai-shape", "langfuse-own-types", "langtrace-openai", "langtrace-anthropic", "anthropic-sdk", "otel-current"],
)
def test_reported_usage_and_cost_from_each_source(attrs: dict[str, Any], events: Any, input_tokens: int, output_tokens: int, cache_read: int | None, cache_write: int | None, cost: float, wire: bool) -> None:
    view = GenAIView.of(span(attrs, list(events)))
    assert view is not None and view.is_generation
    u = view.usage
    assert (u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens) == (input_tokens, output_tokens, cache_read, cache_write)
    (out,), _ = run([span(attrs, list(events))], wire=wire)
    assert out["gen_ai.usage.token_source"] == "reported"
    assert out["gen_ai.usage.cost"] == pytest.approx(cost, rel=1e-9)
    assert out["llm.cost.total"] == pytest.approx(cost, rel=1e-9)
    # normalize: the canonical names, beside the convention's own; a count reported under a canonical name
    # stays as reported (Langtrace's Anthropic input, which leaves the cache out).
    reported = attrs.get("gen_ai.usage.input_tokens", input_tokens)
    assert (out["gen_ai.usage.input_tokens"], out["gen_ai.usage.output_tokens"]) == (reported, output_tokens)
    assert out.get("gen_ai.usage.cache_read.input_tokens") == cache_read
    assert out.get("gen_ai.usage.cache_creation.input_tokens") == cache_write
    # The open cost proposal, beside gen_ai.usage.cost.
    assert (out["gen_ai.usage.cost.amount"], out["gen_ai.usage.cost.currency"], out["gen_ai.usage.cost.source"]) == (out["gen_ai.usage.cost"], "USD", "local")


def test_mlflow_json_encoded_values_are_decoded() -> None:
    view = GenAIView.of(span(MLFLOW_OPENAI))
    assert view is not None
    assert (view.operation, view.provider, view.request_model) == ("chat", "openai", MINI)
    assert view.prompt_messages() == [ChatMessage("system", "You are terse."), ChatMessage("user", "Where is my parcel?")]
    assert view.completion_messages() == [ChatMessage("assistant", "It left the depot this morning.")]


def test_langfuse_content_and_no_provider_still_prices_by_model_name() -> None:
    view = GenAIView.of(span(LANGFUSE_OPENAI))
    assert view is not None and view.provider is None and view.model == MINI
    assert [m.role for m in view.prompt_messages()] == ["system", "user"]
    assert view.completion_messages() == [ChatMessage("assistant", "It left the depot this morning.")]


def test_current_names_modalities_and_system_instructions() -> None:
    view = GenAIView.of(span({**OTEL_CURRENT, "gen_ai.input.messages": js([{"role": "user", "parts": [{"type": "text", "content": "hi"}]}])}))
    assert view is not None
    u = view.usage
    assert (u.reasoning_tokens, u.text_input_tokens, u.image_input_tokens, u.audio_input_tokens, u.video_input_tokens) == (100, 1100, 60, 40, None)
    assert view.prompt_messages() == [ChatMessage("system", "You are terse."), ChatMessage("user", "hi")]


def test_other_conventions_modalities_are_written_under_the_current_names() -> None:
    oi = {"openinference.span.kind": "LLM", "llm.model_name": MINI, "llm.system": "openai", "llm.token_count.prompt": 1200, "llm.token_count.completion": 300, "llm.token_count.prompt_details.audio": 40}
    (out,), _ = run([span(oi)])
    assert out["gen_ai.usage.audio.input_tokens"] == 40 and out["gen_ai.usage.input_tokens"] == 1200
    langfuse = {**LANGFUSE_OPENAI, "langfuse.observation.usage_details": js({"prompt_tokens": 1200, "completion_tokens": 300, "prompt_tokens_details": {"cached_tokens": 1000, "audio_tokens": 40}})}
    (out,), _ = run([span(langfuse)])
    assert out["gen_ai.usage.audio.input_tokens"] == 40 and out["gen_ai.usage.cost"] == pytest.approx(MINI_COST, rel=1e-9)


@pytest.mark.parametrize(
    "attrs",
    [LANGFUSE_COST, {**OTEL_CURRENT, "gen_ai.usage.cost.amount": 0.5, "gen_ai.usage.cost.currency": "USD"}, {**OTEL_CURRENT, "gen_ai.usage.cost": 0.5}],
    ids=["langfuse-cost-details", "semconv-cost-amount", "openlit-cost"],
)
def test_a_cost_the_span_carries_is_never_written_over(attrs: dict[str, Any]) -> None:
    (out,), telemetry = run([span(attrs)])
    written = {k: v for k, v in out.items() if k in ("gen_ai.usage.cost", "gen_ai.usage.cost.amount")}
    assert written == {k: v for k, v in attrs.items() if k in ("gen_ai.usage.cost", "gen_ai.usage.cost.amount")}
    assert "gen_ai.usage.cost_source" not in out and "gen_ai.usage.cost.source" not in out
    # Priced all the same, independently: OpenInference's names and the metrics carry the daemon's price.
    assert out["llm.cost.total"] == pytest.approx(MINI_COST, rel=1e-9)
    assert metric(telemetry, "llm_cost_usd_total", service="unknown", provider=attrs_provider(attrs), model=MINI) == pytest.approx(MINI_COST, rel=1e-9)


def metric(telemetry: Telemetry, name: str, **labels: str) -> float | None:
    """The sum of the samples of `name` whose labels include `labels`; None when there is none."""
    total = None
    for line in telemetry.registry.exposition().decode().splitlines():
        series, _, value = line.rpartition(" ")
        metric_name, _, label_text = series.partition("{")
        if not line.startswith("#") and metric_name == name and all(f'{k}="{v}"' in label_text for k, v in labels.items()):
            total = (total or 0.0) + float(value)
    return total


def attrs_provider(attrs: dict[str, Any]) -> str:
    return attrs.get("gen_ai.provider.name", "unknown")


def test_langtrace_without_usage_is_counted_from_its_events() -> None:
    attrs = {k: v for k, v in LANGTRACE_OPENAI.items() if not k.startswith("gen_ai.usage.")}
    view = GenAIView.of(span(attrs, LANGTRACE_EVENTS))
    assert view is not None and view.prompt_messages() == [ChatMessage("system", "You are terse."), ChatMessage("user", "Where is my parcel?")]
    (out,), _ = run([span(attrs, LANGTRACE_EVENTS)])
    o200k = tokens.load_encoding("o200k_base")
    prompt = tokens.count_chat([ChatMessage("system", "You are terse."), ChatMessage("user", "Where is my parcel?")], o200k)
    answer = tokens.count_text("It left the depot this morning.", o200k)
    assert (out["gen_ai.usage.input_tokens"], out["gen_ai.usage.output_tokens"], out["gen_ai.usage.token_source"]) == (prompt, answer, "counted")
    assert out["gen_ai.usage.cost"] == pytest.approx((prompt * 2.5 + answer * 10) / 1e6, rel=1e-9)


# OpenLLMetry's Anthropic instrumentation with no usage in the response: 0 and 0.
ZEROS = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "anthropic",
    "gen_ai.request.model": SONNET,
    "gen_ai.usage.input_tokens": 0,
    "gen_ai.usage.output_tokens": 0,
    "gen_ai.input.messages": js([{"role": "user", "parts": [{"type": "text", "content": "Summarise the lease in one line."}]}]),
    "gen_ai.output.messages": js([{"role": "assistant", "parts": [{"type": "text", "content": "A two-year lease at a fixed rent."}]}]),
}


@pytest.mark.parametrize("wire", [False, True], ids=["parsed", "c-walk"])
def test_zeros_with_content_are_estimated_not_priced_at_zero(wire: bool) -> None:
    (out,), telemetry = run([span(ZEROS)], wire=wire)
    # Claude has no public tokenizer: o200k stands in, and the counts are marked estimated.
    o200k = tokens.load_encoding("o200k_base")
    prompt = tokens.count_chat([ChatMessage("user", "Summarise the lease in one line.")], o200k)
    answer = tokens.count_text("A two-year lease at a fixed rent.", o200k)
    assert (out["gen_ai.usage.input_tokens"], out["gen_ai.usage.output_tokens"], out["gen_ai.usage.token_source"]) == (prompt, answer, "estimated")
    assert out["gen_ai.usage.cost"] == pytest.approx((prompt * 3 + answer * 15) / 1e6, rel=1e-9)
    assert metric(telemetry, "llm_tokens_total", service="unknown", provider="anthropic", model=SONNET, type="input") == prompt


def test_zeros_under_another_conventions_names_are_replaced_and_normalized() -> None:
    attrs = {"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o", "llm.system": "openai", "llm.token_count.prompt": 0, "llm.token_count.completion": 0,
             "llm.input_messages.0.message.role": "user", "llm.input_messages.0.message.content": "hello there"}
    (out,), _ = run([span(attrs)])
    o200k = tokens.load_encoding("o200k_base")
    prompt = tokens.count_chat([ChatMessage("user", "hello there")], o200k)
    # No completion captured: its reported 0 stands; the prompt side is counted.
    assert (out["llm.token_count.prompt"], out["gen_ai.usage.input_tokens"], out["llm.token_count.completion"]) == (prompt, prompt, 0)
    assert out["gen_ai.usage.token_source"] == "counted" and out["gen_ai.usage.cost"] == pytest.approx(prompt * 2.5 / 1e6, rel=1e-9)


def test_zeros_without_content_stay_zeros() -> None:
    attrs = {k: v for k, v in ZEROS.items() if "messages" not in k}
    (out,), _ = run([span(attrs)])
    assert (out["gen_ai.usage.input_tokens"], out["gen_ai.usage.output_tokens"], out["gen_ai.usage.token_source"], out["gen_ai.usage.cost"]) == (0, 0, "reported", 0.0)


def test_cost_alone_leaves_zeros_with_content_unpriced() -> None:
    (out,), _ = run([span(ZEROS)], processors=("cost",))
    assert "gen_ai.usage.cost" not in out
    assert (out["gen_ai.usage.cost_unpriced"], out["gen_ai.usage.cost_unpriced_reason"]) == (True, "zero_usage")


ROLLED_UP = {"gen_ai.request.model": "gpt-4o", "gen_ai.provider.name": "openai", "gen_ai.usage.input_tokens": 5000, "gen_ai.usage.output_tokens": 900}
WRAPPERS = {
    "otel-invoke-agent": {"gen_ai.operation.name": "invoke_agent", **ROLLED_UP},
    "otel-invoke-workflow": {"gen_ai.operation.name": "invoke_workflow", **ROLLED_UP},
    "otel-execute-tool": {"gen_ai.operation.name": "execute_tool", **ROLLED_UP},
    "openinference-agent": {"openinference.span.kind": "AGENT", **ROLLED_UP},
    "openinference-chain": {"openinference.span.kind": "CHAIN", **ROLLED_UP},
    "openinference-tool": {"openinference.span.kind": "TOOL", **ROLLED_UP},
    "openllmetry-workflow": {"traceloop.span.kind": "workflow", "llm.request.type": "chat", **ROLLED_UP},
    "openllmetry-task": {"traceloop.span.kind": "task", **ROLLED_UP},
    "openllmetry-agent": {"traceloop.span.kind": "agent", **ROLLED_UP},
    "openllmetry-tool": {"traceloop.span.kind": "tool", **ROLLED_UP},
    "mlflow-agent": {"mlflow.spanType": mlflow("AGENT"), "mlflow.chat.tokenUsage": js({"input_tokens": 5000, "output_tokens": 900}), "mlflow.llm.model": mlflow("gpt-4o")},
    "mlflow-chain": {"mlflow.spanType": mlflow("CHAIN"), **ROLLED_UP},
    "mlflow-tool": {"mlflow.spanType": mlflow("TOOL"), **ROLLED_UP},
    "mlflow-retriever": {"mlflow.spanType": mlflow("RETRIEVER"), **ROLLED_UP},
    "langfuse-span": {"langfuse.observation.type": "span", "langfuse.observation.usage_details": js({"input": 5000, "output": 900}), "langfuse.observation.model.name": "gpt-4o"},
    "langfuse-agent": {"langfuse.observation.type": "agent", **ROLLED_UP},
    "langfuse-tool": {"langfuse.observation.type": "tool", **ROLLED_UP},
    "langfuse-chain": {"langfuse.observation.type": "chain", **ROLLED_UP},
}


@pytest.mark.parametrize("attrs", list(WRAPPERS.values()), ids=list(WRAPPERS))
def test_wrapper_spans_are_never_priced(attrs: dict[str, Any]) -> None:
    assert GenAIView.of(span(attrs)) is None
    for wire in (False, True):
        (out,), telemetry = run([span(attrs)], wire=wire)
        assert out == attrs_of(span(attrs))  # untouched: no token source, no cost, no unpriced flag
        assert metric(telemetry, "llm_requests_total", service="unknown", provider="openai", model="gpt-4o", status="ok") is None


def test_the_traces_rollup_sums_the_calls_not_their_wrappers() -> None:
    trace = b"\x01" * 16
    agent = span(WRAPPERS["otel-invoke-agent"])
    agent.trace_id, agent.span_id = trace, b"\x0a" * 8
    chain = span(WRAPPERS["openllmetry-workflow"])
    chain.trace_id, chain.span_id, chain.parent_span_id = trace, b"\x0b" * 8, agent.span_id
    calls = []
    for i, attrs in enumerate((LANGTRACE_OPENAI, ANTHROPIC_SDK)):
        call = span(attrs)
        call.trace_id, call.span_id, call.parent_span_id = trace, bytes([0x10 + i]) * 8, chain.span_id
        calls.append(call)
    sampling = ("tail_sampling", {"decision_wait": "50ms", "rollup": True, "policies": [{"name": "all", "type": "always_sample"}]})
    out, _ = run([agent, chain, *calls], processors=("token_count", "cost", sampling))  # type: ignore[arg-type]
    (root,) = [s for s in out if "gen_ai.trace.cost" in s]
    assert root["gen_ai.operation.name"] == "invoke_agent"
    assert root["gen_ai.trace.cost"] == pytest.approx(GPT4O_COST + SONNET_COST, rel=1e-9)
    assert (root["gen_ai.trace.input_tokens"], root["gen_ai.trace.output_tokens"]) == (1200 + 3600, 300 + 20)
