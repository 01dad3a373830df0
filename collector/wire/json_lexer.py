"""Where the string literals and integers of a JSON text are, under given byte ranges: the lexer behind the
redaction walk's in-place edits of JSON string values (`json_tokens`).

`_walks.c`'s `json_tokens` is the same lexer in C (collector.wire.native); this one is its reference, run
where it is not built, and tests/processors/test_redaction_native.py holds both to the same answers.
"""

from __future__ import annotations

# What `json_tokens` found: a string literal that is a value (or array item), an object key, an integer.
T_STRING, T_KEY, T_NUMBER = range(3)
_BACKSLASH, _COLON = 0x5C, 0x3A
_JSON_BLANK = b" \t\r\n"
_NUMBER_BYTES = frozenset(b"-+.eE0123456789")


def json_tokens(raw: bytes, hits: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """The string literals (quotes included) and integer tokens of valid JSON text `raw` that overlap the
    hits, as sorted (start, end, kind).

    Whether a position is inside a literal is the parity of the unescaped quotes before it, counted at C
    speed: with no `\\"` in the text every quote counts, else every quote preceded by a backslash is escaped
    once each escaped backslash (`\\\\`, paired left to right as a JSON parser reads them) is blanked out."""
    n = len(raw)
    escaped = b'\\"' in raw
    if escaped and b"\\\\" in raw:
        raw = raw.replace(b"\\\\", b"__")  # same length, so offsets still point into the caller's text
    out: dict[int, tuple[int, int, int]] = {}
    done = 0  # everything before this was looked at (hits are sorted)
    counted = quotes = 0  # unescaped quotes in raw[:counted]
    for hit_start, hit_end in hits:
        if hit_end <= done:
            continue  # inside the literal the previous hit was in
        pos = max(hit_start, done)
        while pos < hit_end:
            quotes += raw.count(b'"', counted, pos)
            if escaped:
                # From counted - 1: a `\\"` whose backslash is just before `counted` has its quote after it.
                quotes -= raw.count(b'\\"', counted - 1 if counted else 0, pos)
            counted = pos
            if quotes & 1:
                open_ = raw.rfind(b'"', 0, pos)
                while escaped and open_ > 0 and raw[open_ - 1] == _BACKSLASH:
                    open_ = raw.rfind(b'"', 0, open_)
                close = _next_quote(raw, pos, escaped)
            else:
                close = _next_quote(raw, pos, escaped)  # outside a literal: the next one's opening quote
                if close == pos:
                    open_, close = pos, _next_quote(raw, pos + 1, escaped)
                else:
                    open_ = -1
                    if close < 0:
                        close = n
            if open_ >= 0:
                after = close + 1
                while after < n and raw[after] in _JSON_BLANK:
                    after += 1
                kind = T_KEY if after < n and raw[after] == _COLON else T_STRING
                out[open_] = (open_, close + 1, kind)
                pos = done = close + 1
                continue
            # Outside every literal up to `close`: of what is there redaction's parse path scans only integers
            # of 7 digits or more (`JsonValues._leaves`); a hit on a float, a brace or `true` holds nothing it
            # would scan.
            stop = min(hit_end, close)
            while pos < stop:
                if raw[pos] not in _NUMBER_BYTES:
                    pos += 1
                    continue
                start = pos
                while start > 0 and raw[start - 1] in _NUMBER_BYTES:
                    start -= 1
                end = pos
                while end < n and raw[end] in _NUMBER_BYTES:
                    end += 1
                token = raw[start:end]
                digits = token[1:] if token[:1] == b"-" else token
                if digits.isdigit() and len(digits) >= 7:
                    out[start] = (start, end, T_NUMBER)
                pos = end
            done = pos
    return [out[k] for k in sorted(out)]


def _next_quote(raw: bytes, pos: int, escaped: bool) -> int:
    """The first quote at or after pos that is not escaped (no `\\\\` in raw: a backslash before it escapes it)."""
    quote = raw.find(b'"', pos)
    while escaped and quote > 0 and raw[quote - 1] == _BACKSLASH:
        quote = raw.find(b'"', quote + 1)
    return quote
