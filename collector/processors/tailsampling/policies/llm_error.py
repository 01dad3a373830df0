"""llm_error: samples traces with a failed generation: an ERROR status or one of finish_reasons."""

from __future__ import annotations

from ..buffer import TraceData
from ..config import LLMErrorConfig
from .base import Match


class LLMError(Match):
    type_name = "llm_error"
    config_class = LLMErrorConfig

    def __init__(self, c: LLMErrorConfig):
        self.reasons = {r.lower() for r in c.finish_reasons}

    def matches(self, trace: TraceData) -> bool:
        reasons = self.reasons
        for view in trace.views():
            if not view.is_generation:
                continue
            if view.errored or any(r.lower() in reasons for r in view.finish_reasons):
                return True
        return False
