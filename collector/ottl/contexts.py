"""OTTL contexts: what a path names in each (otelcol-contrib pkg/ottl/contexts/ottl*/ and internal/ctxutil).

A statement runs on one item with the items that contain it: a `Ctx` holds the resource, scope, span, span
event, log record, metric and data point (whichever the context has) and the statement's `cache` map.
`resolve(context, path)` gives the path's getter and setter, checked when the statement is compiled: an
unknown path or a path a context does not have is a config error, never a runtime surprise.

Paths may name their context (`resource.attributes["x"]`, `span.name` from a span event); a first part that
names no context is the path's first field, as in current otelcol."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from .grammar import Field, Path
from .values import AttrMap, from_any, plain, to_any, type_name

Getter = Callable[["Ctx"], Any]
Setter = Callable[["Ctx", Any], None]


class PathError(ValueError):
    pass


class Ctx:
    """One item with what contains it. `cache` lives for one statement sequence on one item."""

    __slots__ = ("resource", "scope", "span", "event", "log", "metric", "dp", "cache", "event_index")

    def __init__(self, resource: Any = None, scope: Any = None, span: Any = None, event: Any = None, log: Any = None,
                 metric: Any = None, dp: Any = None):
        self.resource, self.scope, self.span, self.event = resource, scope, span, event
        self.log, self.metric, self.dp = log, metric, dp
        self.cache: dict[str, Any] = {}
        self.event_index = -1


CONTEXTS = ("resource", "scope", "span", "spanevent", "log", "metric", "datapoint")
# A context's parents: the contexts its paths may also name (and the prefixes they go by).
_PARENTS = {
    "resource": (),
    "scope": ("resource",),
    "span": ("resource", "scope"),
    "spanevent": ("resource", "scope", "span"),
    "log": ("resource", "scope"),
    "metric": ("resource", "scope"),
    "datapoint": ("resource", "scope", "metric"),
}
_PREFIXES = {"resource": "resource", "instrumentation_scope": "scope", "scope": "scope", "span": "span",
             "spanevent": "spanevent", "log": "log", "metric": "metric", "datapoint": "datapoint"}

ENUMS: dict[str, dict[str, int]] = {
    "span": {"SPAN_KIND_UNSPECIFIED": 0, "SPAN_KIND_INTERNAL": 1, "SPAN_KIND_SERVER": 2, "SPAN_KIND_CLIENT": 3,
             "SPAN_KIND_PRODUCER": 4, "SPAN_KIND_CONSUMER": 5, "STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2},
    "log": {f"SEVERITY_NUMBER_{name}{'' if n == 1 else n}": base + n - 1
            for name, base in (("TRACE", 1), ("DEBUG", 5), ("INFO", 9), ("WARN", 13), ("ERROR", 17), ("FATAL", 21)) for n in (1, 2, 3, 4)}
           | {"SEVERITY_NUMBER_UNSPECIFIED": 0},
    "metric": {"METRIC_DATA_TYPE_NONE": 0, "METRIC_DATA_TYPE_GAUGE": 1, "METRIC_DATA_TYPE_SUM": 2, "METRIC_DATA_TYPE_HISTOGRAM": 3,
               "METRIC_DATA_TYPE_EXPONENTIAL_HISTOGRAM": 4, "METRIC_DATA_TYPE_SUMMARY": 5,
               "AGGREGATION_TEMPORALITY_UNSPECIFIED": 0, "AGGREGATION_TEMPORALITY_DELTA": 1, "AGGREGATION_TEMPORALITY_CUMULATIVE": 2},
    "datapoint": {"FLAG_NONE": 0, "FLAG_NO_RECORDED_VALUE": 1},
}
ENUMS["spanevent"] = ENUMS["span"]
ENUMS["datapoint"] = ENUMS["datapoint"] | ENUMS["metric"]


def enum_value(context: str, name: str) -> int | None:
    for ctx in (context, *_PARENTS[context]):
        if name in ENUMS.get(ctx, {}):
            return ENUMS[ctx][name]
    return None


def _check_int(path: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{path} expects an int, got {type_name(value)}")
    return value


def _check_str(path: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{path} expects a string, got {type_name(value)}")
    return value


def _field(obj: Callable[[Ctx], Any], name: str, path: str, kind: str) -> tuple[Getter, Setter]:
    def get(ctx: Ctx) -> Any:
        return getattr(obj(ctx), name)

    check = {"int": _check_int, "str": _check_str}[kind]

    def set_(ctx: Ctx, value: Any) -> None:
        setattr(obj(ctx), name, check(path, value))

    return get, set_


def _id(obj: Callable[[Ctx], Any], name: str, width: int, string: bool, path: str) -> tuple[Getter, Setter]:
    if string:
        def get(ctx: Ctx) -> Any:
            raw = getattr(obj(ctx), name)
            return raw.hex() if raw else ""

        def set_(ctx: Ctx, value: Any) -> None:
            text = _check_str(path, value)
            try:
                raw = bytes.fromhex(text)
            except ValueError:
                raise ValueError(f"{path}: not a hex id") from None
            if len(raw) != width:
                raise ValueError(f"{path}: expected {width} bytes of hex")
            setattr(obj(ctx), name, raw)
        return get, set_

    def get_raw(ctx: Ctx) -> Any:
        raw = getattr(obj(ctx), name)
        return raw if raw else bytes(width)

    def set_raw(ctx: Ctx, value: Any) -> None:
        if not isinstance(value, (bytes, bytearray)) or len(value) != width:
            raise TypeError(f"{path} expects a {width}-byte id")
        setattr(obj(ctx), name, bytes(value))
    return get_raw, set_raw


def _time(obj: Callable[[Ctx], Any], name: str, path: str) -> tuple[Getter, Setter]:
    def get(ctx: Ctx) -> Any:
        return datetime.datetime.fromtimestamp(getattr(obj(ctx), name) / 1e9, tz=datetime.UTC)

    def set_(ctx: Ctx, value: Any) -> None:
        if not isinstance(value, datetime.datetime):
            raise TypeError(f"{path} expects a time")
        setattr(obj(ctx), name, int(value.timestamp() * 1e9))
    return get, set_


def _keyed(base: Getter, keys: tuple[str | int, ...], path: str, slot: Callable[[Ctx], Any] | None) -> tuple[Getter, Setter]:
    """Indexing into a map (string keys) or a slice (int keys), for reading and, through `slot` (the map of the
    first key, as an AttrMap), for writing."""

    def get(ctx: Ctx) -> Any:
        value = base(ctx)
        for k in keys:
            if value is None:
                return None
            if isinstance(k, str):
                if not isinstance(value, (AttrMap, dict)):
                    raise TypeError(f"{path}: cannot index a {type_name(value)} with a string key")
                value = value.get(k)
            else:
                if not isinstance(value, list):
                    raise TypeError(f"{path}: cannot index a {type_name(value)} with an int key")
                if not 0 <= k < len(value):
                    raise IndexError(f"{path}: index {k} out of range")
                value = value[k]
        return value

    def set_(ctx: Ctx, value: Any) -> None:
        if slot is None:
            raise PathError(f"{path} cannot be set")
        target = slot(ctx)
        if isinstance(target, dict):  # the cache
            _set_plain(target, keys, plain(value), path)
            return
        first = keys[0]
        if not isinstance(first, str):
            raise TypeError(f"{path}: a map is indexed with string keys")
        if len(keys) == 1:
            if value is None:
                return  # setting a map key to nil leaves it (pdata SetEmpty on a missing key is a no-op in OTTL)
            target.set(first, plain(value))
            return
        anyv = target.slot(first)
        for k in keys[1:]:
            if isinstance(k, str):
                if anyv.WhichOneof("value") != "kvlist_value":
                    to_any({}, anyv)
                anyv = AttrMap(anyv.kvlist_value.values).slot(k)
            else:
                if anyv.WhichOneof("value") != "array_value" or not 0 <= k < len(anyv.array_value.values):
                    raise IndexError(f"{path}: index {k} out of range")
                anyv = anyv.array_value.values[k]
        to_any(plain(value), anyv)
    return get, set_


def _set_plain(target: dict, keys: tuple[str | int, ...], value: Any, path: str) -> None:
    for k in keys[:-1]:
        nxt = target.get(k) if isinstance(target, dict) else (target[k] if isinstance(target, list) and isinstance(k, int) and 0 <= k < len(target) else None)
        if not isinstance(nxt, (dict, list)):
            if not isinstance(k, str) or not isinstance(target, dict):
                raise IndexError(f"{path}: index {k} out of range")
            nxt = target[k] = {}
        target = nxt  # type: ignore[assignment]
    last = keys[-1]
    if isinstance(target, dict) and isinstance(last, str):
        target[last] = value
    elif isinstance(target, list) and isinstance(last, int) and 0 <= last < len(target):
        target[last] = value
    else:
        raise IndexError(f"{path}: index {last} out of range")


def _attributes(obj: Callable[[Ctx], Any], keys: tuple[str | int, ...], path: str) -> tuple[Getter, Setter]:
    def amap(ctx: Ctx) -> AttrMap:
        return AttrMap(obj(ctx).attributes)

    if not keys:
        def set_all(ctx: Ctx, value: Any) -> None:
            if not isinstance(value, (AttrMap, dict)):
                raise TypeError(f"{path} expects a map, got {type_name(value)}")
            amap(ctx).replace_all(value)
        return amap, set_all
    return _keyed(amap, keys, path, amap)


def _no_keys(f: Field, path: str) -> None:
    if f.keys:
        raise PathError(f"{path}: {f.name} cannot be indexed")


def _resource_path(fields: tuple[Field, ...], path: str) -> tuple[Getter, Setter]:
    res = _obj("resource")
    head = fields[0]
    if head.name == "attributes" and len(fields) == 1:
        return _attributes(res, head.keys, path)
    if head.name == "dropped_attributes_count" and len(fields) == 1:
        _no_keys(head, path)
        return _field(res, "dropped_attributes_count", path, "int")
    raise PathError(f'invalid path "{path}" for the resource context')


def _scope_path(fields: tuple[Field, ...], path: str) -> tuple[Getter, Setter]:
    scope = _obj("scope")
    head = fields[0]
    if len(fields) == 1:
        if head.name == "attributes":
            return _attributes(scope, head.keys, path)
        _no_keys(head, path)
        if head.name in ("name", "version"):
            return _field(scope, head.name, path, "str")
        if head.name == "dropped_attributes_count":
            return _field(scope, head.name, path, "int")
    raise PathError(f'invalid path "{path}" for the instrumentation scope context')


def _obj(name: str) -> Callable[[Ctx], Any]:
    if name == "resource":
        return lambda ctx: ctx.resource
    if name == "scope":
        return lambda ctx: ctx.scope
    if name == "span":
        return lambda ctx: ctx.span
    if name == "spanevent":
        return lambda ctx: ctx.event
    if name == "log":
        return lambda ctx: ctx.log
    if name == "metric":
        return lambda ctx: ctx.metric
    return lambda ctx: ctx.dp


def _span_path(fields: tuple[Field, ...], path: str) -> tuple[Getter, Setter]:
    span = _obj("span")
    head = fields[0]
    name = head.name
    sub = fields[1].name if len(fields) > 1 else None
    if len(fields) > 2 or (sub is not None and fields[1].keys):
        raise PathError(f'invalid path "{path}" for the span context')
    if name == "attributes" and sub is None:
        return _attributes(span, head.keys, path)
    if name == "trace_state":
        if sub is not None or len(head.keys) > 1:
            raise PathError(f'invalid path "{path}" for the span context')
        return _trace_state(span, head.keys[0] if head.keys else None, path)
    _no_keys(head, path)
    if name in ("trace_id", "span_id", "parent_span_id") and sub in (None, "string"):
        return _id(span, name, 16 if name == "trace_id" else 8, sub == "string", path)
    if sub is None:
        if name == "name":
            return _field(span, "name", path, "str")
        if name in ("kind", "start_time_unix_nano", "end_time_unix_nano", "dropped_attributes_count", "dropped_events_count",
                    "dropped_links_count", "flags"):
            return _field(span, name, path, "int")
        if name in ("start_time", "end_time"):
            return _time(span, name + "_unix_nano", path)
    if name == "kind" and sub in ("string", "deprecated_string"):
        return _kind_string(span, sub, path)
    if name == "status":
        status = lambda ctx: ctx.span.status  # noqa: E731
        if sub == "code":
            return _field(status, "code", path, "int")
        if sub == "message":
            return _field(status, "message", path, "str")
    raise PathError(f'invalid path "{path}" for the span context')


_KIND_NAMES = ("Unspecified", "Internal", "Server", "Client", "Producer", "Consumer")
_KIND_DEPRECATED = ("SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER", "SPAN_KIND_CLIENT", "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER")


def _kind_string(span: Callable[[Ctx], Any], sub: str, path: str) -> tuple[Getter, Setter]:
    names = _KIND_NAMES if sub == "string" else _KIND_DEPRECATED

    def get(ctx: Ctx) -> Any:
        k = span(ctx).kind
        return names[k] if 0 <= k < len(names) else ""

    def set_(ctx: Ctx, value: Any) -> None:
        text = _check_str(path, value)
        if text in names:
            span(ctx).kind = names.index(text)
    return get, set_


def _trace_state(span: Callable[[Ctx], Any], key: str | int | None, path: str) -> tuple[Getter, Setter]:
    if key is None:
        return _field(span, "trace_state", path, "str")
    if not isinstance(key, str):
        raise PathError(f"{path}: trace_state is indexed with string keys")

    def entries(ctx: Ctx) -> list[tuple[str, str]]:
        out = []
        for member in span(ctx).trace_state.split(","):
            k, sep, v = member.strip().partition("=")
            if sep:
                out.append((k, v))
        return out

    def get(ctx: Ctx) -> Any:
        return next((v for k, v in entries(ctx) if k == key), "")

    def set_(ctx: Ctx, value: Any) -> None:
        text = _check_str(path, value)
        members = [(k, v) for k, v in entries(ctx) if k != key]
        span(ctx).trace_state = ",".join(f"{k}={v}" for k, v in [(key, text), *members])
    return get, set_


def _event_path(fields: tuple[Field, ...], path: str) -> tuple[Getter, Setter]:
    event = _obj("spanevent")
    head = fields[0]
    if len(fields) == 1:
        if head.name == "attributes":
            return _attributes(event, head.keys, path)
        _no_keys(head, path)
        if head.name == "name":
            return _field(event, "name", path, "str")
        if head.name in ("time_unix_nano", "dropped_attributes_count"):
            return _field(event, head.name, path, "int")
        if head.name == "time":
            return _time(event, "time_unix_nano", path)
        if head.name == "event_index":
            return (lambda ctx: ctx.event_index), _read_only(path)
    raise PathError(f'invalid path "{path}" for the span event context')


def _read_only(path: str) -> Setter:
    def set_(ctx: Ctx, value: Any) -> None:
        raise PathError(f"{path} cannot be set")
    return set_


def _log_path(fields: tuple[Field, ...], path: str) -> tuple[Getter, Setter]:
    log = _obj("log")
    head = fields[0]
    name = head.name
    sub = fields[1].name if len(fields) > 1 else None
    if name == "attributes" and sub is None:
        return _attributes(log, head.keys, path)
    if name == "body" and len(fields) <= 2:
        if sub == "string":
            def get_str(ctx: Ctx) -> Any:
                v = plain(from_any(ctx.log.body))
                return v if isinstance(v, str) else _as_string(v)
            return get_str, lambda ctx, value: to_any(_check_str(path, value), ctx.log.body)
        if sub is None:
            def body(ctx: Ctx) -> Any:
                return from_any(ctx.log.body)

            if head.keys:
                def body_map(ctx: Ctx) -> AttrMap:
                    b = ctx.log.body
                    if b.WhichOneof("value") != "kvlist_value":
                        to_any({}, b)
                    return AttrMap(b.kvlist_value.values)
                return _keyed(body, head.keys, path, body_map)
            return body, lambda ctx, value: to_any(plain(value), ctx.log.body)
    _no_keys(head, path)
    if len(fields) == 1:
        if name == "severity_text":
            return _field(log, name, path, "str")
        if name in ("severity_number", "time_unix_nano", "observed_time_unix_nano", "dropped_attributes_count", "flags"):
            return _field(log, name, path, "int")
        if name in ("time", "observed_time"):
            return _time(log, name + "_unix_nano", path)
        if name == "event_name":
            return _field(log, name, path, "str")
    if name in ("trace_id", "span_id") and sub in (None, "string") and len(fields) <= 2:
        return _id(log, name, 16 if name == "trace_id" else 8, sub == "string", path)
    raise PathError(f'invalid path "{path}" for the log context')


def _as_string(value: Any) -> str:
    import orjson

    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_METRIC_TYPES = {"gauge": 1, "sum": 2, "histogram": 3, "exponential_histogram": 4, "summary": 5}


def _metric_path(fields: tuple[Field, ...], path: str) -> tuple[Getter, Setter]:
    metric = _obj("metric")
    head = fields[0]
    _no_keys(head, path)
    if len(fields) == 1:
        if head.name in ("name", "description", "unit"):
            return _field(metric, head.name, path, "str")
        if head.name == "type":
            return (lambda ctx: _METRIC_TYPES.get(ctx.metric.WhichOneof("data") or "", 0)), _read_only(path)
        if head.name == "aggregation_temporality":
            def get_t(ctx: Ctx) -> Any:
                data = ctx.metric.WhichOneof("data")
                return getattr(ctx.metric, data).aggregation_temporality if data in ("sum", "histogram", "exponential_histogram") else 0

            def set_t(ctx: Ctx, value: Any) -> None:
                data = ctx.metric.WhichOneof("data")
                if data in ("sum", "histogram", "exponential_histogram"):
                    getattr(ctx.metric, data).aggregation_temporality = _check_int(path, value)
            return get_t, set_t
        if head.name == "is_monotonic":
            def get_m(ctx: Ctx) -> Any:
                return ctx.metric.sum.is_monotonic if ctx.metric.WhichOneof("data") == "sum" else False

            def set_m(ctx: Ctx, value: Any) -> None:
                if ctx.metric.WhichOneof("data") == "sum":
                    ctx.metric.sum.is_monotonic = bool(value)
            return get_m, set_m
    raise PathError(f'invalid path "{path}" for the metric context')


def _datapoint_path(fields: tuple[Field, ...], path: str) -> tuple[Getter, Setter]:
    dp = _obj("datapoint")
    head = fields[0]
    if len(fields) == 1:
        if head.name == "attributes":
            return _attributes(dp, head.keys, path)
        _no_keys(head, path)
        if head.name in ("start_time_unix_nano", "time_unix_nano", "flags", "count"):
            return _field(dp, head.name, path, "int")
        if head.name in ("start_time", "time"):
            return _time(dp, head.name + "_unix_nano", path)
        if head.name == "sum":
            return (lambda ctx: float(ctx.dp.sum)), (lambda ctx, v: setattr(ctx.dp, "sum", float(v)))
        if head.name in ("value_double", "value_int"):
            member = "as_double" if head.name == "value_double" else "as_int"
            zero = 0.0 if member == "as_double" else 0

            def get_v(ctx: Ctx) -> Any:
                return getattr(ctx.dp, member) if ctx.dp.WhichOneof("value") == member else zero

            def set_v(ctx: Ctx, value: Any) -> None:
                setattr(ctx.dp, member, float(value) if member == "as_double" else _check_int(path, value))
            return get_v, set_v
    raise PathError(f'invalid path "{path}" for the datapoint context')


_RESOLVERS = {"resource": _resource_path, "scope": _scope_path, "span": _span_path, "spanevent": _event_path,
              "log": _log_path, "metric": _metric_path, "datapoint": _datapoint_path}


def path_context(context: str, path: Path) -> tuple[str, tuple[Field, ...]]:
    """The context a path reads (its named context, else `context`) and its fields after the context's name."""
    first = path.fields[0]
    named = _PREFIXES.get(first.name)
    if named is not None and len(path.fields) > 1 and not first.keys and (named == context or named in _PARENTS[context]):
        return named, path.fields[1:]
    return context, path.fields


def resolve(context: str, path: Path) -> tuple[Getter, Setter]:
    """The getter and setter of `path` in `context` (PathError if it names nothing there)."""
    text = str(path)
    first = path.fields[0]
    if first.name == "cache":
        if len(path.fields) != 1:
            raise PathError(f'invalid path "{text}"')

        def cache(ctx: Ctx) -> Any:
            return ctx.cache

        if not first.keys:
            def set_cache(ctx: Ctx, value: Any) -> None:
                if not isinstance(value, (AttrMap, dict)):
                    raise TypeError(f"{text} expects a map")
                ctx.cache = plain(value)
            return cache, set_cache
        return _keyed(cache, first.keys, text, cache)
    target, fields = path_context(context, path)
    if not fields:
        raise PathError(f'invalid path "{text}"')
    return _RESOLVERS[target](fields, text)
