"""The file_log receiver's operators (stanza's pkg/stanza/operator): each entry read from a file goes
through them in order (or where an operator's `output` sends it) before it becomes a log record.

Modules: `base` (the keys every operator and every parser has), `parsers` (json_parser, regex_parser),
`transformers` (move, remove, add), `container`, `timeparse` (the parsers' timestamp and severity blocks).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from .base import Operator, OperatorConfig
from .container import Container, ContainerConfig
from .parsers import JSONParser, JSONParserConfig, RegexParser, RegexParserConfig
from .transformers import Add, AddConfig, Move, MoveConfig, Remove, RemoveConfig

OPERATORS: dict[str, tuple[type[OperatorConfig], type[Operator]]] = {
    "json_parser": (JSONParserConfig, JSONParser),
    "regex_parser": (RegexParserConfig, RegexParser),
    "container": (ContainerConfig, Container),
    "move": (MoveConfig, Move),
    "remove": (RemoveConfig, Remove),
    "add": (AddConfig, Add),
}


@dataclass
class OperatorEntry:
    """One item of `operators`: a mapping whose `type` picks the operator's keys (below)."""

    doc_type = "operator mapping"
    settings: OperatorConfig

    @classmethod
    def from_config(cls, decoder: Any, value: Any, path: tuple) -> OperatorEntry:
        if not isinstance(value, dict):
            decoder.error(path, "expected an operator mapping with a type")
            return cls(OperatorConfig())
        type_ = value.get("type")
        if type_ not in OPERATORS:
            what = "missing required key \"type\"" if type_ is None else f'unknown operator type "{type_}"'
            decoder.error(path + (("type",) if type_ is not None else ()), f"{what} (supported types: {', '.join(OPERATORS)})")
            return cls(OperatorConfig())
        return cls(decoder.decode_fields(OPERATORS[type_][0], value, path))


def check_graph(entries: list[OperatorEntry]) -> str | None:
    """Why the operators cannot be chained (a duplicate id, an output naming no operator), or None."""
    ids = [e.settings.id or e.settings.type for e in entries]
    for i, name in enumerate(ids):
        if name in ids[:i]:
            return f'operator id "{name}" is used twice; give the operators distinct ids'
    for e in entries:
        target = _target(e)
        if target and target not in ids:
            return f'operator "{e.settings.id or e.settings.type}" has output "{target}", which is no operator id'
    following = [ids.index(t) if (t := _target(e)) else i + 1 for i, e in enumerate(entries)]
    for start in range(len(entries)):
        seen, pos = set(), start
        while pos < len(entries):
            if pos in seen:
                return f'the outputs of the operators form a loop through "{ids[pos]}"'
            seen.add(pos)
            pos = following[pos]
    return None


def _target(entry: OperatorEntry) -> str | None:
    out = entry.settings.output
    return (out[0] if out else None) if isinstance(out, list) else out


class Pipeline:
    """The configured operators, run on each entry; what leaves the last one is emitted."""

    def __init__(self, entries: list[OperatorEntry], log: Any):
        self.operators = [OPERATORS[e.settings.type][1](e.settings, log) for e in entries]
        index = {op.id: i for i, op in enumerate(self.operators)}
        self.next = [index[op.output] if op.output else i + 1 for i, op in enumerate(self.operators)]

    def run(self, entries: list[Any], start: int = 0) -> list[Any]:
        out: list[Any] = []
        for entry in entries:
            self._walk(entry, start, out)
        return out

    def _walk(self, entry: Any, position: int, out: list[Any]) -> None:
        stack = [(entry, position)]  # check_graph refused loops, so this ends
        while stack:
            current, pos = stack.pop()
            if pos >= len(self.operators):
                out.append(current)
                continue
            for produced in reversed(self.operators[pos].process(current)):
                stack.append((produced, self.next[pos]))

    def flush(self, force: bool = False) -> list[Any]:
        """Entries held by operators (CRI partial lines) that are due, passed through what follows."""
        out: list[Any] = []
        for pos, op in enumerate(self.operators):
            for held in op.flush(force):
                self._walk(held, self.next[pos], out)
        return out


def reference_sections() -> list[tuple[str, str, type | None]]:
    """The config reference's sections on operators (collector/docs.py), one per type."""
    return [(f"Operator `{name}`", (sys.modules[run.__module__].__doc__ or "").strip().split("\n\n")[0], cfg)
            for name, (cfg, run) in OPERATORS.items()]
