"""OTTL's values over OTLP protobuf messages: AnyValue to Python and back, and attribute maps.

OTTL (pkg/ottl, on pdata) sees str, bool, int (int64), float, bytes, None (nil), maps and slices. Here a map
read from telemetry is an `AttrMap`, a live view of a repeated KeyValue field (editors change it in place,
as they change a pcommon.Map), and a slice a Python list; a map built by a statement (a literal, ParseJSON)
is a dict. Ints are kept in int64 range the way Go's arithmetic wraps them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from ..pdata import set_any


def from_any(value: AnyValue) -> Any:
    """The OTTL value of an AnyValue (maps as live AttrMaps, arrays as lists of values)."""
    which = value.WhichOneof("value")
    if which == "string_value":
        return value.string_value
    if which == "int_value":
        return value.int_value
    if which == "double_value":
        return value.double_value
    if which == "bool_value":
        return value.bool_value
    if which == "bytes_value":
        return value.bytes_value
    if which == "kvlist_value":
        return AttrMap(value.kvlist_value.values)
    if which == "array_value":
        return [from_any(v) for v in value.array_value.values]
    return None


def to_any(value: Any, out: AnyValue) -> None:
    """Writes an OTTL value into `out` (replacing what it held): ints wrap as Go's int64, a value of no
    OTTL type is written as its string."""
    out.Clear()
    set_any(out, value, big_int="wrap", other="string")


def plain(value: Any) -> Any:
    """A copy without live views (AttrMap -> dict), for comparisons and for values a statement keeps."""
    if isinstance(value, AttrMap):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


class AttrMap:
    """A pcommon.Map over a repeated KeyValue field: get and set the first entry of a key, as pdata does."""

    __slots__ = ("kvs",)

    def __init__(self, kvs: Any):
        self.kvs = kvs

    def _find(self, key: str) -> KeyValue | None:
        for kv in self.kvs:
            if kv.key == key:
                return kv
        return None

    def get(self, key: str) -> Any:
        kv = self._find(key)
        return None if kv is None else from_any(kv.value)

    def __contains__(self, key: object) -> bool:
        return any(kv.key == key for kv in self.kvs)

    def __len__(self) -> int:
        return len(self.kvs)

    def keys(self) -> list[str]:
        return [kv.key for kv in self.kvs]

    def items(self) -> Iterator[tuple[str, Any]]:
        for kv in self.kvs:
            yield kv.key, from_any(kv.value)

    def slot(self, key: str) -> AnyValue:
        """The AnyValue of `key`, added (empty) when absent."""
        kv = self._find(key)
        if kv is None:
            kv = self.kvs.add(key=key)
        return kv.value

    def set(self, key: str, value: Any) -> None:
        to_any(value, self.slot(key))

    def remove(self, key: str) -> bool:
        for i, kv in enumerate(self.kvs):
            if kv.key == key:
                del self.kvs[i]
                return True
        return False

    def retain(self, keep: Any) -> None:
        """Keeps the entries whose key `keep(key)` accepts, in order."""
        kept = [kv for kv in self.kvs if keep(kv.key)]
        if len(kept) != len(self.kvs):
            copies = [KeyValue(key=kv.key, value=kv.value) for kv in kept]
            del self.kvs[:]
            self.kvs.extend(copies)

    def replace_all(self, value: Any) -> None:
        """The whole map becomes `value` (a map), as `set(attributes, {...})` does."""
        entries = list(plain(value).items()) if isinstance(value, (AttrMap, dict)) else []
        del self.kvs[:]
        for k, v in entries:
            to_any(v, self.kvs.add(key=k).value)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (AttrMap, dict)):
            return plain(self) == plain(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


def type_name(value: Any) -> str:
    """pcommon.ValueType names, for errors."""
    if value is None:
        return "Empty"
    if isinstance(value, bool):
        return "Bool"
    if isinstance(value, int):
        return "Int"
    if isinstance(value, float):
        return "Double"
    if isinstance(value, str):
        return "Str"
    if isinstance(value, (bytes, bytearray)):
        return "Bytes"
    if isinstance(value, (AttrMap, dict)):
        return "Map"
    if isinstance(value, list):
        return "Slice"
    return type(value).__name__
