"""Zipkin v1 JSON (POST /api/v1/spans) to OTLP, as otelcol-contrib's pkg/translator/zipkin/zipkinv1 (json.go and
status_code.go) reads it, in one step as there.

- A span's kind and its endpoint come from its first core annotation (cs/cr: client, sr/ss: server, ms:
  producer, mr: consumer) whose endpoint has a service name; other annotations are events; the annotations'
  earliest and latest times are the span's start and end unless the span has a timestamp (with duration).
- Binary annotations are attributes (`lc` is renamed `component`), except the status ones: census.status_code,
  otel.status_code (a number), their descriptions and `error` (always an error) set the status, in that order
  of precedence; http.status_code (>= 400 or < 100 is an error) stays an attribute and counts last.
- Spans group into one resource per endpoint (service.name, and ipv4/ipv6/port as resource attributes when
  set). A span without an endpoint takes a binary annotation's endpoint service name, or its `lc` value, else
  "unknown-service"; a span with no time at all gets the current time and otel.zipkin.absentField.startTime.

Ids must be 16 (span) or 16/32 (trace) hex digits and not zero; a bad id or a value of the wrong JSON type fails
the request (ZipkinError), as json.Unmarshal does there.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from .model import SURROGATE_ESCAPE, U64, JSONReader, ZipkinError, folded, json_kind, reject_constant
from .translate import START_TIME_ABSENT, Translation, put_attributes, tag_value

UNKNOWN_SERVICE = "unknown-service"
CORE_KINDS = {"cs": Span.SPAN_KIND_CLIENT, "cr": Span.SPAN_KIND_CLIENT, "ms": Span.SPAN_KIND_PRODUCER, "mr": Span.SPAN_KIND_CONSUMER,
              "ss": Span.SPAN_KIND_SERVER, "sr": Span.SPAN_KIND_SERVER}
_INT64 = 1 << 63
_HEX = re.compile(r"[0-9a-fA-F]*")
_INT32 = 1 << 31
_SPAN_KEYS = frozenset(("traceid", "name", "parentid", "id", "timestamp", "duration", "debug", "annotations", "binaryannotations"))
_ENDPOINT_KEYS = frozenset(("servicename", "ipv4", "ipv6", "port"))
_ANNOTATION_KEYS = frozenset(("timestamp", "value", "endpoint"))
_BINARY_KEYS = frozenset(("key", "value", "endpoint"))


def to_request_v1(body: bytes, parse_string_tags: bool = False) -> Translation:
    try:
        data = json.loads(body.decode("utf-8", "replace"), parse_constant=reject_constant)
    except json.JSONDecodeError as exc:
        raise ZipkinError(f"zipkinv1: malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except (ValueError, RecursionError):
        raise ZipkinError("zipkinv1: malformed JSON: a number too long, a constant that is not JSON (NaN, Infinity) or nesting too deep") from None
    if data is None:
        data = []
    if not isinstance(data, list):
        raise ZipkinError(f"zipkinv1: expected a JSON array of spans, got {json_kind(data)}")
    reader = _V1Reader(SURROGATE_ESCAPE.search(body) is not None, parse_string_tags)
    request = ExportTraceServiceRequest()
    by_endpoint: dict[tuple[str, str, str, int], Any] = {}
    count = 0
    for i, item in enumerate(data):
        if item is None:
            continue  # json.go would dereference a null span (its handler panics): here it is skipped
        endpoint, span = reader.span(item, i)
        spans = by_endpoint.get(endpoint)
        if spans is None:
            rs = request.resource_spans.add()
            service, ipv4, ipv6, port = endpoint
            resource: dict[str, Any] = {"service.name": service}
            if ipv4 or ipv6 or port:
                resource |= {k: v for k, v in (("ipv4", ipv4), ("ipv6", ipv6), ("port", str(port) if port else "")) if v}
            put_attributes(rs.resource.attributes, resource)
            spans = by_endpoint[endpoint] = rs.scope_spans.add().spans
        spans.append(span)
        count += 1
    return Translation(request, count, 0)


def _int(value: Any, where: str, bits: int) -> int:
    if value is None:
        return 0
    limit = 1 << (bits - 1)
    if not isinstance(value, int) or isinstance(value, bool) or not -limit <= value < limit:
        raise ZipkinError(f"{where}: expected a {bits}-bit integer")
    return value


def _micros(value: int) -> int:
    """epochMicrosecondsToTimestamp: not positive is 0."""
    return value * 1000 % U64 if value > 0 else 0


def _hex_id(text: str, sizes: tuple[int, ...], where: str) -> bytes:
    if len(text) not in sizes:
        raise ZipkinError(f"{where}: hex id has wrong length (expected {' or '.join(map(str, sizes))})")
    if not _HEX.fullmatch(text):
        raise ZipkinError(f"{where}: not hex")
    raw = bytes.fromhex(text.rjust(sizes[-1], "0"))
    if not any(raw):
        raise ZipkinError(f"{where}: id is zero")
    return raw


class _V1Reader:
    def __init__(self, fix_surrogates: bool, parse_string_tags: bool):
        self.text = JSONReader(fix_surrogates).text
        self.parse_string_tags = parse_string_tags

    def endpoint_v1(self, value: Any, where: str) -> tuple[str, str, str, int] | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise ZipkinError(f"{where}: expected an object, got {json_kind(value)}")
        obj = folded(value, _ENDPOINT_KEYS)
        return (self.text(obj.get("servicename"), f"{where}.serviceName"), self.text(obj.get("ipv4"), f"{where}.ipv4"),
                self.text(obj.get("ipv6"), f"{where}.ipv6"), _int(obj.get("port"), f"{where}.port", 32))

    def items(self, value: Any, where: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise ZipkinError(f"{where}: expected an array, got {json_kind(value)}")
        return value

    def span(self, item: Any, index: int) -> tuple[tuple[str, str, str, int], Any]:
        where = f"span {index}"
        if not isinstance(item, dict):
            raise ZipkinError(f"{where}: expected an object, got {json_kind(item)}")
        obj = folded(item, _SPAN_KEYS)
        span = Span()
        span.trace_id = _hex_id(self.text(obj.get("traceid"), f"{where}.traceId"), (16, 32), f"{where}.traceId")
        span.span_id = _hex_id(self.text(obj.get("id"), f"{where}.id"), (16,), f"{where}.id")
        parent = self.text(obj.get("parentid"), f"{where}.parentId")
        if parent:
            span.parent_span_id = _hex_id(parent, (16,), f"{where}.parentId")
        span.name = self.text(obj.get("name"), f"{where}.name")
        if not isinstance(obj.get("debug"), (bool, type(None))):
            raise ZipkinError(f"{where}.debug: expected true or false")
        timestamp = _int(obj.get("timestamp"), f"{where}.timestamp", 64)
        duration = _int(obj.get("duration"), f"{where}.duration", 64)
        endpoint = self.annotations(span, self.items(obj.get("annotations"), f"{where}.annotations"), f"{where}.annotations")
        fallback = self.binary_annotations(span, self.items(obj.get("binaryannotations"), f"{where}.binaryAnnotations"), f"{where}.binaryAnnotations")
        if endpoint is None:
            endpoint = (fallback or UNKNOWN_SERVICE, "", "", 0)
        elif endpoint[0] == UNKNOWN_SERVICE and fallback:
            endpoint = (fallback, *endpoint[1:])
        if timestamp != 0:
            span.start_time_unix_nano = _micros(timestamp)
            span.end_time_unix_nano = _micros((timestamp + duration + _INT64) % U64 - _INT64)  # Go's int64 sum wraps
        if span.start_time_unix_nano == 0:
            now = time.time_ns()
            span.start_time_unix_nano = span.end_time_unix_nano = now
            put_attributes(span.attributes, {START_TIME_ABSENT: True})
        return endpoint, span

    def annotations(self, span: Any, items: list[Any], where: str) -> tuple[str, str, str, int] | None:
        """jsonAnnotationsToSpanAndEndpoint: the kind, times, events and the endpoint of the core annotations."""
        earliest, latest = None, None
        endpoint = None
        kind_set = False
        for i, item in enumerate(items):
            if item is None:
                continue
            if not isinstance(item, dict):
                raise ZipkinError(f"{where}[{i}]: expected an object, got {json_kind(item)}")
            obj = folded(item, _ANNOTATION_KEYS)
            value = self.text(obj.get("value"), f"{where}[{i}].value")
            timestamp = _int(obj.get("timestamp"), f"{where}[{i}].timestamp", 64)
            own = self.endpoint_v1(obj.get("endpoint"), f"{where}[{i}].endpoint")
            if not value:
                continue
            core = value in CORE_KINDS
            if endpoint is None and core and own is not None and own[0]:
                endpoint = own
            if core and not kind_set:
                span.kind = CORE_KINDS[value]
                kind_set = True
            if earliest is None or timestamp < earliest:
                earliest = timestamp
                span.start_time_unix_nano = _micros(timestamp)
            if latest is None or timestamp > latest:
                latest = timestamp
                span.end_time_unix_nano = _micros(timestamp)
            if not core:
                event = span.events.add()
                event.time_unix_nano = _micros(timestamp)
                event.name = value
        return endpoint

    def binary_annotations(self, span: Any, items: list[Any], where: str) -> str:
        """jsonBinAnnotationsToSpanAttributes with statusMapper: attributes and status; returns the fallback
        service name (the last binary annotation endpoint's, else the `lc` value)."""
        fallback, local_component = "", ""
        status = _StatusMapper()
        attributes: dict[str, Any] = {}
        for i, item in enumerate(items):
            if item is None:
                continue
            if not isinstance(item, dict):
                raise ZipkinError(f"{where}[{i}]: expected an object, got {json_kind(item)}")
            obj = folded(item, _BINARY_KEYS)
            key = self.text(obj.get("key"), f"{where}[{i}].key")
            value = self.text(obj.get("value"), f"{where}[{i}].value")
            own = self.endpoint_v1(obj.get("endpoint"), f"{where}[{i}].endpoint")
            if own is not None and own[0]:
                fallback = own[0]
            if key == "lc":
                key, local_component = "component", value
            parsed = tag_value(value) if self.parse_string_tags else value
            if status.take(key, parsed):
                continue
            attributes[key] = parsed
        put_attributes(span.attributes, attributes)
        status.fill(span.status)
        return fallback or local_component


def _status_number(value: Any) -> int | None:
    """attribToStatusCode: an int32 from an int or a decimal string."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return None
    if isinstance(value, str):
        if not re.fullmatch(r"[+-]?[0-9]+", value):
            return None
        value = int(value)
    return value if -_INT32 <= value < _INT32 else None


class _StatusMapper:
    """status_code.go statusMapper: census.status_code > otel.status_code > error > http.status_code."""

    def __init__(self) -> None:
        self.census: int | None = None
        self.census_message = ""
        self.otel: int | None = None
        self.otel_message = ""
        self.error = False
        self.http: int | None = None
        self.http_message = ""

    def take(self, key: str, value: Any) -> bool:
        """Records a status binary annotation; True when it is not kept as an attribute."""
        text = value if isinstance(value, str) else ""
        if key == "census.status_code":
            code = _status_number(value)
            if code is not None:
                self.census = Status.STATUS_CODE_OK if code == 0 else Status.STATUS_CODE_ERROR
            return True
        if key in ("census.status_description", "opencensus.status_description"):
            self.census_message = text
            return True
        if key == "otel.status_code":
            self.otel = _status_number(value)  # kept as is, even an unknown code
            return True
        if key == "otel.status_description":
            self.otel_message = text
            return True
        if key == "http.status_code":
            code = _status_number(value)
            if code is not None:
                self.http = Status.STATUS_CODE_UNSET if 100 <= code < 400 else Status.STATUS_CODE_ERROR
        elif key == "http.status_message":
            self.http_message = text
        elif key == "error":
            self.error = True
            return True
        return False

    def fill(self, status: Any) -> None:
        if self.census is not None:
            code, message = self.census, self.census_message
        elif self.otel is not None:
            code, message = self.otel, self.otel_message
        elif self.error:
            code, message = Status.STATUS_CODE_ERROR, self.census_message or self.otel_message
        elif self.http is not None:
            code, message = self.http, self.http_message
        else:
            return
        status.code = code
        status.message = message
