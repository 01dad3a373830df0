"""A minimal Prometheus registry with text exposition (format 0.0.4).

Why not prometheus_client: it always renames counters to `*_total`, while the OTel Collector exposes
`otelcol_receiver_accepted_spans` etc. without the suffix, and dashboards query those names. Its
inc() also takes a lock, which the single-threaded event loop never needs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

LabelValues = tuple[str, ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _format_value(value: float) -> str:
    if value == math.inf:
        return "+Inf"
    if value == -math.inf:
        return "-Inf"
    if value != value:
        return "NaN"
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def _labels(names: tuple[str, ...], values: LabelValues, extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


class _Value:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount

    def dec(self, amount: float = 1.0) -> None:
        self.value -= amount

    def set(self, value: float) -> None:
        self.value = value


class _HistogramValue:
    __slots__ = ("bounds", "counts", "sum", "count")

    def __init__(self, bounds: tuple[float, ...]):
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        i = 0
        for i, bound in enumerate(self.bounds):  # noqa: B007  (few buckets; bisect is not faster here)
            if value <= bound:
                break
        else:
            i = len(self.bounds)
        self.counts[i] += 1
        self.sum += value
        self.count += 1


class Family:
    kind = "untyped"

    def __init__(self, name: str, doc: str, labelnames: Iterable[str] = ()):
        self.name = name
        self.doc = doc
        self.labelnames = tuple(labelnames)
        self._children: dict[LabelValues, object] = {}

    def _new(self) -> object:
        return _Value()

    def labels(self, *values: str) -> object:
        if len(values) != len(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {values}")
        key = tuple(str(v) for v in values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self._new()
        return child

    def children(self) -> Iterable[tuple[LabelValues, object]]:
        """(label values, value) of every series: a `_Value`, or for a Histogram its bucket counts, sum
        and count."""
        return self._children.items()

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.doc}", f"# TYPE {self.name} {self.kind}"]
        for values, child in self._children.items():
            lines.extend(self._samples(values, child))
        return lines

    def _samples(self, values: LabelValues, child: object) -> list[str]:
        assert isinstance(child, _Value)
        return [f"{self.name}{_labels(self.labelnames, values)} {_format_value(child.value)}"]


class Counter(Family):
    kind = "counter"


class Gauge(Family):
    kind = "gauge"


class Histogram(Family):
    kind = "histogram"

    def __init__(self, name: str, doc: str, labelnames: Iterable[str] = (), buckets: Iterable[float] = ()):
        super().__init__(name, doc, labelnames)
        self.buckets = tuple(sorted(buckets))

    def _new(self) -> object:
        return _HistogramValue(self.buckets)

    def _samples(self, values: LabelValues, child: object) -> list[str]:
        assert isinstance(child, _HistogramValue)
        lines = []
        cumulative = 0
        for bound, count in zip((*child.bounds, math.inf), child.counts, strict=True):
            cumulative += count
            le = f'le="{_format_value(bound)}"'
            lines.append(f"{self.name}_bucket{_labels(self.labelnames, values, le)} {cumulative}")
        lines.append(f"{self.name}_sum{_labels(self.labelnames, values)} {_format_value(child.sum)}")
        lines.append(f"{self.name}_count{_labels(self.labelnames, values)} {child.count}")
        return lines


class Registry:
    def __init__(self) -> None:
        self._families: dict[str, Family] = {}
        self._collectors: list[Callable[[], Iterable[Family]]] = []

    def get_or_create(self, cls: type[Family], name: str, doc: str, labelnames: tuple[str, ...], **kwargs: object) -> Family:
        family = self._families.get(name)
        if family is None:
            family = self._families[name] = cls(name, doc, labelnames, **kwargs)
        elif type(family) is not cls or family.labelnames != labelnames:
            raise ValueError(f"metric {name} already registered as {family.kind}{family.labelnames}")
        return family

    def add_collector(self, collect: Callable[[], Iterable[Family]]) -> None:
        """Families computed at scrape time (process CPU, RSS, queue sizes)."""
        self._collectors.append(collect)

    def families(self) -> list[Family]:
        """Every family: the registered ones, then those the collectors compute now."""
        out = list(self._families.values())
        for collect in self._collectors:
            out.extend(collect())
        return out

    def exposition(self) -> bytes:
        lines: list[str] = []
        for family in self.families():
            lines.extend(family.render())
        return ("\n".join(lines) + "\n").encode()
