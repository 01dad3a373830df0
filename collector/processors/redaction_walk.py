"""The redaction engine: one walk over an OTLP request, one scan, edits only where something was found.

The walk collects every string worth scanning into one flat list (with a parallel list saying where each
came from), the scanner sees the whole list in one `scan_many` call, and only the few locations with
findings are touched afterwards. Walking attributes in Python is the hot cost, so the per-attribute loops
are written out by hand with local variables, and a value shorter than the shortest possible finding is
skipped before anything else happens to it.

JSON-string values (`gen_ai.input.messages`, `input.value`, ...): only the string literals (object keys too)
and large integers that a prefilter hit overlaps go into the same list, decoded, so `\\uXXXX`-escaped PII
is found (an escape that can decode into part of a match is itself a hit); a literal with a finding is
replaced in place by its redacted text as a JSON string, so the value stays valid JSON and keeps the
sender's layout (`_splice`). A finding in an object key, and configs whose rules cannot run over raw bytes,
take the parse path: every decoded leaf and key is scanned and a value with an edit is re-serialised. A
value that does not parse as JSON is scanned as text.

Before any of that, the prefilter runs over the request's wire bytes (`wire_hits`): the bytes it arrived
as when the receiver lends them (collector/envelope.py), else the request serialized once. Strings
are raw UTF-8 on the wire, so a value the scan would find something in has a hit overlapping its bytes. A
light walk of tags and lengths (`_locate`, in C when `_wire_walks` is built) maps the hits to items,
and only those are walked: resource and scope attributes, log records and metrics whose bytes were hit,
and inside a hit span only the attributes, events, links, name and status that were. A request without a
hit is not walked at all. Key rules (allowed_keys, ignored/blocked keys) and redact_all_types act on values the wire cannot
show, so those configs keep the full walk.

This module knows nothing about config files or metrics: the processor (redaction.py) builds a `Redactor`
from its config and turns the returned `Stats` into metrics.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

try:
    from collector.processors._wire_walks import json_tokens as _json_tokens_in_c
    from collector.processors._wire_walks import locate as _locate_in_c
except ImportError:  # built without a C compiler: the same walks in Python
    _json_tokens_in_c = _locate_in_c = None

MASK = "****"

# Key decisions (otelcol's order: ignored, then not-allowed (removed), then blocked key pattern, then values).
SCAN, IGNORE, REMOVE, MASK_KEY = 0, 1, 2, 3

# Where a scanned string came from, when it is not a top-level string attribute (those are the KeyValue).
L_VALUE, L_SCALAR, L_LEAF, L_JSONKEY, L_NAME, L_STATUS, L_SPLICE = range(7)

# What a rule does with a match.
A_MASK, A_HASH, A_DROP, A_PARTIAL, A_DIGEST = "mask", "hash", "drop_attribute", "partial", "digest"

SUMMARY_PREFIX = "redaction."
BODY_PREFIX = "redaction.body."
NAME_KEY = "span.name"
STATUS_KEY = "status.message"
# The JSON values the walk looks into start with one of these (after optional whitespace).
_JSON_START = frozenset("{[")
_WHITESPACE = frozenset(" \t\r\n")
_SMALLEST_PII_INT = 10**6
_CLEAN_LEN = 64
_CLEAN_MAX = 50_000  # JSON integers this large can be phone/card/CPF digits; smaller ones cannot


@dataclass(frozen=True, slots=True)
class Rule:
    """What to do with one detector's matches. `label` is what a hash token is tagged with (`<EMAIL:...>`)."""

    action: str
    placeholder: str
    label: str


FAIL_CLOSED = Rule(A_MASK, MASK, "REDACTED")


@dataclass
class KeyPolicy:
    """otelcol's key-level semantics. `restrict` means keys outside `allowed` are removed (fail closed)."""

    restrict: bool = False
    allowed: frozenset[str] = frozenset()
    ignored: frozenset[str] = frozenset()
    ignored_patterns: Sequence[Any] = ()  # compiled re2 patterns, searched in the key
    blocked_patterns: Sequence[Any] = ()

    def __post_init__(self) -> None:
        self._cache: dict[str, int] = {}

    @property
    def active(self) -> bool:
        return bool(self.restrict or self.ignored or self.ignored_patterns or self.blocked_patterns)

    def decide(self, key: str) -> int:
        found = self._cache.get(key)
        if found is None:
            found = self._decide(key)
            if len(self._cache) >= 50_000:  # keys can be unbounded (indexed names); keep the memo bounded
                self._cache.clear()
            self._cache[key] = found
        return found

    def _decide(self, key: str) -> int:
        if key in self.ignored or any(p.search(key) for p in self.ignored_patterns):
            return IGNORE
        if self.restrict and key not in self.allowed and not key.startswith(SUMMARY_PREFIX):
            return REMOVE
        if any(p.search(key) for p in self.blocked_patterns):
            return MASK_KEY
        return SCAN


@dataclass
class Stats:
    """What one request cost and found, for the processor's metrics."""

    values: int = 0
    characters: int = 0
    errors: int = 0
    matches: dict[str, int] = field(default_factory=dict)


class _Loc:
    """Where a scanned string lives, for everything but top-level string attributes (which are the KeyValue)."""

    __slots__ = ("kind", "mi", "top", "target", "key", "extra")

    def __init__(self, kind: int, mi: int, top: Any, target: Any, key: str, extra: Any = None):
        self.kind = kind
        self.mi = mi  # index into the walk's maps
        self.top = top  # the top-level KeyValue holding this value (what drop_attribute removes), or None
        self.target = target
        self.key = key  # the key the summary lists
        self.extra = extra


class _JsonDoc:
    """A parsed JSON-string value being edited; written back once, after every edit is in."""

    __slots__ = ("value", "obj", "changed", "failed", "renames")

    def __init__(self, value: Any, obj: Any):
        self.value = value  # the AnyValue holding the JSON text
        self.obj = obj
        self.changed = False
        self.failed = False
        self.renames: list[tuple[dict[str, Any], str, str]] = []


class _SpliceDoc:
    """A JSON-string value edited in place: only the string literals (or integers) that hold a finding are
    replaced, so the rest of the text keeps its bytes and layout. `edits` are (start, end, new text) over
    the UTF-8 bytes `raw`."""

    __slots__ = ("value", "raw", "edits", "failed")

    def __init__(self, value: Any, raw: bytes):
        self.value = value
        self.raw = raw
        self.edits: list[tuple[int, int, str]] = []
        self.failed = False


class _Changes:
    """Per attribute map: what the summary will say, and which attributes to remove."""

    __slots__ = ("masked", "redacted", "allowed", "ignored", "detectors", "drop", "clear_body")

    def __init__(self) -> None:
        self.masked: dict[str, None] = {}
        self.redacted: dict[str, None] = {}
        self.allowed: dict[str, None] = {}
        self.ignored = 0
        self.detectors: dict[str, int] = {}
        self.drop: set[str] = set()
        self.clear_body = False


class _Batch:
    """One request's strings to scan, where each came from, and the attribute maps they belong to."""

    __slots__ = ("texts", "owners", "starts", "maps", "changes", "docs", "summaries", "marked")

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.owners: list[Any] = []
        self.starts: list[int] = []  # index of the first text of each map (top-level KeyValue owners use it)
        # (container, summary container, summary prefix): the container is the repeated KeyValue field
        # (or the log record, for a body), the summary goes onto the summary container's attributes.
        self.maps: list[tuple[Any, Any, str]] = []
        self.changes: dict[int, _Changes] = {}
        self.docs: list[Any] = []  # _JsonDoc and _SpliceDoc
        self.summaries = True  # False: no redaction.* attribute anywhere in the request yet
        # True: the texts come from items the request-level prefilter hit, so nearly all of them hold a
        # prefilter match and the scanner skips its own joined pass (see Scanner.scan_many).
        self.marked = False

    def map(self, container: Any, summary: Any, prefix: str = SUMMARY_PREFIX) -> int:
        self.starts.append(len(self.texts))
        self.maps.append((container, summary, prefix))
        return len(self.maps) - 1

    def changes_for(self, mi: int) -> _Changes:
        found = self.changes.get(mi)
        if found is None:
            found = self.changes[mi] = _Changes()
        return found


class Redactor:
    """Redacts OTLP requests in place. `scan_many(texts) -> list[list[Finding]]`; findings are sorted and
    non-overlapping with str offsets, and one with `error` set makes its whole value `****`."""

    def __init__(
        self,
        scan_many: Callable[..., list[list[Any]]],
        scan_one: Callable[[str], list[Any]],
        rules: dict[str, Rule],
        *,
        keys: KeyPolicy | None = None,
        allowed_values: Sequence[Any] = (),
        hasher: Callable[[str], str] | None = None,
        hash_whole_values: bool = False,
        redact_all_types: bool = False,
        span_names: bool = False,
        json_values: bool = True,
        summary: str = "info",
        min_length: int = 1,
        on_error: Callable[[str, BaseException | None], None] | None = None,
        wire_hits: Callable[[bytes], tuple[list[int], list[int]]] | None = None,
    ):
        self._scan_many = scan_many
        self._scan_one = scan_one
        self.rules = rules
        self.keys = keys if keys is not None and keys.active else None
        self.allowed_values = tuple(allowed_values)
        self.hasher = hasher
        # otelcol hashes blocked keys' values only when hash_function is set; `action: hash` alone does not.
        self.whole_value_hasher = hasher if hash_whole_values else None
        self.all_types = redact_all_types
        self.span_names = span_names
        self.json_values = json_values
        self.summary = summary
        self.min_length = max(1, min_length)
        self.on_error = on_error or (lambda where, exc: None)
        self.last_exception: BaseException | None = None  # what made the last fail-closed happen, for the log
        # Key rules and redact_all_types act on values the wire cannot show (every key, numbers as text), so
        # those configs walk everything; otherwise only the items the request-level prefilter hit are walked.
        self._wire_hits = wire_hits if self.keys is None and not redact_all_types else None
        # The same prefilter over one JSON-string value's text says which of its string literals can hold a
        # finding, whatever the key rules: JSON leaves only ever get the detectors.
        self._doc_hits = wire_hits if json_values else None
        # Short strings whose scan found nothing: JSON keys, roles and part types recur in every request.
        # Only texts without findings are kept, so this never holds what a detector would redact.
        self._clean: set[str] = set()

    # ------------------------------------------------------------------------------- request-level gate

    def _marks(self, request: Any, spec: dict[int, Any], stats: Stats, payload: bytes | None = None) -> tuple[dict[int, Any] | None, bool, Any]:
        """Which items of the request to walk (see `_locate`), or None to walk all of it; whether an upstream
        redaction summary may already be there (else the summary need not look for one); and the wire
        (payload, hit starts, hit ends) for `_json`. `payload`: the request's bytes as received, when the
        caller knows they are exactly this request's (see collector/envelope.py); else it is serialized."""
        if self._wire_hits is None:
            return None, True, None
        try:
            if payload is None:
                payload = request.SerializeToString()
            starts, ends = self._wire_hits(payload)
            stats.characters += len(payload)
            if not starts:
                return {}, True, None
            if _locate_in_c is not None:
                marks = _locate_in_c(payload, 0, len(payload), spec, starts, ends, _span_marks)
            else:
                marks = _locate(payload, 0, len(payload), spec, starts, ends)
            return marks, SUMMARY_PREFIX.encode() in payload, (payload, starts, ends)
        except Exception:  # noqa: BLE001 - the gate only saves work; on any doubt, walk everything
            return None, True, None

    # ------------------------------------------------------------------------------------------ signals

    def traces(self, request: Any, payload: bytes | None = None) -> Stats:
        gate = Stats()
        marks, b_summaries, wire = self._marks(request, _TRACES, gate, payload)
        if marks is None:
            return self._traces_all(request)
        b = _Batch()
        b.marked = True
        b.summaries = b_summaries
        collect = self._collect
        names = self.span_names
        min_len = self.min_length
        texts, owners = b.texts, b.owners
        resource_spans = request.resource_spans
        for ri, rmark in marks.get(1, {}).items():
            rs = resource_spans[ri]
            if 1 in rmark:
                attrs = rs.resource.attributes
                collect(b, attrs, b.map(attrs, attrs))
            scope_spans = rs.scope_spans
            for si, smark in rmark.get(2, {}).items():
                ss = scope_spans[si]
                if 1 in smark:
                    attrs = ss.scope.attributes
                    collect(b, attrs, b.map(attrs, attrs))
                spans = ss.spans
                for pi, pmark in smark.get(2, {}).items():
                    span = spans[pi]
                    attrs = span.attributes
                    mi = b.map(attrs, attrs)
                    hit_attrs = pmark.get(9)
                    if hit_attrs:
                        self._collect_hit(b, attrs, mi, hit_attrs, wire)
                    if names and 5 in pmark and len(span.name) >= min_len:
                        texts.append(span.name)
                        owners.append(_Loc(L_NAME, mi, None, span, NAME_KEY))
                    if 15 in pmark:
                        message = span.status.message
                        if message and len(message) >= min_len:
                            texts.append(message)
                            owners.append(_Loc(L_STATUS, mi, None, span.status, STATUS_KEY))
                    for number, items in ((11, span.events), (13, span.links)):
                        for index in pmark.get(number, ()):
                            attrs = items[index].attributes
                            if attrs:
                                collect(b, attrs, b.map(attrs, attrs))
        return self._finish(b, gate)

    def _traces_all(self, request: Any) -> Stats:
        b = _Batch()
        collect = self._collect
        texts, owners, starts, maps = b.texts, b.owners, b.starts, b.maps
        names, min_len, json_on, all_types = self.span_names, self.min_length, self.json_values, self.all_types
        keyed = self.keys is not None
        json_value, nested = self._json, self._nested
        for rs in request.resource_spans:
            attrs = rs.resource.attributes
            collect(b, attrs, b.map(attrs, attrs))
            for ss in rs.scope_spans:
                attrs = ss.scope.attributes
                collect(b, attrs, b.map(attrs, attrs))
                for span in ss.spans:
                    # The span's own attributes are most of the work: _collect's loop, written out here.
                    attrs = span.attributes
                    mi = len(maps)
                    starts.append(len(texts))
                    maps.append((attrs, attrs, SUMMARY_PREFIX))
                    if keyed:
                        self._collect_keyed(b, attrs, mi)
                    else:
                        for kv in attrs:
                            value = kv.value
                            text = value.string_value
                            if text:
                                if len(text) >= min_len:
                                    if json_on and text[0] in _JSON_START:
                                        json_value(b, text, value, mi, kv, kv.key)
                                    else:
                                        texts.append(text)
                                        owners.append(kv)
                                continue
                            kind = value.WhichOneof("value")
                            if kind == "array_value" or kind == "kvlist_value" or (all_types and kind is not None):
                                nested(b, value, kind, mi, kv, kv.key, False)
                    if names and len(span.name) >= min_len:
                        texts.append(span.name)
                        owners.append(_Loc(L_NAME, mi, None, span, NAME_KEY))
                    if span.HasField("status"):
                        message = span.status.message
                        if message and len(message) >= min_len:
                            texts.append(message)
                            owners.append(_Loc(L_STATUS, mi, None, span.status, STATUS_KEY))
                    if span.events:
                        for event in span.events:
                            attrs = event.attributes
                            if attrs:
                                collect(b, attrs, b.map(attrs, attrs))
                    if span.links:
                        for link in span.links:
                            attrs = link.attributes
                            if attrs:
                                collect(b, attrs, b.map(attrs, attrs))
        return self._finish(b)

    def logs(self, request: Any, payload: bytes | None = None) -> Stats:
        return self._resources_of(request, _LOGS, "resource_logs", "scope_logs", "log_records", self._log_record, payload)

    def _log_record(self, b: _Batch, record: Any) -> None:
        attrs = record.attributes
        self._collect(b, attrs, b.map(attrs, attrs))
        if record.HasField("body"):
            self._body(b, record, b.map(record, attrs, BODY_PREFIX))

    def metrics(self, request: Any, payload: bytes | None = None) -> Stats:
        return self._resources_of(request, _METRICS, "resource_metrics", "scope_metrics", "metrics", self._metric, payload)

    def _resources_of(self, request: Any, layout: Any, resources_field: str, scopes_field: str, items_field: str, visit: Any, payload: bytes | None = None) -> Stats:
        """Logs and metrics: resource and scope attributes, then `visit(batch, item)` for each log record
        or metric; only those the request-level prefilter marked, unless the config needs every one."""
        gate = Stats()
        marks, b_summaries, _ = self._marks(request, layout, gate, payload)
        b = _Batch()
        collect = self._collect
        entries = getattr(request, resources_field)
        if marks is None:
            for entry in entries:
                attrs = entry.resource.attributes
                collect(b, attrs, b.map(attrs, attrs))
                for scoped in getattr(entry, scopes_field):
                    attrs = scoped.scope.attributes
                    collect(b, attrs, b.map(attrs, attrs))
                    for item in getattr(scoped, items_field):
                        visit(b, item)
            return self._finish(b)
        b.summaries = b_summaries
        b.marked = True
        for ri, rmark in marks.get(1, {}).items():
            entry = entries[ri]
            if 1 in rmark:
                attrs = entry.resource.attributes
                collect(b, attrs, b.map(attrs, attrs))
            scopes = getattr(entry, scopes_field)
            for si, smark in rmark.get(2, {}).items():
                scoped = scopes[si]
                if 1 in smark:
                    attrs = scoped.scope.attributes
                    collect(b, attrs, b.map(attrs, attrs))
                items = getattr(scoped, items_field)
                for index in smark.get(2, ()):
                    visit(b, items[index])
        return self._finish(b, gate)

    def _metric(self, b: _Batch, metric: Any) -> None:
        kind = metric.WhichOneof("data")
        if kind is None:
            return
        collect = self._collect
        for point in getattr(metric, kind).data_points:
            attrs = point.attributes
            collect(b, attrs, b.map(attrs, attrs))
            # Summary points have no exemplars; the others' filtered attributes are raw
            # measurement attributes and report into their point's summary.
            for exemplar in getattr(point, "exemplars", ()):
                filtered = exemplar.filtered_attributes
                if filtered:
                    collect(b, filtered, b.map(filtered, attrs))

    # --------------------------------------------------------------------------------------------- walk

    def _collect(self, b: _Batch, attrs: Any, mi: int) -> None:
        """Queue the attributes of one map. The plain-string case is the hot path: no calls in it."""
        if self.keys is not None:
            self._collect_keyed(b, attrs, mi)
            return
        texts, owners = b.texts, b.owners
        min_len, json_on = self.min_length, self.json_values
        for kv in attrs:
            value = kv.value
            s = value.string_value
            if s:
                if len(s) < min_len:
                    continue
                if json_on and s[0] in _JSON_START:
                    self._json(b, s, value, mi, kv, kv.key)
                    continue
                texts.append(s)
                owners.append(kv)
                continue
            kind = value.WhichOneof("value")
            if kind == "array_value" or kind == "kvlist_value" or (self.all_types and kind is not None):
                self._nested(b, value, kind, mi, kv, kv.key, False)

    def _collect_hit(self, b: _Batch, attrs: Any, mi: int, hit: dict[int, tuple[int, int]], wire: Any) -> None:
        """A hit span's attributes that the request-level prefilter hit, with the byte range of each on the
        wire, so that a JSON value's hits can be mapped to its string literals (`_json`)."""
        texts, owners = b.texts, b.owners
        min_len, json_on = self.min_length, self.json_values
        for index, where in hit.items():
            kv = attrs[index]
            value = kv.value
            s = value.string_value
            if s:
                if len(s) < min_len:
                    continue
                if json_on and s[0] in _JSON_START:
                    self._json(b, s, value, mi, kv, kv.key, wire, where)
                    continue
                texts.append(s)
                owners.append(kv)
                continue
            kind = value.WhichOneof("value")
            if kind == "array_value" or kind == "kvlist_value" or (self.all_types and kind is not None):
                self._nested(b, value, kind, mi, kv, kv.key, False)

    def _collect_keyed(self, b: _Batch, attrs: Any, mi: int) -> None:
        decide = self.keys.decide  # type: ignore[union-attr]
        remove: list[int] = []
        for index, kv in enumerate(attrs):
            key = kv.key
            decision = decide(key)
            if decision == SCAN:
                value = kv.value
                kind = value.WhichOneof("value")
                if kind == "string_value":
                    self._string(b, value.string_value, value, mi, kv, key, top_level=True)
                elif kind is not None:
                    self._nested(b, value, kind, mi, kv, key, False)
            elif decision == IGNORE:
                b.changes_for(mi).ignored += 1
            elif decision == REMOVE:
                remove.append(index)
                b.changes_for(mi).redacted[key] = None
            else:
                self._mask_whole(b, kv.value, mi, key)
        for index in reversed(remove):
            del attrs[index]

    def _string(self, b: _Batch, s: str, value: Any, mi: int, top: Any, key: str, top_level: bool = False) -> None:
        if len(s) < self.min_length:
            return
        if self.json_values and _looks_like_json(s):
            self._json(b, s, value, mi, top, key)
            return
        b.texts.append(s)
        b.owners.append(top if top_level else _Loc(L_VALUE, mi, top, value, key))

    def _nested(self, b: _Batch, value: Any, kind: str, mi: int, top: Any, key: str, body: bool) -> None:
        """Arrays and kvlists (recursively), and with redact_all_types the non-string scalars. Inside a
        log body every level has otelcol's key rules; inside an attribute only ignore and blocked keys."""
        if kind == "string_value":
            self._string(b, value.string_value, value, mi, top, key)
        elif kind == "array_value":
            for i, item in enumerate(value.array_value.values):
                item_kind = item.WhichOneof("value")
                if item_kind is not None:
                    self._nested(b, item, item_kind, mi, top, f"{key}.[{i}]" if body else key, body)
        elif kind == "kvlist_value":
            entries = value.kvlist_value.values
            remove: list[int] = []
            decide = self.keys.decide if self.keys is not None else None
            for index, kv in enumerate(entries):
                path = (f"{key}.{kv.key}" if key else kv.key) if body else key
                if decide is not None:
                    decision = decide(kv.key)
                    if decision == IGNORE:
                        b.changes_for(mi).ignored += 1
                        continue
                    if decision == REMOVE:
                        if body:
                            remove.append(index)
                            b.changes_for(mi).redacted[path] = None
                            continue
                    elif decision == MASK_KEY:
                        self._mask_whole(b, kv.value, mi, path)
                        continue
                item_kind = kv.value.WhichOneof("value")
                if item_kind is not None:
                    self._nested(b, kv.value, item_kind, mi, top, path, body)
            for index in reversed(remove):
                del entries[index]
        elif self.all_types and kind != "bytes_value":
            if kind == "double_value":
                text = repr(value.double_value)
            elif kind == "int_value":
                text = str(value.int_value)
            else:  # bool: "true"/"false" cannot hold anything a detector looks for
                return
            if len(text) >= self.min_length:
                b.texts.append(text)
                b.owners.append(_Loc(L_SCALAR, mi, top, value, key))

    def _body(self, b: _Batch, record: Any, mi: int) -> None:
        body = record.body
        kind = body.WhichOneof("value")
        if kind is None:
            return
        # A map body's paths start at its own keys ("user.email"), as otelcol's do.
        self._nested(b, body, kind, mi, None, "" if kind == "kvlist_value" else "body", True)

    def _mask_whole(self, b: _Batch, value: Any, mi: int, key: str) -> None:
        """A blocked key pattern: the whole value goes (unless allowed_values covers all of it)."""
        kind = value.WhichOneof("value")
        text = value.string_value if kind == "string_value" else _scalar_text(value, kind)
        changes = b.changes_for(mi)
        if text and self.allowed_values and _covered(self.allowed_values, text, 0, len(text)):
            changes.allowed[key] = None
            return
        value.string_value = self.whole_value_hasher(text) if self.whole_value_hasher is not None and text else MASK
        changes.masked[key] = None

    def _json(self, b: _Batch, s: str, value: Any, mi: int, top: Any, key: str, wire: Any = None, where: Any = None) -> None:
        if self._doc_hits is not None and self._splice(b, s, value, mi, top, key, wire, where):
            return
        # No prefilter to say where to look (or a case _splice leaves to this path): parse, and scan every
        # leaf and object key. The exact pass runs over each queued string whole, so leaves rather than the
        # whole text: a marked leaf is only the sentence that holds the finding.
        doc = _parse(value, s)
        if doc is None:
            b.texts.append(s)
            b.owners.append(_Loc(L_VALUE, mi, top, value, key))
            return
        b.docs.append(doc)
        self._leaves(b.texts, b.owners, doc, mi, top, key)

    def _splice(self, b: _Batch, s: str, value: Any, mi: int, top: Any, key: str, wire: Any, where: Any) -> bool:
        """Queue only the string literals (and large integers) of a JSON value that a prefilter hit overlaps,
        to be edited in place (`_SpliceDoc`); False leaves the value to the parse-and-walk path.

        Sound for the reason the request-level gate is (module doc): outside escapes a literal's decoded
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
                hits = _clip(starts, ends, offset, offset + len(raw))
        if hits is None:
            doc_starts, doc_ends = self._doc_hits(raw)  # type: ignore[misc]
            hits = list(zip(doc_starts, doc_ends))
        if not hits:
            return True  # no leaf, key or number of it can hold a finding: nothing to parse or scan
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return False  # not JSON after all: scanned as text
        if type(obj) is not dict and type(obj) is not list:
            return False
        spans = (_json_tokens_in_c or _json_tokens)(raw, hits)
        min_len, clean = self.min_length, self._clean
        queued: list[tuple[int, int, str]] = []
        for start, end, kind in spans:
            if kind == _T_NUMBER:
                text = raw[start:end].decode()
                if len(text) >= min_len:
                    queued.append((start, end, text))
                continue
            literal = raw[start + 1 : end - 1]
            text = orjson.loads(raw[start:end]) if b"\\" in literal else literal.decode()
            if len(text) < min_len or text in clean:
                continue
            if kind == _T_KEY:
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
        doc = _SpliceDoc(value, raw)
        b.docs.append(doc)
        context = _Loc(L_SPLICE, mi, top, None, key, doc)
        texts, owners = b.texts, b.owners
        for start, end, text in queued:
            texts.append(text)
            owners.append((context, start, end))
        return True

    def _leaves(self, texts: list[str], owners: list[Any], doc: _JsonDoc, mi: int, top: Any, key: str) -> None:
        # One context per document, and a (context, node, key) tuple per leaf: a _Loc is only built in
        # _apply for the few leaves with findings. Short strings known to hold nothing (role names, part
        # types, object keys) are not queued again.
        min_len = self.min_length
        clean = self._clean
        leaf = _Loc(L_LEAF, mi, top, None, key, doc)
        name = _Loc(L_JSONKEY, mi, top, None, key, doc)
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

    # ------------------------------------------------------------------------------------- scan + edit

    def _scan(self, texts: list[str], stats: Stats, marked: bool = False) -> list[list[Any]]:
        stats.values += len(texts)
        stats.characters += sum(map(len, texts))
        self.last_exception = None
        try:
            return self._scan_many(texts, marked) if marked else self._scan_many(texts)
        except Exception as exc:  # noqa: BLE001 - any scanner failure must fail closed, per value
            self.last_exception = exc
        results: list[list[Any]] = []
        for text in texts:
            try:
                results.append(self._scan_one(text))
            except Exception as exc:  # noqa: BLE001
                self.last_exception = exc
                results.append([_ERROR])
        return results

    def _finish(self, b: _Batch, stats: Stats | None = None) -> Stats:
        stats = stats if stats is not None else Stats()
        if b.texts:
            results = self._scan(b.texts, stats, b.marked)
            self._apply(b, b.texts, b.owners, results, stats)
            clean = self._clean
            if len(clean) > _CLEAN_MAX:
                clean.clear()
            clean.update([t for t, found in zip(b.texts, results) if not found and len(t) <= _CLEAN_LEN])
        for doc in b.docs:
            if doc.failed:
                doc.value.string_value = MASK
            elif type(doc) is _SpliceDoc:
                if doc.edits:
                    doc.value.string_value = _spliced(doc.raw, doc.edits)
            elif doc.changed or doc.renames:
                _rename_keys(doc.renames)
                doc.value.string_value = orjson.dumps(doc.obj).decode()
        if b.changes:
            self._summarise(b)
        return stats

    def _apply(self, b: _Batch, texts: list[str], owners: list[Any], results: list[list[Any]], stats: Stats) -> None:
        starts = b.starts
        for i in [i for i, found in enumerate(results) if found]:
            found = results[i]
            owner = owners[i]
            if type(owner) is tuple:  # a JSON leaf or key: (per-document context, node, key)
                context, node, k = owner
                owner = _Loc(context.kind, context.mi, context.top, node, context.key, (context.extra, k))
            if type(owner) is KeyValue:
                mi = bisect.bisect_right(starts, i) - 1  # queued while its map was the last one started
                top, key, kind = owner, owner.key, -1
            else:
                mi, top, key, kind = owner.mi, owner.top, owner.key, owner.kind
            text = texts[i]
            changes = b.changes_for(mi)
            outcome = self._rewrite(text, found, changes, key, stats)
            if outcome is None:
                continue
            if outcome is _FAILED:
                target = owner.value if kind == -1 else owner.target
                if kind in (L_LEAF, L_JSONKEY, L_SPLICE):
                    owner.extra[0].failed = True
                    changes.masked[key] = None
                    stats.errors += 1
                    self.on_error(key, self.last_exception)
                    continue
                self._fail(b, mi, target, top, key, stats, kind)
                continue
            if outcome is _DROP:
                changes.masked.pop(key, None)
                if top is not None:
                    changes.drop.add(top.key)
                    changes.redacted[top.key] = None
                elif kind == L_NAME or kind == L_STATUS:
                    self._set(kind, owner, MASK)
                    changes.masked[key] = None
                else:  # something inside a log body: the body goes
                    changes.clear_body = True
                    changes.redacted[key] = None
                continue
            changes.masked[key] = None
            if kind == -1:
                owner.value.string_value = outcome
            else:
                self._set(kind, owner, outcome)

    def _set(self, kind: int, owner: _Loc, text: str) -> None:
        if kind == L_VALUE or kind == L_SCALAR:
            owner.target.string_value = text
        elif kind == L_LEAF:
            doc, k = owner.extra
            owner.target[k] = text
            doc.changed = True
        elif kind == L_JSONKEY:
            doc, k = owner.extra
            doc.renames.append((owner.target, k, text))
        elif kind == L_SPLICE:
            doc, end = owner.extra
            doc.edits.append((owner.target, end, text))
        elif kind == L_NAME:
            owner.target.name = text
        elif kind == L_STATUS:
            owner.target.message = text

    def _fail(self, b: _Batch, mi: int, value: Any, top: Any, key: str, stats: Stats, kind: int = -1) -> None:
        """Fail closed: the whole value becomes `****`, and the error is counted (never the raw value)."""
        stats.errors += 1
        self.on_error(key, self.last_exception)
        if kind == L_NAME:
            value.name = MASK
        elif kind == L_STATUS:
            value.message = MASK
        else:
            value.string_value = MASK
        b.changes_for(mi).masked[key] = None

    def _rewrite(self, text: str, found: list[Any], changes: _Changes, key: str, stats: Stats) -> Any:
        """The text with its findings replaced; None if every finding was allowed; _DROP or _FAILED."""
        pieces: list[str] = []
        pos = 0
        allowed_values = self.allowed_values
        rules = self.rules
        counts = stats.matches
        for f in found:
            if f.error:
                return _FAILED
            start, end = f.start, f.end
            if allowed_values and _covered(allowed_values, text, start, end):
                changes.allowed[key] = None
                continue
            detector = f.detector
            counts[detector] = counts.get(detector, 0) + 1
            changes.detectors[detector] = changes.detectors.get(detector, 0) + 1
            rule = rules.get(detector, FAIL_CLOSED)
            action = rule.action
            if action == A_DROP:
                return _DROP
            match = text[start:end]
            if action == A_MASK:
                replacement = rule.placeholder
            elif action == A_HASH:
                replacement = f"<{rule.label}:{self.hasher(match)[:16]}>"  # type: ignore[misc]
            elif action == A_DIGEST:
                replacement = self.hasher(match)  # type: ignore[misc]
            else:
                replacement = _keep_last_four(match)
            pieces.append(text[pos:start])
            pieces.append(replacement)
            pos = end
        if not pieces:
            return None
        pieces.append(text[pos:])
        return "".join(pieces)

    def _summarise(self, b: _Batch) -> None:
        level = self.summary
        # Two maps can report into one target (exemplars into their point): the second must find the first.
        written: set[int] = set()
        for mi, ch in b.changes.items():
            container, summary_target, prefix = b.maps[mi]
            look = b.summaries or id(summary_target) in written
            written.add(id(summary_target))
            if ch.clear_body:
                container.ClearField("body")
            elif ch.drop:
                for index in range(len(container) - 1, -1, -1):
                    if container[index].key in ch.drop:
                        del container[index]
            if level == "silent":
                continue
            for name, keys in (("redacted", ch.redacted), ("masked", ch.masked), ("allowed", ch.allowed)):
                if keys:
                    _add_summary(summary_target, f"{prefix}{name}", list(keys), level == "debug", look)
            if ch.ignored:
                _add_count(summary_target, f"{prefix}ignored.count", ch.ignored, look)
            if level == "debug":
                for detector, count in ch.detectors.items():
                    _add_count(summary_target, f"{prefix}masked.{detector}.count", count, look)


# ------------------------------------------------------------------------------------------------ helpers

# Which length-delimited fields `_locate` descends into, by field number (opentelemetry-proto v1): a nested
# spec descends further, None marks the item as hit. Spans go down to single attributes, events and links.
_TRACES: dict[int, Any] = {1: {1: None, 2: {1: None, 2: None}}}  # resource_spans: resource, scope_spans: scope, spans
_LOGS = {1: {1: None, 2: {1: None, 2: None}}}  # resource_logs: resource, scope_logs: scope, log_records
_METRICS = {1: {1: None, 2: {1: None, 2: None}}}  # resource_metrics: resource, scope_metrics: scope, metrics


_NOT_SPECIFIED = object()


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _locate(buf: bytes, start: int, end: int, spec: dict[int, Any], starts: list[int], ends: list[int]) -> dict:
    """{field: {index: nested marks or None}} for the repeated/message fields in `spec` of the message in
    buf[start:end] whose bytes overlap a hit [starts[i], ends[i]); index counts that field's occurrences, which
    is its position in the parsed message's repeated field. A hit across two items marks both."""
    out: dict[int, dict[int, Any]] = {}
    seen = [0] * 32  # occurrences so far, by field number (the specs name fields below 32)
    wanted = spec.get
    h = bisect.bisect_right(ends, start)
    count = len(starts)
    next_hit = starts[h] if h < count else end
    pos = start
    while pos < end:
        if next_hit >= end:
            return out  # no hit left in this message: the items after this one do not matter
        tag = buf[pos]
        if tag < 0x80:
            pos += 1
        else:
            tag, pos = _varint(buf, pos)
        wire_type = tag & 7
        if wire_type == 2:
            size = buf[pos]
            if size < 0x80:
                pos += 1
            elif buf[pos + 1] < 0x80:  # items of up to 16 KB: the common two-byte length, inline
                size = (size & 0x7F) | (buf[pos + 1] << 7)
                pos += 2
            else:
                size, pos = _varint(buf, pos)
            item_start = pos
            pos += size
            field = tag >> 3
            sub = wanted(field, _NOT_SPECIFIED)
            if sub is not _NOT_SPECIFIED:
                index = seen[field]
                seen[field] = index + 1
                if next_hit < pos:  # the next hit starts before this item ends; does it end inside it?
                    while h < count and ends[h] <= item_start:
                        h += 1
                    next_hit = starts[h] if h < count else end
                    if next_hit < pos:
                        if sub is None:
                            out.setdefault(field, {})[index] = None
                        elif type(sub) is dict:
                            out.setdefault(field, {})[index] = _locate(buf, item_start, pos, sub, starts, ends)
                        else:
                            out.setdefault(field, {})[index] = sub(buf, item_start, pos, starts, ends)
        elif wire_type == 0:
            while buf[pos] >= 0x80:
                pos += 1
            pos += 1
        elif wire_type == 1:
            pos += 8
        elif wire_type == 5:
            pos += 4
        else:
            raise ValueError(f"unexpected wire type {wire_type}")
    if pos != end:
        raise ValueError("truncated message")
    return out


def _span_marks(buf: bytes, start: int, end: int, starts: list[int], ends: list[int]) -> dict:
    """`_locate` for one span, written out (a hit span's fields are most of the gate's walking): marks its
    name (5), attributes (9: by index, with each one's byte range, for `_json`), events (11), links (13) and
    status (15)."""
    out: dict[int, dict[int, Any]] = {}
    attributes: dict[int, Any] = {}
    events: dict[int, Any] = {}
    links: dict[int, Any] = {}
    n_attributes = n_events = n_links = 0
    h = bisect.bisect_right(ends, start)
    count = len(starts)
    next_hit = starts[h] if h < count else end
    pos = start
    while pos < end and next_hit < end:
        tag = buf[pos]
        if tag == 0x4A:
            # A run of attributes (field 9, length-delimited) is most of a span: a tight loop for it
            # skips the per-field dispatch below (~15% of this function on the loadgen's spans).
            while True:
                pos += 1
                size = buf[pos]
                if size < 0x80:
                    pos += 1
                elif buf[pos + 1] < 0x80:
                    size = (size & 0x7F) | (buf[pos + 1] << 7)
                    pos += 2
                else:
                    size, pos = _varint(buf, pos)
                item_start = pos
                pos += size
                if next_hit < pos:
                    while h < count and ends[h] <= item_start:
                        h += 1
                    next_hit = starts[h] if h < count else end
                    if next_hit < pos:
                        attributes[n_attributes] = (item_start, pos)
                n_attributes += 1
                if pos >= end or next_hit >= end or buf[pos] != 0x4A:
                    break
            continue
        if tag < 0x80:
            pos += 1
        else:
            tag, pos = _varint(buf, pos)
        wire_type = tag & 7
        if wire_type == 2:
            size = buf[pos]
            if size < 0x80:
                pos += 1
            elif buf[pos + 1] < 0x80:
                size = (size & 0x7F) | (buf[pos + 1] << 7)
                pos += 2
            else:
                size, pos = _varint(buf, pos)
            item_start = pos
            pos += size
            field = tag >> 3
            hit = False
            if next_hit < pos:
                while h < count and ends[h] <= item_start:
                    h += 1
                next_hit = starts[h] if h < count else end
                hit = next_hit < pos
            if field == 9:
                if hit:
                    attributes[n_attributes] = (item_start, pos)
                n_attributes += 1
            elif field == 11:
                if hit:
                    events[n_events] = None
                n_events += 1
            elif field == 13:
                if hit:
                    links[n_links] = None
                n_links += 1
            elif hit and (field == 5 or field == 15):
                out[field] = {0: None}
        elif wire_type == 0:
            while buf[pos] >= 0x80:
                pos += 1
            pos += 1
        elif wire_type == 1:
            pos += 8
        elif wire_type == 5:
            pos += 4
        else:
            raise ValueError(f"unexpected wire type {wire_type}")
    if pos > end:
        raise ValueError("truncated message")
    if attributes:
        out[9] = attributes
    if events:
        out[11] = events
    if links:
        out[13] = links
    return out


_TRACES[1][2][2] = _span_marks


class _Error:
    start = end = 0
    detector = "error"
    error = True


_ERROR = _Error()
_FAILED = object()
_DROP = object()


def _clip(starts: list[int], ends: list[int], start: int, end: int) -> list[tuple[int, int]]:
    """The (sorted, disjoint) hits overlapping buf[start:end], clipped to it and relative to `start`."""
    out = []
    h = bisect.bisect_right(ends, start)
    count = len(starts)
    while h < count and starts[h] < end:
        out.append((max(starts[h], start) - start, min(ends[h], end) - start))
        h += 1
    return out


# What `_json_tokens` found: a string literal that is a value (or array item), an object key, an integer.
_T_STRING, _T_KEY, _T_NUMBER = range(3)
_BACKSLASH, _COLON = 0x5C, 0x3A
_JSON_BLANK = b" \t\r\n"
_NUMBER_BYTES = frozenset(b"-+.eE0123456789")


def _json_tokens(raw: bytes, hits: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """The string literals (quotes included) and integer tokens of valid JSON text `raw` that overlap the
    hits, as sorted (start, end, kind).

    Whether a position is inside a literal is the parity of the unescaped quotes before it, counted at C
    speed: with no `\\"` in the text every quote counts, else every quote preceded by a backslash is escaped
    once each escaped backslash (`\\\\`, paired left to right as a JSON parser reads them) is blanked out."""
    n = len(raw)
    escaped = b'\\"' in raw
    if escaped and b"\\\\" in raw:
        raw = raw.replace(b"\\\\", b"__")  # same length, so offsets still point into the caller's text
    out: dict[int, tuple[int, int, int]] = {}
    done = 0  # everything before this was looked at (hits are sorted)
    counted = quotes = 0  # unescaped quotes in raw[:counted]
    for hit_start, hit_end in hits:
        if hit_end <= done:
            continue  # inside the literal the previous hit was in
        pos = max(hit_start, done)
        while pos < hit_end:
            quotes += raw.count(b'"', counted, pos)
            if escaped:
                # From counted - 1: a `\\"` whose backslash is just before `counted` has its quote after it.
                quotes -= raw.count(b'\\"', counted - 1 if counted else 0, pos)
            counted = pos
            if quotes & 1:
                open_ = raw.rfind(b'"', 0, pos)
                while escaped and open_ > 0 and raw[open_ - 1] == _BACKSLASH:
                    open_ = raw.rfind(b'"', 0, open_)
                close = _next_quote(raw, pos, escaped)
            else:
                close = _next_quote(raw, pos, escaped)  # outside a literal: the next one's opening quote
                if close == pos:
                    open_, close = pos, _next_quote(raw, pos + 1, escaped)
                else:
                    open_ = -1
                    if close < 0:
                        close = n
            if open_ >= 0:
                after = close + 1
                while after < n and raw[after] in _JSON_BLANK:
                    after += 1
                kind = _T_KEY if after < n and raw[after] == _COLON else _T_STRING
                out[open_] = (open_, close + 1, kind)
                pos = done = close + 1
                continue
            # Outside every literal up to `close`: of what is there the parse path scans only integers of 7
            # digits or more (`_leaves`); a hit on a float, a brace or `true` holds nothing it would scan.
            stop = min(hit_end, close)
            while pos < stop:
                if raw[pos] not in _NUMBER_BYTES:
                    pos += 1
                    continue
                start = pos
                while start > 0 and raw[start - 1] in _NUMBER_BYTES:
                    start -= 1
                end = pos
                while end < n and raw[end] in _NUMBER_BYTES:
                    end += 1
                token = raw[start:end]
                digits = token[1:] if token[:1] == b"-" else token
                if digits.isdigit() and len(digits) >= 7:
                    out[start] = (start, end, _T_NUMBER)
                pos = end
            done = pos
    return [out[k] for k in sorted(out)]


def _next_quote(raw: bytes, pos: int, escaped: bool) -> int:
    """The first quote at or after pos that is not escaped (no `\\\\` in raw: a backslash before it escapes it)."""
    quote = raw.find(b'"', pos)
    while escaped and quote > 0 and raw[quote - 1] == _BACKSLASH:
        quote = raw.find(b'"', quote + 1)
    return quote


def _spliced(raw: bytes, edits: list[tuple[int, int, str]]) -> str:
    pieces: list[bytes] = []
    pos = 0
    for start, end, text in sorted(edits):
        pieces.append(raw[pos:start])
        pieces.append(orjson.dumps(text))
        pos = end
    pieces.append(raw[pos:])
    return b"".join(pieces).decode()


def _looks_like_json(s: str) -> bool:
    first = s[0]
    if first in _JSON_START:
        return True
    if first in _WHITESPACE:
        stripped = s.lstrip()
        return bool(stripped) and stripped[0] in _JSON_START
    return False


def _parse(value: Any, s: str) -> _JsonDoc | None:
    try:
        obj = orjson.loads(s)
    except orjson.JSONDecodeError:
        return None
    if type(obj) is not dict and type(obj) is not list:
        return None
    return _JsonDoc(value, obj)


def _rename_keys(renames: list[tuple[dict[str, Any], str, str]]) -> None:
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


def _covered(patterns: Sequence[Any], text: str, start: int, end: int) -> bool:
    """Whether some match of an allowed_values pattern contains [start, end) of text."""
    for pattern in patterns:
        for m in pattern.finditer(text):
            s, e = m.span()
            if s <= start and end <= e:
                return True
            if s > start:
                break
    return False


def _keep_last_four(match: str) -> str:
    """`4111 1111 1111 1111` -> `**** **** **** 1111`: the layout stays, every digit but the last four goes."""
    digits = sum(1 for c in match if c.isdigit())
    keep = 4
    out = []
    seen = 0
    for c in match:
        if c.isdigit():
            seen += 1
            out.append(c if seen > digits - keep else "*")
        else:
            out.append(c)
    return "".join(out)


def _scalar_text(value: Any, kind: str | None) -> str:
    if kind == "int_value":
        return str(value.int_value)
    if kind == "double_value":
        return repr(value.double_value)
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    return ""


def _find(attrs: Any, key: str) -> Any:
    for kv in attrs:
        if kv.key == key:
            return kv
    return None


def _add_summary(attrs: Any, name: str, keys: list[str], with_keys: bool, look: bool = True) -> None:
    """otelcol's summary: `<name>.count` adds to an existing count (a second redaction processor in the
    chain), and at debug `<name>.keys` is the sorted, comma-joined union with the existing list."""
    if with_keys:
        existing = _find(attrs, f"{name}.keys") if look else None
        merged = set(keys)
        if existing is not None:
            if existing.value.string_value:
                merged.update(existing.value.string_value.split(","))
            existing.value.string_value = ",".join(sorted(merged))
        else:
            kv = attrs.add()
            kv.key = f"{name}.keys"
            kv.value.string_value = ",".join(sorted(merged))
    _add_count(attrs, f"{name}.count", len(keys), look)


def _add_count(attrs: Any, name: str, count: int, look: bool = True) -> None:
    existing = _find(attrs, name) if look else None
    if existing is not None:
        existing.value.int_value = existing.value.int_value + count
    else:
        kv = attrs.add()
        kv.key = name
        kv.value.int_value = count
