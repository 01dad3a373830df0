"""The redaction engine: one walk over an OTLP request, one scan, edits only where something was found.

The walk collects every string worth scanning into one flat list (with a parallel list saying where each
came from; scan_batch.py), the scanner sees the whole list in one `scan_many` call, and only the few
locations with findings are touched afterwards (edits.py). Walking attributes in Python is the hot cost,
so the per-attribute loops are written out by hand with local variables, and a value shorter than the
shortest possible finding is skipped before anything else happens to it. String values holding JSON are
walked inside (json_values.py).

Every field of a request that can hold text is scanned: attribute values (strings, arrays, maps, bytes)
and keys, span names (opt-in) and status messages, trace_state (spans and links), event names, scope
names and versions, schema URLs, entity references, log bodies, severity_text and event_name, metric
names, descriptions, units and metadata. In a hit span a key is scanned only where a hit overlaps its own
bytes; elsewhere only a key the prefilter has a hit in, and keys are memoised like short values (`_clean`):
the same few keys recur in every request.

Before any of that, the request-level gate (gate.py) maps the prefilter's hits over the request's wire
bytes to the items that hold them, and only those are walked; a request without a hit is not walked at
all. Key rules (allowed_keys, ignored/blocked keys) and redact_all_types act on values the wire cannot
show, so those configs keep the full walk.

This package's engine modules know nothing about config files or metrics: the processor (processor.py)
builds a `Redactor` from its config (build.py) and turns the returned `Stats` into metrics.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from typing import Any

from ...wire import fields, schema
from ...wire.locate import LOGS, METRICS, TRACES
from .edits import CLEAN_LEN, CLEAN_MAX, Edits, covered
from .gate import request_marks
from .json_values import JSON_START, JsonValues, looks_like_json
from .scan_batch import (
    A_MASK,
    BODY_PREFIX,
    ENTITY_REFS_KEY,
    EVENT_NAME_KEY,
    IGNORE,
    L_BYTES,
    L_FIELD,
    L_ITEM,
    L_KEY,
    L_SCALAR,
    L_VALUE,
    LINK_TRACE_STATE_KEY,
    LOG_EVENT_NAME_KEY,
    MASK,
    MASK_KEY,
    METRIC_DESCRIPTION_KEY,
    METRIC_NAME_KEY,
    METRIC_UNIT_KEY,
    NAME_KEY,
    REMOVE,
    RESOURCE_SCHEMA_KEY,
    SCAN,
    SCOPE_NAME_KEY,
    SCOPE_SCHEMA_KEY,
    SCOPE_VERSION_KEY,
    SEVERITY_TEXT_KEY,
    STATUS_KEY,
    SUMMARY_PREFIX,
    TRACE_STATE_KEY,
    Batch,
    KeyPolicy,
    Loc,
    Rule,
    Stats,
)

# The fields request_marks' marks are keyed by (collector/wire/locate.py's layouts), bound to locals once per
# request: (resources, resource, scopes, scope, items, the resource's and the scope's schema URL) of each
# request, and the fields of a hit span's marks.
_TRACE_FIELDS = (
    fields.ExportTraceServiceRequest.RESOURCE_SPANS, fields.ResourceSpans.RESOURCE, fields.ResourceSpans.SCOPE_SPANS,
    fields.ScopeSpans.SCOPE, fields.ScopeSpans.SPANS, fields.ResourceSpans.SCHEMA_URL, fields.ScopeSpans.SCHEMA_URL,
)
_SPAN_FIELDS = (fields.Span.NAME, fields.Span.ATTRIBUTES, fields.Span.EVENTS, fields.Span.LINKS, fields.Span.STATUS, fields.Span.TRACE_STATE)
_LOG_FIELDS = (
    fields.ExportLogsServiceRequest.RESOURCE_LOGS, fields.ResourceLogs.RESOURCE, fields.ResourceLogs.SCOPE_LOGS,
    fields.ScopeLogs.SCOPE, fields.ScopeLogs.LOG_RECORDS, fields.ResourceLogs.SCHEMA_URL, fields.ScopeLogs.SCHEMA_URL,
)
_METRIC_FIELDS = (
    fields.ExportMetricsServiceRequest.RESOURCE_METRICS, fields.ResourceMetrics.RESOURCE, fields.ResourceMetrics.SCOPE_METRICS,
    fields.ScopeMetrics.SCOPE, fields.ScopeMetrics.METRICS, fields.ResourceMetrics.SCHEMA_URL, fields.ScopeMetrics.SCHEMA_URL,
)
_KEY_TAG = fields.tag(fields.KeyValue.KEY, fields.LEN)  # a KeyValue's key, as the first byte of its bytes


class Redactor(JsonValues, Edits):
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
        masking = not self.allowed_values and all(rule.action == A_MASK for rule in rules.values())
        self.masks = {name: rule.placeholder for name, rule in rules.items()} if masking else None
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
        # And over one key: a key it has no hit in cannot hold a finding, and is remembered as clean unscanned.
        self._key_hits = wire_hits
        # Short strings whose scan found nothing: JSON keys, roles and part types recur in every request.
        # Only texts without findings are kept, so this never holds what a detector would redact.
        self._clean: set[str] = set()

    # ------------------------------------------------------------------------------------------ signals

    def traces(self, request: Any, payload: bytes | None = None) -> Stats:
        gate = Stats()
        marks, b_summaries, wire = request_marks(self._wire_hits, request, TRACES, schema.TRACES, gate, payload)
        if marks is None:
            return self._traces_all(request)
        b = Batch()
        b.marked = True
        b.summaries = b_summaries
        names = self.span_names
        f_resource_spans, f_resource, f_scope_spans, f_scope, f_spans, f_resource_schema, f_scope_schema = _TRACE_FIELDS
        f_name, f_attributes, f_events, f_links, f_status, f_trace_state = _SPAN_FIELDS
        resource_spans = request.resource_spans
        for ri, rmark in marks.get(f_resource_spans, {}).items():
            rs = resource_spans[ri]
            whole, url = f_resource in rmark, f_resource_schema in rmark
            if whole or url:
                self._resource(b, rs, whole, url)
            scope_spans = rs.scope_spans
            for si, smark in rmark.get(f_scope_spans, {}).items():
                ss = scope_spans[si]
                whole, url = f_scope in smark, f_scope_schema in smark
                if whole or url:
                    self._scope(b, ss, whole, url)
                spans = ss.spans
                for pi, pmark in smark.get(f_spans, {}).items():
                    span = spans[pi]
                    attrs = span.attributes
                    mi = b.map(attrs, attrs)
                    hit_attrs = pmark.get(f_attributes)
                    if hit_attrs:
                        self._collect_hit(b, attrs, mi, hit_attrs, wire)
                    if names and f_name in pmark:
                        self._field(b, mi, span, "name", NAME_KEY)
                    if f_status in pmark:
                        self._field(b, mi, span.status, "message", STATUS_KEY)
                    if f_trace_state in pmark:
                        self._field(b, mi, span, "trace_state", TRACE_STATE_KEY)
                    for index in pmark.get(f_events, ()):
                        self._event(b, span.events[index])
                    for index in pmark.get(f_links, ()):
                        self._link(b, span.links[index])
        return self._finish(b, gate)

    def _traces_all(self, request: Any) -> Stats:
        b = Batch()
        texts, owners, starts, maps = b.texts, b.owners, b.starts, b.maps
        names, min_len, json_on, all_types = self.span_names, self.min_length, self.json_values, self.all_types
        keyed = self.keys is not None
        json_value, nested, field, clean = self._json, self._nested, self._field, self._clean
        for rs in request.resource_spans:
            self._resource(b, rs)
            for ss in rs.scope_spans:
                self._scope(b, ss)
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
                            key = kv.key
                            if len(key) >= min_len and key not in clean and self._unclear(key):
                                texts.append(key)
                                owners.append(Loc(L_KEY, mi, kv, kv, key, attrs))
                            value = kv.value
                            text = value.string_value
                            if text:
                                if len(text) >= min_len:
                                    if json_on and text[0] in JSON_START:
                                        json_value(b, text, value, mi, kv, key)
                                    else:
                                        texts.append(text)
                                        owners.append(kv)
                                continue
                            kind = value.WhichOneof("value")
                            if kind == "array_value" or kind == "kvlist_value" or kind == "bytes_value" or (all_types and kind is not None):
                                nested(b, value, kind, mi, kv, key, False)
                    if names:
                        field(b, mi, span, "name", NAME_KEY)
                    if span.HasField("status"):
                        field(b, mi, span.status, "message", STATUS_KEY)
                    field(b, mi, span, "trace_state", TRACE_STATE_KEY)
                    if span.events:
                        for event in span.events:
                            self._event(b, event)
                    if span.links:
                        for link in span.links:
                            self._link(b, link)
        return self._finish(b)

    def _event(self, b: Batch, event: Any) -> None:
        attrs = event.attributes
        mi = b.map(attrs, attrs)
        if attrs:
            self._collect(b, attrs, mi)
        self._field(b, mi, event, "name", EVENT_NAME_KEY)

    def _link(self, b: Batch, link: Any) -> None:
        attrs = link.attributes
        mi = b.map(attrs, attrs)
        if attrs:
            self._collect(b, attrs, mi)
        self._field(b, mi, link, "trace_state", LINK_TRACE_STATE_KEY)

    def logs(self, request: Any, payload: bytes | None = None) -> Stats:
        return self._resources_of(request, LOGS, schema.LOGS, _LOG_FIELDS, "resource_logs", "scope_logs", "log_records", self._log_record, payload)

    def _log_record(self, b: Batch, record: Any) -> None:
        attrs = record.attributes
        mi = b.map(attrs, attrs)
        self._collect(b, attrs, mi)
        self._field(b, mi, record, "severity_text", SEVERITY_TEXT_KEY)
        self._field(b, mi, record, "event_name", LOG_EVENT_NAME_KEY)
        if record.HasField("body"):
            self._body(b, record, b.map(record, attrs, BODY_PREFIX))

    def metrics(self, request: Any, payload: bytes | None = None) -> Stats:
        return self._resources_of(request, METRICS, schema.METRICS, _METRIC_FIELDS, "resource_metrics", "scope_metrics", "metrics", self._metric, payload)

    def _resources_of(
        self, request: Any, layout: Any, table: Any, numbers: tuple[int, ...], resources_field: str, scopes_field: str, items_field: str, visit: Any,
        payload: bytes | None = None,
    ) -> Stats:
        """Logs and metrics: resources and scopes, then `visit(batch, item)` for each log record or metric;
        only those the request-level prefilter marked, unless the config needs every one. `numbers`: the field
        numbers the marks of `layout` are keyed by (resources, resource, scopes, scope, items, the resource's
        and the scope's schema URL); `table`: the request's schema table (collector.wire.schema)."""
        gate = Stats()
        marks, b_summaries, _ = request_marks(self._wire_hits, request, layout, table, gate, payload)
        b = Batch()
        entries = getattr(request, resources_field)
        if marks is None:
            for entry in entries:
                self._resource(b, entry)
                for scoped in getattr(entry, scopes_field):
                    self._scope(b, scoped)
                    for item in getattr(scoped, items_field):
                        visit(b, item)
            return self._finish(b)
        b.summaries = b_summaries
        b.marked = True
        f_resources, f_resource, f_scopes, f_scope, f_items, f_resource_schema, f_scope_schema = numbers
        for ri, rmark in marks.get(f_resources, {}).items():
            entry = entries[ri]
            whole, url = f_resource in rmark, f_resource_schema in rmark
            if whole or url:
                self._resource(b, entry, whole, url)
            scopes = getattr(entry, scopes_field)
            for si, smark in rmark.get(f_scopes, {}).items():
                scoped = scopes[si]
                whole, url = f_scope in smark, f_scope_schema in smark
                if whole or url:
                    self._scope(b, scoped, whole, url)
                items = getattr(scoped, items_field)
                for index in smark.get(f_items, ()):
                    visit(b, items[index])
        return self._finish(b, gate)

    def _metric(self, b: Batch, metric: Any) -> None:
        # The metric's own fields report into its metadata (the only attributes a metric has). Redacting a
        # name or unit changes the metric's identity; see docs/redaction.md.
        metadata = metric.metadata
        mi = b.map(metadata, metadata)
        if metadata:
            self._collect(b, metadata, mi)
        self._field(b, mi, metric, "name", METRIC_NAME_KEY)
        self._field(b, mi, metric, "description", METRIC_DESCRIPTION_KEY)
        self._field(b, mi, metric, "unit", METRIC_UNIT_KEY)
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

    def _resource(self, b: Batch, entry: Any, whole: bool = True, schema_url: bool = True) -> None:
        """A resource's attributes and entity references (`whole`) and the schema URL beside it, all reporting
        into the resource's attributes."""
        resource = entry.resource
        attrs = resource.attributes
        mi = b.map(attrs, attrs)
        if whole:
            self._collect(b, attrs, mi)
            for ref in resource.entity_refs:
                self._field(b, mi, ref, "type", ENTITY_REFS_KEY)
                self._field(b, mi, ref, "schema_url", ENTITY_REFS_KEY)
                for keys in (ref.id_keys, ref.description_keys):
                    for index, text in enumerate(keys):
                        if len(text) >= self.min_length:
                            b.texts.append(text)
                            b.owners.append(Loc(L_ITEM, mi, None, keys, ENTITY_REFS_KEY, index))
        if schema_url:
            self._field(b, mi, entry, "schema_url", RESOURCE_SCHEMA_KEY)

    def _scope(self, b: Batch, scoped: Any, whole: bool = True, schema_url: bool = True) -> None:
        """A scope's attributes, name and version (`whole`) and the schema URL beside it."""
        scope = scoped.scope
        attrs = scope.attributes
        mi = b.map(attrs, attrs)
        if whole:
            self._collect(b, attrs, mi)
            self._field(b, mi, scope, "name", SCOPE_NAME_KEY)
            self._field(b, mi, scope, "version", SCOPE_VERSION_KEY)
        if schema_url:
            self._field(b, mi, scoped, "schema_url", SCOPE_SCHEMA_KEY)

    def _field(self, b: Batch, mi: int, message: Any, name: str, key: str) -> None:
        """Queue a message's own string field `name`, listed in the summary of map `mi` as `key`."""
        text = getattr(message, name)
        if len(text) >= self.min_length and text not in self._clean:
            b.texts.append(text)
            b.owners.append(Loc(L_FIELD, mi, None, message, key, name))

    def _unclear(self, key: str) -> bool:
        """Whether a key must be scanned: the prefilter has a hit in it (or cannot say). One it has none in is
        remembered as clean (`_clean`, as a scan without findings would be), so each key costs one prefilter
        pass per process, and keys do not crowd the texts handed to the scanner."""
        prefilter = self._key_hits
        if prefilter is None or prefilter(key.encode())[0]:
            return True
        if len(key) <= CLEAN_LEN:
            clean = self._clean
            if len(clean) > CLEAN_MAX:
                clean.clear()
            clean.add(key)
        return False

    def _key(self, b: Batch, kv: Any, mi: int, top: Any, path: str, container: Any) -> None:
        key = kv.key
        if len(key) >= self.min_length and key not in self._clean and self._unclear(key):
            b.texts.append(key)
            b.owners.append(Loc(L_KEY, mi, top, kv, path, container))

    def _collect(self, b: Batch, attrs: Any, mi: int) -> None:
        """Queue the keys and values of one map. The plain-string case is the hot path: no calls in it."""
        if self.keys is not None:
            self._collect_keyed(b, attrs, mi)
            return
        texts, owners = b.texts, b.owners
        min_len, json_on, clean = self.min_length, self.json_values, self._clean
        for kv in attrs:
            key = kv.key
            if len(key) >= min_len and key not in clean and self._unclear(key):
                texts.append(key)
                owners.append(Loc(L_KEY, mi, kv, kv, key, attrs))
            value = kv.value
            s = value.string_value
            if s:
                if len(s) < min_len:
                    continue
                if json_on and s[0] in JSON_START:
                    self._json(b, s, value, mi, kv, key)
                    continue
                texts.append(s)
                owners.append(kv)
                continue
            kind = value.WhichOneof("value")
            if kind == "array_value" or kind == "kvlist_value" or kind == "bytes_value" or (self.all_types and kind is not None):
                self._nested(b, value, kind, mi, kv, key, False)

    def _collect_hit(self, b: Batch, attrs: Any, mi: int, hit: dict[int, tuple[int, int]], wire: Any) -> None:
        """A hit span's attributes that the request-level prefilter hit, with the byte range of each on the
        wire, so that a JSON value's hits can be mapped to its string literals (`_json`), and a key is
        scanned only where a hit overlaps the key's own bytes."""
        texts, owners = b.texts, b.owners
        min_len, json_on, clean = self.min_length, self.json_values, self._clean
        payload, starts, ends = wire
        for index, where in hit.items():
            kv = attrs[index]
            key = kv.key
            if len(key) >= min_len and key not in clean and _key_hit(payload, starts, ends, where):
                texts.append(key)
                owners.append(Loc(L_KEY, mi, kv, kv, key, attrs))
            value = kv.value
            s = value.string_value
            if s:
                if len(s) < min_len:
                    continue
                if json_on and s[0] in JSON_START:
                    self._json(b, s, value, mi, kv, key, wire, where)
                    continue
                texts.append(s)
                owners.append(kv)
                continue
            kind = value.WhichOneof("value")
            if kind == "array_value" or kind == "kvlist_value" or kind == "bytes_value" or (self.all_types and kind is not None):
                self._nested(b, value, kind, mi, kv, key, False)

    def _collect_keyed(self, b: Batch, attrs: Any, mi: int) -> None:
        decide = self.keys.decide  # type: ignore[union-attr]
        remove: list[int] = []
        for index, kv in enumerate(attrs):
            key = kv.key
            decision = decide(key)
            # Whatever its value's rule, a key can hold PII, and a removed one is still named in the summary.
            self._key(b, kv, mi, kv, key, attrs)
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

    def _string(self, b: Batch, s: str, value: Any, mi: int, top: Any, key: str, top_level: bool = False) -> None:
        if len(s) < self.min_length:
            return
        if self.json_values and looks_like_json(s):
            self._json(b, s, value, mi, top, key)
            return
        b.texts.append(s)
        b.owners.append(top if top_level else Loc(L_VALUE, mi, top, value, key))

    def _nested(self, b: Batch, value: Any, kind: str, mi: int, top: Any, key: str, body: bool) -> None:
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
                self._key(b, kv, mi, top, path, entries)
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
        elif kind == "bytes_value":
            text = value.bytes_value.decode("latin-1")
            if len(text) >= self.min_length:
                b.texts.append(text)
                b.owners.append(Loc(L_BYTES, mi, top, value, key))
        elif self.all_types:
            if kind == "double_value":
                text = repr(value.double_value)
            elif kind == "int_value":
                text = str(value.int_value)
            else:  # bool: "true"/"false" cannot hold anything a detector looks for
                return
            if len(text) >= self.min_length:
                b.texts.append(text)
                b.owners.append(Loc(L_SCALAR, mi, top, value, key))

    def _body(self, b: Batch, record: Any, mi: int) -> None:
        body = record.body
        kind = body.WhichOneof("value")
        if kind is None:
            return
        # A map body's paths start at its own keys ("user.email"), as otelcol's do.
        self._nested(b, body, kind, mi, None, "" if kind == "kvlist_value" else "body", True)

    def _mask_whole(self, b: Batch, value: Any, mi: int, key: str) -> None:
        """A blocked key pattern: the whole value goes (unless allowed_values covers all of it)."""
        kind = value.WhichOneof("value")
        text = value.string_value if kind == "string_value" else _scalar_text(value, kind)
        changes = b.changes_for(mi)
        if text and self.allowed_values and covered(self.allowed_values, text, 0, len(text)):
            changes.allowed[key] = None
            return
        value.string_value = self.whole_value_hasher(text) if self.whole_value_hasher is not None and text else MASK
        changes.masked[key] = None



def _key_hit(payload: bytes, starts: list[int], ends: list[int], where: tuple[int, int]) -> bool:
    """Whether a hit overlaps the key of the KeyValue at payload[where[0]:where[1]], where the key is its first
    field (as every serializer writes it) with a length of up to 16 KB; in any other layout, True."""
    start, end = where
    if start + 1 >= end or payload[start] != _KEY_TAG:
        return True
    size = payload[start + 1]
    key_start = start + 2
    if size >= 0x80:
        if start + 2 >= end or payload[start + 2] >= 0x80:
            return True
        size = (size & 0x7F) | (payload[start + 2] << 7)
        key_start += 1
    h = bisect_right(ends, key_start)  # the first hit that ends after the key starts: does it start inside?
    return h < len(starts) and starts[h] < key_start + size


def _scalar_text(value: Any, kind: str | None) -> str:
    if kind == "int_value":
        return str(value.int_value)
    if kind == "double_value":
        return repr(value.double_value)
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    return ""

