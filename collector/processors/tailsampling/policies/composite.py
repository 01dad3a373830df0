"""composite: otelcol's (composite.go Evaluate, composite_helper.go getRateAllocationMap). The sub-policies
are evaluated in composite_sub_policy order (policy_order is not read); the first that samples decides:
the trace is sampled when that sub-policy's spans this second plus the trace's stay within both its
allocation and max_total_spans_per_second, and otherwise not sampled, without asking the sub-policies after
it. A sub-policy's allocation is percent % of max_total_spans_per_second, or an equal share for percent 0,
and nothing when rate_allocation does not list it. The counts restart at each wall-clock second."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import reduce
from operator import or_
from typing import Any

from ..buffer import TraceData
from ..config import CompositeConfig
from .base import NOT_SAMPLED, SAMPLED, Policy


class Composite(Policy):
    type_name = "composite"
    config_class = CompositeConfig

    def __init__(self, c: CompositeConfig, subs: list[Policy], clock: Callable[[], float] = time.time):
        total = c.max_total_spans_per_second
        equal = total / max(1, len(subs))
        shares = {a.policy: int(a.percent / 100 * total if a.percent > 0 else equal) for a in c.rate_allocation}
        self.subs = [(sub, shares.get(sub.name, 0)) for sub in subs]
        self.total = total
        self.clock = clock
        self.second = 0
        self.spent = [0] * len(subs)

    @classmethod
    def from_config(cls, config: Any, build: Callable[[Any], Policy]) -> Policy:
        return cls(config, [build(s) for s in config.composite_sub_policy])

    def needs(self) -> int:
        return reduce(or_, (sub.needs() for sub, _ in self.subs), self.facts)

    def evaluate(self, trace: TraceData) -> str:
        now = int(self.clock())
        spent = self.spent
        if now != self.second:
            self.second = now
            spent[:] = [0] * len(spent)
        for i, (sub, share) in enumerate(self.subs):
            if sub.evaluate(trace) != SAMPLED:
                continue
            if_sampled = spent[i] + trace.span_count
            if if_sampled <= share and if_sampled <= self.total:
                spent[i] = if_sampled
                return SAMPLED
            return NOT_SAMPLED
        return NOT_SAMPLED
