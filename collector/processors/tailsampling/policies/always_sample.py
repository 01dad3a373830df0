"""always_sample: samples every trace."""

from __future__ import annotations

from ..buffer import TraceData
from ..config import AlwaysSampleConfig
from .base import Match


class AlwaysSample(Match):
    type_name = "always_sample"
    config_class = AlwaysSampleConfig

    def __init__(self, c: AlwaysSampleConfig):
        pass

    def matches(self, trace: TraceData) -> bool:
        return True
