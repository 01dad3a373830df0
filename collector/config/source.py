"""Raw config documents: YAML with a source location for every key, env substitution, merging, --set.

Every later error message must be able to say `file:line: key.path: problem`, so positions are
recorded while composing the YAML node tree and carried through substitution and merging.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Location:
    file: str
    line: int  # 1-based; 0 when the value did not come from a file line (e.g. --set)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


class ConfigError(Exception):
    """One problem in the configuration, rendered as `file:line: key.path: message`."""

    def __init__(self, message: str, path: KeyPath = (), location: Location | None = None):
        super().__init__(message)
        self.message = message
        self.path = path
        self.location = location

    def __str__(self) -> str:
        parts = []
        if self.location is not None:
            parts.append(str(self.location))
        if self.path:
            parts.append(format_path(self.path))
        parts.append(self.message)
        return ": ".join(parts)


class ConfigErrors(Exception):
    """Every problem found in one load, so `validate` can list them all at once."""

    def __init__(self, errors: list[ConfigError]):
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


def format_path(path: KeyPath) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


@dataclass
class Document:
    """Plain YAML data plus where each key path was written."""

    data: dict[str, Any]
    locations: dict[KeyPath, Location]

    def locate(self, path: KeyPath) -> Location | None:
        # A missing key is reported at its nearest written ancestor.
        for end in range(len(path), -1, -1):
            loc = self.locations.get(path[:end])
            if loc is not None:
                return loc
        return None


class _Loader(yaml.SafeLoader):
    pass


def load_file(path: str | os.PathLike[str], display_name: str | None = None) -> Document:
    name = display_name or str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigErrors([ConfigError(f"cannot read config file: {exc.strerror}", location=Location(name, 0))]) from None
    return load_text(text, name)


def load_text(text: str, name: str) -> Document:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigErrors([ConfigError(f"invalid YAML: {problem}", location=Location(name, line))]) from None
    finally:
        loader.dispose()
    locations: dict[KeyPath, Location] = {}
    errors: list[ConfigError] = []
    if node is None:
        return Document({}, {(): Location(name, 1)})
    data = _convert(node, (), name, loader, locations, errors)
    if not isinstance(data, dict):
        errors.append(ConfigError("the top level of a config file must be a mapping", location=Location(name, node.start_mark.line + 1)))
    locations[()] = Location(name, 1)
    if not errors:
        data = substitute(data, locations, errors)
    if errors:
        raise ConfigErrors(errors)
    return Document(data, locations)


def _convert(node: yaml.Node, path: KeyPath, name: str, loader: _Loader, locations: dict[KeyPath, Location], errors: list[ConfigError]) -> Any:
    locations.setdefault(path, Location(name, node.start_mark.line + 1))
    if isinstance(node, yaml.MappingNode):
        # Resolve YAML merge keys (<<: *anchor). flatten_mapping puts the merged pairs first, then the
        # pairs written in this mapping; a written key overrides a merged one (and a later merge source an
        # earlier one), which is not a duplicate. The count is kept on the node because an aliased node is
        # visited again, already flattened.
        merged = getattr(node, "_merged_pairs", None)
        if merged is None:
            written = sum(1 for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge")
            loader.flatten_mapping(node)
            merged = node._merged_pairs = len(node.value) - written  # type: ignore[attr-defined]
        out: dict[str, Any] = {}
        from_merge: set[str] = set()
        for index, (key_node, value_node) in enumerate(node.value):
            key = loader.construct_object(key_node, deep=True)
            if key is None:
                key = ""
            if not isinstance(key, str):
                key = str(key).lower() if isinstance(key, bool) else str(key)
            child = path + (key,)
            loc = Location(name, key_node.start_mark.line + 1)
            if key in out:
                if key not in from_merge:
                    errors.append(ConfigError(f"duplicate key (first written at line {locations[child].line})", child, loc))
                    continue
                for stale in [p for p in locations if p[: len(child)] == child]:
                    del locations[stale]
            if index < merged:
                from_merge.add(key)
            else:
                from_merge.discard(key)
            locations[child] = loc
            out[key] = _convert(value_node, child, name, loader, locations, errors)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            child = path + (index,)
            locations[child] = Location(name, item.start_mark.line + 1)
            items.append(_convert(item, child, name, loader, locations, errors))
        return items
    return loader.construct_object(node, deep=True)


# ${env:VAR}, ${env:VAR:-default}, ${VAR}, ${file:/path}; "$$" escapes a literal "$".
_REFERENCE = re.compile(r"\$\$|\$\{([^}]*)\}")
_ENV_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class _SubstitutionError(Exception):
    pass


def _resolve(expr: str) -> str:
    scheme, sep, rest = expr.partition(":")
    if not sep or rest.startswith("-"):  # ${VAR} and ${VAR:-default} are env references too
        scheme, rest = "env", expr
    if scheme == "env":
        name, has_default, default = rest.partition(":-")
        if not _ENV_NAME.match(name):
            raise _SubstitutionError(f'invalid environment variable name "{name}" in "${{{expr}}}" (expected [a-zA-Z_][a-zA-Z0-9_]*)')
        value = os.environ.get(name)
        if value is None or (has_default and value == ""):
            return default if has_default else ""
        return value
    if scheme == "file":
        try:
            return Path(rest).read_text(encoding="utf-8").rstrip("\n")
        except OSError as exc:
            raise _SubstitutionError(f'cannot read "{rest}" for "${{{expr}}}": {exc.strerror}') from None
    raise _SubstitutionError(f'unsupported config provider "{scheme}" in "${{{expr}}}" (supported: env, file)')


def expand_string(value: str) -> Any:
    """Expand references in one scalar. A value that is exactly one reference is re-read as a YAML scalar,
    as otelcol does, so `port: ${env:PORT}` yields an int."""
    whole = _REFERENCE.fullmatch(value)
    if whole is not None and whole.group(0) != "$$":
        resolved = _resolve(whole.group(1))
        try:
            parsed = yaml.safe_load(resolved) if resolved else resolved
        except yaml.YAMLError:
            return resolved
        return parsed if isinstance(parsed, (str, int, float, bool)) or parsed is None else resolved
    return _REFERENCE.sub(lambda m: "$" if m.group(0) == "$$" else _resolve(m.group(1)), value)


def substitute(data: Any, locations: dict[KeyPath, Location], errors: list[ConfigError], path: KeyPath = ()) -> Any:
    if isinstance(data, dict):
        return {k: substitute(v, locations, errors, path + (k,)) for k, v in data.items()}
    if isinstance(data, list):
        return [substitute(v, locations, errors, path + (i,)) for i, v in enumerate(data)]
    if isinstance(data, str) and "$" in data:
        try:
            return expand_string(data)
        except _SubstitutionError as exc:
            errors.append(ConfigError(str(exc), path, locations.get(path)))
    return data


def merge(base: Document, override: Document) -> Document:
    """Maps merge deeply; lists and scalars replace (otelcol's rule for repeated --config)."""
    locations = dict(base.locations)

    def walk(a: Any, b: Any, path: KeyPath) -> Any:
        if isinstance(a, dict) and isinstance(b, dict):
            out = dict(a)
            for key, value in b.items():
                out[key] = walk(a.get(key), value, path + (key,)) if key in a else _replace(value, path + (key,))
            if path in override.locations:
                locations.setdefault(path, override.locations[path])
            return out
        return _replace(b, path)

    def _replace(value: Any, path: KeyPath) -> Any:
        for stale in [p for p in locations if p[: len(path)] == path]:
            del locations[stale]
        locations.update({p: loc for p, loc in override.locations.items() if p[: len(path)] == path})
        return value

    data = walk(base.data, override.data, ())
    return Document(data, locations)


def parse_set(expr: str) -> Document:
    """`--set processors.batch.timeout=2s` (otelcol also writes `::` as the separator; both work)."""
    key, sep, raw = expr.partition("=")
    where = Location(f"--set {expr}", 0)
    if not sep or not key:
        raise ConfigErrors([ConfigError('expected "key.path=value"', location=where)])
    # Component ids contain "/" but never ".", so "." is a safe separator; "::" wins when present.
    parts = key.split("::") if "::" in key else key.split(".")
    if any(not p for p in parts):
        raise ConfigErrors([ConfigError(f'empty segment in key path "{key}"', location=where)])
    try:
        value = yaml.safe_load(raw) if raw else ""
    except yaml.YAMLError:
        value = raw
    errors: list[ConfigError] = []
    path: KeyPath = tuple(parts)
    value = substitute(value, {path: where}, errors, path)
    if errors:
        raise ConfigErrors(errors)
    data: Any = value
    for part in reversed(parts):
        data = {part: data}
    locations = {path[:i]: where for i in range(len(path) + 1)}
    return Document(data, locations)
