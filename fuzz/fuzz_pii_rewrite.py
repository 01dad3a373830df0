"""`pii_rewrite`, the redaction processor's rewrite of a value in C (every rule masks, no allowed_values),
against the same rewrite in Python (processors.redaction.edits, Edits._rewrite): the same text, the same
counts per detector, in the same order.

Input: the text of one attribute value (fuzz/_pii_texts.py); its findings are the scanner's.
"""

from __future__ import annotations

from collector.processors.redaction import Detectors, RedactionConfig, build_redactor
from collector.processors.redaction.scan_batch import Changes, Stats
from collector.wire import native
from fuzz import _harness, _pii_texts

REDACTOR, _ = build_redactor(RedactionConfig(detectors=Detectors(), allow_all_keys=True))
WITH_C, _PYTHON = _pii_texts.scanners()
assert REDACTOR.masks is not None  # every rule masks: the C rewrite applies


def rewritten(text: str, found: list, rewrite: object) -> tuple:
    saved = native.pii_rewrite
    native.pii_rewrite = rewrite  # type: ignore[assignment]
    try:
        changes, stats = Changes(), Stats()
        return REDACTOR._rewrite(text, found, changes, "k", stats), list(changes.detectors.items()), stats.matches
    finally:
        native.pii_rewrite = saved


def test_one_input(data: bytes) -> None:
    text = _pii_texts.text_of(data)
    found = WITH_C.scan(text)
    if not found:
        return
    assert native.pii_rewrite is not None
    assert rewritten(text, found, native.pii_rewrite) == rewritten(text, found, None), text


if __name__ == "__main__":
    _harness.main(test_one_input)
