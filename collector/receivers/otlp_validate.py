"""The OTLP receiver's checks of decoded requests: items the OTLP protos call invalid are refused one by
one (counted as partial_success), so the rest of a request still goes through."""

from __future__ import annotations

from typing import Any

from ..component import Rejected, Signal


def _reject_invalid_spans(req: Any) -> Rejected | None:
    """A span needs a 16-byte trace id and an 8-byte span id, not all zero (OTLP trace.proto). Such spans
    are refused individually, so the rest of the request still goes through."""
    bad = 0
    for rs in req.resource_spans:
        for ss in rs.scope_spans:
            spans = ss.spans
            invalid = [i for i, span in enumerate(spans) if not _valid_ids(span.trace_id, span.span_id)]
            for i in reversed(invalid):
                del spans[i]
            bad += len(invalid)
    if bad:
        _prune(req.resource_spans, "scope_spans", "spans")
        return Rejected(bad, f"{bad} span(s) with an invalid trace_id or span_id (need 16 and 8 bytes, not all zero)")
    return None


def _valid_ids(trace_id: bytes, span_id: bytes) -> bool:
    return len(trace_id) == 16 and len(span_id) == 8 and trace_id != _ZERO16 and span_id != _ZERO8


_ZERO16 = bytes(16)
_ZERO8 = bytes(8)


def _reject_invalid_logs(req: Any) -> Rejected | None:
    """Log correlation ids are optional, but when present they must have the right length."""
    bad = 0
    for rl in req.resource_logs:
        for sl in rl.scope_logs:
            records = sl.log_records
            invalid = [i for i, r in enumerate(records) if len(r.trace_id) not in (0, 16) or len(r.span_id) not in (0, 8)]
            for i in reversed(invalid):
                del records[i]
            bad += len(invalid)
    if bad:
        _prune(req.resource_logs, "scope_logs", "log_records")
        return Rejected(bad, f"{bad} log record(s) with a trace_id or span_id of the wrong length (need 16 and 8 bytes)")
    return None


def _prune(resources: Any, scopes_field: str, items_field: str) -> None:
    """Drop the scopes and resources that validation left empty, so exporters do not write husks.
    Only called after something was removed; a scope the client sent empty is also dropped."""
    for r in reversed(range(len(resources))):
        scopes = getattr(resources[r], scopes_field)
        for s in reversed(range(len(scopes))):
            if not len(getattr(scopes[s], items_field)):
                del scopes[s]
        if not len(scopes):
            del resources[r]


VALIDATORS = {Signal.TRACES: _reject_invalid_spans, Signal.LOGS: _reject_invalid_logs}


