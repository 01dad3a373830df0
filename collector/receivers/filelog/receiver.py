"""The file_log receiver: polls the tailer (fileconsumer.py), turns each token into an entry with the
file's attributes, runs the operators and sends the entries as OTLP logs (one request per batch,
grouped by resource); keeps the offsets in the `storage` extension after each poll."""

from __future__ import annotations

import asyncio
import os
import random
import time
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from ...component import ComponentID, ConsumeError, Consumer, Host, Receiver, Settings, Signal
from ...envelope import Envelope
from ...registry import register
from . import operators
from .config import STORAGE_TYPE, FileLogConfig
from .entry import Entry, fill_record, set_any
from .fileconsumer import KNOWN_FILES_KEY, FileConsumer, Matcher, Token
from .split import Splitter


@register
class FileLogReceiver(Receiver):
    type_name = "file_log"
    deprecated_type_names = ("filelog",)
    description = "Tails log files (globs, rotation by rename or copytruncate, offsets in a file_storage) and parses their lines with operators into OTLP logs."
    config_class = FileLogConfig
    signals = frozenset({Signal.LOGS})

    @classmethod
    def validate_references(cls, id: ComponentID, config: Any, extensions: dict[ComponentID, Any], enabled: list[ComponentID]) -> list[tuple[tuple[str, ...], str]]:
        storage = config.storage_id
        if storage is None or storage.type != STORAGE_TYPE:
            return []
        if storage not in extensions:
            return [(("storage",), f'references extension "{storage}" which is not configured (add it under extensions: and service.extensions)')]
        if storage not in enabled:
            return [(("storage",), f'extension "{storage}" must also be listed in service.extensions')]
        return []

    @classmethod
    def reference_sections(cls) -> list[tuple[str, str, type | None]]:
        return operators.reference_sections()

    def __init__(self, settings: Settings, config: FileLogConfig, consumers: dict[Signal, Consumer]):
        super().__init__(settings, config, consumers)
        self.consumer = consumers[Signal.LOGS]
        self.counters = self.telemetry.receiver_counters(self.id, "", Signal.LOGS)
        self.pipeline = operators.Pipeline(config.operators, self.log)
        self.client: Any = None
        self._saved: bytes | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        splitter = Splitter(encoding=config.encoding, max_log_size=int(config.max_log_size), multiline=config.multiline,
                            preserve_leading=config.preserve_leading_whitespaces, preserve_trailing=config.preserve_trailing_whitespaces)
        self.tailer = FileConsumer(
            matcher=Matcher(config.include, config.exclude), splitter=splitter, emit=self._emit, log=self.log,
            start_at_end=config.start_at == "end", fingerprint_size=int(config.fingerprint_size), max_log_size=int(config.max_log_size),
            force_flush_period=float(config.force_flush_period) if config.force_flush_period > 0 else float("inf"),
            max_concurrent_files=config.max_concurrent_files, file_attributes=self._file_attributes,
        )

    def _file_attributes(self, path: str) -> dict[str, Any]:
        c = self.config
        out: dict[str, Any] = {}
        if c.include_file_name:
            out["log.file.name"] = os.path.basename(path)
        if c.include_file_path:
            out["log.file.path"] = path
        if c.include_file_name_resolved or c.include_file_path_resolved:
            resolved = os.path.realpath(path)
            if c.include_file_name_resolved:
                out["log.file.name_resolved"] = os.path.basename(resolved)
            if c.include_file_path_resolved:
                out["log.file.path_resolved"] = resolved
        return out

    async def start(self, host: Host) -> None:
        storage_id = self.config.storage_id
        if storage_id is not None:
            from ...service import StartupError  # the service imports receivers' modules, not the reverse

            try:
                extension = host.extension(storage_id)
            except KeyError:
                raise StartupError(f"storage: extension {storage_id} is not running (list it in service.extensions)") from None
            make = getattr(extension, "client", None)
            if make is None:
                raise StartupError(f"storage: extension {storage_id} is not a {STORAGE_TYPE} extension")
            self.client = make("receiver", self.id)
            self._saved = self.client.get(KNOWN_FILES_KEY)
            self.tailer.load(self._saved)
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        interval = float(self.config.poll_interval)
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                await self.tailer.poll()
                held = self.pipeline.flush()
                if held:
                    await self._send(held)
                self._save()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one bad poll must not stop the receiver
                self.log.error("poll failed", error=f"{type(exc).__name__}: {exc}")
            try:
                await asyncio.wait_for(self._stopping.wait(), max(0.0, interval - (time.monotonic() - started)))
            except TimeoutError:
                pass

    def _save(self) -> None:
        if self.client is None:
            return
        state = self.tailer.checkpoint()
        if state != self._saved:
            self.client.set(KNOWN_FILES_KEY, state)
            self._saved = state

    async def _emit(self, tokens: list[Token]) -> bool:
        now = time.time_ns()
        entries = []
        for token in tokens:
            attributes = dict(self.config.attributes)
            attributes.update(token.attributes)
            entries.append(Entry(body=token.text, attributes=attributes, resource=dict(self.config.resource), observed=now))
        return await self._send(self.pipeline.run(entries))

    async def _send(self, entries: list[Entry]) -> bool:
        """Delivers the entries; False when they should be read again at the next poll (stopping while retrying)."""
        if not entries:
            return True
        request = _request(entries)
        retry = self.config.retry_on_failure
        delay, deadline = float(retry.initial_interval), time.monotonic() + float(retry.max_elapsed_time)
        while True:
            try:
                result = await self.consumer.consume(Envelope(Signal.LOGS, request))
            except ConsumeError as exc:
                if not (retry.enabled and exc.retryable):
                    self.counters.refused.inc(len(entries))
                    self.log.error("dropping logs the pipeline refused", count=len(entries), error=str(exc))
                    return True
                if self._stopping.is_set():
                    return False
                if retry.max_elapsed_time > 0 and time.monotonic() + delay > deadline:
                    self.counters.refused.inc(len(entries))
                    self.log.error("dropping logs after retrying", count=len(entries), error=str(exc))
                    return True
                self.log.warning("pipeline refused logs; retrying", count=len(entries), error=str(exc), delay=round(delay, 3))
                try:
                    await asyncio.wait_for(self._stopping.wait(), delay * random.uniform(0.5, 1.5))
                    return False
                except TimeoutError:
                    pass
                delay = min(delay * 1.5, float(retry.max_interval))
                continue
            except Exception as exc:
                self.counters.failed.inc(len(entries))
                self.log.error("pipeline failed on logs", count=len(entries), error=f"{type(exc).__name__}: {exc}")
                return True
            refused = result.count if result is not None else 0
            if refused:
                self.counters.refused.inc(refused)
            self.counters.accepted.inc(len(entries) - refused)
            return True

    async def shutdown(self) -> None:
        self._stopping.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 5.0)
            except TimeoutError:
                self._task.cancel()
        held = self.pipeline.flush(force=True)
        if held:
            await self._send(held)
        self.tailer.close()
        self._save()
        if self.client is not None:
            self.client.close()


def _request(entries: list[Entry]) -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    by_resource: dict[str, Any] = {}
    for entry in entries:
        key = repr(sorted(entry.resource.items()))
        scope_logs = by_resource.get(key)
        if scope_logs is None:
            resource_logs = request.resource_logs.add()
            for k, v in entry.resource.items():
                set_any(resource_logs.resource.attributes.add(key=k).value, v)
            scope_logs = by_resource[key] = resource_logs.scope_logs.add()
        fill_record(scope_logs.log_records.add(), entry)
    return request
