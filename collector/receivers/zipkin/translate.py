"""Zipkin v2 spans (model.py) to an OTLP ExportTraceServiceRequest, as otelcol-contrib's
pkg/translator/zipkin/zipkinv2 ToTranslator.ToTraces does it.

- Spans are grouped by local service name, then by the `otel.library.name` tag: one resource per service (its
  `service.name`, or the key `otlp.service.name.source` names), one scope per library. The first span of a
  group gives the group its resource attributes (its tags that are semantic-convention resource keys) and its
  scope name and version; those tags never become span attributes, on any span.
- `w3c.tracestate` becomes the trace state, `otel.status_code` (+ `otel.status_description`) the status; any
  `error` tag makes the status an error (an `error` tag other than "true" also stays an attribute);
  `span.kind: internal` marks an otherwise unkinded span internal; `otlp.link.N` tags are links.
- The remaining tags are string attributes (numbers and booleans when `parse_string_tags`), then the
  endpoints': net.host.ip / net.host.port (local), peer.service / net.peer.ip / net.peer.port (remote).
- Annotations are events (`name|{json attributes}|dropped count` is unpacked). A span without a timestamp
  starts at the epoch and carries `otel.zipkin.absentField.startTime: true`.

A span otelcol would pass on with an all-zero trace id or span id is invalid OTLP: it is left out here and
counted (`Translation.invalid`), the others go on. Any other problem (a link or annotation that does not
parse) fails the request as in otelcol: ZipkinError.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from .model import U64, ZipkinError, ZipkinSpan, reject_constant

NO_SERVICE_NAME = "OTLPResourceNoServiceName"
SERVICE_NAME_SOURCE = "otlp.service.name.source"
START_TIME_ABSENT = "otel.zipkin.absentField.startTime"
LIBRARY_NAME = "otel.library.name"
LIBRARY_VERSION = "otel.library.version"
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1

# semconv v1.6.1's resource attribute names (GetResourceSemanticConventionAttributeNames) and the other keys
# the translator keeps off span attributes (its nonSpanAttributes).
RESOURCE_KEYS = frozenset((
    "cloud.provider", "cloud.account.id", "cloud.region", "cloud.availability_zone", "cloud.platform",
    "aws.ecs.container.arn", "aws.ecs.cluster.arn", "aws.ecs.launchtype", "aws.ecs.task.arn", "aws.ecs.task.family",
    "aws.ecs.task.revision", "aws.eks.cluster.arn", "aws.log.group.names", "aws.log.group.arns",
    "aws.log.stream.names", "aws.log.stream.arns",
    "container.name", "container.id", "container.runtime", "container.image.name", "container.image.tag",
    "deployment.environment", "device.id", "device.model.identifier", "device.model.name",
    "faas.name", "faas.id", "faas.version", "faas.instance", "faas.max_memory",
    "host.id", "host.name", "host.type", "host.arch", "host.image.name", "host.image.id", "host.image.version",
    "k8s.cluster.name", "k8s.node.name", "k8s.node.uid", "k8s.namespace.name", "k8s.pod.uid", "k8s.pod.name",
    "k8s.container.name", "k8s.replicaset.uid", "k8s.replicaset.name", "k8s.deployment.uid", "k8s.deployment.name",
    "k8s.statefulset.uid", "k8s.statefulset.name", "k8s.daemonset.uid", "k8s.daemonset.name", "k8s.job.uid",
    "k8s.job.name", "k8s.cronjob.uid", "k8s.cronjob.name",
    "os.type", "os.description", "os.name", "os.version",
    "process.pid", "process.executable.name", "process.executable.path", "process.command", "process.command_line",
    "process.command_args", "process.owner", "process.runtime.name", "process.runtime.version",
    "process.runtime.description",
    "service.name", "service.namespace", "service.instance.id", "service.version",
    "telemetry.sdk.name", "telemetry.sdk.language", "telemetry.sdk.version", "telemetry.auto.version",
    "webengine.name", "webengine.version", "webengine.description",
    "opencensus.starttime", "opencensus.exporterversion", "opencensus.resourcetype",
))
NON_SPAN_KEYS = RESOURCE_KEYS | {SERVICE_NAME_SOURCE, LIBRARY_NAME, LIBRARY_VERSION}

KINDS = {"CLIENT": Span.SPAN_KIND_CLIENT, "SERVER": Span.SPAN_KIND_SERVER, "PRODUCER": Span.SPAN_KIND_PRODUCER,
         "CONSUMER": Span.SPAN_KIND_CONSUMER}
# Status names otelcol reads (contrib issue 14965 added the OpenTelemetry Zipkin exporters' spellings); others are unset.
STATUS_CODES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2, "Unset": 0, "Ok": 1, "Error": 2}
MAX_LINKS = 128

# contrib's zipkin.DetermineValueType, as parse_string_tags uses it (Go's regexp: ASCII digits, $ = end of text).
_INT = re.compile(r"-?[0-9]+")
_DOUBLE = re.compile(r"-?[0-9]+\.[0-9]+")
_UINT = re.compile(r"[0-9]+")
_HEX = re.compile(r"[0-9a-fA-F]*")


@dataclass(slots=True)
class Translation:
    request: ExportTraceServiceRequest
    spans: int  # spans in `request`
    invalid: int  # spans left out for an all-zero trace id or span id


def to_request(spans: list[ZipkinSpan | None], parse_string_tags: bool = False) -> Translation:
    request = ExportTraceServiceRequest()
    valid = [s for s in spans if s is not None and any(s.trace_id) and s.id != 0]
    invalid = sum(1 for s in spans if s is not None) - len(valid)
    valid.sort(key=lambda s: (_service_name(s), s.tags.get(LIBRARY_NAME, "")))
    previous_service: str | None = None
    previous_library = ""
    scope_spans: Any = None
    resource_spans: Any = None
    for zspan in valid:
        tags = dict(zspan.tags)
        service = _service_name(zspan)
        new_resource = service != previous_service
        if new_resource:
            previous_service = service
            resource_spans = request.resource_spans.add()
            _fill_resource(tags, service, resource_spans.resource.attributes)
        library = zspan.tags.get(LIBRARY_NAME, "")
        if new_resource or library != previous_library:
            previous_library = library
            scope_spans = resource_spans.scope_spans.add()
            if library:
                scope = scope_spans.scope
                if LIBRARY_NAME in tags:
                    scope.name = tags.pop(LIBRARY_NAME)
                if LIBRARY_VERSION in tags:
                    scope.version = tags.pop(LIBRARY_VERSION)
        _fill_span(zspan, tags, scope_spans.spans.add(), parse_string_tags)
    return Translation(request, len(valid), invalid)


def _service_name(span: ZipkinSpan) -> str:
    endpoint = span.local_endpoint
    return endpoint.service_name if endpoint is not None and endpoint.service_name else NO_SERVICE_NAME


def _fill_resource(tags: dict[str, str], service: str, attributes: Any) -> None:
    """populateResourceFromZipkinSpan: the service name, then this span's resource tags (taken off it)."""
    if service == NO_SERVICE_NAME:
        return
    values: dict[str, Any] = {tags.pop(SERVICE_NAME_SOURCE, "") or "service.name": service}
    for key in [k for k in tags if k in RESOURCE_KEYS]:
        values[key] = tags.pop(key)
    put_attributes(attributes, values)


def _fill_span(zspan: ZipkinSpan, tags: dict[str, str], span: Any, parse_string_tags: bool) -> None:
    span.trace_id = zspan.trace_id
    span.span_id = zspan.id.to_bytes(8, "big")
    if "w3c.tracestate" in tags:
        span.trace_state = tags.pop("w3c.tracestate")
    if zspan.parent_id and zspan.parent_id != zspan.id:
        span.parent_span_id = zspan.parent_id.to_bytes(8, "big")
    span.name = zspan.name
    span.kind = _kind(zspan.kind, tags)
    _status(tags, span.status)
    _links(tags, span)
    attributes: dict[str, Any] = {}
    for key, value in tags.items():
        if key not in NON_SPAN_KEYS:
            attributes[key] = tag_value(value) if parse_string_tags else value
    local, remote = zspan.local_endpoint, zspan.remote_endpoint
    if local is not None:
        if local.ipv4 is not None:
            attributes["net.host.ip"] = local.ipv4
        if local.ipv6 is not None:
            attributes["net.host.ip"] = local.ipv6
        if local.port > 0:
            attributes["net.host.port"] = local.port
    if remote is not None:
        if remote.service_name:
            attributes["peer.service"] = remote.service_name
        if remote.ipv4 is not None:
            attributes["net.peer.ip"] = remote.ipv4
        if remote.ipv6 is not None:
            attributes["net.peer.ip"] = remote.ipv6
        if remote.port > 0:
            attributes["net.peer.port"] = remote.port
    start = zspan.timestamp_ns
    if start is None:
        start = 0
        attributes[START_TIME_ABSENT] = True
    span.start_time_unix_nano = start
    span.end_time_unix_nano = (start + zspan.duration_ns) % U64
    put_attributes(span.attributes, attributes)
    for i, (timestamp, value) in enumerate(zspan.annotations):
        _event(span.events.add(), timestamp, value, f"annotation {i}")


def _kind(kind: str, tags: dict[str, str]) -> int:
    if kind in KINDS:
        return KINDS[kind]
    if tags.pop("span.kind", None) == "internal":
        return Span.SPAN_KIND_INTERNAL
    return Span.SPAN_KIND_UNSPECIFIED


def _status(tags: dict[str, str], status: Any) -> None:
    if "otel.status_code" in tags:
        status.code = STATUS_CODES.get(tags.pop("otel.status_code"), 0)
        if "otel.status_description" in tags:
            status.message = tags.pop("otel.status_description")
    if "error" in tags:
        status.code = Status.STATUS_CODE_ERROR
        if tags["error"] == "true":
            del tags["error"]


def _links(tags: dict[str, str], span: Any) -> None:
    """`otlp.link.0`, `otlp.link.1`, ... up to the first missing: trace id|span id|trace state|{attrs}|dropped."""
    for i in range(MAX_LINKS):
        value = tags.pop(f"otlp.link.{i}", None)
        if value is None:
            return
        parts = value.split("|")
        if len(parts) < 5:
            continue
        where = f"tag otlp.link.{i}"
        link = span.links.add()
        link.trace_id = _link_id(parts[0], 16, f"{where}: trace id")
        link.span_id = _link_id(parts[1], 8, f"{where}: span id")
        link.trace_state = parts[2]
        put_attributes(link.attributes, _json_attributes("|".join(parts[3:-1]), where))
        link.dropped_attributes_count = _dropped(parts[-1], where)


def _link_id(text: str, size: int, where: str) -> bytes:
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = text[1:-1]
    if not text:
        return b""
    if len(text) != 2 * size:
        raise ZipkinError(f"{where}: invalid length for ID")
    if not _HEX.fullmatch(text):
        raise ZipkinError(f"{where}: not hex")
    return bytes.fromhex(text)


def _event(event: Any, timestamp: int, value: str, where: str) -> None:
    """An annotation: its value is the event name, or `name|{json attributes}|dropped attributes count`."""
    event.time_unix_nano = timestamp
    parts = value.split("|")
    event.name = parts[0]
    if len(parts) < 3:
        return
    put_attributes(event.attributes, _json_attributes("|".join(parts[1:-1]), where))
    event.dropped_attributes_count = _dropped(parts[-1], where)


def _json_attributes(text: str, where: str) -> dict[str, Any]:
    """Go's json.Unmarshal into map[string]interface{} then jsonMapToAttributeMap: strings, numbers (whole
    ones as ints) and booleans are kept; null, arrays and objects are dropped."""
    try:
        data = json.loads(text, parse_constant=reject_constant, parse_int=_finite, parse_float=_finite)
    except (ValueError, RecursionError):
        raise ZipkinError(f"{where}: attributes are not a JSON object") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ZipkinError(f"{where}: attributes are not a JSON object")
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, (str, bool)):
            out[key] = value
        elif isinstance(value, float):
            out[key] = _go_int64(value) if value % 1.0 == 0.0 else value
    return out


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError("number out of range")  # Go cannot hold it in a float64 either
    return value


def _go_int64(value: float) -> int:
    """Go's int64(float64) on amd64: out of range gives the most negative int64."""
    return int(value) if -9.223372036854775808e18 <= value < 9.223372036854775808e18 else _INT64_MIN


def _dropped(text: str, where: str) -> int:
    if not _UINT.fullmatch(text) or int(text) >= 1 << 32:
        raise ZipkinError(f"{where}: dropped attributes count is not a 32-bit unsigned integer")
    return int(text)


def tag_value(value: str) -> Any:
    """parse_string_tags: an integer, a decimal number or true/false becomes that type."""
    if _INT.fullmatch(value):
        return max(_INT64_MIN, min(_INT64_MAX, int(value)))  # strconv.ParseInt saturates
    if _DOUBLE.fullmatch(value):
        return float(value)
    if value in ("true", "false"):
        return value == "true"
    return value


def put_attributes(attributes: Any, values: dict[str, Any]) -> None:
    for key, value in values.items():
        kv: KeyValue = attributes.add(key=key)
        if isinstance(value, str):
            kv.value.string_value = value
        elif isinstance(value, bool):
            kv.value.bool_value = value
        elif isinstance(value, int):
            kv.value.int_value = value
        else:
            kv.value.double_value = value
