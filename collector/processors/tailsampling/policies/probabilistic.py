"""probabilistic: samples sampling_percentage of the traces, deterministically on the trace id (otelcol:
FNV-1a 64 of salt + trace id, sampled when at or below ratio * MaxUint64)."""

from __future__ import annotations

from ....wire.spans import fnv1a64, fnv1a64_hasher
from ..buffer import TraceData
from ..config import ProbabilisticConfig
from .base import Match

DEFAULT_HASH_SALT = "default-hash-seed"


class Probabilistic(Match):
    type_name = "probabilistic"
    config_class = ProbabilisticConfig

    def __init__(self, c: ProbabilisticConfig):
        # The hash is byte by byte, so the state after the salt is computed once.
        self.salted = fnv1a64((c.hash_salt or DEFAULT_HASH_SALT).encode())
        self.threshold = min(int(c.sampling_percentage / 100 * 2**64), 2**64 - 1)
        self.percentage = c.sampling_percentage
        self.fnv = fnv1a64_hasher()

    def matches(self, trace: TraceData) -> bool:
        if self.percentage <= 0:
            return False
        return self.fnv(trace.trace_id, self.salted) <= self.threshold
