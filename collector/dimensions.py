"""Dimensions: extra span or resource attributes that LLM metrics are broken down by (user.id, app.feature,
deployment.environment...), each with a cardinality cap. Shared by the llm_metrics connector (OTLP metrics)
and the cost processor (the llm_* families of the Prometheus self-metrics endpoint), so that both take the
same `dimensions` config and cap it the same way: past a dimension's `max_values` distinct values, new
values are all counted under `other`, and each such call in llm_metrics_dimension_overflow_total."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .config import option

OTHER = "other"
OVERFLOW = ("llm_metrics_dimension_overflow_total", "LLM calls whose value of a dimension was counted as `other`, past its max_values.", ("component", "dimension"))


@dataclass
class Dimension:
    name: str = option("", "A span attribute (else the resource's) to split the metrics by, e.g. user.id, app.feature, deployment.environment. A span without it is not split (its value is empty).")
    max_values: int = option(100, "Distinct values kept for this dimension; later new values are all counted under `other`, and in llm_metrics_dimension_overflow_total.")


def problems(dimensions: list[Dimension], reserved: frozenset[str] = frozenset()) -> list[tuple[tuple[str | int, ...], str]]:
    """What is wrong with a `dimensions` list: [(key path under it, message)]."""
    out: list[tuple[tuple[str | int, ...], str]] = []
    names: list[str] = []
    for i, dimension in enumerate(dimensions):
        if not dimension.name:
            out.append(((i, "name"), "name missing"))
        elif dimension.name in reserved:
            out.append(((i, "name"), f'"{dimension.name}" is already an attribute of every metric'))
        elif dimension.name in names:
            out.append(((i, "name"), f'"{dimension.name}" given more than once'))
        if dimension.max_values < 1:
            out.append(((i, "max_values"), "must be at least 1"))
        names.append(dimension.name)
    return out


def label_name(attribute: str) -> str:
    """A Prometheus label name for an attribute: user.id -> user_id."""
    label = re.sub(r"[^a-zA-Z0-9_]", "_", attribute)
    return label if not label[:1].isdigit() else "_" + label


class Cap:
    """One dimension's bounded set of values: the first `limit` kept, later new ones counted as `other`."""

    __slots__ = ("limit", "seen", "overflow")

    def __init__(self, limit: int, overflow: Any):
        self.limit = limit
        self.seen: set[str] = set()
        self.overflow = overflow

    def __call__(self, value: str) -> str:
        if value in self.seen:
            return value
        if len(self.seen) < self.limit:
            self.seen.add(value)
            return value
        self.overflow.inc()
        return OTHER


def caps(telemetry: Any, component: str, dimensions: list[Dimension]) -> tuple[Cap, ...]:
    family = telemetry.counter(*OVERFLOW)
    return tuple(Cap(d.max_values, family.labels(component, d.name)) for d in dimensions)


def text(value: Any) -> str:
    """An AnyValue as a dimension's value: scalars as text, "" for anything else."""
    s = value.string_value
    if s:
        return s
    kind = value.WhichOneof("value")
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind in ("int_value", "double_value"):
        return str(getattr(value, kind))
    return ""


def values(names: tuple[str, ...], caps: tuple[Cap, ...], span_attributes: Any, resource: dict[str, str]) -> tuple[str, ...]:
    """The capped value of each dimension for one span: its attribute, else its resource's ("" for neither)."""
    found: dict[str, str] = {}
    if names:
        wanted = frozenset(names)
        for kv in span_attributes:
            if kv.key in wanted and kv.key not in found:
                found[kv.key] = text(kv.value)
    out = []
    for name, cap in zip(names, caps, strict=True):
        value = found.get(name) or resource.get(name, "")
        out.append(cap(value) if value else "")
    return tuple(out)


def of_resource(names: tuple[str, ...], resource: Any) -> dict[str, str]:
    """The dimensions a resource holds."""
    if not names:
        return {}
    return {kv.key: text(kv.value) for kv in resource.attributes if kv.key in names}
