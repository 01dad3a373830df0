"""The redaction engine: one walk over an OTLP request, one scan, edits only where something was found.

The walk collects every string worth scanning into one flat list (with a parallel list saying where each
came from), the scanner sees the whole list in one `scan_many` call, and only the few locations with
findings are touched afterwards. Walking attributes in Python is the hot cost, so the per-attribute loops
are written out by hand with local variables, and a value shorter than the shortest possible finding is
skipped before anything else happens to it.

JSON-string values (`gen_ai.input.messages`, `input.value`, ...) are parsed (orjson) and their decoded string
leaves and object keys go into the same list, so `\\uXXXX`-escaped PII is found; a value with an edit is
re-serialised once, so it stays valid JSON. One that does not parse is scanned as text.

Before any of that, the request is serialized once and the scanner's prefilter runs over the wire bytes
(`wire_hits`): strings are raw UTF-8 on the wire, so a value the scan would find something in has a hit
overlapping its bytes. A light walk of tags and lengths (`_locate`) maps the hits to items, and only those
are walked: resource and scope attributes, log records and metrics whose bytes were hit, and inside a hit
span only the attributes, events, links, name and status that were. A request without a hit is not walked
at all. Key rules (allowed_keys, ignored/blocked keys) and redact_all_types act on values the wire cannot
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

MASK = "****"

# Key decisions (otelcol's order: ignored, then not-allowed (removed), then blocked key pattern, then values).
SCAN, IGNORE, REMOVE, MASK_KEY = 0, 1, 2, 3

# Where a scanned string came from, when it is not a top-level string attribute (those are the KeyValue).
L_VALUE, L_SCALAR, L_LEAF, L_JSONKEY, L_NAME, L_STATUS = range(6)

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

    __slots__ = ("texts", "owners", "starts", "maps", "changes", "docs", "summaries")

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.owners: list[Any] = []
        self.starts: list[int] = []  # index of the first text of each map (top-level KeyValue owners use it)
        # (container, summary container, summary prefix): the container is the repeated KeyValue field
        # (or the log record, for a body), the summary goes onto the summary container's attributes.
        self.maps: list[tuple[Any, Any, str]] = []
        self.changes: dict[int, _Changes] = {}
        self.docs: list[_JsonDoc] = []
        self.summaries = True  # False: no redaction.* attribute anywhere in the request yet

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
        scan_many: Callable[[Sequence[str]], list[list[Any]]],
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
        # Short strings whose scan found nothing: JSON keys, roles and part types recur in every request.
        # Only texts without findings are kept, so this never holds what a detector would redact.
        self._clean: set[str] = set()

    # ------------------------------------------------------------------------------- request-level gate

    def _marks(self, request: Any, spec: dict[int, Any], stats: Stats) -> tuple[dict[int, Any] | None, bool]:
        """Which items of the request to walk (see `_locate`), or None to walk all of it; and whether an
        upstream redaction summary may already be there (else the summary need not look for one)."""
        if self._wire_hits is None:
            return None, True
        try:
            payload = request.SerializeToString()
            starts, ends = self._wire_hits(payload)
            stats.characters += len(payload)
            if not starts:
                return {}, True
            return _locate(payload, 0, len(payload), spec, starts, ends), SUMMARY_PREFIX.encode() in payload
        except Exception:  # noqa: BLE001 - the gate only saves work; on any doubt, walk everything
            return None, True

    # ------------------------------------------------------------------------------------------ signals

    def traces(self, request: Any) -> Stats:
        gate = Stats()
        marks, b_summaries = self._marks(request, _TRACES, gate)
        if marks is None:
            return self._traces_all(request)
        b = _Batch()
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
                        collect(b, attrs, mi, hit_attrs)
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

    def logs(self, request: Any) -> Stats:
        return self._resources_of(request, _LOGS, "resource_logs", "scope_logs", "log_records", self._log_record)

    def _log_record(self, b: _Batch, record: Any) -> None:
        attrs = record.attributes
        self._collect(b, attrs, b.map(attrs, attrs))
        if record.HasField("body"):
            self._body(b, record, b.map(record, attrs, BODY_PREFIX))

    def metrics(self, request: Any) -> Stats:
        return self._resources_of(request, _METRICS, "resource_metrics", "scope_metrics", "metrics", self._metric)

    def _resources_of(self, request: Any, layout: Any, resources_field: str, scopes_field: str, items_field: str, visit: Any) -> Stats:
        """Logs and metrics: resource and scope attributes, then `visit(batch, item)` for each log record
        or metric; only those the request-level prefilter marked, unless the config needs every one."""
        gate = Stats()
        marks, b_summaries = self._marks(request, layout, gate)
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

    def _collect(self, b: _Batch, attrs: Any, mi: int, only: Any = None) -> None:
        """Queue the attributes of one map (`only`: just these indexes). The plain-string case is the hot
        path: no calls in it."""
        if self.keys is not None:
            self._collect_keyed(b, attrs, mi)
            return
        texts, owners = b.texts, b.owners
        min_len, json_on = self.min_length, self.json_values
        for kv in attrs if only is None else [attrs[i] for i in only]:
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

    def _json(self, b: _Batch, s: str, value: Any, mi: int, top: Any, key: str) -> None:
        # Parsed every time rather than gated by a raw scan: the scanner's exact pass runs over each marked
        # string whole, so a marked 2 KB message list costs far more than its parse, while a marked leaf is
        # only the sentence that holds the finding (measured: ~20% less CPU per span on the loadgen profile).
        doc = _parse(value, s)
        if doc is None:
            b.texts.append(s)
            b.owners.append(_Loc(L_VALUE, mi, top, value, key))
            return
        b.docs.append(doc)
        self._leaves(b.texts, b.owners, doc, mi, top, key)

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

    def _scan(self, texts: list[str], stats: Stats) -> list[list[Any]]:
        stats.values += len(texts)
        stats.characters += sum(map(len, texts))
        self.last_exception = None
        try:
            return self._scan_many(texts)
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
            results = self._scan(b.texts, stats)
            self._apply(b, b.texts, b.owners, results, stats)
            clean = self._clean
            if len(clean) > _CLEAN_MAX:
                clean.clear()
            clean.update([t for t, found in zip(b.texts, results) if not found and len(t) <= _CLEAN_LEN])
        for doc in b.docs:
            if doc.failed:
                doc.value.string_value = MASK
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
                if kind in (L_LEAF, L_JSONKEY):
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
_SPAN = {5: None, 9: None, 11: None, 13: None, 15: None}  # name, attributes, events, links, status
_TRACES = {1: {1: None, 2: {1: None, 2: _SPAN}}}  # resource_spans: resource, scope_spans: scope, spans
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
                        out.setdefault(field, {})[index] = None if sub is None else _locate(buf, item_start, pos, sub, starts, ends)
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


class _Error:
    start = end = 0
    detector = "error"
    error = True


_ERROR = _Error()
_FAILED = object()
_DROP = object()


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
