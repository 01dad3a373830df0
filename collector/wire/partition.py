"""An OTLP request's bytes split into one request per owner, without parsing spans, log records or metrics
into Python objects: the load_balancing exporter's wire walk.

The request is cut at its field boundaries by upb (a message type of our own whose resources, scopes and items
are `bytes`, the same field numbers for traces, logs and metrics), each item's or resource's routing key is read
from its bytes, and each owner's request is framed from the original bytes of its resources, scopes and items.
A resource or scope whose items go to several owners is copied into each owner's request; nothing else is
re-encoded. Fields of ResourceX / ScopeX other than resource/scope, items and schema_url do not exist in
opentelemetry-proto v1 and are not carried.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from . import fields
from .encode import tag_bytes, varint

NO_TRACE_ID = bytes(16)  # what otelcol hashes for an item without a trace id (an empty pcommon.TraceID)
_SPAN_TRACE_ID = bytes((fields.tag(fields.Span.TRACE_ID, fields.LEN), 16))
_T1, _T2, _T3 = tag_bytes(1), tag_bytes(2), tag_bytes(3)


def _cut_types() -> tuple[Any, ...]:
    """(RequestCut, SpanKey, LogKey, RequestRaw, ResourceHead): RequestCut reads any Export*ServiceRequest with
    resource (1), scopes (2), schema_url (3) and scope (1), items (2), schema_url (3) as bytes and strings;
    SpanKey and LogKey read only the trace id of a span (field 1) or a log record (field 9); RequestRaw cuts a
    request into its resources' bytes and ResourceHead reads only a resource's Resource."""
    pool = descriptor_pool.DescriptorPool()
    package = "llm_collector.partition"
    file = descriptor_pb2.FileDescriptorProto(name="llm_collector/partition_wire.proto", package=package, syntax="proto3")
    f = descriptor_pb2.FieldDescriptorProto
    BYTES, STRING, MESSAGE = f.TYPE_BYTES, f.TYPE_STRING, f.TYPE_MESSAGE
    OPT, REP = f.LABEL_OPTIONAL, f.LABEL_REPEATED

    def message(name: str, spec: list[tuple[str, int, int, int, str]]) -> None:
        m = file.message_type.add(name=name)
        for fname, number, ftype, label, type_name in spec:
            field = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                field.type_name = type_name

    message("ScopeCut", [("scope", 1, BYTES, OPT, ""), ("items", 2, BYTES, REP, ""), ("schema_url", 3, STRING, OPT, "")])
    message("ResourceCut", [("resource", 1, BYTES, OPT, ""), ("scopes", 2, MESSAGE, REP, f".{package}.ScopeCut"), ("schema_url", 3, STRING, OPT, "")])
    message("RequestCut", [("resources", 1, MESSAGE, REP, f".{package}.ResourceCut")])
    message("SpanKey", [("trace_id", fields.Span.TRACE_ID, BYTES, OPT, "")])
    message("LogKey", [("trace_id", fields.LogRecord.TRACE_ID, BYTES, OPT, "")])
    message("RequestRaw", [("resources", 1, BYTES, REP, "")])
    message("ResourceHead", [("resource", 1, BYTES, OPT, "")])
    pool.Add(file)
    names = ("RequestCut", "SpanKey", "LogKey", "RequestRaw", "ResourceHead")
    return tuple(message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.{n}")) for n in names)


_RequestCut, _SpanKey, _LogKey, _RequestRaw, _ResourceHead = _cut_types()


def _field(tag: bytes, payload: bytes) -> bytes:
    return tag + varint(len(payload)) + payload


def _frame_scope(scope: Any, items: list[bytes]) -> bytes:
    out = [_field(_T1, scope.scope)] if scope.scope else []
    out += [_field(_T2, item) for item in items]
    if scope.schema_url:
        out.append(_field(_T3, scope.schema_url.encode()))
    return b"".join(out)


def _frame_resource(resource: Any, scopes: list[bytes]) -> bytes:
    out = [_field(_T1, resource.resource)] if resource.resource else []
    out += [_field(_T2, scope) for scope in scopes]
    if resource.schema_url:
        out.append(_field(_T3, resource.schema_url.encode()))
    return _field(_T1, b"".join(out))


def span_trace_id(raw: bytes) -> bytes:
    """A serialized span's trace id (NO_TRACE_ID when it has none). Senders write field 1 first, so the
    usual span is read by a slice; any other order goes through upb."""
    if raw[:2] == _SPAN_TRACE_ID:
        return raw[2:18]
    return _SpanKey.FromString(raw).trace_id or NO_TRACE_ID


def log_trace_id(raw: bytes) -> bytes:
    """A serialized log record's trace id, or b"" when it has none."""
    return _LogKey.FromString(raw).trace_id


def by_item(payload: bytes, item_key: Callable[[bytes], bytes], owner_of: Callable[[bytes], str]) -> dict[str, bytes]:
    """One request per owner: each item (span, log record) goes where `owner_of(item_key(item bytes))` says,
    with its resource and scope. The owner of each distinct key is asked once."""
    owners: dict[bytes, str] = {}
    out: dict[str, list[bytes]] = {}
    for resource in _RequestCut.FromString(payload).resources:
        scopes_by_owner: dict[str, list[bytes]] = {}
        for scope in resource.scopes:
            items_by_owner: dict[str, list[bytes]] = {}
            for raw in scope.items:
                key = item_key(raw)
                owner = owners.get(key)
                if owner is None:
                    owner = owners[key] = owner_of(key)
                group = items_by_owner.get(owner)
                if group is None:
                    items_by_owner[owner] = [raw]
                else:
                    group.append(raw)
            for owner, items in items_by_owner.items():
                scopes_by_owner.setdefault(owner, []).append(_frame_scope(scope, items))
        for owner, scopes in scopes_by_owner.items():
            out.setdefault(owner, []).append(_frame_resource(resource, scopes))
    return {owner: b"".join(parts) for owner, parts in out.items()}


def by_resource(payload: bytes, owner_of: Callable[[bytes], str]) -> dict[str, bytes]:
    """One request per owner: each whole resource (ResourceSpans / ResourceLogs / ResourceMetrics) goes where
    `owner_of(resource bytes)` says. `owner_of` may raise; the error is the caller's."""
    out: dict[str, list[bytes]] = {}
    for raw in _RequestRaw.FromString(payload).resources:
        out.setdefault(owner_of(_ResourceHead.FromString(raw).resource), []).append(_field(_T1, raw))
    return {owner: b"".join(parts) for owner, parts in out.items()}
