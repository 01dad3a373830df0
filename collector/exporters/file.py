"""File exporter: OTLP-JSON lines (readable by the OTel Collector's otlpjsonfile receiver) or
length-prefixed protobuf records, one signal per file."""

from __future__ import annotations

import asyncio
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

from .. import otlpjson
from ..component import ComponentID, Exporter, Host, Rejected, RetryableError, Signal
from ..config import Duration, Invalid, option
from ..registry import register


@dataclass
class FileExporterConfig:
    path: str = option(doc="File to write; parent directories are created.")
    format: Literal["json", "proto"] = option("json", "`json`: one OTLP-JSON object per line. `proto`: each request as a 4-byte big-endian length then the serialized Export*ServiceRequest.")
    flush_interval: Duration = option(Duration(1.0), "How often buffered writes reach the file; shutdown always flushes and fsyncs.")
    append: bool = option(False, "Keep existing content instead of truncating at start-up.")

    def validate(self) -> None:
        if not self.path:
            raise Invalid("must name a file", "path")
        if self.flush_interval <= 0:
            raise Invalid("must be greater than 0", "flush_interval")


_LENGTH = struct.Struct(">I")


@register
class FileExporter(Exporter):
    type_name = "file"
    description = "Writes OTLP-JSON lines or length-prefixed protobuf to a file (one signal per file)."
    config_class = FileExporterConfig

    def __init__(self, settings: Any, config: FileExporterConfig):
        super().__init__(settings, config)
        self._file: BinaryIO | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._json = config.format == "json"

    @classmethod
    def validate_usage(cls, id: ComponentID, config: FileExporterConfig, signals: set[Signal]) -> list[str]:
        if len(signals) > 1:
            used = ", ".join(sorted(signals))
            return [f"one file holds one signal, but this exporter is used by {used} pipelines; configure one file exporter per signal (e.g. file/traces, file/logs)"]
        return []

    async def start(self, host: Host) -> None:
        path = Path(self.config.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "ab" if self.config.append else "wb", buffering=1 << 20)
        self._flusher = asyncio.get_running_loop().create_task(self._flush_periodically())
        self.log.info("writing to file", path=str(path.resolve()), format=self.config.format, append=self.config.append)

    async def export(self, signal: Signal, data: Any) -> Rejected | None:
        file = self._file
        if file is None:
            raise RetryableError(f"exporter {self.id} is not running")
        try:
            if self._json:
                file.write(otlpjson.encode(signal, data) + b"\n")
            else:
                payload = data.SerializeToString()
                file.write(_LENGTH.pack(len(payload)) + payload)
        except OSError as exc:
            self.log.error("write failed", path=self.config.path, error=str(exc))
            raise RetryableError(f"exporter {self.id}: cannot write {self.config.path}: {exc.strerror or exc}") from exc
        return None

    async def _flush_periodically(self) -> None:
        interval = float(self.config.flush_interval)
        while True:
            await asyncio.sleep(interval)
            try:
                if self._file is not None:
                    self._file.flush()
            except OSError as exc:
                self.log.error("flush failed", path=self.config.path, error=str(exc))

    async def shutdown(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            self._flusher = None
        if self._file is not None:
            file, self._file = self._file, None
            file.flush()
            os.fsync(file.fileno())
            file.close()
