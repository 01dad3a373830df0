"""One read-only view over an LLM span, whatever library instrumented it.

Reads OTel GenAI (current and deprecated), OpenInference, OpenLLMetry (legacy and current), Langtrace
and MLflow attribute conventions; see docs/genai-conventions.md for the map.

Usage follows OTel GenAI semantics whatever the source: `input_tokens` INCLUDES cache-read and
cache-write tokens, `output_tokens` INCLUDES reasoning tokens. Sources whose raw input count excludes
the cache (Anthropic's API, as passed through by older instrumentations under the underscore
`gen_ai.usage.cache_*_input_tokens` keys) are converted.

The view is built in one pass over the span's attributes that only picks out known keys; message
content (needed only for counting tokens) is parsed lazily.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from ..wire import fields
from ..wire import slots as wire_slots
from .tokens import ChatMessage

# Operations that generate text (token counting applies) and those that are billed per input token.
GENERATION_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "completion"})
EMBEDDING_OPERATIONS = frozenset({"embeddings", "embedding"})
_NOT_LLM_CALLS = frozenset({"invoke_agent", "create_agent", "execute_tool", "retrieval", "retrieve"})

_OPENINFERENCE_KIND = {"LLM": "chat", "EMBEDDING": "embeddings"}
_MLFLOW_KIND = {"CHAT_MODEL": "chat", "LLM": "text_completion", "EMBEDDING": "embeddings"}
_OPENLLMETRY_REQUEST_TYPE = {"chat": "chat", "completion": "text_completion", "embedding": "embeddings"}

# Kind attributes that can rule a span out on sight: slot -> "is this value a non-model-call kind?".
_KIND_SLOTS = {
    "operation": lambda v: v.lower() in _NOT_LLM_CALLS,
    "oi_kind": lambda v: bool(v) and v.upper() not in _OPENINFERENCE_KIND,
    "mlflow_kind": lambda v: bool(v) and v.upper() not in _MLFLOW_KIND,
}

# key -> slot. Several keys feed one slot; the first listed for a slot wins when both are present.
_SLOTS: dict[str, str] = {}
_PRIORITY: dict[str, int] = {}


def _keys(slot: str, *keys: str) -> None:
    for rank, key in enumerate(keys):
        _SLOTS[key] = slot
        _PRIORITY[key] = rank


_keys("operation", "gen_ai.operation.name")
_keys("oi_kind", "openinference.span.kind")
_keys("mlflow_kind", "mlflow.spanType")
_keys("request_type", "llm.request.type")
_keys("provider", "gen_ai.provider.name", "gen_ai.system", "llm.system", "llm.provider", "mlflow.llm.provider")
_keys("request_model", "gen_ai.request.model", "llm.request.model", "mlflow.llm.model")
_keys("response_model", "gen_ai.response.model", "llm.response.model", "llm.model_name")
_keys("input_tokens", "gen_ai.usage.input_tokens", "llm.token_count.prompt", "gen_ai.usage.prompt_tokens", "llm.usage.prompt_tokens")
_keys("output_tokens", "gen_ai.usage.output_tokens", "llm.token_count.completion", "gen_ai.usage.completion_tokens", "llm.usage.completion_tokens")
_keys("total_tokens", "gen_ai.usage.total_tokens", "llm.token_count.total", "llm.usage.total_tokens")
_keys("cache_read", "gen_ai.usage.cache_read.input_tokens", "llm.token_count.prompt_details.cache_read")
_keys("cache_write", "gen_ai.usage.cache_creation.input_tokens", "llm.token_count.prompt_details.cache_write")
# The underscore forms are the Anthropic-era names whose input count excludes the cache.
_keys("legacy_cache_read", "gen_ai.usage.cache_read_input_tokens")
_keys("legacy_cache_write", "gen_ai.usage.cache_creation_input_tokens")
_keys("reasoning", "gen_ai.usage.reasoning.output_tokens", "llm.token_count.completion_details.reasoning", "gen_ai.usage.reasoning_tokens", "llm.usage.reasoning_tokens")
_keys("mlflow_usage", "mlflow.chat.tokenUsage")
_keys("token_source", "gen_ai.usage.token_source")
_keys("finish_reasons", "gen_ai.response.finish_reasons", "llm.finish_reason")
_keys("input_messages", "gen_ai.input.messages")
_keys("output_messages", "gen_ai.output.messages")
_keys("system_instructions", "gen_ai.system_instructions")
_keys("prompt", "gen_ai.prompt")
_keys("completion", "gen_ai.completion")
_keys("input_value", "input.value")
_keys("output_value", "output.value")
_keys("mlflow_inputs", "mlflow.spanInputs")
_keys("mlflow_outputs", "mlflow.spanOutputs")
# Cost already on the span (OpenLIT, Langfuse SDKs, an upstream collector): never written twice.
_keys("reported_cost", "gen_ai.usage.cost")
_keys("reported_oi_cost", "llm.cost.total")

# The same key table for the C walk (see `scan_request`).
_C_TABLE = wire_slots.slot_table(_SLOTS, _PRIORITY)

# Flattened per-message attributes (OpenLLMetry legacy gen_ai.prompt.N.*, OpenInference llm.*_messages.N.*).
_INDEXED_PREFIXES = ("gen_ai.prompt.", "gen_ai.completion.", "llm.input_messages.", "llm.output_messages.")

_PROVIDER_ALIASES = {
    "az.ai.openai": "azure.ai.openai",
    "azure": "azure.ai.openai",
    "azure_openai": "azure.ai.openai",
    "vertex_ai": "gcp.vertex_ai",
    "vertexai": "gcp.vertex_ai",
    "gemini": "gcp.gemini",
    "google": "gcp.gemini",
    "bedrock": "aws.bedrock",
    "aws_bedrock": "aws.bedrock",
    "mistral": "mistral_ai",
    "mistralai": "mistral_ai",
}


def _value(v: Any) -> Any:
    """AnyValue -> Python scalar (or list of scalars); None when unset."""
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in v.kvlist_value.values}
    return getattr(v, kind)


# A slot holds (key, member, value): the attribute key that supplied it, the AnyValue oneof member's field
# number (collector/wire/fields.py; 0 for an unset value) and its value: the str, bool, int or float of a
# scalar member, the AnyValue itself for arrays, kvlists and bytes (_AS_MESSAGE), as a message from a parsed
# span or as bytes from the C walk (collector/wire/slots.py).
_MEMBER = {field.name: field.number for field in AnyValue.DESCRIPTOR.fields}
_STRING, _INT, _DOUBLE = fields.AnyValue.STRING_VALUE, fields.AnyValue.INT_VALUE, fields.AnyValue.DOUBLE_VALUE
_AS_MESSAGE = frozenset({fields.AnyValue.ARRAY_VALUE, fields.AnyValue.KVLIST_VALUE, fields.AnyValue.BYTES_VALUE})
_ERROR = Status.STATUS_CODE_ERROR


def _entry(key: str, v: Any) -> tuple[str, int, Any]:
    s = v.string_value
    if s:
        return (key, _STRING, s)
    name = v.WhichOneof("value")
    if name is None:
        return (key, 0, None)
    member = _MEMBER[name]
    return (key, member, v if member in _AS_MESSAGE else getattr(v, name))


def _entry_value(entry: tuple[str, int, Any]) -> Any:
    """A slot's value as _value gives it."""
    if entry[1] in _AS_MESSAGE:
        v = entry[2]
        return _value(AnyValue.FromString(v) if isinstance(v, bytes) else v)
    return entry[2]


def _int(entry: tuple[str, int, Any] | None) -> int | None:
    """The integer a slot holds (ints, whole doubles, numeric strings); None if unset."""
    if entry is None:
        return None
    member, v = entry[1], entry[2]
    if member == _INT:
        return v
    if member == _DOUBLE and v == v:
        return int(v)
    if member == _STRING:
        try:
            return int(v.strip())
        except ValueError:
            return None
    return None


def _str(entry: tuple[str, int, Any] | None) -> str | None:
    """The non-empty string a slot holds, else None."""
    if entry is None or entry[1] != _STRING:
        return None
    return entry[2] or None


def _json(text: str | None) -> Any:
    if not text:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


@dataclass(slots=True)
class Usage:
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    total_tokens: int | None = None
    convention: str | None = None  # where the input/output counts came from

    @property
    def complete(self) -> bool:
        return self.input_tokens is not None and self.output_tokens is not None


class GenAIView:
    """Answers about one span. Build with `GenAIView.of(span)`; None means not an LLM call."""

    __slots__ = ("span", "_v", "operation", "provider", "request_model", "response_model", "usage", "_messages", "_completion")

    def __init__(self, span: Any, values: dict[str, Any], operation: str):
        self.span = span
        self._v = values  # slot -> (key, member, value) of the attribute that supplied it
        self.operation = operation
        self.provider = _normalise_provider(_str(values.get("provider")))
        self.request_model = _str(values.get("request_model"))
        self.response_model = _str(values.get("response_model"))
        self.usage = _usage(values, self.provider)
        self._messages: list[ChatMessage] | None = None
        self._completion: list[ChatMessage] | None = None

    @classmethod
    def of(cls, span: Any) -> GenAIView | None:
        values: dict[str, Any] = {}
        slot_of = _SLOTS.get
        held_for = values.get
        kind_slots = _KIND_SLOTS
        # Without the C walk (see `scan_request`) this is the hottest loop of token_count + cost, so it
        # does as little as it can per attribute: a slot's key is only compared when two keys compete
        # for it, and the value is only read for a known key.
        for kv in span.attributes:
            key = kv.key
            slot = slot_of(key)
            if slot is None:
                continue
            held = held_for(slot)
            if held is not None and _PRIORITY[key] >= _PRIORITY[held[0]]:
                continue
            # Agent, tool, chain and retriever spans say so early; stop reading their (often many)
            # attributes. Any convention's explicit "not a model call" wins, whatever the others say:
            # a wrapper span that also carries GenAI attributes must not be priced twice.
            value = kv.value
            if slot in kind_slots and kind_slots[slot](value.string_value):
                return None
            values[slot] = _entry(key, value)
        operation = _operation(values)
        if operation is None:
            return None
        return cls(span, values, operation)

    @classmethod
    def from_slots(cls, span: Any, values: dict[str, Any] | None) -> GenAIView | None:
        """The view of `span` from its slots as `scan_request` read them from its bytes (None: no known key)."""
        if values is None:
            return None
        for slot, is_not_a_call in _KIND_SLOTS.items():
            entry = values.get(slot)
            if entry is not None and is_not_a_call(entry[2] if entry[1] == _STRING else ""):
                return None
        operation = _operation(values)
        if operation is None:
            return None
        return cls(span, values, operation)

    def key_of(self, slot: str) -> str | None:
        """The attribute key that supplied a slot (e.g. "input_tokens" -> "llm.token_count.prompt"), if any."""
        entry = self._v.get(slot)
        return None if entry is None else entry[0]

    def has(self, slot: str) -> bool:
        return slot in self._v

    @property
    def model(self) -> str | None:
        """The model that actually answered when known (it carries the dated version), else the one asked for."""
        return self.response_model or self.request_model

    @property
    def is_generation(self) -> bool:
        return self.operation in GENERATION_OPERATIONS

    @property
    def is_embedding(self) -> bool:
        return self.operation in EMBEDDING_OPERATIONS

    @property
    def reported_token_source(self) -> str | None:
        return _str(self._v.get("token_source"))

    @property
    def finish_reasons(self) -> list[str]:
        reasons = self._v.get("finish_reasons")
        if reasons is not None:
            value = _entry_value(reasons)
            if isinstance(value, list):
                return [str(r) for r in value if r is not None]
            if isinstance(value, str):
                return [value]
        out = []
        for message in self._output_json() or []:
            if isinstance(message, dict) and message.get("finish_reason"):
                out.append(str(message["finish_reason"]))
        for key, value in _indexed(self.span, "gen_ai.completion."):
            if key.endswith(".finish_reason") and value:
                out.append(str(value))
        return out

    @property
    def errored(self) -> bool:
        return self.span.status.code == _ERROR

    # Content -----------------------------------------------------------------------------
    def prompt_messages(self) -> list[ChatMessage]:
        if self._messages is None:
            self._messages = _prompt_messages(self)
        return self._messages

    def completion_messages(self) -> list[ChatMessage]:
        if self._completion is None:
            self._completion = _completion_messages(self)
        return self._completion

    def _output_json(self) -> Any:
        parsed = _json(_str(self._v.get("output_messages")))
        return parsed if isinstance(parsed, list) else None


def _operation(values: dict[str, Any]) -> str | None:
    op = _str(values.get("operation"))
    if op:
        op = op.lower()
        return None if op in _NOT_LLM_CALLS else op
    kind = _str(values.get("oi_kind"))
    if kind:
        return _OPENINFERENCE_KIND.get(kind.upper())
    kind = _str(values.get("mlflow_kind"))
    if kind:
        return _MLFLOW_KIND.get(kind.upper())
    kind = _str(values.get("request_type"))
    if kind:
        return _OPENLLMETRY_REQUEST_TYPE.get(kind.lower())
    # Older instrumentations (OTel GenAI before operation.name, Langtrace) only mark the call itself.
    if "request_model" in values and ("provider" in values or "input_tokens" in values):
        return "chat"
    return None


_PROVIDERS_SEEN: dict[str, str] = {}


def _normalise_provider(provider: str | None) -> str | None:
    if not provider:
        return None
    known = _PROVIDERS_SEEN.get(provider)
    if known is not None:
        return known
    p = provider.strip().lower()
    p = _PROVIDER_ALIASES.get(p, p)
    if len(_PROVIDERS_SEEN) < 1024:  # spellings seen; bounded against a client sending junk
        _PROVIDERS_SEEN[provider] = p
    return p


# Usage slots beyond plain input/output counts; spans without any of them take _usage's short path.
USAGE_EXTRAS = frozenset({"total_tokens", "reasoning", "cache_read", "cache_write", "legacy_cache_read", "legacy_cache_write", "mlflow_usage"})


def _usage(values: dict[str, Any], provider: str | None) -> Usage:
    get = values.get
    if values.keys().isdisjoint(USAGE_EXTRAS):
        u = Usage(_int(get("input_tokens")), _int(get("output_tokens")))
        if u.input_tokens is not None or u.output_tokens is not None:
            u.convention = "attributes"
        return u
    u = Usage(
        input_tokens=_int(get("input_tokens")),
        output_tokens=_int(get("output_tokens")),
        total_tokens=_int(get("total_tokens")),
        reasoning_tokens=_int(get("reasoning")),
    )
    if u.input_tokens is not None or u.output_tokens is not None:
        u.convention = "attributes"
    cache_read = _int(get("cache_read"))
    cache_write = _int(get("cache_write"))
    legacy_read = _int(get("legacy_cache_read"))
    legacy_write = _int(get("legacy_cache_write"))
    mlflow = _json(_str(get("mlflow_usage")))
    if isinstance(mlflow, dict):
        u.input_tokens = u.input_tokens if u.input_tokens is not None else _as_int(mlflow.get("input_tokens"))
        u.output_tokens = u.output_tokens if u.output_tokens is not None else _as_int(mlflow.get("output_tokens"))
        u.total_tokens = u.total_tokens if u.total_tokens is not None else _as_int(mlflow.get("total_tokens"))
        legacy_read = legacy_read if legacy_read is not None else _as_int(mlflow.get("cache_read_input_tokens"))
        legacy_write = legacy_write if legacy_write is not None else _as_int(mlflow.get("cache_creation_input_tokens"))
        u.convention = u.convention or "mlflow"
    u.cache_read_tokens = cache_read if cache_read is not None else legacy_read
    u.cache_write_tokens = cache_write if cache_write is not None else legacy_write
    # Only totals reported: recover the missing side.
    if u.total_tokens is not None:
        if u.input_tokens is None and u.output_tokens is not None:
            u.input_tokens = max(0, u.total_tokens - u.output_tokens)
        elif u.output_tokens is None and u.input_tokens is not None:
            u.output_tokens = max(0, u.total_tokens - u.input_tokens)
    if u.input_tokens is not None and cache_read is None and cache_write is None and (legacy_read or legacy_write):
        cached = (legacy_read or 0) + (legacy_write or 0)
        # Anthropic's raw input_tokens excludes the cache; the OTel convention includes it.
        if (provider or "").startswith("anthropic") or u.input_tokens < cached:
            u.input_tokens += cached
    return u


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value == value:
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def _indexed(span: Any, prefix: str) -> Iterable[tuple[str, Any]]:
    for kv in span.attributes:
        if kv.key.startswith(prefix):
            yield kv.key, _value(kv.value)


def _group_indexed(span: Any, prefix: str) -> list[dict[str, Any]]:
    """`prefix.N.rest` attributes -> [ {rest: value} ] ordered by N."""
    groups: dict[int, dict[str, Any]] = {}
    for key, value in _indexed(span, prefix):
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
        function = call.get("function") if isinstance(call.get("function"), dict) else call
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


def _prompt_messages(view: GenAIView) -> list[ChatMessage]:
    v = view._v
    system = _json(_str(v.get("system_instructions")))
    messages = _messages_from_json(_json(_str(v.get("input_messages"))))
    if messages is not None:
        if isinstance(system, list) and system:
            messages.insert(0, ChatMessage(role="system", content=_text(system)))
        return messages
    for prefix in ("llm.input_messages.", "gen_ai.prompt."):
        groups = _group_indexed(view.span, prefix)
        if groups:
            return [_from_flat(g) for g in groups]
    prompt = _str(v.get("prompt"))
    if prompt is not None:
        parsed = _json(prompt)
        return _messages_from_json(parsed if parsed is not None else prompt) or []
    for slot in ("input_value", "mlflow_inputs"):
        parsed = _json(_str(v.get(slot)))
        found = _messages_from_json(parsed) if parsed is not None else None
        if found is not None:
            return found
    # Deprecated OTel GenAI per-message span events.
    events = []
    for event in view.span.events:
        if event.name in ("gen_ai.system.message", "gen_ai.user.message", "gen_ai.assistant.message", "gen_ai.tool.message"):
            attrs = {kv.key: _value(kv.value) for kv in event.attributes}
            role = event.name.split(".")[1]
            events.append(ChatMessage(role=role, content=_text(attrs.get("content")), tool_calls=_tool_calls(attrs.get("tool_calls"))))
    if events:
        return events
    text = _str(v.get("input_value"))
    return [ChatMessage(role="user", content=text)] if text else []


def _completion_messages(view: GenAIView) -> list[ChatMessage]:
    v = view._v
    output = view._output_json()
    if output is not None:
        return [_from_openai_message(m) for m in output if isinstance(m, dict)]
    for prefix in ("llm.output_messages.", "gen_ai.completion."):
        groups = _group_indexed(view.span, prefix)
        if groups:
            return [_from_flat(g) for g in groups]
    completion = _str(v.get("completion"))
    if completion is None:
        # Langtrace puts the completion in an event.
        for event in view.span.events:
            if event.name == "gen_ai.content.completion":
                for kv in event.attributes:
                    if kv.key == "gen_ai.completion":
                        completion = kv.value.string_value or None
            elif event.name == "gen_ai.choice":
                attrs = {kv.key: _value(kv.value) for kv in event.attributes}
                message = attrs.get("message")
                parsed = _json(message) if isinstance(message, str) else message
                if isinstance(parsed, dict):
                    return [_from_openai_message(parsed)]
    if completion is not None:
        parsed = _json(completion)
        found = _messages_from_json(parsed) if parsed is not None else None
        return found if found is not None else [ChatMessage(role="assistant", content=completion)]
    for slot in ("output_value", "mlflow_outputs"):
        parsed = _json(_str(v.get(slot)))
        if isinstance(parsed, dict) and isinstance(parsed.get("choices"), list):
            out = []
            for choice in parsed["choices"]:
                if isinstance(choice, dict):
                    message = choice.get("message") or {"role": "assistant", "content": choice.get("text", "")}
                    out.append(_from_openai_message(message))
            return out
    text = _str(v.get("output_value"))
    return [ChatMessage(role="assistant", content=text)] if text else []


def scan_request(request: Any, payload: bytes | None) -> list[Any] | None:
    """Each span's slots (in iteration order) read in C from the bytes the request was decoded from, for
    `GenAIView.from_slots` (collector/wire/slots.py); None when the parsed spans must be read instead."""
    return wire_slots.request_slots(request, payload, _C_TABLE)


# A producer of views (token_count) attaches them to the request's envelope in span iteration order, with
# NOT_COMPUTED where it skipped a span; a consumer (cost) builds those it needs (collector/envelope.py).
NOT_COMPUTED: Any = object()
