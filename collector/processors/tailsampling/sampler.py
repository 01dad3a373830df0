"""tail_sampling's decision rule over the configured policies (otelcol's): drop policies are evaluated first
and any drop vote wins; otherwise any sample vote samples the trace; otherwise it is not sampled. With
`sample_on_first_match` evaluation stops at the first policy that samples. Pure: no buffering, no metrics."""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from operator import or_

from .buffer import TraceData
from .config import PolicyConfig
from .policies import DROPPED, SAMPLED, Drop, build_policy


@dataclass
class Decision:
    sampled: bool
    policy: str | None  # the first policy that sampled (or dropped)
    votes: dict[str, str]  # every evaluated policy -> vote


class Sampler:
    """The decision rule over a list of policies; `facts` are the intake facts they read."""

    def __init__(self, policies: list[PolicyConfig], sample_on_first_match: bool = False):
        built = [build_policy(p) for p in policies]
        self.drops = [p for p in built if isinstance(p, Drop)]
        self.others = [p for p in built if not isinstance(p, Drop)]
        self.sample_on_first_match = sample_on_first_match
        self.facts: int = reduce(or_, (p.needs() for p in built), 0)

    def decide(self, trace: TraceData) -> Decision:
        votes: dict[str, str] = {}
        for drop in self.drops:
            vote = drop.evaluate(trace)
            votes[drop.name] = vote
            if vote == DROPPED:
                return Decision(False, drop.name, votes)
        first = None
        for p in self.others:
            vote = p.evaluate(trace)
            votes[p.name] = vote
            if vote == SAMPLED and first is None:
                first = p.name
                if self.sample_on_first_match:
                    break
        return Decision(first is not None, first, votes)
