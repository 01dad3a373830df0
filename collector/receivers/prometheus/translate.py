"""Scraped Prometheus samples to OTLP metrics, as otelcol's prometheus receiver translates them
(contrib's receiver/prometheusreceiver/internal: transaction.go, metricfamily.go, prom_to_otlp.go).

- One resource per (job, instance): `service.name` = job, `service.instance.id` = instance, `server.address`
  (when the host is not loopback or unspecified), `server.port`, `url.scheme`; `target_info`'s labels are
  added to it and the metric itself is dropped.
- One scope per `otel_scope_name` / `otel_scope_version` labels (else the receiver's own scope);
  `otel_scope_info` gives scope attributes.
- counter: cumulative monotonic Sum, named by its sample (`foo_total`); gauge and unknown: Gauge; histogram:
  cumulative Histogram (bucket counts from the cumulative `le` buckets, `+Inf` dropped, sum, count); summary:
  Summary (quantiles, sum, count); stateset: non-monotonic Sum; info: Gauge of its `_info` sample;
  gaugehistogram: not translated (otelcol has no type for it).
- Labels are the data point attributes, without `__name__`, `job`, `instance`, `le` / `quantile` and empty values.
- A histogram whose buckets decrease or are NaN, or whose count is below its largest bucket, is dropped.

`Family` / `Point` are the grouped form; `adjust.py` sets their start times and adds staleness points
before `to_request` builds the protobuf."""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2

from ... import __version__

SCOPE_NAME = "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/prometheusreceiver"
NO_RECORDED_VALUE = metrics_pb2.DataPointFlags.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK
CUMULATIVE = metrics_pb2.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE

SUM, GAUGE, HISTOGRAM, SUMMARY = "sum", "gauge", "histogram", "summary"
_KINDS = {"counter": (SUM, True), "gauge": (GAUGE, False), "unknown": (GAUGE, False), "untyped": (GAUGE, False),
          "histogram": (HISTOGRAM, True), "summary": (SUMMARY, True), "stateset": (SUM, False), "info": (GAUGE, False)}
_SCOPE_PREFIX = "otel_scope_"
_NOT_ATTRIBUTES = {"__name__", "job", "instance"}

ResourceKey = tuple[str, str]  # (job, instance)
ScopeKey = tuple[str, str]  # (name, version); ("", "") is the receiver's own scope
Attrs = tuple[tuple[str, str], ...]


@dataclass
class Point:
    attrs: Attrs
    ts_ms: int
    value: float = 0.0
    has_value: bool = False
    count: float = 0.0
    has_count: bool = False
    sum: float = 0.0
    has_sum: bool = False
    created: float = 0.0  # seconds (a `_created` sample); 0 = none
    start_ns: int = 0
    stale: bool = False
    buckets: list[tuple[float, float]] = field(default_factory=list)  # (le or quantile, value)
    exemplars: list[Any] = field(default_factory=list)


@dataclass
class Family:
    name: str
    kind: str
    monotonic: bool
    help: str
    unit: str
    prom_type: str
    points: dict[Attrs, Point] = field(default_factory=dict)


@dataclass
class Scrape:
    """What one scrape of one target gives, grouped: resources -> scopes -> families by output name."""

    resources: dict[ResourceKey, dict[ScopeKey, dict[str, Family]]] = field(default_factory=dict)
    resource_attrs: dict[ResourceKey, dict[str, str]] = field(default_factory=dict)
    scope_attrs: dict[tuple[ResourceKey, ScopeKey], dict[str, str]] = field(default_factory=dict)

    def family(self, rkey: ResourceKey, skey: ScopeKey, name: str, kind: str, monotonic: bool, help: str, unit: str, prom_type: str) -> Family:
        families = self.resources.setdefault(rkey, {}).setdefault(skey, {})
        fam = families.get(name)
        if fam is None:
            fam = families[name] = Family(name, kind, monotonic, help, unit, prom_type)
        return fam


def split_labels(labels: dict[str, str], drop: str | None = None) -> tuple[ScopeKey, Attrs, dict[str, str]]:
    """(scope, data point attributes, scope attributes) of a sample's labels (populateAttributes, getScopeID)."""
    name = version = ""
    scope_attrs: dict[str, str] = {}
    attrs = []
    for key in sorted(labels):
        value = labels[key]
        if key.startswith(_SCOPE_PREFIX):
            if key == "otel_scope_name":
                name = value
            elif key == "otel_scope_version":
                version = value
            elif key != "otel_scope_schema_url":
                scope_attrs[key[len(_SCOPE_PREFIX):]] = value
            continue
        if key in _NOT_ATTRIBUTES or key == drop or not value:
            continue
        attrs.append((key, value))
    return (name, version), tuple(attrs), scope_attrs


def add_sample(scrape: Scrape, family: Any, sample_name: str, labels: dict[str, str], value: float, ts_ms: int,
               rkey: ResourceKey, exemplar: Any = None) -> None:
    """One relabeled sample of `family` (a prometheus_client Metric) into its point; `labels` hold no
    `__name__`, `job` or `instance` any more (those are `sample_name` and `rkey`)."""
    prom_type = family.type
    if sample_name == "target_info":
        scrape.resource_attrs.setdefault(rkey, {}).update((k, v) for k, v in labels.items() if v)
        return
    if sample_name == "otel_scope_info":
        name, version = labels.get("otel_scope_name", ""), labels.get("otel_scope_version", "")
        info = {k: v for k, v in labels.items() if not k.startswith(_SCOPE_PREFIX) and v}
        scrape.scope_attrs[(rkey, (name, version))] = info
        return
    if prom_type not in _KINDS:  # gaugehistogram
        return
    kind, monotonic = _KINDS[prom_type]
    base = family.name
    role = "value"
    if kind in (HISTOGRAM, SUMMARY):
        for suffix in ("_count", "_sum", "_created", "_bucket"):
            if sample_name == base + suffix:
                role = suffix[1:]
        if role == "value" and kind == HISTOGRAM:
            return
        out_name = base
    elif kind == SUM and sample_name == base + "_created":
        role, out_name = "created", base + "_total" if prom_type == "counter" else base
    else:
        out_name = sample_name
    drop = "le" if kind == HISTOGRAM else "quantile" if kind == SUMMARY else None
    skey, attrs, scope_attrs = split_labels(labels, drop)
    if scope_attrs:
        scrape.scope_attrs.setdefault((rkey, skey), scope_attrs)
    fam = scrape.family(rkey, skey, out_name, kind, monotonic, family.documentation, family.unit, _prom_type_name(prom_type))
    point = fam.points.get(attrs)
    if point is None:
        point = fam.points[attrs] = Point(attrs, ts_ms)
    if role == "created":
        point.created = value
    elif role == "count":
        point.count, point.has_count, point.ts_ms = value, True, ts_ms  # a histogram's time is its count's (addSeries)
    elif role == "sum":
        point.sum, point.has_sum = value, True
    elif role == "bucket" or (kind == SUMMARY and role == "value"):
        bound_label = labels.get(drop or "", "")
        try:
            bound = float(bound_label)
        except ValueError:
            return  # getBoundary: a bucket without a numeric le, a quantile without a numeric quantile
        point.buckets.append((bound, value))
        if exemplar is not None:
            point.exemplars.append(exemplar)
    else:
        point.value, point.has_value = value, True
        if exemplar is not None:
            point.exemplars.append(exemplar)


def _prom_type_name(prom_type: str) -> str:
    return "unknown" if prom_type == "untyped" else prom_type


def valid_histogram(point: Point) -> bool:
    """toDistributionPoint's checks: buckets neither NaN nor decreasing, count not below the last bucket."""
    previous = 0.0
    for bound, count in sorted(point.buckets):
        if bound == math.inf:
            continue
        if math.isnan(count) or count < previous:
            return False
        previous = count
    return not (math.isnan(point.count) or point.count < previous)


# Resources ----------------------------------------------------------------------------------------------


def discernible_host(host: str) -> bool:
    """prom_to_otlp.go's isDiscernibleHost: not loopback, not unspecified, not `localhost`."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host != "localhost"
    return not ip.is_loopback and not ip.is_unspecified


def resource_attributes(job: str, instance: str, scheme: str) -> dict[str, str]:
    """prom_to_otlp.go's CreateResource (without the Kubernetes service discovery labels, which static targets lack)."""
    host, sep, port = instance.rpartition(":")
    if not sep or (host.count(":") and not host.startswith("[")):
        host, port = instance, ""
    host = host.strip("[]")
    out = {"service.name": job}
    if discernible_host(host):
        out["server.address"] = host
    out["service.instance.id"] = instance
    out["server.port"] = port
    out["url.scheme"] = scheme
    return out


# Names and units ------------------------------------------------------------------------------------------

_UNIT_WORDS = {
    "days": "d", "hours": "h", "minutes": "min", "seconds": "s", "milliseconds": "ms", "microseconds": "us", "nanoseconds": "ns",
    "bytes": "By", "kibibytes": "KiBy", "mebibytes": "MiBy", "gibibytes": "GiBy", "tebibytes": "TiBy",
    "kilobytes": "KBy", "megabytes": "MBy", "gigabytes": "GBy", "terabytes": "TBy",
    "meters": "m", "volts": "V", "amperes": "A", "joules": "J", "watts": "W", "grams": "g", "celsius": "Cel", "hertz": "Hz", "percent": "%",
}
_PER_WORDS = {"second": "s", "minute": "m", "hour": "h", "day": "d", "week": "w", "month": "mo", "year": "y"}


def unit_to_ucum(unit: str) -> str:
    """contrib's translator/prometheus UnitWordToUCUM: `seconds` -> `s`, `bytes_per_second` -> `By/s`."""
    if not unit:
        return ""
    main, sep, per = unit.partition("_per_")
    main = _UNIT_WORDS.get(main, main)
    if sep:
        return f"{main}/{_PER_WORDS.get(per, per)}"
    return main


def trim_suffixes(name: str, kind: str, unit: str) -> str:
    """contrib's translator/prometheus TrimPromSuffixes: a counter's `_total`, then the unit's words."""
    tokens = name.split("_")
    if len(tokens) == 1:
        return name
    if kind == SUM and len(tokens) > 1 and tokens[-1] == "total":
        tokens = tokens[:-1]
    unit_tokens = unit.split("_")
    if len(tokens) > len(unit_tokens) and tokens[-len(unit_tokens):] == unit_tokens:
        tokens = tokens[:-len(unit_tokens)]
    return "_".join(tokens)


# Protobuf ------------------------------------------------------------------------------------------------


def _kv(key: str, value: str) -> KeyValue:
    out = KeyValue(key=key)
    out.value.string_value = value
    return out


def to_request(scrape: Scrape, trim: bool) -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    for rkey, scopes in scrape.resources.items():
        rm = request.resource_metrics.add()
        rm.resource.attributes.extend(_kv(k, v) for k, v in scrape.resource_attrs.get(rkey, {}).items())
        for skey, families in scopes.items():
            sm = rm.scope_metrics.add()
            if skey == ("", ""):
                sm.scope.name, sm.scope.version = SCOPE_NAME, __version__
            else:
                sm.scope.name, sm.scope.version = skey
                sm.scope.attributes.extend(_kv(k, v) for k, v in scrape.scope_attrs.get((rkey, skey), {}).items())
            for fam in families.values():
                metric = _metric(fam, trim)
                if metric is not None:
                    sm.metrics.append(metric)
            if not sm.metrics:
                del rm.scope_metrics[-1]
        if not rm.scope_metrics:
            del request.resource_metrics[-1]
    return request


def _metric(fam: Family, trim: bool) -> metrics_pb2.Metric | None:
    metric = metrics_pb2.Metric(name=trim_suffixes(fam.name, fam.kind, fam.unit) if trim else fam.name,
                                description=fam.help, unit=unit_to_ucum(fam.unit))
    metric.metadata.append(_kv("prometheus.type", fam.prom_type))
    if fam.kind == HISTOGRAM:
        metric.histogram.aggregation_temporality = CUMULATIVE
        for p in fam.points.values():
            _histogram_point(metric.histogram.data_points, p)
        points: Any = metric.histogram.data_points
    elif fam.kind == SUMMARY:
        for p in fam.points.values():
            _summary_point(metric.summary.data_points, p)
        points = metric.summary.data_points
    elif fam.kind == SUM:
        metric.sum.aggregation_temporality = CUMULATIVE
        metric.sum.is_monotonic = fam.monotonic
        for p in fam.points.values():
            _number_point(metric.sum.data_points, p)
        points = metric.sum.data_points
    else:
        for p in fam.points.values():
            _number_point(metric.gauge.data_points, p)
        points = metric.gauge.data_points
    return metric if len(points) else None


def _common(dp: Any, p: Point) -> None:
    dp.time_unix_nano = p.ts_ms * 1_000_000
    if p.start_ns:
        dp.start_time_unix_nano = p.start_ns
    dp.attributes.extend(_kv(k, v) for k, v in p.attrs)
    if p.stale:
        dp.flags = NO_RECORDED_VALUE


def _number_point(dest: Any, p: Point) -> None:
    if not p.has_value and not p.stale:
        return
    dp = dest.add()
    _common(dp, p)
    if not p.stale:
        dp.as_double = p.value
    _exemplars(dp, p)


def _histogram_point(dest: Any, p: Point) -> None:
    if not p.has_count and not p.stale:
        return
    if not p.stale and not valid_histogram(p):
        return
    buckets = sorted(p.buckets)
    if buckets and buckets[-1][0] == math.inf:
        buckets.pop()
    dp = dest.add()
    _common(dp, p)
    dp.explicit_bounds.extend(b for b, _ in buckets)
    if p.stale:
        dp.bucket_counts.extend([0] * (len(buckets) + 1))
        return
    dp.count = int(p.count)
    if p.has_sum:
        dp.sum = p.sum
    previous = 0.0
    for _, cumulative in buckets:
        dp.bucket_counts.append(int(cumulative - previous))
        previous = cumulative
    dp.bucket_counts.append(int(p.count - previous))
    _exemplars(dp, p)


def _summary_point(dest: Any, p: Point) -> None:
    if not p.has_count and not p.stale:
        return
    dp = dest.add()
    _common(dp, p)
    if not p.stale:
        dp.count = int(p.count)
        if p.has_sum:
            dp.sum = p.sum
    for quantile, value in sorted(p.buckets):
        q = dp.quantile_values.add(quantile=quantile)
        if not p.stale:
            q.value = value


def _exemplars(dp: Any, p: Point) -> None:
    """metricfamily.go's convertExemplar: trace_id / span_id labels of the right width become the ids."""
    for ex in p.exemplars:
        out = dp.exemplars.add(as_double=float(ex.value))
        if ex.timestamp is not None:
            out.time_unix_nano = int(float(ex.timestamp) * 1e9)
        for key, value in ex.labels.items():
            lowered = key.lower()
            raw = _hex(value, 16 if lowered == "trace_id" else 8) if lowered in ("trace_id", "span_id") else None
            if raw is not None:
                if lowered == "trace_id":
                    out.trace_id = raw
                else:
                    out.span_id = raw
            elif value:
                out.filtered_attributes.append(_kv(key, value))


def _hex(value: str, size: int) -> bytes | None:
    if len(value) != 2 * size:
        return None
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        return None
    return raw if any(raw) else None
