"""The built-in detectors' exact pass in C (collector/wire/_pii.c), and what it is handed: each detector's
exact patterns as Python's own parser reads them, its reported group and its acceptor.

Python's ``re`` is the reference (``rules``, ``detectors``); the C pass gives the same spans, which
tests/pii/test_pii_native.py checks on the labelled corpus and on random text. Where the C module is not
built (collector/wire/native.py), or for a detector it cannot run (``private_key``'s multi-line ``.*?``,
``ipv6``'s and ``basic_auth``'s acceptors, which need ``ipaddress`` and ``base64``; custom rules), the
scanner runs Python's pass. A value on which the C matcher exceeds its step budget is handed back (None)
and scanned in Python too.

The pattern tree is handed over as nested tuples (see ``_pii.c``'s ``build_node``):
``(0, negate, (lo, hi, ...), categories)`` a set of characters, ``(1, min, max, greedy, sequence)`` a
repeat (max -1: unbounded), ``(2, group, sequence)`` a capturing group, ``(3, (sequence, ...))`` an
alternation, ``(4, direction, negate, width, sequence)`` a look-ahead (1) or look-behind (-1).
"""

from __future__ import annotations

import functools
import re
import re._constants as sre  # type: ignore[import-not-found]  # typeshed lacks the private modules
import re._parser as sre_parse  # type: ignore[import-not-found]
from collections.abc import Sequence
from typing import Any

from collector.pii import detectors
from collector.pii.rules import Finding
from collector.pii.validators import IBAN_LENGTHS
from collector.wire import native

__all__ = ["NativeExact"]

# The acceptor each detector's C pass runs (_pii.c's ACC_*); a detector whose acceptor is not here stays in Python.
_ACCEPTORS: dict[str, int] = {
    "card": 1, "phone": 2, "cpf": 3, "cnpj": 4, "us_ssn": 5, "iban": 6, "ipv4": 7, "bearer_token": 8,
    "jwt": 0, "anthropic_key": 0, "openai_key": 0, "github_token": 0, "aws_access_key": 0, "google_api_key": 0,
    "slack_token": 0, "stripe_key": 0, "huggingface_token": 0, "email": 0,
}  # fmt: skip
_CAT_WORD, _CAT_NOT_WORD, _CAT_DIGIT, _CAT_NOT_DIGIT, _CAT_SPACE, _CAT_NOT_SPACE = 1, 2, 4, 8, 16, 32
_MAX_GROUPS = 4  # _pii.c's MAX_GROUPS
_SET, _REPEAT, _GROUP, _BRANCH, _ASSERT = range(5)
_MAXCODE = 0x10FFFF
_ASCII, _IGNORECASE, _DOTALL = int(re.ASCII), int(re.IGNORECASE), int(re.DOTALL)  # ints: RegexFlag's & is slow
_ASCII_CATEGORIES = {
    sre.CATEGORY_WORD: ((48, 57), (65, 90), (95, 95), (97, 122)),
    sre.CATEGORY_DIGIT: ((48, 57),),
    sre.CATEGORY_SPACE: ((9, 13), (32, 32)),
}
_UNICODE_CATEGORIES = {
    sre.CATEGORY_WORD: _CAT_WORD, sre.CATEGORY_NOT_WORD: _CAT_NOT_WORD, sre.CATEGORY_DIGIT: _CAT_DIGIT,
    sre.CATEGORY_NOT_DIGIT: _CAT_NOT_DIGIT, sre.CATEGORY_SPACE: _CAT_SPACE, sre.CATEGORY_NOT_SPACE: _CAT_NOT_SPACE,
}  # fmt: skip
_NOT = {sre.CATEGORY_NOT_WORD: sre.CATEGORY_WORD, sre.CATEGORY_NOT_DIGIT: sre.CATEGORY_DIGIT, sre.CATEGORY_NOT_SPACE: sre.CATEGORY_SPACE}


class Unsupported(ValueError):
    """A construct the C matcher does not run (the detector stays on Python's pass)."""


def _complement(ranges: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    out, low = [], 0
    for lo, hi in sorted(ranges):
        if lo > low:
            out.append((low, lo - 1))
        low = max(low, hi + 1)
    if low <= _MAXCODE:
        out.append((low, _MAXCODE))
    return out


def _case_folded(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """ASCII-only case folding (sre's under re.ASCII): each ASCII letter in a range brings its other case."""
    extra = []
    for lo, hi in ranges:
        for c in range(max(lo, 65), min(hi, 122) + 1):
            ch = chr(c)
            if ch.isalpha():
                other = ord(ch.swapcase())
                extra.append((other, other))
    return ranges + extra


def _set(items: Sequence[tuple[Any, Any]], flags: int) -> tuple:
    negate, ranges, cats = False, [], 0
    ascii_mode = bool(flags & _ASCII)
    for op, av in items:
        if op is sre.NEGATE:
            negate = True
        elif op is sre.LITERAL:
            ranges.append((av, av))
        elif op is sre.RANGE:
            ranges.append(av)
        elif op is sre.CATEGORY:
            if ascii_mode:
                positive = _NOT.get(av, av)
                if positive not in _ASCII_CATEGORIES:
                    raise Unsupported(f"category {av}")
                part = list(_ASCII_CATEGORIES[positive])
                ranges.extend(_complement(part) if av in _NOT else part)
            elif av in _UNICODE_CATEGORIES:
                cats |= _UNICODE_CATEGORIES[av]
            else:
                raise Unsupported(f"category {av}")
        else:
            raise Unsupported(f"set item {op}")
    if flags & _IGNORECASE:
        if not ascii_mode:
            raise Unsupported("case-insensitive outside ASCII mode")
        ranges = _case_folded(ranges)
    flat: list[int] = [bound for pair in ranges for bound in pair]
    return (_SET, negate, tuple(flat), cats)


def _seq(parsed: Any, flags: int) -> tuple:
    out: list[tuple] = []
    for op, av in parsed:
        if op is sre.LITERAL:
            out.append(_set([(sre.LITERAL, av)], flags))
        elif op is sre.NOT_LITERAL:
            node = _set([(sre.LITERAL, av)], flags)
            out.append((_SET, True, node[2], node[3]))
        elif op is sre.IN:
            out.append(_set(av, flags))
        elif op is sre.ANY:
            out.append((_SET, True, () if flags & _DOTALL else (10, 10), 0))
        elif op is sre.MAX_REPEAT or op is sre.MIN_REPEAT:
            low, high, body = av
            out.append((_REPEAT, low, -1 if high is sre.MAXREPEAT else high, op is sre.MAX_REPEAT, _seq(body, flags)))
        elif op is sre.SUBPATTERN:
            group, add, remove, body = av
            inner = _seq(body, (flags | int(add)) & ~int(remove))
            if group is None:
                out.extend(inner)
            elif group >= _MAX_GROUPS:
                raise Unsupported("too many groups")
            else:
                out.append((_GROUP, group, inner))
        elif op is sre.BRANCH:
            out.append((_BRANCH, tuple(_seq(alt, flags) for alt in av[1])))
        elif op is sre.ASSERT or op is sre.ASSERT_NOT:
            direction, body = av
            low, high = body.getwidth()
            if direction < 0 and low != high:
                raise Unsupported("variable-width look-behind")
            out.append((_ASSERT, direction, op is sre.ASSERT_NOT, low, _seq(body, flags)))
        else:
            raise Unsupported(f"operator {op}")
    if not out:
        raise Unsupported("empty sequence")
    return tuple(out)


def _first(seq: tuple) -> tuple | None:
    """Sets one of which holds the first character of every match of ``seq`` (None: any character may start one)."""
    for i, node in enumerate(seq):
        kind = node[0]
        if kind == _ASSERT:
            continue  # consumes nothing: the next node's first character is the match's
        if kind == _SET:
            return (node,)
        if kind == _REPEAT:
            inner = _first(node[4])
            if inner is None or node[1] >= 1:
                return inner
            after = _first(seq[i + 1 :])  # the repeat may be skipped
            return None if after is None else inner + after
        if kind == _GROUP:
            return _first(node[2])
        if kind == _BRANCH:
            found: list[tuple] = []
            for alt in node[1]:
                first = _first(alt)
                if first is None:
                    return None
                found.extend(first)
            return tuple(found)
        return None
    return None


def _ascii_members(node: tuple) -> set[int]:
    """The ASCII characters a set node holds."""
    _, negate, flat, cats = node
    if cats:
        raise Unsupported("categories")
    inside = {c for lo, hi in zip(flat[::2], flat[1::2], strict=True) for c in range(lo, min(hi, 127) + 1)}
    return set(range(128)) - inside if negate else inside


def _rejected_before(seq: tuple) -> set[int]:
    """ASCII characters that, right before a start, rule a match out. A built-in starts with its first
    characters and then look-behinds ``(?<![glue]first)`` that fail exactly when the character before them is
    glue (the first characters are ones ``first`` holds already), possibly in each alternative of an
    alternation after them (Python's parser moves a common first character out of the alternatives). The C
    pass skips those starts without trying them."""
    lead = 0
    while lead < len(seq) and seq[lead][0] == _SET:
        lead += 1
    try:
        if lead == 0 or any(node[1] or any(hi > 127 for hi in node[2][1::2]) for node in seq[:lead]):
            return set()
        return _glue([_ascii_members(node) for node in seq[:lead]], seq[lead:])
    except Unsupported:
        return set()


def _glue(starts: list[set[int]], rest: tuple) -> set[int]:
    out: set[int] = set()
    for node in rest:
        if node[0] == _BRANCH:
            return out | set.intersection(*(_glue(starts, alt) for alt in node[1]))
        if node[0] != _ASSERT:
            break
        _, direction, negate, width, body = node
        lead = len(starts)
        if direction < 0 and negate and width == lead + 1 and len(body) == lead + 1 and all(b[0] == _SET for b in body):
            if all(start <= _ascii_members(b) for start, b in zip(starts, body[1:], strict=True)):
                out |= _ascii_members(body[0])
    return out


def _rule(k: int, name: str, min_len: int) -> tuple | None:
    """The C program's entry for built-in ``name`` as the scanner's rule ``k``; None where it stays in Python."""
    branches = _branches(name)
    return None if branches is None else (k, name, min_len, _ACCEPTORS[name], name == "email", branches)


@functools.cache
def _branches(name: str) -> tuple | None:
    """Each exact pattern of built-in ``name`` as the C matcher takes it (parsed once a process)."""
    if name not in _ACCEPTORS:
        return None
    det = detectors.BUILTIN[name]
    branches = []
    try:
        for rx in det.exact:
            flags = int(rx.flags)
            seq = _seq(sre_parse.parse(rx.pattern, flags), flags)
            group = det.group
            index = rx.groupindex.get(group, -1) if isinstance(group, str) else -1
            second = _first(seq[1:]) if seq[0][0] == _SET else None
            branches.append((seq, _first(seq), index, tuple(sorted(_rejected_before(seq))), second))
    except Unsupported:
        return None
    return tuple(branches)


class NativeExact:
    """The C exact pass for the scanner's built-in rules that it can run, by the scanner's rule index."""

    def __init__(self, names: Sequence[tuple[int, str, int]]):
        """``names``: (rule index, built-in name, min length) of each built-in rule of the scanner."""
        entries: list[tuple] = []
        self.bit: dict[int, int] = {}  # rule index -> its bit in the masks `scan` takes
        for k, name, min_len in names:
            entry = _rule(k, name, min_len)
            if entry is not None and len(entries) < 64:
                self.bit[k] = 1 << len(entries)
                entries.append(entry)
        compile_program = native.pii_compile
        assert compile_program is not None  # the caller checked
        self.program = compile_program(tuple(entries), IBAN_LENGTHS, Finding) if entries else None
        self.all = sum(self.bit.values())

    def split(self, ks: Sequence[int]) -> tuple[int, list[int]]:
        """The mask of the rules in ``ks`` that run in C, and the others."""
        bit = self.bit
        mask, rest = 0, []
        for k in ks:
            b = bit.get(k)
            if b is None:
                rest.append(k)
            else:
                mask |= b
        return mask, rest

    def spans(self, text: str, mask: int, resolve: bool) -> tuple[bool, list[Any]] | None:
        """The masked rules' findings in ``text``: (True, [Finding, ...]) as ``rules._resolve`` gives them when
        ``resolve`` is set and the C pass could resolve them, else (False, [(rule index, start, end), ...]);
        None: the C pass gave up on this value (its step budget), so Python's must scan it."""
        scan = native.pii_scan
        if scan is None or self.program is None:
            return None
        return scan(self.program, text, mask, resolve)
