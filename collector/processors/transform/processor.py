"""The transform processor: each group of statements in config order over the request's items of its context.

Statements change the request in place (`mutates_data`: a fan-out gives this processor its own copy, so
another pipeline's exporter sees the data as received). Under error_mode propagate a failing statement
fails the request with a permanent error, as otelcol's returns it to the receiver. A request in whose wire bytes
none of the statements' where-clauses (or group conditions) can hold is passed on without being parsed into
items (collector/ottl/prefilter.py)."""

from __future__ import annotations

from typing import Any

from ...component import Capabilities, PermanentError, Processor, Rejected
from ...envelope import Envelope
from ...ottl.groups import StatementFailed, may_apply, run_group
from ...registry import register
from . import semconv_span_name  # noqa: F401  (registers transform's own OTTL function)
from .config import TransformConfig


@register
class TransformProcessor(Processor):
    type_name = "transform"
    description = "Rewrites spans, span events, logs, metrics and data points with OTTL statements (otelcol's transform processor)."
    config_class = TransformConfig
    capabilities = Capabilities(mutates_data=True)

    def __init__(self, settings: Any, config: TransformConfig, next_consumer: Any):
        super().__init__(settings, config, next_consumer)
        self.groups = config.groups(self.signal.value)
        self.may_apply = may_apply(self.groups)

    async def consume(self, envelope: Envelope) -> Rejected | None:
        if not self.groups:
            return await self.next.consume(envelope)
        if self.may_apply is not None:
            wire = envelope.wire()
            if wire is not None and not self.may_apply(wire):
                # No where-clause can hold in these bytes: nothing would change, so the request is not
                # taken and its wire bytes and views stay attached for the processors after this one.
                return await self.next.consume(envelope)
        request = envelope.request
        signal = self.signal.value
        try:
            for group in self.groups:
                run_group(group, signal, request, self._failed)
        except StatementFailed as exc:
            raise PermanentError(str(exc)) from None
        return await self.next.consume(envelope)

    def _failed(self, statement: str, exc: Exception) -> None:
        self.log.warning("failed to execute statement", statement=statement, error=str(exc))
