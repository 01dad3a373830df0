"""llm_cost: samples traces whose spans' gen_ai.usage.cost add up to at least min_usd."""

from __future__ import annotations

from ..buffer import TraceData
from ..config import LLMCostConfig
from ..rollup import trace_cost
from .base import Match


class LLMCost(Match):
    type_name = "llm_cost"
    config_class = LLMCostConfig

    def __init__(self, c: LLMCostConfig):
        self.min_usd = c.min_usd

    def matches(self, trace: TraceData) -> bool:
        return trace_cost(trace) >= self.min_usd
