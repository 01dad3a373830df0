"""otelcol's `include` / `exclude` matching (contrib's internal/filter: filterconfig, filterset, filtermatcher,
filterspan, filterlog, filtermetric), as the `attributes` processor uses it to choose what its actions apply to.

An item is processed when it matches `include` (if set) and does not match `exclude` (if set). Within one
block every property given must match: `services` (the resource's service.name), `span_names`, `span_kinds`
(`SPAN_KIND_SERVER`, ...), `log_bodies`, `log_severity_texts`, `log_severity_number`, `metric_names` (each a
list: any entry may match), `attributes` and `resources` (every listed key present, with the value if one
is given), `libraries` (the instrumentation scope's name and optional version). `match_type: strict` compares
exactly; `regexp` searches with Go's (RE2) syntax, a match anywhere in the string. Which properties a signal
accepts is checked when the pipelines are known (`problems_for`); metrics match on `metric_names` only, as
in otelcol.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from ..component import Signal
from ..config import Invalid, option
from .attraction import any_value, as_string, compile_pattern, format_positional

SPAN_KINDS = ("SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER", "SPAN_KIND_CLIENT", "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER")
_STRICT_SPAN_KINDS = sorted(SPAN_KINDS[1:])
# plog.SeverityNumber by the names otelcol's config accepts for log_severity_number.min.
SEVERITY_NAMES = {name: n for n, name in enumerate(
    ["UNSPECIFIED"] + [f"{level}{i if i > 1 else ''}" for level in ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL") for i in range(1, 5)])}


@dataclass
class AttributeMatch:
    key: str = option("", "Attribute key that must be present.")
    value: Any = option(None, "Value it must have (regexp: a pattern, matched against the value as a string); unset: any value.")

    def validate(self) -> None:
        if not self.key:
            raise Invalid("can't have empty key in the list of attributes", "key")
        if self.value is not None:
            try:
                any_value(self.value)
            except TypeError:
                raise Invalid("unsupported value type", "value") from None


@dataclass
class LibraryMatch:
    name: str = option("", "Instrumentation scope name.")
    version: str | None = option(None, "Instrumentation scope version; unset matches any version.")


@dataclass
class SeverityNumberMatch:
    min: int | str = option(0, "Lowest severity number that matches (a number 1-24 or a name such as INFO, WARN2).")
    match_undefined: bool = option(False, "Whether records without a severity number match.")

    def validate(self) -> None:
        if isinstance(self.min, str) and self.min.upper() not in SEVERITY_NAMES:
            raise Invalid(f'unknown severity "{self.min}"', "min")

    @property
    def number(self) -> int:
        return SEVERITY_NAMES[self.min.upper()] if isinstance(self.min, str) else self.min


@dataclass
class RegexpOptions:
    cacheenabled: bool = option(False, "No effect here (see regexp).")
    cachemaxnumentries: int = option(0, "No effect here (see regexp).")


@dataclass
class MatchProperties:
    match_type: str = option("", "strict or regexp (required as soon as a property compares strings).")
    regexp: RegexpOptions | None = option(None, "otelcol's regexp result cache: accepted with a start-up warning, no effect (patterns are compiled once and matched directly).")
    services: list[str] = option(factory=list, doc="Spans: service.name of the resource (any entry matches).")
    span_names: list[str] = option(factory=list, doc="Spans: span name (any entry matches).")
    span_kinds: list[str] = option(factory=list, doc="Spans: span kind, e.g. SPAN_KIND_SERVER (any entry matches).")
    log_bodies: list[str] = option(factory=list, doc="Logs: body as a string (any entry matches).")
    log_severity_texts: list[str] = option(factory=list, doc="Logs: severity text (any entry matches).")
    log_severity_number: SeverityNumberMatch | None = option(None, "Logs: severity number at least `min`.")
    metric_names: list[str] = option(factory=list, doc="Metrics: metric name (any entry matches).")
    attributes: list[AttributeMatch] = option(factory=list, doc="Item attributes that must all be present (and equal, when a value is given).")
    resources: list[AttributeMatch] = option(factory=list, doc="Resource attributes that must all be present (and equal, when a value is given).")
    libraries: list[LibraryMatch] = option(factory=list, doc="Instrumentation scopes (name and optional version) that must match.")

    def validate(self) -> None:
        needs_type = (self.services or self.span_names or self.span_kinds or self.log_bodies or self.log_severity_texts
                      or self.metric_names or self.libraries or any(a.value is not None for a in (*self.attributes, *self.resources)))
        if needs_type and self.match_type not in ("strict", "regexp"):
            raise Invalid(f"unrecognized match_type: '{self.match_type}', valid types are: [regexp strict]", "match_type")
        if self.match_type == "regexp":
            for name in ("services", "span_names", "span_kinds", "log_bodies", "log_severity_texts", "metric_names"):
                for i, pattern in enumerate(getattr(self, name)):
                    _check_pattern(pattern, (name, i))
            for name in ("attributes", "resources"):
                for i, a in enumerate(getattr(self, name)):
                    if a.value is not None and not isinstance(a.value, str):
                        raise Invalid(f'match_type=regexp for "{a.key}" only supports Str, but found {_kind(a.value)}', (name, i, "value"))
                    if a.value is not None:
                        _check_pattern(a.value, (name, i, "value"))
            for i, lib in enumerate(self.libraries):
                _check_pattern(lib.name, ("libraries", i, "name"))
                if lib.version is not None:
                    _check_pattern(lib.version, ("libraries", i, "version"))
        if self.span_kinds and self.match_type == "strict":
            for i, kind in enumerate(self.span_kinds):
                if kind not in _STRICT_SPAN_KINDS:
                    raise Invalid(f"span_kinds string must match one of the standard span kinds when match_type=strict: {_STRICT_SPAN_KINDS}", ("span_kinds", i))

    def problem_for(self, signal: Signal) -> str | None:
        """ValidateForSpans / ValidateForLogs / ValidateForMetrics (filterconfig/config.go)."""
        if signal is Signal.TRACES:
            for name in ("log_bodies", "log_severity_texts", "metric_names"):
                if getattr(self, name):
                    return f"{name} should not be specified for trace spans"
            if self.log_severity_number is not None:
                return "log_severity_number should not be specified for trace spans"
            if not (self.services or self.span_names or self.attributes or self.libraries or self.resources or self.span_kinds):
                return 'at least one of "services", "span_names", "span_kinds", "attributes", "libraries" or "resources" must be specified for spans'
        elif signal is Signal.LOGS:
            if self.span_names or self.services or self.span_kinds or self.metric_names:
                return "services, span_names, span_kinds and metric_names are not valid for log records"
            if not (self.attributes or self.libraries or self.resources or self.log_bodies or self.log_severity_texts or self.log_severity_number is not None):
                return 'at least one of "attributes", "libraries", "resources", "log_bodies", "log_severity_texts" or "log_severity_number" must be specified for logs'
        else:
            if (self.log_bodies or self.log_severity_texts or self.span_names or self.services or self.span_kinds or self.attributes
                    or self.libraries or self.log_severity_number is not None):
                return '"span_names", "span_kinds", "log_bodies", "log_severity_texts", "log_severity_number", "services", "attributes" and "libraries" are not valid for metrics'
            if not (self.metric_names or self.resources):
                return 'at least one of "metric_names" or "resources" must be specified for metrics'
        return None


def _kind(value: Any) -> str:
    return {bool: "Bool", int: "Int", float: "Double", list: "Slice", dict: "Map"}.get(type(value), type(value).__name__)


def _check_pattern(pattern: str, key: tuple[str | int, ...]) -> None:
    try:
        compile_pattern(pattern)
    except Invalid as exc:
        raise Invalid(exc.message, key) from None


@dataclass
class MatchConfig:
    """The `include` and `exclude` keys, as a base of a processor's config."""

    include: MatchProperties | None = option(None, "Only items matching these properties are processed.")
    exclude: MatchProperties | None = option(None, "Items matching these properties are not processed (checked after include).")

    def match_problems(self, signals: set[Signal]) -> list[str]:
        out = []
        for name in ("include", "exclude"):
            props = getattr(self, name)
            if props is None:
                continue
            for signal in sorted(signals):
                problem = props.problem_for(signal)
                if problem is not None:
                    out.append(f"{name}: {problem}")
        return out


# Matching -------------------------------------------------------------------------------------------------

StringSet = Callable[[str], bool]


def string_set(patterns: list[str], match_type: str) -> StringSet:
    """filterset.CreateFilterSet: strict membership, or any regexp found in the string (Go's MatchString)."""
    if match_type == "strict":
        members = frozenset(patterns)
        return members.__contains__
    regexes = [compile_pattern(p) for p in dict.fromkeys(patterns)]
    return lambda text: any(r.search(text) for r in regexes)


def _string_of(value: AnyValue) -> str | None:
    """attributeStringValue (filtermatcher/attributematcher.go): strings, bools, ints and doubles only."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "int_value":
        return str(value.int_value)
    if kind == "double_value":
        return format_positional(value.double_value)
    return None


def _attribute_matcher(matches: list[AttributeMatch], match_type: str) -> Callable[[Any], bool] | None:
    """AttributesMatcher.Match: every key present; with a value, equal (strict: same type and value) or
    matched (regexp, against the value as a string)."""
    if not matches:
        return None
    checks: list[tuple[str, Callable[[AnyValue], bool] | None]] = []
    for m in matches:
        if m.value is None:
            checks.append((m.key, None))
        elif match_type == "regexp":
            regex = compile_pattern(m.value)

            def check_regexp(v: AnyValue, regex: re.Pattern[str] = regex) -> bool:
                text = _string_of(v)
                return text is not None and regex.search(text) is not None

            checks.append((m.key, check_regexp))
        else:
            expected = any_value(m.value)
            checks.append((m.key, expected.__eq__))

    def match(attrs: Any) -> bool:
        if not attrs:
            return False
        present: dict[str, AnyValue] = {}
        for kv in attrs:
            present.setdefault(kv.key, kv.value)
        for key, check in checks:
            value = present.get(key)
            if value is None or (check is not None and not check(value)):
                return False
        return True

    return match


def _library_matcher(libraries: list[LibraryMatch], match_type: str) -> Callable[[Any], bool] | None:
    if not libraries:
        return None
    sets = [(string_set([lib.name], match_type), string_set([lib.version], match_type) if lib.version is not None else None) for lib in libraries]

    def match(scope: Any) -> bool:
        return all(name(scope.name) and (version is None or version(scope.version)) for name, version in sets)

    return match


def _service_name(resource: Any) -> str:
    for kv in resource.attributes:
        if kv.key == "service.name":
            return as_string(kv.value)
    return "<nil-service-name>"


@dataclass
class Matcher:
    """One include or exclude block: the tests of the resource and scope, run once per scope entry, and the
    tests of each item."""

    context_tests: list[Callable[[Any, Any], bool]] = field(default_factory=list)
    item_tests: list[Callable[[Any], bool]] = field(default_factory=list)

    def in_context(self, resource: Any, scope: Any) -> bool:
        return all(test(resource, scope) for test in self.context_tests)

    def item(self, item: Any) -> bool:
        return all(test(item) for test in self.item_tests)


def matcher(props: MatchProperties, signal: Signal) -> Matcher:
    t = props.match_type
    m = Matcher()
    if signal is Signal.METRICS:
        names = string_set(props.metric_names, t)
        m.item_tests.append(lambda metric: names(metric.name))
        return m
    if signal is Signal.TRACES:
        if props.services:
            services = string_set(props.services, t)
            m.context_tests.append(lambda resource, scope: services(_service_name(resource)))
        if props.span_names:
            span_names = string_set(props.span_names, t)
            m.item_tests.append(lambda span: span_names(span.name))
        if props.span_kinds:
            kinds = string_set(props.span_kinds, t)
            m.item_tests.append(lambda span: kinds(SPAN_KINDS[span.kind] if 0 <= span.kind < len(SPAN_KINDS) else ""))
    else:
        if props.log_bodies:
            bodies = string_set(props.log_bodies, t)
            m.item_tests.append(lambda record: bodies(as_string(record.body)))
        if props.log_severity_texts:
            texts = string_set(props.log_severity_texts, t)
            m.item_tests.append(lambda record: texts(record.severity_text))
        if props.log_severity_number is not None:
            least, undefined = props.log_severity_number.number, props.log_severity_number.match_undefined
            m.item_tests.append(lambda record: undefined if record.severity_number == 0 else record.severity_number >= least)
    libraries = _library_matcher(props.libraries, t)
    if libraries is not None:
        m.context_tests.append(lambda resource, scope: libraries(scope))
    resources = _attribute_matcher(props.resources, t)
    if resources is not None:
        m.context_tests.append(lambda resource, scope: resources(resource.attributes))
    attributes = _attribute_matcher(props.attributes, t)
    if attributes is not None:
        m.item_tests.append(lambda item: attributes(item.attributes))
    return m


def skip_all(item: Any) -> bool:
    return True


def skip_none(item: Any) -> bool:
    return False


@dataclass
class Skip:
    """NewSkipExpr: an item is skipped when it does not match `include` or matches `exclude`."""

    include: Matcher | None = None
    exclude: Matcher | None = None
    active: bool = field(init=False)

    def __post_init__(self) -> None:
        self.active = self.include is not None or self.exclude is not None

    def scoped(self, resource: Any, scope: Any) -> Callable[[Any], bool]:
        """The skip test of the items under one resource and scope (`_skip_all` / `_skip_none` when those
        decide alone)."""
        include, exclude = self.include, self.exclude
        if include is not None and not include.in_context(resource, scope):
            return skip_all
        if exclude is not None and not exclude.in_context(resource, scope):
            exclude = None
        if exclude is not None and not exclude.item_tests:
            return skip_all
        if include is not None and not include.item_tests:
            include = None
        if include is None and exclude is None:
            return skip_none

        def skip(item: Any) -> bool:
            if include is not None and not include.item(item):
                return True
            return exclude is not None and exclude.item(item)

        return skip


def skip_for(config: MatchConfig, signal: Signal) -> Skip:
    """The skip test of `config` for `signal`. For metrics, a block without metric_names filters nothing
    (filtermetric's newExpr: resources are not matched)."""

    def build(props: MatchProperties | None) -> Matcher | None:
        if props is None or (signal is Signal.METRICS and not props.metric_names):
            return None
        return matcher(props, signal)

    return Skip(build(config.include), build(config.exclude))
