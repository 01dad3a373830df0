"""A bounded quantile sketch for latencies (DDSketch's log-spaced buckets, Masson et al., VLDB 2019).

Every value v > 0 lands in bucket ceil(log_gamma(v)) with gamma = (1 + a) / (1 - a), so a quantile read back
is within relative error `a` of a value of the stream at that rank. The number of buckets is capped: past the
cap the lowest buckets are merged into one (DDSketch's collapsing rule), which only coarsens the fastest
values, never p50 and above unless the range of values spans more than `max_buckets` * 2a in log terms
(at the defaults 1% and 2,048 buckets: about 18 orders of magnitude). Memory is O(max_buckets) whatever
the number of values.
"""

from __future__ import annotations

import math

# Latencies under this (1 ns) are counted as zero.
MIN_VALUE = 1e-9


class QuantileSketch:
    __slots__ = ("count", "zeros", "buckets", "_log_gamma", "_gamma", "max_buckets")

    def __init__(self, relative_accuracy: float = 0.01, max_buckets: int = 2048):
        self._gamma = (1 + relative_accuracy) / (1 - relative_accuracy)
        self._log_gamma = math.log(self._gamma)
        self.max_buckets = max_buckets
        self.count = 0
        self.zeros = 0
        self.buckets: dict[int, int] = {}

    def add(self, value: float) -> None:
        self.count += 1
        if value < MIN_VALUE:
            self.zeros += 1
            return
        index = math.ceil(math.log(value) / self._log_gamma)
        buckets = self.buckets
        buckets[index] = buckets.get(index, 0) + 1
        if len(buckets) > self.max_buckets:
            self._collapse()

    def _collapse(self) -> None:
        lowest, second = sorted(self.buckets)[:2]
        self.buckets[second] += self.buckets.pop(lowest)

    def quantile(self, q: float) -> float | None:
        """The value at quantile q (0..1), within the relative accuracy; None when empty."""
        if not self.count:
            return None
        rank = q * (self.count - 1)
        seen = self.zeros
        if rank < seen:
            return 0.0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen > rank:
                return 2 * self._gamma**index / (self._gamma + 1)
        return 2 * self._gamma ** max(self.buckets) / (self._gamma + 1)
