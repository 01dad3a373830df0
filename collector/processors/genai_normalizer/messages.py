"""OpenInference's flattened messages (`llm.input_messages.N.message.role`, `.content`, `.tool_call_id`,
`.tool_calls.M.tool_call.{id,function.name,function.arguments}`, and the same under `llm.output_messages.`)
rebuilt into the OTel GenAI message JSON (`[{"role", "parts": [...]}]`), as contrib's
genainormalizerprocessor writes it (internal/openinference/messages.go): messages and tool calls in index
order; a message with a tool_call_id is a `tool_call_response` part (role `user` becomes `tool`); one with
tool calls has a `tool_call` part each (arguments parsed when they are JSON); else a `text` part, or no
part for empty content. The JSON is byte for byte Go's encoding/json output (coerce.go_json)."""

from __future__ import annotations

import json
import math
from typing import Any

from .attrs import AttributeMap
from .coerce import as_string, go_json, parse_int


def rebuild(attrs: AttributeMap, prefix: str, target: str, remove_originals: bool, overwrite: bool) -> bool:
    """Writes `target` from the attributes under `prefix`; True if it did."""
    messages: dict[int, dict[str, Any]] = {}
    matched: list[str] = []
    for key, kv in zip(attrs.keys, attrs.items, strict=True):
        if not key.startswith(prefix):
            continue
        index_text, dot, path = key[len(prefix):].partition(".")
        index = parse_int(index_text) if dot else None
        if index is None or not path.startswith("message."):
            continue
        fields = messages.get(index)
        if fields is None:
            fields = messages[index] = {"role": "", "content": "", "tool_call_id": "", "tool_calls": {}}
        _apply(fields, path[len("message."):], as_string(kv.value))
        matched.append(key)
    if not messages:
        return False
    if target in attrs and not overwrite:
        return False
    attrs.put_str(target, go_json([_message(messages[i]) for i in sorted(messages)]))
    if remove_originals:
        for key in matched:
            attrs.remove(key)
    return True


def _apply(fields: dict[str, Any], path: str, value: str) -> None:
    if path in ("role", "content", "tool_call_id"):
        fields[path] = value
    elif path.startswith("tool_calls."):
        index_text, dot, rest = path[len("tool_calls."):].partition(".")
        index = parse_int(index_text) if dot else None
        if index is None or not rest.startswith("tool_call."):
            return
        field = rest[len("tool_call."):]
        if field in ("id", "function.name", "function.arguments"):
            fields["tool_calls"].setdefault(index, {"id": "", "function.name": "", "function.arguments": ""})[field] = value


def _message(fields: dict[str, Any]) -> dict[str, Any]:
    role = fields["role"]
    if fields["tool_call_id"]:
        response = {"type": "tool_call_response", "id": fields["tool_call_id"], "response": fields["content"]}
        return {"role": "tool" if role == "user" else role, "parts": [response]}
    calls = fields["tool_calls"]
    if calls:
        parts = []
        for i in sorted(calls):
            call = calls[i]
            part: dict[str, Any] = {"type": "tool_call"}
            if call["id"]:
                part["id"] = call["id"]
            part["name"] = call["function.name"]
            if call["function.arguments"]:
                arguments = _arguments(call["function.arguments"])
                if arguments is not None:  # JSON null: Go's omitempty leaves it out
                    part["arguments"] = arguments
            parts.append(part)
        return {"role": role, "parts": parts}
    if fields["content"]:
        return {"role": role, "parts": [{"type": "text", "content": fields["content"]}]}
    return {"role": role, "parts": []}


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _arguments(text: str) -> Any:
    """The arguments as Go's json.Unmarshal into an interface{} gives them (numbers are doubles, objects
    maps, marshalled with sorted keys), or the text itself when it is not JSON."""
    try:
        return _as_go(json.loads(text, parse_constant=_reject_constant))
    except (ValueError, OverflowError):  # not JSON, or a number no double holds
        return text


def _as_go(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        number = float(value)
        if math.isinf(number):
            raise OverflowError
        return number
    if isinstance(value, list):
        return [_as_go(v) for v in value]
    return {k: _as_go(value[k]) for k in sorted(value)}
