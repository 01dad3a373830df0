"""Component types by kind and name.

A type answers to its current name (`type_name`) and to otelcol's older spellings of it
(`deprecated_type_names`, e.g. the OTLP exporter's `otlp_grpc` and `otlp`). The built-in types are listed
in collector/components.py with the module that defines each; a module is imported the first time a type
of it is looked up, and its `@register` decorators fill the tables here. Types registered any other way
(tests, embedding code) work the same."""

from __future__ import annotations

import functools
import importlib
from typing import TypeVar

from .component import Component, Kind

_REGISTRY: dict[Kind, dict[str, type[Component]]] = {kind: {} for kind in Kind}
_DEPRECATED: dict[Kind, dict[str, str]] = {kind: {} for kind in Kind}  # older spelling -> current name

C = TypeVar("C", bound=type[Component])


def register(cls: C) -> C:
    table, deprecated = _REGISTRY[cls.kind], _DEPRECATED[cls.kind]
    for name in (cls.type_name, *cls.deprecated_type_names):
        owner = table.get(name) or table.get(deprecated.get(name, ""))
        if owner is not None and owner is not cls:
            raise ValueError(f"{cls.kind} type {name!r} registered twice")
    table[cls.type_name] = cls
    for name in cls.deprecated_type_names:
        deprecated[name] = cls.type_name
    return cls


@functools.cache
def _builtins() -> tuple[dict[Kind, dict[str, str]], dict[Kind, dict[str, str]]]:
    """From collector/components.py: (kind -> current name -> module, kind -> older spelling -> current name)."""
    from .components import BUILTIN

    modules: dict[Kind, dict[str, str]] = {kind: {} for kind in Kind}
    older: dict[Kind, dict[str, str]] = {kind: {} for kind in Kind}
    for kind, module, name, *spellings in BUILTIN:
        modules[kind][name] = module
        for spelling in spellings:
            older[kind][spelling] = name
    return modules, older


def current_name(kind: Kind, type_name: str) -> str | None:
    """The current name for an older spelling; None when `type_name` is not one."""
    return _DEPRECATED[kind].get(type_name) or _builtins()[1][kind].get(type_name)


def lookup(kind: Kind, type_name: str) -> type[Component] | None:
    """The class of a type, by its current name or an older spelling; imports its module if it is built in."""
    name = current_name(kind, type_name) or type_name
    cls = _REGISTRY[kind].get(name)
    if cls is None:
        module = _builtins()[0][kind].get(name)
        if module is not None:
            importlib.import_module(f"{__package__}.{module}")
            cls = _REGISTRY[kind].get(name)
    return cls


def types(kind: Kind) -> list[str]:
    """The current names of every type of `kind` (without importing their modules)."""
    return sorted(set(_REGISTRY[kind]) | set(_builtins()[0][kind]))


def load_all() -> None:
    """Imports every built-in component's module (for `components`, the config reference and tests)."""
    for kind, names in _builtins()[0].items():
        for name in names:
            lookup(kind, name)
