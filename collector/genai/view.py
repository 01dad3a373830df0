"""One read-only view over an LLM span, whatever library instrumented it.

Reads OTel GenAI (current and deprecated), OpenInference, OpenLLMetry (legacy and current), Langtrace
and MLflow attribute conventions; see docs/genai-conventions.md for the map.

Usage follows OTel GenAI semantics whatever the source: `input_tokens` INCLUDES cache-read and
cache-write tokens, `output_tokens` INCLUDES reasoning tokens. Sources whose raw input count excludes
the cache (Anthropic's API, as passed through by older instrumentations under the underscore
`gen_ai.usage.cache_*_input_tokens` keys) are converted.

The view is built in one pass over the span's attributes that only picks out known keys (or from the same
slots read in C from the request's bytes, `scan_request`); message content (needed only for counting
tokens) is parsed lazily, by messages.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from ..wire import fields
from ..wire import slots as wire_slots
from . import messages
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
_keys("response_id", "gen_ai.response.id")  # one call's spans from stacked instrumentations share it (dedupe.py)
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
# The cost processor's mark on a span whose call another span carries the cost of (dedupe.py).
_keys("cost_duplicate", "gen_ai.usage.cost_duplicate")

# The same key table for the C walk (see `scan_request`).
_C_TABLE = wire_slots.slot_table(_SLOTS, _PRIORITY)

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
    """A slot's value as messages.value_of gives it."""
    if entry[1] in _AS_MESSAGE:
        v = entry[2]
        return messages.value_of(AnyValue.FromString(v) if isinstance(v, bytes) else v)
    return entry[2]


# A token count above this is no count: ~1,000x the largest context window.
MAX_TOKENS = 10**12


def _int(entry: tuple[str, int, Any] | None) -> int | None:
    """The integer a slot holds (ints, finite doubles, numeric strings); None if unset or not a number."""
    if entry is None:
        return None
    member, v = entry[1], entry[2]
    if member == _INT:
        return v
    if member == _DOUBLE and math.isfinite(v):
        return int(v)
    if member == _STRING:
        try:
            return int(v.strip())
        except ValueError:
            return None
    return None


def _count(entry: tuple[str, int, Any] | None, invalid: list[str]) -> int | None:
    """`_int` for a token count: a value that is present but no count (negative, not finite, past
    MAX_TOKENS, a double or string that is not a number) is None and its attribute key goes to `invalid`."""
    if entry is None:
        return None
    value = _int(entry)
    if value is None:
        if entry[1] in (_INT, _DOUBLE, _STRING):
            invalid.append(entry[0])
        return None
    if not 0 <= value <= MAX_TOKENS:
        invalid.append(entry[0])
        return None
    return value


def _str(entry: tuple[str, int, Any] | None) -> str | None:
    """The non-empty string a slot holds, else None."""
    if entry is None or entry[1] != _STRING:
        return None
    return entry[2] or None


@dataclass(slots=True)
class Usage:
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    total_tokens: int | None = None
    convention: str | None = None  # where the input/output counts came from
    invalid: tuple[str, ...] = ()  # keys of usage attributes present but holding no valid count

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

    def text(self, slot: str) -> str | None:
        """The non-empty string a slot holds, else None."""
        return _str(self._v.get(slot))

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
        for message in messages.output_json(self.text) or []:
            if isinstance(message, dict) and message.get("finish_reason"):
                out.append(str(message["finish_reason"]))
        for key, value in messages.indexed(self.span, "gen_ai.completion."):
            if key.endswith(".finish_reason") and value:
                out.append(str(value))
        return out

    @property
    def errored(self) -> bool:
        return self.span.status.code == _ERROR

    # Content -----------------------------------------------------------------------------
    def prompt_messages(self) -> list[ChatMessage]:
        if self._messages is None:
            self._messages = messages.prompt_messages(self.span, self.text)
        return self._messages

    def completion_messages(self) -> list[ChatMessage]:
        if self._completion is None:
            self._completion = messages.completion_messages(self.span, self.text)
        return self._completion


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
    invalid: list[str] = []
    if values.keys().isdisjoint(USAGE_EXTRAS):
        u = Usage(_count(get("input_tokens"), invalid), _count(get("output_tokens"), invalid))
        if u.input_tokens is not None or u.output_tokens is not None:
            u.convention = "attributes"
        if invalid:
            u.invalid = tuple(invalid)
        return u
    u = Usage(
        input_tokens=_count(get("input_tokens"), invalid),
        output_tokens=_count(get("output_tokens"), invalid),
        total_tokens=_count(get("total_tokens"), invalid),
        reasoning_tokens=_count(get("reasoning"), invalid),
    )
    if u.input_tokens is not None or u.output_tokens is not None:
        u.convention = "attributes"
    cache_read = _count(get("cache_read"), invalid)
    cache_write = _count(get("cache_write"), invalid)
    legacy_read = _count(get("legacy_cache_read"), invalid)
    legacy_write = _count(get("legacy_cache_write"), invalid)
    mlflow_usage = get("mlflow_usage")
    mlflow = messages.parse_json(_str(mlflow_usage))
    if isinstance(mlflow, dict) and mlflow_usage is not None:
        key = mlflow_usage[0]

        def json_count(name: str) -> int | None:
            value = _as_int(mlflow.get(name))
            if (value is None and name in mlflow) or (value is not None and not 0 <= value <= MAX_TOKENS):
                invalid.append(f"{key}.{name}")
                return None
            return value

        u.input_tokens = u.input_tokens if u.input_tokens is not None else json_count("input_tokens")
        u.output_tokens = u.output_tokens if u.output_tokens is not None else json_count("output_tokens")
        u.total_tokens = u.total_tokens if u.total_tokens is not None else json_count("total_tokens")
        legacy_read = legacy_read if legacy_read is not None else json_count("cache_read_input_tokens")
        legacy_write = legacy_write if legacy_write is not None else json_count("cache_creation_input_tokens")
        u.convention = u.convention or "mlflow"
    if invalid:
        u.invalid = tuple(invalid)
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
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def scan_request(request: Any, payload: bytes | None) -> list[Any] | None:
    """Each span's slots (in iteration order) read in C from the bytes the request was decoded from, for
    `GenAIView.from_slots` (collector/wire/slots.py); None when the parsed spans must be read instead."""
    return wire_slots.request_slots(request, payload, _C_TABLE)


# A producer of views (token_count) attaches them to the request's envelope in span iteration order, with
# NOT_COMPUTED where it skipped a span; a consumer (cost) builds those it needs (collector/envelope.py).
NOT_COMPUTED: Any = object()
