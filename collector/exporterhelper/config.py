"""otelcol's exporterhelper keys, with its defaults (docs/exporters.md, "Delivery")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..component import ComponentID
from ..config import Duration, Invalid, option
from ..extensions.auth import ClientAuthConfig
from .batcher import BatchConfig

STORAGE_TYPE = "file_storage"


@dataclass
class RetryConfig:
    enabled: bool = option(True, "Retry retryable failures; false drops a request after its first failed attempt.")
    initial_interval: Duration = option(Duration(5.0), "Wait after the first failure.")
    max_interval: Duration = option(Duration(30.0), "Longest wait between attempts.")
    max_elapsed_time: Duration = option(Duration(300.0), "Give up (drop and count) after retrying this long; 0 retries forever.")
    multiplier: float = option(1.5, "Each wait is the previous one times this.")
    randomization_factor: float = option(0.5, "Jitter: each wait is drawn from ±this fraction around it.")

    def validate(self) -> None:
        if self.initial_interval <= 0:
            raise Invalid("must be greater than 0", "initial_interval")
        if self.max_interval < self.initial_interval:
            raise Invalid("must be >= initial_interval", "max_interval")
        if self.multiplier < 1:
            raise Invalid("must be >= 1", "multiplier")
        if not 0 <= self.randomization_factor < 1:
            raise Invalid("must be in [0, 1)", "randomization_factor")


@dataclass
class QueueConfig:
    enabled: bool = option(True, "Queue requests and acknowledge the client once queued; false sends inline and the client waits for the backend.")
    num_consumers: int = option(10, "Requests sent concurrently.")
    queue_size: int = option(1000, "Capacity, in units of `sizer`.")
    sizer: Literal["requests", "items", "bytes"] = option("requests", "What `queue_size` counts: requests, items (spans, log records, data points) or serialized bytes.")
    block_on_overflow: bool = option(False, "When full, make the client wait for room instead of refusing (retryable) at once.")
    storage: str | None = option(None, "A `file_storage/<name>` extension: the queue becomes a write-ahead log on disk that survives a crash or restart.")
    batch: BatchConfig | None = option(None, "otelcol's batching in the queue: requests are merged into batches of min_size..max_size before they are sent. Unset: off; `batch: {}` uses the defaults.")

    def validate(self) -> None:
        if self.num_consumers < 1:
            raise Invalid("must be at least 1", "num_consumers")
        if self.queue_size < 1:
            raise Invalid("must be at least 1", "queue_size")
        if self.batch is not None and self.batch.resolved_sizer(self.sizer) == self.sizer and self.batch.min_size > self.queue_size:
            raise Invalid("min_size must be less than or equal to queue_size (the queue could never hold a batch)", ("batch", "min_size"))
        if self.storage is not None:
            try:
                storage = ComponentID.parse(self.storage)
            except ValueError:
                storage = None
            if storage is None or storage.type != STORAGE_TYPE:
                raise Invalid(f'expected the id of a {STORAGE_TYPE} extension, like "{STORAGE_TYPE}/queue", got "{self.storage}"', "storage")

    @property
    def storage_id(self) -> ComponentID | None:
        return ComponentID.parse(self.storage) if self.storage else None


@dataclass(kw_only=True)
class DeliveryConfig:
    """Base of a network exporter's config; keyword-only so a subclass may add required fields."""

    timeout: Duration = option(Duration(5.0), "Time limit of one send attempt.")
    sending_queue: QueueConfig = option(factory=QueueConfig, doc="otelcol's sending_queue.")
    retry_on_failure: RetryConfig = option(factory=RetryConfig, doc="otelcol's retry_on_failure.")
    auth: ClientAuthConfig | None = option(None, "otelcol's configauth: `authenticator` names a `bearertokenauth` or `basicauth` extension whose credentials go with every request (over gRPC, only with TLS, as otelcol).")
