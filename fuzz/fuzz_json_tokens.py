"""`json_tokens`, the lexer of the redaction walk's JSON values in C, against
collector.wire.json_lexer.json_tokens.

Input (_harness.frame): the hits (_harness.hits_of) and the text. Redaction only lexes text that parses as
a JSON object or array; there both must give the same tokens. On any other text C must still answer with
sorted tokens inside the text, of the three kinds.
"""

from __future__ import annotations

import orjson

from collector.wire import json_lexer, native
from fuzz import _harness

KINDS = (json_lexer.T_STRING, json_lexer.T_KEY, json_lexer.T_NUMBER)


def encode(hits: list[tuple[int, int]], text: bytes) -> bytes:
    return _harness.frame(_harness.hits_bytes(hits), text)


def is_document(raw: bytes) -> bool:
    try:
        return type(orjson.loads(raw)) in (dict, list)
    except orjson.JSONDecodeError:
        return False


def test_one_input(data: bytes) -> None:
    hit_bytes, raw = _harness.unframe(data, 2)
    hits = _harness.hits_of(hit_bytes, len(raw))
    assert native.json_tokens is not None
    tokens = native.json_tokens(_harness.exact(raw), hits)
    assert tokens == sorted(tokens), tokens
    assert all(0 <= start < end <= len(raw) and kind in KINDS for start, end, kind in tokens), tokens
    if is_document(raw):
        assert tokens == json_lexer.json_tokens(raw, hits)


if __name__ == "__main__":
    _harness.main(test_one_input, [json_lexer])
