"""file_storage extension: a directory where exporters keep their persistent sending queues
(`sending_queue.storage: file_storage/<name>`) and receivers their state (the file_log receiver's
offsets, `storage: file_storage/<name>`, through the key-value client of kvstore.py), with otelcol's
`directory`, `create_directory` and `fsync` keys.

Each exporter gets its own subdirectory (`exporter_<type>_<name>`), a write-ahead log described in
collector/exporterhelper/persistent.py. What is guaranteed:
- `fsync: false` (otelcol's default): a request is written to the file before the client gets its
  answer, so it survives the daemon crashing or being killed (`kill -9`), but not a power loss or a
  kernel crash (the last writes may still be in the OS page cache).
- `fsync: true`: the client is answered only after an fsync covering its request; concurrent requests
  share one fsync (group commit), so throughput stays high but each answer waits for the disk.
Either way delivery is at-least-once: requests in flight at a crash are sent again after restart. What
is sent twice after a crash is bounded by `ack_every`: at most the exporter's num_consumers requests (in
flight at the crash) plus ack_every - 1 (delivered since deliveries were last recorded).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..component import ComponentID, Extension, Host
from ..config import ByteSize, Duration, Invalid, option
from ..exporterhelper.persistent import PersistentQueue
from ..registry import register
from .kvstore import StorageClient

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


NO_DATABASE = "each queue is a write-ahead log of segment files, not a bbolt database"
WHY_NOT = {"compaction": f"{NO_DATABASE}: there is nothing to compact",
           "timeout": f"{NO_DATABASE}: its lock is taken at start-up or start-up fails, without waiting"}


@dataclass
class FileStorageConfig:
    directory: str = option("/var/lib/otelcol/file_storage", "Directory holding the queues; it must exist unless `create_directory` is true.")
    create_directory: bool = option(False, "Create `directory` (mode 0750) when it does not exist.")
    fsync: bool = option(False, "fsync each request before the client is answered (group commit). false: survives a crash or kill -9 of the daemon, not a power loss.")
    max_bytes_per_queue: ByteSize = option(ByteSize(1 << 30), "Disk bound of each exporter's queue: past it new data is refused with a retryable error, whatever the exporter's queue_size.")
    ack_every: int = option(
        1,
        "Record deliveries in the queue's `ack` file after every this many delivered requests (and whenever none is left in flight): one write of at most 4 KiB each time, "
        "never an fsync. After a crash or kill -9 at most the exporter's `num_consumers` + ack_every - 1 requests already delivered are sent again.",
    )

    compaction: dict[str, Any] | None = option(None, f"otelcol's bbolt compaction settings. No effect here: {WHY_NOT['compaction']} (a start-up warning says so).")
    timeout: Duration | None = option(None, f"otelcol's bbolt file-lock timeout. No effect here: {WHY_NOT['timeout']} (a start-up warning says so).")

    def validate(self) -> None:
        if not self.directory:
            raise Invalid("must name a directory", "directory")
        if self.max_bytes_per_queue < 1024:
            raise Invalid("must be at least 1KiB", "max_bytes_per_queue")
        if self.ack_every < 1:
            raise Invalid("must be at least 1", "ack_every")
        problem = self.directory_problem()
        if problem is not None:
            raise Invalid(problem, "directory")

    def directory_problem(self) -> str | None:
        """Why `directory` cannot hold the queues, checked when the config is loaded (so `validate` rejects what
        `run` would, as contrib's extension/storage/filestorage/config.go Validate does) and again at start."""
        path = Path(self.directory)
        if path.is_dir():
            return None if os.access(path, os.W_OK | os.X_OK) else f"directory {path} is not writable"
        if path.exists():
            return f"{path} is not a directory"
        if not self.create_directory:
            return f"directory {path} does not exist (create it, or set create_directory: true)"
        return None


def queue_directory_name(owner: ComponentID, kind: str = "exporter") -> str:
    """otelcol-style `exporter_<type>_<name>` (`receiver_...` for a receiver's client); characters a file
    name could misread are escaped."""
    name = f"{kind}_{owner.type}" + (f"_{owner.name}" if owner.name else "")
    return _UNSAFE.sub(lambda m: f"%{ord(m.group()):02X}", name)


@register
class FileStorageExtension(Extension):
    type_name = "file_storage"
    description = ("Directory for persistent sending queues (`sending_queue.storage`: data acknowledged to clients survives a crash or restart) "
                   "and receivers' state (the file_log receiver's `storage`: offsets survive a restart).")
    config_class = FileStorageConfig

    @classmethod
    def ineffective_keys(cls, config: FileStorageConfig) -> list[tuple[str, str]]:
        return [(key, why) for key, why in WHY_NOT.items() if getattr(config, key) is not None]

    def __init__(self, settings: Any, config: FileStorageConfig):
        super().__init__(settings, config)
        self.directory = Path(config.directory)
        self._m_corrupt_records = self.telemetry.counter(
            "llm_collector_persistent_queue_corrupt_records",
            "Corrupt or truncated regions of a persistent queue skipped (e.g. a write torn by a crash).",
            ("storage", "exporter"),
        )
        self._m_corrupt_bytes = self.telemetry.counter(
            "llm_collector_persistent_queue_corrupt_bytes",
            "Bytes of a persistent queue skipped as corrupt or truncated.",
            ("storage", "exporter"),
        )

    async def start(self, host: Host) -> None:
        problem = self.config.directory_problem()  # again: the directory may have changed since the load
        if problem is not None:
            raise OSError(f"extension {self.id}: {problem}")
        if not self.directory.is_dir():
            self.directory.mkdir(mode=0o750, parents=True, exist_ok=True)
        self.log.info("file storage ready", directory=str(self.directory), fsync=self.config.fsync)

    def client(self, kind: str, owner: ComponentID) -> StorageClient:
        """The key-value client of component `owner` of `kind` (otelcol's GetClient): its own file, durable
        at each change (kvstore.py; fsynced when `fsync` is true)."""
        return StorageClient(self.directory / queue_directory_name(owner, kind), fsync=self.config.fsync)

    def queue(self, owner: ComponentID, *, capacity: int, sizer: str, log: Any, **kwargs: Any) -> PersistentQueue:
        """A persistent queue for `owner` (not yet opened: the caller awaits `open()`)."""
        labels = (str(self.id), str(owner))
        records, nbytes = self._m_corrupt_records.labels(*labels), self._m_corrupt_bytes.labels(*labels)

        def on_corrupt(count: int, skipped: int) -> None:
            records.inc(count)
            nbytes.inc(skipped)

        return PersistentQueue(
            self.directory / queue_directory_name(owner),
            capacity=capacity,
            sizer=sizer,
            max_bytes=int(self.config.max_bytes_per_queue),
            fsync=self.config.fsync,
            ack_every=self.config.ack_every,
            log=log.bind(storage=str(self.id)),
            on_corrupt=on_corrupt,
            **kwargs,
        )
