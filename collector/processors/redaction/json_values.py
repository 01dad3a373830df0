"""The redaction walk inside string values that hold JSON (`gen_ai.input.messages`, `input.value`, ...).

Only the string literals (object keys too) and large integers that a prefilter hit overlaps are queued,
decoded, so `\\uXXXX`-escaped PII is found (an escape that can decode into part of a match is itself a
hit); a literal with a finding is replaced in place by its redacted text as a JSON string, so the value
stays valid JSON and keeps the sender's layout (`JsonValues._splice`, `SpliceDoc`). Where the literals are
is found over the bytes (collector/wire/json_lexer.py, in C when it is built). A finding in an object key,
and configs whose rules cannot run over raw bytes, take the parse path: every decoded leaf and key is
scanned and a value with an edit is re-serialised (`JsonDoc`). A value that does not parse as JSON is scanned as
text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from ...wire import native
from ...wire.json_lexer import T_KEY, T_NUMBER, json_tokens
from .gate import clip
from .scan_batch import L_JSONKEY, L_LEAF, L_SPLICE, L_VALUE, Batch, Loc

# The JSON values the walk looks into start with one of these (after optional whitespace).
JSON_START = frozenset("{[")
_WHITESPACE = frozenset(" \t\r\n")
# JSON integers this large can be phone/card/CPF digits; smaller ones cannot.
_SMALLEST_PII_INT = 10**6


class JsonDoc:
    """A parsed JSON-string value being edited; written back once, after every edit is in."""

    __slots__ = ("value", "obj", "changed", "failed", "renames")

    def __init__(self, value: Any, obj: Any):
        self.value = value  # the AnyValue holding the JSON text
        self.obj = obj
        self.changed = False
        self.failed = False
        self.renames: list[tuple[dict[str, Any], str, str]] = []


class SpliceDoc:
    """A JSON-string value edited in place: only the string literals (or integers) that hold a finding are
    replaced, so the rest of the text keeps its bytes and layout. `edits` are (start, end, new text) over
    the UTF-8 bytes `raw`."""

    __slots__ = ("value", "raw", "edits", "failed")

    def __init__(self, value: Any, raw: bytes):
        self.value = value
        self.raw = raw
        self.edits: list[tuple[int, int, str]] = []
        self.failed = False


class JsonValues:
    """The `Redactor`'s JSON-value methods (mixed into it; walk.py). They read the Redactor's settings:"""

    min_length: int
    _clean: set[str]  # short texts whose scan found nothing (see Redactor.__init__)
    _doc_hits: Callable[[bytes], tuple[list[int], list[int]]] | None  # the prefilter over one value's bytes
    _scan_one: Callable[[str], list[Any]]

    def _json(self, b: Batch, s: str, value: Any, mi: int, top: Any, key: str, wire: Any = None, where: Any = None) -> None:
        if self._doc_hits is not None and self._splice(b, s, value, mi, top, key, wire, where):
            return
        # No prefilter to say where to look (or a case _splice leaves to this path): parse, and scan every
        # leaf and object key. The exact pass runs over each queued string whole, so leaves rather than the
        # whole text: a marked leaf is only the sentence that holds the finding.
        doc = _parse(value, s)
        if doc is None:
            b.texts.append(s)
            b.owners.append(Loc(L_VALUE, mi, top, value, key))
            return
        b.docs.append(doc)
        self._leaves(b.texts, b.owners, doc, mi, top, key)

    def _splice(self, b: Batch, s: str, value: Any, mi: int, top: Any, key: str, wire: Any, where: Any) -> bool:
        """Queue only the string literals (and large integers) of a JSON value that a prefilter hit overlaps,
        to be edited in place (`SpliceDoc`); False leaves the value to the parse-and-walk path.

        Sound for the reason the request-level gate is (gate.py): outside escapes a literal's decoded
        text is its bytes, so a leaf the scan would find something in has a hit overlapping its literal; an
        escape that can decode into part of a match is itself a hit. The hits are the request's own, mapped
        into the value where the wire holds its exact bytes, else the prefilter is run over the text alone."""
        try:
            raw = s.encode()
        except UnicodeEncodeError:
            return False  # lone surrogates: not UTF-8, so no prefilter has seen them
        hits = None
        if wire is not None:
            payload, starts, ends = wire
            item_start, item_end = where
            offset = item_end - len(raw)  # a string is the last field of its AnyValue, the value of its KeyValue
            if offset < item_start or not payload.startswith(raw, offset):
                offset = payload.find(raw, item_start, item_end)
            if offset >= 0:
                hits = clip(starts, ends, offset, offset + len(raw))
        if hits is None:
            doc_starts, doc_ends = self._doc_hits(raw)  # type: ignore[misc]
            hits = list(zip(doc_starts, doc_ends, strict=True))
        if not hits:
            return True  # no leaf, key or number of it can hold a finding: nothing to parse or scan
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return False  # not JSON after all: scanned as text
        if type(obj) is not dict and type(obj) is not list:
            return False
        spans = (native.json_tokens or json_tokens)(raw, hits)
        min_len, clean = self.min_length, self._clean
        queued: list[tuple[int, int, str]] = []
        for start, end, kind in spans:
            if kind == T_NUMBER:
                text = raw[start:end].decode()
                if len(text) >= min_len:
                    queued.append((start, end, text))
                continue
            literal = raw[start + 1 : end - 1]
            text = orjson.loads(raw[start:end]) if b"\\" in literal else literal.decode()
            if len(text) < min_len or text in clean:
                continue
            if kind == T_KEY:
                # A key with a finding is renamed, and a renamed key may collide with another: the parse
                # path handles that (the value is then re-serialised). Keys rarely hold anything.
                try:
                    if self._scan_one(text):
                        return False
                except Exception:  # noqa: BLE001 - the parse path scans it again and fails closed
                    return False
                continue
            queued.append((start, end, text))
        if not queued:
            return True
        doc = SpliceDoc(value, raw)
        b.docs.append(doc)
        context = Loc(L_SPLICE, mi, top, None, key, doc)
        texts, owners = b.texts, b.owners
        for start, end, text in queued:
            texts.append(text)
            owners.append((context, start, end))
        return True

    def _leaves(self, texts: list[str], owners: list[Any], doc: JsonDoc, mi: int, top: Any, key: str) -> None:
        # One context per document, and a (context, node, key) tuple per leaf: a Loc is only built in
        # _apply for the few leaves with findings. Short strings known to hold nothing (role names, part
        # types, object keys) are not queued again.
        min_len = self.min_length
        clean = self._clean
        leaf = Loc(L_LEAF, mi, top, None, key, doc)
        name = Loc(L_JSONKEY, mi, top, None, key, doc)
        stack = [doc.obj]
        while stack:
            node = stack.pop()
            if type(node) is dict:
                items: Any = node.items()
            else:
                items = enumerate(node)
            for k, item in items:
                if type(k) is str and len(k) >= min_len and k not in clean:
                    texts.append(k)
                    owners.append((name, node, k))
                t = type(item)
                if t is str:
                    if len(item) >= min_len and item not in clean:
                        texts.append(item)
                        owners.append((leaf, node, k))
                elif t is dict or t is list:
                    stack.append(item)
                elif t is int and (item >= _SMALLEST_PII_INT or item <= -_SMALLEST_PII_INT):
                    texts.append(str(item))
                    owners.append((leaf, node, k))


def spliced(raw: bytes, edits: list[tuple[int, int, str]]) -> str:
    pieces: list[bytes] = []
    pos = 0
    for start, end, text in sorted(edits):
        pieces.append(raw[pos:start])
        pieces.append(orjson.dumps(text))
        pos = end
    pieces.append(raw[pos:])
    return b"".join(pieces).decode()


def looks_like_json(s: str) -> bool:
    first = s[0]
    if first in JSON_START:
        return True
    if first in _WHITESPACE:
        stripped = s.lstrip()
        return bool(stripped) and stripped[0] in JSON_START
    return False


def _parse(value: Any, s: str) -> JsonDoc | None:
    try:
        obj = orjson.loads(s)
    except orjson.JSONDecodeError:
        return None
    if type(obj) is not dict and type(obj) is not list:
        return None
    return JsonDoc(value, obj)


def rename_keys(renames: list[tuple[dict[str, Any], str, str]]) -> None:
    """Rename object keys in place (parents keep their references); order and every entry are kept,
    and a renamed key that would collide with another gets a numbered suffix instead of overwriting it."""
    by_dict: dict[int, tuple[dict[str, Any], dict[str, str]]] = {}
    for node, old, new in renames:
        by_dict.setdefault(id(node), (node, {}))[1][old] = new
    for node, mapping in by_dict.values():
        items = list(node.items())
        node.clear()
        for k, v in items:
            new_key = mapping.get(k, k)
            if new_key in node:
                n = 2
                while f"{new_key}#{n}" in node:
                    n += 1
                new_key = f"{new_key}#{n}"
            node[new_key] = v

