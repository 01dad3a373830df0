"""PII scanner engines on realistic LLM prompt text: MB/s and µs per 2 KB value.

    .venv/bin/python benchmarks/pii_engines.py [--values 2000] [--pii-share 0.5] [--repeat 3]

Rows:
- ``python re, exact only``: every detector's exact pattern + validators on every value (no prefilter).
- ``re2 prefilter``, ``hyperscan prefilter``: only the prefilter pass over the joined batch.
- ``re2 + exact``, ``hyperscan + exact``: ``Scanner.scan_many`` end to end (what the processor pays).

Values are ~2 KB prompts: Faker paragraphs in pt_BR/en_US/de_DE/fr_FR, and for ``--pii-share`` of them one
corpus prompt (PII, secrets and look-alikes) spliced in. Numbers are best-of ``--repeat``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from faker import Faker  # noqa: E402

from collector.pii import DETECTORS, Scanner, available_engines  # noqa: E402
from tests.pii_corpus import LOCALES, generate  # noqa: E402


def make_values(count: int, pii_share: float, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    fakers = [Faker(loc) for loc in LOCALES]
    for i, f in enumerate(fakers):
        f.seed_instance(seed + i)
    corpus = generate(max(50, int(count * pii_share) + 1), seed=seed)
    values = []
    for i in range(count):
        fake = fakers[i % len(fakers)]
        text = ""
        while len(text) < 2000:
            text += fake.paragraph(nb_sentences=6) + "\n"
        text = text[:2000]
        if rng.random() < pii_share:
            cut = rng.randrange(0, 1500)
            text = text[:cut] + " " + corpus[i % len(corpus)].text + " " + text[cut:]
            text = text[:2048]
        values.append(text)
    return values


def best_of(repeat: int, fn) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--values", type=int, default=2000)
    ap.add_argument("--pii-share", type=float, default=0.5)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    values = make_values(args.values, args.pii_share)
    mb = sum(len(v.encode()) for v in values) / 1e6
    print(f"{len(values)} values, {mb:.2f} MB, PII in ~{args.pii_share:.0%} of them, {len(DETECTORS)} detectors")

    rows = []
    exact_scanner = Scanner(DETECTORS)
    every_rule = range(len(exact_scanner._rules))
    rows.append(("python re, exact only", best_of(args.repeat, lambda: [exact_scanner._exact(v, every_rule) for v in values])))
    for engine in available_engines():
        sc = Scanner(DETECTORS, engine=engine)
        cand = list(range(len(values)))
        rows.append((f"{engine} prefilter only", best_of(args.repeat, lambda sc=sc, cand=cand: sc._prefilter(values, cand, {}))))
        rows.append((f"{engine} prefilter + exact", best_of(args.repeat, lambda sc=sc: sc.scan_many(values))))
        todo: dict = {}
        sc._prefilter(values, cand, todo)
        print(f"  {engine}: prefilter marked {len(todo)}/{len(values)} values")

    print(f"\n{'engine':<28}{'MB/s':>10}{'µs per 2 KB value':>20}")
    for name, seconds in rows:
        print(f"{name:<28}{mb / seconds:>10.1f}{seconds / len(values) * 1e6:>20.1f}")


if __name__ == "__main__":
    main()
