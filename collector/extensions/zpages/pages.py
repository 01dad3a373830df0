"""The zpages' HTML, after otelcol's service pages (core's service/zpages.go, service/internal/graph/zpages.go
and the templates of service/internal/zpages/templates/): servicez, pipelinez, extensionz, featurez, and
tracez, which says why it has no spans here. Every value that comes from the config (component and pipeline
names) is HTML-escaped, and quoted where it goes into a link's query."""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import urlencode

from ... import __version__
from ...component import ComponentID, Kind, PipelineView, ServiceView, Signal
from ...registry import lookup
from ...telemetry import ITEM

# otelcol's query parameters (service/internal/graph/zpages.go and the extensions table template).
PIPELINE_PARAM, COMPONENT_PARAM, KIND_PARAM = "pipelinenamez", "componentnamez", "componentkindz"
EXTENSION_PARAM = "zextensionname"

COMMAND = "llm-collector"
DESCRIPTION = "LLM-aware OpenTelemetry Collector"

_STYLE = ("body{font-family:sans-serif;margin:1em 2em}table{border-collapse:collapse;margin:.5em 0 1.5em}"
          "td,th{padding:.2em .8em;text-align:left;vertical-align:top}tr:nth-child(even){background:#eee}"
          "nav a{margin-right:1em}.n{font-size:90%;color:#444}")

TRACEZ_EXPLANATION = (
    "otelcol's TraceZ samples the collector's own spans (its receivers', processors' and exporters' work) by latency "
    "bucket. This daemon does not trace itself: service.telemetry.traces has no effect, so there are no own spans to "
    "show here. What it does measure is on the pipelines page (each component's items accepted, refused, sent and "
    "failed, live) and in the self-metrics (service.telemetry.metrics), e.g. otelcol_receiver_accepted_spans and the "
    "processors' and exporters' counters; to see where time goes inside the process, use the pprof extension's CPU "
    "profile (/debug/pprof/profile on its endpoint)."
)
FEATUREZ_EXPLANATION = (
    "This daemon has no feature gates: otelcol's --feature-gates flag does not exist here and nothing is switched by "
    "one. A config that needs one of otelcol's (a profiles pipeline needs service.profilesSupport) is refused with "
    "otelcol's explanation."
)


class Counters:
    """The pipeline components' otelcol counters, read from the daemon's own metrics registry at one moment."""

    def __init__(self, families: Iterable[Any]):
        self._series: dict[str, list[tuple[dict[str, str], float]]] = {}
        for family in families:
            if family.kind == "counter" and family.name.startswith(("otelcol_receiver_", "otelcol_processor_", "otelcol_exporter_")):
                self._series[family.name] = [(dict(zip(family.labelnames, values, strict=True)), child.value) for values, child in family.children()]

    def _sum(self, name: str, **labels: str) -> int:
        return int(sum(value for have, value in self._series.get(name, ()) if all(have.get(k) == v for k, v in labels.items())))

    def of(self, kind: Kind, id: ComponentID, signal: Signal) -> list[tuple[str, int]]:
        """(what, count) of one component for one signal: a receiver's items accepted, refused and failed (every
        transport), a processor's items in and out, an exporter's items sent, failed and not queued."""
        item = ITEM[signal]
        if kind is Kind.RECEIVER:
            return [(o, self._sum(f"otelcol_receiver_{o}_{item}", receiver=str(id))) for o in ("accepted", "refused", "failed")]
        if kind is Kind.PROCESSOR:
            return [(e, self._sum(f"otelcol_processor_{e}_items", processor=str(id), otel_signal=signal.value)) for e in ("incoming", "outgoing")]
        return [(o, self._sum(f"otelcol_exporter_{o}_{item}", exporter=str(id))) for o in ("sent", "send_failed", "enqueue_failed")]


def _nav(expvar: bool) -> str:
    pages = ["servicez", "pipelinez", "extensionz", "featurez", "tracez", *(["expvarz"] if expvar else [])]
    return "<nav>" + "".join(f'<a href="{p}">{p}</a>' for p in pages) + "</nav>"


def page(title: str, body: str, *, expvar: bool) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title><style>{_STYLE}</style></head>'
            f"<body>{_nav(expvar)}<h1>{escape(title)}</h1>\n{body}\n</body></html>\n")


def _table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    """A table of cells that are already HTML (escape what goes in)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>\n" for row in rows)
    return f"<table><tr>{head}</tr>\n{body}</table>"


def _properties(name: str, rows: list[tuple[str, str]]) -> str:
    return f"<h2>{escape(name)}</h2>" + _table(("Property", "Value"), ((escape(k), escape(v)) for k, v in rows))


def _description(kind: Kind, id: ComponentID) -> str:
    cls = lookup(kind, id.type)
    return cls.description if cls is not None else ""


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    return (f"{days}d " if days else "") + time.strftime("%Hh %Mm %Ss", time.gmtime(rest))


def servicez(view: ServiceView, *, expvar: bool) -> str:
    started = datetime.fromtimestamp(view.started_at, UTC)
    build = [("Command", COMMAND), ("Description", DESCRIPTION), ("Version", __version__)]
    runtime = [("StartTimestamp", started.isoformat(timespec="seconds").replace("+00:00", "Z")), ("Uptime", _duration(time.time() - view.started_at)),
               ("Python", platform.python_version()), ("Implementation", platform.python_implementation()),
               ("OS", sys.platform), ("Arch", platform.machine()), ("PID", str(os.getpid()))]
    parts = [_properties("Build Info", build), _properties("Runtime Info", runtime),
             _properties("Config", [("Sources", ", ".join(view.sources))])]
    used = {id for p in view.pipelines for id in (*p.receivers, *p.processors, *p.exporters)} | set(view.extensions)
    rows = []
    for kind in Kind:
        for id in view.components.get(kind, ()):
            rows.append((escape(kind.value), escape(str(id)), "yes" if id in used else "no (configured, not used)", escape(_description(kind, id))))
    parts.append("<h2>Components</h2>" + _table(("Kind", "ID", "In use", "What it does"), rows))
    links = [("Pipelines", "pipelinez"), ("Extensions", "extensionz"), ("Features", "featurez"), ("Traces", "tracez"),
             *([("Expvar", "expvarz")] if expvar else [])]
    parts.append("".join(f'<h2><a href="{href}">{escape(name)}</a></h2>' for name, href in links))
    return page(f"Service {COMMAND}", "\n".join(parts), expvar=expvar)


def _link(pipeline: PipelineView, kind: Kind, id: ComponentID, counters: Counters) -> str:
    query = urlencode({PIPELINE_PARAM: pipeline.name, COMPONENT_PARAM: str(id), KIND_PARAM: kind.value})
    counts = ", ".join(f"{what} {n}" for what, n in counters.of(kind, id, pipeline.signal))
    return f'<a href="pipelinez?{escape(query)}">{escape(str(id))}</a><br><span class="n">{escape(counts)}</span>'


def pipelinez(view: ServiceView, counters: Counters, query: dict[str, str], *, expvar: bool) -> str:
    rows = []
    for p in sorted(view.pipelines, key=lambda p: p.name):
        rows.append((
            escape(p.name), escape(p.signal.value), str(p.mutates_data).lower(),
            "<br>".join(_link(p, Kind.RECEIVER, id, counters) for id in p.receivers),
            "&rarr; " + "".join(_link(p, Kind.PROCESSOR, id, counters) + " &rarr; " for id in p.processors),
            "<br>".join(_link(p, Kind.EXPORTER, id, counters) for id in p.exporters),
        ))
    parts = [_table(("FullName", "InputType", "MutatesData", "Receivers", "Processors", "Exporters"), rows),
             '<p class="n">Counts are items (spans, log records or metric points) since start, from the daemon\'s own '
             "otelcol_* counters: a receiver's and an exporter's are for the pipeline's signal over every pipeline of it, a "
             "processor's for its id and signal (as otelcol labels them).</p>"]
    detail = _component_detail(view, counters, query)
    if detail:
        parts.append(detail)
    return page("Pipelines", "\n".join(parts), expvar=expvar)


def _component_detail(view: ServiceView, counters: Counters, query: dict[str, str]) -> str:
    name, component, kind_name = query.get(PIPELINE_PARAM, ""), query.get(COMPONENT_PARAM, ""), query.get(KIND_PARAM, "")
    if not (name and component and kind_name):
        return ""
    pipeline = next((p for p in view.pipelines if p.name == name), None)
    kind = next((k for k in (Kind.RECEIVER, Kind.PROCESSOR, Kind.EXPORTER) if k.value == kind_name), None)
    members = {Kind.RECEIVER: pipeline.receivers, Kind.PROCESSOR: pipeline.processors, Kind.EXPORTER: pipeline.exporters}.get(kind, ()) if pipeline and kind else ()
    id = next((i for i in members if str(i) == component), None)
    if pipeline is None or kind is None or id is None:
        return "<h2>No such component in this pipeline</h2>"
    full = f"{pipeline.name}/{id}" if kind is Kind.PROCESSOR else str(id)  # otelcol names a processor by its pipeline
    rows = [("Type", id.type), ("What it does", _description(kind, id)), ("Pipeline", pipeline.name), ("Signal", pipeline.signal.value),
            *((what, str(n)) for what, n in counters.of(kind, id, pipeline.signal))]
    return _properties(f"{kind.value}: {full}", rows)


def extensionz(view: ServiceView, query: dict[str, str], *, expvar: bool) -> str:
    rows = [(f'<a href="extensionz?{escape(urlencode({EXTENSION_PARAM: str(id)}))}">{escape(str(id))}</a>', escape(_description(Kind.EXTENSION, id)))
            for id in view.extensions]
    parts = [_table(("FullName", "What it does"), rows) if rows else "<p>No extension is enabled (service.extensions).</p>"]
    chosen = query.get(EXTENSION_PARAM, "")
    if chosen:
        id = next((i for i in view.extensions if str(i) == chosen), None)
        parts.append(_properties(f"extension: {id}", [("Type", id.type), ("What it does", _description(Kind.EXTENSION, id)), ("Status", "started")])
                     if id is not None else "<h2>No such extension is enabled</h2>")
    return page("Extensions", "\n".join(parts), expvar=expvar)


def featurez(*, expvar: bool) -> str:
    header = _table(("ID", "Enabled", "Description", "Stage", "Reference URL", "Removal Version"), ())
    return page("Feature Gates", f"{header}\n<p>{escape(FEATUREZ_EXPLANATION)}</p>", expvar=expvar)


def tracez(*, expvar: bool) -> str:
    return page("TraceZ", f"<p>{escape(TRACEZ_EXPLANATION)}</p>", expvar=expvar)
