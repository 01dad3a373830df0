"""Folds exported spans into the report's bounded state.

What counts (the same rules the cost processor and the tail sampler's rollup follow):
- a call is a span the GenAI view (collector/genai/view.py) recognises as a model call; agent, tool, chain
  and workflow spans (wrappers, even when they copy their child's GenAI attributes) are not calls;
- a span the cost processor marked as another span's call (the `cost_duplicate` slot of
  collector/genai/conventions.py) is skipped entirely: its call, tokens and cost are counted once, on the
  span that carries the cost;
- spend is the cost the span carries, read from the conventions' `reported_cost` keys (the cost processor
  writes `gen_ai.usage.cost`, in USD), else from OpenInference's `reported_oi_cost`;
- tokens are the view's usage (OTel semantics: input includes cache, output includes reasoning); latency is
  the span's end minus its start.

Memory is bounded whatever the input size:
- groups (one per distinct `--by` value tuple) up to `max_groups`; later new values go to one `(other)`
  group, counted in `overflow_calls`;
- each group's latency is a QuantileSketch (sketch.py, O(2,048) buckets);
- trend: one bucket per hour of span start time (a year is 8,760 buckets);
- traces: per-trace cost is kept for at most `max_traces` traces with the Space-Saving rule (Metwally et
  al., 2005). While no more distinct costed traces than that are seen, every trace cost is exact. Beyond it
  the cheapest tracked trace is replaced by the new one, which inherits its cost as a possible overestimate
  (`cost_error`, reported beside every listed trace): a trace whose true cost exceeds total_cost /
  max_traces is always listed, and a listed cost is at most `cost_error` above the truth. Root span names
  are remembered for the tracked traces and for up to `max_traces` other recent roots (a root usually ends,
  and is exported, after its children).
"""

from __future__ import annotations

import collections
import heapq
import math
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..genai import conventions
from ..genai.view import GenAIView
from .sketch import QuantileSketch

NONE = "(none)"
OTHER = "(other)"
HOUR_NS = 3_600 * 10**9

_SLOTS = dict(conventions.SLOT_KEYS)
COST_KEYS: tuple[str, ...] = _SLOTS["reported_cost"]
OI_COST_KEYS: tuple[str, ...] = _SLOTS["reported_oi_cost"]
# A `--by` key that names a slot of the conventions: when the span lacks that very key, the value another
# convention wrote for the same slot (e.g. `gen_ai.request.model` from OpenInference's `llm.request.model`).
_SLOT_OF: dict[str, str] = {key: slot for slot, keys in conventions.SLOT_KEYS for key in keys}


@dataclass(slots=True)
class Totals:
    calls: int = 0
    cost: float = 0.0
    priced_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    errors: int = 0

    def add(self, cost: float | None, inp: int, out: int, errored: bool) -> None:
        self.calls += 1
        if cost is not None:
            self.cost += cost
            self.priced_calls += 1
        self.input_tokens += inp
        self.output_tokens += out
        self.errors += errored


@dataclass(slots=True)
class Group:
    totals: Totals = field(default_factory=Totals)
    latency: QuantileSketch = field(default_factory=QuantileSketch)


class TopTraces:
    """Per-trace cost under the Space-Saving bound (see the module docstring)."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.entries: dict[bytes, list[Any]] = {}  # trace id -> [cost, cost_error, calls, root name]
        self._heap: list[tuple[float, bytes]] = []  # (cost, trace id), stale entries skipped lazily
        self._roots: collections.OrderedDict[bytes, str] = collections.OrderedDict()  # untracked traces' roots
        self.evictions = 0

    def add(self, trace_id: bytes, cost: float) -> None:
        entry = self.entries.get(trace_id)
        if entry is not None:
            entry[0] += cost
            entry[2] += 1
        elif len(self.entries) < self.capacity:
            entry = self.entries[trace_id] = [cost, 0.0, 1, self._roots.pop(trace_id, None)]
        else:
            floor = self._pop_cheapest()
            entry = self.entries[trace_id] = [floor + cost, floor, 1, self._roots.pop(trace_id, None)]
        heapq.heappush(self._heap, (entry[0], trace_id))
        if len(self._heap) > 4 * self.capacity:
            self._heap = [(e[0], t) for t, e in self.entries.items()]
            heapq.heapify(self._heap)

    def _pop_cheapest(self) -> float:
        while True:
            cost, trace_id = heapq.heappop(self._heap)
            entry = self.entries.get(trace_id)
            if entry is not None and entry[0] == cost:
                del self.entries[trace_id]
                self.evictions += 1
                if entry[3] is not None:
                    self._remember_root(trace_id, entry[3])
                return cost

    def root(self, trace_id: bytes, name: str) -> None:
        entry = self.entries.get(trace_id)
        if entry is not None:
            entry[3] = name
        else:
            self._remember_root(trace_id, name)

    def _remember_root(self, trace_id: bytes, name: str) -> None:
        self._roots[trace_id] = name
        if len(self._roots) > self.capacity:
            self._roots.popitem(last=False)

    def top(self, n: int) -> list[tuple[bytes, list[Any]]]:
        return heapq.nlargest(n, self.entries.items(), key=lambda item: item[1][0])


def text(value: Any) -> str:
    """An AnyValue as the text a group is named by."""
    member = value.WhichOneof("value")
    if member is None:
        return ""
    if member == "string_value":
        return value.string_value
    if member == "bool_value":
        return "true" if value.bool_value else "false"
    if member in ("int_value", "double_value"):
        return str(getattr(value, member))
    if member == "bytes_value":
        return value.bytes_value.hex()
    return str(orjson.dumps(_plain(value)), "utf-8")


def _plain(value: Any) -> Any:
    member = value.WhichOneof("value")
    if member == "array_value":
        return [_plain(v) for v in value.array_value.values]
    if member == "kvlist_value":
        return {kv.key: _plain(kv.value) for kv in value.kvlist_value.values}
    return text(value)


def _number(value: Any) -> float | None:
    member = value.WhichOneof("value")
    if member == "double_value":
        number = value.double_value
    elif member == "int_value":
        number = float(value.int_value)
    elif member == "string_value":
        number = _json_total(value.string_value)
    else:
        return None
    return number if number is not None and math.isfinite(number) and number >= 0 else None


def _json_total(text_value: str) -> float | None:
    """A cost written as text: a number, or a JSON object of parts with a `total` (Langfuse's cost_details)."""
    try:
        parsed = orjson.loads(text_value)
    except orjson.JSONDecodeError:
        return None
    if isinstance(parsed, bool):
        return None
    if isinstance(parsed, int | float):
        return float(parsed)
    if isinstance(parsed, dict):
        total = parsed.get("total")
        if isinstance(total, int | float) and not isinstance(total, bool):
            return float(total)
        parts = [v for v in parsed.values() if isinstance(v, int | float) and not isinstance(v, bool)]
        return float(sum(parts)) if parts else None
    return None


class Aggregator:
    def __init__(self, by: list[str], max_groups: int = 10_000, max_traces: int = 100_000):
        self.by = by
        self.max_groups = max_groups
        self.groups: dict[tuple[str, ...], Group] = {}
        self.hours: dict[int, Totals] = {}
        self.traces = TopTraces(max_traces)
        self.totals = Totals()
        self.spans = 0
        self.not_calls = 0
        self.duplicates = 0
        self.overflow_calls = 0
        self.first_ns: int | None = None
        self.last_ns: int | None = None
        self._wanted = frozenset((*by, *COST_KEYS, *OI_COST_KEYS))
        self._by_slots = [_SLOT_OF.get(key) for key in by]

    def add_request(self, request: Any) -> None:
        by = self.by
        for rs in request.resource_spans:
            resource: dict[str, str] = {}
            if by:
                wanted = set(by)
                resource = {kv.key: text(kv.value) for kv in rs.resource.attributes if kv.key in wanted}
            for ss in rs.scope_spans:
                for span in ss.spans:
                    self._span(span, resource)

    def _span(self, span: Any, resource: dict[str, str]) -> None:
        self.spans += 1
        if not span.parent_span_id:
            self.traces.root(span.trace_id, span.name)
        view = GenAIView.of(span)
        if view is None:
            self.not_calls += 1
            return
        if view.has("cost_duplicate"):
            self.duplicates += 1
            return
        wanted = self._wanted
        attributes = {kv.key: kv.value for kv in span.attributes if kv.key in wanted}
        cost = self._cost(view, attributes)
        usage = view.usage
        inp, out = usage.input_tokens or 0, usage.output_tokens or 0
        errored = view.errored
        start, end = span.start_time_unix_nano, span.end_time_unix_nano

        self.totals.add(cost, inp, out, errored)
        group = self._group(self._key(view, attributes, resource))
        group.totals.add(cost, inp, out, errored)
        group.latency.add(max(0, end - start) / 1e9)
        if start:
            hour = start // HOUR_NS
            bucket = self.hours.get(hour)
            if bucket is None:
                bucket = self.hours[hour] = Totals()
            bucket.add(cost, inp, out, errored)
            self.first_ns = start if self.first_ns is None else min(self.first_ns, start)
            self.last_ns = start if self.last_ns is None else max(self.last_ns, start)
        if cost:
            self.traces.add(span.trace_id, cost)

    @staticmethod
    def _cost(view: GenAIView, attributes: dict[str, Any]) -> float | None:
        for slot in ("reported_cost", "reported_oi_cost"):
            key = view.key_of(slot)
            if key is not None and key in attributes:
                cost = _number(attributes[key])
                if cost is not None:
                    return cost
        return None

    def _key(self, view: GenAIView, attributes: dict[str, Any], resource: dict[str, str]) -> tuple[str, ...]:
        values = []
        for key, slot in zip(self.by, self._by_slots, strict=True):
            value = attributes.get(key)
            if value is not None:
                values.append(text(value))
            elif key in resource:
                values.append(resource[key])
            else:
                values.append((view.text(slot) if slot is not None else None) or NONE)
        return tuple(values)

    def _group(self, key: tuple[str, ...]) -> Group:
        group = self.groups.get(key)
        if group is not None:
            return group
        if len(self.groups) >= self.max_groups:
            self.overflow_calls += 1
            key = (OTHER,) * len(self.by)
            group = self.groups.get(key)
            if group is not None:
                return group
        group = self.groups[key] = Group()
        return group

    def trend(self, unit: str) -> list[tuple[int, Totals]]:
        """(bucket start in unix seconds, totals) per hour or per day (UTC), in time order."""
        if unit == "hour":
            return [(hour * 3600, self.hours[hour]) for hour in sorted(self.hours)]
        days: dict[int, Totals] = {}
        for hour, t in self.hours.items():
            day = days.setdefault(hour // 24, Totals())
            day.calls += t.calls
            day.cost += t.cost
            day.priced_calls += t.priced_calls
            day.input_tokens += t.input_tokens
            day.output_tokens += t.output_tokens
            day.errors += t.errors
        return [(day * 86_400, days[day]) for day in sorted(days)]
