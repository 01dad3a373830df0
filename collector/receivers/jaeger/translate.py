"""Jaeger spans -> OTLP `ExportTraceServiceRequest`, as otelcol-contrib's pkg/translator/jaeger does it:
jaegerproto_to_traces.go (ProtoToTraces, for gRPC api_v2 batches) and jaegerthrift_to_traces.go (ThriftToTraces,
for thrift_http and the UDP agent ports). The two differ where contrib's differ:

- api_v2 batches are regrouped by process (a span may carry its own), and each resource splits its spans into
  scopes by their `otel.scope.name`/`otel.scope.version` tags (which are removed); `w3c.tracestate` becomes the
  trace state. A process named `OTLPResourceNoServiceName` (what the jaeger exporter writes for a resource
  without attributes) gives an empty resource.
- a Thrift batch is one resource with one unnamed scope; its scope and tracestate tags stay attributes.

Common to both: the process's service name becomes `service.name`, its tags the resource attributes, `hostname`
becomes `host.name` and `jaeger.version` becomes `opencensus.exporterversion: Jaeger-<version>` (unless those are
already there); the `span.kind` tag gives the kind; the status comes from `error: true` (then
`otel.status_description` or `http.status_message` is its message), else `otel.status_code` OK/ERROR, else an
`http.status_code` outside 100-398 (4xx on a server span leaves it unset); logs become events named by their
`event` field; the parent is the first CHILD_OF reference in the same trace (Thrift: parentSpanId first), else
the first FOLLOWS_FROM; the other references become links with `opentracing.ref_type`; Jaeger's sampled flag
becomes the W3C sampled bit. Attribute maps behave as pdata's: a repeated key overwrites in place and removing a
key moves the last attribute into its slot.

Spans otelcol would pass on with ids OTLP forbids (a trace or span id missing, of the wrong length or all
zeros) are refused one by one instead, as the otlp receiver refuses them; the rest of their batch goes on.
"""

from __future__ import annotations

import re
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from ...jaeger_proto import api_v2_pb2
from . import thrift

NO_SERVICE_NAME = "OTLPResourceNoServiceName"
_KINDS = {"client": 3, "server": 2, "producer": 4, "consumer": 5, "internal": 1}
_SERVER, _CLIENT = 2, 3
_STATUS_OK, _STATUS_ERROR = 1, 2
_SAMPLED = 0x01
_U64 = (1 << 64) - 1
_ZERO8 = bytes(8)
_INT64 = re.compile(r"[+-]?[0-9]+\Z")  # what Go's strconv.ParseInt(s, 10, 0) accepts
_PROTO_TYPE_NAMES = {v.number: v.name for v in api_v2_pb2.ValueType.DESCRIPTOR.values}
_THRIFT_TYPE_NAMES = {thrift.TAG_STRING: "STRING", thrift.TAG_DOUBLE: "DOUBLE", thrift.TAG_BOOL: "BOOL", thrift.TAG_LONG: "LONG", thrift.TAG_BINARY: "BINARY"}

# Attribute values, tagged: ("s", str), ("b", bool), ("i", int), ("d", float), ("y", bytes).
Value = tuple[str, Any]


class Attrs:
    """An ordered attribute map that changes the way pdata's pcommon.Map does (Put overwrites in place,
    Remove moves the last entry into the removed one's slot), so the output order is otelcol's."""

    __slots__ = ("items", "index")

    def __init__(self) -> None:
        self.items: list[list[Any]] = []
        self.index: dict[str, int] = {}

    def put(self, key: str, value: Value) -> None:
        i = self.index.get(key)
        if i is None:
            self.index[key] = len(self.items)
            self.items.append([key, value])
        else:
            self.items[i][1] = value

    def get(self, key: str) -> Value | None:
        i = self.index.get(key)
        return None if i is None else self.items[i][1]

    def remove(self, key: str) -> None:
        i = self.index.pop(key, None)
        if i is None:
            return
        last = self.items.pop()
        if i < len(self.items):
            self.items[i] = last
            self.index[last[0]] = i

    def write(self, out: Any) -> None:
        """Into a repeated KeyValue field."""
        for key, (kind, value) in self.items:
            v = out.add(key=key).value
            if kind == "s":
                v.string_value = value
            elif kind == "b":
                v.bool_value = value
            elif kind == "i":
                v.int_value = value
            elif kind == "d":
                v.double_value = value
            else:
                v.bytes_value = value


def _str(value: Value | None) -> str:
    """pcommon.Value.Str(): the string of a string value, "" for any other type."""
    return value[1] if value is not None and value[0] == "s" else ""


# ----------------------------------------------------------------------------------------- shared

def _resource(attrs: Attrs, service_name: str) -> Attrs:
    """jProcessToInternalResource's tail: service.name first, then the tags, then the special keys."""
    out = Attrs()
    if service_name:
        out.put("service.name", ("s", service_name))
    for key, value in attrs.items:
        out.put(key, value)
    hostname = out.get("hostname")
    if hostname is not None and out.get("host.name") is None:
        out.put("host.name", hostname)
        out.remove("hostname")
    version = out.get("jaeger.version")
    if version is not None and out.get("opencensus.exporterversion") is None:
        out.put("opencensus.exporterversion", ("s", "Jaeger-" + _str(version)))
        out.remove("jaeger.version")
    return out


def _http_code(value: Value) -> int | None:
    """codeFromAttr: an int, or a string ParseInt reads; None for anything else."""
    kind, raw = value
    if kind == "i":
        return int(raw)
    if kind == "s" and _INT64.match(raw):
        code = int(raw)
        return code if -(1 << 63) <= code < (1 << 63) else None
    return None


def _status(attrs: Attrs, kind: int, status: Any) -> None:
    """setInternalSpanStatus."""
    code, message, exists = 0, "", False
    error = attrs.get("error")
    if error is not None and error[0] == "b" and error[1]:
        code, exists = _STATUS_ERROR, True
        attrs.remove("error")
        desc = attrs.get("otel.status_description")
        if desc is not None:
            message = _str(desc)
            attrs.remove("otel.status_description")
        else:
            message = _str(attrs.get("http.status_message"))
    otel_code = attrs.get("otel.status_code")
    if otel_code is not None:
        if not exists:
            exists = True
            upper = _str(otel_code).upper()
            code = _STATUS_OK if upper == "OK" else _STATUS_ERROR if upper == "ERROR" else 0
            desc = attrs.get("otel.status_description")
            if desc is not None:
                message = _str(desc)
                attrs.remove("otel.status_description")
        attrs.remove("otel.status_code")
    elif not exists and (http_status := attrs.get("http.status_code")) is not None:
        number = _http_code(http_status)
        if number is not None:
            if 400 <= number < 500 and kind in (_CLIENT, _SERVER):
                from_http = _STATUS_ERROR if kind == _CLIENT else 0
            else:
                from_http = 0 if 100 <= number < 399 else _STATUS_ERROR
            if from_http:
                exists, code = True, from_http
            msg = attrs.get("http.status_message")
            if msg is not None:
                message = _str(msg)
    if exists:
        status.code = code
        status.message = message


def _finish_span(out: Any, attrs: Attrs) -> None:
    """Kind and status from the tags, then the attributes that remain."""
    kind_tag = attrs.get("span.kind")
    if kind_tag is not None:
        out.kind = _KINDS.get(_str(kind_tag), 0)
        attrs.remove("span.kind")
    _status(attrs, out.kind, out.status)


def _event(out: Any, time_unix_nano: int, attrs: Attrs) -> None:
    out.time_unix_nano = time_unix_nano & _U64
    name = attrs.get("event")
    if name is not None:
        out.name = _str(name)
        attrs.remove("event")
    attrs.write(out.attributes)


def _links(out: Any, refs: list[tuple[int, bytes, bytes]], parent: bytes | None) -> None:
    """jReferencesToSpanLinks: refs are (ref type, trace id, span id); the CHILD_OF reference to the parent is
    not a link (compared by span id only, as upstream; with no parent, a CHILD_OF reference to span id 0)."""
    if parent is None:
        parent = _ZERO8
    for ref_type, trace_id, span_id in refs:
        if ref_type == thrift.CHILD_OF and span_id == parent:
            continue
        link = out.add(trace_id=trace_id, span_id=span_id)
        link.attributes.add(key="opentracing.ref_type").value.string_value = "child_of" if ref_type == thrift.CHILD_OF else "follows_from"


def _valid_ids(trace_id: bytes, span_id: bytes) -> bool:
    return len(trace_id) == 16 and len(span_id) == 8 and any(trace_id) and any(span_id)


BAD_IDS = ("span(s) with a missing, all-zero or wrong-length trace or span id (need 16 and 8 bytes, not all zero), "
           "or without a required Thrift field")


# ----------------------------------------------------------------------------------------- api_v2 (gRPC)

def _proto_tags(tags: Any, out: Attrs) -> None:
    """jTagsToInternalAttributes."""
    for tag in tags:
        t = tag.v_type
        if t == api_v2_pb2.STRING:
            out.put(tag.key, ("s", tag.v_str))
        elif t == api_v2_pb2.BOOL:
            out.put(tag.key, ("b", tag.v_bool))
        elif t == api_v2_pb2.INT64:
            out.put(tag.key, ("i", tag.v_int64))
        elif t == api_v2_pb2.FLOAT64:
            out.put(tag.key, ("d", tag.v_float64))
        elif t == api_v2_pb2.BINARY:
            out.put(tag.key, ("y", tag.v_binary))
        else:  # gogo's enum String() of an unknown value is its number
            out.put(tag.key, ("s", f'<Unknown Jaeger TagType "{_PROTO_TYPE_NAMES.get(t, t)}">'))


def _proto_process_key(process: Any | None) -> bytes | None:
    return None if process is None else process.SerializeToString(deterministic=True)


def from_proto(batch: Any) -> tuple[ExportTraceServiceRequest, int]:
    """ProtoToTraces([batch]): the request, and how many spans were refused for their ids."""
    request = ExportTraceServiceRequest()
    # regroup: one resource per distinct process, a span's own process taking precedence over the batch's.
    batch_process = batch.process if batch.HasField("process") else None
    groups: dict[bytes | None, tuple[Any, list[Any]]] = {}
    key = _proto_process_key(batch_process)
    groups[key] = (batch_process, [])
    for span in batch.spans:
        if span.HasField("process"):
            own = _proto_process_key(span.process)
            groups.setdefault(own, (span.process, []))[1].append(span)
        else:
            groups[key][1].append(span)
    refused = 0
    for process, spans in groups.values():
        if process is None and not spans:
            continue
        rs = request.resource_spans.add()
        if process is not None and process.service_name != NO_SERVICE_NAME and (process.service_name or process.tags):
            process_tags = Attrs()
            _proto_tags(process.tags, process_tags)
            _resource(process_tags, process.service_name).write(rs.resource.attributes)
        scopes: dict[tuple[str, str], Any] = {}
        for span in spans:
            if span.ByteSize() == 0:
                continue
            tags = list(span.tags)
            scope = _take_scope(tags)
            if not _valid_ids(span.trace_id, span.span_id) or any(len(r.trace_id) != 16 or len(r.span_id) != 8 for r in span.references):
                refused += 1
                continue
            ss = scopes.get(scope)
            if ss is None:
                ss = scopes[scope] = rs.scope_spans.add()
                ss.scope.name, ss.scope.version = scope
            _proto_span(span, tags, ss.spans.add())
    return request, refused


def _take_scope(tags: list[Any]) -> tuple[str, str]:
    """getScope: the first otel.scope.name tag (its v_str, whatever its type), then otel.scope.version; both
    are taken out of the tags."""
    name = _take_tag(tags, "otel.scope.name")
    if name is None:
        return "", ""
    return name, _take_tag(tags, "otel.scope.version") or ""


def _take_tag(tags: list[Any], key: str) -> str | None:
    for i, tag in enumerate(tags):
        if tag.key == key:
            del tags[i]
            return str(tag.v_str)
    return None


def _proto_parent(span: Any) -> bytes | None:
    """Jaeger's Span.ParentSpanID(): the first CHILD_OF reference within the span's trace, else the first
    FOLLOWS_FROM one."""
    follows = None
    for ref in span.references:
        if ref.trace_id != span.trace_id:
            continue
        if ref.ref_type == api_v2_pb2.CHILD_OF:
            return bytes(ref.span_id)
        if follows is None and ref.ref_type == api_v2_pb2.FOLLOWS_FROM:
            follows = bytes(ref.span_id)
    return follows


def _proto_span(span: Any, tags: list[Any], out: Any) -> None:
    out.trace_id = span.trace_id
    out.span_id = span.span_id
    out.name = span.operation_name
    start = span.start_time.seconds * 1_000_000_000 + span.start_time.nanos
    out.start_time_unix_nano = start & _U64
    out.end_time_unix_nano = (start + span.duration.seconds * 1_000_000_000 + span.duration.nanos) & _U64
    if span.flags & _SAMPLED:
        out.flags = _SAMPLED
    parent = _proto_parent(span)
    if parent is not None and any(parent):
        out.parent_span_id = parent
    attrs = Attrs()
    _proto_tags(tags, attrs)
    _finish_span(out, attrs)
    state = attrs.get("w3c.tracestate")
    if state is not None:
        out.trace_state = _str(state)
        attrs.remove("w3c.tracestate")
    attrs.write(out.attributes)
    for log in span.logs:
        fields = Attrs()
        _proto_tags(log.fields, fields)
        _event(out.events.add(), log.timestamp.seconds * 1_000_000_000 + log.timestamp.nanos, fields)
    _links(out.links, [(r.ref_type, r.trace_id, r.span_id) for r in span.references], parent)


# ----------------------------------------------------------------------------------------- Thrift

def _thrift_tags(tags: list[thrift.Tag] | None, out: Attrs) -> None:
    """jThriftTagsToInternalAttributes."""
    for tag in tags or ():
        t = tag.v_type
        if t == thrift.TAG_STRING:
            out.put(tag.key, ("s", tag.value))
        elif t == thrift.TAG_BOOL:
            out.put(tag.key, ("b", tag.value))
        elif t == thrift.TAG_LONG:
            out.put(tag.key, ("i", tag.value))
        elif t == thrift.TAG_DOUBLE:
            out.put(tag.key, ("d", tag.value))
        elif t == thrift.TAG_BINARY:
            out.put(tag.key, ("y", tag.value))
        else:  # Thrift's generated String() of an unknown enum value
            out.put(tag.key, ("s", f'<Unknown Jaeger TagType "{_THRIFT_TYPE_NAMES.get(t, "<UNSET>")}">'))


def _id(high: int, low: int) -> bytes:
    return (high & _U64).to_bytes(8, "big") + (low & _U64).to_bytes(8, "big")


def _span_id(value: int) -> bytes:
    return (value & _U64).to_bytes(8, "big")


def _thrift_parent(span: thrift.Span) -> int:
    """jThriftSpanParentID: parentSpanId, else the first CHILD_OF reference within the trace, else the first
    FOLLOWS_FROM one."""
    if span.parent_span_id:
        return span.parent_span_id
    follows = None
    for ref in span.references or ():
        if ref.trace_id_high != span.trace_id_high or ref.trace_id_low != span.trace_id_low:
            continue
        if ref.ref_type == thrift.CHILD_OF:
            return ref.span_id
        if follows is None and ref.ref_type == thrift.FOLLOWS_FROM:
            follows = ref.span_id
    return follows or 0


def from_thrift(batch: thrift.Batch) -> tuple[ExportTraceServiceRequest, int]:
    """ThriftToTraces(batch): the request, and how many spans were refused (for their ids, or a required field
    missing)."""
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    process = batch.process
    if process.service_name or process.tags is not None:
        tags = Attrs()
        _thrift_tags(process.tags, tags)
        _resource(tags, process.service_name).write(rs.resource.attributes)
    if not batch.spans:
        return request, batch.refused
    spans = rs.scope_spans.add().spans
    refused = batch.refused
    for span in batch.spans:  # the reader left out blank spans (jThriftSpansToInternal skips them)
        trace_id, span_id = _id(span.trace_id_high, span.trace_id_low), _span_id(span.span_id)
        if not _valid_ids(trace_id, span_id):
            refused += 1
            continue
        _thrift_span(span, trace_id, span_id, spans.add())
    return request, refused


def _thrift_span(span: thrift.Span, trace_id: bytes, span_id: bytes, out: Any) -> None:
    out.trace_id = trace_id
    out.span_id = span_id
    out.name = span.operation_name
    out.start_time_unix_nano = (span.start_time * 1000) & _U64
    out.end_time_unix_nano = ((span.start_time + span.duration) * 1000) & _U64
    if span.flags & _SAMPLED:
        out.flags = _SAMPLED
    parent = _thrift_parent(span)
    parent_id = _span_id(parent) if parent else None
    if parent_id is not None:
        out.parent_span_id = parent_id
    attrs = Attrs()
    _thrift_tags(span.tags, attrs)
    _finish_span(out, attrs)
    attrs.write(out.attributes)
    for log in span.logs or ():
        fields = Attrs()
        _thrift_tags(log.fields, fields)
        _event(out.events.add(), log.timestamp * 1000, fields)
    refs = [(r.ref_type, _id(r.trace_id_high, r.trace_id_low), _span_id(r.span_id)) for r in span.references or ()]
    _links(out.links, refs, parent_id)
