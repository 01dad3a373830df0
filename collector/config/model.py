"""The whole configuration: components, service section, pipelines, and the checks that span them."""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .. import registry
from ..component import Component, ComponentID, Kind, Signal
from .graph import check_connectors
from .missing_types import MISSING, connector_message, otelcol_explanation
from .source import ConfigError, ConfigErrors, Document, KeyPath, load_file, merge, parse_set
from .telemetry import TelemetryConfig
from .typed import Decoder, Duration, _quote, files_not_opened, option

SECTIONS = {kind.section: kind for kind in Kind}
TOP_LEVEL = (*SECTIONS, "service")
_PIPELINE_NAME = re.compile(r"^[^\s/]+$")  # same rule as a component id's name


@dataclass
class PipelineConfig:
    receivers: list[str] = option(factory=list, doc="Receiver ids feeding this pipeline, and connector ids (the pipeline then receives what those connectors emit).")
    processors: list[str] = option(factory=list, doc="Processor ids, applied in order.")
    exporters: list[str] = option(factory=list, doc="Exporter ids the data fans out to, and connector ids (which hand it to the pipelines listing them as receivers).")


@dataclass
class ServiceConfig:
    extensions: list[str] = option(factory=list, doc="Extension ids to start.")
    pipelines: dict[str, PipelineConfig] = option(factory=dict, doc="`traces|logs|metrics[/name]` pipelines.")
    telemetry: TelemetryConfig = option(factory=TelemetryConfig, doc="The daemon's own logs and metrics.")
    shutdown_timeout: Duration = option(Duration(10.0), "On SIGTERM/SIGINT: time allowed to drain pipelines and flush exporters; on a reload, to drain the old pipelines.")


@dataclass
class ComponentConfig:
    id: ComponentID
    kind: Kind
    cls: type[Component]
    config: Any


@dataclass
class Pipeline:
    name: str
    signal: Signal
    receivers: list[ComponentID]
    processors: list[ComponentID]
    exporters: list[ComponentID]


@dataclass
class Config:
    components: dict[Kind, dict[ComponentID, ComponentConfig]]
    service: ServiceConfig
    pipelines: dict[str, Pipeline]
    extensions: list[ComponentID]
    sources: list[str]

    def component(self, kind: Kind, id: ComponentID) -> ComponentConfig:
        return self.components[kind][id]


def default_config_path() -> Path:
    """The embedded default: shipped inside the package so a wheel install has it too."""
    return Path(str(resources.files("collector") / "data" / "default.yaml"))


def load_config(paths: list[str] | None = None, sets: list[str] | None = None, *, open_files: bool = True) -> Config:
    """The merged, checked config. `open_files=False` (validate) leaves the files it names unopened."""
    paths = list(paths or [])
    errors: list[ConfigError] = []
    documents: list[Document] = []
    if not paths:
        paths = [str(default_config_path())]
    for path in paths:
        try:
            documents.append(load_file(path))
        except ConfigErrors as exc:
            errors.extend(exc.errors)
    for expr in sets or []:
        try:
            documents.append(parse_set(expr))
        except ConfigErrors as exc:
            errors.extend(exc.errors)
    if errors:
        raise ConfigErrors(errors)
    document = functools.reduce(merge, documents)
    if not open_files:
        with files_not_opened():
            return build_config(document, paths)
    return build_config(document, paths)


def build_config(document: Document, sources: list[str]) -> Config:
    decoder = Decoder(document)
    data = document.data
    for key in data:
        if key not in TOP_LEVEL:
            close = difflib.get_close_matches(str(key), TOP_LEVEL, n=1)
            hint = f'; did you mean "{close[0]}"?' if close else ""
            decoder.error((key,), f"unknown top-level key (valid keys: {', '.join(TOP_LEVEL)}){hint}")

    components: dict[Kind, dict[ComponentID, ComponentConfig]] = {kind: {} for kind in Kind}
    # Ids refused for their type: a pipeline or service.extensions naming one gets no second error.
    refused: dict[Kind, set[ComponentID]] = {kind: set() for kind in Kind}
    for section, kind in SECTIONS.items():
        raw = data.get(section)
        if raw is None:
            continue
        if not isinstance(raw, dict):
            decoder.error((section,), f"expected a mapping of {kind} ids to their config, got {_quote(raw)}")
            continue
        for key, value in raw.items():
            path: KeyPath = (section, key)
            try:
                id = ComponentID.parse(key)
            except ValueError as exc:
                decoder.error(path, str(exc))
                continue
            cls = registry.lookup(kind, id.type)
            if cls is None:
                valid = ", ".join(registry.types(kind))
                if kind is Kind.CONNECTOR and id.type in MISSING[kind]:
                    decoder.error(path, connector_message(id.type, valid))
                else:
                    decoder.error(path, f'unknown {kind} type "{id.type}" (valid values: [{valid}]){otelcol_explanation(kind, id.type)}')
                refused[kind].add(id)
                continue
            components[kind][id] = ComponentConfig(id, kind, cls, decoder.decode(cls.config_class, value, path))
    for kind in (Kind.RECEIVER, Kind.EXPORTER):
        refused[kind] |= refused[Kind.CONNECTOR]  # a pipeline naming a refused connector gets no second error
    for id in [*components[Kind.CONNECTOR], *refused[Kind.CONNECTOR]]:
        for kind in (Kind.EXPORTER, Kind.RECEIVER):  # otelcol/config.go Validate
            if id in components[kind] or id in refused[kind] - refused[Kind.CONNECTOR]:
                decoder.error(("connectors", str(id)), f'ambiguous ID: Found both "{id}" {kind} and "{id}" connector. Change one of the components\' '
                                                      f'IDs to eliminate ambiguity (e.g. rename "{id}" connector to "{id}/connector")')

    service = decoder.decode(ServiceConfig, data.get("service"), ("service",))
    pipelines = _check_pipelines(decoder, service, components, refused)
    extensions = _check_extensions(decoder, service, components, refused[Kind.EXTENSION])
    for kind, table in components.items():
        for id, component in table.items():
            for subpath, problem in component.cls.validate_references(id, component.config, components[Kind.EXTENSION], extensions):
                decoder.error((kind.section, str(id), *subpath), problem)
    if decoder.errors:
        raise ConfigErrors(decoder.errors)
    return Config(components, service, pipelines, extensions, sources)


def _check_extensions(decoder: Decoder, service: ServiceConfig, components: dict[Kind, dict[ComponentID, ComponentConfig]],
                      refused: set[ComponentID]) -> list[ComponentID]:
    out: list[ComponentID] = []
    for index, ref in enumerate(service.extensions):
        path: KeyPath = ("service", "extensions", index)
        try:
            id = ComponentID.parse(ref)
        except ValueError as exc:
            decoder.error(path, str(exc))
            continue
        if id not in components[Kind.EXTENSION]:
            if id not in refused:
                decoder.error(path, f'references extension "{id}" which is not configured')
        elif id in out:
            decoder.error(path, f'references extension "{id}" more than once')
        else:
            out.append(id)
    return out


def _check_pipelines(decoder: Decoder, service: ServiceConfig, components: dict[Kind, dict[ComponentID, ComponentConfig]],
                     refused: dict[Kind, set[ComponentID]]) -> dict[str, Pipeline]:
    if not service.pipelines:
        decoder.error(("service", "pipelines"), "service must have at least one pipeline")
        return {}
    pipelines: dict[str, Pipeline] = {}
    usage: dict[tuple[Kind, ComponentID], set[Signal]] = {}
    connector_uses: list[tuple[ComponentID, Kind, str, KeyPath]] = []  # (connector, as receiver|exporter, pipeline, where)
    for name, spec in service.pipelines.items():
        base: KeyPath = ("service", "pipelines", name)
        signal_name, slash, pipeline_name = name.partition("/")
        if signal_name == "profiles":
            decoder.error(base, f'pipeline "{name}": profiling signal support is at alpha level, gated under the "service.profilesSupport" feature gate'
                                " (otelcol's words); this daemon has no profiles signal even with it: remove the pipeline")
            continue
        try:
            signal = Signal(signal_name)
        except ValueError:
            decoder.error(base, f'unknown pipeline signal "{signal_name}" (expected traces, logs or metrics, optionally followed by "/name")')
            continue
        if slash and not _PIPELINE_NAME.match(pipeline_name):
            decoder.error(base, f'invalid pipeline id "{name}" (the name after "/" must be non-empty, without "/" or whitespace)')
            continue
        resolved: dict[Kind, list[ComponentID]] = {}
        for kind, refs in ((Kind.RECEIVER, spec.receivers), (Kind.PROCESSOR, spec.processors), (Kind.EXPORTER, spec.exporters)):
            ids: list[ComponentID] = []
            for index, ref in enumerate(refs):
                path = base + (kind.section, index)
                try:
                    id = ComponentID.parse(ref)
                except ValueError as exc:
                    decoder.error(path, str(exc))
                    continue
                component = components[kind].get(id)
                if component is None and kind is not Kind.PROCESSOR and id in components[Kind.CONNECTOR]:
                    if id in ids:
                        decoder.error(path, f'references connector "{id}" more than once')
                        continue
                    ids.append(id)
                    connector_uses.append((id, kind, name, path))
                    continue
                if component is None:
                    if id not in refused[kind]:
                        decoder.error(path, f'references {kind} "{id}" which is not configured')
                    continue
                if id in ids:
                    decoder.error(path, f'references {kind} "{id}" more than once')
                    continue
                if signal not in component.cls.signals:
                    supported = ", ".join(sorted(component.cls.signals)) or "none"
                    decoder.error(path, f'{kind} "{id}" does not support {signal} (supports: {supported})')
                    continue
                ids.append(id)
                usage.setdefault((kind, id), set()).add(signal)
            resolved[kind] = ids
        if not spec.receivers:
            decoder.error(base, "pipeline must have at least one receiver")
        if not spec.exporters:
            decoder.error(base, "pipeline must have at least one exporter")
        pipelines[name] = Pipeline(name, signal, resolved[Kind.RECEIVER], resolved[Kind.PROCESSOR], resolved[Kind.EXPORTER])
    for (kind, id), signals in usage.items():
        component = components[kind][id]
        for problem in component.cls.validate_usage(id, component.config, signals):
            decoder.error((kind.section, str(id)), problem)
    check_connectors(decoder, pipelines, components, connector_uses)
    return pipelines
