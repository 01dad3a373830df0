"""What every tail_sampling policy is: a vote on a whole trace, and the intake facts it reads.

A policy type is one class (one module in this package) with `type_name` (its `type` in the config),
`config_class` (its settings, from config.py) and `facts` (the TraceData facts gathered at intake that
`evaluate` reads, so intake gathers only those). Policies made of sub-policies combine their children's
facts in `needs`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any, ClassVar

import structlog

from ..buffer import TraceData

# Policy votes.
SAMPLED = "sampled"
NOT_SAMPLED = "not_sampled"
DROPPED = "dropped"


class PolicyError(Exception):
    """A policy could not evaluate a trace (otelcol's Error decision): it casts no vote, and a policy holding
    it as a sub-policy errs too (and.go, not.go, drop.go, composite.go return the error)."""


class Policy:
    type_name: ClassVar[str]
    config_class: ClassVar[type]
    facts: ClassVar[int] = 0  # buffer.TIMES / STATUSES read by evaluate
    name: str = ""  # the configured policy's name, set by build_policy
    log: Any = structlog.get_logger(component="tail_sampling")  # the processor's, set by build_policy

    @classmethod
    def from_config(cls, config: Any, build: Callable[[Any], Policy]) -> Policy:
        """The policy for its settings; `build` makes a sub-policy from its PolicyConfig."""
        return cls(config)  # type: ignore[call-arg]

    def needs(self) -> int:
        """The intake facts this policy reads, its sub-policies' included."""
        return self.facts

    def evaluate(self, trace: TraceData) -> str:
        raise NotImplementedError


class Match(Policy):
    """A policy that samples the traces it matches (or, with `invert`, those it does not)."""

    invert = False

    def matches(self, trace: TraceData) -> bool:
        raise NotImplementedError

    def evaluate(self, trace: TraceData) -> str:
        return SAMPLED if self.matches(trace) != self.invert else NOT_SAMPLED


class TokenBucket(Policy):
    """otelcol's rate_limiting and bytes_limiting: golang.org/x/time/rate's token bucket. It starts full
    (`capacity` tokens), refills at `rate` tokens a second up to `capacity`, and samples a trace when its
    tokens can all be taken now (AllowN): a trace needing more than `capacity` never passes."""

    def __init__(self, rate: int, capacity: int, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.capacity = capacity
        self.tokens = float(capacity)
        self.clock = clock
        self.last = clock()

    def take(self, n: int) -> str:
        now = self.clock()
        tokens = min(self.capacity, self.tokens + max(0.0, now - self.last) * self.rate)
        if n <= tokens:  # as AllowN: the bucket changes only when the tokens are taken
            self.tokens, self.last = tokens - n, now
            return SAMPLED
        return NOT_SAMPLED


def string_matcher(values: list[str], regex: bool) -> Callable[[str], bool]:
    """Whether a string is one of `values` (or, with `regex`, contains a match of one of them)."""
    if regex:
        patterns = [re.compile(v) for v in values]
        return lambda s: any(p.search(s) for p in patterns)
    wanted = set(values)
    return lambda s: s in wanted
