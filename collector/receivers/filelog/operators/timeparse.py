"""The parsers' `timestamp` and `severity` blocks (stanza's helper/time.go and helper/severity*.go):
a time read from a field with a strptime, Go (`gotime`) or `epoch` layout, and a severity read from a
field through the default mapping, a `preset` and the block's own `mapping`."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ....config import Invalid, option
from ..entry import Entry, Field, FieldError

_MONTHS = [m.lower() for m in calendar.month_abbr[1:]]
_MONTH_NAMES = [m.lower() for m in calendar.month_name[1:]]

# stanza's strptime directives (observiq/ctimefmt) -> (regex, what it sets)
_DIRECTIVES: dict[str, tuple[str, str]] = {
    "Y": (r"\d{4}", "year"), "y": (r"\d{2}", "year2"), "m": (r"\d{1,2}", "month"), "q": (r"\d{1,2}", "month"),
    "b": (r"[A-Za-z]{3}", "month_abbr"), "h": (r"[A-Za-z]{3}", "month_abbr"), "B": (r"[A-Za-z]+", "month_name"),
    "d": (r"\d{1,2}", "day"), "e": (r"[ \d]?\d", "day"), "g": (r"\d{1,2}", "day"), "a": (r"[A-Za-z]{3}", "skip"), "A": (r"[A-Za-z]+", "skip"),
    "H": (r"\d{1,2}", "hour"), "l": (r"[ \d]?\d", "hour12"), "I": (r"\d{1,2}", "hour12"), "M": (r"\d{1,2}", "minute"),
    "S": (r"\d{1,2}", "second"), "L": (r"\d{3}", "fraction"), "f": (r"\d{6}", "fraction"), "s": (r"\d{9}", "fraction"),
    "F": (r"\d+", "fraction"),  # internal: a fraction of any length (gotime's .999)
    "p": (r"[AaPp][Mm]", "ampm"), "z": (r"Z|[+-]\d{2}:?\d{2}", "offset"), "Z": (r"[A-Za-z][A-Za-z0-9_/+-]*", "zone"),
    "j": (r"\d{3}", "skip"), "%": (r"%", "skip"),
}
_COMPOSITE = {"c": "%a %b %e %H:%M:%S %Y", "D": "%m/%d/%y", "x": "%m/%d/%y", "T": "%H:%M:%S", "X": "%H:%M:%S", "r": "%I:%M:%S %p", "R": "%H:%M"}

_GO_TOKENS = sorted({
    "January": "%B", "Jan": "%b", "Monday": "%A", "Mon": "%a", "2006": "%Y", "06": "%y", "01": "%m", "1": "%m",
    "02": "%d", "_2": "%e", "2": "%d", "15": "%H", "03": "%I", "3": "%I", "04": "%M", "4": "%M", "05": "%S", "5": "%S",
    "PM": "%p", "pm": "%p", "MST": "%Z", "Z07:00": "%z", "-07:00": "%z", "Z0700": "%z", "-0700": "%z", "Z07": "%z", "-07": "%z",
    "002": "%j",
}.items(), key=lambda kv: -len(kv[0]))
_GO_FRACTION = re.compile(r"[.,](0+|9+)")


def gotime_to_strptime(layout: str) -> str:
    out, i = [], 0
    while i < len(layout):
        m = _GO_FRACTION.match(layout, i)
        if m and not (m.end() < len(layout) and layout[m.end()].isdigit()):
            out.append("%.F")
            i = m.end()
            continue
        for token, directive in _GO_TOKENS:
            if layout.startswith(token, i):
                out.append(directive)
                i += len(token)
                break
        else:
            out.append(layout[i].replace("%", "%%"))
            i += 1
    return "".join(out)


def _compile(layout: str) -> tuple[re.Pattern[str], list[str]]:
    for short, long in _COMPOSITE.items():
        layout = layout.replace(f"%{short}", long)
    regex, groups, i = ["^"], [], 0
    while i < len(layout):
        ch = layout[i]
        if ch == "%" and i + 1 < len(layout):
            nxt = layout[i + 1]
            if nxt == "." and layout[i + 2:i + 3] == "F":  # gotime's optional fraction
                groups.append("fraction")
                regex.append(r"(?:[.,](\d+))?")
                i += 3
                continue
            if nxt not in _DIRECTIVES:
                raise ValueError(f"unknown directive %{nxt}")
            pattern, what = _DIRECTIVES[nxt]
            if what == "skip":
                regex.append(f"(?:{pattern})")
            else:
                groups.append(what)
                regex.append(f"({pattern})")
            i += 2
            continue
        regex.append(r"\s+" if ch == " " else re.escape(ch))
        i += 1
    regex.append("$")
    return re.compile("".join(regex)), groups


_EPOCH_LAYOUTS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1, "s.ms": 1_000_000_000, "s.us": 1_000_000_000, "s.ns": 1_000_000_000}


@dataclass
class TimeConfig:
    parse_from: str = option("", "Field holding the time (required).")
    layout_type: Literal["strptime", "gotime", "epoch"] = option("strptime", "How `layout` is written.")
    layout: str = option("", "strptime directives (`%Y-%m-%d %H:%M:%S.%L %z`), a Go reference time (`2006-01-02T15:04:05Z07:00`) or an epoch unit (s, ms, us, ns, s.ms, s.us, s.ns).")
    location: str = option("", "Time zone (IANA name) of times without an offset; default UTC.")

    def validate(self) -> None:
        try:
            Field.parse(self.parse_from)
        except FieldError as exc:
            raise Invalid(str(exc) if self.parse_from else "missing required key", "parse_from") from None
        if not self.layout:
            raise Invalid("missing required key", "layout")
        if self.layout_type == "epoch":
            if self.layout not in _EPOCH_LAYOUTS:
                raise Invalid(f"expected one of {', '.join(_EPOCH_LAYOUTS)}", "layout")
        else:
            try:
                _compile(self.layout if self.layout_type == "strptime" else gotime_to_strptime(self.layout))
            except ValueError as exc:
                raise Invalid(str(exc), "layout") from None
        if self.location:
            try:
                ZoneInfo(self.location)
            except (ZoneInfoNotFoundError, ValueError):
                raise Invalid("unknown time zone", "location") from None


class TimeParser:
    def __init__(self, config: TimeConfig):
        self.field = Field.parse(config.parse_from)
        self.epoch = config.layout if config.layout_type == "epoch" else None
        if self.epoch is None:
            strptime = config.layout if config.layout_type == "strptime" else gotime_to_strptime(config.layout)
            self.regex, self.groups = _compile(strptime)
        self.zone: Any = ZoneInfo(config.location) if config.location else UTC

    def parse(self, entry: Entry) -> None:
        value, found = self.field.get(entry)
        if not found:
            raise ValueError(f"time field {self.field} not found")
        entry.timestamp = self.parse_value(value)

    def parse_value(self, value: Any) -> int:
        if self.epoch is not None:
            return _epoch(value, self.epoch)
        if not isinstance(value, str):
            raise ValueError(f"time value is a {type(value).__name__}, not a string")
        m = self.regex.match(value.strip())
        if m is None:
            raise ValueError("time value does not match the layout")
        return self._build(dict(zip(self.groups, m.groups(), strict=True)))

    def _build(self, found: dict[str, str | None]) -> int:
        parts = {k: v for k, v in found.items() if v is not None}
        now = datetime.now(UTC)
        year = int(parts["year"]) if parts.get("year") else (2000 + int(parts["year2"]) if parts.get("year2") else now.year)
        month = 1
        if parts.get("month"):
            month = int(parts["month"])
        elif parts.get("month_abbr"):
            month = _MONTHS.index(parts["month_abbr"].lower()) + 1
        elif parts.get("month_name"):
            month = _MONTH_NAMES.index(parts["month_name"].lower()) + 1
        hour = int(parts.get("hour") or 0)
        if parts.get("hour12"):
            hour = int(parts["hour12"]) % 12 + (12 if parts.get("ampm", "").lower() == "pm" else 0)
        fraction = parts.get("fraction") or ""
        nanos = int((fraction + "000000000")[:9]) if fraction else 0
        zone: Any = self.zone
        if parts.get("offset"):
            zone = _offset(parts["offset"])
        elif parts.get("zone"):
            name = parts["zone"]
            zone = UTC if name in ("UTC", "GMT", "Z") else _zone(name, self.zone)
        day = int((parts.get("day") or "1").strip())
        moment = datetime(year, month, day, hour, int(parts.get("minute") or 0), int(parts.get("second") or 0), tzinfo=zone)
        return calendar.timegm(moment.utctimetuple()) * 1_000_000_000 + nanos


def _zone(name: str, default: Any) -> Any:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return default


def _offset(text: str) -> timezone:
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4])))


def _epoch(value: Any, layout: str) -> int:
    if isinstance(value, bool):
        raise ValueError("time value is a boolean")
    if isinstance(value, str):
        value = value.strip()
        try:
            number: int | float = int(value) if "." not in layout else float(value)
        except ValueError:
            raise ValueError("time value is not a number") from None
    elif isinstance(value, (int, float)):
        number = value
    else:
        raise ValueError(f"time value is a {type(value).__name__}")
    return int(round(number * _EPOCH_LAYOUTS[layout]))


# --- severity ---------------------------------------------------------------------------------------

_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"]
# stanza's "otel"/"aliases" mapping: trace=1, trace2=2, ..., fatal4=24, and the numbers themselves.
_ALIASES: dict[str, int] = {}
for _i, _name in enumerate(_LEVELS):
    for _step in range(4):
        _number = _i * 4 + _step + 1
        _ALIASES[_name if _step == 0 else f"{_name}{_step + 1}"] = _number
        _ALIASES[str(_number)] = _number
_DEFAULT = {**_ALIASES, "warning": 13, "warning2": 14, "warning3": 15, "warning4": 16, "err": 17, "err2": 18, "err3": 19, "err4": 20}
_PRESETS = {"none": {}, "otel": _ALIASES, "aliases": _ALIASES, "default": _DEFAULT, "": _DEFAULT}
_HTTP_RANGES = {"2xx": (200, 299), "3xx": (300, 399), "4xx": (400, 499), "5xx": (500, 599)}


@dataclass
class SeverityConfig:
    parse_from: str = option("", "Field holding the severity (required).")
    preset: str = option("default", "Built-in mapping: `default` (trace..fatal4, their numbers, warning, err), `otel` (without warning/err) or `none`.")
    mapping: dict[str, Any] = option(None, "Severity level (`info`, `error2`, ...) -> a value, a list of values, `2xx`-style HTTP ranges or `{min, max}`; added to the preset.", factory=dict)

    def validate(self) -> None:
        try:
            Field.parse(self.parse_from)
        except FieldError as exc:
            raise Invalid(str(exc) if self.parse_from else "missing required key", "parse_from") from None
        if self.preset not in _PRESETS:
            raise Invalid("expected default, otel, aliases or none", "preset")
        try:
            build_mapping(self)
        except ValueError as exc:
            raise Invalid(str(exc), "mapping") from None


def _values(value: Any) -> list[str]:
    if isinstance(value, bool):
        raise ValueError("a boolean cannot be parsed as a severity")
    if isinstance(value, int):
        return [str(value)]
    if isinstance(value, str):
        if value in _HTTP_RANGES:
            low, high = _HTTP_RANGES[value]
            return [str(i) for i in range(low, high + 1)]
        return [value.lower()]
    if isinstance(value, dict) and isinstance(value.get("min"), int) and isinstance(value.get("max"), int):
        low, high = sorted((value["min"], value["max"]))
        return [str(i) for i in range(low, high + 1)]
    raise ValueError(f"a {type(value).__name__} cannot be parsed as a severity")


def build_mapping(config: SeverityConfig) -> dict[str, int]:
    mapping = dict(_PRESETS[config.preset])
    for level, values in config.mapping.items():
        number = _ALIASES.get(str(level).lower())
        if number is None:
            raise ValueError(f"unknown severity level {level!r}")
        for value in values if isinstance(values, list) else [values]:
            for v in _values(value):
                mapping[v] = number
    return mapping


class SeverityParser:
    def __init__(self, config: SeverityConfig):
        self.field = Field.parse(config.parse_from)
        self.mapping = build_mapping(config)

    def parse(self, entry: Entry) -> None:
        value, found = self.field.get(entry)
        if not found:
            raise ValueError(f"severity field {self.field} not found")
        if isinstance(value, bool) or not isinstance(value, (str, int, float, bytes)):
            raise ValueError(f"a {type(value).__name__} cannot be parsed as a severity")
        text = value.decode(errors="replace") if isinstance(value, bytes) else str(int(value) if isinstance(value, float) and value.is_integer() else value)
        entry.severity = self.mapping.get(text.lower(), 0)
        entry.severity_text = text
