"""The file_log receiver's keys (contrib's receiver/filelogreceiver and pkg/stanza/fileconsumer/config.go),
with otelcol's defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ...component import ComponentID
from ...config import ByteSize, Duration, Invalid, option
from .operators import OperatorEntry, check_graph
from .split import ENCODINGS, MultilineConfig

STORAGE_TYPE = "file_storage"


@dataclass
class RetryOnFailureConfig:
    enabled: bool = option(False, "Retry a batch the pipeline refused with a retryable error (memory_limiter, a full queue) instead of dropping it; reading the file waits meanwhile.")
    initial_interval: Duration = option(Duration(1.0), "Wait after the first failure.")
    max_interval: Duration = option(Duration(30.0), "Longest wait between attempts.")
    max_elapsed_time: Duration = option(Duration(300.0), "Drop the batch after retrying this long; 0 retries forever.")


@dataclass
class FileLogConfig:
    include: list[str] = option(None, "Glob patterns (doublestar: `**`, `{a,b}`) of the files to read; required.", factory=list)
    exclude: list[str] = option(None, "Glob patterns of matched files to leave out.", factory=list)
    start_at: Literal["end", "beginning"] = option("end", "Where to start in the files found at the first poll (without a stored offset); files appearing later are read from their start.")
    include_file_name: bool = option(True, "Set the `log.file.name` attribute (the file's base name).")
    include_file_path: bool = option(False, "Set the `log.file.path` attribute (the path as matched).")
    include_file_name_resolved: bool = option(False, "Set `log.file.name_resolved` (the base name once symlinks are resolved).")
    include_file_path_resolved: bool = option(False, "Set `log.file.path_resolved` (the path once symlinks are resolved).")
    poll_interval: Duration = option(Duration(0.2), "Time between looks at the files.")
    fingerprint_size: ByteSize = option(ByteSize(1000), "Bytes at the start of a file that identify it (across renames); at least 16.")
    max_log_size: ByteSize = option(ByteSize(1 << 20), "Longest entry; a longer one is cut into pieces of this size. 0: no limit.")
    max_concurrent_files: int = option(1024, "Files open at once; more matching files are read in batches of half this many.")
    encoding: str = option("utf-8", f"The files' encoding ({', '.join(sorted(ENCODINGS))}); invalid bytes become U+FFFD. `nop`: bodies are the raw bytes.")
    multiline: MultilineConfig | None = option(None, "Entries spanning lines: `line_start_pattern` or `line_end_pattern` (a regex), `omit_pattern`.")
    force_flush_period: Duration = option(Duration(0.5), "Emit an unterminated last entry of a file after it has not grown for this long; 0: wait for its end.")
    preserve_leading_whitespaces: bool = option(False, "Keep whitespace at the start of each entry.")
    preserve_trailing_whitespaces: bool = option(False, "Keep whitespace at the end of each entry.")
    storage: str | None = option(None, "A `file_storage/<name>` extension keeping each file's offset, so a restart neither reads lines again nor skips those written while stopped.")
    operators: list[OperatorEntry] = option(None, "Operators each entry goes through (below), in order.", factory=list)
    attributes: dict[str, Any] = option(None, "Attributes added to every entry.", factory=dict)
    resource: dict[str, Any] = option(None, "Resource attributes added to every entry.", factory=dict)
    retry_on_failure: RetryOnFailureConfig = option(None, "Retrying batches the pipeline refused.", factory=RetryOnFailureConfig)

    def validate(self) -> None:
        if not self.include:
            raise Invalid("at least one pattern is required", "include")
        if self.fingerprint_size < 16:
            raise Invalid("must be at least 16 bytes", "fingerprint_size")
        if self.max_concurrent_files < 1:
            raise Invalid("must be at least 1", "max_concurrent_files")
        if self.encoding.lower() not in ENCODINGS:
            raise Invalid(f"unsupported encoding (supported: {', '.join(sorted(ENCODINGS))})", "encoding")
        if self.poll_interval <= 0:
            raise Invalid("must be positive", "poll_interval")
        if self.storage is not None:
            try:
                storage = ComponentID.parse(self.storage)
            except ValueError:
                storage = None
            if storage is None or storage.type != STORAGE_TYPE:
                raise Invalid(f'expected the id of a {STORAGE_TYPE} extension, like "{STORAGE_TYPE}/offsets"', "storage")
        problem = check_graph(self.operators)
        if problem is not None:
            raise Invalid(problem, "operators")

    @property
    def storage_id(self) -> ComponentID | None:
        return ComponentID.parse(self.storage) if self.storage else None
