"""What the two PII harnesses share: the fuzz input as the text of an attribute value, and the scanners with
and without the C exact pass (collector/pii/compiled.py), built once per process."""

from __future__ import annotations

from collector.pii import DETECTORS, Scanner
from collector.wire import native

# The first byte picks the str's kind (CPython stores 1-, 2- and 4-byte strs apart, and the C pass reads each):
# as decoded, or after a character outside Latin-1, or after one outside the BMP.
_PREFIXES = ("", "\u0100 ", "\U0001f600 ")


def text_of(data: bytes) -> str:
    if not data:
        return ""
    return _PREFIXES[data[0] % len(_PREFIXES)] + data[1:].decode("utf-8", "replace")


def encode(kind: int, text: str) -> bytes:
    return bytes([kind]) + text.encode("utf-8")


def scanners() -> tuple[Scanner, Scanner]:
    """(with the C exact pass, Python's only)."""
    with_c = Scanner(list(DETECTORS))
    saved = native.pii_compile
    native.pii_compile = None
    try:
        python = Scanner(list(DETECTORS))
    finally:
        native.pii_compile = saved
    assert with_c._native is not None and python._native is None
    return with_c, python
