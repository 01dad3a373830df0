"""memory_limiter processor: otelcol's keys and semantics, so a sidecar never OOMs its pod.

Every `check_interval` it measures the daemon's memory (resident set of the daemon and its child
processes, which is what a container limit counts). Above the soft limit (limit - spike) it
refuses new data with a retryable error: gRPC UNAVAILABLE / HTTP 503 with Retry-After, which
well-behaved OTLP exporters back off from. Above the hard limit it also forces a garbage
collection. Limits are absolute (`limit_mib`) or a percentage of the container's memory limit
(cgroup v2 `memory.max`, else the machine's total memory). Put it first in the pipeline.

It also gates the receivers (collector/admission.py): before they decode a request they reserve its
estimated memory, which the limiter refuses when what it measured plus what is in flight would pass the soft
limit, and gRPC requests are read only while what they may hold fits under the hard limit. So large requests
cannot take RSS past the limit between two checks.
"""

from __future__ import annotations

import asyncio
import gc
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import malloc
from ..admission import COST_FACTOR, Admission, host_admission
from ..component import Processor, Rejected, RetryableError
from ..config import Duration, Invalid, option
from ..envelope import Envelope
from ..registry import register
from ..telemetry import ITEM, process_tree_rss

CGROUP_MEMORY_MAX = Path("/sys/fs/cgroup/memory.max")
MEMINFO = Path("/proc/meminfo")
MIB = 1 << 20


@dataclass
class MemoryLimiterConfig:
    check_interval: Duration = option(Duration(1.0), "How often memory is measured.")
    limit_mib: int = option(0, "Hard limit in MiB. Set this or limit_percentage.")
    spike_limit_mib: int = option(0, "Headroom below the hard limit where refusing starts; 0 = 20% of the limit.")
    limit_percentage: int = option(0, "Hard limit as a percentage of the container memory limit (cgroup v2 memory.max) or of total memory.")
    spike_limit_percentage: int = option(0, "Headroom as a percentage of the same total; 0 = 20% of the limit.")
    min_gc_interval_when_soft_limited: Duration = option(Duration(10.0), "Above the soft limit, force a GC at most this often.")
    min_gc_interval_when_hard_limited: Duration = option(Duration(0.0), "Above the hard limit, force a GC at most this often (0 = at every check). A GC costs tens of ms and frees nothing when the memory is data legitimately held, e.g. traces awaiting a sampling decision.")

    def validate(self) -> None:
        if self.check_interval <= 0:
            raise Invalid("must be greater than 0", "check_interval")
        if self.limit_mib <= 0 and self.limit_percentage <= 0:
            raise Invalid("set limit_mib or limit_percentage to a value greater than 0")
        if self.limit_mib and self.limit_percentage:
            raise Invalid("set either limit_mib or limit_percentage, not both")
        if not 0 <= self.limit_percentage <= 100 or not 0 <= self.spike_limit_percentage <= 100:
            raise Invalid("percentages must be between 0 and 100")
        if self.limit_mib and self.spike_limit_mib >= self.limit_mib:
            raise Invalid(f"must be lower than limit_mib ({self.limit_mib})", "spike_limit_mib")
        if self.limit_percentage and self.spike_limit_percentage >= self.limit_percentage:
            raise Invalid(f"must be lower than limit_percentage ({self.limit_percentage})", "spike_limit_percentage")


def total_memory_bytes() -> int:
    """The container's limit when there is one, else the machine's memory."""
    try:
        text = CGROUP_MEMORY_MAX.read_text().strip()
        if text and text != "max":
            return int(text)
    except (OSError, ValueError):
        pass
    try:
        for line in MEMINFO.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


@register
class MemoryLimiterProcessor(Processor):
    type_name = "memory_limiter"
    description = "Refuses data (retryable: UNAVAILABLE / 503 + Retry-After) above a soft memory limit and forces GC above the hard one."
    config_class = MemoryLimiterConfig

    def __init__(self, settings: Any, config: MemoryLimiterConfig, next_consumer: Any):
        super().__init__(settings, config, next_consumer)
        self.hard, self.soft = self._limits(config)
        self.refusing = False
        self.usage = 0
        self.last_gc = time.monotonic()  # as otelcol: the first soft-limit GC waits a full interval
        self.last_check = 0.0
        # Within one spike of the soft limit, memory is also measured per request (at most every
        # 10 ms): a burst can grow the heap by more than the spike headroom within one check_interval,
        # and refusing only at the next tick is what let RSS overshoot the hard limit.
        self.watch_from = max(0, 2 * self.soft - self.hard)
        self._task: asyncio.Task[None] | None = None
        self._admission: Admission | None = None
        pid = str(self.id)
        self.m_refused = self.telemetry.counter(
            f"otelcol_processor_refused_{ITEM[self.signal]}", f"Number of {ITEM[self.signal]} refused by the processor.", ("processor",)
        ).labels(pid)
        self.m_usage = self.telemetry.gauge("llm_collector_memory_limiter_usage_bytes", "Memory measured by the memory_limiter.", ("processor",)).labels(pid)
        self.m_refused_bytes = self.telemetry.counter(
            "llm_collector_memory_limiter_refused_bytes", "Wire bytes of requests refused before they were decoded (see collector/admission.py).", ("processor",)
        ).labels(pid)
        self.m_forced_gc = self.telemetry.counter("llm_collector_memory_limiter_forced_gc", "Garbage collections forced above the hard limit.", ("processor",)).labels(pid)

    @staticmethod
    def _limits(config: MemoryLimiterConfig) -> tuple[int, int]:
        if config.limit_mib:
            hard = config.limit_mib * MIB
            spike = config.spike_limit_mib * MIB if config.spike_limit_mib else hard // 5
        else:
            total = total_memory_bytes()
            hard = total * config.limit_percentage // 100
            spike = total * config.spike_limit_percentage // 100 if config.spike_limit_percentage else hard // 5
        return hard, hard - spike

    def measure(self) -> int:
        return process_tree_rss()

    def check(self) -> None:
        self.last_check = time.monotonic()
        usage = self.measure()
        since_gc = time.monotonic() - self.last_gc
        if (usage > self.hard and since_gc >= self.config.min_gc_interval_when_hard_limited) or (
            usage > self.soft and since_gc >= self.config.min_gc_interval_when_soft_limited
        ):
            gc.collect()
            malloc.trim()
            self.last_gc = time.monotonic()
            self.m_forced_gc.inc()
            usage = self.measure()
        was = self.refusing
        self.refusing = usage > self.soft
        self.usage = usage
        self.m_usage.set(usage)
        if self.refusing != was:
            log = self.log.warning if self.refusing else self.log.info
            log("memory above the soft limit; refusing data" if self.refusing else "memory back below the soft limit; accepting data", usage_mib=round(usage / MIB, 1), soft_limit_mib=round(self.soft / MIB, 1), hard_limit_mib=round(self.hard / MIB, 1))

    async def start(self, host: Any) -> None:
        self.log.info("memory limits", soft_limit_mib=round(self.soft / MIB, 1), hard_limit_mib=round(self.hard / MIB, 1))
        self.check()
        self._task = asyncio.get_running_loop().create_task(self._loop())
        self._admission = host_admission(host)
        if self._admission is not None:
            self._admission.add(self)

    def admit(self, cost: int, reserved: int) -> RetryableError | None:
        """The receivers' reservation before decoding a request of estimated memory `cost` while `reserved`
        is in flight (collector/admission.py): refused when refusing anyway, or when the last measurement
        plus everything in flight would pass the soft limit (one request alone is always let in)."""
        if not self.refusing and reserved and self.usage + reserved + cost > self.watch_from:
            self._remeasure()
        if self.refusing:
            refusal = f"memory usage {self.usage / MIB:.0f} MiB is above the soft limit {self.soft / MIB:.0f} MiB"
        elif reserved and self.usage + reserved + cost > self.soft:
            refusal = (f"memory usage {self.usage / MIB:.0f} MiB plus {reserved / MIB:.0f} MiB of requests in flight plus this one's "
                       f"{cost / MIB:.0f} MiB would pass the soft limit {self.soft / MIB:.0f} MiB")
        else:
            return None
        self.m_refused_bytes.inc(cost // COST_FACTOR)
        return self._refusal(refusal)

    def may_read(self, reading: int, reserved: int) -> bool:
        """Reads (gRPC messages being received, collector/admission.py) may hold `reading` bytes while the last
        measurement plus `reserved` plus them stays under the hard limit: the spike headroom is for them."""
        if self.usage + reserved + reading <= self.hard:
            return True
        self._remeasure()
        return self.usage + reserved + reading <= self.hard

    def busy(self) -> RetryableError:
        return self._refusal("request not read in time: the memory allowed is taken by requests being read and in flight")

    def _refusal(self, why: str) -> RetryableError:
        return RetryableError(f"processor {self.id}: {why}; retry later", retry_after=max(1.0, float(self.config.check_interval)))

    def _remeasure(self) -> None:
        """Measures again if the last measurement is older than 10 ms."""
        if time.monotonic() - self.last_check >= 0.01:
            self.check()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(float(self.config.check_interval))
            self.check()

    async def consume(self, envelope: Envelope) -> Rejected | None:
        # It never takes the request, so what the receiver derived (its wire bytes) stays valid behind it.
        if not self.refusing and self.usage > self.watch_from and time.monotonic() - self.last_check >= 0.01:
            self.check()
        if self.refusing:
            self.m_refused.inc(envelope.items)
            # The error's traceback keeps this frame alive as long as anyone holds the error (e.g. while the
            # refusal is being sent): without `envelope` in it, the refused request can be freed meanwhile.
            del envelope
            raise RetryableError(
                f"processor {self.id}: memory usage {self.usage / MIB:.0f} MiB is above the soft limit {self.soft / MIB:.0f} MiB; retry later",
                retry_after=max(1.0, float(self.config.check_interval)),
            )
        return await self.next.consume(envelope)

    def refused(self, items: int) -> None:
        self.m_refused.inc(items)

    async def shutdown(self) -> None:
        if self._admission is not None:
            self._admission.remove(self)
            self._admission = None
        if self._task is not None:
            self._task.cancel()
            self._task = None
