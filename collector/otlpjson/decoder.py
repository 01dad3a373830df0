"""The OTLP-JSON decoder: per-message tables built from the protobuf descriptors validate the document
parsed by orjson and turn it into nested keyword-argument dicts, from which the C protobuf runtime builds
the whole request in one constructor call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)

from .base import JSONDict, OTLPJSONError
from .converters import (
    _HEX_ID_BYTES,
    _SCALAR_CONVERTERS,
    _T,
    Converter,
    _enum_converter,
    _got,
    _hex_id_converter,
    _Invalid,
)

# Same limit as the protobuf binary parser (upb's default), so that whatever we
# accept can also be serialised and parsed again by the protobuf runtime.
MAX_NESTING_DEPTH = 100

MessageConverter = Callable[[Any, int], Any]

# (python field name, converter, oneof name or None, converter takes a depth)
_FieldEntry = tuple[str, Callable[..., Any], "str | None", bool]


class _MessageSpec:
    __slots__ = ("full_name", "fields")

    def __init__(self, full_name: str) -> None:
        self.full_name = full_name
        self.fields: dict[str, _FieldEntry] = {}


_SPECS: dict[str, _MessageSpec] = {}


def _message_converter(spec: _MessageSpec) -> MessageConverter:
    fields = spec.fields

    def conv(obj: Any, depth: int) -> JSONDict:
        if type(obj) is not dict:
            raise _Invalid(f"expected a JSON object for {spec.full_name}, {_got(obj)}")
        if depth > MAX_NESTING_DEPTH:
            raise _Invalid(f"messages nested more than {MAX_NESTING_DEPTH} levels deep")
        out: JSONDict = {}
        oneofs: dict[str, str] | None = None
        for key, value in obj.items():
            entry = fields.get(key)
            if entry is None or value is None:
                # Unknown fields are ignored; null means "default" in proto3 JSON.
                continue
            name, field_conv, oneof, nested = entry
            if name in out:
                exc = _Invalid(f"field {name!r} given more than once")
                exc.path.append(key)
                raise exc
            if oneof is not None:
                if oneofs is None:
                    oneofs = {}
                if oneof in oneofs:
                    exc = _Invalid(f"oneof {oneof!r} already set by {oneofs[oneof]!r}")
                    exc.path.append(key)
                    raise exc
                oneofs[oneof] = key
            try:
                out[name] = field_conv(value, depth + 1) if nested else field_conv(value)
            except _Invalid as exc:
                exc.path.append(key)
                raise
        return out

    return conv


def _repeated_converter(item_conv: Converter) -> Converter:
    def conv(values: Any) -> list[Any]:
        if type(values) is not list:
            raise _Invalid(f"expected an array, {_got(values)}")
        out: list[Any] = []
        append = out.append
        try:
            for v in values:
                append(item_conv(v))
        except _Invalid as exc:
            exc.path.append(len(out))  # index of the failing item
            raise
        return out

    return conv


def _repeated_message_converter(item_conv: MessageConverter) -> MessageConverter:
    def conv(values: Any, depth: int) -> list[Any]:
        if type(values) is not list:
            raise _Invalid(f"expected an array, {_got(values)}")
        out: list[Any] = []
        append = out.append
        try:
            for v in values:
                append(item_conv(v, depth))
        except _Invalid as exc:
            exc.path.append(len(out))  # index of the failing item
            raise
        return out

    return conv


def _spec_for(desc: Descriptor) -> _MessageSpec:
    spec = _SPECS.get(desc.full_name)
    if spec is not None:
        return spec
    spec = _MessageSpec(desc.full_name)
    _SPECS[desc.full_name] = spec  # registered before recursing: AnyValue is recursive
    for field in desc.fields:
        nested = field.type == _T.TYPE_MESSAGE
        conv: Callable[..., Any]
        if nested:
            message_type = field.message_type
            assert message_type is not None  # a TYPE_MESSAGE field always has its message descriptor
            if message_type.GetOptions().map_entry:
                raise TypeError(f"map fields are not supported ({field.full_name})")
            message_conv = _message_converter(_spec_for(message_type))
            conv = _repeated_message_converter(message_conv) if field.is_repeated else message_conv
        else:
            scalar_conv: Converter
            if field.type == _T.TYPE_ENUM:
                scalar_conv = _enum_converter(field)
            elif field.type == _T.TYPE_BYTES and field.name in _HEX_ID_BYTES:
                scalar_conv = _hex_id_converter(_HEX_ID_BYTES[field.name])
            else:
                try:
                    scalar_conv = _SCALAR_CONVERTERS[field.type]
                except KeyError:
                    raise TypeError(f"unsupported field type {field.type} for {field.full_name}") from None
            conv = _repeated_converter(scalar_conv) if field.is_repeated else scalar_conv
        oneof = field.containing_oneof
        # Synthetic oneofs of proto3 `optional` fields cannot conflict with anything.
        oneof_name = oneof.name if oneof is not None and len(oneof.fields) > 1 else None
        entry: _FieldEntry = (field.name, conv, oneof_name, nested)
        spec.fields[field.json_name] = entry
        spec.fields[field.name] = entry
    return spec


_M = TypeVar("_M", bound=Message)
JSONInput = bytes | bytearray | memoryview | str


def _decode(cls: type[_M], conv: MessageConverter, data: JSONInput) -> _M:
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise OTLPJSONError(f"invalid JSON: {exc}") from None
    except TypeError as exc:
        raise OTLPJSONError(f"invalid input type: {exc}") from None
    if type(obj) is not dict:
        raise OTLPJSONError(f"expected a JSON object at the top level, {_got(obj)}")
    try:
        kwargs = conv(obj, 1)
    except _Invalid as exc:
        raise OTLPJSONError(exc.render()) from None
    except RecursionError:
        raise OTLPJSONError("document is nested too deeply") from None
    except (ValueError, TypeError, OverflowError) as exc:  # defensive: converters raise _Invalid
        raise OTLPJSONError(f"invalid {cls.DESCRIPTOR.full_name}: {exc}") from None
    try:
        return cls(**kwargs)
    except RecursionError:
        raise OTLPJSONError("document is nested too deeply") from None
    except (ValueError, TypeError) as exc:  # defensive: the tables should prevent this
        raise OTLPJSONError(f"invalid {cls.DESCRIPTOR.full_name}: {exc}") from None


_TRACES_CONV = _message_converter(_spec_for(ExportTraceServiceRequest.DESCRIPTOR))
_LOGS_CONV = _message_converter(_spec_for(ExportLogsServiceRequest.DESCRIPTOR))
_METRICS_CONV = _message_converter(_spec_for(ExportMetricsServiceRequest.DESCRIPTOR))


def decode_traces(data: JSONInput) -> ExportTraceServiceRequest:
    """OTLP-JSON -> ExportTraceServiceRequest; raises OTLPJSONError."""
    return _decode(ExportTraceServiceRequest, _TRACES_CONV, data)


def decode_logs(data: JSONInput) -> ExportLogsServiceRequest:
    """OTLP-JSON -> ExportLogsServiceRequest; raises OTLPJSONError."""
    return _decode(ExportLogsServiceRequest, _LOGS_CONV, data)


def decode_metrics(data: JSONInput) -> ExportMetricsServiceRequest:
    """OTLP-JSON -> ExportMetricsServiceRequest; raises OTLPJSONError."""
    return _decode(ExportMetricsServiceRequest, _METRICS_CONV, data)


_DECODERS: dict[str, Callable[[JSONInput], Message]] = {
    "traces": decode_traces,
    "logs": decode_logs,
    "metrics": decode_metrics,
}


def decode(signal: str, data: JSONInput) -> Message:
    """Parse an OTLP-JSON document into the Export*ServiceRequest of ``signal``.

    Accepts lowerCamelCase and snake_case keys, enums as numbers or names, 64-bit
    integers as strings or numbers, hex ids in any case; ignores unknown fields and
    treats null as "not set". Raises OTLPJSONError on anything invalid.
    """
    try:
        decoder = _DECODERS[signal]
    except KeyError:
        raise ValueError(f"unknown signal {signal!r}; expected one of {sorted(_DECODERS)}") from None
    return decoder(data)
