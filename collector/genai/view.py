"""One read-only view over an LLM span, whatever library instrumented it.

Reads OTel GenAI (current and deprecated), OpenInference, OpenLLMetry (legacy and current), Langtrace,
MLflow, Langfuse and the Anthropic SDK's attribute conventions, all named in one table
(collector/genai/conventions.py); see docs/genai-conventions.md for the map.

Usage follows OTel GenAI semantics whatever the source: `input_tokens` INCLUDES cache-read and
cache-write tokens, `output_tokens` INCLUDES reasoning tokens. Sources whose input count excludes the
cache (Anthropic's API as passed through by older instrumentations, Langtrace and MLflow; Langfuse's own
usage types) are converted, as the table's cache semantics say.

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
from . import conventions, messages
from .tokens import ChatMessage

# Operations that generate text (token counting applies) and those that are billed per input token.
GENERATION_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "completion"})
EMBEDDING_OPERATIONS = frozenset({"embeddings", "embedding"})

# key -> slot, and key -> its rank within the slot (the best-ranked key present wins), from the conventions.
_SLOTS: dict[str, str] = {key: slot for slot, keys in conventions.SLOT_KEYS for key in keys}
_PRIORITY: dict[str, int] = {key: rank for _, keys in conventions.SLOT_KEYS for rank, key in enumerate(keys)}
_KINDS = conventions.KINDS
_JSON_ENCODED = conventions.JSON_ENCODED
_JSON_ENCODED_MARKS = conventions.JSON_ENCODED_MARKS


def _memo(fn: Any) -> Any:
    """(the values seen -> fn(value), fn remembering what it answers): a kind has a handful of spellings,
    so fn runs once per spelling (and the memory stays bounded all the same)."""
    seen: dict[str, Any] = {}

    def remembered(value: str) -> Any:
        if value in seen:
            return seen[value]
        known = fn(value)
        if len(seen) < 256:
            seen[value] = known
        return known

    return seen, remembered


# Kind attributes that can rule a span out on sight: slot -> "is this value a non-model-call kind?".
_KIND_SLOTS = {kind.slot: _memo(kind.rules_out)[1] for kind in _KINDS if kind.wrappers is None or kind.wrappers}
# Per kind, in the order they decide: (slot, the operations of the raw values seen, fn for one not yet seen,
# whether a value that names no operation still decides).
_KIND_OPERATIONS = tuple((kind.slot, *_memo(kind.operation), kind.decides) for kind in _KINDS)

# The same key table for the C walk (see `scan_request`).
_C_TABLE = wire_slots.slot_table(_SLOTS, _PRIORITY)


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


def _json_decoded(values: dict[str, Any]) -> dict[str, Any]:
    """`values` with a JSON-encoding convention's string values decoded: "\"gpt-4o\"" -> "gpt-4o"."""
    out = dict(values)
    for slot, entry in values.items():
        if entry[0] in _JSON_ENCODED and entry[1] == _STRING and entry[2][:1] == '"':
            decoded = messages.parse_json(entry[2])
            if isinstance(decoded, str):
                out[slot] = (entry[0], _STRING, decoded)
    return out


@dataclass(slots=True)
class Usage:
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    total_tokens: int | None = None
    # Parts of input_tokens by modality, as reported (current OTel GenAI names; not priced apart).
    text_input_tokens: int | None = None
    image_input_tokens: int | None = None
    audio_input_tokens: int | None = None
    video_input_tokens: int | None = None
    convention: str | None = None  # where the input/output counts came from
    invalid: tuple[str, ...] = ()  # keys of usage attributes present but holding no valid count

    @property
    def complete(self) -> bool:
        return self.input_tokens is not None and self.output_tokens is not None


class GenAIView:
    """Answers about one span. Build with `GenAIView.of(span)`; None means not an LLM call."""

    __slots__ = ("span", "_v", "operation", "provider", "request_model", "response_model", "usage", "_messages", "_completion")

    def __init__(self, span: Any, values: dict[str, Any], operation: str):
        if not values.keys().isdisjoint(_JSON_ENCODED_MARKS):
            values = _json_decoded(values)
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

    def has_any(self, slots: frozenset[str]) -> bool:
        return not self._v.keys().isdisjoint(slots)

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
    def zero_usage_with_content(self) -> bool:
        """Usage reported as 0 input and 0 output (0 input for embeddings) on a call with a prompt or a
        completion: no usage at all (OpenLLMetry's Anthropic instrumentation writes 0/0 when the response
        has none), to be counted rather than priced at $0."""
        u = self.usage
        if u.input_tokens != 0 or (u.output_tokens != 0 and not self.is_embedding):
            return False
        return bool(self.prompt_messages() or (not self.is_embedding and self.completion_messages()))

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
    get = values.get
    for slot, seen, operation_of, decides in _KIND_OPERATIONS:
        entry = get(slot)
        if entry is None or entry[1] != _STRING or not entry[2]:
            continue
        value = entry[2]
        operation = seen[value] if value in seen else operation_of(value)
        if operation is not None or decides:
            return operation
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
    p = conventions.PROVIDER_ALIASES.get(p, p)
    if len(_PROVIDERS_SEEN) < 1024:  # spellings seen; bounded against a client sending junk
        _PROVIDERS_SEEN[provider] = p
    return p


# Per-modality slots -> the Usage field they fill.
MODALITIES = {"text_input": "text_input_tokens", "image_input": "image_input_tokens", "audio_input": "audio_input_tokens", "video_input": "video_input_tokens"}
# Usage slots beyond plain input/output counts; spans without any of them take _usage's short path.
USAGE_EXTRAS = frozenset({"total_tokens", "reasoning", *conventions.CACHE_SEMANTICS, *MODALITIES, *conventions.JSON_USAGE})


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
    for slot, name in MODALITIES.items():
        if slot in values:
            setattr(u, name, _count(get(slot), invalid))
    # Cache counts: (tokens, semantics) for reads and writes, the first slot of each that holds a count.
    cache: dict[str, tuple[int, str]] = {}
    for slot, (part, semantics) in conventions.CACHE_SEMANTICS.items():
        if part not in cache:
            count = _count(get(slot), invalid)
            if count is not None:
                cache[part] = (count, semantics)
    output_without_reasoning = False
    for slot, shapes in conventions.JSON_USAGE.items():
        entry = get(slot)
        if entry is not None:
            output_without_reasoning |= _json_usage(u, entry, shapes, cache, invalid)
    if invalid:
        u.invalid = tuple(invalid)
    reported_input = u.input_tokens is not None
    # Only totals reported: recover the missing side.
    if u.total_tokens is not None:
        if u.input_tokens is None and u.output_tokens is not None:
            u.input_tokens = max(0, u.total_tokens - u.output_tokens)
        elif u.output_tokens is None and u.input_tokens is not None:
            u.output_tokens = max(0, u.total_tokens - u.input_tokens)
    read, write = cache.get("read"), cache.get("write")
    u.cache_read_tokens = read[0] if read else None
    u.cache_write_tokens = write[0] if write else None
    if u.input_tokens is not None and cache:
        u.input_tokens += _cache_to_add(u.input_tokens, cache, provider, reported_input)
    if output_without_reasoning and u.output_tokens is not None and u.reasoning_tokens:
        u.output_tokens += u.reasoning_tokens
    return u


_JSON_FIELDS = {"input_tokens": "input_tokens", "output_tokens": "output_tokens", "total_tokens": "total_tokens", "reasoning": "reasoning_tokens", **MODALITIES}


def _cache_to_add(inp: int, cache: dict[str, tuple[int, str]], provider: str | None, reported: bool) -> int:
    """The cached tokens an input count leaves out, so that input_tokens follows OTel (includes the cache)."""
    add = included = native = 0
    for tokens, semantics in cache.values():
        if semantics == "excluded":
            add += tokens if reported else 0  # an input recovered from a total holds them already
        elif semantics == "native":
            native += tokens
        else:
            included += tokens
    # Anthropic's raw input_tokens excludes the cache; other providers' (OpenAI's) include it.
    if native and ((provider or "").startswith("anthropic") or inp < native):
        add += native
    # An input smaller than its own cached part cannot include it.
    if included and inp + add < included:
        add += included
    return add


def _json_usage(u: Usage, entry: tuple[str, int, Any], shapes: tuple[conventions.JsonUsage, ...], cache: dict[str, tuple[int, str]], invalid: list[str]) -> bool:
    """Fills what `u` and `cache` lack from a usage JSON attribute (MLflow, Langfuse); True when the
    output count it gave excludes reasoning."""
    parsed = messages.parse_json(_str(entry))
    if not isinstance(parsed, dict):
        return False
    shape = next((s for s in shapes if not s.when or any(f in parsed for f in s.when)), None)
    if shape is None:
        return False
    key = entry[0]

    def json_count(paths: tuple[str, ...]) -> int | None:
        for path in paths:
            *parents, leaf = path.split(".")
            node: Any = parsed
            for part in parents:
                node = node.get(part) if isinstance(node, dict) else None
            if not isinstance(node, dict) or leaf not in node:
                continue
            count = _as_int(node[leaf])
            if count is None or not 0 <= count <= MAX_TOKENS:
                invalid.append(f"{key}.{path}")
                return None
            return count
        return None

    gave_output = False
    for name, paths in shape.fields.items():
        if name in ("cache_read", "cache_write"):
            part = name[6:]
            if part not in cache:
                count = json_count(paths)
                if count is not None:
                    cache[part] = (count, shape.cache)
            continue
        field_name = _JSON_FIELDS[name]
        if getattr(u, field_name) is None:
            count = json_count(paths)
            setattr(u, field_name, count)
            gave_output |= name == "output_tokens" and count is not None
    u.convention = u.convention or shape.name
    return gave_output and not shape.reasoning_in_output


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
