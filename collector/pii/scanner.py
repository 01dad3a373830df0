"""The PII/secret scanner the redaction processor calls once per request with every string it collected.

``scan_many`` is the hot path. It skips strings too short to hold any pattern, joins the rest with a NUL
separator into one UTF-8 buffer and runs ONE prefilter pass over it (an RE2 alternation, or a Hyperscan
database), maps every prefilter hit back to each value it overlaps, and only then runs the exact patterns and
checksum validators -- and only those detectors whose prefilter matched that value.

Correctness rests on one invariant (see ``detectors``): every exact match contains a prefilter match, and an
exact match never leaves its value. So a value with a real finding always gets a prefilter hit that overlaps
it: Hyperscan reports every match end; with RE2's leftmost-first scan a hit that started in an earlier value
and ran into this one still overlaps it, and is counted for it.

The exact pass is cheap where it can be: a text repeated in the batch is scanned once; a detector with
several patterns (phone has twelve) runs only those whose own prefilter matched; and in a long value a
detector whose longest match is bounded (or, for e-mail, made of a known set of characters) looks only at
windows around its own prefilter hits (see ``rules._windows`` for why that finds exactly what a whole-value
scan finds). Short values that need the same pattern are scanned in one ``finditer`` over them joined by NULs
(``_exact_joined``), which a NUL cannot make match differently. ``wire_hits`` runs the same prefilters over a
serialized OTLP request, for the processor's request-level skip; values found that way are ``marked`` and go
straight to the per-detector set, without the joined prefilter pass.

How each detector's exact pass runs (its windows, its joined pass) is in ``rules``; this module holds
the prefilter engines and decides which values each detector's exact pass sees. Where the C extension is
built, the built-ins it can run take their exact pass there instead, value by value, with the same findings
(``compiled``; it resolves overlaps itself where every rule of the value ran in C); Python's pass is the
reference, and takes a value back where the C matcher gives up on it.

Fail closed: if an exact pattern, an acceptor or a validator raises on a value, the whole value becomes one
finding with ``error=True`` so the caller masks it instead of passing it through.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import re2
from re2 import _re2

from collector.pii.compiled import NativeExact
from collector.pii.detectors import BUILTIN, DETECTORS, DetectorInfo
from collector.pii.rules import (
    JOIN,
    UNANCHORED,
    WINDOW_MIN_LEN,
    Finding,
    Rule,
    _resolve,
    builtin_rule,
    custom_finder,
    joined_matches,
    match_span,
    windowed,
)
from collector.pii.validators import VALIDATORS
from collector.wire import native

if TYPE_CHECKING:
    import hyperscan

__all__ = ["DETECTORS", "ENGINES", "CustomPattern", "DetectorInfo", "Finding", "Scanner", "available_engines"]

ENGINES = ("re2", "hyperscan")

_SEP = "\x00"
# Anchors mean "start/end of the value" to the user but "start/end of the batch" to a joined-buffer
# prefilter, so rules that use them skip the prefilter and always get the exact pass.
_ANCHOR_HINT = re.compile(r"\^|\$|\\A|\\z|\\Z")


@dataclass(frozen=True)
class CustomPattern:
    name: str
    regex: str
    validator: str | None = None


def available_engines() -> tuple[str, ...]:
    try:
        import hyperscan  # noqa: F401
    except ImportError:
        return ("re2",)
    return ENGINES


def _without_word_boundaries(pattern: str) -> str:
    """Drop ``\\b``/``\\B``: next to a length prefix on the wire a value's edge is no longer a word boundary.
    Removing an assertion only widens what matches, which is all a prefilter may do."""
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        c = pattern[i]
        if c == "\\":
            if not in_class and pattern[i + 1 : i + 2] in ("b", "B"):
                i += 2
                continue
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "^":
                out.append("[^")
                i += 2
                if pattern[i : i + 1] == "]":
                    out.append("]")
                    i += 1
                continue
            if pattern[i + 1 : i + 2] == "]":
                out.append("[]")
                i += 2
                continue
        out.append(c)
        i += 1
    return "".join(out)


class Scanner:
    """Finds PII and secrets in strings. Build once per config; ``scan_many`` is thread-compatible for re2."""

    def __init__(self, detectors: Iterable[str], custom: Sequence[CustomPattern] = (), engine: str = "re2"):
        wanted = list(dict.fromkeys(detectors))
        unknown = [d for d in wanted if d not in BUILTIN]
        if unknown:
            raise ValueError(f"unknown detector {unknown[0]!r}; known detectors: {', '.join(DETECTORS)}")
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}; expected one of: {', '.join(ENGINES)}")
        if engine not in available_engines():
            raise ValueError("engine 'hyperscan' needs the hyperscan package, which is not installed: pip install llm-collector[hyperscan]")
        self.engine = engine

        # Priority order: custom rules first (the user asked for them explicitly), then built-ins in
        # BUILTIN's order (secrets before PII, checksum-validated before loose shapes).
        rules: list[Rule] = []
        seen: set[str] = set()
        for pattern in custom:
            rules.append(self._custom_rule(pattern, seen))
        enabled = set(wanted)
        for name in BUILTIN:
            if name in enabled:
                rules.append(builtin_rule(name))
        self._rules = rules
        self._min_len = min((r.min_len for r in rules), default=1 << 62)
        self._always = [k for k, r in enumerate(rules) if r.anchored]
        self._filtered = [k for k, r in enumerate(rules) if not r.anchored]
        # The built-ins' exact pass in C where it is built (collector.pii.compiled); the others' in Python.
        builtins = [(k, r.name, r.min_len) for k, r in enumerate(rules) if k >= len(custom)]
        self._native = NativeExact(builtins) if native.pii_compile is not None and builtins else None
        # The prefilters, one engine's (hyperscan's database, or RE2's alternation and set), and the
        # request-level one; each None until compiled.
        self._hs_db: hyperscan.Database | None = None
        self._re2_alt: _re2.RE2 | None = None
        self._re2_set: _re2.Set | None = None
        self._wire: _re2.RE2 | None = None
        if self._filtered:
            self._compile_wire(has_custom=bool(custom))
            if engine == "hyperscan":
                self._compile_hyperscan()
            else:
                self._compile_re2()

    @staticmethod
    def _custom_rule(pattern: CustomPattern, seen: set[str]) -> Rule:
        if not pattern.name:
            raise ValueError("custom pattern needs a name")
        if pattern.name in seen:
            raise ValueError(f"custom pattern {pattern.name!r} is defined twice")
        seen.add(pattern.name)
        try:
            rx = re2.compile(pattern.regex)
        except re2.error as exc:
            raise ValueError(f"custom pattern {pattern.name!r}: invalid RE2 regex {pattern.regex!r}: {exc}") from None
        if rx.search("") is not None:
            raise ValueError(f"custom pattern {pattern.name!r}: regex {pattern.regex!r} matches the empty string")
        validator = None
        if pattern.validator is not None:
            validator = VALIDATORS.get(pattern.validator)
            if validator is None:
                raise ValueError(
                    f"custom pattern {pattern.name!r}: unknown validator {pattern.validator!r}; "
                    f"expected one of: {', '.join(VALIDATORS)}"
                )
        anchored = _ANCHOR_HINT.search(pattern.regex) is not None
        return Rule(pattern.name, pattern.regex, anchored, 1, custom_finder(rx, validator))

    # ------------------------------------------------------------------------------------- prefilters

    def _compile_re2(self) -> None:
        options = re2.Options()
        options.never_capture = True
        options.log_errors = False
        alternation = "|".join(f"(?:{self._rules[k].prefilter})" for k in self._filtered)
        alt = _re2.RE2(alternation.encode(), options)
        if not alt.ok():
            raise ValueError(f"prefilter does not compile: {alt.error()}")
        prefilter_set = _re2.Set(UNANCHORED, options)
        for k in self._filtered:
            if prefilter_set.Add(self._rules[k].prefilter.encode()) < 0:
                raise ValueError(f"detector {self._rules[k].name!r}: prefilter does not compile")
        if not prefilter_set.Compile():
            raise ValueError("prefilter set does not compile")
        self._re2_alt, self._re2_set = alt, prefilter_set

    def _compile_wire(self, has_custom: bool) -> None:
        # Every value the walk scans is verbatim in the serialized request except JSON text, whose escapes
        # decode into characters: \uXXXX can become anything, \t and \/ are the only other escapes whose
        # decoded character a built-in prefilter match can contain (bearer/basic/phone-keyword tabs, CNPJ and
        # DE-phone slashes). A custom regex may contain any character, so then every escape counts.
        escapes = r"\\(?:u[0-9a-fA-F]{4}|[\"\\/bfnrt])" if has_custom else r"\\(?:u[0-9a-fA-F]{4}|[t/])"
        prefilters = [self._rules[k].prefilter for k in self._filtered]
        if any("\\Q" in p for p in prefilters):
            return  # inside \Q...\E a "\b" is literal text, so removing word boundaries is not safe
        parts = [_without_word_boundaries(p) for p in prefilters]
        options = re2.Options()
        options.never_capture = True
        options.log_errors = False
        wire = _re2.RE2("|".join(f"(?:{p})" for p in [*parts, escapes]).encode(), options)
        if not wire.ok():
            raise ValueError(f"request-level prefilter does not compile: {wire.error()}")
        self._wire = wire

    @property
    def scans_wire(self) -> bool:
        """Whether ``wire_hits`` may stand in for scanning every value: rules with anchors must see each value."""
        return self._wire is not None and not self._always

    def wire_hits(self, buf: bytes) -> tuple[list[int], list[int]]:
        """Prefilter hits over a serialized OTLP request, as sorted, disjoint (starts, ends) byte offsets.

        A value whose own scan would find something has a hit overlapping its bytes (the argument of the
        module doc, with the request's other bytes in place of the separators); a hit in an id or a length
        prefix only costs a walk of the item it lands in."""
        hits = self.wire_hits_upto(buf, None)
        assert hits is not None  # no limit
        return hits

    @property
    def has_wire_prefilter(self) -> bool:
        """Whether ``wire_hits`` can run (it cannot where a rule's pattern has ``\\Q``, or every rule is anchored)."""
        return self._wire is not None

    def wire_hits_upto(self, buf: bytes, limit: int | None) -> tuple[list[int], list[int]] | None:
        """``wire_hits``, or None as soon as there are more than ``limit`` hits."""
        assert self._wire is not None, "wire_hits without a wire prefilter"
        match = self._wire.Match
        starts: list[int] = []
        ends: list[int] = []
        n = len(buf)
        pos = 0
        while pos < n:
            ms, me = match(UNANCHORED, buf, pos, n)[0]
            if ms < 0:
                break
            if limit is not None and len(starts) == limit:
                return None
            starts.append(ms)
            ends.append(me)
            pos = me if me > ms else ms + 1
        return starts, ends

    def _compile_hyperscan(self) -> None:
        import hyperscan

        exprs, ids, flags = [], [], []
        for k in self._filtered:
            rule = self._rules[k]
            exprs.append(rule.prefilter.encode())
            ids.append(k)
            flag = hyperscan.HS_FLAG_UTF8
            # Custom RE2 regexes may use constructs Hyperscan cannot match exactly; prefilter mode
            # compiles a superset of the pattern, which is all a prefilter has to be.
            if rule.name not in BUILTIN:
                flag |= hyperscan.HS_FLAG_PREFILTER
            flags.append(flag)
        db = hyperscan.Database()
        try:
            db.compile(expressions=exprs, ids=ids, elements=len(exprs), flags=flags)
        except hyperscan.error as exc:
            raise ValueError(f"prefilter does not compile for hyperscan: {exc}") from None
        self._hs_db = db

    # ------------------------------------------------------------------------------------------- scan

    def scan(self, text: str) -> list[Finding]:
        return self.scan_many((text,))[0]

    def scan_many(self, texts: Sequence[str], marked: bool = False) -> list[list[Finding]]:
        """``marked``: the caller found these texts where a prefilter hit (``wire_hits``), so nearly every one
        holds a match and the joined pass would only find that again; each goes straight to the set of
        per-detector prefilters that picks its exact patterns. The result is the same either way."""
        results: list[list[Finding]] = [[] for _ in texts]
        min_len = self._min_len
        # The same text is often in several places of one request (a prompt in the agent span, the LLM
        # span's messages and the retriever's query): scanned once, its findings shared.
        first: dict[str, int] = {}
        repeats: list[tuple[int, int]] = []
        cand = []
        for i, t in enumerate(texts):
            if len(t) >= min_len:
                seen = first.setdefault(t, i)
                if seen == i:
                    cand.append(i)
                else:
                    repeats.append((i, seen))
        if not cand:
            return results
        # value index -> rule indexes to run exactly (None: every rule).
        todo: dict[int, Iterable[int] | None] = {}
        if self._filtered:
            try:
                if marked and self._re2_set is not None:
                    self._prefilter_each([texts[i] for i in cand], cand, todo)
                else:
                    self._prefilter([texts[i] for i in cand], cand, todo)
            except Exception:  # noqa: BLE001 - a broken prefilter must not let a value through unscanned
                todo = dict.fromkeys(cand)
        if self._always:
            for i in cand:
                if i not in todo:
                    todo[i] = self._always
                elif (ks := todo[i]) is not None:
                    todo[i] = sorted({*ks, *self._always})
        rules, exact = self._rules, self._native
        joined: dict[int, list[int]] = {}  # rule index -> values it scans in one joined pass
        found: dict[int, list[tuple[int, int, int]]] = {}  # value -> the C pass's spans, resolved with the others
        for i, ks in todo.items():
            text = texts[i]
            ks = range(len(rules)) if ks is None else sorted(ks)
            spans = None
            if exact is not None:
                mask, rest = exact.split(ks)
                # None: the C pass gave up on this value, and Python's runs every rule.
                if mask and (native_pass := exact.spans(text, mask, not rest)) is not None:
                    resolved, spans = native_pass
                    if resolved:  # every rule ran in C
                        results[i] = spans
                        continue
                    ks = rest
            if len(text) >= WINDOW_MIN_LEN:
                results[i] = self._exact(text, ks, spans)  # long values: windows around the hits instead
                continue
            if spans:
                found[i] = spans
            alone = [k for k in ks if rules[k].batch is None]
            if alone:
                results[i] = self._exact(text, alone)
                if results[i] and results[i][0].error:
                    continue
            for k in ks:
                if rules[k].batch is not None and len(text) >= rules[k].min_len:
                    joined.setdefault(k, []).append(i)
        if joined or found:
            self._exact_joined(texts, joined, results, found)
        for i, seen in repeats:
            results[i] = results[seen]
        return results

    def _prefilter(self, parts: list[str], cand: list[int], todo: dict) -> None:
        joined = _SEP.join(parts)
        try:
            buf = joined.encode("utf-8")
        except UnicodeEncodeError:
            # Lone surrogates: not valid UTF-8, so the engines can't see them; such values get every rule.
            clean_parts, clean_cand = [], []
            for p, i in zip(parts, cand, strict=True):
                try:
                    p.encode("utf-8")
                except UnicodeEncodeError:
                    todo[i] = None
                    continue
                clean_parts.append(p)
                clean_cand.append(i)
            if clean_parts:
                self._prefilter(clean_parts, clean_cand, todo)
            return
        starts: list[int] = []
        ends: list[int] = []
        pos = 0
        if len(buf) == len(joined):
            for p in parts:
                starts.append(pos)
                pos += len(p)
                ends.append(pos)
                pos += 1
        else:
            for p in parts:
                starts.append(pos)
                pos += len(p) if p.isascii() else len(p.encode("utf-8"))
                ends.append(pos)
                pos += 1
        if self._hs_db is not None:
            self._prefilter_hyperscan(self._hs_db, buf, starts, ends, cand, todo)
        else:
            self._prefilter_re2(buf, parts, starts, ends, cand, todo)

    def _prefilter_re2(self, buf: bytes, parts, starts, ends, cand, todo) -> None:
        alt, prefilter_set = self._re2_alt, self._re2_set
        assert alt is not None and prefilter_set is not None  # the engine is re2, so _compile_re2 ran
        n = len(buf)
        last = len(starts) - 1
        marked: list[int] = []
        pos = 0
        while pos < n:
            ms, me = alt.Match(UNANCHORED, buf, pos, n)[0]
            if ms < 0:
                break
            k = bisect_right(starts, ms) - 1
            if k < 0 or ms >= ends[k]:
                k += 1  # the hit starts in a separator
            first = k
            while k <= last and starts[k] < me:
                k += 1
            if k > first:
                marked.extend(range(first, k))
                pos = starts[k] if k <= last else n  # the rest of a marked value cannot matter any more
                pos = max(pos, me)
            else:
                pos = me if me > ms else ms + 1
        if not marked:
            return
        filtered = self._filtered
        match_set = prefilter_set.Match
        for k in marked:
            hit = match_set(buf[starts[k] : ends[k]])
            if hit:
                todo[cand[k]] = [filtered[h] for h in hit]

    def _prefilter_each(self, parts: list[str], cand: list[int], todo: dict) -> None:
        filtered = self._filtered
        assert self._re2_set is not None  # the caller checked
        match_set = self._re2_set.Match
        for p, i in zip(parts, cand, strict=True):
            try:
                raw = p.encode("utf-8")
            except UnicodeEncodeError:
                todo[i] = None  # lone surrogates: no engine can see them, so every rule runs
                continue
            hit = match_set(raw)
            if hit:
                todo[i] = [filtered[h] for h in hit]

    def _prefilter_hyperscan(self, db: hyperscan.Database, buf: bytes, starts, ends, cand, todo) -> None:
        hits: set[tuple[int, int]] = set()
        add = hits.add

        def on_match(rule: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
            # Every match end is reported, so a value's own prefilter match always ends inside it;
            # a match ending in a separator is only a partial view of the next one.
            add((to, rule))

        db.scan(buf, match_event_handler=on_match)
        per_value: dict[int, set[int]] = {}
        for to, rule in hits:
            k = bisect_right(starts, to - 1) - 1
            if k >= 0 and to <= ends[k]:
                per_value.setdefault(k, set()).add(rule)
        for k, rules in per_value.items():
            todo[cand[k]] = rules

    # ------------------------------------------------------------------------------------------ exact

    def _exact_joined(self, texts: Sequence[str], joined: dict[int, list[int]], results: list[list[Finding]], found: dict) -> None:
        """The exact pass of each joinable rule over all the values that need it at once: joined with NULs
        (see ``rules._NOT_JOINABLE``), one ``finditer`` per pattern, matches mapped back by offset. Same
        findings as ``_exact`` value by value, without its per-value, per-rule call overhead. Adds to ``results``
        (what rules that cannot be joined already found) and to ``found`` (value -> the C pass's spans), and
        resolves overlaps the way ``_exact`` does."""
        rules = self._rules
        failed: dict[int, int] = {}  # value -> first rule (by priority) whose acceptor raised
        for k in sorted(joined):
            values = joined[k]
            branches, accept, group = rules[k].batch
            if len(branches) == 1:
                groups = [(0, values)]
            elif rules[k].branches is None:
                groups = [(b, values) for b in range(len(branches))]
            else:
                # Only the branches whose own prefilter matched a value run over it (phone has twelve).
                by_branch: dict[int, list[int]] = {}
                select = rules[k].branches.Match
                for i in values:
                    for b in select(texts[i].encode("utf-8", "surrogatepass")):
                        by_branch.setdefault(b, []).append(i)
                groups = sorted(by_branch.items())
            candidates: dict[int, list[tuple[int, int, Any, int]]] = {}
            for b, members in groups:
                offsets = []
                pos = 0
                for i in members:
                    offsets.append(pos)
                    pos += len(texts[i]) + 1
                last = len(members) - 1
                j = 0
                for m in joined_matches(rules[k], branches[b], JOIN.join([texts[i] for i in members])):
                    start = m.start()
                    while j < last and offsets[j + 1] <= start:
                        j += 1
                    candidates.setdefault(members[j], []).append((start - offsets[j], b, m, offsets[j]))
            multi = len(groups) > 1
            for i, cands in candidates.items():
                if i in failed:
                    continue
                if multi:
                    # Merge the branches the way one alternation would scan (as _builtin_finder does):
                    # leftmost first, the earlier branch on a tie.
                    # Offsets differ per branch (each joins its own values): compare them within the value.
                    cands.sort(key=lambda c: (c[0], c[1]))
                    merged, last_end = [], 0
                    for c in cands:
                        if c[0] >= last_end:
                            merged.append(c)
                            last_end = max(c[2].end() - c[3], c[0] + 1)
                    cands = merged
                spans = found.setdefault(i, [])
                for _start, _, m, base in cands:
                    try:
                        span = match_span(m, group, accept)
                    except Exception:  # noqa: BLE001 - fail closed: the caller masks the whole value
                        failed[i] = k
                        break
                    if span is not None:
                        spans.append((k, span[0] - base, span[1] - base))
        for i, k in failed.items():
            results[i] = [Finding(0, len(texts[i]), rules[k].name, error=True)]
        for i, spans in found.items():
            if i in failed or not spans:
                continue
            if results[i]:
                if results[i][0].error:
                    continue
                index = {r.name: k for k, r in enumerate(rules)}
                spans = spans + [(index[f.detector], f.start, f.end) for f in results[i]]
            results[i] = _resolve(spans, rules)

    def _exact(self, text: str, rule_indexes: Iterable[int], extra: list[tuple[int, int, int]] | None = None) -> list[Finding]:
        """The rules' findings in one value, resolved with ``extra`` (the C pass's spans of other rules)."""
        found: list[tuple[int, int, int]] = list(extra) if extra else []
        rules = self._rules
        n = len(text)
        raw: bytes | None = None
        for k in rule_indexes:
            rule = rules[k]
            if n < rule.min_len:
                continue
            try:
                spans = None
                only = None
                if rule.branches is not None:
                    if raw is None:
                        raw = text.encode("utf-8", "surrogatepass")
                    only = sorted(rule.branches.Match(raw))
                    if not only:
                        continue
                if rule.locate is not None and n >= WINDOW_MIN_LEN:
                    if raw is None:
                        raw = text.encode("utf-8", "surrogatepass")
                    spans = windowed(rule, text, raw, only)
                if spans is None:
                    spans = rule.find(text, 0, None, only)
            except Exception:  # noqa: BLE001 - fail closed: the caller masks the whole value
                return [Finding(0, n, rule.name, error=True)]
            for s, e in spans:  # type: ignore[union-attr]
                found.append((k, s, e))
        if not found:
            return []
        return _resolve(found, rules)

