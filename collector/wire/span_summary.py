"""A trace request read as span summaries: per span only its ids, name, kind, times, trace state, status
code, attributes as key -> serialized AnyValue, and its events' attributes likewise; every other field is
skipped by the parser. Connectors deriving metrics from spans (span_metrics) read a request this way: one
upb parse in C of the request's bytes, no full Span messages, and attribute values as bytes that serve as
hashable keys directly (decoded to AnyValue only for a new series).

A map keeps the last of duplicate keys (a request with a key twice on one span is malformed)."""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from . import fields


def _summary_types(attributes: bool) -> Any:
    """The Request type; without `attributes`, spans are read without their attributes and events (the
    parser skips them, which is most of a span's bytes)."""
    pool = descriptor_pool.DescriptorPool()
    package = "llm_collector.span_summary" + ("" if attributes else "_bare")
    file = descriptor_pb2.FileDescriptorProto(name=f"llm_collector/{package}.proto", package=package, syntax="proto3")
    f = descriptor_pb2.FieldDescriptorProto
    opt, rep = f.LABEL_OPTIONAL, f.LABEL_REPEATED

    def message(name: str, spec: list[tuple[str, int, int, int, str]], parent: Any = None) -> Any:
        m = (parent.nested_type if parent is not None else file.message_type).add(name=name)
        for fname, number, ftype, label, type_name in spec:
            field = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                field.type_name = f".{package}.{type_name}"
        return m

    def attribute_map(owner: Any, number: int) -> None:
        owner.field.add(name="attributes", number=number, type=f.TYPE_MESSAGE, label=rep, type_name=f".{package}.{owner.name}.AttributesEntry")
        entry = message("AttributesEntry", [("key", fields.KeyValue.KEY, f.TYPE_STRING, opt, ""),
                                            ("value", fields.KeyValue.VALUE, f.TYPE_BYTES, opt, "")], owner)
        entry.options.map_entry = True

    span, event = fields.Span, fields.Event
    message("Scope", [("name", fields.InstrumentationScope.NAME, f.TYPE_STRING, opt, ""),
                      ("version", fields.InstrumentationScope.VERSION, f.TYPE_STRING, opt, "")])
    message("Status", [("code", fields.Status.CODE, f.TYPE_INT32, opt, "")])
    attribute_map(message("Event", []), event.ATTRIBUTES)
    summary = message("Span", [
        ("trace_id", span.TRACE_ID, f.TYPE_BYTES, opt, ""),
        ("span_id", span.SPAN_ID, f.TYPE_BYTES, opt, ""),
        ("trace_state", span.TRACE_STATE, f.TYPE_STRING, opt, ""),
        ("name", span.NAME, f.TYPE_STRING, opt, ""),
        ("kind", span.KIND, f.TYPE_INT32, opt, ""),
        ("start_time_unix_nano", span.START_TIME_UNIX_NANO, f.TYPE_FIXED64, opt, ""),
        ("end_time_unix_nano", span.END_TIME_UNIX_NANO, f.TYPE_FIXED64, opt, ""),
        ("status", span.STATUS, f.TYPE_MESSAGE, opt, "Status"),
    ])
    if attributes:
        summary.field.add(name="events", number=span.EVENTS, type=f.TYPE_MESSAGE, label=rep, type_name=f".{package}.Event")
        attribute_map(summary, span.ATTRIBUTES)
    message("ScopeSpans", [("scope", fields.ScopeSpans.SCOPE, f.TYPE_MESSAGE, opt, "Scope"),
                           ("spans", fields.ScopeSpans.SPANS, f.TYPE_MESSAGE, rep, "Span")])
    message("ResourceSpans", [("resource", fields.ResourceSpans.RESOURCE, f.TYPE_BYTES, opt, ""),
                              ("scope_spans", fields.ResourceSpans.SCOPE_SPANS, f.TYPE_MESSAGE, rep, "ScopeSpans")])
    message("Request", [("resource_spans", fields.ExportTraceServiceRequest.RESOURCE_SPANS, f.TYPE_MESSAGE, rep, "ResourceSpans")])
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.Request"))


SummaryRequest = _summary_types(attributes=True)
BareRequest = _summary_types(attributes=False)


def read(payload: bytes, attributes: bool = True) -> Any:
    """The request in `payload` as summaries: .resource_spans[i].resource (Resource bytes),
    .scope_spans[j].scope.name/.version, .spans[k] with the fields above (attributes: str -> AnyValue bytes;
    without `attributes`, no .attributes nor .events)."""
    return (SummaryRequest if attributes else BareRequest).FromString(payload)
