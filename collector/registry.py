"""Component types by kind and name. A new component is one module plus one line in components.py."""

from __future__ import annotations

from typing import TypeVar

from .component import Component, Kind

_REGISTRY: dict[Kind, dict[str, type[Component]]] = {kind: {} for kind in Kind}

C = TypeVar("C", bound=type[Component])


def register(cls: C) -> C:
    table = _REGISTRY[cls.kind]
    if cls.type_name in table and table[cls.type_name] is not cls:
        raise ValueError(f"{cls.kind} type {cls.type_name!r} registered twice")
    table[cls.type_name] = cls
    return cls


def lookup(kind: Kind, type_name: str) -> type[Component] | None:
    _load_builtins()
    return _REGISTRY[kind].get(type_name)


def types(kind: Kind) -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY[kind])


def _load_builtins() -> None:
    from . import components  # noqa: F401  (importing registers every built-in component)
