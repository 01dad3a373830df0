"""Scanner.scan_many: one prefilter pass over the joined batch, mapped back to each value, with str offsets."""

from __future__ import annotations

import random
from itertools import pairwise

import pytest

from collector.pii import DETECTORS, CustomPattern, Finding, Scanner, available_engines
from tests.pii.test_pii_detectors import NEGATIVES, POSITIVES

ENGINES = available_engines()
ALL = list(DETECTORS)


def exact_only(scanner: Scanner, text: str) -> list[Finding]:
    """Every rule's exact pass on the value alone: what the prefilter must never hide."""
    return scanner._exact(text, range(len(scanner._rules)))


@pytest.mark.parametrize("engine", ENGINES)
def test_batch_equals_one_by_one_and_exact_only(engine: str) -> None:
    sc = Scanner(ALL, engine=engine)
    rng = random.Random(7)
    pieces = [t for _, t, _ in POSITIVES] + NEGATIVES + ["", "a", "ção", "日本語のテキスト", "😀" * 5, "x" * 3000]
    texts = []
    for _ in range(400):
        k = rng.randint(1, 3)
        texts.append(" ".join(rng.choice(pieces) for _ in range(k)))
    batch = sc.scan_many(texts)
    assert batch == [sc.scan(t) for t in texts]
    assert batch == [exact_only(sc, t) for t in texts]
    assert sum(map(len, batch)) > 300


@pytest.mark.parametrize("engine", ENGINES)
def test_offsets_are_str_offsets_after_non_ascii(engine: str) -> None:
    sc = Scanner(ALL, engine=engine)
    texts = [
        "Olá, João! Meu CPF é 529.982.247-25 e o e-mail é joão@exemplo.com.br 😀",
        "日本語 4111 1111 1111 1111 🎉 AKIAIOSFODNN7EXAMPLE",
        "ünïcödé" * 50 + " +49 30 901820",
    ]
    out = sc.scan_many(texts)
    got = [[(f.detector, t[f.start : f.end]) for f in fs] for t, fs in zip(texts, out, strict=True)]
    assert got == [
        [("cpf", "529.982.247-25"), ("email", "joão@exemplo.com.br")],
        [("card", "4111 1111 1111 1111"), ("aws_access_key", "AKIAIOSFODNN7EXAMPLE")],
        [("phone", "+49 30 901820")],
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_hit_crossing_a_separator_marks_both_values(engine: str) -> None:
    # The custom rule's prefilter ("Q" then anything up to the LAST "Z") starts in value 0 and runs across
    # the separator into value 2; leftmost-first consumes value 2's own "Q12Z" as part of that hit. Value 2's
    # true match must still be found, and value 0 (no "Z" of its own) must not report anything.
    sc = Scanner([], custom=[CustomPattern("q", r"Q[^!]*Z")], engine=engine)
    texts = ["aaQ", "bb", "cc Q12Z dd"]
    out = sc.scan_many(texts)
    assert out == [[], [], [Finding(3, 7, "q")]]


@pytest.mark.parametrize("engine", ENGINES)
def test_true_match_right_after_a_cross_boundary_hit(engine: str) -> None:
    sc = Scanner(["email"], custom=[CustomPattern("run", r"@@[^#]*")], engine=engine)
    texts = ["x @@tail", "ana@x.com", "plain", "bob@y.org @@"]
    out = sc.scan_many(texts)
    assert [[(f.detector, t[f.start : f.end]) for f in fs] for t, fs in zip(texts, out, strict=True)] == [
        [("run", "@@tail")],
        [("email", "ana@x.com")],
        [],
        [("email", "bob@y.org"), ("run", "@@")],
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_many_values_only_some_hit(engine: str) -> None:
    sc = Scanner(ALL, engine=engine)
    texts = [f"mensagem {i} sem nada de especial, só texto comum." for i in range(2000)]
    for i in range(0, 2000, 97):
        texts[i] = f"mensagem {i}: contato maria{i}@example.com"
    out = sc.scan_many(texts)
    for i, fs in enumerate(out):
        if i % 97 == 0:
            assert [(f.detector, texts[i][f.start : f.end]) for f in fs] == [("email", f"maria{i}@example.com")]
        else:
            assert fs == []


@pytest.mark.parametrize("engine", ENGINES)
def test_short_empty_and_surrogate_values(engine: str) -> None:
    sc = Scanner(ALL, engine=engine)
    assert sc.scan_many([]) == []
    assert sc.scan_many(["", "ab", "x"]) == [[], [], []]
    lone = "\ud800 ana@x.com \udfff"  # not encodable as UTF-8: scanned without the prefilter
    out = sc.scan_many(["ok bob@y.org", lone])
    assert [[lone[f.start : f.end] for f in fs] for fs in out[1:]] == [["ana@x.com"]]
    assert len(out[0]) == 1


def test_results_are_sorted_and_non_overlapping() -> None:
    sc = Scanner(ALL)
    text = "Bearer " + POSITIVES[-10][2] + " mail a@b.co 4111111111111111 +5511987654321 AKIAIOSFODNN7EXAMPLE"
    fs = sc.scan(text)
    assert [f.start for f in fs] == sorted(f.start for f in fs)
    assert all(a.end <= b.start for a, b in pairwise(fs))
    assert len(fs) >= 4


def test_hyperscan_engine_unavailable_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "hyperscan", None)
    with pytest.raises(ValueError, match="hyperscan"):
        Scanner(["email"], engine="hyperscan")


@pytest.mark.parametrize("engine", ENGINES)
def test_windows_and_branch_selection_find_what_the_whole_value_scan_finds(engine: str) -> None:
    # The exact pass looks only around each detector's own prefilter hits (long values) and runs only the
    # pattern branches whose prefilter matched; a scanner with both turned off is the reference.
    sc = Scanner(ALL, engine=engine)
    whole = Scanner(ALL, engine=engine)
    for rule in whole._rules:
        rule.locate = rule.branches = None
    rng = random.Random(11)
    # The IPv6 prefilter hits at "::", 25 characters into the address: the window must reach back to its start.
    pieces = [t for _, t, _ in POSITIVES] + NEGATIVES + ["ção é 日本語 😀", "x" * 300, "1234 " * 30, "a@b " * 20,
                                                      "host 2001:db8:85a3:8d3:1319:8a2e::7348 up"]
    texts = []
    for _ in range(300):
        parts = [rng.choice(pieces) for _ in range(rng.randint(8, 24))]
        texts.append(rng.choice(("", " ", "\n", "; ")).join(parts))
    assert sum(len(t) >= 512 for t in texts) > 150
    got = sc.scan_many(texts)
    assert got == whole.scan_many(texts)
    assert sum(map(len, got)) > 1000


@pytest.mark.parametrize("marked", [False, True])
def test_the_joined_exact_pass_finds_what_each_value_alone_finds(marked: bool) -> None:
    # Short values share one exact pass per pattern, joined by NULs: a value's edge next to a NUL must read
    # like the end of the text, so pieces that would form a match with their neighbour stay apart.
    from tests.pii_corpus import generate

    sc = Scanner(ALL)
    edges = ["4111 1111", "1111 1111 1111", "maria@", "example.com", "+55 11", "98765-4321", "tel", "0232781286",
             "Bearer", "abcdefghijklmnop1234", "192.168.0", ".1", "a@b.co", "529.982.247-25", "x\x00y@z.com\x00"]
    pieces = [item.text for item in generate(200, seed=5)] + [t for _, t, _ in POSITIVES] + NEGATIVES + edges
    rng = random.Random(13)
    for _ in range(40):
        texts = rng.sample(pieces, 50)
        assert sc.scan_many(texts, marked) == [exact_only(sc, t) for t in texts]


def test_the_email_pass_anchored_at_each_at_sign_equals_finditer() -> None:
    from collector.pii.detectors import BUILTIN
    from collector.pii.rules import _email_matches

    pattern = BUILTIN["email"].exact[0]
    rng = random.Random(17)
    alphabet = "ab1_.%+-@é日 ,;:\x00co"
    for _ in range(20000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))
        assert [m.span() for m in _email_matches(pattern, text)] == [m.span() for m in pattern.finditer(text)], text
