"""attributes processor: otelcol-contrib's (processor/attributesprocessor). Applies its `actions`
(collector/processors/attraction.py) to the attributes of each span, log record or metric data point that
`include` / `exclude` select (collector/processors/filterconfig.py); for metrics the selection is by metric
name and the actions apply to every data point of a selected metric."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..client import client_metadata
from ..component import Capabilities, ComponentID, Processor, Rejected, Signal
from ..config import Invalid, option
from ..envelope import Envelope
from ..registry import register
from .attraction import ActionConfig, AttrProc, context_keys_without_source
from .filterconfig import MatchConfig, skip_all, skip_for, skip_none


@dataclass
class AttributesConfig(MatchConfig):
    actions: list[ActionConfig] = option(factory=list, doc="The actions, applied in order to each selected item's attributes.")

    def validate(self) -> None:
        if not self.actions:
            raise Invalid('missing required field "actions"')


def context_warnings(actions: list[ActionConfig], field: str) -> list[tuple[str, str]]:
    return [(f"{field}[{i}].from_context", f'"{key}" has no source here: the receivers carry client metadata only (headers / gRPC metadata), '
             "no client address or authenticator data; the action finds no value and does nothing")
            for i, key in context_keys_without_source(actions)]


ACTIONS_PROSE = """Actions apply in the order written. `insert` sets `key` only where it is absent, `update` only where it
is present, `upsert` either way, from `value`, `from_attribute` or `from_context` (with `default_value` when
that provides nothing). `delete` and `hash` (SHA-256 hex of the string, of a bool's byte, of an int's or a
double's 8 little-endian bytes, as otelcol) act on `key` and on every key `pattern` finds. `extract` needs a
pattern whose groups are all named: `(?P<name>...)`. Patterns written for otelcol (Go's RE2 syntax) are
matched with Python's `re`, which reads RE2's common syntax the same way (`(?<name>...)` is taken as
`(?P<name>...)`); a match may be anywhere in the string unless anchored with `^` and `$`."""

MATCH_PROSE = """An item is processed when it matches `include` (if given) and does not match `exclude` (if given).
Within a block every property written must match; in a list property (services, span_names, ...) one entry
is enough. `match_type: strict` compares whole strings and typed values; `regexp` matches the value as a
string. Spans accept services, span_names, span_kinds, attributes, resources and libraries; logs
log_bodies, log_severity_texts, log_severity_number, attributes, resources and libraries; metrics
metric_names (and resources, which, as in otelcol, select nothing: a block with only resources applies to
every metric)."""


@register
class AttributesProcessor(Processor):
    type_name = "attributes"
    description = "Inserts, updates, upserts, deletes, hashes, extracts or converts span, log record and data point attributes (otelcol's actions, include/exclude)."
    config_class = AttributesConfig
    capabilities = Capabilities(mutates_data=True)

    @classmethod
    def reference_sections(cls) -> list[tuple[str, str, type | None]]:
        return [("Actions", ACTIONS_PROSE, None), ("include and exclude", MATCH_PROSE, None)]

    @classmethod
    def validate_usage(cls, id: ComponentID, config: AttributesConfig, signals: set[Signal]) -> list[str]:
        return config.match_problems(signals)

    @classmethod
    def ineffective_keys(cls, config: AttributesConfig) -> list[tuple[str, str]]:
        out = context_warnings(config.actions, "actions")
        for name in ("include", "exclude"):
            props = getattr(config, name)
            if props is not None and props.regexp is not None:
                out.append((f"{name}.regexp", "otelcol's regexp result cache; patterns are compiled once and matched directly here"))
        return out

    def __init__(self, settings: Any, config: AttributesConfig, next_consumer: Any):
        super().__init__(settings, config, next_consumer)
        self.actions = AttrProc(config.actions)
        self.skip = skip_for(config, self.signal)

    async def consume(self, envelope: Envelope) -> Rejected | None:
        request = envelope.request
        metadata = client_metadata.get()
        process, skip = self.actions.process, self.skip
        if self.signal is Signal.TRACES:
            for rs in request.resource_spans:
                for ss in rs.scope_spans:
                    self._apply(ss.spans, skip.scoped(rs.resource, ss.scope) if skip.active else skip_none, metadata)
        elif self.signal is Signal.LOGS:
            for rl in request.resource_logs:
                for sl in rl.scope_logs:
                    self._apply(sl.log_records, skip.scoped(rl.resource, sl.scope) if skip.active else skip_none, metadata)
        else:
            for rm in request.resource_metrics:
                for sm in rm.scope_metrics:
                    skips = skip.scoped(rm.resource, sm.scope) if skip.active else skip_none
                    if skips is skip_all:
                        continue
                    for metric in sm.metrics:
                        kind = metric.WhichOneof("data")
                        if kind is None or skips(metric):
                            continue
                        for point in getattr(metric, kind).data_points:
                            process(point.attributes, metadata)
        return await self.next.consume(envelope)

    def _apply(self, items: Any, skips: Callable[[Any], bool], metadata: Any) -> None:
        if skips is skip_all:
            return
        process = self.actions.process
        if skips is skip_none:
            for item in items:
                process(item.attributes, metadata)
            return
        for item in items:
            if not skips(item):
                process(item.attributes, metadata)
