"""How the file_log receiver cuts a file's bytes into log entries (stanza's split and trim packages):
at each newline, or with `multiline` at each `line_start_pattern` / after each `line_end_pattern`;
a token longer than `max_log_size` is cut into pieces of that size (contrib's TestTokenizationTooLong);
whitespace around each token is trimmed unless `preserve_leading_whitespaces` /
`preserve_trailing_whitespaces`. The unterminated rest of a file waits for more data and is emitted
after `force_flush_period` without growth."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...config import Invalid, option

# encoding names otelcol accepts -> Python codec; "nop" keeps the bytes
ENCODINGS = {"utf-8": "utf-8", "utf8": "utf-8", "utf-8-raw": "utf-8", "utf-16le": "utf-16-le", "utf-16be": "utf-16-be",
             "ascii": "ascii", "us-ascii": "ascii", "iso-8859-1": "latin-1", "latin1": "latin-1", "big5": "big5",
             "shift-jis": "shift_jis", "shift_jis": "shift_jis", "windows-1252": "cp1252", "nop": ""}


@dataclass
class MultilineConfig:
    line_start_pattern: str = option("", "A regex matching the start of each entry: an entry runs until the next match.")
    line_end_pattern: str = option("", "A regex matching the end of each entry.")
    omit_pattern: bool = option(False, "Leave the matched start or end pattern out of the entry.")

    def validate(self) -> None:
        if bool(self.line_start_pattern) == bool(self.line_end_pattern):
            raise Invalid("exactly one of line_start_pattern and line_end_pattern is required")
        for key in ("line_start_pattern", "line_end_pattern"):
            try:
                re.compile(getattr(self, key))
            except re.error as exc:
                raise Invalid(f"invalid regex: {exc}", key) from None


class Splitter:
    def __init__(self, *, encoding: str, max_log_size: int, multiline: MultilineConfig | None,
                 preserve_leading: bool = False, preserve_trailing: bool = False):
        self.codec = ENCODINGS[encoding.lower()]
        newline = "\n".encode(self.codec) if self.codec else b"\n"
        self.unit = 2 if self.codec.startswith("utf-16") else 1
        self.max = max_log_size if max_log_size > 0 else 1 << 62
        self.start = self.end = None
        self.omit = False
        if multiline is not None:
            self.omit = multiline.omit_pattern
            if multiline.line_start_pattern:
                self.start = self._pattern(multiline.line_start_pattern)
            else:
                self.end = self._pattern(multiline.line_end_pattern)
        self.newline = newline
        self.preserve_leading, self.preserve_trailing = preserve_leading, preserve_trailing

    def _pattern(self, text: str) -> re.Pattern[bytes]:
        return re.compile(text.encode(self.codec or "utf-8"), re.M)

    def split(self, data: bytes, final: bool) -> tuple[list[bytes], int]:
        """The complete tokens at the start of `data` and how many bytes they used; `final`: the rest is
        complete too (force flush)."""
        tokens: list[bytes] = []
        pos = 0
        while pos < len(data):
            found = self._next(data, pos, final)
            if found is None:
                break
            token, pos = found
            tokens.append(self._trim(token))
        return tokens, pos

    def _next(self, data: bytes, pos: int, final: bool) -> tuple[bytes, int] | None:
        if self.start is not None:
            return self._by_start(data, pos, final)
        if self.end is not None:
            m = self.end.search(data, pos)
            while m is not None and m.end() == pos:
                m = self.end.search(data, pos + 1)
            if m is not None and m.end() - pos <= self.max:
                return (data[pos:m.start()] if self.omit else data[pos:m.end()]), m.end()
            return self._too_long_or_final(data, pos, final)
        nl = data.find(self.newline, pos)
        while nl != -1 and (nl - pos) % self.unit:
            nl = data.find(self.newline, nl + 1)
        if nl != -1 and nl - pos <= self.max:
            return data[pos:nl], nl + len(self.newline)
        return self._too_long_or_final(data, pos, final)

    def _by_start(self, data: bytes, pos: int, final: bool) -> tuple[bytes, int] | None:
        assert self.start is not None
        first = self.start.search(data, pos)
        if first is not None and first.start() > pos:  # text before the first start: a token of its own
            if first.start() - pos <= self.max:
                return data[pos:first.start()], first.start()
            return data[pos:pos + self.max], pos + self.max
        if first is None:
            return self._too_long_or_final(data, pos, final)
        second = self.start.search(data, max(first.end(), pos + 1))
        while second is not None and second.start() == first.start():
            second = self.start.search(data, second.start() + 1)
        if second is not None and second.start() - pos <= self.max:
            body_from = first.end() if self.omit else pos
            return data[body_from:second.start()], second.start()
        got = self._too_long_or_final(data, pos, final)
        if got is not None and self.omit and len(got[0]) >= first.end() - pos:
            return got[0][first.end() - pos:], got[1]
        return got

    def _too_long_or_final(self, data: bytes, pos: int, final: bool) -> tuple[bytes, int] | None:
        rest = len(data) - pos
        if rest >= self.max:
            return data[pos:pos + self.max], pos + self.max
        if final and rest > 0:
            return data[pos:], len(data)
        return None

    def _trim(self, token: bytes) -> bytes:
        if self.unit == 2:  # trimmed once decoded (a byte strip could cut a UTF-16 unit)
            return token
        if not self.preserve_leading:
            token = token.lstrip()
        if not self.preserve_trailing:
            token = token.rstrip()
        return token

    def decode(self, token: bytes) -> str | bytes:
        if not self.codec:
            return token
        text = token.decode(self.codec, errors="replace")
        if self.unit == 2:
            text = text if self.preserve_leading else text.lstrip()
            text = text if self.preserve_trailing else text.rstrip()
        return text
