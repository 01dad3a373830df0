"""The report's input: the files named on the command line, directories walked, rotated backups added,
each read record by record with the replay tool's reader (collector/tools/replay.py: OTLP-JSON lines or
length-prefixed protobuf/JSON, per-record zstd, and whole files compressed with gzip or zstd)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..component import Signal
from ..exporters.file_rotation import backups_of
from ..tools.replay import Expect, RecordReader, ReplayError


def expand(paths: list[str]) -> list[str]:
    """Every file to read, each once, in a stable order: a directory gives every regular file under it
    (sorted); a file gives itself and its rotated backups (`<name>-<timestamp><ext>`, as the file exporter
    names them), oldest first."""
    out: dict[str, None] = {}
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    out.setdefault(os.path.join(root, name))
            continue
        for _, backup in reversed(backups_of(Path(path), localtime=False) or backups_of(Path(path), localtime=True)):
            out.setdefault(str(backup))
        out.setdefault(path)
    return list(out)


@dataclass
class ReadStats:
    files: int = 0
    files_read: int = 0
    records: int = 0
    bytes_total: int = 0
    skipped_files: list[str] = field(default_factory=list)  # other signals
    damaged: list[str] = field(default_factory=list)  # the reader's message, with record and offset


class Inputs:
    """Yields the trace requests of every file; logs progress every `every` seconds."""

    def __init__(self, paths: list[str], log: Any, every: float = 2.0):
        self.paths = expand(paths)
        self.log = log
        self.every = every
        self.stats = ReadStats(files=len(self.paths))
        for path in self.paths:
            try:
                self.stats.bytes_total += os.path.getsize(path)
            except OSError:
                pass

    def requests(self, spans_so_far: Any = lambda: 0) -> Iterator[Any]:
        started = last = time.monotonic()
        done_bytes = 0
        for number, path in enumerate(self.paths, 1):
            reader = RecordReader(path, Expect())
            try:
                for record in reader:
                    if record.signal is not Signal.TRACES:
                        self.stats.skipped_files.append(path)
                        self.log.info("skipping a file that does not hold traces", file=path, signal=record.signal.value)
                        break
                    self.stats.records += 1
                    yield record.request
                    now = time.monotonic()
                    if now - last >= self.every:
                        last = now
                        read = done_bytes + min(record.offset, self._size(path))
                        spans = spans_so_far()
                        self.log.info("report progress", file=path, file_number=number, files=len(self.paths), records=self.stats.records,
                                      spans=spans, percent=round(100 * read / max(self.stats.bytes_total, 1), 1),
                                      spans_per_second=round(spans / max(now - started, 1e-9)))
            except ReplayError as exc:
                self.stats.damaged.append(str(exc))
                self.log.error("damaged input; the rest of this file is skipped", file=path, error=str(exc))
            done_bytes += self._size(path)
            self.stats.files_read += 1

    @staticmethod
    def _size(path: str) -> int:
        try:
            return os.path.getsize(path)
        except OSError:
            return 0
