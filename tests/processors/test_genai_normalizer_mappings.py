"""gen_ai_normalizer's mapping tables, value folds, type coercion and OpenInference message JSON against
otelcol-contrib's genainormalizerprocessor: each case says which contrib file and test it follows."""

from __future__ import annotations

import json
from typing import Any

import pytest

from collector.processors.genai_normalizer.coerce import coerce, format_float, go_json, to_python
from collector.testing import any_value
from tests.processors.genai_normalizer_helpers import normalized, single

# README.md "Built-in mappings" and internal/<source>/mappings.go LookupTable: every source key -> target.
TABLES = {
    "openinference": {
        "llm.token_count.prompt": "gen_ai.usage.input_tokens", "llm.token_count.completion": "gen_ai.usage.output_tokens",
        "llm.model_name": "gen_ai.request.model", "llm.provider": "gen_ai.provider.name",
        "llm.input_messages": "gen_ai.input.messages", "llm.output_messages": "gen_ai.output.messages",
        "embedding.model_name": "gen_ai.request.model", "tool.name": "gen_ai.tool.name", "tool.description": "gen_ai.tool.description",
        "tool_call.function.arguments": "gen_ai.tool.call.arguments", "tool_call.id": "gen_ai.tool.call.id",
        "reranker.model_name": "gen_ai.request.model", "agent.name": "gen_ai.agent.name", "session.id": "gen_ai.conversation.id",
        "openinference.span.kind": "gen_ai.operation.name",
    },
    "openllmetry": {
        "llm.usage.prompt_tokens": "gen_ai.usage.input_tokens", "llm.usage.completion_tokens": "gen_ai.usage.output_tokens",
        "llm.request.model": "gen_ai.request.model", "llm.response.model": "gen_ai.response.model",
        "llm.request.max_tokens": "gen_ai.request.max_tokens", "llm.request.temperature": "gen_ai.request.temperature",
        "llm.request.top_p": "gen_ai.request.top_p", "llm.top_k": "gen_ai.request.top_k",
        "llm.frequency_penalty": "gen_ai.request.frequency_penalty", "llm.presence_penalty": "gen_ai.request.presence_penalty",
        "llm.chat.stop_sequences": "gen_ai.request.stop_sequences", "llm.request.functions": "gen_ai.tool.definitions",
        "llm.response.finish_reason": "gen_ai.response.finish_reasons", "llm.response.stop_reason": "gen_ai.response.finish_reasons",
        "llm.request.type": "gen_ai.operation.name", "traceloop.span.kind": "gen_ai.operation.name",
        "traceloop.entity.name": "gen_ai.agent.name", "traceloop.entity.input": "gen_ai.input.messages",
        "traceloop.entity.output": "gen_ai.output.messages",
    },
    # internal/langchain/mappings.go, internal/crewai/mappings.go, internal/pydanticai/mappings.go
    "langchain": {"lc.metadata.thread_id": "gen_ai.conversation.id", "langgraph.node.name": "gen_ai.agent.name"},
    "crewai": {"agent_role": "gen_ai.agent.name", "crew_id": "gen_ai.conversation.id"},
    "pydanticai": {"agent_name": "gen_ai.agent.name"},
}
# A value each target's type accepts, and what it becomes there (semconv types_v1_40_0_gen.go).
SAMPLE = {
    "gen_ai.usage.input_tokens": ("12", 12), "gen_ai.usage.output_tokens": (7, 7), "gen_ai.request.max_tokens": (256, 256),
    "gen_ai.request.temperature": (0.5, 0.5), "gen_ai.request.top_p": ("0.9", 0.9), "gen_ai.request.top_k": (40, 40.0),
    "gen_ai.request.frequency_penalty": (0.1, 0.1), "gen_ai.request.presence_penalty": (0.2, 0.2),
    "gen_ai.request.stop_sequences": ("END", ["END"]), "gen_ai.response.finish_reasons": ("stop", ["stop"]),
    "gen_ai.operation.name": ("something-unknown", "something-unknown"),
}


@pytest.mark.parametrize(("source", "key", "target"), [(s, k, t) for s, table in TABLES.items() for k, t in table.items()])
def test_every_mapping_of_contrib_s_tables(source: str, key: str, target: str) -> None:
    given, written = SAMPLE.get(target, ("v", "v"))
    out = normalized(single(source, remove_originals=True), [(key, given)])
    assert out == {target: written}


@pytest.mark.parametrize(("value", "expected"), [
    # internal/openinference/valuemappings_test.go TestTransform_OperationName
    ("LLM", "chat"), ("EMBEDDING", "embeddings"), ("CHAIN", "invoke_agent"), ("RETRIEVER", "retrieval"),
    ("RERANKER", "retrieval"), ("TOOL", "execute_tool"), ("AGENT", "invoke_agent"), ("PROMPT", "text_completion"),
    ("llm", "chat"), ("Embedding", "embeddings"), ("something-unknown", "something-unknown"),
])
def test_openinference_span_kinds(value: str, expected: str) -> None:
    assert normalized(single("openinference"), [("openinference.span.kind", value)])["gen_ai.operation.name"] == expected


@pytest.mark.parametrize(("key", "value", "expected"), [
    # internal/openllmetry/valuemappings_test.go TestTransform_OperationName
    ("traceloop.span.kind", "workflow", "invoke_workflow"), ("traceloop.span.kind", "task", "invoke_agent"),
    ("traceloop.span.kind", "agent", "invoke_agent"), ("traceloop.span.kind", "tool", "execute_tool"),
    ("llm.request.type", "completion", "text_completion"), ("llm.request.type", "chat", "chat"),
    ("llm.request.type", "rerank", "retrieval"), ("llm.request.type", "embedding", "embeddings"),
    ("traceloop.span.kind", "WORKFLOW", "invoke_workflow"), ("llm.request.type", "Completion", "text_completion"),
    ("llm.request.type", "something-unknown", "something-unknown"),
])
def test_openllmetry_operation_names(key: str, value: str, expected: str) -> None:
    assert normalized(single("openllmetry"), [(key, value)])["gen_ai.operation.name"] == expected


def test_folds_only_touch_the_operation_name_and_strings() -> None:
    # valuemappings_test.go (both) TestTransform_PassthroughForUnrelatedKeys, TestTransform_PassthroughForNonStringTypes
    assert normalized(single("openinference"), [("llm.model_name", "LLM")])["gen_ai.request.model"] == "LLM"
    assert normalized(single("openllmetry"), [("llm.request.model", "workflow")])["gen_ai.request.model"] == "workflow"
    # an int lands on the string-typed operation name as its text, and is not folded further
    assert normalized(single("openllmetry"), [("llm.request.type", 42)])["gen_ai.operation.name"] == "42"


def test_sources_fold_only_their_own_values_in_the_list_shape_and_all_in_the_map_shape() -> None:
    # list shape: internal/<source>/valuemappings.go are per source; map shape: valuemappings.go (028e7f6) is one table
    assert normalized(single("openllmetry"), [("llm.request.type", "LLM")])["gen_ai.operation.name"] == "LLM"
    assert normalized({"sources": {"openllmetry": {}}}, [("llm.request.type", "LLM")])["gen_ai.operation.name"] == "chat"
    custom = {"sources": {"custom": {"custom_mappings": {"my.op": "gen_ai.operation.name"}}}}
    assert normalized(custom, [("my.op", "workflow")])["gen_ai.operation.name"] == "invoke_workflow"


def user_defined(value_mappings: dict[str, dict[str, str]], target: str = "gen_ai.operation.name") -> dict[str, Any]:
    return single("my_vendor", mappings={"my.key": target}, value_mappings=value_mappings)


@pytest.mark.parametrize(("rules", "target", "given", "expected"), [
    # internal/custom/valuemappings_test.go TestTransform_MappedStringValue
    ({"gen_ai.operation.name": {"chat_completion": "chat"}}, "gen_ai.operation.name", "chat_completion", "chat"),
    # TestTransform_CaseInsensitiveSourceValue
    ({"gen_ai.operation.name": {"chat_completion": "chat"}}, "gen_ai.operation.name", "Chat_Completion", "chat"),
    # config.go (current): "Source-value lookups are exact-match": an upper-case rule matches as written
    ({"gen_ai.operation.name": {"ChatCompletion": "chat"}}, "gen_ai.operation.name", "ChatCompletion", "chat"),
    # TestTransform_UnmatchedSourceValuePassesThrough
    ({"gen_ai.operation.name": {"chat_completion": "chat"}}, "gen_ai.operation.name", "not_in_rules", "not_in_rules"),
    # TestTransform_NonStringSourcePassesThrough
    ({"gen_ai.usage.input_tokens": {"100": "999"}}, "gen_ai.usage.input_tokens", 100, 100),
    # TestTransform_EmptyRuleMapForKeyPassesThrough
    ({"gen_ai.operation.name": {}}, "gen_ai.operation.name", "anything", "anything"),
])
def test_user_defined_value_mappings(rules: dict[str, dict[str, str]], target: str, given: Any, expected: Any) -> None:
    assert normalized(user_defined(rules, target), [("my.key", given)])[target] == expected


def test_user_defined_without_value_mappings_passes_values_through() -> None:
    # internal/custom/valuemappings_test.go TestTransform_NilRulesPassesThrough
    assert normalized(single("my_vendor", mappings={"my.key": "gen_ai.operation.name"}), [("my.key", "anything")])["gen_ai.operation.name"] == "anything"


@pytest.mark.parametrize(("target", "given", "expected"), [
    # internal/otelsemconv/coerce_test.go TestCoerce_Int
    ("gen_ai.usage.input_tokens", 100, 100), ("gen_ai.usage.input_tokens", "42", 42), ("gen_ai.usage.input_tokens", 7.0, 7),
    ("gen_ai.usage.input_tokens", 3.14, None), ("gen_ai.usage.input_tokens", "not a number", None),
    # TestCoerce_Float64
    ("gen_ai.request.temperature", 0.7, 0.7), ("gen_ai.request.temperature", 1, 1.0), ("gen_ai.request.temperature", "0.5", 0.5),
    ("gen_ai.request.temperature", "hot", None),
    # TestCoerce_String
    ("gen_ai.request.model", "gpt-4", "gpt-4"), ("gen_ai.request.model", 42, "42"), ("gen_ai.request.model", ["nope"], None),
    # TestCoerce_StringSlice
    ("gen_ai.response.finish_reasons", "stop", ["stop"]), ("gen_ai.response.finish_reasons", ["stop", "length"], ["stop", "length"]),
    ("gen_ai.response.finish_reasons", ["stop", 42], None),
    # TestCoerce_UnknownTargetPassesThrough (gen_ai.input.messages is "any")
    ("gen_ai.input.messages", '[{"role":"user"}]', '[{"role":"user"}]'),
    # coerce.go: Go's strconv forms (no spaces or underscores in numbers; ParseBool's spellings)
    ("gen_ai.usage.input_tokens", " 42", None), ("gen_ai.usage.input_tokens", "1_000", None), ("gen_ai.usage.input_tokens", "+5", 5),
    ("gen_ai.request.model", True, "true"), ("gen_ai.request.model", 0.5, "0.5"), ("gen_ai.request.model", 2.0, "2"),
    ("gen_ai.request.model", 1e21, "1e+21"), ("gen_ai.request.model", 1e-7, "1e-7"),
])
def test_coercion(target: str, given: Any, expected: Any) -> None:
    out = coerce(target, any_value(given))
    assert (None if out is None else to_python(out)) == expected


def test_a_value_that_cannot_take_the_target_s_type_is_not_written_and_its_original_stays() -> None:
    # processor.go normalizeAttributes: Coerce fails -> the placeholder is removed and the rename skipped
    assert normalized(single("openllmetry", remove_originals=True), [("llm.usage.prompt_tokens", "many")]) == {"llm.usage.prompt_tokens": "many"}


def test_both_openllmetry_finish_reason_keys_land_on_one_target_first_wins() -> None:
    # internal/openllmetry/mappings.go: finish_reason and stop_reason both map to gen_ai.response.finish_reasons
    out = normalized(single("openllmetry"), [("llm.response.stop_reason", "end_turn"), ("llm.response.finish_reason", "stop")])
    assert out["gen_ai.response.finish_reasons"] == ["end_turn"]


def test_go_json_and_float_forms() -> None:
    assert go_json({"a": "<b>&", "n": 1.0, "l": [True, None]}) == '{"a":"\\u003cb\\u003e\\u0026","n":1,"l":[true,null]}'
    assert [format_float(f) for f in (0.0, -0.0, 123.0, 0.1, 1e20, 1.5e21, 5e-324)] == ["0", "-0", "123", "0.1", "100000000000000000000", "1.5e+21", "5e-324"]


def oi(config: dict[str, Any], attributes: list[tuple[str, Any]]) -> dict[str, Any]:
    return normalized(config, attributes)


def test_messages_simple_user_assistant() -> None:
    # internal/openinference/messages_test.go TestReconstructMessages_SimpleUserAssistant
    out = oi(single("openinference", remove_originals=True), [
        ("llm.input_messages.0.message.role", "user"), ("llm.input_messages.0.message.content", "Hello"),
        ("llm.input_messages.1.message.role", "assistant"), ("llm.input_messages.1.message.content", "Hi there!"),
    ])
    assert out == {"gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"Hello"}]},{"role":"assistant","parts":[{"type":"text","content":"Hi there!"}]}]'}


def test_messages_tool_call_flow() -> None:
    # messages_test.go TestReconstructMessages_ToolCallFlow
    out = oi(single("openinference", remove_originals=True), [
        ("llm.input_messages.0.message.role", "user"), ("llm.input_messages.0.message.content", "What is the weather?"),
        ("llm.input_messages.1.message.role", "assistant"),
        ("llm.input_messages.1.message.tool_calls.0.tool_call.id", "call_123"),
        ("llm.input_messages.1.message.tool_calls.0.tool_call.function.name", "get_weather"),
        ("llm.input_messages.1.message.tool_calls.0.tool_call.function.arguments", '{"location":"Seattle"}'),
        ("llm.input_messages.2.message.role", "user"), ("llm.input_messages.2.message.tool_call_id", "call_123"),
        ("llm.input_messages.2.message.content", '{"weather":"sunny"}'),
    ])
    messages = json.loads(out["gen_ai.input.messages"])
    assert messages[1] == {"role": "assistant", "parts": [{"type": "tool_call", "id": "call_123", "name": "get_weather", "arguments": {"location": "Seattle"}}]}
    assert messages[2] == {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_123", "response": '{"weather":"sunny"}'}]}
    assert list(out) == ["gen_ai.input.messages"]


def test_messages_output_and_no_match() -> None:
    # messages_test.go TestReconstructMessages_OutputMessages, TestReconstructMessages_NoMatchReturnsNoWrite
    out = oi(single("openinference", remove_originals=True), [("llm.output_messages.0.message.role", "assistant"), ("llm.output_messages.0.message.content", "The answer is 42.")])
    assert out == {"gen_ai.output.messages": '[{"role":"assistant","parts":[{"type":"text","content":"The answer is 42."}]}]'}
    assert oi(single("openinference", remove_originals=True), [("http.method", "GET")]) == {"http.method": "GET"}


def test_messages_overwrite_and_remove_originals() -> None:
    # messages_test.go TestReconstructMessages_OverwriteFalseSkipsExisting, _OverwriteTrueReplacesExisting, _RemoveOriginalsFalseKeepsSources
    given = [("gen_ai.input.messages", "existing"), ("llm.input_messages.0.message.role", "user"), ("llm.input_messages.0.message.content", "Hello")]
    assert oi(single("openinference"), given)["gen_ai.input.messages"] == "existing"
    replaced = oi(single("openinference", overwrite=True), given)
    assert replaced["gen_ai.input.messages"] != "existing" and replaced["llm.input_messages.0.message.role"] == "user"


def test_messages_multiple_tool_calls_and_argument_json_as_go_writes_it() -> None:
    # messages_test.go TestReconstructMessages_MultipleToolCalls; arguments re-marshalled by Go (sorted keys, doubles)
    out = oi(single("openinference", remove_originals=True), [
        ("llm.input_messages.0.message.role", "assistant"),
        ("llm.input_messages.0.message.tool_calls.1.tool_call.id", "call_2"),
        ("llm.input_messages.0.message.tool_calls.1.tool_call.function.name", "tool_b"),
        ("llm.input_messages.0.message.tool_calls.1.tool_call.function.arguments", '{"y": 2.50, "x": 1}'),
        ("llm.input_messages.0.message.tool_calls.0.tool_call.id", "call_1"),
        ("llm.input_messages.0.message.tool_calls.0.tool_call.function.name", "tool_a"),
        ("llm.input_messages.0.message.tool_calls.0.tool_call.function.arguments", "{}"),
    ])
    assert out["gen_ai.input.messages"] == ('[{"role":"assistant","parts":[{"type":"tool_call","id":"call_1","name":"tool_a","arguments":{}},'
                                            '{"type":"tool_call","id":"call_2","name":"tool_b","arguments":{"x":1,"y":2.5}}]}]')


def test_messages_empty_content_arguments_not_json_and_index_order() -> None:
    # messages.go buildSingleMessage: no content -> "parts":[]; arguments that are not JSON kept as a string;
    # messages sorted by index whatever the attribute order
    out = oi(single("openinference"), [
        ("llm.input_messages.10.message.role", "user"), ("llm.input_messages.10.message.content", "second"),
        ("llm.input_messages.2.message.role", "assistant"),
        ("llm.input_messages.2.message.tool_calls.0.tool_call.function.name", "f"),
        ("llm.input_messages.2.message.tool_calls.0.tool_call.function.arguments", "not json"),
        ("llm.input_messages.1.message.role", "system"),
        ("llm.input_messages.x.message.role", "ignored"),
    ])
    assert json.loads(out["gen_ai.input.messages"]) == [
        {"role": "system", "parts": []},
        {"role": "assistant", "parts": [{"type": "tool_call", "name": "f", "arguments": "not json"}]},
        {"role": "user", "parts": [{"type": "text", "content": "second"}]},
    ]
    assert out["llm.input_messages.x.message.role"] == "ignored"
