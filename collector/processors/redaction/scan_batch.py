"""What the redaction engine works with: the rules and key policy a `Redactor` applies, the `Stats` it
returns, and the `Batch` one walk of a request fills (every string to scan, where each came from, and the
attribute maps they belong to).

The walk (walk.py) fills a Batch; the scan-and-edit stage (edits.py) reads it back. A top-level string
attribute is queued as its own KeyValue; every other string has a `Loc` saying what kind of place it is in
(the `L_*` kinds) and how to reach it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

MASK = "****"

# Key decisions (otelcol's order: ignored, then not-allowed (removed), then blocked key pattern, then values).
SCAN, IGNORE, REMOVE, MASK_KEY = 0, 1, 2, 3

# Where a scanned string came from, when it is not a top-level string attribute (those are the KeyValue):
# a string inside an attribute's value, a number scanned as text, a JSON leaf, key or spliced literal, a
# string field of a message (Loc.extra: the field's name), an entry of a repeated string field (extra: its
# index), an attribute key (extra: the repeated KeyValue field it is in), a bytes value (scanned as Latin-1,
# one character a byte, so that what the detectors find in it can be written back byte for byte).
L_VALUE, L_SCALAR, L_LEAF, L_JSONKEY, L_FIELD, L_SPLICE, L_ITEM, L_KEY, L_BYTES = range(9)

# What a rule does with a match.
A_MASK, A_HASH, A_DROP, A_PARTIAL, A_DIGEST = "mask", "hash", "drop_attribute", "partial", "digest"

SUMMARY_PREFIX = "redaction."
BODY_PREFIX = "redaction.body."
# What the summary lists for a finding in a message's own string field (the summary goes on the attributes
# of the span, event, link, scope, resource or log record, and on a metric's metadata).
NAME_KEY = "span.name"
STATUS_KEY = "status.message"
TRACE_STATE_KEY = "span.trace_state"
EVENT_NAME_KEY = "event.name"
LINK_TRACE_STATE_KEY = "link.trace_state"
SCOPE_NAME_KEY = "scope.name"
SCOPE_VERSION_KEY = "scope.version"
SCOPE_SCHEMA_KEY = "scope.schema_url"
RESOURCE_SCHEMA_KEY = "resource.schema_url"
ENTITY_REFS_KEY = "resource.entity_refs"
SEVERITY_TEXT_KEY = "log.severity_text"
LOG_EVENT_NAME_KEY = "log.event_name"
METRIC_NAME_KEY = "metric.name"
METRIC_DESCRIPTION_KEY = "metric.description"
METRIC_UNIT_KEY = "metric.unit"


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


class Loc:
    """Where a scanned string lives, for everything but top-level string attributes (which are the KeyValue)."""

    __slots__ = ("kind", "mi", "top", "target", "key", "extra")

    def __init__(self, kind: int, mi: int, top: Any, target: Any, key: str, extra: Any = None):
        self.kind = kind
        self.mi = mi  # index into the walk's maps
        self.top = top  # the top-level KeyValue holding this value (what drop_attribute removes), or None
        self.target = target
        self.key = key  # the key the summary lists
        self.extra = extra




class Changes:
    """Per attribute map: what the summary will say, which attributes to remove and which keys to rename.
    The summary's lists hold keys as they came; `shown` says what a key with a finding is called instead
    (its new name, or its text masked where the attribute went), so no list names a key's raw PII."""

    __slots__ = ("masked", "redacted", "allowed", "ignored", "detectors", "drop", "clear_body", "renames", "shown")

    def __init__(self) -> None:
        self.masked: dict[str, None] = {}
        self.redacted: dict[str, None] = {}
        self.allowed: dict[str, None] = {}
        self.ignored = 0
        self.detectors: dict[str, int] = {}
        self.drop: set[str] = set()
        self.clear_body = False
        self.renames: list[tuple[Any, Any, str]] = []  # (the repeated KeyValue field, the KeyValue, its new key)
        self.shown: dict[str, str] = {}


class Batch:
    """One request's strings to scan, where each came from, and the attribute maps they belong to."""

    __slots__ = ("texts", "owners", "starts", "maps", "changes", "docs", "summaries", "marked")

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.owners: list[Any] = []
        self.starts: list[int] = []  # index of the first text of each map (top-level KeyValue owners use it)
        # (container, summary container, summary prefix): the container is the repeated KeyValue field
        # (or the log record, for a body), the summary goes onto the summary container's attributes.
        self.maps: list[tuple[Any, Any, str]] = []
        self.changes: dict[int, Changes] = {}
        self.docs: list[Any] = []  # JsonDoc and SpliceDoc (json_values.py)
        self.summaries = True  # False: no redaction.* attribute anywhere in the request yet
        # True: the texts come from items the request-level prefilter hit, so nearly all of them hold a
        # prefilter match and the scanner skips its own joined pass (see Scanner.scan_many).
        self.marked = False

    def map(self, container: Any, summary: Any, prefix: str = SUMMARY_PREFIX) -> int:
        self.starts.append(len(self.texts))
        self.maps.append((container, summary, prefix))
        return len(self.maps) - 1

    def changes_for(self, mi: int) -> Changes:
        found = self.changes.get(mi)
        if found is None:
            found = self.changes[mi] = Changes()
        return found

