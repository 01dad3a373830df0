"""The file exporter's output files: record layout, size-based rotation and the set of open files.

Used in the daemon (format proto, or json with encoder_process: false) and in the json_writer child
process alike, so both paths rotate, compress and group the same way.

Record layout (otelcol's file exporter, see docs/wire-formats.md, "File exporter records"): json without compression is
one OTLP-JSON object per line; proto, or any compression, is a 4-byte big-endian length followed by the
record. With `compression: zstd` every record is its own zstd frame (with a content checksum), so a
damaged record never takes its neighbours with it and appending to an existing file stays valid.

Rotation follows lumberjack, the library behind otelcol's `rotation` keys: when a write would take
the file past max_megabytes (MiB) it is renamed to `<name>-<YYYY-MM-DDTHH-MM-SS.mmm><ext>` (UTC
unless localtime) and a new file is started at the configured path; then backups beyond max_backups
(0 = keep all) or older than max_days (0 = no age limit), judged by the timestamp in their names,
are deleted. An existing file is continued, not truncated. Unlike lumberjack, a single record larger
than max_megabytes is written to a file of its own instead of being refused, so nothing is lost.
"""

from __future__ import annotations

import collections
import datetime as dt
import errno
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

LENGTH = struct.Struct(">I")
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
MEBIBYTE = 1 << 20
_BUFFER = 1 << 20
_STAMP = "%Y-%m-%dT%H-%M-%S"

# Errors about the shape of a path that no retry can fix: a group_by value naming a file where a directory
# is (tenant "dir1" after "dir1/file"), or the reverse, a name too long, a symlink loop. Retried, they fail
# the same way forever, so they are permanent (counted drops); a full disk or a permission, which an
# operator can fix while clients retry, stays retryable.
_PERMANENT_ERRNOS = frozenset({errno.EISDIR, errno.ENOTDIR, errno.ENAMETOOLONG, errno.ELOOP, errno.EINVAL})


def is_permanent(exc: OSError) -> bool:
    """Whether retrying the same write can never succeed (see _PERMANENT_ERRNOS)."""
    return exc.errno in _PERMANENT_ERRNOS


class Framing:
    """Turns one encoded request into the bytes that go into the file."""

    def __init__(self, lines: bool, zstd: bool, level: int = 3):
        self.lines = lines and not zstd
        self._compressor: Any = None
        if zstd:
            import zstandard

            self._compressor = zstandard.ZstdCompressor(level=level, write_checksum=True)

    def frame(self, record: bytes) -> bytes:
        if self.lines:
            return record + b"\n"
        if self._compressor is not None:
            record = self._compressor.compress(record)
        return LENGTH.pack(len(record)) + record


@dataclass(frozen=True)
class RotationPolicy:
    max_bytes: int
    max_days: int = 0
    max_backups: int = 100
    localtime: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"max_bytes": self.max_bytes, "max_days": self.max_days, "max_backups": self.max_backups, "localtime": self.localtime}


def backup_path(path: Path, when: dt.datetime) -> Path:
    stem, ext = os.path.splitext(path.name)
    return path.with_name(f"{stem}-{when.strftime(_STAMP)}.{when.microsecond // 1000:03d}{ext}")


def backups_of(path: Path, localtime: bool) -> list[tuple[dt.datetime, Path]]:
    """Rotated copies of `path`, newest first, recognised by the timestamp in their names."""
    stem, ext = os.path.splitext(path.name)
    prefix = stem + "-"
    found = []
    try:
        entries = list(os.scandir(path.parent))
    except FileNotFoundError:
        return []
    for entry in entries:
        name = entry.name
        if not name.startswith(prefix) or not name.endswith(ext) or not entry.is_file():
            continue
        stamp = name[len(prefix) : len(name) - len(ext)]
        try:
            when = dt.datetime.strptime(stamp, _STAMP + ".%f")
        except ValueError:
            continue  # another group's file, or not ours at all
        if not localtime:
            when = when.replace(tzinfo=dt.UTC)
        found.append((when, Path(entry.path)))
    found.sort(reverse=True)
    return found


class OutputFile:
    """One output file; with a rotation policy it rotates by size and prunes old backups."""

    def __init__(self, path: Path, truncate: bool, rotation: RotationPolicy | None):
        self.path = path
        self.rotation = rotation
        if rotation is not None:
            # lumberjack continues an existing file and cleans up old backups when it opens one.
            truncate = False
            self._prune()
        self._file: BinaryIO = open(path, "wb" if truncate else "ab", buffering=_BUFFER)
        self.size = self._file.tell()

    def write(self, data: bytes) -> None:
        rotation = self.rotation
        if rotation is not None and self.size and self.size + len(data) > rotation.max_bytes:
            self._rotate()
        self._file.write(data)
        self.size += len(data)

    def _now(self) -> dt.datetime:
        assert self.rotation is not None
        return dt.datetime.now() if self.rotation.localtime else dt.datetime.now(dt.UTC)

    def _rotate(self) -> None:
        self._file.close()
        when = self._now()
        target = backup_path(self.path, when)
        while target.exists():  # two rotations within one millisecond must not overwrite each other
            when += dt.timedelta(milliseconds=1)
            target = backup_path(self.path, when)
        os.rename(self.path, target)
        self._file = open(self.path, "wb", buffering=_BUFFER)
        self.size = 0
        self._prune()

    def _prune(self) -> None:
        rotation = self.rotation
        assert rotation is not None
        backups = backups_of(self.path, rotation.localtime)
        doomed = backups[rotation.max_backups :] if rotation.max_backups > 0 else []
        if rotation.max_days > 0:
            cutoff = self._now() - dt.timedelta(days=rotation.max_days)
            doomed += [b for b in backups if b[0] < cutoff and b not in doomed]
        for _, backup in doomed:
            try:
                os.remove(backup)
            except FileNotFoundError:
                pass

    def flush(self) -> None:
        self._file.flush()

    def close(self, sync: bool = False) -> None:
        self._file.flush()
        if sync:
            os.fsync(self._file.fileno())
        self._file.close()


class OutputFiles:
    """The open output files by path, at most `max_open` at a time (least recently written closed
    first). A path is truncated only on the writer's say-so; a file reopened after eviction appends."""

    def __init__(self, rotation: RotationPolicy | None, max_open: int = 100):
        self.rotation = rotation
        self.max_open = max(1, max_open)
        self._open: collections.OrderedDict[str, OutputFile] = collections.OrderedDict()

    def get(self, path: str, truncate: bool = False) -> OutputFile:
        file = self._open.get(path)
        if file is not None:
            self._open.move_to_end(path)
            return file
        while len(self._open) >= self.max_open:
            _, oldest = self._open.popitem(last=False)
            oldest.close()
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        file = self._open[path] = OutputFile(target, truncate, self.rotation)
        return file

    def flush(self) -> None:
        for file in self._open.values():
            file.flush()

    def close(self) -> None:
        """Flush, fsync and close everything; the first error is raised after all were tried."""
        error: OSError | None = None
        while self._open:
            _, file = self._open.popitem(last=False)
            try:
                file.close(sync=True)
            except OSError as exc:
                error = error or exc
        if error is not None:
            raise error
