"""The redaction engine's second half: one scan of everything a walk queued, then edits only where
something was found, and otelcol's summary attributes on each map that changed.

The scanner sees the whole batch in one `scan_many` call; a scanner failure fails closed, value by value
(the value becomes `****`). Each finding is checked against allowed_values, then its rule's action
(mask, hash, drop_attribute, partial, otelcol's digest) rewrites the text where it was found; JSON values
are written back once all their edits are in. An attribute key with a finding is renamed to its redacted
text (`#2`, `#3` where that name is taken in its map) or, where the rule drops, its attribute goes; the
summary then names the key as it is now, never as it came.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from ...wire import native
from .infrastructure import InfrastructureAttributes
from .json_values import SpliceDoc, rename_keys, spliced
from .scan_batch import (
    A_DIGEST,
    A_DROP,
    A_HASH,
    A_MASK,
    FAIL_CLOSED,
    L_BYTES,
    L_FIELD,
    L_ITEM,
    L_JSONKEY,
    L_KEY,
    L_LEAF,
    L_SCALAR,
    L_SPLICE,
    L_VALUE,
    MASK,
    Batch,
    Changes,
    Loc,
    Rule,
    Stats,
)

# Short texts whose scan found nothing are remembered (Redactor._clean), up to this length and this many.
CLEAN_LEN = 64
CLEAN_MAX = 50_000


class _Error:
    start = end = 0
    detector = "error"
    error = True


_ERROR = _Error()
_FAILED = object()
_DROP = object()


class Edits:
    """The `Redactor`'s scan-and-edit methods (mixed into it; walk.py). They read the Redactor's settings:"""

    rules: dict[str, Rule]
    # Each rule's placeholder where every rule masks and no allowed_values apply (the rewrite then runs in
    # C, collector/wire/_pii.c), else None.
    masks: dict[str, str] | None
    allowed_values: tuple[Any, ...]
    hasher: Callable[[str], str] | None
    summary: str
    on_error: Callable[[str, BaseException | None], None]
    last_exception: BaseException | None
    _scan_many: Callable[..., list[list[Any]]]
    _scan_one: Callable[[str], list[Any]]
    _clean: set[str]
    # The attributes whose host the IP detectors leave alone (infrastructure.py); set by build_redactor.
    infrastructure: InfrastructureAttributes | None = None

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

    def _finish(self, b: Batch, stats: Stats | None = None) -> Stats:
        stats = stats if stats is not None else Stats()
        if b.texts:
            results = self._scan(b.texts, stats, b.marked)
            self._apply(b, b.texts, b.owners, results, stats)
            clean = self._clean
            if len(clean) > CLEAN_MAX:
                clean.clear()
            clean.update([t for t, found in zip(b.texts, results, strict=True) if not found and len(t) <= CLEAN_LEN])
        for doc in b.docs:
            if doc.failed:
                doc.value.string_value = MASK
            elif type(doc) is SpliceDoc:
                if doc.edits:
                    doc.value.string_value = spliced(doc.raw, doc.edits)
            elif doc.changed or doc.renames:
                rename_keys(doc.renames)
                doc.value.string_value = orjson.dumps(doc.obj).decode()
        if b.changes:
            self._summarise(b)
        return stats

    def _apply(self, b: Batch, texts: list[str], owners: list[Any], results: list[list[Any]], stats: Stats) -> None:
        starts = b.starts
        infrastructure = self.infrastructure
        for i in [i for i, found in enumerate(results) if found]:
            found = results[i]
            owner = owners[i]
            if type(owner) is tuple:  # a JSON leaf or key: (per-document context, node, key)
                context, node, k = owner
                owner = Loc(context.kind, context.mi, context.top, node, context.key, (context.extra, k))
            if type(owner) is KeyValue:
                if infrastructure is not None:
                    found = infrastructure.keep(owner.key, texts[i], found)
                    if not found:
                        continue
                mi = bisect.bisect_right(starts, i) - 1  # queued while its map was the last one started
                top, key, kind = owner, owner.key, -1
            else:
                mi, top, key, kind = owner.mi, owner.top, owner.key, owner.kind
            text = texts[i]
            changes = b.changes_for(mi)
            if kind == L_KEY:
                self._rename(changes, owner, text, found, stats)
                continue
            outcome = self._rewrite(text, found, changes, key, stats)
            if outcome is None:
                continue
            if outcome is _FAILED:
                if kind in (L_LEAF, L_JSONKEY, L_SPLICE):
                    owner.extra[0].failed = True
                    changes.masked[key] = None
                    stats.errors += 1
                    self.on_error(key, self.last_exception)
                    continue
                self._fail(b, mi, owner, kind, key, stats)
                continue
            if outcome is _DROP:
                changes.masked.pop(key, None)
                if top is not None:
                    changes.drop.add(top.key)
                    changes.redacted[top.key] = None
                elif kind == L_FIELD or kind == L_ITEM:  # a message's own field: there is no attribute to drop
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

    def _rename(self, changes: Changes, owner: Loc, text: str, found: list[Any], stats: Stats) -> None:
        """An attribute key with findings: renamed to its redacted text when the map is summarised (so that
        the summary and drop_attribute still see the keys as they came), or its attribute dropped."""
        outcome = self._rewrite(text, found, changes, text, stats)
        if outcome is None:
            return
        if outcome is _DROP:
            changes.shown[text] = self._placeholders(text, found)
            changes.masked.pop(owner.key, None)
            if owner.top is not None:
                changes.drop.add(owner.top.key)
                changes.redacted[owner.top.key] = None
            else:  # a key inside a log body: the body goes
                changes.clear_body = True
                changes.redacted[owner.key] = None
            return
        if outcome is _FAILED:
            stats.errors += 1
            self.on_error("an attribute key", self.last_exception)
            outcome = MASK
        changes.renames.append((owner.extra, owner.target, outcome))
        changes.shown[text] = outcome
        changes.masked[owner.key] = None

    def _placeholders(self, text: str, found: list[Any]) -> str:
        """The text with each finding replaced by its rule's placeholder: how the summary names a key whose
        attribute was dropped."""
        pieces: list[str] = []
        pos = 0
        for f in found:
            if f.error:
                return MASK
            pieces.append(text[pos:f.start])
            pieces.append(self.rules.get(f.detector, FAIL_CLOSED).placeholder)
            pos = f.end
        pieces.append(text[pos:])
        return "".join(pieces)

    def _set(self, kind: int, owner: Loc, text: str) -> None:
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
        elif kind == L_FIELD:
            setattr(owner.target, owner.extra, text)
        elif kind == L_ITEM:
            owner.target[owner.extra] = text
        elif kind == L_BYTES:
            # Scanned as Latin-1, so every byte but the findings' comes back as it was; a placeholder's
            # character beyond Latin-1 becomes `?`.
            owner.target.bytes_value = text.encode("latin-1", "replace")

    def _fail(self, b: Batch, mi: int, owner: Any, kind: int, key: str, stats: Stats) -> None:
        """Fail closed: the whole value becomes `****`, and the error is counted (never the raw value)."""
        stats.errors += 1
        self.on_error(key, self.last_exception)
        if kind == -1:
            owner.value.string_value = MASK
        elif kind == L_FIELD or kind == L_ITEM or kind == L_BYTES:
            self._set(kind, owner, MASK)
        else:
            owner.target.string_value = MASK
        b.changes_for(mi).masked[key] = None

    def _rewrite(self, text: str, found: list[Any], changes: Changes, key: str, stats: Stats) -> Any:
        """The text with its findings replaced; None if every finding was allowed; _DROP or _FAILED."""
        counts = stats.matches
        rewrite = native.pii_rewrite
        if rewrite is not None and self.masks is not None:
            # Every rule masks and no allowed_values: the same rewrite in C, unless a finding is an error.
            done = rewrite(text, found, self.masks)
            if done is not None:
                new, counted = done
                detectors = changes.detectors
                for detector, count in counted.items():
                    counts[detector] = counts.get(detector, 0) + count
                    detectors[detector] = detectors.get(detector, 0) + count
                return new
        pieces: list[str] = []
        pos = 0
        allowed = Allowed(self.allowed_values, text) if self.allowed_values else None
        rules = self.rules
        for f in found:
            if f.error:
                return _FAILED
            start, end = f.start, f.end
            if allowed is not None and allowed.covers(start, end):
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

    def _summarise(self, b: Batch) -> None:
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
            if ch.renames:
                _rename_keys(ch)
            if level == "silent":
                continue
            for name, keys in (("redacted", ch.redacted), ("masked", ch.masked), ("allowed", ch.allowed)):
                if keys:
                    listed = _shown(list(keys), ch.shown) if ch.shown else list(keys)
                    _add_summary(summary_target, f"{prefix}{name}", listed, level == "debug", look)
            if ch.ignored:
                _add_count(summary_target, f"{prefix}ignored.count", ch.ignored, look)
            if level == "debug":
                for detector, count in ch.detectors.items():
                    _add_count(summary_target, f"{prefix}masked.{detector}.count", count, look)



class Allowed:
    """The matches of the allowed_values patterns in one text, for every finding in it: each pattern's
    ``finditer`` runs over the text once, and only as far as the findings asked about so far need, instead
    of from the start of the text for each finding."""

    __slots__ = ("matches", "starts", "ends")

    def __init__(self, patterns: Sequence[Any], text: str):
        self.matches: list[Any] = [pattern.finditer(text) for pattern in patterns]  # None once exhausted
        self.starts: list[list[int]] = [[] for _ in patterns]  # per pattern, the matches read so far
        self.ends: list[list[int]] = [[] for _ in patterns]

    def covers(self, start: int, end: int) -> bool:
        """Whether some match of an allowed_values pattern contains [start, end) of the text."""
        for j, matches in enumerate(self.matches):
            starts, ends = self.starts[j], self.ends[j]
            while matches is not None and (not starts or starts[-1] <= start):
                m = next(matches, None)
                if m is None:
                    self.matches[j] = matches = None
                    break
                s, e = m.span()
                starts.append(s)
                ends.append(e)
            # finditer's matches follow one another, so their ends never decrease: of the matches starting
            # at or before `start`, the last one reaches furthest.
            i = bisect.bisect_right(starts, start) - 1
            if i >= 0 and end <= ends[i]:
                return True
        return False


def _rename_keys(ch: Changes) -> None:
    """Gives each renamed KeyValue its new key, with `#2`, `#3`, ... where another key of its map already has
    it (OTLP keys are unique in a map), and records the final name for the summary."""
    taken: dict[int, set[str]] = {}
    for container, kv, new in ch.renames:
        keys = taken.get(id(container))
        if keys is None:
            keys = taken[id(container)] = {entry.key for entry in container}
        name, n = new, 1
        while name in keys:
            n += 1
            name = f"{new}#{n}"
        keys.add(name)
        ch.shown[kv.key] = name
        kv.key = name


def _shown(keys: list[str], shown: dict[str, str]) -> list[str]:
    """The summary's keys (or body paths, which hold their keys) with every key that had a finding named as it
    now is."""
    out = []
    for key in keys:
        named = shown.get(key)
        if named is None:
            named = key
            for raw, new in shown.items():
                if raw in named:
                    named = named.replace(raw, new)
        out.append(named)
    return list(dict.fromkeys(out))


def covered(patterns: Sequence[Any], text: str, start: int, end: int) -> bool:
    """Whether some match of an allowed_values pattern contains [start, end) of text."""
    return Allowed(patterns, text).covers(start, end)


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
