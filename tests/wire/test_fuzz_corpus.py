"""The fuzz harnesses (fuzz/) over their committed corpus, in the ordinary test run: every seed and every
input kept for a fixed bug (regression-*) passes each harness's checks against the reference walk, on the
extensions as built. The harnesses run under ASan/UBSan and libFuzzer only in `make fuzz`; this keeps them
and the corpus from rotting between fuzzing runs."""

from __future__ import annotations

import importlib

import pytest

from collector.wire import native
from fuzz import _harness
from fuzz.run import NOT_FUZZED, TARGETS


def test_every_entry_point_of_the_c_walks_has_a_harness() -> None:
    assert sorted([*TARGETS, *NOT_FUZZED]) == sorted(native._NAMES)


def test_every_target_has_seeds() -> None:
    assert sorted(p.name for p in _harness.CORPUS.iterdir()) == sorted(TARGETS)


@pytest.mark.parametrize("target", TARGETS)
def test_the_corpus_passes_its_harness(target: str) -> None:
    harness = importlib.import_module(f"fuzz.fuzz_{target}")
    inputs = sorted((_harness.CORPUS / target).iterdir())
    assert inputs
    for path in inputs:
        harness.test_one_input(path.read_bytes())
