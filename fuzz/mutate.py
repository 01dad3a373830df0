"""Mutations of real OTLP requests for black-box fuzzing of the whole daemon (tests/integration/test_fuzz_blackbox.py),
beside the coverage-guided harnesses of single C functions in this package.

Protobuf, on the bytes: bit flips, bytes overwritten or inserted, truncation, a length field edited (the
enclosing ones left as they were), a length written as a longer varint than it needs. Protobuf, on the
message as a tree of fields, serialized again so that it stays well-formed and reaches the processors: a
field duplicated, dropped, inserted (any number, any wire type), swapped, retyped, its value at its kind's
edges or random bytes, a message's fields repeated. JSON: members dropped, values of another type, keys
renamed, arrays repeated, a value nested hundreds deep, then text edits (truncation, a byte, a member twice,
trailing garbage, a lone surrogate as invalid UTF-8). Bodies: gzip, deflate or zstd, right or under the wrong
Content-Encoding, truncated or flipped.

Seeds are parsed once. An edit copies only the path from the root to what it changes, and serializing reuses
the seed's bytes for every subtree left alone, so a case costs a fraction of a millisecond to make.
"""

from __future__ import annotations

import gzip
import json
import random
import struct
import zlib
from typing import Any

import zstandard

Tree = list[tuple[int, int, Any]]  # (field number, wire type, value); a nested message's value is a Tree
Path = tuple[int, ...]  # indices from the root to one field


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("bad varint")
        byte = buf[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        shift += 7
        if byte < 0x80:
            return value, pos


def varint(value: int) -> bytes:
    value &= 2**64 - 1
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def parse_tree(buf: bytes, depth: int = 0) -> Tree | None:
    """The fields of a message; a length-delimited value that reads as a message is a Tree (strings mostly
    do not), else bytes. None if `buf` is no message."""
    out: Tree = []
    pos = 0
    try:
        while pos < len(buf):
            tag, pos = read_varint(buf, pos)
            number, wire = tag >> 3, tag & 7
            value: Any
            if number == 0 or wire not in (0, 1, 2, 5):
                return None
            if wire == 0:
                value, pos = read_varint(buf, pos)
            elif wire == 2:
                size, pos = read_varint(buf, pos)
                value, pos = buf[pos:pos + size], pos + size
                sub = parse_tree(value, depth + 1) if value and depth < 8 else None
                value = sub if sub is not None else value
            else:
                size = 8 if wire == 1 else 4
                value, pos = buf[pos:pos + size], pos + size
            if pos > len(buf):
                return None
            out.append((number, wire, value))
    except ValueError:
        return None
    return out


def length_fields(buf: bytes, base: int = 0, depth: int = 0) -> list[tuple[int, int, int]]:
    """(start, end, value) of the length varint of every length-delimited field, nested ones included."""
    out = []
    pos = 0
    try:
        while pos < len(buf):
            tag, pos = read_varint(buf, pos)
            wire = tag & 7
            if wire == 0:
                _, pos = read_varint(buf, pos)
            elif wire in (1, 5):
                pos += 8 if wire == 1 else 4
            elif wire == 2:
                start = pos
                size, pos = read_varint(buf, pos)
                out.append((base + start, base + pos, size))
                if depth < 8:
                    out += length_fields(buf[pos:pos + size], base + pos, depth + 1)
                pos += size
            else:
                break
    except ValueError:
        pass
    return out


def _encode(tree: Tree, known: dict[int, bytes]) -> bytes:
    hit = known.get(id(tree))
    if hit is not None:
        return hit
    out = bytearray()
    for number, wire, value in tree:
        out += varint(number << 3 | wire)
        if wire == 0:
            out += varint(value)
        elif wire == 2:
            data = _encode(value, known) if isinstance(value, list) else value
            out += varint(len(data)) + data
        else:
            out += value
    return bytes(out)


class ProtobufSeed:
    """A request's bytes, its tree, the bytes of each of its subtrees (the seed keeps them alive, so their
    ids stay theirs) and its length fields."""

    def __init__(self, data: bytes):
        tree = parse_tree(data)
        if tree is None:
            raise ValueError("a seed must be a protobuf message")
        self.data, self.tree = data, tree
        self.lengths = length_fields(data)
        self._known: dict[int, bytes] = {}
        self._remember(tree)

    def _remember(self, tree: Tree) -> None:
        for _, _, value in tree:
            if isinstance(value, list):
                self._remember(value)
        self._known[id(tree)] = _encode(tree, self._known)

    def serialize(self, tree: Tree) -> bytes:
        return _encode(tree, self._known)


ODD_BYTES = [b"", b"\xff\xfe", b"\xc3", "é".encode() * 3, b"\x00" * 16, b"\x00" * 8, b"\x01" * 17, b"\xed\xa0\x80", b"a" * 3000]
ODD_VARINTS = [0, 1, 2**31 - 1, 2**31, 2**32 - 1, 2**63 - 1, 2**64 - 1, 2**64 - 5]
ODD_FIXED = [b"\xff" * 8, b"\x00" * 8, struct.pack("<d", float("nan")), struct.pack("<d", float("inf")), struct.pack("<d", -0.0), struct.pack("<d", 1e308)]


def random_value(rng: random.Random, wire: int) -> Any:
    if wire == 0:
        return rng.choice(ODD_VARINTS + [rng.getrandbits(64)])
    if wire == 1:
        return rng.choice(ODD_FIXED + [rng.randbytes(8)])
    if wire == 5:
        return rng.randbytes(4)
    return rng.choice(ODD_BYTES + [rng.randbytes(rng.randint(1, 40))])


def pick(rng: random.Random, tree: Any, children: Any) -> Path:
    """A random member, found by descending from the root (`children(node)`: its members' values, or None)."""
    path: list[int] = []
    node = tree
    while True:
        values = children(node)
        i = rng.randrange(len(values))
        path.append(i)
        below = children(values[i])
        if not below or rng.random() < 0.3:
            return tuple(path)
        node = values[i]


def _tree_children(node: Any) -> list[Any] | None:
    return [value for _, _, value in node] if isinstance(node, list) and node else None


def edit_tree(tree: Tree, path: Path, change: Any) -> Tree:
    """A copy of `tree` in which change(parent, index) was applied to the field at `path` (the parent is a
    copy: the seed's lists are shared, never changed)."""
    new = list(tree)
    if len(path) == 1:
        change(new, path[0])
    else:
        number, wire, value = new[path[0]]
        new[path[0]] = (number, wire, edit_tree(value, path[1:], change))
    return new


def tree_edit(rng: random.Random) -> Any:
    """One well-formed edit of a field, as change(parent, index)."""
    op = rng.randrange(8)

    def change(parent: Tree, i: int) -> None:
        number, wire, value = parent[i]
        if op == 0:  # a field twice: upb merges a message, keeps the last scalar
            parent.insert(rng.randint(0, len(parent)), parent[i])
        elif op == 1:
            del parent[i]
        elif op == 2:  # a field of any number and wire type
            new_wire = rng.choice([0, 1, 2, 5])
            number = rng.choice([number, rng.randint(1, 20), rng.randint(1, 2**29 - 1)])
            parent.insert(rng.randint(0, len(parent)), (number, new_wire, random_value(rng, new_wire)))
        elif op == 3:  # another wire type under the same number
            new_wire = rng.choice([w for w in (0, 1, 2, 5) if w != wire])
            parent[i] = (number, new_wire, random_value(rng, new_wire))
        elif op == 4:
            j = rng.randrange(len(parent))
            parent[i], parent[j] = parent[j], parent[i]
        elif op == 5 and isinstance(value, list):  # a message's fields many times over
            parent[i] = (number, wire, value * rng.randint(2, 20))
        elif wire == 2 and rng.random() < 0.5:  # a string or id of random bytes
            parent[i] = (number, wire, rng.randbytes(rng.choice([0, 1, 8, 15, 16, 17, 64])))
        else:  # the value of its kind at its edges
            parent[i] = (number, wire, random_value(rng, wire))

    return change


def mutate_bytes(rng: random.Random, data: bytes, lengths: list[tuple[int, int, int]] | None = None) -> bytes:
    """Edits that mostly break the message: what a parser must refuse, or read without reading past it."""
    if not data:
        return rng.randbytes(rng.randint(1, 16))
    buf = bytearray(data)
    op = rng.randrange(6)
    if op == 0:
        for _ in range(rng.randint(1, 8)):
            buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
    elif op == 1:
        for _ in range(rng.randint(1, 4)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
    elif op == 2:
        del buf[rng.randrange(len(buf)):]
    elif op == 3:
        at = rng.randrange(len(buf) + 1)
        buf[at:at] = rng.randbytes(rng.randint(1, 16))
    else:
        fields = lengths if lengths is not None else length_fields(data)
        if fields:
            start, end, size = rng.choice(fields)
            if op == 5:  # the same length, non-minimally encoded: still well-formed to protobuf
                encoded = bytes([size & 0x7F | 0x80] + [0x80] * rng.randint(0, 2)) + varint(size >> 7)
            else:
                encoded = varint(rng.choice([size + 1, max(0, size - 1), 0, size + rng.randint(2, 200), 2**31, 2**63, 2**64 - 1]))
            buf[start:end] = encoded
    return bytes(buf)


def mutated_protobuf(rng: random.Random, seed: ProtobufSeed) -> bytes:
    if rng.random() >= 0.5:
        return mutate_bytes(rng, seed.data, seed.lengths)
    tree = seed.tree
    for _ in range(rng.randint(1, 3)):
        tree = edit_tree(tree, pick(rng, tree, _tree_children), tree_edit(rng)) if tree else [(1, 2, rng.randbytes(4))]
    data = seed.serialize(tree)
    return mutate_bytes(rng, data) if rng.random() < 0.2 else data


# ---------------------------------------------------------------------------------------------------
# JSON


ODD_JSON: list[Any] = [None, True, False, 0, -1, 1.5, 10**30, -(10**30), 2**64, 1e308, "", "x" * 3000, "\ud800", "0x12", "NaN", "-Infinity",
                       "SPAN_KIND_SERVER", "bogus", "00" * 16, "zz" * 8, "AAAA", [], {}, [[[]]], {"a": 1}, {"stringValue": 5}, {"intValue": "1e3"}]
RENAMES = {"traceId": "trace_id", "spanId": "span_id", "stringValue": "string_value", "intValue": "int_value", "attributes": "Attributes"}


def _json_children(node: Any) -> list[Any] | None:
    if isinstance(node, dict) and node:
        return list(node.values())
    return node if isinstance(node, list) and node else None


def edit_json(node: Any, path: Path, change: Any) -> Any:
    """A copy of `node` in which change(container, key) was applied to the member at `path`."""
    new = dict(node) if isinstance(node, dict) else list(node)
    key = list(node)[path[0]] if isinstance(node, dict) else path[0]
    if len(path) == 1:
        change(new, key)
    else:
        new[key] = edit_json(node[key], path[1:], change)
    return new


def json_edit(rng: random.Random) -> Any:
    op = rng.randrange(5)

    def change(container: Any, key: Any) -> None:
        if op == 0:
            del container[key]
        elif op <= 2:
            container[key] = rng.choice(ODD_JSON)
        elif op == 3 and isinstance(container, dict):  # the snake_case spelling, or a key OTLP does not know
            container[RENAMES.get(key, key.upper())] = container.pop(key)
        elif isinstance(container, list):
            container.extend(container * rng.randint(1, 10))
        else:
            container[key] = [container[key]]

    return change


def deepen(rng: random.Random, value: Any) -> Any:
    """`value` inside 10 to 200 levels of arrayValue / kvlistValue."""
    for _ in range(rng.choice([10, 60, 200])):
        value = {"kvlistValue": {"values": [{"key": "k", "value": value}]}} if rng.random() < 0.5 else {"arrayValue": {"values": [value]}}
    return value


def mutated_json(rng: random.Random, seed: Any) -> bytes:
    doc = seed
    for _ in range(rng.randint(1, 3)):
        if _json_children(doc):
            doc = edit_json(doc, pick(rng, doc, _json_children), json_edit(rng))
    if _json_children(doc) and rng.random() < 0.1:
        doc = edit_json(doc, pick(rng, doc, _json_children), lambda container, key: container.__setitem__(key, deepen(rng, container[key])))
    text = json.dumps(doc, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")
    if rng.random() >= 0.3 or not text:
        return text
    buf = bytearray(text)
    op = rng.randrange(4)
    if op == 0:
        del buf[rng.randrange(len(buf)):]
    elif op == 1:
        buf[rng.randrange(len(buf))] = rng.choice(b'{}[],:"\\0aeE-+. \x00\xff')
    elif op == 2:  # a member twice: `"name":1,` before one of the object's members
        at = buf.find(b'":', rng.randrange(len(buf)))
        start = buf.rfind(b'"', 0, at) if at > 0 else -1
        if start >= 0:
            buf[start:start] = buf[start:at + 2] + b"1,"
    else:
        buf += b"garbage"
    return bytes(buf)


# ---------------------------------------------------------------------------------------------------
# Bodies


def compressed(rng: random.Random, body: bytes, headers: dict[str, str]) -> bytes:
    """The body under a Content-Encoding (set in `headers`), right or wrong; mostly the body as it is."""
    roll = rng.random()
    if roll < 0.55:
        return body
    encoding, packed = rng.choice([("gzip", gzip.compress(body, 1)), ("deflate", zlib.compress(body, 1)), ("zstd", zstandard.compress(body, 1))])
    if roll < 0.75:
        pass
    elif roll < 0.80:  # says gzip, is not
        packed, encoding = body, "gzip"
    elif roll < 0.84:  # says zstd, is gzip
        packed, encoding = gzip.compress(body, 1), "zstd"
    elif roll < 0.88:
        encoding = rng.choice(["br", "snappy", "identity, gzip", "GZIP", "x-gzip", "zlib"])
    elif roll < 0.94:
        packed = packed[:rng.randrange(len(packed))]
    elif roll < 0.97:
        flipped = bytearray(packed)
        flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
        packed = bytes(flipped)
    else:  # two gzip members, as gzip allows
        half = rng.randrange(len(body) + 1)
        packed, encoding = gzip.compress(body[:half], 1) + gzip.compress(body[half:], 1), "gzip"
    headers["Content-Encoding"] = encoding
    return packed
