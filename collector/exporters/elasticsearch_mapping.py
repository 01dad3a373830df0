"""OTLP requests → Elasticsearch documents, in the collector's `otel` and `ecs` mapping modes.

Pure functions: a request goes in, a list of `Document(index, source, primary)` comes out; nothing
here does I/O. `primary` tells a span (or log record) apart from the extra documents it produced
(span events), so the exporter can count failures in the signal's own items.

The shapes follow docs/wire-formats.md ("Elasticsearch"):

- otel mode is the document `traces-otel@template` / `logs-otel@template` expect: snake_case OTLP
  field names, hex ids, kind and status-code names, `duration` in nanoseconds, attributes as an
  object under `attributes`, resource and scope as sub-objects. Zero counts and empty strings are
  left out, as the collector's serializer does. Span events become separate log documents.
  `@timestamp` is epoch milliseconds with the nanosecond remainder as a decimal fraction, written as
  a string so no precision is lost in a JSON double. The fraction is zero-padded to six digits:
  `epoch_millis` reads `…123.000456` as 456 ns, whereas an unpadded `…123.456` would mean 456 µs.
- ecs mode writes ECS field names as nested objects (`trace.id` → {"trace": {"id": ...}}), with
  resource attributes renamed to their ECS equivalents (`service.instance.id` →
  `service.node.name`, ...). Attributes without an ECS name keep their OTel name. Where a leaf and
  an object would share a path (`http.request` and `http.request.method`), the leaf moves to
  `<path>.value`, the convention Elastic's own encoders use, because Elasticsearch cannot map one
  field as both.

Routing: without a configured index, documents go to the data stream `{type}-{dataset}-{namespace}`
(`traces-generic.otel-default`, `logs-generic.otel-default`; ecs mode drops the `.otel` suffix).
`data_stream.dataset` / `data_stream.namespace` attributes on the item, scope or resource (most
specific wins) pick another dataset / namespace, sanitised as Elasticsearch requires.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, Literal, NamedTuple

Mode = Literal["otel", "ecs"]

DEFAULT_DATASET = "generic"
DEFAULT_NAMESPACE = "default"
OTEL_SUFFIX = ".otel"

_DATASET_KEY = "data_stream.dataset"
_NAMESPACE_KEY = "data_stream.namespace"
_ROUTING_KEYS = frozenset({"data_stream.type", _DATASET_KEY, _NAMESPACE_KEY})

SPAN_KIND = ("Unspecified", "Internal", "Server", "Client", "Producer", "Consumer")
ECS_SPAN_KIND = (None, "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
STATUS_CODE = ("Unset", "Ok", "Error")
ECS_OUTCOME = ("unknown", "success", "failure")

# Semantic-convention resource attribute → ECS field (the reference lists the first three; the rest
# follow the ECS field reference for host, os, cloud, container, process and kubernetes).
ECS_RESOURCE_RENAMES = {
    "deployment.environment": "service.environment",
    "deployment.environment.name": "service.environment",
    "service.instance.id": "service.node.name",
    "host.name": "host.hostname",
    "host.arch": "host.architecture",
    "cloud.platform": "cloud.service.name",
    "container.image.tags": "container.image.tag",
    "process.executable.path": "process.executable",
    "process.runtime.name": "service.runtime.name",
    "process.runtime.version": "service.runtime.version",
    "os.name": "host.os.name",
    "os.type": "host.os.platform",
    "os.description": "host.os.full",
    "os.version": "host.os.version",
    "k8s.deployment.name": "kubernetes.deployment.name",
    "k8s.namespace.name": "kubernetes.namespace",
    "k8s.node.name": "kubernetes.node.name",
    "k8s.pod.name": "kubernetes.pod.name",
    "k8s.pod.uid": "kubernetes.pod.uid",
    "k8s.job.name": "kubernetes.job.name",
    "k8s.cronjob.name": "kubernetes.cronjob.name",
    "k8s.statefulset.name": "kubernetes.statefulset.name",
    "k8s.replicaset.name": "kubernetes.replicaset.name",
    "k8s.daemonset.name": "kubernetes.daemonset.name",
    "k8s.container.name": "kubernetes.container.name",
    "k8s.cluster.name": "orchestrator.cluster.name",
}
# ECS host.name is the same concept as OTel's, so it is kept besides its host.hostname copy.
_ECS_KEEP_ALSO = frozenset({"host.name"})
# Folded into agent.name / agent.version instead of being copied.
_ECS_SDK_KEYS = frozenset({"telemetry.sdk.name", "telemetry.sdk.language", "telemetry.sdk.version", "telemetry.distro.name", "telemetry.distro.version"})
_ECS_OS_TYPE = {"windows": "windows", "linux": "linux", "darwin": "macos", "aix": "unix", "hpux": "unix", "solaris": "unix"}


class Document(NamedTuple):
    # The field shadows tuple.index(), which nothing here calls; mypy flags any such override.
    index: str  # type: ignore[assignment]
    source: dict[str, Any]
    primary: bool


class Routing(NamedTuple):
    """Where a signal's documents go: a fixed index, or data streams of `type`."""

    index: str | None  # type: ignore[assignment]  # shadows tuple.index(), as in Document
    type: str


# Data streams of each signal's own type: the default when no index is configured.
TRACES = Routing(None, "traces")
LOGS = Routing(None, "logs")


# --- values ----------------------------------------------------------------------------------


def value(v: Any) -> Any:
    """An OTLP AnyValue as JSON: bytes as hex (as the collector's serializer writes them)."""
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "kvlist_value":
        return {kv.key: value(kv.value) for kv in v.kvlist_value.values}
    if kind == "array_value":
        return [value(x) for x in v.array_value.values]
    if kind == "bytes_value":
        return v.bytes_value.hex()
    return getattr(v, kind)


_SCALARS = frozenset({"string_value", "int_value", "double_value", "bool_value"})


def attributes(kvs: Any, hints: dict[str, str] | None = None) -> dict[str, Any]:
    """Attributes as an object; routing hints are left out (and collected into `hints` if given)."""
    out = {}
    for kv in kvs:
        key = kv.key
        v = kv.value
        kind = v.WhichOneof("value")
        # The hot path: scalars inline, without a call per attribute.
        if kind in _SCALARS:
            if key in _ROUTING_KEYS:
                if hints is not None and kind == "string_value" and key != "data_stream.type" and v.string_value:
                    hints[key] = v.string_value
                continue
            out[key] = getattr(v, kind)
        elif key not in _ROUTING_KEYS:
            out[key] = value(v)
    return out


def _routing_hints(kvs: Any, found: dict[str, str]) -> None:
    for kv in kvs:
        key = kv.key
        if key == _DATASET_KEY or key == _NAMESPACE_KEY:
            text = kv.value.string_value
            if text:
                found[key] = text


_FORBIDDEN = str.maketrans({c: "_" for c in '\\/*?"<>| ,#:-'})


def sanitize(name: str, max_len: int = 100) -> str:
    """Data stream dataset/namespace: lowercase, none of Elasticsearch's forbidden characters, no `-`
    (it separates the parts), at most 100 characters (docs/wire-formats.md, "Data streams")."""
    return name.lower().translate(_FORBIDDEN)[:max_len]


def otel_timestamp(ns: int) -> str:
    return f"{ns // 1_000_000}.{ns % 1_000_000:06d}"


_last_second = [-1, ""]


def rfc3339_nanos(ns: int) -> str:
    seconds, frac = divmod(ns, 1_000_000_000)
    if seconds != _last_second[0]:
        _last_second[0] = seconds
        _last_second[1] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{_last_second[1]}.{frac:09d}Z"


# --- routing ---------------------------------------------------------------------------------


class _Router:
    """Index names per (dataset, namespace), with the per-document choice kept cheap."""

    def __init__(self, routing: Routing, mode: Mode):
        self.routing = routing
        self.suffix = OTEL_SUFFIX if mode == "otel" else ""
        self._names: dict[tuple[str, str], tuple[str, dict[str, str] | None]] = {}

    def resolve(self, hints: dict[str, str]) -> tuple[str, dict[str, str] | None]:
        """(index name, data_stream fields or None for a plain index)."""
        if self.routing.index is not None:
            return self.routing.index, None
        dataset = hints.get(_DATASET_KEY, DEFAULT_DATASET)
        namespace = hints.get(_NAMESPACE_KEY, DEFAULT_NAMESPACE)
        key = (dataset, namespace)
        found = self._names.get(key)
        if found is None:
            ds = sanitize(dataset)
            if self.suffix and not ds.endswith(self.suffix):
                ds += self.suffix
            ns = sanitize(namespace)
            stream = {"type": self.routing.type, "dataset": ds, "namespace": ns}
            found = self._names[key] = (f"{self.routing.type}-{ds}-{ns}", stream)
        return found


# --- otel mode -------------------------------------------------------------------------------


def _otel_resource(entry: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if entry.schema_url:
        out["schema_url"] = entry.schema_url
    attrs = attributes(entry.resource.attributes)
    if attrs:
        out["attributes"] = attrs
    if entry.resource.dropped_attributes_count:
        out["dropped_attributes_count"] = entry.resource.dropped_attributes_count
    return out


def _otel_scope(entry: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    scope = entry.scope
    if entry.schema_url:
        out["schema_url"] = entry.schema_url
    if scope.name:
        out["name"] = scope.name
    if scope.version:
        out["version"] = scope.version
    attrs = attributes(scope.attributes)
    if attrs:
        out["attributes"] = attrs
    if scope.dropped_attributes_count:
        out["dropped_attributes_count"] = scope.dropped_attributes_count
    return out


def _otel_span(span: Any, attrs: dict[str, Any], stream: dict[str, str] | None, resource: dict[str, Any], scope: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {"@timestamp": otel_timestamp(span.start_time_unix_nano)}
    if stream is not None:
        doc["data_stream"] = stream
    if span.trace_id:
        doc["trace_id"] = span.trace_id.hex()
    if span.span_id:
        doc["span_id"] = span.span_id.hex()
    if span.trace_state:
        doc["trace_state"] = span.trace_state
    if span.parent_span_id:
        doc["parent_span_id"] = span.parent_span_id.hex()
    if span.name:
        doc["name"] = span.name
    kind = span.kind
    doc["kind"] = SPAN_KIND[kind] if 0 <= kind < len(SPAN_KIND) else SPAN_KIND[0]
    # An end before the start is malformed; 0 keeps the field a valid unsigned long.
    doc["duration"] = max(0, span.end_time_unix_nano - span.start_time_unix_nano)
    if attrs:
        doc["attributes"] = attrs
    if span.dropped_attributes_count:
        doc["dropped_attributes_count"] = span.dropped_attributes_count
    if span.dropped_events_count:
        doc["dropped_events_count"] = span.dropped_events_count
    links = []
    for link in span.links:
        entry: dict[str, Any] = {}
        if link.trace_id:
            entry["trace_id"] = link.trace_id.hex()
        if link.span_id:
            entry["span_id"] = link.span_id.hex()
        if link.trace_state:
            entry["trace_state"] = link.trace_state
        link_attrs = attributes(link.attributes)
        if link_attrs:
            entry["attributes"] = link_attrs
        if link.dropped_attributes_count:
            entry["dropped_attributes_count"] = link.dropped_attributes_count
        links.append(entry)
    doc["links"] = links
    if span.dropped_links_count:
        doc["dropped_links_count"] = span.dropped_links_count
    status: dict[str, Any] = {}
    if span.status.message:
        status["message"] = span.status.message
    code = span.status.code
    status["code"] = STATUS_CODE[code] if 0 <= code < len(STATUS_CODE) else STATUS_CODE[0]
    doc["status"] = status
    doc["resource"] = resource
    doc["scope"] = scope
    return doc


def _otel_span_event(span: Any, event: Any, stream: dict[str, str] | None, resource: dict[str, Any], scope: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {"@timestamp": otel_timestamp(event.time_unix_nano)}
    if stream is not None:
        doc["data_stream"] = stream
    if span.trace_id:
        doc["trace_id"] = span.trace_id.hex()
    if span.span_id:
        doc["span_id"] = span.span_id.hex()
    if event.dropped_attributes_count:
        doc["dropped_attributes_count"] = event.dropped_attributes_count
    attrs = attributes(event.attributes)
    if event.name:
        doc["event_name"] = event.name
        attrs["event.name"] = event.name
    if attrs:
        doc["attributes"] = attrs
    doc["resource"] = resource
    doc["scope"] = scope
    return doc


def _otel_log(record: Any, attrs: dict[str, Any], stream: dict[str, str] | None, resource: dict[str, Any], scope: dict[str, Any]) -> dict[str, Any]:
    when = record.time_unix_nano or record.observed_time_unix_nano
    doc: dict[str, Any] = {"@timestamp": otel_timestamp(when), "observed_timestamp": otel_timestamp(record.observed_time_unix_nano)}
    if stream is not None:
        doc["data_stream"] = stream
    if record.severity_text:
        doc["severity_text"] = record.severity_text
    if record.severity_number:
        doc["severity_number"] = record.severity_number
    if record.trace_id:
        doc["trace_id"] = record.trace_id.hex()
    if record.span_id:
        doc["span_id"] = record.span_id.hex()
    if attrs:
        doc["attributes"] = attrs
    if record.dropped_attributes_count:
        doc["dropped_attributes_count"] = record.dropped_attributes_count
    event_name = record.event_name or attrs.get("event.name")
    if isinstance(event_name, str) and event_name:
        doc["event_name"] = event_name
    doc["resource"] = resource
    doc["scope"] = scope
    body_kind = record.body.WhichOneof("value")
    if body_kind is not None:
        body = value(record.body)
        if body_kind == "kvlist_value":
            doc["body"] = {"structured": body}
        elif body_kind == "array_value":
            # Elasticsearch's `flattened` body field takes an object or an array of objects only.
            doc["body"] = {"structured": body if all(isinstance(x, dict) for x in body) else {"value": body}}
        else:
            doc["body"] = {"text": body}
    return doc


# --- ecs mode --------------------------------------------------------------------------------


_SPLIT: dict[str, list[str]] = {}


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    """Dotted keys → nested objects; a leaf where an object is needed moves to `<path>.value`."""
    root: dict[str, Any] = {}
    for key in sorted(flat):  # a prefix sorts first, so a leaf is placed before anything under it
        node = root
        split = _SPLIT.get(key)
        if split is None:
            split = key.split(".")
            if len(_SPLIT) < 10_000:  # attribute keys repeat; unbounded keys must not grow memory
                _SPLIT[key] = split
        *parents, leaf = split
        for part in parents:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                child = node[part] = {"value": child}
            node = child
        existing = node.get(leaf)
        if isinstance(existing, dict):
            existing["value"] = flat[key]
        else:
            node[leaf] = flat[key]
    return root


def _ecs_resource(entry: Any) -> dict[str, Any]:
    """Flat ECS fields from a resource: renamed, SDK folded into agent.*, the rest as-is."""
    out: dict[str, Any] = {}
    sdk: dict[str, str] = {}
    for kv in entry.resource.attributes:
        key = kv.key
        if key in _ROUTING_KEYS:
            continue
        v = value(kv.value)
        if key in _ECS_SDK_KEYS:
            sdk[key] = v if isinstance(v, str) else str(v)
            continue
        renamed = ECS_RESOURCE_RENAMES.get(key)
        if renamed is None:
            out[key] = v
            continue
        out[renamed] = v
        if key in _ECS_KEEP_ALSO:
            out[key] = v
        if key == "os.type" and isinstance(v, str) and v in _ECS_OS_TYPE:
            out["host.os.type"] = _ECS_OS_TYPE[v]
    agent = sdk.get("telemetry.sdk.name", "otlp")
    language = sdk.get("telemetry.sdk.language", "")
    distro = sdk.get("telemetry.distro.name")
    if distro:
        agent += f"/{language or 'unknown'}/{distro}"
    elif language:
        agent += f"/{language}"
    out["agent.name"] = agent
    version = sdk.get("telemetry.distro.version") or sdk.get("telemetry.sdk.version")
    if version:
        out["agent.version"] = version
    return out


def _ecs_scope(entry: Any) -> dict[str, Any]:
    # Elastic APM shows the instrumentation library as the service framework.
    out: dict[str, Any] = {}
    if entry.scope.name:
        out["service.framework.name"] = entry.scope.name
    if entry.scope.version:
        out["service.framework.version"] = entry.scope.version
    out.update(attributes(entry.scope.attributes))
    return out


def _ecs_stream(flat: dict[str, Any], stream: dict[str, str] | None) -> None:
    if stream is not None:
        flat["data_stream.type"] = stream["type"]
        flat["data_stream.dataset"] = stream["dataset"]
        flat["data_stream.namespace"] = stream["namespace"]


def _ecs_span(span: Any, attrs: dict[str, Any], stream: dict[str, str] | None, base: dict[str, Any]) -> dict[str, Any]:
    flat = dict(base)
    flat.update(attrs)
    flat["@timestamp"] = rfc3339_nanos(span.start_time_unix_nano)
    _ecs_stream(flat, stream)
    if span.trace_id:
        flat["trace.id"] = span.trace_id.hex()
    if span.span_id:
        flat["span.id"] = span.span_id.hex()
    if span.parent_span_id:
        flat["parent.id"] = span.parent_span_id.hex()
    flat["span.name"] = span.name
    kind = ECS_SPAN_KIND[span.kind] if 0 <= span.kind < len(ECS_SPAN_KIND) else None
    if kind is not None:
        flat["span.kind"] = kind
    code = span.status.code if 0 <= span.status.code < len(ECS_OUTCOME) else 0
    flat["event.outcome"] = ECS_OUTCOME[code]
    if span.status.message:
        flat["span.status.message"] = span.status.message
    flat["event.duration"] = max(0, span.end_time_unix_nano - span.start_time_unix_nano)
    if span.links:
        flat["span.links"] = [{"trace": {"id": link.trace_id.hex()}, "span": {"id": link.span_id.hex()}} for link in span.links]
    return nest(flat)


def _ecs_span_event(span: Any, event: Any, stream: dict[str, str] | None, base: dict[str, Any]) -> dict[str, Any]:
    flat = dict(base)
    flat.update(attributes(event.attributes))
    flat["@timestamp"] = rfc3339_nanos(event.time_unix_nano)
    _ecs_stream(flat, stream)
    if span.trace_id:
        flat["trace.id"] = span.trace_id.hex()
    if span.span_id:
        flat["span.id"] = span.span_id.hex()
    if event.name:
        flat["event.name"] = event.name
    return nest(flat)


def _ecs_log(record: Any, attrs: dict[str, Any], stream: dict[str, str] | None, base: dict[str, Any]) -> dict[str, Any]:
    flat = dict(base)
    flat.update(attrs)
    flat["@timestamp"] = rfc3339_nanos(record.time_unix_nano or record.observed_time_unix_nano)
    _ecs_stream(flat, stream)
    if record.severity_text:
        flat["log.level"] = record.severity_text
    if record.severity_number:
        flat["event.severity"] = record.severity_number
    if record.trace_id:
        flat["trace.id"] = record.trace_id.hex()
    if record.span_id:
        flat["span.id"] = record.span_id.hex()
    if record.event_name:
        flat["event.name"] = record.event_name
    if record.body.WhichOneof("value") is not None:
        body = value(record.body)
        if isinstance(body, str):
            flat["message"] = body
        else:
            flat["body.structured"] = body if isinstance(body, dict) else {"value": body}
    return nest(flat)


# --- requests --------------------------------------------------------------------------------


def _walk(resource_entries: Any, scopes_field: str, items_field: str, otel: bool) -> Iterator[tuple[Any, dict[str, Any], dict[str, str], Any, Any]]:
    """(item, its attributes, routing hints, otel resource / ecs base, otel scope) for every span or log
    record, with the resource and scope converted once per entry."""
    for entry in resource_entries:
        hints_r: dict[str, str] = {}
        _routing_hints(entry.resource.attributes, hints_r)
        resource = _otel_resource(entry) if otel else _ecs_resource(entry)
        for scoped in getattr(entry, scopes_field):
            hints_s = dict(hints_r)
            _routing_hints(scoped.scope.attributes, hints_s)
            if otel:
                context, scope = resource, _otel_scope(scoped)
            else:
                context, scope = {**resource, **_ecs_scope(scoped)}, None
            for item in getattr(scoped, items_field):
                own: dict[str, str] = {}
                attrs = attributes(item.attributes, own)
                yield item, attrs, ({**hints_s, **own} if own else hints_s), context, scope


def trace_documents(request: Any, mode: Mode = "otel", traces: Routing = TRACES, logs: Routing = LOGS) -> list[Document]:
    """Every span of an ExportTraceServiceRequest, each followed by its span events (as log documents)."""
    span_router = _Router(traces, mode)
    event_router = _Router(logs, mode)
    otel = mode == "otel"
    docs: list[Document] = []
    append = docs.append
    for span, attrs, hints, context, scope in _walk(request.resource_spans, "scope_spans", "spans", otel):
        index, stream = span_router.resolve(hints)
        if otel:
            append(Document(index, _otel_span(span, attrs, stream, context, scope), True))
        else:
            append(Document(index, _ecs_span(span, attrs, stream, context), True))
        if span.events:
            event_index, event_stream = event_router.resolve(hints)
            for event in span.events:
                if otel:
                    append(Document(event_index, _otel_span_event(span, event, event_stream, context, scope), False))
                else:
                    append(Document(event_index, _ecs_span_event(span, event, event_stream, context), False))
    return docs


def log_documents(request: Any, mode: Mode = "otel", logs: Routing = LOGS) -> list[Document]:
    router = _Router(logs, mode)
    otel = mode == "otel"
    docs: list[Document] = []
    append = docs.append
    for record, attrs, hints, context, scope in _walk(request.resource_logs, "scope_logs", "log_records", otel):
        index, stream = router.resolve(hints)
        if otel:
            append(Document(index, _otel_log(record, attrs, stream, context, scope), True))
        else:
            append(Document(index, _ecs_log(record, attrs, stream, context), True))
    return docs
