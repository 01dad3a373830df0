"""pcommon.Map's semantics over a protobuf repeated KeyValue, for the spans the normalizer changes.

Get finds a key's first entry; Put replaces that entry's value in place or appends a new entry; Remove moves
the last entry into the removed one's place, as pcommon does, so attributes come out in the order contrib's
processor leaves them. The key index is built once per changed span (or event), not for spans nothing
matched."""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue


class AttributeMap:
    __slots__ = ("kvs", "index", "_duplicates")

    def __init__(self, kvs: Any):
        self.kvs = kvs
        self._reindex()

    def _reindex(self) -> None:
        index: dict[str, int] = {}
        for i, kv in enumerate(self.kvs):
            index.setdefault(kv.key, i)
        self.index = index
        self._duplicates = len(index) != len(self.kvs)

    def __contains__(self, key: str) -> bool:
        return key in self.index

    def get(self, key: str) -> AnyValue | None:
        i = self.index.get(key)
        return None if i is None else self.kvs[i].value

    def position(self, key: str) -> int:
        return self.index[key]

    def put(self, key: str, value: AnyValue) -> None:
        i = self.index.get(key)
        if i is None:
            kv = self.kvs.add()
            kv.key = key
            kv.value.CopyFrom(value)
            self.index[key] = len(self.kvs) - 1
        elif self.kvs[i].value is not value:
            self.kvs[i].value.CopyFrom(value)

    def put_str(self, key: str, value: str) -> None:
        self.put(key, AnyValue(string_value=value))

    def remove(self, key: str) -> None:
        i = self.index.pop(key, None)
        if i is None:
            return
        kvs = self.kvs
        last = len(kvs) - 1
        if i != last:
            kvs[i].CopyFrom(kvs[last])
        del kvs[last]
        if self._duplicates:
            self._reindex()
        elif i != last:
            self.index[kvs[i].key] = i
