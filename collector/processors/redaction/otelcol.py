"""otelcol-contrib's redaction processor, key for key: what a `redaction` block without `detectors:` runs.

A config pasted from otelcol gives the output otelcol's would (processor/redactionprocessor in
opentelemetry-collector-contrib): the same attributes removed, masked, hashed and left alone, the same
summary attributes with the same values, on the same maps:

- resource and scope attributes, span and span-event attributes (not links), log-record attributes and
  bodies, data-point attributes of every metric type (not exemplars, not metric metadata);
- per attribute, in map order: `ignored_keys` / `ignored_key_patterns` (passed through, counted), then
  keys outside `allowed_keys` unless `allow_all_keys` (removed), then `allowed_values` (the whole value
  kept when a pattern matches anywhere in it), then `blocked_key_patterns` (the whole value masked), then
  each `blocked_values` pattern in turn, every match replaced;
- only string values are read unless `redact_all_types` (then ints, doubles, bools, bytes, arrays and maps
  as their text, and a masked one becomes a string); a non-string value reads as "" otherwise, as otelcol's
  `Value.Str()` does, so a blocked key masks it to `****` all the same;
- a map log body gets the key rules at every level (paths `a.b`, `a.[0]`); its scalars are read as text;
- matches become `****`, or with `hash_function` the hex digest of the match (md5, sha1, sha3-256,
  hmac-sha256/512 keyed with `hmac_key`), replaced as Go's `ReplaceAllStringFunc` replaces them;
- `summary: debug` writes `redaction.{redacted,masked,allowed}.keys` (sorted, merged with a list already
  there) and the `.count`s, `info` the counts only, `silent` (and, as in otelcol, no `summary` at all)
  nothing; log bodies report as `redaction.body.*` on the record's attributes; counts add to counts already
  there (a second processor in a chain), and the summary's own keys survive `allowed_keys`;
- protobuf fields the OTLP schema does not have are dropped, as otelcol's pdata never carries them.

Our `blocked_values` extensions keep their meaning here: `name` labels the metrics, `placeholder`
replaces `****`, `validator` leaves a match that fails its checksum alone. What `detectors:` adds is the
other engine's (walk.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from .config import RedactionConfig, compile_regex
from .scan_batch import MASK, Stats

_REDACTED_KEYS, _REDACTED_COUNT = "redaction.redacted.keys", "redaction.redacted.count"
_MASKED_KEYS, _MASKED_COUNT = "redaction.masked.keys", "redaction.masked.count"
_ALLOWED_KEYS, _ALLOWED_COUNT = "redaction.allowed.keys", "redaction.allowed.count"
_IGNORED_COUNT = "redaction.ignored.count"
_BODY_REDACTED_KEYS, _BODY_REDACTED_COUNT = "redaction.body.redacted.keys", "redaction.body.redacted.count"
_BODY_MASKED_KEYS, _BODY_MASKED_COUNT = "redaction.body.masked.keys", "redaction.body.masked.count"
_BODY_ALLOWED_KEYS, _BODY_ALLOWED_COUNT = "redaction.body.allowed.keys", "redaction.body.allowed.count"
_BODY_IGNORED_COUNT = "redaction.body.ignored.count"
# Every attribute the processor writes: always allowed, so that a second processor in a chain keeps them.
SUMMARY_KEYS = frozenset({
    _REDACTED_KEYS, _REDACTED_COUNT, _MASKED_KEYS, _MASKED_COUNT, _ALLOWED_KEYS, _ALLOWED_COUNT, _IGNORED_COUNT,
    _BODY_REDACTED_KEYS, _BODY_REDACTED_COUNT, _BODY_MASKED_KEYS, _BODY_MASKED_COUNT, _BODY_ALLOWED_KEYS,
    _BODY_ALLOWED_COUNT, _BODY_IGNORED_COUNT,
})
BLOCKED_KEY = "blocked_key_pattern"  # the metrics' detector label for a value masked by its key

_DIGESTS: dict[str, Callable[..., Any]] = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha3": hashlib.sha3_256}
_HMACS: dict[str, Callable[..., Any]] = {"hmac-sha256": hashlib.sha256, "hmac-sha512": hashlib.sha512}


class _Blocked:
    __slots__ = ("pattern", "name", "replacement", "validator")

    def __init__(self, pattern: Any, name: str, replacement: str, validator: Callable[[str], bool] | None):
        self.pattern = pattern
        self.name = name
        self.replacement = replacement
        self.validator = validator


class OtelcolRedactor:
    """Redacts OTLP requests in place as otelcol's redaction processor does; `traces`, `logs` and `metrics`
    take a request (and its bytes, unused: every map is read) and return what it cost and matched."""

    def __init__(self, config: RedactionConfig):
        from ...pii.validators import VALIDATORS

        self.allow_all = config.allow_all_keys
        self.allowed = frozenset(config.allowed_keys or ()) | SUMMARY_KEYS
        self.ignored = frozenset(config.ignored_keys)
        self.ignored_patterns = [compile_regex(p) for p in config.ignored_key_patterns]
        self.blocked_keys = [compile_regex(p) for p in config.blocked_key_patterns]
        self.allowed_values = [compile_regex(p) for p in config.allowed_values]
        self.blocked = [
            _Blocked(compile_regex(b.pattern), b.name or f"blocked_value_{i}", b.placeholder, VALIDATORS[b.validator] if b.validator else None)
            for i, b in enumerate(config.blocked_values)
        ]
        self.all_types = config.redact_all_types
        level = config.summary_level
        self.debug = level == "debug"
        self.counts = level in ("debug", "info")
        self.digest = _hasher(config.hash_function, config.key)
        self._everything = compile_regex(".*")

    # ------------------------------------------------------------------------------------------ signals

    def traces(self, request: Any, payload: bytes | None = None) -> Stats:
        request.DiscardUnknownFields()
        stats = Stats()
        attrs = self._attrs
        for rs in request.resource_spans:
            attrs(rs.resource.attributes, stats)
            for ss in rs.scope_spans:
                attrs(ss.scope.attributes, stats)
                for span in ss.spans:
                    attrs(span.attributes, stats)
                    for event in span.events:
                        attrs(event.attributes, stats)
        return stats

    def logs(self, request: Any, payload: bytes | None = None) -> Stats:
        request.DiscardUnknownFields()
        stats = Stats()
        attrs = self._attrs
        for rl in request.resource_logs:
            attrs(rl.resource.attributes, stats)
            for sl in rl.scope_logs:
                attrs(sl.scope.attributes, stats)
                for record in sl.log_records:
                    attrs(record.attributes, stats)
                    self._body(record, stats)
        return stats

    def metrics(self, request: Any, payload: bytes | None = None) -> Stats:
        request.DiscardUnknownFields()
        stats = Stats()
        attrs = self._attrs
        for rm in request.resource_metrics:
            attrs(rm.resource.attributes, stats)
            for sm in rm.scope_metrics:
                attrs(sm.scope.attributes, stats)
                for metric in sm.metrics:
                    kind = metric.WhichOneof("data")
                    if kind is not None:
                        for point in getattr(metric, kind).data_points:
                            attrs(point.attributes, stats)
        return stats

    # ------------------------------------------------------------------------------------------ rules

    def _ignore(self, key: str) -> bool:
        return key in self.ignored or any(p.search(key) for p in self.ignored_patterns)

    def _remove(self, key: str) -> bool:
        return not self.allow_all and key not in self.allowed

    def _mask_key(self, key: str) -> bool:
        return any(p.search(key) for p in self.blocked_keys)

    def _allow(self, text: str) -> bool:
        return any(p.search(text) for p in self.allowed_values)

    def _attrs(self, attrs: Any, stats: Stats) -> None:
        if not attrs:
            return
        redacted: list[str] = []
        masked: list[str] = []
        allowed: list[str] = []
        ignored: list[str] = []
        for kv in attrs:
            key = kv.key
            if self._ignore(key):
                ignored.append(key)
                continue
            if self._remove(key):
                redacted.append(key)
                continue
            value = kv.value
            kind = value.WhichOneof("value")
            if kind == "string_value":
                text = value.string_value
            else:
                text = as_string(value) if self.all_types else ""
            if self._allow(text):
                allowed.append(key)
                continue
            if self._mask_key(key):
                masked.append(key)
                value.string_value = self._mask_whole(text, stats)
                continue
            out = self._blocked_values(text, stats)
            if out != text:
                masked.append(key)
                value.string_value = out
        if redacted:
            gone = set(redacted)
            for index in range(len(attrs) - 1, -1, -1):
                if attrs[index].key in gone:
                    del attrs[index]
        self._summary(attrs, redacted, _REDACTED_KEYS, _REDACTED_COUNT)
        self._summary(attrs, masked, _MASKED_KEYS, _MASKED_COUNT)
        self._summary(attrs, allowed, _ALLOWED_KEYS, _ALLOWED_COUNT)
        self._summary(attrs, ignored, "", _IGNORED_COUNT)

    def _body(self, record: Any, stats: Stats) -> None:
        redacted: list[str] = []
        masked: list[str] = []
        allowed: list[str] = []
        ignored: list[str] = []
        body = record.body
        kind = body.WhichOneof("value")
        if kind == "kvlist_value":
            self._map(body.kvlist_value.values, None, redacted, masked, allowed, ignored, stats)
        elif kind == "array_value":
            for i, item in enumerate(body.array_value.values):
                self._nested(f"[{i}]", item, redacted, masked, allowed, ignored, stats)
        else:
            text = as_string(body)
            if self._allow(text):
                return  # otelcol returns before its summary here (contrib issue 50417)
            out = self._blocked_values(text, stats)
            if out != text:
                masked.append("body")
                body.string_value = out
        attrs = record.attributes
        self._summary(attrs, redacted, _BODY_REDACTED_KEYS, _BODY_REDACTED_COUNT)
        self._summary(attrs, masked, _BODY_MASKED_KEYS, _BODY_MASKED_COUNT)
        self._summary(attrs, allowed, _BODY_ALLOWED_KEYS, _BODY_ALLOWED_COUNT)
        self._summary(attrs, ignored, "", _BODY_IGNORED_COUNT)

    def _map(self, entries: Any, path: str | None, redacted: list[str], masked: list[str], allowed: list[str], ignored: list[str], stats: Stats) -> None:
        """One map of a log body (`path` None: the body itself, whose keys are their own paths)."""
        removed: list[str] = []
        for kv in entries:
            key = kv.key
            where = key if path is None else f"{path}.{key}"
            if self._ignore(key):
                ignored.append(where)
                continue
            if self._remove(key):
                removed.append(key)
                continue
            if self._mask_key(key):
                masked.append(where)
                value = kv.value
                text = value.string_value if value.WhichOneof("value") == "string_value" else ""
                value.string_value = self._mask_whole(text, stats)
                continue
            self._nested(where, kv.value, redacted, masked, allowed, ignored, stats)
        if removed:
            gone = set(removed)
            for index in range(len(entries) - 1, -1, -1):
                if entries[index].key in gone:
                    del entries[index]
            redacted.extend(key if path is None else f"{path}.{key}" for key in removed)

    def _nested(self, path: str, value: Any, redacted: list[str], masked: list[str], allowed: list[str], ignored: list[str], stats: Stats) -> None:
        kind = value.WhichOneof("value")
        if kind == "kvlist_value":
            self._map(value.kvlist_value.values, path, redacted, masked, allowed, ignored, stats)
        elif kind == "array_value":
            for i, item in enumerate(value.array_value.values):
                self._nested(f"{path}.[{i}]", item, redacted, masked, allowed, ignored, stats)
        else:
            text = as_string(value)
            if self._allow(text):
                allowed.append(path)
                return
            out = self._blocked_values(text, stats)
            if out != text:
                masked.append(path)
                value.string_value = out

    # ------------------------------------------------------------------------------------------ values

    def _mask_whole(self, text: str, stats: Stats) -> str:
        stats.matches[BLOCKED_KEY] = stats.matches.get(BLOCKED_KEY, 0) + 1
        digest = self.digest
        return replace_all(self._everything, text, digest if digest is not None else _mask)

    def _blocked_values(self, text: str, stats: Stats) -> str:
        if not self.blocked:
            return text
        stats.values += 1
        stats.characters += len(text)
        digest = self.digest
        for blocked in self.blocked:
            if blocked.pattern.search(text) is None:
                continue
            found = [0]
            replacement, validator = blocked.replacement, blocked.validator

            def replace(match: str, replacement: str = replacement, validator: Any = validator, found: list[int] = found) -> str:
                if validator is not None and not validator(match):
                    return match
                found[0] += 1
                return digest(match) if digest is not None else replacement

            text = replace_all(blocked.pattern, text, replace)
            if found[0]:
                stats.matches[blocked.name] = stats.matches.get(blocked.name, 0) + found[0]
        return text

    def _summary(self, attrs: Any, keys: list[str], keys_name: str, count_name: str) -> None:
        """otelcol's addMetaAttrs: the sorted key list merged with one already there (debug), and the count
        added to one already there (debug and info)."""
        if not keys:
            return
        if self.debug and keys_name:
            existing = _get(attrs, keys_name)
            listed = list(keys)
            if existing is not None and existing.value.string_value:
                listed.extend(existing.value.string_value.split(","))
            listed.sort()
            _put(attrs, keys_name).string_value = ",".join(listed)
        if self.counts:
            existing = _get(attrs, count_name)
            count = len(keys) + (existing.value.int_value if existing is not None else 0)
            _put(attrs, count_name).int_value = count


def _mask(match: str) -> str:
    return MASK


def _hasher(function: str | None, key: str | None) -> Callable[[str], str] | None:
    """otelcol's maskValue: the hex digest of each match, or None for `****`."""
    if function is None:
        return None
    if function in _HMACS:
        secret, digest = (key or "").encode(), _HMACS[function]
        return lambda text: hmac.new(secret, text.encode(), digest).hexdigest()
    unkeyed = _DIGESTS[function]
    return lambda text: unkeyed(text.encode()).hexdigest()


def replace_all(pattern: Any, text: str, replace: Callable[[str], str]) -> str:
    """Go's `Regexp.ReplaceAllStringFunc`: every leftmost match from left to right, always advancing, and no
    replacement for an empty match right after another match (so `.*` turns `abc` into one `****`, where
    Python's `sub` makes two)."""
    out: list[str] = []
    last_end = 0
    pos = 0
    size = len(text)
    while pos <= size:
        m = pattern.search(text, pos)
        if m is None:
            break
        start, end = m.span()
        out.append(text[last_end:start])
        if end > last_end or start == 0:
            out.append(replace(text[start:end]))
        last_end = end
        pos = pos + 1 if pos + 1 > end else end
    out.append(text[last_end:])
    return "".join(out)


def _get(attrs: Any, key: str) -> Any:
    for kv in attrs:
        if kv.key == key:
            return kv
    return None


def _put(attrs: Any, key: str) -> Any:
    """The value of `key` (the first one, as pdata's Put* finds it), added at the end if missing."""
    kv = _get(attrs, key)
    if kv is None:
        kv = attrs.add()
        kv.key = key
    return kv.value


# ---------------------------------------------------------------------------------- values as text


def as_string(value: Any) -> str:
    """pdata's `Value.AsString()`: a value as otelcol reads it for `redact_all_types` and in log bodies."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return str(value.string_value)
    if kind == "int_value":
        return str(value.int_value)
    if kind == "double_value":
        return _float_text(value.double_value)
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    if kind == "array_value" or kind == "kvlist_value":
        return _json(_raw(value))
    return ""


def _raw(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind == "kvlist_value":
        return {kv.key: _raw(kv.value) for kv in value.kvlist_value.values}
    if kind == "array_value":
        return [_raw(item) for item in value.array_value.values]
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    if kind is None:
        return None
    return getattr(value, kind)


def _float_text(f: float) -> str:
    """Go's float formatting for pdata (as ES6 does it): shortest digits, `1e+21` and `1e-7` past the
    plain-notation range, `100` for 100.0."""
    if math.isinf(f) or math.isnan(f):
        return f"json: unsupported value: {'NaN' if math.isnan(f) else ('+Inf' if f > 0 else '-Inf')}"
    return _shortest(f)


def _shortest(f: float) -> str:
    if f == 0:
        return "-0" if math.copysign(1.0, f) < 0 else "0"
    d = Decimal(repr(f)).normalize()
    if 1e-6 <= abs(f) < 1e21:
        return format(d, "f")
    sign, digits, exponent = d.as_tuple()
    text = "".join(map(str, digits))
    power = len(digits) - 1 + int(exponent)
    mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
    # Go writes at least two exponent digits, then trims `e-07` to `e-7` (but keeps `e+21`).
    return f"{'-' if sign else ''}{mantissa}e{'-' if power < 0 else '+'}{abs(power) if power < 0 else format(power, '02d')}"


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f",
            "<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _json_string(text: str) -> str:
    out = ['"']
    for c in text:
        escaped = _ESCAPES.get(c)
        if escaped is not None:
            out.append(escaped)
        elif c < " ":
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def _json(obj: Any) -> str:
    """Go's `encoding/json` for a raw pdata value: map keys sorted, HTML characters escaped."""
    if obj is None:
        return "null"
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if isinstance(obj, int):
        return str(obj)
    if isinstance(obj, float):
        return _shortest(obj) if not (math.isinf(obj) or math.isnan(obj)) else "null"
    if isinstance(obj, str):
        return _json_string(obj)
    if isinstance(obj, list):
        return "[" + ",".join(_json(item) for item in obj) + "]"
    return "{" + ",".join(f"{_json_string(k)}:{_json(obj[k])}" for k in sorted(obj)) + "}"
