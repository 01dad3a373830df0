"""Component types by kind and name. A new component is one module plus one line in components.py.

A type answers to its current name (`type_name`) and to otelcol's older spellings of it
(`deprecated_type_names`, e.g. the OTLP exporter's `otlp_grpc` and `otlp`)."""

from __future__ import annotations

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


def lookup(kind: Kind, type_name: str) -> type[Component] | None:
    """The class of a type, by its current name or an older spelling."""
    _load_builtins()
    return _REGISTRY[kind].get(_DEPRECATED[kind].get(type_name, type_name))


def types(kind: Kind) -> list[str]:
    """The current names of every type of `kind`."""
    _load_builtins()
    return sorted(_REGISTRY[kind])


def current_name(kind: Kind, type_name: str) -> str | None:
    """The current name for an older spelling; None when `type_name` is not one."""
    _load_builtins()
    return _DEPRECATED[kind].get(type_name)


def _load_builtins() -> None:
    from . import components  # noqa: F401  (importing registers every built-in component)
