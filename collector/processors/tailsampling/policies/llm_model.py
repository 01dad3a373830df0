"""llm_model: samples traces with an LLM call to one of the models (response model, else request model) or
providers."""

from __future__ import annotations

from ..buffer import TraceData
from ..config import LLMModelConfig
from .base import Match, string_matcher


class LLMModel(Match):
    type_name = "llm_model"
    config_class = LLMModelConfig

    def __init__(self, c: LLMModelConfig):
        self.c = c
        self.model_match = string_matcher(c.models, c.enabled_regex_matching)
        self.provider_match = string_matcher([p.lower() for p in c.providers] if not c.enabled_regex_matching else c.providers, c.enabled_regex_matching)
        self.invert = c.invert_match

    def matches(self, trace: TraceData) -> bool:
        c, model_match, provider_match = self.c, self.model_match, self.provider_match
        for view in trace.views():
            models = [m for m in (view.response_model, view.request_model) if m]
            if c.models and any(model_match(m) for m in models):
                return True
            if c.providers and view.provider and provider_match(view.provider):
                return True
        return False
