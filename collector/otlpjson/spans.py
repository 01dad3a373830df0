"""The encoder's walk of trace requests: ResourceSpans, ScopeSpans, Span, its events and links, as dicts."""

from __future__ import annotations

from typing import Any

from .base import JSONDict
from .values import _attrs, _resource, _scope


def _event(e: Any) -> JSONDict:
    d: JSONDict = {}
    x = e.time_unix_nano
    if x:
        d["timeUnixNano"] = str(x)
    x = e.name
    if x:
        d["name"] = x
    x = e.attributes
    if x:
        d["attributes"] = _attrs(x)
    x = e.dropped_attributes_count
    if x:
        d["droppedAttributesCount"] = x
    return d


def _link(link: Any) -> JSONDict:
    d: JSONDict = {}
    x = link.trace_id
    if x:
        d["traceId"] = x.hex()
    x = link.span_id
    if x:
        d["spanId"] = x.hex()
    x = link.trace_state
    if x:
        d["traceState"] = x
    x = link.attributes
    if x:
        d["attributes"] = _attrs(x)
    x = link.dropped_attributes_count
    if x:
        d["droppedAttributesCount"] = x
    x = link.flags
    if x:
        d["flags"] = x
    return d


def _span(s: Any) -> JSONDict:
    d: JSONDict = {}
    x = s.trace_id
    if x:
        d["traceId"] = x.hex()
    x = s.span_id
    if x:
        d["spanId"] = x.hex()
    x = s.trace_state
    if x:
        d["traceState"] = x
    x = s.parent_span_id
    if x:
        d["parentSpanId"] = x.hex()
    x = s.flags
    if x:
        d["flags"] = x
    x = s.name
    if x:
        d["name"] = x
    x = s.kind
    if x:
        d["kind"] = x
    x = s.start_time_unix_nano
    if x:
        d["startTimeUnixNano"] = str(x)
    x = s.end_time_unix_nano
    if x:
        d["endTimeUnixNano"] = str(x)
    x = s.attributes
    if x:
        d["attributes"] = _attrs(x)
    x = s.dropped_attributes_count
    if x:
        d["droppedAttributesCount"] = x
    x = s.events
    if x:
        d["events"] = [_event(e) for e in x]
    x = s.dropped_events_count
    if x:
        d["droppedEventsCount"] = x
    x = s.links
    if x:
        d["links"] = [_link(link) for link in x]
    x = s.dropped_links_count
    if x:
        d["droppedLinksCount"] = x
    if s.HasField("status"):
        st = s.status
        sd: JSONDict = {}
        x = st.message
        if x:
            sd["message"] = x
        x = st.code
        if x:
            sd["code"] = x
        d["status"] = sd
    return d


def _scope_spans(ss: Any) -> JSONDict:
    d: JSONDict = {}
    if ss.HasField("scope"):
        d["scope"] = _scope(ss.scope)
    x = ss.spans
    if x:
        d["spans"] = [_span(s) for s in x]
    x = ss.schema_url
    if x:
        d["schemaUrl"] = x
    return d


def _resource_spans(rs: Any) -> JSONDict:
    d: JSONDict = {}
    if rs.HasField("resource"):
        d["resource"] = _resource(rs.resource)
    x = rs.scope_spans
    if x:
        d["scopeSpans"] = [_scope_spans(ss) for ss in x]
    x = rs.schema_url
    if x:
        d["schemaUrl"] = x
    return d
