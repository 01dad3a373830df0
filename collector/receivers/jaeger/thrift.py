"""A bounds-checked reader of the Thrift structures Jaeger clients send: jaeger.thrift's `Batch` (thrift_http's
body, in TBinaryProtocol) and agent.thrift's `emitBatch` call (a UDP datagram, in TCompactProtocol on 6831 and
TBinaryProtocol on 6832).

Written for hostile input: every length is checked against the bytes that remain before anything is allocated,
nesting is limited, varints are bounded, and every failure is a `ThriftError` whose message says where and what
went wrong without quoting the data. Fields are read as Apache Thrift's generated Go code reads them (the code
otelcol's receiver runs): a field of an unexpected type is skipped, unknown fields are skipped. A span missing a
required field (or whose tag, log or reference is) is left out and counted in the Batch's `refused`, so the
caller refuses that span alone (Go's reader fails the whole message); a Batch or Process missing one fails the
whole message. Spans equal to a zero-valued span are left out as otelcol's translator skips them; neither kind
is kept, so a body of empty structs cannot make a million objects.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

# TType codes (TBinaryProtocol's; compact types are mapped onto them).
STOP, BOOL, BYTE, DOUBLE, I16, I32, I64, STRING, STRUCT, MAP, SET, LIST = 0, 2, 3, 4, 6, 8, 10, 11, 12, 13, 14, 15
_VALID = frozenset((BOOL, BYTE, DOUBLE, I16, I32, I64, STRING, STRUCT, MAP, SET, LIST))
# TCompactProtocol type nibble -> TType (1 and 2 are a boolean field's true and false).
_COMPACT = {1: BOOL, 2: BOOL, 3: BYTE, 4: I16, 5: I32, 6: I64, 7: DOUBLE, 8: STRING, 9: LIST, 10: SET, 11: MAP, 12: STRUCT}
MAX_DEPTH = 32  # Jaeger's structures nest 4 deep; anything far deeper is hostile
# Smallest encoding of one element of each type: a list claiming more elements than the remaining bytes can hold
# is refused before any element is read.
_MIN_SIZE = {BOOL: 1, BYTE: 1, DOUBLE: 8, I16: 1, I32: 1, I64: 1, STRING: 1, STRUCT: 1, MAP: 1, SET: 1, LIST: 1}
_MIN_SIZE_BINARY = {BOOL: 1, BYTE: 1, DOUBLE: 8, I16: 2, I32: 4, I64: 8, STRING: 4, STRUCT: 1, MAP: 6, SET: 5, LIST: 5}
_UNPACK_BE = struct.Struct(">q").unpack_from
_DOUBLE_BE = struct.Struct(">d").unpack_from
_DOUBLE_LE = struct.Struct("<d").unpack_from
_I32_BE = struct.Struct(">i").unpack_from
_I16_BE = struct.Struct(">h").unpack_from

# TMessageType
CALL, ONEWAY = 1, 4
# jaeger.thrift TagType
TAG_STRING, TAG_DOUBLE, TAG_BOOL, TAG_LONG, TAG_BINARY = 0, 1, 2, 3, 4
# jaeger.thrift SpanRefType
CHILD_OF, FOLLOWS_FROM = 0, 1


class ThriftError(ValueError):
    """The bytes are not the expected Thrift structure; the message never quotes them."""


@dataclass(slots=True)
class Tag:
    key: str
    v_type: int
    value: Any  # by v_type: str, float, bool, int or bytes; None for an unknown type


@dataclass(slots=True)
class Log:
    timestamp: int
    fields: list[Tag]


@dataclass(slots=True)
class SpanRef:
    ref_type: int
    trace_id_low: int
    trace_id_high: int
    span_id: int


@dataclass(slots=True)
class Span:
    trace_id_low: int = 0
    trace_id_high: int = 0
    span_id: int = 0
    parent_span_id: int = 0
    operation_name: str = ""
    references: list[SpanRef] | None = None
    flags: int = 0
    start_time: int = 0
    duration: int = 0
    tags: list[Tag] | None = None
    logs: list[Log] | None = None
    incomplete: bool | None = None
    problem: str | None = None  # why this span cannot be used (a required field missing), else None; read_batch drops it

    def blank(self) -> bool:
        """Equal to a zero-valued span (otelcol skips those: reflect.DeepEqual(span, new(jaeger.Span)))."""
        return (not (self.trace_id_low or self.trace_id_high or self.span_id or self.parent_span_id or self.operation_name
                     or self.flags or self.start_time or self.duration)
                and self.references is None and self.tags is None and self.logs is None and self.incomplete is None)


@dataclass(slots=True)
class Process:
    service_name: str
    tags: list[Tag] | None


@dataclass(slots=True)
class Batch:
    process: Process
    spans: list[Span] = field(default_factory=list)
    refused: int = 0  # spans left out for a missing required field


class _Reader:
    """The primitives of one protocol over a buffer; subclasses know the encoding."""

    min_size = _MIN_SIZE

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0
        self.end = len(data)

    def need(self, n: int) -> int:
        """The position of `n` more bytes, which must be there."""
        pos = self.pos
        if n < 0 or pos + n > self.end:
            raise ThriftError(f"truncated: {n} more bytes needed at byte {pos} of {self.end}")
        self.pos = pos + n
        return pos

    def byte(self) -> int:
        pos = self.need(1)
        return self.data[pos]

    def string(self) -> str:
        return self.binary().decode("utf-8", "replace")

    def binary(self) -> bytes:
        size = self.length()
        pos = self.need(size)
        return self.data[pos:pos + size]

    def length(self) -> int:
        raise NotImplementedError

    def field(self) -> tuple[int, int]:
        raise NotImplementedError

    def list_header(self) -> tuple[int, int]:
        raise NotImplementedError

    def i16(self) -> int:
        raise NotImplementedError

    def i32(self) -> int:
        raise NotImplementedError

    def i64(self) -> int:
        raise NotImplementedError

    def double(self) -> float:
        raise NotImplementedError

    def bool(self) -> bool:
        raise NotImplementedError

    def begin_struct(self) -> None:
        pass

    def end_struct(self) -> None:
        pass

    def map_header(self) -> tuple[int, int, int]:
        raise NotImplementedError

    def check_count(self, count: int, *types: int) -> None:
        if count < 0:
            raise ThriftError(f"negative collection size at byte {self.pos}")
        smallest = sum(self.min_size[t] for t in types)
        if count * smallest > self.end - self.pos:
            raise ThriftError(f"a collection of {count} elements cannot fit in the {self.end - self.pos} bytes left at byte {self.pos}")

    def skip(self, ttype: int, depth: int = 0) -> None:
        if depth > MAX_DEPTH:
            raise ThriftError(f"structures nested more than {MAX_DEPTH} deep at byte {self.pos}")
        if ttype == BOOL:
            self.bool()
        elif ttype == BYTE:
            self.byte()
        elif ttype == I16:
            self.i16()
        elif ttype == I32:
            self.i32()
        elif ttype == I64:
            self.i64()
        elif ttype == DOUBLE:
            self.double()
        elif ttype == STRING:
            self.need(self.length())
        elif ttype == STRUCT:
            self.begin_struct()
            while True:
                ftype, _ = self.field()
                if ftype == STOP:
                    break
                self.skip(ftype, depth + 1)
            self.end_struct()
        elif ttype in (LIST, SET):
            etype, count = self.list_header()
            for _ in range(count):
                self.skip(etype, depth + 1)
        elif ttype == MAP:
            ktype, vtype, count = self.map_header()
            for _ in range(count):
                self.skip(ktype, depth + 1)
                self.skip(vtype, depth + 1)
        else:
            raise ThriftError(f"invalid type at byte {self.pos}")


class BinaryReader(_Reader):
    """TBinaryProtocol: big-endian fixed-width integers, i32 lengths."""

    min_size = _MIN_SIZE_BINARY

    def length(self) -> int:
        size = self.i32()
        if size < 0:
            raise ThriftError(f"negative length at byte {self.pos - 4}")
        return size

    def i16(self) -> int:
        return int(_I16_BE(self.data, self.need(2))[0])

    def i32(self) -> int:
        return int(_I32_BE(self.data, self.need(4))[0])

    def i64(self) -> int:
        return int(_UNPACK_BE(self.data, self.need(8))[0])

    def double(self) -> float:
        return float(_DOUBLE_BE(self.data, self.need(8))[0])

    def bool(self) -> bool:
        return self.byte() != 0

    def field(self) -> tuple[int, int]:
        ftype = self.byte()
        if ftype == STOP:
            return STOP, 0
        if ftype not in _VALID:
            raise ThriftError(f"invalid field type at byte {self.pos - 1}")
        return ftype, self.i16()

    def list_header(self) -> tuple[int, int]:
        etype = self.byte()
        if etype not in _VALID:
            raise ThriftError(f"invalid list element type at byte {self.pos - 1}")
        count = self.i32()
        self.check_count(count, etype)
        return etype, count

    def map_header(self) -> tuple[int, int, int]:
        ktype, vtype = self.byte(), self.byte()
        if ktype not in _VALID or vtype not in _VALID:
            raise ThriftError(f"invalid map type at byte {self.pos - 2}")
        count = self.i32()
        self.check_count(count, ktype, vtype)
        return ktype, vtype, count

    def message(self) -> tuple[str, int]:
        """A message header: (name, type). Strict (versioned) and old non-strict headers, as Go's reader."""
        first = self.i32()
        if first < 0:
            if first & 0xFFFF0000 != 0x80010000:
                raise ThriftError("bad TBinaryProtocol message version")
            mtype = first & 0xFF
            name = self.string()
            self.i32()  # seqid
            return name, mtype
        pos = self.need(first)
        name = self.data[pos:pos + first].decode("utf-8", "replace")
        mtype = self.byte()
        self.i32()
        return name, mtype


class CompactReader(_Reader):
    """TCompactProtocol: zigzag varints, field-id deltas, booleans folded into field headers, little-endian doubles."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.last_id = 0
        self.ids: list[int] = []
        self.pending_bool: bool | None = None

    def varint(self, limit: int = 10) -> int:
        result = shift = 0
        data, pos, end = self.data, self.pos, self.end
        for _ in range(limit):
            if pos >= end:
                raise ThriftError(f"truncated varint at byte {self.pos}")
            b = data[pos]
            pos += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                self.pos = pos
                return result
            shift += 7
        raise ThriftError(f"varint longer than {limit} bytes at byte {self.pos}")

    def _zigzag(self, limit: int, bits: int) -> int:
        n = self.varint(limit) & ((1 << bits) - 1)
        return (n >> 1) ^ -(n & 1)

    def length(self) -> int:
        return self.varint(5) & 0x7FFFFFFF

    def i16(self) -> int:
        return self._zigzag(3, 16)

    def i32(self) -> int:
        return self._zigzag(5, 32)

    def i64(self) -> int:
        return self._zigzag(10, 64)

    def double(self) -> float:
        return float(_DOUBLE_LE(self.data, self.need(8))[0])

    def bool(self) -> bool:
        if self.pending_bool is not None:
            value, self.pending_bool = self.pending_bool, None
            return value
        return self.byte() == 1

    def begin_struct(self) -> None:
        self.ids.append(self.last_id)
        self.last_id = 0

    def end_struct(self) -> None:
        self.last_id = self.ids.pop() if self.ids else 0

    def field(self) -> tuple[int, int]:
        header = self.byte()
        if header == 0:
            return STOP, 0
        ctype = header & 0x0F
        ttype = _COMPACT.get(ctype)
        if ttype is None:
            raise ThriftError(f"invalid field type at byte {self.pos - 1}")
        delta = header >> 4
        field_id = self.last_id + delta if delta else self.i16()
        self.last_id = field_id
        if ttype == BOOL:
            self.pending_bool = ctype == 1
        return ttype, field_id

    def _element_type(self, ctype: int) -> int:
        ttype = _COMPACT.get(ctype)
        if ttype is None:
            raise ThriftError(f"invalid element type at byte {self.pos - 1}")
        return ttype

    def list_header(self) -> tuple[int, int]:
        header = self.byte()
        count = header >> 4
        etype = self._element_type(header & 0x0F)
        if count == 15:
            count = self.length()
        self.check_count(count, etype)
        return etype, count

    def map_header(self) -> tuple[int, int, int]:
        count = self.length()
        if count == 0:
            return BYTE, BYTE, 0
        types = self.byte()
        ktype, vtype = self._element_type(types >> 4), self._element_type(types & 0x0F)
        self.check_count(count, ktype, vtype)
        return ktype, vtype, count

    def message(self) -> tuple[str, int]:
        if self.byte() != 0x82:
            raise ThriftError("not a TCompactProtocol message (bad protocol id)")
        version_type = self.byte()
        if version_type & 0x1F != 1:
            raise ThriftError("unsupported TCompactProtocol version")
        self.varint(5)  # seqid
        return self.string(), (version_type >> 5) & 0x07


# ----------------------------------------------------------------------------------------- jaeger.thrift

def _struct_fields(r: _Reader, depth: int) -> Any:
    """Yields (type, id) of each field of a struct; the caller reads or skips the value."""
    if depth > MAX_DEPTH:
        raise ThriftError(f"structures nested more than {MAX_DEPTH} deep at byte {r.pos}")
    r.begin_struct()
    while True:
        ftype, fid = r.field()
        if ftype == STOP:
            break
        yield ftype, fid
    r.end_struct()


def _list(r: _Reader, ftype: int, read: Any, depth: int) -> list[Any] | None:
    """A list of structs read with `read`, or None (after skipping) when the field is not a list of structs.
    Every element is read to its end even when one lacks a required field (then `_Missing` is raised after the
    list), so the bytes that follow are still read in step."""
    if ftype != LIST:
        r.skip(ftype, depth)
        return None
    etype, count = r.list_header()
    if etype != STRUCT:
        for _ in range(count):
            r.skip(etype, depth + 1)
        return None
    items = []
    missing: _Missing | None = None
    for _ in range(count):
        try:
            items.append(read(r, depth + 1))
        except _Missing as exc:
            missing = exc
    if missing is not None:
        raise missing
    return items


# Tag field id -> (its Thrift type, the TagType it holds, how it is read).
_TAG_VALUE_FIELDS: dict[int, tuple[int, int, Any]] = {
    3: (STRING, TAG_STRING, _Reader.string), 4: (DOUBLE, TAG_DOUBLE, lambda r: r.double()), 5: (BOOL, TAG_BOOL, lambda r: r.bool()),
    6: (I64, TAG_LONG, lambda r: r.i64()), 7: (STRING, TAG_BINARY, _Reader.binary),
}
_TAG_DEFAULTS: dict[int, Any] = {TAG_STRING: "", TAG_DOUBLE: 0.0, TAG_BOOL: False, TAG_LONG: 0, TAG_BINARY: b""}


class _Missing(Exception):
    """A required field is absent; caught where the structure it breaks is known."""


def read_tag(r: _Reader, depth: int) -> Tag:
    key: str | None = None
    v_type: int | None = None
    values: dict[int, Any] = {}
    for ftype, fid in _struct_fields(r, depth):
        if fid == 1 and ftype == STRING:
            key = r.string()
        elif fid == 2 and ftype == I32:
            v_type = r.i32()
        elif fid in _TAG_VALUE_FIELDS and ftype == _TAG_VALUE_FIELDS[fid][0]:
            _, kind, read = _TAG_VALUE_FIELDS[fid]
            values[kind] = read(r)
        else:
            r.skip(ftype, depth + 1)
    if key is None or v_type is None:
        raise _Missing("a tag without its required key or vType")
    return Tag(key, v_type, values.get(v_type, _TAG_DEFAULTS.get(v_type)))


def read_log(r: _Reader, depth: int) -> Log:
    timestamp: int | None = None
    fields: list[Tag] | None = None
    for ftype, fid in _struct_fields(r, depth):
        if fid == 1 and ftype == I64:
            timestamp = r.i64()
        elif fid == 2:
            fields = _list(r, ftype, read_tag, depth)
        else:
            r.skip(ftype, depth + 1)
    if timestamp is None or fields is None:
        raise _Missing("a log without its required timestamp or fields")
    return Log(timestamp, fields)


def read_span_ref(r: _Reader, depth: int) -> SpanRef:
    got: dict[int, int] = {}
    for ftype, fid in _struct_fields(r, depth):
        if fid == 1 and ftype == I32:
            got[1] = r.i32()
        elif fid in (2, 3, 4) and ftype == I64:
            got[fid] = r.i64()
        else:
            r.skip(ftype, depth + 1)
    if len(got) != 4:
        raise _Missing("a reference without its required refType, traceIdLow, traceIdHigh or spanId")
    return SpanRef(got[1], got[2], got[3], got[4])


_SPAN_I64 = {1: "trace_id_low", 2: "trace_id_high", 3: "span_id", 4: "parent_span_id", 8: "start_time", 9: "duration"}
_SPAN_REQUIRED = frozenset((1, 2, 3, 4, 5, 7, 8, 9))
_SPAN_LISTS = {6: ("references", read_span_ref), 10: ("tags", read_tag), 11: ("logs", read_log)}


def read_span(r: _Reader, depth: int) -> Span:
    span = Span()
    seen: set[int] = set()
    for ftype, fid in _struct_fields(r, depth):
        try:
            if fid in _SPAN_I64 and ftype == I64:
                setattr(span, _SPAN_I64[fid], r.i64())
            elif fid == 5 and ftype == STRING:
                span.operation_name = r.string()
            elif fid == 7 and ftype == I32:
                span.flags = r.i32()
            elif fid in _SPAN_LISTS:
                name, read = _SPAN_LISTS[fid]
                items = _list(r, ftype, read, depth)
                if items is None:
                    continue
                setattr(span, name, items)
            elif fid == 12 and ftype == BOOL:
                span.incomplete = r.bool()
            else:
                r.skip(ftype, depth + 1)
                continue
        except _Missing as missing:  # the list was read to its end: only this span is lost
            span.problem = f"a span with {missing}"
        seen.add(fid)
    if not _SPAN_REQUIRED <= seen and span.problem is None:
        span.problem = "a span without all of its required fields (traceIdLow, traceIdHigh, spanId, parentSpanId, operationName, flags, startTime, duration)"
    return span


def read_process(r: _Reader, depth: int) -> Process:
    service_name: str | None = None
    tags: list[Tag] | None = None
    for ftype, fid in _struct_fields(r, depth):
        if fid == 1 and ftype == STRING:
            service_name = r.string()
        elif fid == 2:
            try:
                tags = _list(r, ftype, read_tag, depth)
            except _Missing as missing:
                raise ThriftError(f"the process has {missing}") from None
        else:
            r.skip(ftype, depth + 1)
    if service_name is None:
        raise ThriftError("the process has no serviceName (required)")
    return Process(service_name, tags)


def read_batch(r: _Reader, depth: int = 0) -> Batch:
    process: Process | None = None
    spans: list[Span] | None = None
    refused = 0
    for ftype, fid in _struct_fields(r, depth):
        if fid == 1 and ftype == STRUCT:
            process = read_process(r, depth + 1)
        elif fid == 2 and ftype == LIST:
            spans, refused = _spans(r, depth)
        else:
            r.skip(ftype, depth + 1)  # seqNo, stats
    if process is None or spans is None:
        raise ThriftError("the batch has no process or no spans (both required)")
    return Batch(process, spans, refused)


def _spans(r: _Reader, depth: int) -> tuple[list[Span] | None, int]:
    """Batch.spans: the usable spans and how many were refused; blank spans are skipped (jThriftSpansToInternal)."""
    etype, count = r.list_header()
    if etype != STRUCT:
        for _ in range(count):
            r.skip(etype, depth + 1)
        return None, 0
    spans, refused = [], 0
    for _ in range(count):
        span = read_span(r, depth + 1)
        if span.problem is not None:
            refused += 1
        elif not span.blank():
            spans.append(span)
    return spans, refused


def decode_batch(body: bytes) -> Batch:
    """thrift_http's body: one Batch struct in TBinaryProtocol (what Jaeger clients' HTTP sender writes)."""
    return read_batch(BinaryReader(body))


def decode_emit_batch(datagram: bytes, compact: bool) -> Batch:
    """One agent datagram: an `Agent.emitBatch(batch)` call (TCompactProtocol, or TBinaryProtocol when not
    `compact`). Other calls (emitZipkinBatch) are refused: otelcol's receiver does not serve them."""
    r: _Reader = CompactReader(datagram) if compact else BinaryReader(datagram)
    name, mtype = r.message()  # type: ignore[attr-defined]
    if name != "emitBatch":
        raise ThriftError("not an emitBatch call (the only Agent method served)")
    if mtype not in (CALL, ONEWAY):
        raise ThriftError("not a call message")
    batch: Batch | None = None
    for ftype, fid in _struct_fields(r, 0):
        if fid == 1 and ftype == STRUCT:
            batch = read_batch(r, 1)
        else:
            r.skip(ftype, 1)
    if batch is None:
        raise ThriftError("the emitBatch call has no batch argument")
    return batch
