"""The normalizer's hot path: one pass over a span's attribute keys and one set test decide whether any
configured source acts on it (most spans: no, and they are left untouched); a span that matches gets each
source applied in order, as contrib's processor applies them (processor.go): a source's present keys in
attribute order, each renamed unless its target exists (and `overwrite` is off) or its value cannot be made
the target's type; the value folded (operation names); the original removed with `remove_originals`;
then the flattened messages rebuilt. View sources write what the GenAI view reads (viewsource.py)."""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from . import messages, viewsource
from .attrs import AttributeMap, present_prefixes
from .coerce import coerce
from .plan import Plan, TableSource


def normalize_span(span: Any, plan: Plan) -> bool:
    """Normalizes the span's attributes (and its events' with `plan.events`); True if anything was written."""
    wrote = False
    attrs = _matched(span.attributes, plan)
    if attrs is not None:
        for source in plan.sources:
            if isinstance(source, TableSource):
                wrote = apply_table(attrs, source) or wrote
            else:
                wrote = viewsource.apply(span, attrs, source) or wrote
    if plan.events:
        for event in span.events:
            attrs = _matched(event.attributes, plan)
            if attrs is not None:
                for source in plan.sources:
                    if isinstance(source, TableSource):
                        wrote = apply_table(attrs, source) or wrote
    return wrote


def _matched(kvs: Any, plan: Plan) -> AttributeMap | None:
    """The attributes as an AttributeMap if some source acts on one of their keys, else None."""
    items = list(kvs)
    keys = [kv.key for kv in items]
    prefixed = present_prefixes(keys, plan.prefixes)
    if not prefixed and plan.lookup.isdisjoint(keys):
        return None
    return AttributeMap(kvs, items, keys, prefixed)


def apply_table(attrs: AttributeMap, source: TableSource) -> bool:
    """One table source on one attribute map (contrib's normalizeAttributes); True if it wrote anything."""
    wrote = False
    index = attrs.index
    present = source.key_set.intersection(index)
    if not present and not source.messages:
        return False
    ordered = sorted(present, key=index.__getitem__)  # the attributes' own order, as pcommon's Range visits them
    overwrite, remove = source.overwrite, source.remove_originals
    for key in ordered:
        value = attrs.get(key)
        if value is None:  # removed by an earlier rename of this source
            continue
        rule = source.rules[key]
        target = rule.target
        if not overwrite and target in attrs:
            continue
        out = coerce(target, value)
        if out is None:
            continue
        if rule.folds is not None and out.WhichOneof("value") == "string_value":
            text = out.string_value
            folded = rule.folds.get(text)
            if folded is None:
                folded = rule.folds.get(text.lower())
            if folded is not None:
                out = AnyValue(string_value=folded)
        attrs.put(target, out)
        wrote = True
        if remove:
            attrs.remove(key)
    for prefix, target in source.messages:
        if prefix in attrs.prefixed:
            wrote = messages.rebuild(attrs, prefix, target, remove, overwrite) or wrote
    return wrote
