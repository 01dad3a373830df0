"""OTLP `ExportTraceServiceRequest` → Jaeger api_v2 `Batch`es, following the OTel Collector's translator
(docs/wire-formats.md, "OTLP → Jaeger mapping"):

- one Batch per ResourceSpans; its Process is the resource (`service.name` → service_name, the rest →
  tags; `OTLPResourceNoServiceName` when the resource has no attributes at all);
- span tags in this order: `otel.scope.name`/`otel.scope.version`, the span attributes, `span.kind`,
  `otel.status_code`, `error`, `otel.status_description`, `w3c.tracestate`;
- the parent is the first reference (CHILD_OF); links follow as FOLLOWS_FROM, or CHILD_OF when the link
  says `opentracing.ref_type: child_of` (a link to the parent itself only changes that first reference's
  type, as upstream does);
- events become logs, with an `event` field carrying the name unless an attribute already has that key.

Two additions the reference does not list, both from the OTel specification:
- the W3C sampled bit of the span's flags becomes Jaeger's sampled flag (1), as the current upstream
  translator does;
- non-zero dropped attribute/event/link counts become `otel.dropped_attributes_count`,
  `otel.dropped_events_count` and `otel.dropped_links_count` tags (and an event's dropped attributes a
  log field), per "OpenTelemetry Transformation to non-OTLP Formats"; spans that dropped nothing get no
  such tags, so their output is exactly upstream's.

This runs once per span in Python, so it writes straight into the output messages (`repeated.add(...)`)
instead of building intermediate objects, and resolves every name it calls in a loop once.
"""

from __future__ import annotations

import base64
import json
import math
from decimal import Decimal
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from ..jaeger_proto.api_v2_pb2 import BINARY, BOOL, CHILD_OF, FLOAT64, FOLLOWS_FROM, INT64, Batch

NO_SERVICE_NAME = "OTLPResourceNoServiceName"
_SERVICE_NAME = "service.name"
_SPAN_KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
_STATUS_OK = 1
_STATUS_ERROR = 2
_SAMPLED = 0x01  # W3C trace-flags bit, in the low byte of OTLP's Span.flags
_NANOS = 1_000_000_000


def batches_from_request(request: ExportTraceServiceRequest) -> list[Batch]:
    """One Batch per ResourceSpans that has a resource or scopes, as upstream; a caller that sends them
    skips those without spans."""
    batches = []
    for resource_spans in request.resource_spans:
        attributes = resource_spans.resource.attributes
        if not attributes and not resource_spans.scope_spans:
            continue
        batch = Batch()
        _fill_process(batch.process, attributes)
        spans = batch.spans
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope
            scope_tags = []
            if scope.name:
                scope_tags.append(("otel.scope.name", scope.name))
            if scope.version:
                scope_tags.append(("otel.scope.version", scope.version))
            for span in scope_spans.spans:
                _fill_span(spans.add(), span, scope_tags)
        batches.append(batch)
    return batches


def _fill_process(process: Any, attributes: Any) -> None:
    if not attributes:
        process.service_name = NO_SERVICE_NAME
        return
    tags = process.tags
    for kv in attributes:
        if kv.key == _SERVICE_NAME:
            # Upstream reads it with Str(): a non-string service.name gives an empty name.
            process.service_name = kv.value.string_value
        else:
            _add_tag(tags, kv.key, kv.value)


def _fill_span(out: Any, span: Any, scope_tags: list[tuple[str, str]]) -> None:
    trace_id = span.trace_id
    out.trace_id = trace_id  # OTLP ids are already big-endian bytes, the layout Jaeger's TraceID marshals to
    out.span_id = span.span_id
    out.operation_name = span.name
    if span.flags & _SAMPLED:
        out.flags = 1

    parent = span.parent_span_id
    references = out.references
    if parent:
        references.add(trace_id=trace_id, span_id=parent, ref_type=CHILD_OF)
    for link in span.links:
        ref_type = FOLLOWS_FROM
        for kv in link.attributes:
            if kv.key == "opentracing.ref_type":
                if kv.value.string_value == "child_of":
                    ref_type = CHILD_OF
                break
        if parent and link.span_id == parent and link.trace_id == trace_id:
            references[0].ref_type = ref_type
            continue
        references.add(trace_id=link.trace_id, span_id=link.span_id, ref_type=ref_type)

    start = span.start_time_unix_nano
    start_time = out.start_time
    start_time.seconds, start_time.nanos = divmod(start, _NANOS)
    _set_duration(out.duration, span.end_time_unix_nano - start)

    tags = out.tags
    add = tags.add
    for key, value in scope_tags:
        add(key=key, v_str=value)
    for kv in span.attributes:
        _add_tag(tags, kv.key, kv.value)
    kind = _SPAN_KINDS.get(span.kind)
    if kind is not None:
        add(key="span.kind", v_str=kind)
    status = span.status
    code = status.code
    if code == _STATUS_ERROR:
        add(key="otel.status_code", v_str="ERROR")
        add(key="error", v_type=BOOL, v_bool=True)
    elif code == _STATUS_OK:
        add(key="otel.status_code", v_str="OK")
    if status.message:
        add(key="otel.status_description", v_str=status.message)
    if span.trace_state:
        add(key="w3c.tracestate", v_str=span.trace_state)
    if span.dropped_attributes_count:
        add(key="otel.dropped_attributes_count", v_type=INT64, v_int64=span.dropped_attributes_count)
    if span.dropped_events_count:
        add(key="otel.dropped_events_count", v_type=INT64, v_int64=span.dropped_events_count)
    if span.dropped_links_count:
        add(key="otel.dropped_links_count", v_type=INT64, v_int64=span.dropped_links_count)

    if span.events:
        logs = out.logs
        for event in span.events:
            log = logs.add()
            timestamp = log.timestamp
            timestamp.seconds, timestamp.nanos = divmod(event.time_unix_nano, _NANOS)
            fields = log.fields
            if event.name and not any(kv.key == "event" for kv in event.attributes):
                fields.add(key="event", v_str=event.name)
            for kv in event.attributes:
                _add_tag(fields, kv.key, kv.value)
            if event.dropped_attributes_count:
                fields.add(key="otel.dropped_attributes_count", v_type=INT64, v_int64=event.dropped_attributes_count)


def _set_duration(duration: Any, nanos: int) -> None:
    # google.protobuf.Duration wants seconds and nanos of the same sign; an end before the start is
    # passed on as a negative duration rather than hidden.
    if nanos >= 0:
        duration.seconds, duration.nanos = divmod(nanos, _NANOS)
    else:
        seconds, rest = divmod(-nanos, _NANOS)
        duration.seconds, duration.nanos = -seconds, -rest


def _add_tag(dest: Any, key: str, value: Any) -> None:
    which = value.WhichOneof("value")
    if which == "string_value":
        dest.add(key=key, v_str=value.string_value)
    elif which == "int_value":
        dest.add(key=key, v_type=INT64, v_int64=value.int_value)
    elif which == "bool_value":
        dest.add(key=key, v_type=BOOL, v_bool=value.bool_value)
    elif which == "double_value":
        dest.add(key=key, v_type=FLOAT64, v_float64=value.double_value)
    elif which == "bytes_value":
        dest.add(key=key, v_type=BINARY, v_binary=value.bytes_value)
    elif which in ("kvlist_value", "array_value"):
        dest.add(key=key, v_str=_json(_raw(value)))
    else:  # an empty AnyValue: upstream leaves the tag as an empty STRING
        dest.add(key=key)


# --- maps and arrays as the JSON text upstream produces (Go's encoding/json over pdata's AsRaw) ---


class _GoFloat(float):
    """Marks a double so the encoder writes it the way Go does (1 not 1.0, 1e-7 not 1e-07)."""


def _raw(value: Any) -> Any:
    which = value.WhichOneof("value")
    if which == "string_value":
        return value.string_value
    if which == "int_value":
        return value.int_value
    if which == "bool_value":
        return value.bool_value
    if which == "double_value":
        return _GoFloat(value.double_value)
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")  # Go marshals []byte as base64
    if which == "array_value":
        return [_raw(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _raw(kv.value) for kv in value.kvlist_value.values}
    return None


def _go_float_text(number: float) -> str:
    if math.isnan(number) or math.isinf(number):
        # Go's encoding/json refuses these; a string keeps the rest of the value readable.
        return json.dumps("NaN" if math.isnan(number) else ("+Inf" if number > 0 else "-Inf"))
    text = repr(number)
    magnitude = abs(number)
    if magnitude == 0 or 1e-6 <= magnitude < 1e21:
        if "e" in text:
            text = format(Decimal(text), "f")
        return text[:-2] if text.endswith(".0") else text
    mantissa, _, exponent = text.partition("e")
    if exponent.startswith("-0"):  # Go's encoder writes 1e-7 where strconv (and repr) write 1e-07
        exponent = "-" + exponent[2:]
    return f"{mantissa}e{exponent}"


def _encode(o: Any) -> Any:
    if isinstance(o, _GoFloat):
        yield _go_float_text(o)
    elif isinstance(o, dict):
        yield "{"
        for i, key in enumerate(sorted(o)):  # Go sorts map keys
            if i:
                yield ","
            yield json.dumps(key, ensure_ascii=False)
            yield ":"
            yield from _encode(o[key])
        yield "}"
    elif isinstance(o, list):
        yield "["
        for i, item in enumerate(o):
            if i:
                yield ","
            yield from _encode(item)
        yield "]"
    else:
        yield json.dumps(o, ensure_ascii=False)


# Go's encoder escapes these even inside strings (HTML safety and JavaScript line terminators).
_GO_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _json(raw: Any) -> str:
    return "".join(_encode(raw)).translate(_GO_ESCAPES)
