"""and: otelcol's (and.go). Samples when every sub-policy samples.

The module is named `and_`: `and` is a Python keyword."""

from __future__ import annotations

from collections.abc import Callable
from functools import reduce
from operator import or_
from typing import Any, ClassVar

from ..buffer import TraceData
from ..config import AndConfig
from .base import NOT_SAMPLED, SAMPLED, Policy


class And(Policy):
    type_name = "and"
    config_class: ClassVar[type] = AndConfig  # declared as the base's: drop subclasses it with its own config

    def __init__(self, subs: list[Policy]):
        self.subs = subs

    @classmethod
    def from_config(cls, config: Any, build: Callable[[Any], Policy]) -> Policy:
        return cls([build(s) for s in config.and_sub_policy])

    def needs(self) -> int:
        return reduce(or_, (sub.needs() for sub in self.subs), self.facts)

    def evaluate(self, trace: TraceData) -> str:
        for sub in self.subs:
            if sub.evaluate(trace) != SAMPLED:
                return NOT_SAMPLED
        return SAMPLED
