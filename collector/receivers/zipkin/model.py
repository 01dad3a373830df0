"""Zipkin v2 spans as otelcol reads them, before translation to OTLP (translate.py).

otelcol's zipkin receiver decodes a POST /api/v2/spans body with zipkin-go: JSON with model.SpanModel's
UnmarshalJSON (Go's encoding/json: field names matched case-insensitively, strict types), protobuf with
zipkin_proto3.ParseSpans. Either fails the whole request on the first bad span (a missing or zero span id, a
trace id that is not hex, a tag that is not a string, an IP address that does not parse), and so do these
decoders: `ZipkinError` carries a reason that never quotes the offending value. Where zipkin-go's two paths
differ, so do these: a JSON span without a timestamp has none (the translator marks it), a protobuf span's
absent timestamp is the epoch; protobuf wants a 16-byte trace id and takes a zero span id, JSON takes 1 to 32
hex digits and refuses a zero span id.

Times are kept as OTLP's nanoseconds, wrapped to 64 bits as Go's arithmetic wraps them.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import DecodeError

from .proto import zipkin_pb2

U64 = 1 << 64
_INT64 = 1 << 63
_HEX = re.compile(r"[0-9a-fA-F]+")
# A \uD800-\uDFFF escape may leave a lone surrogate in a decoded string; Go's decoder puts U+FFFD in its place.
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class ZipkinError(ValueError):
    """A body otelcol refuses with 400: the reason names the span and field, never their values."""


@dataclass(slots=True)
class Endpoint:
    service_name: str = ""
    ipv4: str | None = None  # as Go's net.IP.String() writes it
    ipv6: str | None = None
    port: int = 0


@dataclass(slots=True)
class ZipkinSpan:
    trace_id: bytes  # 16 bytes, big endian
    id: int
    parent_id: int | None = None
    name: str = ""
    kind: str = ""  # "CLIENT", "SERVER", "PRODUCER", "CONSUMER"; anything else is undetermined
    timestamp_ns: int | None = None  # None: absent (a JSON span without timestamp)
    duration_ns: int = 0
    local_endpoint: Endpoint | None = None
    remote_endpoint: Endpoint | None = None
    annotations: list[tuple[int, str]] = field(default_factory=list)  # (time in ns, value)
    tags: dict[str, str] = field(default_factory=dict)


# --- JSON ---------------------------------------------------------------------------------------------------


def reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def spans_from_json(body: bytes) -> list[ZipkinSpan | None]:
    """A JSON array of v2 spans; a null element stays None (the translator skips it, as otelcol does)."""
    try:
        data = json.loads(body.decode("utf-8", "replace"), parse_constant=reject_constant)
    except json.JSONDecodeError as exc:
        raise ZipkinError(f"malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except (ValueError, RecursionError):
        raise ZipkinError("malformed JSON: a number too long, a constant that is not JSON (NaN, Infinity) or nesting too deep") from None
    if data is None:
        return []
    if not isinstance(data, list):
        raise ZipkinError(f"expected a JSON array of spans, got {json_kind(data)}")
    reader = JSONReader(fix_surrogates=SURROGATE_ESCAPE.search(body) is not None)
    return [reader.span(item, i) for i, item in enumerate(data)]


def json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def folded(obj: dict[str, Any], known: frozenset[str]) -> dict[str, Any]:
    """Go's encoding/json matches a key to a field ignoring case; a later key wins."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        folded = key.lower()
        if folded in known:
            out[folded] = value
    return out


_SPAN_KEYS = frozenset(("traceid", "id", "parentid", "debug", "name", "kind", "timestamp", "duration", "shared",
                        "localendpoint", "remoteendpoint", "annotations", "tags"))
_ENDPOINT_KEYS = frozenset(("servicename", "ipv4", "ipv6", "port"))
_ANNOTATION_KEYS = frozenset(("timestamp", "value"))


class JSONReader:
    def __init__(self, fix_surrogates: bool):
        self.fix_surrogates = fix_surrogates

    def span(self, item: Any, index: int) -> ZipkinSpan | None:
        if item is None:
            return None
        where = f"span {index}"
        if not isinstance(item, dict):
            raise ZipkinError(f"{where}: expected an object, got {json_kind(item)}")
        obj = folded(item, _SPAN_KEYS)
        trace_id = bytes(16)
        if "traceid" in obj:
            trace_id = _trace_id_from_hex(self.id_text(obj["traceid"], f"{where}.traceId"), f"{where}.traceId")
        span_id = 0
        if "id" in obj:
            span_id = _id_from_hex(self.id_text(obj["id"], f"{where}.id"), f"{where}.id")
        if span_id == 0:
            raise ZipkinError(f"{where}: valid span id required")
        parent_id = None
        if obj.get("parentid") is not None:
            parent_id = _id_from_hex(self.id_text(obj["parentid"], f"{where}.parentId"), f"{where}.parentId")
        for key in ("debug", "shared"):
            if not isinstance(obj.get(key), (bool, type(None))):
                raise ZipkinError(f"{where}.{key}: expected true or false")
        timestamp = _uint(obj.get("timestamp"), f"{where}.timestamp", U64)
        duration = _uint(obj.get("duration"), f"{where}.duration", U64)
        start = timestamp * 1000 % U64 if timestamp > 0 else None
        return ZipkinSpan(
            trace_id=trace_id,
            id=span_id,
            parent_id=parent_id,
            name=self.text(obj.get("name"), f"{where}.name"),
            kind=self.text(obj.get("kind"), f"{where}.kind"),
            timestamp_ns=start,
            duration_ns=duration * 1000 % U64,
            local_endpoint=self.endpoint(obj.get("localendpoint"), f"{where}.localEndpoint"),
            remote_endpoint=self.endpoint(obj.get("remoteendpoint"), f"{where}.remoteEndpoint"),
            annotations=self.annotations(obj.get("annotations"), f"{where}.annotations"),
            tags=self.tags(obj.get("tags"), f"{where}.tags"),
        )

    def text(self, value: Any, where: str) -> str:
        if value is None:
            return ""
        if not isinstance(value, str):
            raise ZipkinError(f"{where}: expected a string, got {json_kind(value)}")
        if self.fix_surrogates and _SURROGATE.search(value):
            return _SURROGATE.sub("\ufffd", value)
        return value

    def id_text(self, value: Any, where: str) -> str:
        # zipkin-go parses an id from the JSON token itself: null (and any non-string) is not an id.
        if not isinstance(value, str):
            raise ZipkinError(f"{where}: expected a hex string, got {json_kind(value)}")
        return value

    def endpoint(self, value: Any, where: str) -> Endpoint | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise ZipkinError(f"{where}: expected an object, got {json_kind(value)}")
        obj = folded(value, _ENDPOINT_KEYS)
        return Endpoint(
            service_name=self.text(obj.get("servicename"), f"{where}.serviceName"),
            ipv4=_ip_text(self.text(obj.get("ipv4"), f"{where}.ipv4"), f"{where}.ipv4"),
            ipv6=_ip_text(self.text(obj.get("ipv6"), f"{where}.ipv6"), f"{where}.ipv6"),
            port=_uint(obj.get("port"), f"{where}.port", 1 << 16),
        )

    def annotations(self, value: Any, where: str) -> list[tuple[int, str]]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise ZipkinError(f"{where}: expected an array, got {json_kind(value)}")
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise ZipkinError(f"{where}[{i}]: expected an object, got {json_kind(item)}")
            obj = folded(item, _ANNOTATION_KEYS)
            timestamp = obj.get("timestamp")
            if timestamp is None:
                timestamp = 0
            elif not isinstance(timestamp, int) or isinstance(timestamp, bool) or not -_INT64 <= timestamp < _INT64:
                raise ZipkinError(f"{where}[{i}].timestamp: expected a 64-bit integer of microseconds")
            out.append((timestamp * 1000 % U64, self.text(obj.get("value"), f"{where}[{i}].value")))
        return out

    def tags(self, value: Any, where: str) -> dict[str, str]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ZipkinError(f"{where}: expected an object of strings, got {json_kind(value)}")
        return {self.text(key, where): self.text(val, f"{where} (a value)") for key, val in value.items()}


def _uint(value: Any, where: str, limit: int) -> int:
    """An unsigned integer below `limit` (Go's uint64 / uint16 fields: no sign, no fraction, no exponent)."""
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < limit:
        raise ZipkinError(f"{where}: expected an unsigned integer below {limit}")
    return value


def _hex_uint64(text: str, where: str) -> int:
    if not _HEX.fullmatch(text):
        raise ZipkinError(f"{where}: not a hex number")
    value = int(text, 16)
    if value >= U64:
        raise ZipkinError(f"{where}: more than 64 bits")
    return value


def _trace_id_from_hex(text: str, where: str) -> bytes:
    """zipkin-go's TraceIDFromHex: the last 16 digits are the low half, any before them the high half."""
    if not text:
        raise ZipkinError(f"{where}: valid traceId required")
    if len(text) > 16:
        high, low = _hex_uint64(text[:-16], where), _hex_uint64(text[-16:], where)
    else:
        high, low = 0, _hex_uint64(text, where)
    return high.to_bytes(8, "big") + low.to_bytes(8, "big")


def _id_from_hex(text: str, where: str) -> int:
    return 0 if not text else _hex_uint64(text, where)


def _ip_text(text: str, where: str) -> str | None:
    """Go's net.ParseIP then IP.String(): "" is no address; no zone; an IPv4-mapped address prints as IPv4."""
    if not text:
        return None
    try:
        if "%" in text:
            raise ValueError
        address = ipaddress.ip_address(text)
    except ValueError:
        raise ZipkinError(f"{where}: invalid IP address") from None
    return _ip_string(address)


def _ip_string(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


# --- protobuf -----------------------------------------------------------------------------------------------

_KIND_NAMES = {number: name for name, number in zipkin_pb2.Span.Kind.items()}


def spans_from_proto(body: bytes) -> list[ZipkinSpan | None]:
    """A ListOfSpans, read as zipkin_proto3.ParseSpans reads it."""
    try:
        message = zipkin_pb2.ListOfSpans.FromString(body)
    except DecodeError as exc:
        raise ZipkinError(f"malformed protobuf ListOfSpans: {exc}") from None
    return [_proto_span(span, i) for i, span in enumerate(message.spans)]


def _proto_span(span: Any, index: int) -> ZipkinSpan:
    where = f"span {index}"
    if len(span.trace_id) != 16:
        raise ZipkinError(f"{where}: invalid TraceID: has length {len(span.trace_id)} yet wanted length 16")
    parent_id = _proto_id(span.parent_id, f"{where}: invalid ParentID")
    span_id = _proto_id(span.id, f"{where}: invalid SpanID")
    if span_id is None:
        raise ZipkinError(f"{where}: expected a non-nil SpanID")
    return ZipkinSpan(
        trace_id=bytes(span.trace_id),
        id=span_id,
        parent_id=parent_id,
        name=span.name,
        kind=_KIND_NAMES.get(span.kind, str(span.kind)),
        timestamp_ns=span.timestamp * 1000 % U64,  # ParseSpans turns 0 into the epoch, not into "absent"
        duration_ns=span.duration * 1000 % U64,
        local_endpoint=_proto_endpoint(span.local_endpoint) if span.HasField("local_endpoint") else None,
        remote_endpoint=_proto_endpoint(span.remote_endpoint) if span.HasField("remote_endpoint") else None,
        annotations=[(a.timestamp * 1000 % U64, a.value) for a in span.annotations],
        tags=dict(span.tags),
    )


def _proto_id(raw: bytes, where: str) -> int | None:
    if not raw:
        return None
    if len(raw) != 8:
        raise ZipkinError(f"{where}: has length {len(raw)} yet wanted length 8")
    return int.from_bytes(raw, "big")


def _proto_endpoint(endpoint: Any) -> Endpoint:
    return Endpoint(
        service_name=endpoint.service_name,
        ipv4=_ip_bytes(endpoint.ipv4),
        ipv6=_ip_bytes(endpoint.ipv6),
        port=endpoint.port & 0xFFFF,  # Go's uint16(int32)
    )


def _ip_bytes(raw: bytes) -> str | None:
    """net.IP(raw).String(): 4 or 16 bytes as an address, any other length as "?" and its hex."""
    if not raw:
        return None
    if len(raw) == 4:
        return str(ipaddress.IPv4Address(raw))
    if len(raw) == 16:
        return _ip_string(ipaddress.IPv6Address(raw))
    return "?" + raw.hex()
