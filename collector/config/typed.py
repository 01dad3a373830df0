"""Typed config objects: dataclasses decoded from YAML with errors that say what was expected.

A component's config is a dataclass whose fields carry their default and a one-line doc
(`option(...)`); the same declarations generate the config reference (docs/configuration.md).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import difflib
import re
import types
import typing
from collections.abc import Callable
from typing import Any, Literal, Union, get_args, get_origin

from .source import ConfigError, Document, KeyPath


def option(default: Any = dataclasses.MISSING, doc: str = "", *, key: str | None = None, factory: Callable[[], Any] | None = None,
           secret: bool = False) -> Any:
    """A config field. `key` is the YAML spelling when it is not a valid Python name (e.g. `and`).
    `secret`: a token, key or header value (otelcol's `configopaque.String`): kept out of repr(), and an
    error about it says what type was given, never the value."""
    metadata = {"doc": doc}
    if key is not None:
        metadata["key"] = key
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata, repr=not secret)
    return dataclasses.field(default=default, metadata=metadata, repr=not secret)


_OPEN_FILES: contextvars.ContextVar[bool] = contextvars.ContextVar("open_files", default=True)


def opens_files() -> bool:
    """Whether config checks may open the files a config names (TLS certificates and keys): `run` does,
    `validate` does not, as otelcol's validate does not (a config validated on one machine passes there)."""
    return _OPEN_FILES.get()


@contextlib.contextmanager
def files_not_opened() -> typing.Iterator[None]:
    token = _OPEN_FILES.set(False)
    try:
        yield
    finally:
        _OPEN_FILES.reset(token)


def yaml_key(f: dataclasses.Field) -> str:
    return f.metadata.get("key", f.name)


class Invalid(Exception):
    """Raised by a config's `validate()` for a problem that needs more than one field to see."""

    def __init__(self, message: str, key: str | int | tuple[str | int, ...] = ()):
        super().__init__(message)
        self.message = message
        self.key: tuple[str | int, ...] = key if isinstance(key, tuple) else (key,)


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class Duration(float):
    """Seconds, written in YAML the Go way: `200ms`, `5s`, `1m30s`. A bare number is nanoseconds, as otelcol
    reads it: confmap's only duration hook parses strings (mapstructure's StringToTimeDurationHookFunc), so a
    YAML number is stored as the int64 of Go's time.Duration (a float truncated), e.g. `5` is 5ns."""

    expected = 'a duration like "200ms"'

    @classmethod
    def parse(cls, value: Any) -> Duration:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if value < 0 or value != value or value in (float("inf"), float("-inf")):
                raise ValueError
            return cls(int(value) / 1e9)
        if not isinstance(value, str):
            raise ValueError
        text = value.strip()
        if text == "0":  # the one unitless duration Go's time.ParseDuration accepts
            return cls(0.0)
        pos, total = 0, 0.0
        negative = text.startswith("-")
        if negative:
            text = text[1:]
        while pos < len(text):
            m = _DURATION_PART.match(text, pos)
            if m is None:
                raise ValueError
            total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
            pos = m.end()
        if not text or negative:
            raise ValueError
        return cls(total)

    def __str__(self) -> str:
        if self == 0:
            return "0s"
        for unit, scale in (("h", 3600.0), ("m", 60.0), ("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
            n = self / scale
            if n >= 1 and abs(n - round(n)) < 1e-9:
                return f"{round(n)}{unit}"
        return f"{float(self) * 1000:g}ms"


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]i?[bB]?|[bB])?\s*$")
_SIZE_UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12, "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}


class ByteSize(int):
    """Bytes; YAML may say `4MiB`, `20MB` (decimal) or a plain integer."""

    expected = 'a size like "4MiB" or a number of bytes'

    @classmethod
    def parse(cls, value: Any) -> ByteSize:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return cls(value)
        if not isinstance(value, str):
            raise ValueError
        m = _SIZE.match(value)
        if m is None:
            raise ValueError
        unit = (m.group(2) or "").lower().rstrip("b")
        return cls(int(float(m.group(1)) * _SIZE_UNITS[unit]))

    def __str__(self) -> str:
        for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
            if self >= scale and self % scale == 0:
                return f"{self // scale}{unit}"
        return str(int(self))


class Endpoint(str):
    """`host:port`; an empty host binds every interface, which must be asked for explicitly."""

    expected = 'an endpoint like "127.0.0.1:4317"'

    @classmethod
    def parse(cls, value: Any) -> Endpoint:
        """Raises ValueError naming what is wrong, never the value: an endpoint is often assembled from
        environment variables (`${env:MY_POD_IP}:4317`), and an error message is no place for their contents."""
        if not isinstance(value, str):
            raise ValueError(f"got {_kind(value)}")
        if not value:
            raise ValueError("got an empty string")
        host, sep, port = value.rpartition(":")
        if not sep:
            raise ValueError("got no :port")
        if not port:
            raise ValueError("got nothing after the last colon")
        if not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError("got a port that is not a number from 0 to 65535")
        if host.startswith("[") != host.endswith("]"):
            raise ValueError("got an IPv6 host without both [ and ]")
        return cls(value)

    @property
    def host(self) -> str:
        return self.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.rpartition(":")[2])


_SPECIAL_TYPES = (Duration, ByteSize, Endpoint)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _quote(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


class Decoder:
    """Decodes plain YAML data into config dataclasses, collecting every error instead of stopping."""

    def __init__(self, document: Document):
        self.document = document
        self.errors: list[ConfigError] = []
        self._secret = 0  # > 0 while decoding a secret field (one declared with repr=False)

    def _got(self, value: Any) -> str:
        """The offending value as an error message shows it: a secret's only by its kind."""
        if self._secret:
            return f"{_kind(value)} (value not shown: the key holds a secret)"
        return _quote(value)

    def error(self, path: KeyPath, message: str) -> None:
        self.errors.append(ConfigError(message, path, self.document.locate(path)))

    def decode(self, tp: Any, value: Any, path: KeyPath) -> Any:
        if tp is Any:
            return value
        custom = getattr(tp, "from_config", None)
        if custom is not None:
            return custom(self, value, path)
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            return self.decode_fields(tp, value, path)
        origin = get_origin(tp)
        if origin in (Union, types.UnionType):
            options = get_args(tp)
            if value is None and type(None) in options:
                return None
            concrete = [o for o in options if o is not type(None)]
            if len(concrete) == 1:
                return self.decode(concrete[0], value, path)
            for candidate in concrete:
                trial = Decoder(self.document)
                trial._secret = self._secret
                result = trial.decode(candidate, value, path)
                if not trial.errors:
                    return result
            self.error(path, f"expected {' or '.join(_describe(c) for c in concrete)}, got {self._got(value)}")
            return None
        if origin is Literal:
            choices = get_args(tp)
            if value in choices and type(value) is type(choices[choices.index(value)]):
                return value
            self.error(path, f"expected one of {', '.join(_quote(c) for c in choices)}, got {self._got(value)}")
            return None
        if origin in (list, tuple) or tp in (list, tuple):
            (item_type,) = get_args(tp)[:1] or (Any,)
            if value is None:
                return []
            if not isinstance(value, list):
                self.error(path, f"expected a list, got {self._got(value)}")
                return []
            return [self.decode(item_type, item, path + (i,)) for i, item in enumerate(value)]
        if origin is dict or tp is dict:
            key_type, value_type = get_args(tp) or (str, Any)
            if value is None:
                return {}
            if not isinstance(value, dict):
                self.error(path, f"expected a mapping, got {self._got(value)}")
                return {}
            return {k: self.decode(value_type, v, path + (k,)) for k, v in value.items()}
        if tp in _SPECIAL_TYPES:
            try:
                return tp.parse(value)
            except ValueError as exc:
                got = str(exc) if tp is Endpoint else f"got {self._got(value)}"
                self.error(path, f"expected {tp.expected}, {got}")
                return tp.parse(0) if tp is not Endpoint else Endpoint("0.0.0.0:0")
        if tp is bool:
            if isinstance(value, bool):
                return value
            self.error(path, f"expected true or false, got {self._got(value)}")
            return False
        if tp is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            self.error(path, f"expected an integer, got {self._got(value)}")
            return 0
        if tp is float:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
            self.error(path, f"expected a number, got {self._got(value)}")
            return 0.0
        if tp is str:
            if isinstance(value, str):
                return value
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return str(value)
            self.error(path, f"expected a string, got {self._got(value)}")
            return ""
        raise TypeError(f"config type {tp!r} at {path} is not supported by the decoder")

    def decode_fields(self, cls: type, value: Any, path: KeyPath) -> Any:
        """A mapping decoded into dataclass `cls` key by key, then validated: what `decode` does for a
        dataclass, without calling `cls.from_config`. A `from_config` hook calls it once it has rewritten
        the value (a shorthand into a mapping, a present-but-empty key into `{}`), which `decode` cannot do
        for it: decode would call the hook again."""
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self.error(path, f"expected a mapping, got {self._got(value)}")
            value = {}
        before = len(self.errors)
        fields = {yaml_key(f): f for f in dataclasses.fields(cls) if f.init}
        hints = typing.get_type_hints(cls)
        for key in value:
            if key not in fields:
                close = difflib.get_close_matches(str(key), list(fields), n=1)
                hint = f'; did you mean "{close[0]}"?' if close else ""
                valid = ", ".join(fields) or "none"
                self.error(path + (key,), f"unknown key (valid keys: {valid}){hint}")
        kwargs = {}
        for key, f in fields.items():
            if key in value:
                if f.repr:
                    kwargs[f.name] = self.decode(hints[f.name], value[key], path + (key,))
                else:
                    self._secret += 1
                    try:
                        kwargs[f.name] = self.decode(hints[f.name], value[key], path + (key,))
                    finally:
                        self._secret -= 1
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                self.error(path, f'missing required key "{key}"')
                kwargs[f.name] = None
        instance = cls(**kwargs)
        validate = getattr(instance, "validate", None)
        if validate is not None and len(self.errors) == before:
            try:
                validate()
            except Invalid as exc:
                self.error(path + exc.key, exc.message)
        return instance


def _describe(tp: Any) -> str:
    if tp in _SPECIAL_TYPES:
        return tp.expected
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(tp, getattr(tp, "__name__", str(tp)))


def describe_type(tp: Any) -> str:
    """Short human type name for the generated config reference (a `from_config` type may name itself
    with a `doc_type` attribute)."""
    if isinstance(getattr(tp, "doc_type", None), str):
        return tp.doc_type
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        return " | ".join(describe_type(a) for a in get_args(tp) if a is not type(None))
    if origin is Literal:
        return " \\| ".join(f"`{a}`" for a in get_args(tp))
    if origin in (list, tuple):
        return f"list of {describe_type(get_args(tp)[0])}"
    if origin is dict:
        return f"map of {describe_type(get_args(tp)[1])}"
    if tp in (Duration, ByteSize, Endpoint):
        return {Duration: "duration", ByteSize: "size", Endpoint: "host:port"}[tp]
    if dataclasses.is_dataclass(tp):
        return "mapping"
    return {bool: "bool", int: "int", float: "float", str: "string"}.get(tp, "any")


def render_default(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (Duration, ByteSize)):
        return str(value)
    if isinstance(value, str):
        return f'"{value}"' if value else '""'
    if isinstance(value, (list, dict)) and not value:
        return "[]" if isinstance(value, list) else "{}"
    return str(value)
