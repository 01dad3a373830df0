"""composite: otelcol's, sub-policies in policy_order, each limited to its share of
max_total_spans_per_second; the first that samples within its share samples the trace."""

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

    def __init__(self, c: CompositeConfig, subs: dict[str, Policy], clock: Callable[[], float] = time.monotonic):
        order = c.policy_order or list(subs)
        total = c.max_total_spans_per_second
        default = total // max(1, len(subs))
        # otelcol: a listed percentage > 0 gets that share, a listed 0 an equal share, an unlisted policy none.
        # Without any rate_allocation every sub-policy gets an equal share.
        shares = {a.policy: (total * a.percent // 100 if a.percent > 0 else default) for a in c.rate_allocation}
        self.subs = [(name, subs[name], shares.get(name, 0) if c.rate_allocation else default) for name in order]
        self.total = c.max_total_spans_per_second
        self.clock = clock
        self.second = -1
        self.spent: dict[str, int] = {}
        self.spent_total = 0

    @classmethod
    def from_config(cls, config: Any, build: Callable[[Any], Policy]) -> Policy:
        return cls(config, {s.name: build(s) for s in config.composite_sub_policy})

    def needs(self) -> int:
        return reduce(or_, (sub.needs() for _, sub, _ in self.subs), self.facts)

    def evaluate(self, trace: TraceData) -> str:
        now = int(self.clock())
        if now != self.second:
            self.second, self.spent, self.spent_total = now, {}, 0
        n = trace.span_count
        for name, sub, limit in self.subs:
            if sub.evaluate(trace) != SAMPLED:
                continue
            used = self.spent.get(name, 0)
            if used + n <= limit and self.spent_total + n <= self.total:
                self.spent[name] = used + n
                self.spent_total += n
                return SAMPLED
        return NOT_SAMPLED
