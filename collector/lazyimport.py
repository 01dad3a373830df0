"""Modules imported on first use.

A component module holds its config (read by `validate`) next to its server or client code (run by
`start()`). aiohttp and grpc cost most of `validate`'s time when imported with the config, so such a module
binds them with `lazy("aiohttp.web")` instead of an import statement: the name is a stand-in module whose
first attribute read imports the real one and copies its attributes in, so later reads are plain attribute
lookups. Type checkers see the real import (`if TYPE_CHECKING:`). Code that needs the library at import
time (a class deriving from one of its classes) lives in a module imported by `start()`.
tests/config/test_validate_imports.py checks that `validate` of the corpus configs imports neither."""

from __future__ import annotations

import importlib
import types
from typing import Any


class _LazyModule(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        module = importlib.import_module(self.__name__)
        self.__dict__.update(vars(module))
        return getattr(module, name)


def lazy(name: str) -> Any:
    """A stand-in for module `name`, imported when one of its attributes is first read."""
    return _LazyModule(name)
