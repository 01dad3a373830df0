"""Thrift bytes of jaeger.thrift / agent.thrift structures for the jaeger receiver's tests, written from the Thrift
protocol specifications (TBinaryProtocol, TCompactProtocol) independently of the receiver's reader. The real Jaeger
client (tests/jaeger_thrift_app.py, in its own venv) is what proves the reader against bytes from the wild; this
writer makes the table and hostile-input tests possible in the project's venv, where no thrift library is.

A struct is a list of (field id, type, value): value is a Python value for scalars, a list of fields for STRUCT,
and (element type, [values]) for LIST."""

from __future__ import annotations

import struct
from typing import Any

BOOL, BYTE, DOUBLE, I16, I32, I64, STRING, STRUCT, LIST = 2, 3, 4, 6, 8, 10, 11, 12, 15
_COMPACT_TYPE = {BOOL: 1, BYTE: 3, I16: 4, I32: 5, I64: 6, DOUBLE: 7, STRING: 8, LIST: 9, STRUCT: 12}
Fields = list[tuple[int, int, Any]]


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        if n < 0x80:
            out.append(n)
            return bytes(out)
        out.append((n & 0x7F) | 0x80)
        n >>= 7


def _zigzag(n: int, bits: int) -> bytes:
    return _varint(((n << 1) ^ (n >> (bits - 1))) & ((1 << bits) - 1))


def _bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


class Binary:
    @staticmethod
    def value(ttype: int, value: Any) -> bytes:
        if ttype == BOOL:
            return b"\x01" if value else b"\x00"
        if ttype == BYTE:
            return struct.pack(">b", value)
        if ttype == I16:
            return struct.pack(">h", value)
        if ttype == I32:
            return struct.pack(">i", value)
        if ttype == I64:
            return struct.pack(">q", value)
        if ttype == DOUBLE:
            return struct.pack(">d", value)
        if ttype == STRING:
            raw = _bytes(value)
            return struct.pack(">i", len(raw)) + raw
        if ttype == STRUCT:
            return Binary.struct(value)
        etype, items = value
        return bytes([etype]) + struct.pack(">i", len(items)) + b"".join(Binary.value(etype, item) for item in items)

    @staticmethod
    def struct(fields: Fields) -> bytes:
        return b"".join(bytes([t]) + struct.pack(">h", fid) + Binary.value(t, v) for fid, t, v in fields) + b"\x00"

    @staticmethod
    def message(name: str, mtype: int, args: Fields, strict: bool = True) -> bytes:
        raw = name.encode()
        if strict:
            head = struct.pack(">I", 0x80010000 | mtype) + struct.pack(">i", len(raw)) + raw + struct.pack(">i", 0)
        else:
            head = struct.pack(">i", len(raw)) + raw + bytes([mtype]) + struct.pack(">i", 0)
        return head + Binary.struct(args)


class Compact:
    @staticmethod
    def value(ttype: int, value: Any) -> bytes:
        if ttype == BOOL:  # only as a list element: in a field, the type nibble carries it
            return b"\x01" if value else b"\x02"
        if ttype == BYTE:
            return struct.pack(">b", value)
        if ttype == I16:
            return _zigzag(value, 16)
        if ttype == I32:
            return _zigzag(value, 32)
        if ttype == I64:
            return _zigzag(value, 64)
        if ttype == DOUBLE:
            return struct.pack("<d", value)
        if ttype == STRING:
            raw = _bytes(value)
            return _varint(len(raw)) + raw
        if ttype == STRUCT:
            return Compact.struct(value)
        etype, items = value
        size = len(items)
        head = bytes([(size << 4) | _COMPACT_TYPE[etype]]) if size < 15 else bytes([0xF0 | _COMPACT_TYPE[etype]]) + _varint(size)
        return head + b"".join(Compact.value(etype, item) for item in items)

    @staticmethod
    def struct(fields: Fields) -> bytes:
        out = bytearray()
        last = 0
        for fid, ttype, value in fields:
            ctype = (1 if value else 2) if ttype == BOOL else _COMPACT_TYPE[ttype]
            delta = fid - last
            out += bytes([(delta << 4) | ctype]) if 0 < delta <= 15 else bytes([ctype]) + _zigzag(fid, 16)
            if ttype != BOOL:
                out += Compact.value(ttype, value)
            last = fid
        return bytes(out) + b"\x00"

    @staticmethod
    def message(name: str, mtype: int, args: Fields) -> bytes:
        raw = name.encode()
        return bytes([0x82, (mtype << 5) | 1]) + _varint(0) + _varint(len(raw)) + raw + Compact.struct(args)


# jaeger.thrift, as field lists -----------------------------------------------------------------------------

def tag(key: str, value: Any) -> Fields:
    """A Tag of the type Python's value has (bytes -> BINARY)."""
    if isinstance(value, bool):
        return [(1, STRING, key), (2, I32, 2), (5, BOOL, value)]
    if isinstance(value, int):
        return [(1, STRING, key), (2, I32, 3), (6, I64, value)]
    if isinstance(value, float):
        return [(1, STRING, key), (2, I32, 1), (4, DOUBLE, value)]
    if isinstance(value, bytes):
        return [(1, STRING, key), (2, I32, 4), (7, STRING, value)]
    return [(1, STRING, key), (2, I32, 0), (3, STRING, value)]


def tags(mapping: dict[str, Any]) -> tuple[int, list[Fields]]:
    return STRUCT, [tag(k, v) for k, v in mapping.items()]


def span(trace_id: int, span_id: int, name: str = "op", *, parent: int = 0, start_us: int = 1_700_000_000_000_000, duration_us: int = 1000,
         flags: int = 1, span_tags: dict[str, Any] | None = None, logs: list[tuple[int, dict[str, Any]]] | None = None,
         refs: list[tuple[int, int, int]] | None = None) -> Fields:
    """trace_id as a 128-bit int; refs are (ref type, trace id, span id)."""
    high, low = _signed(trace_id >> 64), _signed(trace_id & (2**64 - 1))
    fields: Fields = [(1, I64, low), (2, I64, high), (3, I64, _signed(span_id)), (4, I64, _signed(parent)), (5, STRING, name)]
    if refs is not None:
        fields.append((6, LIST, (STRUCT, [[(1, I32, rt), (2, I64, _signed(t & (2**64 - 1))), (3, I64, _signed(t >> 64)), (4, I64, _signed(s))] for rt, t, s in refs])))
    fields += [(7, I32, flags), (8, I64, start_us), (9, I64, duration_us)]
    if span_tags is not None:
        fields.append((10, LIST, tags(span_tags)))
    if logs is not None:
        fields.append((11, LIST, (STRUCT, [[(1, I64, ts), (2, LIST, tags(f))] for ts, f in logs])))
    return fields


def batch(service: str, spans: list[Fields], process_tags: dict[str, Any] | None = None) -> Fields:
    process: Fields = [(1, STRING, service)]
    if process_tags is not None:
        process.append((2, LIST, tags(process_tags)))
    return [(1, STRUCT, process), (2, LIST, (STRUCT, spans))]


def emit_batch(fields: Fields, compact: bool = True) -> bytes:
    """An Agent.emitBatch oneway call, as a Jaeger client's UDP datagram."""
    return Compact.message("emitBatch", 4, [(1, STRUCT, fields)]) if compact else Binary.message("emitBatch", 4, [(1, STRUCT, fields)])


def _signed(n: int) -> int:
    n &= 2**64 - 1
    return n - 2**64 if n >= 2**63 else n
