"""The GenAI view answers the same questions for every convention: is this an LLM call, provider,
models, usage with OTel cache semantics, prompt messages and completion."""

from __future__ import annotations

import json
from typing import Any

import pytest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from collector.genai.tokens import ChatMessage
from collector.genai.view import GenAIView


def any_value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, (list, tuple)):
        return AnyValue(array_value=ArrayValue(values=[any_value(v) for v in value]))
    return AnyValue(string_value=value)


def span(attrs: dict[str, Any], events: list[tuple[str, dict[str, Any]]] = (), error: bool = False) -> Span:  # type: ignore[assignment]
    s = Span(name="x", attributes=[KeyValue(key=k, value=any_value(v)) for k, v in attrs.items()])
    for name, event_attrs in events:
        s.events.add(name=name, attributes=[KeyValue(key=k, value=any_value(v)) for k, v in event_attrs.items()])
    if error:
        s.status.CopyFrom(Status(code=2))
    return s


OTEL_CURRENT = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
    "gen_ai.usage.input_tokens": 1200,
    "gen_ai.usage.output_tokens": 300,
    "gen_ai.usage.cache_read.input_tokens": 1000,
    "gen_ai.usage.reasoning.output_tokens": 120,
    "gen_ai.response.finish_reasons": ["stop"],
    "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "You are terse."}]),
    "gen_ai.input.messages": json.dumps(
        [{"role": "user", "parts": [{"type": "text", "content": "Olá, qual é o status do pedido?"}]}], ensure_ascii=True
    ),
    "gen_ai.output.messages": json.dumps(
        [{"role": "assistant", "parts": [{"type": "text", "content": "Em trânsito."}, {"type": "tool_call", "name": "track", "arguments": {"id": 7}}], "finish_reason": "tool_call"}]
    ),
}

OTEL_DEPRECATED = {
    "gen_ai.system": "openai",
    "gen_ai.request.model": "gpt-4",
    "gen_ai.usage.prompt_tokens": 50,
    "gen_ai.usage.completion_tokens": 8,
    "gen_ai.prompt": json.dumps([{"role": "system", "content": "Be kind."}, {"role": "user", "content": "hi"}]),
    "gen_ai.completion": json.dumps([{"role": "assistant", "content": "hello!"}]),
}

OPENINFERENCE = {
    "openinference.span.kind": "LLM",
    "llm.model_name": "gpt-4o-2024-08-06",
    "llm.system": "openai",
    "llm.provider": "azure",
    "llm.token_count.prompt": 900,
    "llm.token_count.completion": 40,
    "llm.token_count.total": 940,
    "llm.token_count.prompt_details.cache_read": 512,
    "llm.input_messages.0.message.role": "system",
    "llm.input_messages.0.message.content": "You are a bot.",
    "llm.input_messages.1.message.role": "user",
    "llm.input_messages.1.message.content": "Where is my order?",
    "llm.output_messages.0.message.role": "assistant",
    "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "lookup",
    "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": '{"order": 1}',
    "input.value": json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "ignored, messages above win"}]}),
}

OPENLLMETRY_LEGACY_ANTHROPIC = {
    "llm.request.type": "chat",
    "gen_ai.system": "Anthropic",
    "gen_ai.request.model": "claude-3-5-sonnet-20241022",
    "gen_ai.response.model": "claude-3-5-sonnet-20241022",
    "gen_ai.usage.prompt_tokens": 100,  # Anthropic's raw count: excludes the cache
    "gen_ai.usage.completion_tokens": 20,
    "gen_ai.usage.cache_read_input_tokens": 3000,
    "gen_ai.usage.cache_creation_input_tokens": 500,
    "llm.usage.total_tokens": 3620,
    "gen_ai.prompt.0.role": "user",
    "gen_ai.prompt.0.content": "Summarise the contract.",
    "gen_ai.completion.0.role": "assistant",
    "gen_ai.completion.0.content": "It is a lease.",
    "gen_ai.completion.0.finish_reason": "end_turn",
}

LANGTRACE = {
    "gen_ai.system": "openai",
    "gen_ai.operation.name": "chat",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.prompt": json.dumps([{"role": "user", "content": "Tell me a joke"}]),
    "gen_ai.usage.input_tokens": 11,
    "gen_ai.usage.output_tokens": 9,
}

MLFLOW = {
    "mlflow.spanType": "CHAT_MODEL",
    "mlflow.llm.model": "gpt-4o-mini",
    "mlflow.llm.provider": "openai",
    "mlflow.chat.tokenUsage": json.dumps({"input_tokens": 30, "output_tokens": 12, "total_tokens": 42}),
    "mlflow.spanInputs": json.dumps({"messages": [{"role": "user", "content": "2+2?"}], "model": "gpt-4o-mini"}),
    "mlflow.spanOutputs": json.dumps({"choices": [{"message": {"role": "assistant", "content": "4"}, "finish_reason": "stop"}]}),
}


@pytest.mark.parametrize(
    "attrs,operation,provider,model,input_tokens,output_tokens,cache_read,cache_write,reasoning",
    [
        (OTEL_CURRENT, "chat", "openai", "gpt-4o-mini-2024-07-18", 1200, 300, 1000, None, 120),
        (OTEL_DEPRECATED, "chat", "openai", "gpt-4", 50, 8, None, None, None),
        (OPENINFERENCE, "chat", "openai", "gpt-4o-2024-08-06", 900, 40, 512, None, None),
        # Raw Anthropic input excludes the cache: 100 + 3000 + 500 in OTel semantics.
        (OPENLLMETRY_LEGACY_ANTHROPIC, "chat", "anthropic", "claude-3-5-sonnet-20241022", 3600, 20, 3000, 500, None),
        (LANGTRACE, "chat", "openai", "gpt-4o", 11, 9, None, None, None),
        (MLFLOW, "chat", "openai", "gpt-4o-mini", 30, 12, None, None, None),
    ],
    ids=["otel", "otel-deprecated", "openinference", "openllmetry-anthropic", "langtrace", "mlflow"],
)
def test_each_convention_answers_the_same_questions(
    attrs: dict[str, Any], operation: str, provider: str, model: str, input_tokens: int, output_tokens: int, cache_read: int | None, cache_write: int | None, reasoning: int | None
) -> None:
    view = GenAIView.of(span(attrs))
    assert view is not None
    assert (view.operation, view.provider, view.model) == (operation, provider, model)
    assert view.is_generation
    u = view.usage
    assert (u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens, u.reasoning_tokens) == (input_tokens, output_tokens, cache_read, cache_write, reasoning)


def test_otel_current_messages_parts_system_instructions_and_tool_calls() -> None:
    view = GenAIView.of(span(OTEL_CURRENT))
    assert view is not None
    assert view.prompt_messages() == [ChatMessage("system", "You are terse."), ChatMessage("user", "Olá, qual é o status do pedido?")]
    (reply,) = view.completion_messages()
    assert reply.content == "Em trânsito." and reply.tool_calls == (("track", '{"id":7}'),)
    assert view.finish_reasons == ["stop"]


def test_openinference_flattened_messages_win_over_input_value() -> None:
    view = GenAIView.of(span(OPENINFERENCE))
    assert view is not None
    assert [m.content for m in view.prompt_messages()] == ["You are a bot.", "Where is my order?"]
    assert view.completion_messages()[0].tool_calls == (("lookup", '{"order": 1}'),)


def test_openinference_input_value_when_no_flattened_messages() -> None:
    attrs = {k: v for k, v in OPENINFERENCE.items() if not k.startswith("llm.input_messages")}
    view = GenAIView.of(span(attrs))
    assert view is not None
    assert view.prompt_messages() == [ChatMessage("user", "ignored, messages above win")]


def test_openllmetry_indexed_prompt_and_completion() -> None:
    view = GenAIView.of(span(OPENLLMETRY_LEGACY_ANTHROPIC))
    assert view is not None
    assert view.prompt_messages() == [ChatMessage("user", "Summarise the contract.")]
    assert view.completion_messages() == [ChatMessage("assistant", "It is a lease.")]
    assert view.finish_reasons == ["end_turn"]


def test_deprecated_otel_prompt_json_and_completion() -> None:
    view = GenAIView.of(span(OTEL_DEPRECATED))
    assert view is not None
    assert view.prompt_messages() == [ChatMessage("system", "Be kind."), ChatMessage("user", "hi")]
    assert view.completion_messages() == [ChatMessage("assistant", "hello!")]


def test_deprecated_otel_per_message_events() -> None:
    attrs = {"gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o", "gen_ai.operation.name": "chat"}
    events = [("gen_ai.system.message", {"content": "sys"}), ("gen_ai.user.message", {"content": "question"}), ("gen_ai.choice", {"message": json.dumps({"role": "assistant", "content": "answer"})})]
    view = GenAIView.of(span(attrs, events))
    assert view is not None
    assert view.prompt_messages() == [ChatMessage("system", "sys"), ChatMessage("user", "question")]
    assert view.completion_messages() == [ChatMessage("assistant", "answer")]


def test_langtrace_completion_in_an_event() -> None:
    events = [("gen_ai.content.completion", {"gen_ai.completion": json.dumps([{"role": "assistant", "content": "Why did the span..."}])})]
    view = GenAIView.of(span(LANGTRACE, events))
    assert view is not None
    assert view.prompt_messages() == [ChatMessage("user", "Tell me a joke")]
    assert view.completion_messages() == [ChatMessage("assistant", "Why did the span...")]


def test_mlflow_inputs_and_outputs() -> None:
    view = GenAIView.of(span(MLFLOW))
    assert view is not None
    assert view.prompt_messages() == [ChatMessage("user", "2+2?")]
    assert view.completion_messages() == [ChatMessage("assistant", "4")]


@pytest.mark.parametrize(
    "attrs",
    [
        {"gen_ai.operation.name": "invoke_agent", "gen_ai.request.model": "gpt-4o", "gen_ai.provider.name": "openai"},
        {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"},
        {"openinference.span.kind": "CHAIN", "input.value": "x"},
        {"openinference.span.kind": "RETRIEVER"},
        {"http.request.method": "POST", "url.full": "https://api.openai.com/v1/chat/completions"},
        {},
        # A wrapper span that copies its child's GenAI attributes must not be priced a second time:
        # any convention's explicit non-model-call kind wins, wherever it stands among the attributes.
        {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 5, "openinference.span.kind": "CHAIN"},
        {"mlflow.spanType": "AGENT", "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 10},
    ],
    ids=["agent", "tool", "oi-chain", "oi-retriever", "http-client", "empty", "gen-ai-chat-in-oi-chain", "mlflow-agent-with-gen-ai"],
)
def test_non_llm_spans_have_no_view(attrs: dict[str, Any]) -> None:
    assert GenAIView.of(span(attrs)) is None


def test_embeddings_are_llm_calls_but_not_generations() -> None:
    view = GenAIView.of(span({"gen_ai.operation.name": "embeddings", "gen_ai.request.model": "text-embedding-3-small", "gen_ai.usage.input_tokens": 8}))
    assert view is not None and view.is_embedding and not view.is_generation


@pytest.mark.parametrize(
    "attrs,expected_input",
    [
        # OTel and OpenInference inputs already include the cache.
        ({"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.cache_read.input_tokens": 800}, 1000),
        # Underscore keys with a non-Anthropic provider whose input is clearly inclusive: unchanged.
        ({"gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.cache_read_input_tokens": 800}, 1000),
        # An input smaller than its own cached part cannot include it.
        ({"gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.usage.input_tokens": 10, "gen_ai.usage.cache_read_input_tokens": 800}, 810),
    ],
)
def test_cache_semantics(attrs: dict[str, Any], expected_input: int) -> None:
    view = GenAIView.of(span(attrs))
    assert view is not None and view.usage.input_tokens == expected_input


def test_total_only_recovers_the_missing_side_and_strings_parse() -> None:
    view = GenAIView.of(span({"openinference.span.kind": "LLM", "llm.token_count.total": "150", "llm.token_count.completion": 50}))
    assert view is not None
    assert (view.usage.input_tokens, view.usage.output_tokens) == (100, 50)


def test_no_usage_is_none_not_zero_and_errors_are_seen() -> None:
    view = GenAIView.of(span({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"}, error=True))
    assert view is not None
    assert view.usage.input_tokens is None and view.usage.output_tokens is None and not view.usage.complete
    assert view.errored
