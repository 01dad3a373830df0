"""The encoder's walk of metric requests: ResourceMetrics, ScopeMetrics, Metric and each kind of data point
(number, histogram, exponential histogram, summary) with its exemplars, as dicts."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .base import JSONDict, OTLPJSONError
from .values import _attrs, _f64, _f64_list, _f64_set, _resource, _scope


def _exemplar(e: Any) -> JSONDict:
    d: JSONDict = {}
    x = e.filtered_attributes
    if x:
        d["filteredAttributes"] = _attrs(x)
    x = e.time_unix_nano
    if x:
        d["timeUnixNano"] = str(x)
    w = e.WhichOneof("value")
    if w == "as_double":
        d["asDouble"] = _f64(e.as_double)
    elif w == "as_int":
        d["asInt"] = str(e.as_int)
    x = e.span_id
    if x:
        d["spanId"] = x.hex()
    x = e.trace_id
    if x:
        d["traceId"] = x.hex()
    return d


def _number_point(p: Any) -> JSONDict:
    d: JSONDict = {}
    x = p.attributes
    if x:
        d["attributes"] = _attrs(x)
    x = p.start_time_unix_nano
    if x:
        d["startTimeUnixNano"] = str(x)
    x = p.time_unix_nano
    if x:
        d["timeUnixNano"] = str(x)
    w = p.WhichOneof("value")
    if w == "as_double":
        d["asDouble"] = _f64(p.as_double)
    elif w == "as_int":
        d["asInt"] = str(p.as_int)
    x = p.exemplars
    if x:
        d["exemplars"] = [_exemplar(e) for e in x]
    x = p.flags
    if x:
        d["flags"] = x
    return d


def _histogram_point(p: Any) -> JSONDict:
    d: JSONDict = {}
    x = p.attributes
    if x:
        d["attributes"] = _attrs(x)
    x = p.start_time_unix_nano
    if x:
        d["startTimeUnixNano"] = str(x)
    x = p.time_unix_nano
    if x:
        d["timeUnixNano"] = str(x)
    x = p.count
    if x:
        d["count"] = str(x)
    if p.HasField("sum"):
        d["sum"] = _f64(p.sum)
    x = p.bucket_counts
    if x:
        d["bucketCounts"] = [str(c) for c in x]
    x = p.explicit_bounds
    if x:
        d["explicitBounds"] = _f64_list(x)
    x = p.exemplars
    if x:
        d["exemplars"] = [_exemplar(e) for e in x]
    x = p.flags
    if x:
        d["flags"] = x
    if p.HasField("min"):
        d["min"] = _f64(p.min)
    if p.HasField("max"):
        d["max"] = _f64(p.max)
    return d


def _buckets(b: Any) -> JSONDict:
    d: JSONDict = {}
    x = b.offset
    if x:
        d["offset"] = x
    x = b.bucket_counts
    if x:
        d["bucketCounts"] = [str(c) for c in x]
    return d


def _exp_histogram_point(p: Any) -> JSONDict:
    d: JSONDict = {}
    x = p.attributes
    if x:
        d["attributes"] = _attrs(x)
    x = p.start_time_unix_nano
    if x:
        d["startTimeUnixNano"] = str(x)
    x = p.time_unix_nano
    if x:
        d["timeUnixNano"] = str(x)
    x = p.count
    if x:
        d["count"] = str(x)
    if p.HasField("sum"):
        d["sum"] = _f64(p.sum)
    x = p.scale
    if x:
        d["scale"] = x
    x = p.zero_count
    if x:
        d["zeroCount"] = str(x)
    if p.HasField("positive"):
        d["positive"] = _buckets(p.positive)
    if p.HasField("negative"):
        d["negative"] = _buckets(p.negative)
    x = p.flags
    if x:
        d["flags"] = x
    x = p.exemplars
    if x:
        d["exemplars"] = [_exemplar(e) for e in x]
    if p.HasField("min"):
        d["min"] = _f64(p.min)
    if p.HasField("max"):
        d["max"] = _f64(p.max)
    x = p.zero_threshold
    if _f64_set(x):
        d["zeroThreshold"] = _f64(x)
    return d


def _quantile(q: Any) -> JSONDict:
    d: JSONDict = {}
    x = q.quantile
    if _f64_set(x):
        d["quantile"] = _f64(x)
    x = q.value
    if _f64_set(x):
        d["value"] = _f64(x)
    return d


def _summary_point(p: Any) -> JSONDict:
    d: JSONDict = {}
    x = p.attributes
    if x:
        d["attributes"] = _attrs(x)
    x = p.start_time_unix_nano
    if x:
        d["startTimeUnixNano"] = str(x)
    x = p.time_unix_nano
    if x:
        d["timeUnixNano"] = str(x)
    x = p.count
    if x:
        d["count"] = str(x)
    x = p.sum
    if _f64_set(x):
        d["sum"] = _f64(x)
    x = p.quantile_values
    if x:
        d["quantileValues"] = [_quantile(q) for q in x]
    x = p.flags
    if x:
        d["flags"] = x
    return d


def _points(points: Iterable[Any], conv: Callable[[Any], JSONDict]) -> JSONDict:
    pts = [conv(p) for p in points]
    return {"dataPoints": pts} if pts else {}


def _metric(m: Any) -> JSONDict:
    d: JSONDict = {}
    x = m.name
    if x:
        d["name"] = x
    x = m.description
    if x:
        d["description"] = x
    x = m.unit
    if x:
        d["unit"] = x
    w = m.WhichOneof("data")
    if w == "gauge":
        d["gauge"] = _points(m.gauge.data_points, _number_point)
    elif w == "sum":
        s = m.sum
        sd = _points(s.data_points, _number_point)
        x = s.aggregation_temporality
        if x:
            sd["aggregationTemporality"] = x
        if s.is_monotonic:
            sd["isMonotonic"] = True
        d["sum"] = sd
    elif w == "histogram":
        h = m.histogram
        hd = _points(h.data_points, _histogram_point)
        x = h.aggregation_temporality
        if x:
            hd["aggregationTemporality"] = x
        d["histogram"] = hd
    elif w == "exponential_histogram":
        h = m.exponential_histogram
        hd = _points(h.data_points, _exp_histogram_point)
        x = h.aggregation_temporality
        if x:
            hd["aggregationTemporality"] = x
        d["exponentialHistogram"] = hd
    elif w == "summary":
        d["summary"] = _points(m.summary.data_points, _summary_point)
    elif w is not None:
        raise OTLPJSONError(f"Metric: unsupported data kind {w!r}")
    x = m.metadata
    if x:
        d["metadata"] = _attrs(x)
    return d


def _scope_metrics(sm: Any) -> JSONDict:
    d: JSONDict = {}
    if sm.HasField("scope"):
        d["scope"] = _scope(sm.scope)
    x = sm.metrics
    if x:
        d["metrics"] = [_metric(m) for m in x]
    x = sm.schema_url
    if x:
        d["schemaUrl"] = x
    return d


def _resource_metrics(rm: Any) -> JSONDict:
    d: JSONDict = {}
    if rm.HasField("resource"):
        d["resource"] = _resource(rm.resource)
    x = rm.scope_metrics
    if x:
        d["scopeMetrics"] = [_scope_metrics(sm) for sm in x]
    x = rm.schema_url
    if x:
        d["schemaUrl"] = x
    return d
