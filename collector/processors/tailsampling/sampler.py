"""tail_sampling's decision rule over the configured policies, otelcol-contrib's (processor.go makeDecision),
as RULE says. Pure: no buffering, no metrics."""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from operator import or_
from typing import Any

from .buffer import TraceData
from .config import PolicyConfig
from .policies import DROPPED, SAMPLED, Drop, PolicyError, build_policy

RULE = """Drop policies are evaluated first, whatever their place in `policies`; a drop vote ends the
evaluation and the trace is not sampled, whatever else would sample it. Otherwise every policy votes, in
order (with `sample_on_first_match`, only up to the first that samples), and the trace is sampled when any
policy samples it, the first of them being the one `record_policy` names; when none does, it is not
sampled. `invert_match` is the plain negation of a policy's match and vetoes nothing, as in otelcol since
its `disableinvertdecisions` feature gate became the default and was removed (contrib PR #48976). A policy that errs
(an ottl_condition with error_mode propagate whose condition fails) casts no vote and the others still vote. The LLM
policies vote by the same rule. This is otelcol-contrib's tail_sampling (processor.go makeDecision)."""


@dataclass
class Decision:
    sampled: bool
    policy: str | None  # the first policy that sampled (or dropped)
    votes: dict[str, str]  # every evaluated policy -> vote


class Sampler:
    """The decision rule over a list of policies; `facts` are the intake facts they read."""

    def __init__(self, policies: list[PolicyConfig], sample_on_first_match: bool = False, log: Any = None):
        built = [build_policy(p, log) for p in policies]
        self.drops = [p for p in built if isinstance(p, Drop)]
        self.others = [p for p in built if not isinstance(p, Drop)]
        self.sample_on_first_match = sample_on_first_match
        self.facts: int = reduce(or_, (p.needs() for p in built), 0)

    def decide(self, trace: TraceData) -> Decision:
        votes: dict[str, str] = {}
        for drop in self.drops:
            try:
                vote = drop.evaluate(trace)
            except PolicyError as exc:
                drop.log.debug("sampling policy error", policy=drop.name, error=str(exc))
                continue
            votes[drop.name] = vote
            if vote == DROPPED:
                return Decision(False, drop.name, votes)
        first = None
        for p in self.others:
            try:
                vote = p.evaluate(trace)
            except PolicyError as exc:
                p.log.debug("sampling policy error", policy=p.name, error=str(exc))
                continue
            votes[p.name] = vote
            if vote == SAMPLED and first is None:
                first = p.name
                if self.sample_on_first_match:
                    break
        return Decision(first is not None, first, votes)
