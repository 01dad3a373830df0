"""The built-in detectors' exact pass in C (collector/wire/_pii.c, through collector/pii/compiled.py) gives
exactly what Python's ``re`` pass gives, which stays the reference: detector by detector on the labelled
corpus and on random text built to hit the patterns' edges, through the whole scanner (joined, marked and
windowed paths, every kind of str), and where the C pass gives up on a value (its step budget). The redaction
processor's rewrite in C (``Edits._rewrite`` where every rule masks) gives the same text and counts."""

from __future__ import annotations

import random

import pytest

from collector.pii import DETECTORS, Scanner
from collector.pii.compiled import NativeExact
from collector.processors.redaction import Detectors, RedactionConfig, build_redactor
from collector.processors.redaction.scan_batch import Changes, Stats
from collector.wire import native
from fuzz import _pii_texts
from tests.pii.test_pii_boundaries import SAMPLES
from tests.pii.test_pii_detectors import NEGATIVES, POSITIVES
from tests.pii_corpus import generate

pytestmark = pytest.mark.skipif(native.pii_scan is None, reason="collector/wire/_pii.c is not built")

# Pieces random text is made of: separators, look-behind and look-ahead context, escapes, prefixes of every
# secret, phone words, characters outside ASCII (word and non-word, decimal and not, 2- and 4-byte).
PIECES = [
    "0", "1", "2", "4", "5", "9", " ", "-", ".", "/", "(", ")", "+", ":", "=", "@", "_", "%", "\\", "n", "r", "t",
    "x", "X", "ext", "e", "é", "É", "ü", "ß", "٣", "Ⅻ", "\u0301", "日本", "😀", "a", "A", "Z", "k", "\t", "\n", '"',
    "'", "Bearer ", "Basic ", "tel ", "Tel.: ", "phone=", "celular ", "whatsapp ", "sk-ant-api03-", "sk-proj-",
    "T3BlbkFJ", "ghp_", "github_pat_", "AKIA", "AIza", "xoxb-", "sk_live_", "hf_", "eyJ", ".com", ".co.uk",
    "gmail", "DE89", "BR", "  ", "::", "\x00", "1234", "5678", "4111", "0800", "(11)", "+55", "+1", "...",
]  # fmt: skip


def random_texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    fragments = [item.text for item in generate(200, seed=seed)]
    out = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 40)):
            r = rng.random()
            if r < 0.6:
                parts.append(rng.choice(PIECES))
            elif r < 0.8:
                parts.append("".join(rng.choice("0123456789") for _ in range(rng.randint(1, 20))))
            else:
                fragment = rng.choice(fragments)
                start = rng.randrange(len(fragment))
                parts.append(fragment[start : start + rng.randint(1, 60)])
        out.append("".join(parts))
    return out


def corpus_texts() -> list[str]:
    samples = [s if isinstance(s, str) else s[0] for values in SAMPLES.values() for s in values]
    return [item.text for item in generate(600, seed=3)] + [t for _, t, _ in POSITIVES] + NEGATIVES + samples


@pytest.fixture(scope="module")
def both() -> tuple[Scanner, Scanner]:
    return _pii_texts.scanners()


@pytest.fixture(scope="module")
def scanner(both: tuple[Scanner, Scanner]) -> Scanner:
    return both[0]


@pytest.fixture(scope="module")
def python_scanner(both: tuple[Scanner, Scanner]) -> Scanner:
    return both[1]


def python_spans(scanner: Scanner, text: str, k: int) -> list[tuple[int, int, int]]:
    """Rule k's exact pass over the whole value, in Python's re: the reference."""
    rule = scanner._rules[k]
    if len(text) < rule.min_len:
        return []
    return sorted((k, s, e) for s, e in rule.find(text, 0, None, None))  # type: ignore[union-attr]


def test_every_detector_but_three_runs_in_c(scanner: Scanner) -> None:
    exact = scanner._native
    assert exact is not None
    in_c = {scanner._rules[k].name for k in exact.bit}
    assert set(DETECTORS) - in_c == {"private_key", "ipv6", "basic_auth"}


@pytest.mark.parametrize("source", ["corpus", "random"])
def test_each_detector_finds_what_python_finds(scanner: Scanner, source: str) -> None:
    exact = scanner._native
    assert exact is not None
    texts = corpus_texts() if source == "corpus" else random_texts(6000, seed=5)
    compared = found = 0
    for text in texts:
        for k, bit in exact.bit.items():
            answer = exact.spans(text, bit, False)
            assert answer is not None, text  # none of these runs past the budget
            resolved, spans = answer
            assert not resolved
            assert sorted(spans) == python_spans(scanner, text, k), (scanner._rules[k].name, text)
            compared += 1
            found += len(spans)
    assert compared > 10_000 and found > (1000 if source == "corpus" else 300)


def _kinds(texts: list[str]) -> list[str]:
    """The texts as they are, and as 2- and 4-byte strs (a character outside Latin-1 in front)."""
    return texts + ["\u0100 " + t for t in texts[::3]] + ["\U0001f600 " + t for t in texts[::3]]


@pytest.mark.parametrize("source", ["corpus", "random"])
def test_the_scanner_finds_what_python_finds(scanner: Scanner, python_scanner: Scanner, source: str) -> None:
    texts = corpus_texts() if source == "corpus" else random_texts(3000, seed=11)
    texts = _kinds(texts)
    rng = random.Random(2)
    long = [" ".join(rng.sample(texts, 12)) for _ in range(60)]  # 512+ characters: the windowed path
    found = 0
    for batch in (texts, long, texts[:50] + long[:5]):
        expected = python_scanner.scan_many(batch)
        assert scanner.scan_many(batch) == expected
        assert scanner.scan_many(batch, True) == python_scanner.scan_many(batch, True) == expected
        found += sum(map(len, expected))
    assert found > 1000


def test_a_value_past_the_budget_is_scanned_in_python(scanner: Scanner, python_scanner: Scanner) -> None:
    # The e-mail pattern's (?:\.[\w-]+)* recurses once a label: far past the C pass's depth limit.
    deep = "write to ana@" + "b." * 6000 + "com or call +55 11 98765-4321"
    exact = scanner._native
    assert exact is not None
    assert exact.spans(deep, exact.all, True) is None
    found = scanner.scan(deep)
    assert found == python_scanner.scan(deep)
    assert {f.detector for f in found} == {"email", "phone"}


def test_custom_rules_and_overlaps_resolve_as_in_python(python_scanner: Scanner) -> None:
    from collector.pii import CustomPattern

    custom = [CustomPattern("order", r"ORD-[0-9]+"), CustomPattern("digits", r"[0-9]{4} [0-9]{4}", "luhn")]
    with_c = Scanner(list(DETECTORS), custom)
    saved = native.pii_compile
    native.pii_compile = None
    try:
        without = Scanner(list(DETECTORS), custom)
    finally:
        native.pii_compile = saved
    texts = _kinds(random_texts(1500, seed=17)) + ["ORD-4111 1111 1111 1111 +55 11 98765-4321 5581956210771"]
    assert with_c.scan_many(texts) == without.scan_many(texts)
    assert with_c.scan_many(texts, True) == without.scan_many(texts, True)


def test_the_rewrite_in_c_writes_what_python_writes(scanner: Scanner, python_scanner: Scanner) -> None:
    redactor, _ = build_redactor(RedactionConfig(detectors=Detectors(), allow_all_keys=True))
    assert redactor.masks is not None  # every rule masks: the C rewrite applies
    texts = _kinds(corpus_texts() + random_texts(1500, seed=23))
    results = scanner.scan_many(texts)
    rewritten = 0
    saved = native.pii_rewrite
    for text, found in zip(texts, results, strict=True):
        if not found:
            continue
        outcomes = []
        for switch in (saved, None):
            native.pii_rewrite = switch
            try:
                changes, stats = Changes(), Stats()
                outcomes.append((redactor._rewrite(text, found, changes, "k", stats), changes.detectors, stats.matches))
            finally:
                native.pii_rewrite = saved
        assert outcomes[0] == outcomes[1], text
        assert list(outcomes[0][1]) == list(outcomes[1][1])  # first-found order, as the summary lists them
        rewritten += 1
    assert rewritten > 500


def test_a_program_compiles_only_what_it_can_run() -> None:
    exact = NativeExact([(0, "private_key", 30), (1, "email", 6), (2, "ipv6", 3)])
    assert exact.bit == {1: 1}
    assert exact.split([0, 1, 2]) == (1, [0, 2])
