"""`locate`, the redaction gate's walk in C, against collector.wire.locate.locate (with span_marks).

Input (_harness.frame): the layout (its first byte: traces, logs or metrics), the prefilter's hits
(_harness.hits_of) and the serialized request. C may refuse bytes Python accepts (an over-long varint) but
never the other way round, and where both answer, the answers are equal: what
tests/test_redaction_native.py asserts on its own damaged requests.
"""

from __future__ import annotations

from collector.wire import locate, native
from fuzz import _harness

LAYOUTS = (locate.TRACES, locate.LOGS, locate.METRICS)


def encode(layout: int, hits: list[tuple[int, int]], payload: bytes) -> bytes:
    return _harness.frame(bytes([layout]), _harness.hits_bytes(hits), payload)


def test_one_input(data: bytes) -> None:
    which, hit_bytes, payload = _harness.unframe(data, 3)
    layout = LAYOUTS[which[0] % len(LAYOUTS)] if which else LAYOUTS[0]
    hits = _harness.hits_of(hit_bytes, len(payload))
    starts, ends = [s for s, _ in hits], [e for _, e in hits]
    try:
        python = locate.locate(payload, 0, len(payload), layout, starts, ends)
    except (ValueError, IndexError):
        python = None
    assert native.locate is not None
    try:
        c = native.locate(_harness.exact(payload), 0, len(payload), layout, starts, ends, locate.span_marks)
    except ValueError:
        return
    assert python is not None, "C accepted bytes the Python walk refuses"
    assert c == python, (c, python)


if __name__ == "__main__":
    _harness.main(test_one_input, [locate])
