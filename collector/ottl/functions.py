"""OTTL's functions: the editors and converters of otelcol-contrib's pkg/ottl/ottlfuncs, each as its README and
func_*.go define it (argument names, optional arguments, what happens with nil and with values of other
types). Patterns are RE2 (google-re2, the engine Go's regexp follows), replacements use Go's `$1`/`${name}`
expansion."""

from __future__ import annotations

import datetime
import fnmatch
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import re2

from .contexts import Ctx
from .values import AttrMap, plain, type_name


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # see Compiler.param
    optional: bool = False


@dataclass(frozen=True)
class Function:
    name: str
    params: tuple[Param, ...]
    editor: bool
    factory: Callable[..., Any]
    hash_like: bool = False  # may be passed by name as replace_*'s `function` (takes one value, returns a string)
    direct: Callable[[Any], Any] | None = None
    contexts: frozenset[str] | None = None  # the contexts it is defined in (None: every one)

    def build(self, compiler: Any, args: dict[str, Any]) -> Any:
        compiled = {p.name: compiler.param(args[p.name], p.kind, self.name) if p.name in args else None for p in self.params}
        return self.factory(**compiled)


REGISTRY: dict[str, Function] = {}


def _register(name: str, *params: Param, editor: bool = False, direct: Callable[[Any], Any] | None = None,
              contexts: frozenset[str] | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def deco(factory: Callable[..., Any]) -> Callable[..., Any]:
        REGISTRY[name] = Function(name, params, editor, factory, hash_like=direct is not None, direct=direct, contexts=contexts)
        return factory
    return deco


register = _register  # for the processors that add functions of their own (transform's set_semconv_span_name)


def _compile_regex(pattern: str, fname: str) -> Any:
    from .compiler import CompileError

    try:
        return re2.compile(pattern)
    except re2.error as exc:
        raise CompileError(f"{fname}: the regex pattern does not compile: {exc}") from None


def _expand(template: str, m: Any) -> str:
    """Go's regexp Expand: $1, ${1}, $name, ${name}; $$ is a dollar; an unknown group is empty."""
    out = []
    i = 0
    while i < len(template):
        c = template[i]
        if c != "$" or i + 1 >= len(template):
            out.append(c)
            i += 1
            continue
        nxt = template[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
            continue
        if nxt == "{":
            end = template.find("}", i + 2)
            if end < 0:
                out.append(c)
                i += 1
                continue
            name = template[i + 2:end]
            i = end + 1
        else:
            j = i + 1
            while j < len(template) and (template[j].isalnum() or template[j] == "_"):
                j += 1
            if j == i + 1:
                out.append(c)
                i += 1
                continue
            name = template[i + 1:j]
            i = j
        try:
            group = m.group(int(name)) if name.isdigit() else m.group(name)
        except (IndexError, KeyError):
            group = None
        out.append(group or "")
    return "".join(out)


def _string_like(value: Any) -> str | None:
    """StringLikeGetter: strings as they are, other scalars as their string form, nil as nil."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return to_string(value)


def to_string(value: Any) -> str:
    """The String converter (func_string.go / pcommon.Value.AsString)."""
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, (dict, list)):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return str(value)


def _go_float(v: float) -> str:
    """strconv.FormatFloat(v, 'f', -1, 64): the shortest decimal that round-trips, never an exponent."""
    if v != v or v in (float("inf"), float("-inf")):
        return {"nan": "NaN", "inf": "+Inf", "-inf": "-Inf"}[repr(v)]
    text = repr(v)
    if "e" in text or "E" in text:
        text = format(v, "f") if abs(v) >= 1 else f"{v:.{abs(int(text.split('e')[1])) + 17}f}".rstrip("0")
    return text[:-2] if text.endswith(".0") else text


def _sha256(value: Any) -> Any:
    if value is None:
        return None
    data = value if isinstance(value, bytes) else (_string_like(value) or "").encode()
    return hashlib.sha256(data).hexdigest()


# -- editors


@_register("set", Param("target", "target"), Param("value", "value"), editor=True)
def _set(target: Any, value: Any) -> Any:
    _, setter = target

    def run(ctx: Ctx) -> None:
        v = value(ctx)
        if v is not None:  # func_set.go: a nil value leaves the target as it is
            setter(ctx, v)
    return run


def _map_of(getter: Any, ctx: Ctx, fname: str) -> AttrMap | dict:
    m = getter(ctx)
    if not isinstance(m, (AttrMap, dict)):
        raise TypeError(f"{fname}: expected a map, got {type_name(m)}")
    return m


def _remove(m: AttrMap | dict, key: str) -> None:
    if isinstance(m, AttrMap):
        m.remove(key)
    else:
        m.pop(key, None)


def _put(m: AttrMap | dict, key: str, value: Any) -> None:
    if isinstance(m, AttrMap):
        m.set(key, value)
    else:
        m[key] = value


def _retain(m: AttrMap | dict, keep: Callable[[str], bool]) -> None:
    if isinstance(m, AttrMap):
        m.retain(keep)
    else:
        for k in [k for k in m if not keep(k)]:
            del m[k]


@_register("delete_key", Param("target", "target"), Param("key", "value"), editor=True)
def _delete_key(target: Any, key: Any) -> Any:
    getter = target[0]

    def run(ctx: Ctx) -> None:
        k = key(ctx)
        if not isinstance(k, str):
            raise TypeError(f"delete_key: key must be a string, got {type_name(k)}")
        _remove(_map_of(getter, ctx, "delete_key"), k)
    return run


@_register("delete_matching_keys", Param("target", "target"), Param("pattern", "str"), editor=True)
def _delete_matching_keys(target: Any, pattern: str) -> Any:
    rx, getter = _compile_regex(pattern, "delete_matching_keys"), target[0]
    return lambda ctx: _retain(_map_of(getter, ctx, "delete_matching_keys"), lambda k: rx.search(k) is None)


@_register("keep_keys", Param("target", "target"), Param("keys", "strlist"), editor=True)
def _keep_keys(target: Any, keys: list[str]) -> Any:
    wanted, getter = frozenset(keys), target[0]
    return lambda ctx: _retain(_map_of(getter, ctx, "keep_keys"), wanted.__contains__)


@_register("keep_matching_keys", Param("target", "target"), Param("pattern", "str"), editor=True)
def _keep_matching_keys(target: Any, pattern: str) -> Any:
    rx, getter = _compile_regex(pattern, "keep_matching_keys"), target[0]
    return lambda ctx: _retain(_map_of(getter, ctx, "keep_matching_keys"), lambda k: rx.search(k) is not None)


def _replacer(rx: Any, replacement: Any, function: Callable[[Any], Any] | None, fmt: Any) -> Callable[[Ctx, str], str]:
    def replace(ctx: Ctx, text: str) -> str:
        template = replacement(ctx)
        if not isinstance(template, str):
            raise TypeError(f"replacement must be a string, got {type_name(template)}")
        if function is None:
            return rx.sub(lambda m: _expand(template, m), text)
        form = fmt(ctx) if fmt is not None else None

        def hashed(m: Any) -> str:
            out = function(_expand(template, m))
            return form.replace("%s", out, 1) if isinstance(form, str) else out
        return rx.sub(hashed, text)
    return replace


@_register("replace_pattern", Param("target", "target"), Param("regex", "str"), Param("replacement", "value"),
           Param("function", "function", True), Param("replacementFormat", "value", True), editor=True)
def _replace_pattern(target: Any, regex: str, replacement: Any, function: Any, replacementFormat: Any) -> Any:  # noqa: N803
    getter, setter = target
    replace = _replacer(_compile_regex(regex, "replace_pattern"), replacement, function, replacementFormat)

    def run(ctx: Ctx) -> None:
        v = getter(ctx)
        if isinstance(v, str):  # func_replace_pattern.go: only strings are replaced
            new = replace(ctx, v)
            if new != v:
                setter(ctx, new)
    return run


@_register("replace_all_patterns", Param("target", "target"), Param("mode", "str"), Param("regex", "str"), Param("replacement", "value"),
           Param("function", "function", True), Param("replacementFormat", "value", True), editor=True)
def _replace_all_patterns(target: Any, mode: str, regex: str, replacement: Any, function: Any, replacementFormat: Any) -> Any:  # noqa: N803
    from .compiler import CompileError

    if mode not in ("key", "value"):
        raise CompileError(f"replace_all_patterns: invalid mode {mode}, must be key or value")
    getter = target[0]
    rx = _compile_regex(regex, "replace_all_patterns")
    replace = _replacer(rx, replacement, function, replacementFormat)

    def run(ctx: Ctx) -> None:
        m = _map_of(getter, ctx, "replace_all_patterns")
        if mode == "value":
            for k, v in list(m.items()):
                if isinstance(v, str) and rx.search(v) is not None:
                    new = replace(ctx, v)
                    _put(m, k, new)
            return
        entries = [(replace(ctx, k) if rx.search(k) is not None else k, v) for k, v in m.items()]
        renamed: dict[str, Any] = {}
        for k, v in entries:
            renamed.setdefault(k, plain(v))
        if isinstance(m, AttrMap):
            m.replace_all(renamed)
        else:
            m.clear()
            m.update(renamed)
    return run


def _glob(pattern: str) -> Callable[[str], bool]:
    """gobwas/glob as OTTL's replace_match uses it (no separators): *, ?, [...] and {a,b}."""
    alternatives = re.sub(r"\{([^{}]*)\}", lambda m: "(" + "|".join(re.escape(p) for p in m.group(1).split(",")) + ")", pattern)
    if alternatives == pattern:
        rx = re.compile(fnmatch.translate(pattern), re.S)
    else:
        parts = re.split(r"(\([^()]*\))", alternatives)
        rx = re.compile("".join(p if p.startswith("(") else fnmatch.translate(p)[4:-3] for p in parts) + r"\Z", re.S)
    return lambda s: rx.match(s) is not None


@_register("replace_match", Param("target", "target"), Param("pattern", "str"), Param("replacement", "value"),
           Param("function", "function", True), Param("replacementFormat", "value", True), editor=True)
def _replace_match(target: Any, pattern: str, replacement: Any, function: Any, replacementFormat: Any) -> Any:  # noqa: N803
    getter, setter = target
    matches = _glob(pattern)

    def run(ctx: Ctx) -> None:
        v = getter(ctx)
        if isinstance(v, str) and matches(v):
            new = replacement(ctx)
            if not isinstance(new, str):
                raise TypeError(f"replace_match: replacement must be a string, got {type_name(new)}")
            if function is not None:
                new = function(new)
                form = replacementFormat(ctx) if replacementFormat is not None else None
                if isinstance(form, str):
                    new = form.replace("%s", new, 1)
            setter(ctx, new)
    return run


def _truncate(text: str, limit: int) -> str:
    """Go's s[:limit] counts bytes; the cut is moved back off a split UTF-8 sequence (protobuf strings must be
    valid UTF-8, where Go would keep the partial bytes)."""
    raw = text.encode()
    return text if len(raw) <= limit else raw[:limit].decode(errors="ignore")


@_register("truncate_all", Param("target", "target"), Param("limit", "int"), editor=True)
def _truncate_all(target: Any, limit: int) -> Any:
    from .compiler import CompileError

    if limit < 0:
        raise CompileError(f"truncate_all: invalid limit for truncate_all function, {limit} cannot be negative")
    getter = target[0]

    def run(ctx: Ctx) -> None:
        m = _map_of(getter, ctx, "truncate_all")
        for k, v in list(m.items()):
            if isinstance(v, str) and len(v.encode()) > limit:
                new = _truncate(v, limit)
                _put(m, k, new)
    return run


@_register("limit", Param("target", "target"), Param("limit", "int"), Param("priority_keys", "strlist", True), editor=True)
def _limit(target: Any, limit: int, priority_keys: list[str] | None) -> Any:
    from .compiler import CompileError

    priority = list(dict.fromkeys(priority_keys or []))
    if limit < 0:
        raise CompileError(f"limit: invalid limit for limit function, {limit} cannot be negative")
    if limit < len(priority):
        raise CompileError(f"limit: invalid limit for limit function, {limit} cannot be less than number of priority attributes {len(priority)}")
    getter = target[0]

    def run(ctx: Ctx) -> None:
        m = _map_of(getter, ctx, "limit")
        keys = list(m.keys())
        if len(keys) <= limit:
            return
        kept = [k for k in priority if k in keys]
        for k in keys:
            if len(kept) >= limit:
                break
            if k not in kept:
                kept.append(k)
        keep = frozenset(kept)
        _retain(m, keep.__contains__)
    return run


@_register("merge_maps", Param("target", "target"), Param("source", "value"), Param("strategy", "str"), editor=True)
def _merge_maps(target: Any, source: Any, strategy: str) -> Any:
    from .compiler import CompileError

    if strategy not in ("insert", "update", "upsert"):
        raise CompileError(f"merge_maps: {strategy} is not a valid merge strategy")
    getter = target[0]

    def run(ctx: Ctx) -> None:
        m = _map_of(getter, ctx, "merge_maps")
        src = source(ctx)
        if not isinstance(src, (AttrMap, dict)):
            raise TypeError(f"merge_maps: source must be a map, got {type_name(src)}")
        for k, v in list(src.items()):
            present = k in m
            if strategy == "upsert" or (strategy == "insert" and not present) or (strategy == "update" and present):
                _put(m, k, plain(v))
    return run


@_register("flatten", Param("target", "target"), Param("prefix", "value", True), Param("depth", "int", True),
           Param("resolveConflicts", "value", True), editor=True)
def _flatten(target: Any, prefix: Any, depth: int | None, resolveConflicts: Any) -> Any:  # noqa: N803
    from .compiler import CompileError

    if depth is not None and depth < 0:
        raise CompileError("flatten: invalid depth for flatten function, it cannot be negative")
    max_depth = depth if depth is not None else 1 << 31
    getter = target[0]

    def run(ctx: Ctx) -> None:
        m = _map_of(getter, ctx, "flatten")
        pre = prefix(ctx) if prefix is not None else None
        resolve = bool(resolveConflicts(ctx)) if resolveConflicts is not None else False
        out: dict[str, Any] = {}

        def put(key: str, value: Any) -> None:
            if resolve and key in out:
                n = 0
                while f"{key}.{n}" in out:
                    n += 1
                key = f"{key}.{n}"
            out[key] = value

        def walk(value: Any, key: str, level: int) -> None:
            if isinstance(value, dict) and level < max_depth:
                for k, v in value.items():
                    walk(v, f"{key}.{k}" if key else k, level + 1)
            elif isinstance(value, list) and level < max_depth:
                for i, v in enumerate(value):
                    walk(v, f"{key}.{i}", level + 1)
            else:
                put(key, value)

        for k, v in plain(m).items():
            walk(v, f"{pre}.{k}" if isinstance(pre, str) and pre else k, 0)
        if isinstance(m, AttrMap):
            m.replace_all(out)
        else:
            m.clear()
            m.update(out)
    return run


from . import converters  # noqa: E402,F401  (registers the converters)
