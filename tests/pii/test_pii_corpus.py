"""Scanner-level recall and look-alike survival on the generated, labelled Faker corpus (tests/pii_corpus.py).

Recall: after masking every finding, the labelled PII substring no longer occurs in the text.
Survival: the labelled look-alike substring still occurs in the masked text.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable

import pytest

from collector.pii import DETECTORS, Scanner, available_engines
from tests.pii_corpus import generate

CORPUS_SIZE = 3000


def mask(text: str, findings) -> str:
    out, last = [], 0
    for f in findings:
        out.append(text[last : f.start])
        out.append(DETECTORS[f.detector].placeholder if f.detector in DETECTORS else "****")
        last = f.end
    out.append(text[last:])
    return "".join(out)


def score(items, masked_texts) -> tuple[Counter, Counter, Counter, Counter, list[str]]:
    pii_total, pii_hit, look_total, look_kept = Counter(), Counter(), Counter(), Counter()
    misses = []
    for item, masked in zip(items, masked_texts, strict=True):
        for det, value in item.pii:
            pii_total[det] += 1
            if value not in masked:
                pii_hit[det] += 1
            else:
                misses.append(f"MISSED {det} {value!r} in {item.locale}: {masked[:300]!r}")
        for kind, value in item.lookalikes:
            look_total[kind] += 1
            if value in masked:
                look_kept[kind] += 1
            else:
                misses.append(f"DESTROYED {kind} {value!r}: {masked[:300]!r}")
    return pii_total, pii_hit, look_total, look_kept, misses


def report(title: str, pii_total, pii_hit, look_total, look_kept) -> tuple[float, float]:
    recall = sum(pii_hit.values()) / sum(pii_total.values())
    survival = sum(look_kept.values()) / sum(look_total.values())
    print(f"\n{title}: recall {recall:.4%}  look-alike survival {survival:.4%}")
    for det in sorted(pii_total):
        print(f"  recall   {det:<16} {pii_hit[det]:>5}/{pii_total[det]:<5} {pii_hit[det] / pii_total[det]:.2%}")
    for kind in sorted(look_total):
        print(f"  survival {kind:<16} {look_kept[kind]:>5}/{look_total[kind]:<5} {look_kept[kind] / look_total[kind]:.2%}")
    return recall, survival


@pytest.fixture(scope="module")
def corpus():
    return generate(CORPUS_SIZE)


@pytest.fixture(scope="module")
def scanned(corpus) -> Callable[[str], list]:
    """engine -> the findings of a fresh Scanner of that engine on every corpus text, made once per engine
    (~0.5 s each) for the recall test and the agreement test."""

    @functools.cache
    def findings(engine: str) -> list:
        return Scanner(DETECTORS, engine=engine).scan_many([item.text for item in corpus])

    return findings


def test_corpus_is_deterministic_and_covers_every_locale_and_detector(corpus) -> None:
    assert generate(50) == generate(50)
    assert {item.locale for item in corpus} == {"pt_BR", "en_US", "de_DE", "fr_FR"}
    labelled = {det for item in corpus for det, _ in item.pii}
    assert labelled >= set(DETECTORS) - {"huggingface_token"}
    assert all(value in item.text for item in corpus for _, value in item.pii + item.lookalikes)


@pytest.mark.parametrize("engine", available_engines())
def test_scanner_recall_and_survival(corpus, scanned, engine: str) -> None:
    texts = [item.text for item in corpus]
    results = scanned(engine)
    masked = [mask(t, fs) for t, fs in zip(texts, results, strict=True)]
    pii_total, pii_hit, look_total, look_kept, misses = score(corpus, masked)
    recall, survival = report(f"scanner/{engine} on {len(corpus)} prompts", pii_total, pii_hit, look_total, look_kept)
    for line in misses[:40]:
        print(line)
    assert recall >= 0.995
    assert survival >= 0.99
    # No detector may be broken wholesale behind a good average.
    assert all(pii_hit[d] / pii_total[d] >= 0.97 for d in pii_total)


@pytest.mark.skipif(len(available_engines()) < 2, reason="hyperscan not installed")
def test_engines_agree_on_the_corpus(scanned) -> None:
    assert scanned("re2") == scanned("hyperscan")
