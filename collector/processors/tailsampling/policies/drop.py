"""drop: drops the trace (overriding every sample vote) when every sub-policy would sample it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..buffer import TraceData
from ..config import DropConfig
from .and_ import And
from .base import DROPPED, NOT_SAMPLED, SAMPLED, Policy


class Drop(And):
    type_name = "drop"
    config_class = DropConfig

    @classmethod
    def from_config(cls, config: Any, build: Callable[[Any], Policy]) -> Policy:
        return cls([build(s) for s in config.drop_sub_policy])

    def evaluate(self, trace: TraceData) -> str:
        return DROPPED if super().evaluate(trace) == SAMPLED else NOT_SAMPLED
