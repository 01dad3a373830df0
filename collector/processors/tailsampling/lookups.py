"""Attribute lookups on a pending trace, for the policies and the rollup: over its parsed spans when it has
them, else over the span bytes it holds (collector/wire/spans.py, in C where it is built). Nothing here
knows about policies: they call these lookups.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ...wire import spans

if TYPE_CHECKING:
    from .buffer import TraceData


def span_attribute_values(trace: TraceData, key: str) -> Iterator[Any]:
    """Every value of the span attribute `key` in the trace (AnyValue messages)."""
    if trace._spans is not None:
        return (kv.value for entry in trace._spans for kv in entry[4].attributes if kv.key == key)
    return spans.attribute_values(trace._raw, key)


def resource_attribute_values(trace: TraceData, key: str) -> Any:
    """Every value of the resource attribute `key` over the trace's distinct resources."""
    needle = spans.key_needle(key)
    seen: set[int] = set()
    for group in trace.held_groups() if trace._spans is None else trace._spans:
        rshell = group[1]
        if id(rshell) in seen:
            continue
        seen.add(id(rshell))
        if needle in group[0][0]:  # the resource's wire bytes
            for kv in rshell.resource.attributes:
                if kv.key == key:
                    yield kv.value


def attribute_values(trace: TraceData, key: str) -> Any:
    """Every value of `key` on the trace's spans and their resources (AnyValue messages)."""
    yield from resource_attribute_values(trace, key)
    yield from span_attribute_values(trace, key)


def number_sum(trace: TraceData, key: str) -> float:
    """The sum of the numeric values of the span attribute `key` over the trace."""
    if trace._spans is None:
        return spans.number_sum(trace._raw, key)
    total = 0.0
    for value in span_attribute_values(trace, key):
        n = spans.number(value)
        if n is not None:
            total += n
    return total
