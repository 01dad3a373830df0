"""llm_tokens: samples traces whose LLM calls used at least min_tokens input + output tokens."""

from __future__ import annotations

from ..buffer import TraceData
from ..config import LLMTokensConfig
from ..rollup import trace_tokens
from .base import Match


class LLMTokens(Match):
    type_name = "llm_tokens"
    config_class = LLMTokensConfig

    def __init__(self, c: LLMTokensConfig):
        self.min_tokens = c.min_tokens

    def matches(self, trace: TraceData) -> bool:
        return sum(trace_tokens(trace)) >= self.min_tokens
