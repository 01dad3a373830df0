"""The scanner's cost grows linearly with the number of matches in a value.

The overlap resolution (`scanner._resolve`) and the windows around the hits of a long value (`rules._windows`)
were quadratic in the number of matches; each is compared here with its former algorithm, kept as the
oracle, on random input, and one value's scan time is checked to grow like its size.
"""

from __future__ import annotations

import random
import re
import time
from itertools import pairwise

from collector.pii import Finding, Scanner
from collector.pii.rules import _RUN_LOOKBACK, UNANCHORED, Rule, _windows, builtin_rule
from collector.pii.scanner import _resolve


def quadratic_resolve(found: list[tuple[int, int, int]], rules: list[Rule]) -> list[Finding]:
    """The former `_resolve`: each span compared with every span kept before it."""
    if len(found) == 1:
        k, s, e = found[0]
        return [Finding(s, e, rules[k].name)]
    found.sort(key=lambda f: (f[0], f[1] - f[2], f[1]))
    kept: list[tuple[int, int, int]] = []
    for f in found:
        s, e = f[1], f[2]
        if all(e <= ks or s >= ke for _, ks, ke in kept):
            kept.append(f)
    kept.sort(key=lambda f: f[1])
    return [Finding(s, e, rules[k].name) for k, s, e in kept]


def quadratic_windows(rule: Rule, text: str, raw: bytes) -> list[tuple[int, int]] | None:
    """The former `_windows`: each hit's offsets decoded from the start of the value, the run before it found
    by trying every start in the look-back."""
    locate = rule.locate.Match
    n, size = len(text), len(raw)
    ascii_only = size == n
    reach, run = rule.reach, rule.run
    run_end = re.compile(f"{run[0].pattern[:-1]}*\\Z") if run is not None else None
    out: list[tuple[int, int]] = []
    pos = 0
    while pos < size:
        ms, me = locate(UNANCHORED, raw, pos, size)[0]
        if ms < 0:
            break
        pos = me if me > ms else ms + 1
        if not ascii_only:
            ms, me = len(raw[:ms].decode("utf-8", "surrogatepass")), len(raw[:me].decode("utf-8", "surrogatepass"))
        if run is not None:
            bound = max(0, ms - _RUN_LOOKBACK)
            ws = run_end.search(text, bound, ms).start()  # type: ignore[union-attr]
            if ws == bound and bound > 0:
                return None
            end = run[0].match(text, me)
            we = end.end() if end else me
        else:
            ws, we = ms - reach, me + reach  # type: ignore[operator]
        ws = max(ws, 0)
        if out and ws <= out[-1][1]:
            out[-1] = (out[-1][0], we)
        else:
            out.append((ws, we))
    if len(out) == 1 and out[0][0] == 0 and out[0][1] >= n:
        return None
    return out


RULES = [builtin_rule(name) for name in ("email", "phone", "card", "ipv4")]


def test_resolve_keeps_what_the_quadratic_greedy_keeps() -> None:
    rng = random.Random(23)
    disjoint = overlapping = 0
    for trial in range(4000):
        rules = RULES[: rng.randint(1, len(RULES))]
        width = rng.choice((20, 80, 400))
        spans = []
        if trial % 4 == 0:  # disjoint spans, as one rule finds them: the path that keeps them all
            pos = rng.randint(0, 5)
            for _ in range(rng.randint(2, 40)):
                length = rng.randint(1, 12)
                spans.append((rng.randrange(len(rules)), pos, pos + length))
                pos += length + rng.randint(0, 6)
        else:  # overlapping, repeated and (never produced by a finder, but still resolved alike) empty spans
            for _ in range(rng.randint(2, 60)):
                s = rng.randrange(width)
                spans.append((rng.randrange(len(rules)), s, s + rng.choice((0, 1, 2, 5, 9, 15, 40))))
            if rng.random() < 0.3:
                spans.append(rng.choice(spans))
        rng.shuffle(spans)
        got = _resolve(list(spans), rules)
        assert got == quadratic_resolve(list(spans), rules), spans
        by_start = sorted(spans, key=lambda f: f[1])
        if all(a[1] < b[1] and a[2] <= b[1] for a, b in pairwise(by_start)):
            disjoint += 1
        else:
            overlapping += 1
    assert disjoint > 900 and overlapping > 2500


def test_windows_are_the_quadratic_windows() -> None:
    rng = random.Random(29)
    pieces = ["a@b.co", "usér@exämple.com", "日本@例え.jp", "😀", "é", " ", ", ", "\n", "x" * 40, "@", "a@", "@b",
              "user.name+tag@mail.example.org", "2001:db8::1", "+55 11 98765-4321", "4111 1111 1111 1111",
              "10.0.0.1", "ab" * 150, "a" * 300 + "@b.com"]
    rules = [builtin_rule(name) for name in ("email", "ipv6", "phone", "card", "ipv4")]
    for _ in range(600):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 80)))
        raw = text.encode("utf-8", "surrogatepass")
        for rule in rules:
            if rule.locate is not None:
                assert _windows(rule, text, raw) == quadratic_windows(rule, text, raw), (rule.name, text)


def _seconds(scanner: Scanner, text: str) -> float:
    start = time.perf_counter()
    found = scanner.scan(text)
    elapsed = time.perf_counter() - start
    assert len(found) == text.count("@")
    return elapsed


def test_one_value_with_many_matches_costs_in_proportion_to_its_size() -> None:
    # 8x the matches: ~8x the time if linear, ~64x if quadratic. Interleaved best-of-3, as the host is shared.
    scanner = Scanner(["email", "phone", "card", "ipv4"])
    for word in ("user", "usér"):
        small = " ".join(f"{word}{i}@example.com" for i in range(500))
        large = " ".join(f"{word}{i}@example.com" for i in range(4000))
        best_small = best_large = float("inf")
        for _ in range(3):
            best_small = min(best_small, _seconds(scanner, small))
            best_large = min(best_large, _seconds(scanner, large))
        print(f"{word!r}: 500 e-mails {best_small * 1e3:.1f} ms, 4000 {best_large * 1e3:.1f} ms (x{best_large / best_small:.1f})")
        assert best_large < 24 * best_small
