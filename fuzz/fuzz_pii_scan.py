"""`pii_scan`, the built-in detectors' exact patterns, acceptors and checksum validators in C
(collector/wire/_pii.c), against Python's `re` pass, which stays the reference: the whole scanner's findings
on the fuzzer's text, resolved and not, must be equal.

Input: the text of one attribute value (fuzz/_pii_texts.py: the first byte picks the str's kind).
"""

from __future__ import annotations

from collector.pii import rules
from fuzz import _harness, _pii_texts

WITH_C, PYTHON = _pii_texts.scanners()


def test_one_input(data: bytes) -> None:
    text = _pii_texts.text_of(data)
    expected = PYTHON.scan_many([text])
    assert WITH_C.scan_many([text]) == expected, text
    assert WITH_C.scan_many([text], True) == PYTHON.scan_many([text], True), text


if __name__ == "__main__":
    _harness.main(test_one_input, [rules])
