"""gen_ai_normalizer's configuration, in both shapes contrib's genainormalizerprocessor has had.

- **A list** (contrib's current shape, the OTel demo's `sources: [{name: openllmetry}]`): entries applied in
  the order listed, each `{name, remove_originals, overwrite}`; a name that is not built in is a
  user-defined source, which needs `mappings` (source key -> target key) and may fold string values with
  `value_mappings` (target key -> {source value -> target value}); built-in sources take neither.
- **A map keyed by name** (contrib's first shape): `{openinference: {...}, custom: {custom_mappings: ...}}`,
  applied in alphabetical order, each `{remove_originals, overwrite, custom_mappings}`; `custom_mappings`
  add to (and override) a built-in source's table, and the `custom` source has only those. This shape also
  normalizes span event attributes, as that version did.

Both end up as `Source` entries (what the processor's plan is built from)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from ...config import Invalid, option
from .sources import BUILTIN

CUSTOM = "custom"  # the map shape's mappings-only source


@dataclass
class SourceEntry:
    """One entry of the list shape."""

    name: str = option("", "A built-in source, or any other name for a user-defined one.")
    remove_originals: bool = option(False, "Delete a source attribute once it is written under its target name.")
    overwrite: bool = option(False, "Replace a target attribute the span already has; false leaves it and skips the mapping.")
    mappings: dict[str, str] = option(factory=dict, doc="User-defined sources only: source key -> target key.")
    value_mappings: dict[str, dict[str, str]] = option(factory=dict, doc="User-defined sources only: target key -> {source value -> target value}, for string values.")


@dataclass
class MappedSource:
    """One value of the map shape (its key is the source's name)."""

    remove_originals: bool = option(False, "As in the list shape.")
    overwrite: bool = option(False, "As in the list shape.")
    custom_mappings: dict[str, str] = option(factory=dict, doc="Source key -> target key, applied after the built-in table and overriding it; required for `custom`.")


@dataclass(frozen=True)
class Source:
    """A configured source, whichever shape it came from."""

    name: str
    remove_originals: bool = False
    overwrite: bool = False
    mappings: dict[str, str] = field(default_factory=dict)  # user-defined, or custom_mappings on a built-in
    value_mappings: dict[str, dict[str, str]] = field(default_factory=dict)
    builtin: bool = True  # whether the built-in table (if any) applies


def _builtin_names() -> str:
    return ", ".join(BUILTIN)


def _unknown(name: str) -> str:
    close = difflib.get_close_matches(name, [*BUILTIN, CUSTOM], n=1)
    hint = f'; did you mean "{close[0]}"?' if close else ""
    return f'unknown source "{name}" (sources: {_builtin_names()}, {CUSTOM}){hint}'


class Sources(list):
    """`sources:` as a list of `{name, ...}` entries or a map of name -> settings (see the module doc)."""

    map_shape: bool = False
    doc_type = "list or map of source"  # for the config reference (collector/docs.py), with its entry shapes:
    doc_entries = (("[].", SourceEntry), (".<name>.", MappedSource))

    @classmethod
    def from_config(cls, decoder: Any, value: Any, path: tuple) -> Sources:
        out = cls()
        if value is None:
            return out
        if isinstance(value, list):
            seen: set[str] = set()
            for i, item in enumerate(value):
                before = len(decoder.errors)
                entry = decoder.decode(SourceEntry, item, path + (i,))
                if len(decoder.errors) > before:
                    continue
                problem = _check_entry(entry, seen)
                if problem is not None:
                    decoder.error(path + (i, *problem.key), problem.message)
                    continue
                seen.add(entry.name)
                builtin = entry.name in BUILTIN
                out.append(Source(entry.name, entry.remove_originals, entry.overwrite, dict(entry.mappings), dict(entry.value_mappings), builtin))
            return out
        if not isinstance(value, dict):
            decoder.error(path, "expected a list of sources ({name, ...}) or a mapping of source name to settings")
            return out
        out.map_shape = True
        for name in sorted(value, key=str):
            before = len(decoder.errors)
            settings = decoder.decode(MappedSource, value[name], path + (name,))
            name = str(name)
            if len(decoder.errors) > before:
                continue
            if name != CUSTOM and name not in BUILTIN:
                decoder.error(path + (name,), _unknown(name))
                continue
            problem = _check_custom_mappings(name, settings.custom_mappings)
            if problem is not None:
                decoder.error(path + (name, *problem.key), problem.message)
                continue
            out.append(Source(name, settings.remove_originals, settings.overwrite, dict(settings.custom_mappings), {}, name != CUSTOM))
        return out


def _check_entry(entry: SourceEntry, seen: set[str]) -> Invalid | None:
    name = entry.name
    if not name:
        return Invalid('"name" must be set')
    if name in seen:
        return Invalid(f'duplicate source "{name}"')
    if name in BUILTIN:
        if entry.mappings:
            return Invalid(f'"mappings" is not valid on built-in source "{name}"')
        if entry.value_mappings:
            return Invalid(f'"value_mappings" is not valid on built-in source "{name}"')
        return None
    if not entry.mappings:
        close = difflib.get_close_matches(name, list(BUILTIN), n=1)
        hint = f'; did you mean "{close[0]}"?' if close else ""
        return Invalid(f'user-defined source "{name}" requires non-empty "mappings" (built-in sources, which do not require mappings: {_builtin_names()}){hint}')
    problem = _check_pairs(entry.mappings, "mappings")
    if problem is not None:
        return problem
    targets = set(entry.mappings.values())
    for key in entry.value_mappings:
        if key not in targets:
            return Invalid(f'"value_mappings" key "{key}" is not a target in "mappings"')
    return None


def _check_custom_mappings(name: str, mappings: dict[str, str]) -> Invalid | None:
    if name == CUSTOM and not mappings:
        return Invalid("custom_mappings must be non-empty for the custom source", "custom_mappings")
    return _check_pairs(mappings, "custom_mappings")


def _check_pairs(mappings: dict[str, str], key: str) -> Invalid | None:
    for source, target in mappings.items():
        if not source:
            return Invalid("source attribute name must be non-empty", key)
        if not target:
            return Invalid(f'target for "{source}" must be non-empty', (key, source))
        if source == target:
            return Invalid(f'source and target are identical ("{source}")', (key, source))
    return None


@dataclass
class GenAINormalizerConfig:
    sources: Sources = option(
        factory=Sources,
        doc="Source conventions to normalize; at least one. A list of entries (`sources[].*`) applied in order "
        "(contrib's current shape; a name not built in is a user-defined source), or a map of name -> settings "
        "(`sources.<name>.*`) applied in alphabetical order (contrib's first shape, which also normalizes span "
        "events; its `custom` source has only `custom_mappings`). Built-in: crewai, langchain, openinference, "
        "openllmetry, pydanticai (contrib's tables), anthropic, langfuse, langtrace, mlflow (beyond contrib, from "
        "the GenAI view).",
    )

    def validate(self) -> None:
        if not self.sources:
            raise Invalid("at least one source must be specified", "sources")
