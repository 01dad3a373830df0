"""The sources beyond contrib (mlflow, langtrace, langfuse, anthropic): a span carrying one of the source's
marker keys gets, under OTel GenAI names, what the GenAI view (collector/genai/view.py) reads from it: the
operation, the provider (normalised), the request and response models, usage (with the view's cache
semantics: input includes cache reads and writes), finish reasons, and the prompt and completion messages
when the span has none under OTel names. Whatever convention the view learns, these sources write.

A target the span already has is left as is (unless `overwrite`); usage is written as a whole or not at all,
so a span never ends up with input and cache counts of two different conventions. With `remove_originals`,
the keys the view read a written value from are removed if the source owns them (sources/<name>.py)."""

from __future__ import annotations

import json
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from ...genai.tokens import ChatMessage
from ...genai.view import GenAIView
from .attrs import AttributeMap
from .plan import ViewSource

# target -> the view slots its value is read from (the keys `remove_originals` considers).
_USAGE: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("gen_ai.usage.input_tokens", "input_tokens", ("input_tokens", "mlflow_usage", "langfuse_usage")),
    ("gen_ai.usage.output_tokens", "output_tokens", ("output_tokens", "mlflow_usage", "langfuse_usage")),
    ("gen_ai.usage.cache_read.input_tokens", "cache_read_tokens", ("cache_read", "native_cache_read", "mlflow_usage", "langfuse_usage")),
    ("gen_ai.usage.cache_creation.input_tokens", "cache_write_tokens", ("cache_write", "native_cache_write", "mlflow_usage", "langfuse_usage")),
    ("gen_ai.usage.reasoning.output_tokens", "reasoning_tokens", ("reasoning",)),
)
_OPERATION_SLOTS: tuple[str, ...] = ("operation", "oi_kind", "mlflow_kind", "langfuse_type", "traceloop_kind", "request_type")


def apply(span: Any, attrs: AttributeMap, source: ViewSource) -> bool:
    """One view source on the span (whose attributes `attrs` holds); True if it wrote anything."""
    if not any(marker in attrs for marker in source.markers):
        return False
    view = GenAIView.of(span)
    if view is None:
        return False
    writes: list[tuple[str, AnyValue, tuple[str, ...]]] = []
    names: tuple[tuple[str, str | None, tuple[str, ...]], ...] = (
        ("gen_ai.operation.name", view.operation, _OPERATION_SLOTS),
        ("gen_ai.provider.name", view.provider, ("provider",)),
        ("gen_ai.request.model", view.request_model, ("request_model",)),
        ("gen_ai.response.model", view.response_model, ("response_model",)),
    )
    for target, text, slots in names:
        if text:
            writes.append((target, AnyValue(string_value=text), slots))
    writes.extend(_usage(view, attrs, source.overwrite))
    reasons = view.finish_reasons
    if reasons:
        array = AnyValue()
        for reason in reasons:
            array.array_value.values.add().string_value = reason
        writes.append(("gen_ai.response.finish_reasons", array, ("finish_reasons",)))
    for target, read in (("gen_ai.input.messages", view.prompt_messages), ("gen_ai.output.messages", view.completion_messages)):
        if target not in attrs:  # never rebuilt from themselves, whatever `overwrite` says
            found = read()
            if found:
                writes.append((target, AnyValue(string_value=_messages_json(found, reasons if target.startswith("gen_ai.output") else [])), ()))
    wrote = False
    consumed: set[str] = set()
    for target, new, read_from in writes:
        existing = attrs.get(target)
        if existing is not None and (existing == new or not source.overwrite):
            continue
        attrs.put(target, new)
        wrote = True
        for slot in read_from:
            key = view.key_of(slot)
            if key is not None and key != target:
                consumed.add(key)
    if source.remove_originals:
        for key in consumed:
            if source.owns(key):
                attrs.remove(key)
    return wrote


def _usage(view: GenAIView, attrs: AttributeMap, overwrite: bool) -> list[tuple[str, AnyValue, tuple[str, ...]]]:
    usage = view.usage
    out: list[tuple[str, AnyValue, tuple[str, ...]]] = []
    for target, field, slots in _USAGE:
        count = getattr(usage, field)
        if count is None:
            continue
        value = AnyValue(int_value=count)
        existing = attrs.get(target)
        if existing is not None and existing != value and not overwrite:
            return []  # the span's own counts stay, and no count of another convention joins them
        out.append((target, value, slots))
    return out


def _messages_json(found: list[ChatMessage], finish_reasons: list[str]) -> str:
    out = []
    for i, message in enumerate(found):
        parts: list[dict[str, Any]] = []
        if message.content:
            parts.append({"type": "text", "content": message.content})
        for name, arguments in message.tool_calls:
            try:
                parsed: Any = json.loads(arguments) if arguments else None
            except ValueError:
                parsed = arguments
            part: dict[str, Any] = {"type": "tool_call", "name": name}
            if parsed is not None:
                part["arguments"] = parsed
            parts.append(part)
        entry: dict[str, Any] = {"role": message.role, "parts": parts}
        if message.name:
            entry["name"] = message.name
        if i < len(finish_reasons):
            entry["finish_reason"] = finish_reasons[i]
        out.append(entry)
    return json.dumps(out, ensure_ascii=False, separators=(",", ":"))
