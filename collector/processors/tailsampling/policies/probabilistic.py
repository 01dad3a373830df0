"""probabilistic: otelcol's (probabilistic.go). Samples sampling_percentage of the traces, deterministically
on the trace id: FNV-1a 64 of salt + trace id, sampled when at or below the threshold, MaxUint64 times the
ratio as Go's big.Float computes it (calculateThreshold)."""

from __future__ import annotations

from fractions import Fraction

from ....wire.spans import fnv1a64, fnv1a64_hasher
from ..buffer import TraceData
from ..config import ProbabilisticConfig
from .base import Match

DEFAULT_HASH_SALT = "default-hash-seed"
MAX_UINT64 = (1 << 64) - 1


def threshold(ratio: float) -> int:
    """calculateThreshold: big.Float(MaxUint64) (64-bit mantissa) times the float ratio, rounded to 64 bits
    (to nearest, ties to even), then Uint64(): truncated, and MaxUint64 from 2**64 up."""
    product = Fraction(ratio) * MAX_UINT64
    if product <= 0:
        return 0
    shift = product.numerator.bit_length() - product.denominator.bit_length() - 64
    while product / Fraction(2) ** shift >= 1 << 64:
        shift += 1
    while product / Fraction(2) ** shift < 1 << 63:
        shift -= 1
    mantissa = round(product / Fraction(2) ** shift)  # Fraction rounds half to even
    value = Fraction(mantissa) * Fraction(2) ** shift
    return min(int(value), MAX_UINT64)


class Probabilistic(Match):
    type_name = "probabilistic"
    config_class = ProbabilisticConfig

    def __init__(self, c: ProbabilisticConfig):
        # The hash is byte by byte, so the state after the salt is computed once.
        self.salted = fnv1a64((c.hash_salt or DEFAULT_HASH_SALT).encode())
        self.threshold = threshold(c.sampling_percentage / 100)
        self.fnv = fnv1a64_hasher()

    def matches(self, trace: TraceData) -> bool:
        return self.fnv(trace.trace_id, self.salted) <= self.threshold
