"""Debug exporter: a human-readable summary of what passes through, on stderr (or otelcol's output_paths)."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any, Literal, TextIO

from google.protobuf import text_format

from ..component import Exporter, Rejected, Signal
from ..config import Invalid, option
from ..pdata import count_items
from ..registry import register
from ..telemetry import OutputStreams


@dataclass
class DebugExporterConfig:
    verbosity: Literal["basic", "normal", "detailed"] = option("basic", "`basic`: one line per request; `normal`: one line per span/record/metric; `detailed`: every field.")
    sampling_initial: int = option(2, "Requests printed in full each second before sampling starts (otelcol's key).")
    sampling_thereafter: int = option(1, "After that, print every Nth request in the same second; 1 prints all.")
    use_internal_logger: bool = option(True, "true: print on stderr, where the daemon logs; false: print to output_paths (otelcol's keys).")
    output_paths: list[str] = option(factory=lambda: ["stdout"], doc="With use_internal_logger false: `stdout`, `stderr` or file paths (appended to), each getting every line.")

    def validate(self) -> None:
        if not self.output_paths:
            raise Invalid("must name at least one output (stdout, stderr or a file path)", "output_paths")


@register
class DebugExporter(Exporter):
    type_name = "debug"
    description = "Prints a human-readable summary of received data to stderr (basic, normal or detailed)."
    config_class = DebugExporterConfig

    def __init__(self, settings: Any, config: DebugExporterConfig, out: TextIO | None = None):
        super().__init__(settings, config)
        self.out = out or (sys.stderr if config.use_internal_logger else OutputStreams(config.output_paths))
        self._second = 0
        self._seen = 0

    def _sampled(self) -> bool:
        now = int(time.monotonic())
        if now != self._second:
            self._second, self._seen = now, 0
        self._seen += 1
        if self._seen <= self.config.sampling_initial:
            return True
        return (self._seen - self.config.sampling_initial) % max(1, self.config.sampling_thereafter) == 0

    async def export(self, signal: Signal, data: Any) -> Rejected | None:
        if not self._sampled():
            return None
        lines = [f"{self.id}: {signal} request: {count_items(signal, data)} {_ITEM_WORD[signal]}"]
        if self.config.verbosity == "normal":
            lines.extend(_NORMAL[signal](data))
        elif self.config.verbosity == "detailed":
            lines.append(text_format.MessageToString(data, as_utf8=True))
        self.out.write("\n".join(lines) + "\n")
        return None


_ITEM_WORD = {Signal.TRACES: "spans", Signal.LOGS: "log records", Signal.METRICS: "data points"}


def _service(resource: Any) -> str:
    for kv in resource.attributes:
        if kv.key == "service.name":
            return kv.value.string_value
    return "-"


def _span_lines(req: Any) -> list[str]:
    out = []
    for rs in req.resource_spans:
        service = _service(rs.resource)
        for ss in rs.scope_spans:
            for span in ss.spans:
                ms = (span.end_time_unix_nano - span.start_time_unix_nano) / 1e6
                status = ("UNSET", "OK", "ERROR")[span.status.code] if span.status.code < 3 else str(span.status.code)
                out.append(f"  {service} {span.trace_id.hex()} {span.span_id.hex()} {span.name!r} {ms:.1f}ms {status} attrs={len(span.attributes)}")
    return out


def _log_lines(req: Any) -> list[str]:
    out = []
    for rl in req.resource_logs:
        service = _service(rl.resource)
        for sl in rl.scope_logs:
            for record in sl.log_records:
                body = record.body.string_value if record.body.HasField("string_value") else record.body.WhichOneof("value") or ""
                out.append(f"  {service} {record.severity_text or record.severity_number} {body!r}")
    return out


def _metric_lines(req: Any) -> list[str]:
    out = []
    for rm in req.resource_metrics:
        service = _service(rm.resource)
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                kind = metric.WhichOneof("data") or "empty"
                points = len(getattr(metric, kind).data_points) if kind != "empty" else 0
                out.append(f"  {service} {metric.name} {kind} points={points} unit={metric.unit!r}")
    return out


_NORMAL = {Signal.TRACES: _span_lines, Signal.LOGS: _log_lines, Signal.METRICS: _metric_lines}
