"""filter's configuration (otelcol-contrib processor/filterprocessor config.go): `error_mode` and OTTL
conditions by signal and context — `traces: {span, spanevent}`, `logs: {log_record}`, `metrics: {metric,
datapoint}`. An item is dropped when any of its context's conditions holds. Conditions are compiled here, so a
bad one is a config error naming its file, line, the condition and the column of the problem.

otelcol's older `include`/`exclude` match blocks (`spans:`, `logs.include`, `metrics.include`) are refused with
the OTTL condition to write instead; `profiles:` is accepted for otelcol's profiles pipelines, which this
daemon does not run (a start-up warning says so)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ... import ottl
from ...config import option

ErrorMode = Literal["ignore", "silent", "propagate"]


class Conditions(list):
    """Compiled OTTL conditions of one context (which the key names)."""

    doc_type = "list of OTTL condition"
    context = ""

    @classmethod
    def from_config(cls, decoder: Any, value: Any, path: tuple) -> Conditions:
        out = cls()
        context = {"span": "span", "spanevent": "spanevent", "log_record": "log", "metric": "metric", "datapoint": "datapoint"}[str(path[-1])]
        out.context = context
        if value is None:
            return out
        if not isinstance(value, list):
            decoder.error(path, "expected a list of OTTL conditions")
            return out
        for i, text in enumerate(value):
            if not isinstance(text, str):
                decoder.error(path + (i,), "expected an OTTL condition (a string)")
                continue
            try:
                out.append(ottl.condition(text, context))
            except ottl.OTTLError as exc:
                decoder.error(path + (i,), str(exc))
                continue
            out.texts.append(text)
        return out

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []


_LEGACY = ("otelcol's include/exclude match blocks are not supported here; write the match as an OTTL condition, "
           'e.g. traces: {span: [\'resource.attributes["service.name"] == "checkout"\']}')


def _legacy(decoder: Any, value: Any, path: tuple, keys: tuple[str, ...]) -> None:
    if isinstance(value, dict):
        for key in keys:
            if key in value:
                decoder.error(path + (key,), _LEGACY)


@dataclass
class TraceConditions:
    span: Conditions = option(factory=Conditions, doc="Drop a span when any of these holds (span context).")
    spanevent: Conditions = option(factory=Conditions, doc="Drop a span event when any of these holds (spanevent context).")


@dataclass
class LogConditions:
    log_record: Conditions = option(factory=Conditions, doc="Drop a log record when any of these holds (log context).")

    @classmethod
    def from_config(cls, decoder: Any, value: Any, path: tuple) -> LogConditions:
        _legacy(decoder, value, path, ("include", "exclude"))
        rest = {k: v for k, v in value.items() if k not in ("include", "exclude")} if isinstance(value, dict) else value
        return decoder.decode_fields(cls, rest, path)


@dataclass
class MetricConditions:
    metric: Conditions = option(factory=Conditions, doc="Drop a metric when any of these holds (metric context).")
    datapoint: Conditions = option(factory=Conditions, doc="Drop a data point when any of these holds (datapoint context); a metric left without data points is dropped.")

    @classmethod
    def from_config(cls, decoder: Any, value: Any, path: tuple) -> MetricConditions:
        _legacy(decoder, value, path, ("include", "exclude"))
        rest = {k: v for k, v in value.items() if k not in ("include", "exclude")} if isinstance(value, dict) else value
        return decoder.decode_fields(cls, rest, path)


class LegacySpans(dict):
    doc_type = "mapping (refused)"

    @classmethod
    def from_config(cls, decoder: Any, value: Any, path: tuple) -> LegacySpans:
        if value:
            decoder.error(path, _LEGACY)
        return cls()


PROFILES_REASON = "this daemon has no profiles signal (otelcol's profiles pipelines are refused), so profile conditions never run"


@dataclass
class FilterConfig:
    error_mode: ErrorMode = option("propagate", "What a condition that fails to evaluate does: propagate (the request fails; otelcol's default), ignore (log it, keep the item), silent (keep the item).")
    traces: TraceConditions = option(factory=TraceConditions, doc="Conditions on spans and span events.")
    logs: LogConditions = option(factory=LogConditions, doc="Conditions on log records.")
    metrics: MetricConditions = option(factory=MetricConditions, doc="Conditions on metrics and data points.")
    spans: LegacySpans = option(factory=LegacySpans, doc="otelcol's older include/exclude match config: refused, with the OTTL condition to write instead.")
    profiles: dict[str, Any] | None = option(None, f"otelcol's profile conditions. No effect here: {PROFILES_REASON} (a start-up warning says so).")
