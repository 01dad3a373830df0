"""The config reference, generated from the typed component configs (the same declarations the decoder uses).

    python -m collector.docs                                 # print the Markdown reference
    python -m collector.docs --write docs/configuration.md  # (re)write the file (what `make docs` runs)
    python -m collector.docs --check docs/configuration.md  # exit 1 if the file is out of date

The whole file is generated, and says so in its first lines (`MARK`). `--write` refuses to overwrite a file
that does not (a hand-written page such as README.md named by mistake); `--check` refuses to compare one.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from . import registry
from .component import Kind, Signal
from .config.typed import describe_type, render_default, yaml_key

TARGET = "docs/configuration.md"
MARK = "Generated from the typed component configs by `make docs`"
KIND_TITLES = {Kind.RECEIVER: "Receivers", Kind.PROCESSOR: "Processors", Kind.EXPORTER: "Exporters", Kind.EXTENSION: "Extensions",
               Kind.CONNECTOR: "Connectors"}


@dataclasses.dataclass
class Row:
    key: str
    type: str
    default: str
    doc: str


def _nested_dataclass(tp: Any) -> Any:
    """The dataclass a field holds (directly or as `X | None`), else None."""
    if dataclasses.is_dataclass(tp):
        return tp
    if get_origin(tp) in (Union, types.UnionType):
        concrete = [a for a in get_args(tp) if a is not type(None)]
        if len(concrete) == 1 and dataclasses.is_dataclass(concrete[0]):
            return concrete[0]
    return None


def _declared_default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def _flow(value: Any) -> str:
    """A default as the YAML a user would write (flow style), for values render_default does not cover."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        parts = []
        for f in dataclasses.fields(value):
            if not f.init:
                continue
            current = getattr(value, f.name)
            if current != _declared_default(f):
                parts.append(f"{yaml_key(f)}: {_flow(current)}")
        return "{" + ", ".join(parts) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    return render_default(value)


def _default_cell(f: dataclasses.Field, nested: Any) -> str:
    default = _declared_default(f)
    if default is dataclasses.MISSING:
        return "**required**"
    if nested is not None and default is not None:
        # A section whose default is its class's own defaults: the rows below say it all.
        return "" if default == nested() else f"`{_flow(default)}`"
    if isinstance(default, (list, dict)) and default:
        return f"`{_flow(default)}`"
    return f"`{render_default(default)}`"


def rows(cls: type, prefix: str = "") -> list[Row]:
    """One row per key, depth first; nested dataclasses contribute dotted keys."""
    out: list[Row] = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        key = prefix + yaml_key(f)
        tp = hints[f.name]
        nested = _nested_dataclass(tp)
        out.append(Row(key, describe_type(tp), _default_cell(f, nested), f.metadata.get("doc", "")))
        if nested is not None:
            out.extend(rows(nested, key + "."))
            continue
        if get_origin(tp) in (Union, types.UnionType) and len(concrete := [a for a in get_args(tp) if a is not type(None)]) == 1:
            tp = concrete[0]  # `list[X] | None`: the rows of X
        origin = get_origin(tp)
        for suffix, entry in getattr(tp, "doc_entries", ()):  # a `from_config` type's entry shapes
            out.extend(rows(entry, key + suffix))
        if origin is dict and dataclasses.is_dataclass(get_args(tp)[1]):
            out.extend(rows(get_args(tp)[1], key + ".<name>."))
        elif origin in (list, tuple) and get_args(tp) and dataclasses.is_dataclass(get_args(tp)[0]):
            out.extend(rows(get_args(tp)[0], key + "[]."))
    return out


def _cell(text: str) -> str:
    text = " ".join(text.split())
    return re.sub(r"(?<!\\)\|", r"\\|", text)


def table(cls: type) -> list[str]:
    found = rows(cls)
    if not found:
        return ["No settings."]
    lines = ["| Key | Type | Default | Description |", "|---|---|---|---|"]
    for row in found:
        lines.append(f"| `{_cell(row.key)}` | {_cell(row.type)} | {_cell(row.default)} | {_cell(row.doc)} |")
    return lines


def generate() -> str:
    from .config.model import ServiceConfig

    lines = [
        "# Configuration reference",
        "",
        f"{MARK} (`python -m collector.docs --write {TARGET}`); do not edit it by hand:",
        "a test fails when it differs from the code.",
        "",
        "A config has five sections of components, each keyed by component id (`receivers`, `processors`,",
        "`exporters`, `extensions`, `connectors`), and `service`, which says which of them run and wires them into pipelines.",
        "A connector joins pipelines as otelcol's do: list its id among one pipeline's `exporters` and another's",
        "`receivers` (maybe of another signal, in a pair its type supports); it must be used both ways, data may not",
        "flow in a cycle, and one instance runs per pair of signals. A pipeline's data is acknowledged only once",
        "the pipelines its connectors feed took it; a refusal there reaches the client.",
        "Every component below can be configured more than once under `type/name` ids (e.g. `file/traces`).",
        "Durations are written like `200ms`, `5s`, `1m30s` (a bare number is nanoseconds, as in otelcol); sizes like `4MiB`, `20MB` or a number of bytes.",
        "How several files merge, `--set` and `${env:VAR}` substitution: [operations.md](operations.md).",
        "",
        "## Sections",
    ]
    for kind in Kind:
        lines += ["", f"### {KIND_TITLES[kind]}"]
        names = registry.types(kind)
        if not names:
            lines += ["", "None yet."]
        for name in names:
            cls = registry.lookup(kind, name)
            assert cls is not None
            lines += ["", f"#### `{name}`", "", cls.description]
            if cls.deprecated_type_names:
                older = ", ".join(f"`{n}`" for n in cls.deprecated_type_names)
                lines += ["", f"Also answers to its older name {older}, as otelcol does; start-up then logs a warning naming `{name}`."]
            if kind is Kind.CONNECTOR:
                pairs = ", ".join(f"{a} to {b}" for a in Signal for b in Signal if (a, b) in cls.pairs)  # type: ignore[attr-defined]
                lines += ["", f"Pipeline pairs (exporter pipeline to receiver pipeline): {pairs}."]
            elif kind is not Kind.EXTENSION:
                signals = ", ".join(s.value for s in Signal if s in cls.signals) or "none"
                lines += ["", f"Signals: {signals}."]
            lines += [""] + table(cls.config_class)
            for title, prose, settings in cls.reference_sections():
                lines += ["", f"##### {title}", "", " ".join(prose.split())]
                if settings is not None:
                    lines += [""] + table(settings)
    lines += ["", "### `service`", "", "Which extensions run and how receivers, processors, exporters and connectors are wired into pipelines.", ""]
    lines += table(ServiceConfig)
    return "\n".join(lines) + "\n"


def is_generated(text: str) -> bool:
    """Whether `text` is a reference this module wrote (its first lines carry MARK)."""
    return any(MARK in line for line in text.splitlines()[:5])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m collector.docs", description="Generate the config reference from the typed component configs.")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", metavar="FILE", help=f"Write the reference to FILE (e.g. {TARGET}), unless FILE exists and is not a generated reference.")
    group.add_argument("--check", metavar="FILE", help="Exit 1 if FILE differs from the generated reference.")
    args = parser.parse_args(argv)
    reference = generate()
    target = args.write or args.check
    if target is None:
        sys.stdout.write(reference)
        return 0
    path = Path(target)
    try:
        current: str | None = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        current = None
    except OSError as exc:
        print(f"{path}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if current is None and args.check:
        print(f"{path}: cannot read: no such file; run `make docs`", file=sys.stderr)
        return 2
    if current is not None and not is_generated(current):
        action = "refusing to overwrite it" if args.write else "nothing to compare"
        print(f'{path}: not a generated config reference (its first lines lack "{MARK}"); {action}', file=sys.stderr)
        return 2
    if args.check:
        if current != reference:
            print(f"{path}: the config reference is out of date; run `make docs`", file=sys.stderr)
            return 1
        print(f"{path}: the config reference is up to date")
        return 0
    if current != reference:
        path.write_text(reference, encoding="utf-8")
        print(f"{path}: config reference written")
    else:
        print(f"{path}: config reference already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
