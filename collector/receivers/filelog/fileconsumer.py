"""The file_log receiver's tailer (stanza's pkg/stanza/fileconsumer): which files match, where each one
was left, and reading what is new.

A file is known by its fingerprint, its first `fingerprint_size` bytes, not by its name: a file renamed
by rotation keeps its fingerprint (and its offset), a file truncated in place (copytruncate) and
rewritten gets a new one and is read from its start. Each poll:
1. the paths matching `include` and not `exclude` are opened and fingerprinted (empty files wait; two
   files with one fingerprint are read once);
2. each is the file of an open reader (its fingerprint is a prefix of the new one), of a reader known
   from an earlier poll or the storage (opened again at its offset), or new: read from its start, or
   from its end on the first poll with `start_at: end` (unless offsets were stored: then from its start);
3. open readers whose file matched no path (it was renamed away or deleted) are read to their end
   through the descriptor they hold, then closed, so the lines written just before a rotation are not
   lost; one whose file no longer starts with its fingerprint (truncated and rewritten) is closed unread;
4. every current file is read to its end, a batch at a time: an offset moves past a batch only once
   it has been delivered (or given up), and the offsets are saved to the storage after the poll.
What is known is forgotten after 3 polls without its file.
"""

from __future__ import annotations

import base64
import glob
import json
import os
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .split import Splitter

KNOWN_FILES_KEY = "knownFiles"
_GENERATIONS = 3


def expand_braces(pattern: str) -> list[str]:
    """doublestar's `{a,b}` alternatives, expanded into plain glob patterns."""
    m = re.search(r"\{([^{}]*)\}", pattern)
    if m is None:
        return [pattern]
    return [p for alt in m.group(1).split(",") for p in expand_braces(pattern[:m.start()] + alt + pattern[m.end():])]


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A doublestar pattern as a regex: `**` crosses directories, `*` and `?` do not, `[...]` classes,
    `{a,b}` alternatives."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif ch == "*":
            out.append("[^/]*")
            i += 1
        elif ch == "?":
            out.append("[^/]")
            i += 1
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(ch))
                i += 1
            else:
                body = pattern[i + 1:end]
                out.append("[" + ("^" + body[1:] if body.startswith(("!", "^")) else body) + "]")
                i = end + 1
        elif ch == "{":
            end = pattern.find("}", i)
            if end == -1:
                out.append(re.escape(ch))
                i += 1
            else:
                out.append("(?:" + "|".join(glob_regex(alt).pattern[1:-1] for alt in pattern[i + 1:end].split(",")) + ")")
                i = end + 1
        else:
            out.append(re.escape(ch))
            i += 1
    return re.compile("^" + "".join(out) + "$")


class Matcher:
    def __init__(self, include: list[str], exclude: list[str]):
        self.include = [p for pattern in include for p in expand_braces(pattern)]
        self.exclude = [glob_regex(p) for p in exclude]

    def paths(self) -> list[str]:
        found: dict[str, None] = {}
        for pattern in self.include:
            for path in sorted(glob.glob(pattern, recursive=True)):
                if path not in found and not any(rx.match(path) for rx in self.exclude) and os.path.isfile(path):
                    found[path] = None
        return list(found)


@dataclass
class Reader:
    fingerprint: bytes
    offset: int
    path: str
    fd: int | None = None
    seen: int = 0  # the poll that last saw its file
    pending: int = -1  # bytes after the last complete token at the last read (-1: none yet)
    pending_since: float = 0.0
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Token:
    text: str | bytes
    attributes: dict[str, Any]


# Emit: delivers a batch of tokens; returns False to have the batch read again at the next poll.
Emit = Callable[[list[Token]], Awaitable[bool]]


class FileConsumer:
    def __init__(self, *, matcher: Matcher, splitter: Splitter, emit: Emit, log: Any, start_at_end: bool, fingerprint_size: int,
                 max_log_size: int, force_flush_period: float, max_concurrent_files: int, file_attributes: Callable[[str], dict[str, Any]]):
        self.matcher, self.splitter, self.emit, self.log = matcher, splitter, emit, log
        self.start_at_end = start_at_end
        self.fingerprint_size = fingerprint_size
        self.chunk = max(max_log_size if max_log_size > 0 else 0, 1 << 16) + (1 << 16)
        self.force_flush_period = force_flush_period
        self.batch_files = max(1, max_concurrent_files // 2)
        self.file_attributes = file_attributes
        self.open: list[Reader] = []
        self.known: list[Reader] = []  # closed readers, from earlier polls or the storage
        self.polls = 0
        self.first_poll = True
        self.no_match_logged = False

    # --- checkpoints -----------------------------------------------------------------------------

    def load(self, raw: bytes | None) -> None:
        if not raw:
            return
        try:
            items = json.loads(raw)
            self.known = [Reader(base64.b64decode(i["fingerprint"]), int(i["offset"]), str(i.get("path", ""))) for i in items]
        except (ValueError, KeyError, TypeError):
            self.log.warning("stored file offsets are unreadable; files are read as if seen for the first time")
            self.known = []
        if self.known and self.start_at_end:  # as contrib's Manager.Start: files new since are read whole
            self.log.info("resuming from stored offsets; start_at does not apply")
            self.start_at_end = False

    def checkpoint(self) -> bytes:
        readers = self.open + self.known
        return json.dumps([{"fingerprint": base64.b64encode(r.fingerprint).decode(), "offset": r.offset, "path": r.path} for r in readers]).encode()

    # --- polling ---------------------------------------------------------------------------------

    async def poll(self) -> None:
        self.polls += 1
        paths = self.matcher.paths()
        if not paths and not self.no_match_logged:
            self.log.warning("no files match the configured criteria", include=self.matcher.include)
            self.no_match_logged = True
        elif paths:
            self.no_match_logged = False
        current: list[Reader] = []
        fingerprints: list[bytes] = []
        batches = [paths[i:i + self.batch_files] for i in range(0, len(paths), self.batch_files)] or [[]]
        for n, batch in enumerate(batches):
            last_batch = n == len(batches) - 1
            found = self._identify(batch, fingerprints)
            if n == 0:
                await self._read_lost(found)
            for reader in found:
                await self._read(reader)
            if last_batch:
                current = found
            else:
                for reader in found:
                    self._close(reader)
        self.open = current
        self.first_poll = False
        self.known = [r for r in self.known if self.polls - r.seen < _GENERATIONS]

    def _identify(self, paths: list[str], fingerprints: list[bytes]) -> list[Reader]:
        found: list[Reader] = []
        for path in paths:
            try:
                fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            except OSError as exc:
                self.log.debug("cannot open file", path=path, error=exc.strerror)
                continue
            try:
                fp = os.pread(fd, self.fingerprint_size, 0)
                size = os.fstat(fd).st_size
            except OSError:
                os.close(fd)
                continue
            if not fp or fp in fingerprints:
                os.close(fd)
                continue
            fingerprints.append(fp)
            reader = next((r for r in self.open if r.fd is not None and fp.startswith(r.fingerprint)), None)
            if reader is not None:
                os.close(fd)
                self.open.remove(reader)
            else:
                reader = next((r for r in self.known if fp.startswith(r.fingerprint)), None)
                if reader is not None:
                    self.known.remove(reader)
                    reader.fd = fd
                else:
                    offset = size if (self.first_poll and self.start_at_end) else 0
                    reader = Reader(fp, offset, path, fd)
                    self.log.info("started watching file", path=path)
            if reader.path != path or not reader.attributes:
                reader.path = path
                reader.attributes = self.file_attributes(path)
            if size < reader.offset:
                self.log.info("file was truncated; reading it from its start", path=path)
                reader.offset, reader.pending = 0, -1
            reader.fingerprint = fp
            reader.seen = self.polls
            found.append(reader)
        return found

    async def _read_lost(self, current: list[Reader]) -> None:
        """Open readers of the last poll whose file matched no path now: read to their end, closed."""
        for reader in self.open:
            if reader in current or reader.fd is None:
                continue
            try:
                still = os.pread(reader.fd, len(reader.fingerprint), 0) == reader.fingerprint
            except OSError:
                still = False
            if still:
                await self._read(reader)
            self._close(reader)
        self.open = []

    def _close(self, reader: Reader) -> None:
        if reader.fd is not None:
            os.close(reader.fd)
            reader.fd = None
        self.known.append(reader)

    async def _read(self, reader: Reader) -> None:
        assert reader.fd is not None
        while True:
            try:
                data = os.pread(reader.fd, self.chunk, reader.offset)
            except OSError as exc:
                self.log.warning("cannot read file", path=reader.path, error=exc.strerror)
                return
            at_end = len(data) < self.chunk
            tokens, used = self.splitter.split(data, final=False)
            if at_end and used < len(data):
                rest = len(data) - used
                now = time.monotonic()
                if rest != reader.pending:
                    reader.pending, reader.pending_since = rest, now
                elif now - reader.pending_since >= self.force_flush_period:
                    tokens, used = self.splitter.split(data, final=True)
                    reader.pending = -1
            elif at_end:
                reader.pending = -1
            # empty tokens (blank lines, a flushed rest that was only whitespace) make no entry, as
            # contrib's input/file convertTokens skips them
            texts = [text for text in map(self.splitter.decode, tokens) if text]
            if texts and not await self.emit([Token(text, dict(reader.attributes)) for text in texts]):
                return
            reader.offset += used
            if at_end or used == 0:
                return

    def close(self) -> None:
        for reader in self.open:
            self._close(reader)
        self.open = []
