"""pcommon.Map's semantics over a protobuf repeated KeyValue, for the spans the normalizer changes.

Get finds a key's first entry; Put replaces that entry's value in place or appends a new entry; Remove moves
the last entry into the removed one's place, as pcommon does, so attributes come out in the order contrib's
processor leaves them.

Reading an attribute of a parsed (upb) span costs far more than a dict operation (about 0.8 us each), so
the normalizer reads a span's keys once (a list comprehension, the cheapest way) and builds the index from
that list only for a span some source acts on."""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue


def present_prefixes(keys: list[str], prefixes: tuple[str, ...]) -> frozenset[str]:
    """The `prefixes` some key starts with (one search over the joined keys, not one call per key)."""
    if not prefixes or not keys:
        return frozenset()
    joined = "\n" + "\n".join(keys)
    return frozenset(p for p in prefixes if "\n" + p in joined)


class AttributeMap:
    __slots__ = ("kvs", "items", "keys", "index", "prefixed", "_duplicates")

    def __init__(self, kvs: Any, items: list[Any] | None = None, keys: list[str] | None = None, prefixed: frozenset[str] = frozenset()):
        """`items` and `keys`: the entries and their keys, if the caller read them already (upb builds an
        object for every access to the container, its length included; a list does not); `prefixed`: the key
        prefixes (`present_prefixes`) that occur among them."""
        self.kvs = kvs
        self.items = list(kvs) if items is None else items
        self.keys = [kv.key for kv in self.items] if keys is None else keys
        self.index: dict[str, int] = dict(zip(self.keys, range(len(self.keys)), strict=True))
        self._duplicates = len(self.index) != len(self.keys)
        if self._duplicates:
            self._reindex()
        self.prefixed = prefixed

    def _reindex(self) -> None:
        index: dict[str, int] = {}
        for i, key in enumerate(self.keys):
            index.setdefault(key, i)
        self.index = index

    def __contains__(self, key: str) -> bool:
        return key in self.index

    def get(self, key: str) -> AnyValue | None:
        i = self.index.get(key)
        return None if i is None else self.items[i].value

    def put(self, key: str, value: AnyValue) -> None:
        i = self.index.get(key)
        if i is None:
            kv = self.kvs.add()
            kv.key = key
            kv.value.CopyFrom(value)
            self.index[key] = len(self.items)
            self.items.append(kv)
            self.keys.append(key)
        else:
            target = self.items[i].value
            if target is not value:
                target.CopyFrom(value)

    def put_str(self, key: str, value: str) -> None:
        self.put(key, AnyValue(string_value=value))

    def remove(self, key: str) -> None:
        i = self.index.pop(key, None)
        if i is None:
            return
        items, keys = self.items, self.keys
        last = len(items) - 1
        if i != last:
            items[i].CopyFrom(items[last])
            keys[i] = keys[last]
        del self.kvs[last]
        items.pop()
        keys.pop()
        if self._duplicates:
            self._reindex()
        elif i != last:
            self.index[keys[i]] = i
