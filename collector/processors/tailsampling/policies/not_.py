"""not: otelcol's (not.go). Reverses the vote of its one sub-policy: sampled becomes not sampled and not
sampled becomes sampled.

The module is named `not_`: `not` is a Python keyword."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..buffer import TraceData
from ..config import NotConfig
from .base import NOT_SAMPLED, SAMPLED, Policy


class Not(Policy):
    type_name = "not"
    config_class = NotConfig

    def __init__(self, sub: Policy):
        self.sub = sub

    @classmethod
    def from_config(cls, config: Any, build: Callable[[Any], Policy]) -> Policy:
        return cls(build(config.not_sub_policy))

    def needs(self) -> int:
        return self.sub.needs() | self.facts

    def evaluate(self, trace: TraceData) -> str:
        vote = self.sub.evaluate(trace)
        return NOT_SAMPLED if vote == SAMPLED else SAMPLED if vote == NOT_SAMPLED else vote
