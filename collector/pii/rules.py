"""How the scanner (scanner.py) runs one detector: its prefilter pattern, and its exact pass over a value,
over windows of a long value around the detector's own prefilter hits, or over many short values joined by
NULs in one ``finditer``.

A built-in's rule comes from its entry in ``detectors``; a custom rule (the config's blocked_values) is
one RE2 regex with an optional checksum validator, always scanned over the whole value. The rules' spans
in one value become its ``Finding``s through ``_resolve`` (overlaps go to the higher-priority rule).
"""

from __future__ import annotations

import re
import re._parser as sre_parse  # type: ignore[import-not-found]  # typeshed has only the deprecated sre_parse alias
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from operator import itemgetter
from typing import Any

import re2
from re2 import _re2

from collector.pii.detectors import BUILTIN, strip_lookarounds

UNANCHORED = re2._Anchor.UNANCHORED


@dataclass(frozen=True, slots=True)
class Finding:
    start: int
    end: int
    detector: str
    error: bool = False


class Rule:
    """One detector as the scanner runs it: a prefilter pattern plus an exact pass over a single value.

    ``find(text, pos, endpos)`` scans text[pos:endpos] with the whole text as look-behind context, and
    returns None when a match reaches past ``endpos - _CONTEXT`` (the window cut it: scan the whole value).
    Built-ins whose matches are short enough also have ``locate`` (their own prefilter, to find where in a
    value to look) and ``reach`` (the longest match, so a window around each hit holds every match that
    overlaps it) or ``run`` (the characters a match is made of, for unbounded patterns such as email)."""

    __slots__ = ("name", "prefilter", "anchored", "min_len", "find", "locate", "reach", "run", "branches", "batch")

    def __init__(
        self,
        name: str,
        prefilter: str,
        anchored: bool,
        min_len: int,
        find: Callable[..., list[tuple[int, int]] | None],
        locate: Any = None,
        reach: int | None = None,
        run: Any = None,
        branches: Any = None,
    ):
        self.name = name
        self.prefilter = prefilter
        self.anchored = anchored
        self.min_len = min_len
        self.find = find
        self.locate = locate
        self.reach = reach
        self.run = run
        # For a detector with several exact patterns: an RE2 set of their prefilters, so that only the
        # patterns whose own prefilter matched the value are run (phone has twelve).
        self.branches = branches
        # (exact branches, accept, group) of a built-in that can scan many values joined by NUL in one pass
        # (see Scanner._exact_joined); None for the others, which scan one value at a time.
        self.batch: Any = None


# Built-ins whose exact pattern can match a NUL (private_key's `.*?` runs across lines, and would run from
# one joined value into the next). Every other built-in's classes exclude NUL, and none of their
# look-arounds accept one, so a NUL next to a value reads to them exactly like the value's edge.
_NOT_JOINABLE = frozenset({"private_key"})
JOIN = "\x00"

# Characters after a window that look-aheads may read (the built-ins read at most 2).
_CONTEXT = 16
_UNBOUNDED = 1 << 20
_RUN_LOOKBACK = 256
# Values this short are scanned whole: windows would cover them anyway.
WINDOW_MIN_LEN = 512


def builtin_rule(name: str) -> Rule:
    det = BUILTIN[name]
    reach = max(sre_parse.parse(rx.pattern, rx.flags).getwidth()[1] for rx in det.exact)
    options = re2.Options()
    options.never_capture = True
    options.log_errors = False
    locate = _re2.RE2(det.prefilter.encode(), options)
    # The run of the alphabet's characters from a position on, and the last character before a position
    # that is not in it (greedy, so the match backs off from the position only as far as that character).
    run = (re.compile(f"{det.alphabet}+"), re.compile(f"(?s:.*(?!{det.alphabet}).)")) if det.alphabet else None
    branches = None
    if len(det.exact) > 1:
        branches = _re2.Set(UNANCHORED, options)
        for rx in det.exact:
            if branches.Add(strip_lookarounds(rx.pattern).encode()) < 0:
                raise ValueError(f"detector {name!r}: a branch prefilter does not compile")
        if not branches.Compile():
            raise ValueError(f"detector {name!r}: branch prefilters do not compile")
    if (reach >= _UNBOUNDED and run is None) or not locate.ok():
        rule = Rule(name, det.prefilter, False, det.min_len, _builtin_finder(name), branches=branches)
    else:
        rule = Rule(name, det.prefilter, False, det.min_len, _builtin_finder(name), locate, reach, run, branches)
    if name not in _NOT_JOINABLE:
        rule.batch = (det.exact, det.accept, det.group)
    return rule


def _builtin_finder(name: str) -> Callable[..., list[tuple[int, int]] | None]:
    det = BUILTIN[name]
    branches, accept, group = det.exact, det.accept, det.group
    single = branches[0] if len(branches) == 1 else None

    def matches(text: str, pos: int, endpos: int, only: Sequence[int] | None):
        if single is not None:
            return single.finditer(text, pos, endpos)
        if only is not None and len(only) == 1:
            return branches[only[0]].finditer(text, pos, endpos)
        # Merge the branches the way one alternation would scan: leftmost first, earlier branch on a tie.
        found = sorted(
            (
                (m.start(), b, m)
                for b in (range(len(branches)) if only is None else only)
                for m in branches[b].finditer(text, pos, endpos)
            ),
            key=lambda t: (t[0], t[1]),
        )
        out, last_end = [], 0
        for start, _, m in found:
            if start >= last_end:
                out.append(m)
                last_end = max(m.end(), start + 1)
        return out

    def find(
        text: str, pos: int = 0, endpos: int | None = None, only: Sequence[int] | None = None
    ) -> list[tuple[int, int]] | None:
        """``only``: the branches to run (sorted); a branch whose prefilter has no match cannot match."""
        if endpos is None and (single is not None or (only is not None and len(only) == 1)):
            # The common call, one pattern over a whole value, without the window bookkeeping.
            rx = single if single is not None else branches[only[0]]  # type: ignore[index]
            spans = []
            for m in rx.finditer(text, pos):
                span = match_span(m, group, accept)
                if span is not None:
                    spans.append(span)
            return spans
        n = len(text)
        if endpos is None or endpos >= n:
            endpos, limit = n, n
        else:
            limit = endpos - _CONTEXT
        spans = []
        for m in matches(text, pos, endpos, only):
            if m.end() > limit:
                return None
            span = match_span(m, group, accept)
            if span is not None:
                spans.append(span)
        return spans

    return find


def match_span(m: Any, group: str | int | None, accept: Callable[[str], tuple[int, int] | None] | None) -> tuple[int, int] | None:
    """A detector match's finding as (start, end) in ``m.string``: the detector's named group when it
    took part (else the whole match), narrowed by its acceptor; None when rejected or empty. An
    acceptor's exception propagates (the callers fail closed)."""
    s, e = m.span(group) if group and group in m.re.groupindex else m.span()
    if s < 0:  # the named group is in an alternative that did not take part
        s, e = m.span()
    if accept is not None:
        sub = accept(m.string[s:e])
        if sub is None:
            return None
        s, e = s + sub[0], s + sub[1]
    return (s, e) if e > s else None


def _windows(rule: Rule, text: str, raw: bytes) -> list[tuple[int, int]] | None:
    """Disjoint [start, end) char ranges of text that hold every exact match of the rule, or None for all of it.

    Every exact match overlaps a hit of the rule's own prefilter scanned leftmost-first over the value (it
    contains a prefilter match, and a scan cannot step over that without a hit overlapping the match). So a
    match lies within ``reach`` characters of a hit, or inside the run of its own characters around it. The
    scan of a window then sees exactly what the scan of the whole value sees there: no match crosses a gap
    between windows, look-behinds read the real text before the window, and ``find`` gives up (None) if a
    match runs into the look-ahead context after it."""
    locate = rule.locate.Match
    n, size = len(text), len(raw)
    ascii_only = size == n
    reach, run = rule.reach, rule.run
    out: list[tuple[int, int]] = []
    pos = 0
    byte = char = 0  # a byte offset into raw already mapped to its char offset, so each byte is decoded once
    while pos < size:
        ms, me = locate(UNANCHORED, raw, pos, size)[0]
        if ms < 0:
            break
        pos = me if me > ms else ms + 1
        if not ascii_only:
            char += len(raw[byte:ms].decode("utf-8", "surrogatepass"))
            me_char = char + len(raw[ms:me].decode("utf-8", "surrogatepass"))
            byte, ms, me = ms, char, me_char
        if run is not None:
            bound = max(0, ms - _RUN_LOOKBACK)
            last = run[1].match(text, bound, ms)
            ws = last.end() if last is not None else bound
            if ws == bound and bound > 0:
                return None  # a run this long is no e-mail address worth windowing
            end = run[0].match(text, me)
            we = end.end() if end else me
        else:
            ws, we = ms - reach, me + reach
        ws = max(ws, 0)
        if out and ws <= out[-1][1]:
            out[-1] = (out[-1][0], we)
        else:
            out.append((ws, we))
    if len(out) == 1 and out[0][0] == 0 and out[0][1] >= n:
        return None
    return out


def joined_matches(rule: Rule, rx: Any, text: str) -> Any:
    """rx's matches in text (values joined by NUL), as ``finditer`` would give them."""
    if rule.name == "email":
        return _email_matches(rx, text)
    return rx.finditer(text)


_EMAIL_LOCAL_PUNCTUATION = frozenset("_.%+-")
_ESCAPE_LETTERS = frozenset("nrt")


def _email_matches(rx: Any, text: str) -> list[Any]:
    """The e-mail pattern's ``finditer`` without trying it at every word: each of its matches holds exactly
    one "@" (neither part's class has one) and, by its look-behind, starts where the run of local-part
    characters (``[\\w.%+-]``, Unicode ``\\w`` = ``isalnum`` or ``_``) before that "@" starts (after the
    letter of a ``\\n``/``\\r``/``\\t`` escape that opens the run). So the pattern is tried once per "@",
    anchored there; an "@" whose run starts inside the previous match is one ``finditer`` would have stepped
    over (a start inside a run fails the look-behind)."""
    out = []
    local = _EMAIL_LOCAL_PUNCTUATION
    previous_end = 0
    at = text.find("@")
    while at != -1:
        start = at
        while start > previous_end and (text[start - 1].isalnum() or text[start - 1] in local):
            start -= 1
        if start < at and text[start] in _ESCAPE_LETTERS and start > 0 and text[start - 1] == "\\":
            start += 1  # the letter of a "\\n" / "\\r" / "\\t" escape: the address starts after it
        if start < at and (start > previous_end or start == previous_end == 0 or not _local(text[start - 1])):
            m = rx.match(text, start)
            if m is not None:
                out.append(m)
                previous_end = m.end()
        at = text.find("@", max(at + 1, previous_end))
    return out


def _local(c: str) -> bool:
    return c.isalnum() or c in _EMAIL_LOCAL_PUNCTUATION


def custom_finder(rx: re2._Regexp, validator: Callable[[str], bool] | None) -> Callable:
    def find(text: str, _pos: int = 0, _endpos: int | None = None, _only: Any = None) -> list[tuple[int, int]]:
        # Custom rules are always scanned whole (no windows: their longest match is not known).
        spans = []
        for m in rx.finditer(text):
            s, e = m.span()
            if e > s and (validator is None or validator(text[s:e])):
                spans.append((s, e))
        return spans

    return find



def windowed(rule: Rule, text: str, raw: bytes, only: Any = None) -> list[tuple[int, int]] | None:
    """The rule's exact pass over only the windows around its prefilter hits; None: scan it all."""
    windows = _windows(rule, text, raw)
    if windows is None:
        return None
    spans: list[tuple[int, int]] = []
    find = rule.find
    n = len(text)
    for ws, we in windows:
        found = find(text, ws, we + _CONTEXT if we + _CONTEXT < n else n, only)
        if found is None:
            return None
        spans.extend(found)
    return spans


def _resolve(found: list[tuple[int, int, int]], rules: Sequence[Rule]) -> list[Finding]:
    """(rule index, start, end) spans -> sorted, non-overlapping findings. On an overlap the higher-priority
    rule wins, then the longer span, then the earlier one: greedily in that order, a span is kept unless it
    overlaps one kept before it.

    O(n log n), and no sort calls back into Python (a sort holds the GIL throughout). Spans that overlap
    nowhere, the usual case, are all kept; the spans of one rule come sorted by start, which the sort only
    has to confirm. Otherwise the test against the spans kept so far is a prefix maximum (``_Kept``)."""
    if len(found) == 1:
        k, s, e = found[0]
        return [Finding(s, e, rules[k].name)]
    by_start = sorted(found, key=itemgetter(1))
    if all(a[1] < b[1] and a[2] <= b[1] for a, b in pairwise(by_start)):
        kept = by_start  # pairwise disjoint (starts all differ, so the order is the one the greedy pass gives)
    else:
        add = _Kept(by_start).add_unless_overlapping
        kept = []
        for k, shorter, s in sorted([(k, s - e, s) for k, s, e in found]):  # the priority order
            if add(s, s - shorter):
                kept.append((k, s, s - shorter))
        kept.sort(key=itemgetter(1))  # stable: spans starting together (empty ones) stay in priority order
    return [Finding(s, e, rules[k].name) for k, s, e in kept]


class _Kept:
    """The spans kept so far, as a Fenwick tree over the candidates' distinct starts holding the largest end
    among the kept spans at or below each: [s, e) overlaps a kept [ks, ke) exactly when some ks < e has
    ke > s, so one prefix maximum answers it. Both operations are O(log n)."""

    __slots__ = ("starts", "slot", "tree")

    def __init__(self, by_start: list[tuple[int, int, int]]):
        self.starts = list(dict.fromkeys(f[1] for f in by_start))  # sorted, distinct
        self.slot = {s: i + 1 for i, s in enumerate(self.starts)}
        self.tree = [-1] * (len(self.starts) + 1)  # every end is >= 0, so -1 overlaps nothing

    def add_unless_overlapping(self, s: int, e: int) -> bool:
        tree = self.tree
        i = bisect_left(self.starts, e)  # the kept spans with ks < e sit in slots 1..i
        while i:
            if tree[i] > s:
                return False
            i &= i - 1
        i, size = self.slot[s], len(tree)
        while i < size:
            if tree[i] < e:
                tree[i] = e
            i += i & -i
        return True
