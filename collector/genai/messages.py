"""The chat messages of an LLM span, whatever convention carries them: OTel GenAI's JSON message
attributes (and its deprecated per-message events), OpenInference's and OpenLLMetry's flattened
per-message attributes, plain prompt/completion texts, Langtrace's events, MLflow's inputs/outputs and
Langfuse's observation input/output.

Only token counting needs them, so a GenAIView parses them lazily, through these functions: they read the
view's slots by `text(slot)` (the non-empty string a slot holds, else None) and the span itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import orjson

from .conventions import COMPLETION_EVENTS, PROMPT_EVENTS
from .tokens import ChatMessage

TextOf = Callable[[str], str | None]  # a slot -> the non-empty string it holds, else None

# Flattened per-message attributes (OpenInference llm.*_messages.N.*, OpenLLMetry legacy gen_ai.prompt.N.*),
# in the order they are looked for.
_PROMPT_PREFIXES = ("llm.input_messages.", "gen_ai.prompt.")
_COMPLETION_PREFIXES = ("llm.output_messages.", "gen_ai.completion.")
_COMPLETION_EVENT_KEYS = dict(COMPLETION_EVENTS)  # event name -> the attribute holding the completion


def value_of(v: Any) -> Any:
    """AnyValue -> Python scalar (or list of scalars); None when unset."""
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [value_of(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: value_of(kv.value) for kv in v.kvlist_value.values}
    return getattr(v, kind)


def parse_json(text: str | None) -> Any:
    """The JSON in a slot's text, else None."""
    if not text:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


def output_json(text: TextOf) -> list[Any] | None:
    """OTel GenAI's output messages as parsed JSON, when the slot holds a JSON list."""
    parsed = parse_json(text("output_messages"))
    return parsed if isinstance(parsed, list) else None


def indexed(span: Any, prefix: str) -> Iterable[tuple[str, Any]]:
    """The span's attributes under `prefix`, as (key, Python value)."""
    for kv in span.attributes:
        if kv.key.startswith(prefix):
            yield kv.key, value_of(kv.value)


def _group_indexed(span: Any, prefix: str) -> list[dict[str, Any]]:
    """`prefix.N.rest` attributes -> [ {rest: value} ] ordered by N."""
    groups: dict[int, dict[str, Any]] = {}
    for key, value in indexed(span, prefix):
        index, _, rest = key[len(prefix) :].partition(".")
        if index.isdigit() and rest:
            groups.setdefault(int(index), {})[rest] = value
    return [groups[i] for i in sorted(groups)]


def _text(content: Any) -> str:
    """Message content in any of the shapes the conventions use -> plain text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(_text(part) for part in content)
    if isinstance(content, dict):
        for key in ("content", "text", "value"):
            if key in content:
                return _text(content[key])
        return ""
    return str(content)


def _tool_calls(calls: Any) -> tuple[tuple[str, str], ...]:
    out = []
    for call in calls or []:
        if not isinstance(call, dict):
            continue
        nested = call.get("function")
        function: dict[str, Any] = nested if isinstance(nested, dict) else call
        name = str(function.get("name") or "")
        arguments = function.get("arguments", "")
        if not isinstance(arguments, str):
            arguments = orjson.dumps(arguments).decode()
        out.append((name, arguments))
    return tuple(out)


def _from_parts_message(message: dict[str, Any]) -> ChatMessage:
    """OTel GenAI >=1.37 message: {role, parts:[{type:text, content} | {type:tool_call, name, arguments} ...]}."""
    texts, calls = [], []
    for part in message.get("parts") or []:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "tool_call":
            args = part.get("arguments", "")
            calls.append((str(part.get("name") or ""), args if isinstance(args, str) else orjson.dumps(args).decode()))
        elif kind == "tool_call_response":
            texts.append(_text(part.get("response") if "response" in part else part.get("result")))
        else:
            texts.append(_text(part.get("content")))
    return ChatMessage(role=str(message.get("role") or ""), content="".join(texts), name=message.get("name"), tool_calls=tuple(calls))


def _from_openai_message(message: dict[str, Any]) -> ChatMessage:
    if "parts" in message:
        return _from_parts_message(message)
    calls = _tool_calls(message.get("tool_calls"))
    return ChatMessage(role=str(message.get("role") or ""), content=_text(message.get("content")), name=message.get("name"), tool_calls=calls)


def _from_flat(group: dict[str, Any]) -> ChatMessage:
    """OpenInference `message.role` / OpenLLMetry `role` flattened attributes."""
    get = lambda k: group.get(f"message.{k}", group.get(k))  # noqa: E731
    calls = []
    i = 0
    while True:
        name = group.get(f"message.tool_calls.{i}.tool_call.function.name", group.get(f"tool_calls.{i}.name"))
        if name is None:
            break
        args = group.get(f"message.tool_calls.{i}.tool_call.function.arguments", group.get(f"tool_calls.{i}.arguments", ""))
        calls.append((str(name), args if isinstance(args, str) else orjson.dumps(args).decode()))
        i += 1
    content = get("content")
    if content is None:
        # OpenInference multimodal contents: message.contents.N.message_content.text
        texts = [v for k, v in sorted(group.items()) if k.endswith("message_content.text") and isinstance(v, str)]
        content = "".join(texts)
    return ChatMessage(role=str(get("role") or ""), content=_text(content), name=get("name"), tool_calls=tuple(calls))


def _messages_from_json(value: Any) -> list[ChatMessage] | None:
    if isinstance(value, dict):
        if isinstance(value.get("messages"), list):
            value = value["messages"]
        elif isinstance(value.get("prompt"), str):
            return [ChatMessage(role="user", content=value["prompt"])]
        else:
            return None
    if isinstance(value, list):
        return [_from_openai_message(m) if isinstance(m, dict) else ChatMessage(role="user", content=_text(m)) for m in value]
    if isinstance(value, str):
        return [ChatMessage(role="user", content=value)]
    return None


def prompt_messages(span: Any, text: TextOf) -> list[ChatMessage]:
    """The messages sent to the model, from the first convention that carries them."""
    system = parse_json(text("system_instructions"))
    messages = _messages_from_json(parse_json(text("input_messages")))
    if messages is not None:
        if isinstance(system, list) and system:
            messages.insert(0, ChatMessage(role="system", content=_text(system)))
        return messages
    for prefix in _PROMPT_PREFIXES:
        groups = _group_indexed(span, prefix)
        if groups:
            return [_from_flat(g) for g in groups]
    prompt = text("prompt")
    if prompt is None:
        for slot in ("input_value", "mlflow_inputs", "langfuse_input"):
            parsed = parse_json(text(slot))
            found = _messages_from_json(parsed) if parsed is not None else None
            if found is not None:
                return found
        prompt = _event_text(span, PROMPT_EVENTS)
    if prompt is not None:
        parsed = parse_json(prompt)
        return _messages_from_json(parsed if parsed is not None else prompt) or []
    # Deprecated OTel GenAI per-message span events.
    events = []
    for event in span.events:
        if event.name in ("gen_ai.system.message", "gen_ai.user.message", "gen_ai.assistant.message", "gen_ai.tool.message"):
            attrs = {kv.key: value_of(kv.value) for kv in event.attributes}
            role = event.name.split(".")[1]
            events.append(ChatMessage(role=role, content=_text(attrs.get("content")), tool_calls=_tool_calls(attrs.get("tool_calls"))))
    if events:
        return events
    value = text("input_value")
    return [ChatMessage(role="user", content=value)] if value else []


def completion_messages(span: Any, text: TextOf) -> list[ChatMessage]:
    """The messages the model answered with, from the first convention that carries them."""
    output = output_json(text)
    if output is not None:
        return [_from_openai_message(m) for m in output if isinstance(m, dict)]
    for prefix in _COMPLETION_PREFIXES:
        groups = _group_indexed(span, prefix)
        if groups:
            return [_from_flat(g) for g in groups]
    completion = text("completion")
    if completion is None:
        for event in span.events:
            key = _COMPLETION_EVENT_KEYS.get(event.name)
            if key is not None:
                for kv in event.attributes:
                    if kv.key == key and kv.value.string_value:
                        completion = kv.value.string_value
            elif event.name == "gen_ai.choice":
                attrs = {kv.key: value_of(kv.value) for kv in event.attributes}
                message = attrs.get("message")
                parsed = parse_json(message) if isinstance(message, str) else message
                if isinstance(parsed, dict):
                    return [_from_openai_message(parsed)]
    if completion is not None:
        parsed = parse_json(completion)
        found = _messages_from_json(parsed) if parsed is not None else None
        return found if found is not None else [ChatMessage(role="assistant", content=completion)]
    for slot in ("output_value", "mlflow_outputs"):
        parsed = parse_json(text(slot))
        if isinstance(parsed, dict) and isinstance(parsed.get("choices"), list):
            out = []
            for choice in parsed["choices"]:
                if isinstance(choice, dict):
                    message = choice.get("message") or {"role": "assistant", "content": choice.get("text", "")}
                    out.append(_from_openai_message(message))
            return out
    langfuse_output = text("langfuse_output")
    parsed = parse_json(langfuse_output)
    found = _answer_from_json(parsed)
    if found is not None:
        return found
    if langfuse_output and parsed is None:  # a streamed answer: Langfuse keeps the text itself, not JSON
        return [ChatMessage(role="assistant", content=langfuse_output)]
    value = text("output_value")
    return [ChatMessage(role="assistant", content=value)] if value else []


def _answer_from_json(value: Any) -> list[ChatMessage] | None:
    """Langfuse's observation output: a message, a list of them, a chat completion or a text."""
    if isinstance(value, dict):
        if isinstance(value.get("choices"), list):
            return [_from_openai_message(c.get("message") or {"role": "assistant", "content": c.get("text", "")}) for c in value["choices"] if isinstance(c, dict)]
        if "content" in value or "parts" in value or "tool_calls" in value:
            return [_from_openai_message({"role": "assistant", **value})]
        return None
    if isinstance(value, list):
        return [_from_openai_message(m) if isinstance(m, dict) else ChatMessage(role="assistant", content=_text(m)) for m in value]
    if isinstance(value, str) and value:
        return [ChatMessage(role="assistant", content=value)]
    return None


def _event_text(span: Any, events: tuple[tuple[str, str], ...]) -> str | None:
    """The text a content event holds (Langtrace's gen_ai.content.prompt / .completion), else None."""
    if not span.events:
        return None
    for event in span.events:
        for name, key in events:
            if event.name == name:
                for kv in event.attributes:
                    if kv.key == key and kv.value.string_value:
                        return kv.value.string_value
    return None
