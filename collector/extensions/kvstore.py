"""The key-value client the `file_storage` extension gives receivers (otelcol's storage.Client: Get, Set,
Delete, Batch), one per component, e.g. the file_log receiver's file offsets.

Each client is one JSON file in the extension's directory, named like otelcol's bbolt files
(`receiver_<type>_<name>`). Every Set, Delete or Batch rewrites the whole file to a temporary name
and renames it over the old one, so a crash or kill -9 leaves either the previous or the new state,
never a torn mix (values are small: offsets and fingerprints). With the extension's `fsync: true` the
temporary file and the directory are fsynced too, so the new state also survives a power loss.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Operation:
    """One step of a Batch: `get` fills `value`, `set` writes it, `delete` removes the key."""

    kind: str  # "get", "set" or "delete"
    key: str
    value: bytes | None = None


class StorageClient:
    """A component's keys and values (bytes), loaded at open, written through at each change."""

    def __init__(self, path: Path, *, fsync: bool):
        self.path = path
        self.fsync = fsync
        self._data: dict[str, bytes] = {}
        self._closed = False
        self._load()

    def _load(self) -> None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        try:
            doc = json.loads(raw)
            self._data = {str(k): base64.b64decode(v) for k, v in doc.items()}
        except (ValueError, AttributeError, TypeError) as exc:
            raise OSError(f"storage file {self.path} is not readable JSON ({type(exc).__name__}); move it away to start afresh") from None

    def get(self, key: str) -> bytes | None:
        self._check()
        return self._data.get(key)

    def set(self, key: str, value: bytes) -> None:
        self.batch([Operation("set", key, value)])

    def delete(self, key: str) -> None:
        self.batch([Operation("delete", key)])

    def batch(self, operations: Iterable[Operation]) -> list[Operation]:
        """Applies the operations in order and writes once; returns them with `get`s filled in."""
        self._check()
        done: list[Operation] = []
        changed = False
        for op in operations:
            if op.kind == "get":
                done.append(Operation("get", op.key, self._data.get(op.key)))
                continue
            if op.kind == "set":
                if op.value is None:
                    raise ValueError("a set needs a value")
                changed = changed or self._data.get(op.key) != op.value
                self._data[op.key] = bytes(op.value)
            elif op.kind == "delete":
                changed = self._data.pop(op.key, None) is not None or changed
            else:
                raise ValueError(f"unknown storage operation {op.kind!r}")
            done.append(op)
        if changed:
            self._write()
        return done

    def close(self) -> None:
        self._closed = True

    def _check(self) -> None:
        if self._closed:
            raise RuntimeError("storage client is closed")

    def _write(self) -> None:
        text = json.dumps({k: base64.b64encode(v).decode() for k, v in self._data.items()}, sort_keys=True).encode()
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(text)
            f.flush()
            if self.fsync:
                os.fsync(f.fileno())
        os.replace(tmp, self.path)
        if self.fsync:
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
