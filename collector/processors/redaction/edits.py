"""The redaction engine's second half: one scan of everything a walk queued, then edits only where
something was found, and otelcol's summary attributes on each map that changed.

The scanner sees the whole batch in one `scan_many` call; a scanner failure fails closed, value by value
(the value becomes `****`). Each finding is checked against allowed_values, then its rule's action
(mask, hash, drop_attribute, partial, otelcol's digest) rewrites the text where it was found; JSON values
are written back once all their edits are in.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from .infrastructure import InfrastructureAttributes
from .json_values import SpliceDoc, rename_keys, spliced
from .scan_batch import (
    A_DIGEST,
    A_DROP,
    A_HASH,
    A_MASK,
    FAIL_CLOSED,
    L_JSONKEY,
    L_LEAF,
    L_NAME,
    L_SCALAR,
    L_SPLICE,
    L_STATUS,
    L_VALUE,
    MASK,
    Batch,
    Changes,
    Loc,
    Rule,
    Stats,
)

# Short texts whose scan found nothing are remembered (Redactor._clean), up to this length and this many.
_CLEAN_LEN = 64
_CLEAN_MAX = 50_000


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
            if len(clean) > _CLEAN_MAX:
                clean.clear()
            clean.update([t for t, found in zip(b.texts, results, strict=True) if not found and len(t) <= _CLEAN_LEN])
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
        elif kind == L_NAME:
            owner.target.name = text
        elif kind == L_STATUS:
            owner.target.message = text

    def _fail(self, b: Batch, mi: int, value: Any, top: Any, key: str, stats: Stats, kind: int = -1) -> None:
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

    def _rewrite(self, text: str, found: list[Any], changes: Changes, key: str, stats: Stats) -> Any:
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
            if allowed_values and covered(allowed_values, text, start, end):
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



def covered(patterns: Sequence[Any], text: str, start: int, end: int) -> bool:
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
