"""count's configuration (contrib connector/countconnector config.go): per kind of item — `spans`,
`spanevents`, `metrics`, `datapoints`, `logs` — the count metrics to emit, by name, each with a
`description`, OTTL `conditions` (ORed: an item is counted when one holds; all are counted without any) and
`attributes` (`key`, `default_value`) giving one data point per distinct set of values. A kind given no
metric of its own keeps its default (trace.span.count, trace.span.event.count, metric.count,
metric.datapoint.count, log.record.count); one given any emits only those. Conditions compile here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ... import ottl
from ...config import option

DEFAULTS = {
    "spans": ("trace.span.count", "The number of spans observed."),
    "spanevents": ("trace.span.event.count", "The number of span events observed."),
    "metrics": ("metric.count", "The number of metrics observed."),
    "datapoints": ("metric.datapoint.count", "The number of data points observed."),
    "logs": ("log.record.count", "The number of log records observed."),
}
CONTEXTS = {"spans": "span", "spanevents": "spanevent", "metrics": "metric", "datapoints": "datapoint", "logs": "log"}


@dataclass
class AttributeConfig:
    key: str = option("", "The attribute whose value splits the count: the item's attribute, else its scope's, else its resource's.")
    default_value: str | int | float | None = option(None, "The value counted under when no item, scope or resource attribute has the key; without it such items are not counted.")


@dataclass
class MetricInfo:
    description: str = option("", "The metric's description.")
    conditions: list[str] = option(factory=list, doc="OTTL conditions in the item's context, ORed; every item is counted when there are none.")
    attributes: list[AttributeConfig] = option(factory=list, doc="Attributes splitting the count into one data point per distinct set of values.")
    tests: list[Callable[[Any], bool]] = field(default_factory=list, init=False, repr=False, compare=False)


class Counts(dict):
    """One kind's count metrics by name (the key names the kind); its default when none is written."""

    doc_type = "mapping of metric name to {description, conditions, attributes}"
    doc_entries = ((".<name>.", MetricInfo),)
    kind = ""

    @classmethod
    def from_config(cls, decoder: Any, value: Any, path: tuple) -> Counts:
        out = cls()
        out.kind = kind = str(path[-1])
        if not value:
            return out
        if not isinstance(value, dict):
            decoder.error(path, "expected a mapping of metric names to {description, conditions, attributes}")
            return out
        for name, raw in value.items():
            here = path + (name,)
            if not str(name):
                decoder.error(here, "metric name missing")
                continue
            info = decoder.decode(MetricInfo, raw, here)
            keys = [a.key for a in info.attributes]
            for i, attribute in enumerate(info.attributes):
                if not attribute.key:
                    decoder.error(here + ("attributes", i), "attribute key missing")
                elif attribute.key in keys[:i]:
                    decoder.error(here + ("attributes", i, "key"), f'attribute "{attribute.key}" given more than once')
            if kind == "metrics" and info.attributes:
                decoder.error(here + ("attributes",), f"metrics attributes not supported: {name}")
            for i, text in enumerate(info.conditions):
                try:
                    info.tests.append(ottl.condition(text, CONTEXTS[kind]))
                except ottl.OTTLError as exc:
                    decoder.error(here + ("conditions", i), str(exc))
            out[str(name)] = info
        return out

    def metrics(self) -> dict[str, MetricInfo]:
        """What to emit: the configured metrics, else this kind's default."""
        if self:
            return dict(self)
        name, description = DEFAULTS[self.kind]
        return {name: MetricInfo(description=description)}


def _counts(kind: str) -> Any:
    def make() -> Counts:
        out = Counts()
        out.kind = kind
        return out
    return make


@dataclass
class CountConfig:
    spans: Counts = option(factory=_counts("spans"), doc="Span counts (span context). Default: trace.span.count.")
    spanevents: Counts = option(factory=_counts("spanevents"), doc="Span event counts (spanevent context). Default: trace.span.event.count.")
    metrics: Counts = option(factory=_counts("metrics"), doc="Metric counts (metric context; no attributes). Default: metric.count.")
    datapoints: Counts = option(factory=_counts("datapoints"), doc="Data point counts (datapoint context). Default: metric.datapoint.count.")
    logs: Counts = option(factory=_counts("logs"), doc="Log record counts (log context). Default: log.record.count.")

