"""gen_ai_normalizer's sources beyond contrib (mlflow, langtrace, anthropic; langfuse once the GenAI view reads
Langfuse's attributes): what they write is what the GenAI view reads, and token_count and cost after them
give the same tokens and cost as without them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from collector.testing import Sink, build_chain, kv, traces_request
from tests.processors.genai_normalizer_helpers import attrs_of, normalized, single

MLFLOW = [
    ("mlflow.traceRequestId", "tr-1"), ("mlflow.spanType", "CHAT_MODEL"), ("mlflow.llm.model", "gpt-4o-mini"),
    ("mlflow.llm.provider", "openai"),
    ("mlflow.chat.tokenUsage", '{"input_tokens": 10, "output_tokens": 5, "total_tokens": 15, "cache_read_input_tokens": 4}'),
    ("mlflow.spanInputs", json.dumps({"messages": [{"role": "user", "content": "hi"}]})),
    ("mlflow.spanOutputs", json.dumps({"choices": [{"message": {"role": "assistant", "content": "hello"}}]})),
]
LANGTRACE = [
    ("langtrace.sdk.name", "langtrace-python-sdk"), ("langtrace.service.name", "OpenAI"), ("gen_ai.system", "OpenAI"),
    ("gen_ai.request.model", "gpt-4o"), ("gen_ai.usage.prompt_tokens", 12), ("gen_ai.usage.completion_tokens", 3),
]
# An Anthropic call through an older instrumentation: input excludes the cache, cache under underscore names.
ANTHROPIC_LEGACY = [
    ("gen_ai.system", "anthropic"), ("gen_ai.operation.name", "chat"), ("gen_ai.request.model", "claude-sonnet-4"),
    ("llm.usage.prompt_tokens", 100), ("llm.usage.completion_tokens", 20),
    ("gen_ai.usage.cache_read_input_tokens", 300), ("gen_ai.usage.cache_creation_input_tokens", 50),
]

CASES = [
    ("mlflow", MLFLOW, {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 5, "gen_ai.usage.cache_read.input_tokens": 4,
        "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"hi"}]}]',
        "gen_ai.output.messages": '[{"role":"assistant","parts":[{"type":"text","content":"hello"}]}]',
    }, ["mlflow.spanType", "mlflow.llm.model", "mlflow.llm.provider", "mlflow.chat.tokenUsage"]),
    ("langtrace", LANGTRACE, {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.usage.input_tokens": 12, "gen_ai.usage.output_tokens": 3,
    }, ["gen_ai.system", "gen_ai.usage.prompt_tokens", "gen_ai.usage.completion_tokens"]),
    ("anthropic", ANTHROPIC_LEGACY, {
        "gen_ai.provider.name": "anthropic", "gen_ai.usage.input_tokens": 450, "gen_ai.usage.output_tokens": 20,
        "gen_ai.usage.cache_read.input_tokens": 300, "gen_ai.usage.cache_creation.input_tokens": 50,
    }, ["gen_ai.usage.cache_read_input_tokens", "gen_ai.usage.cache_creation_input_tokens"]),
]


@pytest.mark.parametrize(("source", "attributes", "written", "removed"), CASES, ids=[c[0] for c in CASES])
def test_what_the_view_reads_is_written_under_otel_names(source: str, attributes: list[tuple[str, Any]], written: dict[str, Any], removed: list[str]) -> None:
    kept = normalized(single(source), attributes)
    assert {k: kept.get(k) for k in written} == written
    assert all(k in kept for k, _ in attributes)  # nothing removed without remove_originals
    out = normalized(single(source, remove_originals=True), attributes)
    assert {k: out.get(k) for k in written} == written
    assert [k for k in removed if k in out] == []
    # content and keys the source does not own stay
    assert {k for k, _ in attributes} - set(removed) <= set(out)


def test_a_span_without_the_source_s_markers_is_left_alone() -> None:
    plain = [("gen_ai.system", "openai"), ("gen_ai.request.model", "gpt-4o"), ("gen_ai.usage.prompt_tokens", 12)]
    assert normalized(single("langtrace"), plain) == dict(plain)
    assert normalized(single("mlflow"), LANGTRACE) == dict(LANGTRACE)


def test_a_wrapper_span_is_not_an_llm_call_and_gets_nothing() -> None:
    chain = [("mlflow.traceRequestId", "tr-1"), ("mlflow.spanType", "CHAIN"), ("mlflow.spanInputs", '{"q": 1}')]
    assert normalized(single("mlflow"), chain) == dict(chain)


def test_usage_is_written_whole_or_not_at_all() -> None:
    # The span's own input count (Anthropic's, without the cache) differs from the view's (with it): without
    # overwrite nothing of the usage is written, so no canonical cache count joins a count of another convention.
    given = [*ANTHROPIC_LEGACY[:3], ("gen_ai.usage.input_tokens", 100), ("gen_ai.usage.output_tokens", 20), ANTHROPIC_LEGACY[5]]
    out = normalized(single("anthropic"), given)
    assert "gen_ai.usage.cache_read.input_tokens" not in out and out["gen_ai.usage.input_tokens"] == 100
    out = normalized(single("anthropic", overwrite=True, remove_originals=True), given)
    assert (out["gen_ai.usage.input_tokens"], out["gen_ai.usage.cache_read.input_tokens"]) == (400, 300)
    assert "gen_ai.usage.cache_read_input_tokens" not in out


def priced(chain_specs: list[Any], attributes: list[tuple[str, Any]]) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        sink = Sink()
        chain = await build_chain(chain_specs, sink)
        try:
            await chain.consume(traces_request(Span(name="llm", attributes=[kv(k, v) for k, v in attributes])))
        finally:
            await chain.shutdown()
        return attrs_of(sink.spans[0].attributes)

    return asyncio.run(go())


@pytest.mark.parametrize(("source", "attributes"), [(c[0], c[1]) for c in CASES], ids=[c[0] for c in CASES])
def test_tokens_and_cost_after_the_normalizer_are_the_same(source: str, attributes: list[tuple[str, Any]]) -> None:
    before = priced(["token_count", "cost"], attributes)
    after = priced([("gen_ai_normalizer", single(source, remove_originals=True)), "token_count", "cost"], attributes)
    assert before.get("gen_ai.usage.cost") is not None
    for key in ("gen_ai.usage.cost", "gen_ai.usage.token_source"):
        assert after.get(key) == before.get(key), key


def test_the_slots_it_reads_are_the_views() -> None:
    # Slot names are the conventions table's (collector/genai/conventions.py): one renamed there must not
    # leave this source reading nothing.
    from collector.genai import conventions
    from collector.processors.genai_normalizer import viewsource

    named = {slot for _, _, slots in viewsource._USAGE for slot in slots} | set(viewsource._OPERATION_SLOTS)
    assert named <= {slot for slot, _ in conventions.SLOT_KEYS}
