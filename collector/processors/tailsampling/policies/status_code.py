"""status_code: samples traces with a span whose status code is one of status_codes."""

from __future__ import annotations

from ..buffer import STATUSES, TraceData
from ..config import STATUS_CODES, StatusCodeConfig
from .base import Match


class StatusCode(Match):
    type_name = "status_code"
    config_class = StatusCodeConfig
    facts = STATUSES

    def __init__(self, c: StatusCodeConfig):
        self.codes = {STATUS_CODES[s] for s in c.status_codes}

    def matches(self, trace: TraceData) -> bool:
        return trace.has_status(self.codes)
