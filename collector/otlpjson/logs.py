"""The encoder's walk of log requests: ResourceLogs, ScopeLogs and LogRecord, as dicts."""

from __future__ import annotations

from typing import Any

from .base import JSONDict
from .values import _any, _attrs, _resource, _scope


def _log_record(r: Any) -> JSONDict:
    d: JSONDict = {}
    x = r.time_unix_nano
    if x:
        d["timeUnixNano"] = str(x)
    x = r.observed_time_unix_nano
    if x:
        d["observedTimeUnixNano"] = str(x)
    x = r.severity_number
    if x:
        d["severityNumber"] = x
    x = r.severity_text
    if x:
        d["severityText"] = x
    if r.HasField("body"):
        d["body"] = _any(r.body)
    x = r.attributes
    if x:
        d["attributes"] = _attrs(x)
    x = r.dropped_attributes_count
    if x:
        d["droppedAttributesCount"] = x
    x = r.flags
    if x:
        d["flags"] = x
    x = r.trace_id
    if x:
        d["traceId"] = x.hex()
    x = r.span_id
    if x:
        d["spanId"] = x.hex()
    x = r.event_name
    if x:
        d["eventName"] = x
    return d


def _scope_logs(sl: Any) -> JSONDict:
    d: JSONDict = {}
    if sl.HasField("scope"):
        d["scope"] = _scope(sl.scope)
    x = sl.log_records
    if x:
        d["logRecords"] = [_log_record(r) for r in x]
    x = sl.schema_url
    if x:
        d["schemaUrl"] = x
    return d


def _resource_logs(rl: Any) -> JSONDict:
    d: JSONDict = {}
    if rl.HasField("resource"):
        d["resource"] = _resource(rl.resource)
    x = rl.scope_logs
    if x:
        d["scopeLogs"] = [_scope_logs(sl) for sl in x]
    x = rl.schema_url
    if x:
        d["schemaUrl"] = x
    return d
