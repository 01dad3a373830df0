"""What a gen_ai_normalizer config turns into: per source, its rename rules (source key -> target key and
the value folds for that target) or, for a view source, its markers; and one lookup of every key any source
acts on, which the processor's first pass over a span's attributes checks (normalize.py), or the C walk over
the request's bytes (processor.py)."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from ...wire import slots as wire_slots
from .config import Source, Sources
from .sources import ALL_OPERATION_NAMES, BUILTIN, is_view_source

OPERATION_NAME = "gen_ai.operation.name"
_C_WALK_KEYS = 64  # the most keys the C walk's table takes (collector/wire/_walks.c MAX_KEYS)


@dataclass(frozen=True, slots=True)
class Rule:
    target: str
    folds: dict[str, str] | None  # string value -> value written (tried as is, then lower-cased)


@dataclass(frozen=True, slots=True)
class TableSource:
    name: str
    remove_originals: bool
    overwrite: bool
    rules: dict[str, Rule]
    key_set: frozenset[str]
    messages: tuple[tuple[str, str], ...]  # flattened-message prefix -> target


@dataclass(frozen=True, slots=True)
class ViewSource:
    name: str
    remove_originals: bool
    overwrite: bool
    markers: tuple[str, ...]
    original_prefixes: tuple[str, ...]
    original_keys: frozenset[str]

    def owns(self, key: str) -> bool:
        return key in self.original_keys or key.startswith(self.original_prefixes)


@dataclass(frozen=True, slots=True)
class Plan:
    sources: tuple[TableSource | ViewSource, ...]
    lookup: frozenset[str]  # every key some source renames or is marked by
    prefixes: tuple[str, ...]  # flattened-message prefixes some source rebuilds
    events: bool  # span event attributes too (the map shape)
    wire_table: tuple | None  # `lookup` for the C walk over a request's bytes (None: too many keys, or events)


def build_plan(sources: Sources) -> Plan:
    built = tuple(_source(s, sources.map_shape) for s in sources)
    lookup: set[str] = set()
    prefixes: list[str] = []
    for s in built:
        if isinstance(s, ViewSource):
            lookup.update(s.markers)
        else:
            lookup.update(s.key_set)
            prefixes.extend(p for p, _ in s.messages if p not in prefixes)
    events = sources.map_shape
    table = None
    if not events and len(lookup) <= _C_WALK_KEYS:
        keys = sorted(lookup)
        table = wire_slots.slot_table({k: k for k in keys}, dict.fromkeys(keys, 0))
    return Plan(built, frozenset(lookup), tuple(prefixes), events, table)


def _source(source: Source, map_shape: bool) -> TableSource | ViewSource:
    module: ModuleType | None = BUILTIN.get(source.name) if source.builtin else None
    if module is not None and is_view_source(module):
        return ViewSource(source.name, source.remove_originals, source.overwrite, tuple(module.MARKERS),
                          tuple(module.ORIGINAL_PREFIXES), frozenset(module.ORIGINAL_KEYS))
    renames: dict[str, str] = dict(getattr(module, "RENAMES", {}))
    renames.update(source.mappings)  # custom_mappings override the built-in table
    operation_names = ALL_OPERATION_NAMES if map_shape else getattr(module, "OPERATION_NAMES", None)
    rules = {}
    for key, target in renames.items():
        folds = source.value_mappings.get(target) or (operation_names if target == OPERATION_NAME else None)
        rules[key] = Rule(target, folds or None)
    messages = tuple(getattr(module, "FLATTENED_MESSAGES", {}).items())
    return TableSource(source.name, source.remove_originals, source.overwrite, rules, frozenset(rules), messages)
