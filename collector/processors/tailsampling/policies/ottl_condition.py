"""ottl_condition: otelcol's (ottl.go NewOTTLConditionFilter, Evaluate). Samples traces with a span for which
one of the `span` conditions holds, or a span event for which one of the `spanevent` conditions holds. Spans
are visited in the order they arrived; for each, its span conditions, then each of its events with the
spanevent conditions; the first match samples the trace.

A condition that fails to evaluate follows error_mode, as otelcol's ConditionSequence.Eval: with propagate
the policy errs at once (otelcol's Error decision): it casts no vote on the trace, and an `and`, `not`,
`drop` or `composite` holding it errs too. With ignore (logged) or silent the failing condition is false
and the next one is tried."""

from __future__ import annotations

from typing import Any

from ....ottl import Ctx
from ..buffer import TraceData
from ..config import OTTLConditionConfig
from .base import NOT_SAMPLED, SAMPLED, Policy, PolicyError


class OTTLCondition(Policy):
    type_name = "ottl_condition"
    config_class = OTTLConditionConfig

    def __init__(self, c: OTTLConditionConfig):
        self.span_tests = list(c.span)
        self.event_tests = list(c.spanevent)
        self.error_mode = c.error_mode

    def _holds(self, tests: list[Any], ctx: Ctx) -> bool:
        for test in tests:
            try:
                if test(ctx):
                    return True
            except Exception as exc:  # noqa: BLE001 (client data: a failing condition follows error_mode)
                if self.error_mode == "propagate":
                    raise PolicyError(f"failed to evaluate an OTTL condition: {exc}") from None
                if self.error_mode == "ignore":
                    self.log.warning("failed to evaluate condition", policy=self.name, error=str(exc))
        return False

    def evaluate(self, trace: TraceData) -> str:
        span_tests, event_tests = self.span_tests, self.event_tests
        for _, rshell, _, sshell, span in trace.spans:
            resource, scope = rshell.resource, sshell.scope
            if span_tests and self._holds(span_tests, Ctx(resource, scope, span)):
                return SAMPLED
            if event_tests:
                for i, event in enumerate(span.events):
                    ctx = Ctx(resource, scope, span, event)
                    ctx.event_index = i
                    if self._holds(event_tests, ctx):
                        return SAMPLED
        return NOT_SAMPLED
