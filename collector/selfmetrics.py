"""The daemon's self-metrics out of the process, as service.telemetry.metrics asks: Prometheus endpoints
(`address`, or `readers: [pull: ...]`) and periodic pushes (`readers: [periodic: ...]`) over OTLP, by
the `otlp` / `otlphttp` exporters' own delivery machinery, or as OTLP-JSON lines on stdout (`console`)."""

from __future__ import annotations

import asyncio
import platform
import sys
import time
import uuid
from typing import Any, Literal

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

from . import __version__
from .component import ComponentID, Kind, Settings, Signal
from .config.telemetry import PeriodicReaderConfig, TelemetryConfig
from .config.typed import Duration
from .envelope import Envelope
from .metrics import Counter, Family, Gauge, Histogram
from .pdata import set_any
from .telemetry import Telemetry, component_logger

SCOPE = "llm-collector"
_CUMULATIVE = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE


def resource_attributes(resource: dict[str, Any]) -> dict[str, Any]:
    """otelcol's self-telemetry resource: service.name, service.version and service.instance.id, then the
    configured attributes (a null value removes one). Both of otelcol's spellings: the inline map, and the
    declarative schema's `attributes: [{name, value}]` / `attributes_list: "k=v,..."`."""
    out: dict[str, Any] = {"service.name": "llm-collector", "service.version": __version__, "service.instance.id": str(uuid.uuid4())}
    declarative = isinstance(resource.get("attributes"), list) or "attributes_list" in resource or "schema_url" in resource or "detectors" in resource
    if not declarative:
        configured = dict(resource)
    else:
        configured = {}
        for part in str(resource.get("attributes_list") or "").split(","):
            key, eq, value = part.partition("=")
            if eq and key.strip():
                configured[key.strip()] = value.strip()
        for item in resource.get("attributes") or []:
            if isinstance(item, dict) and "name" in item:
                configured[str(item["name"])] = item.get("value")
    for key, value in configured.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def _any_value(value: Any) -> AnyValue:
    out = AnyValue()
    set_any(out, value, big_int="string", other="string")
    return out


def to_otlp(families: list[Family], resource: dict[str, Any], start_ns: int, now_ns: int) -> ExportMetricsServiceRequest:
    """Every series of `families` as one OTLP request: counters as cumulative monotonic sums, gauges as
    gauges, histograms as cumulative explicit-bucket histograms."""
    request = ExportMetricsServiceRequest()
    resource_metrics = request.resource_metrics.add()
    for key, value in resource.items():
        resource_metrics.resource.attributes.add(key=key, value=_any_value(value))
    scope = resource_metrics.scope_metrics.add()
    scope.scope.name = SCOPE
    scope.scope.version = __version__
    for family in families:
        series = list(family.children())
        if not series:
            continue
        metric = scope.metrics.add(name=family.name, description=family.doc)
        if isinstance(family, Histogram):
            metric.histogram.aggregation_temporality = _CUMULATIVE
            for values, child in series:
                histogram = metric.histogram.data_points.add(start_time_unix_nano=start_ns, time_unix_nano=now_ns)
                histogram.explicit_bounds.extend(family.buckets)
                histogram.bucket_counts.extend(child.counts)  # type: ignore[attr-defined]
                histogram.sum, histogram.count = child.sum, child.count  # type: ignore[attr-defined]
                _labels(histogram, family.labelnames, values)
            continue
        if isinstance(family, Counter):
            metric.sum.aggregation_temporality = _CUMULATIVE
            metric.sum.is_monotonic = True
            points = metric.sum.data_points
        else:
            points = metric.gauge.data_points
        for values, child in series:
            point = points.add(start_time_unix_nano=start_ns, time_unix_nano=now_ns, as_double=float(child.value))  # type: ignore[attr-defined]
            _labels(point, family.labelnames, values)
    return request


def _labels(point: Any, names: tuple[str, ...], values: tuple[str, ...]) -> None:
    for name, value in zip(names, values, strict=True):
        point.attributes.add(key=name, value=AnyValue(string_value=value))


def _push_exporter(key: str, reader: PeriodicReaderConfig) -> Any:
    """An `otlp` or `otlphttp` exporter for one periodic reader (otelcol normalizes the endpoint the same
    way: without a scheme, `insecure` decides between http:// and https://)."""
    from .exporters.otlp import OTLPExporter, OTLPExporterConfig
    from .exporters.otlp_client import ClientTLSConfig
    from .exporters.otlphttp import OTLPHTTPExporter, OTLPHTTPExporterConfig

    otlp = reader.exporter.otlp
    assert otlp is not None
    tls = ClientTLSConfig(insecure=otlp.insecure, ca_file=otlp.certificate, cert_file=otlp.client_certificate, key_file=otlp.client_key)
    timeout = Duration(min(otlp.timeout, reader.timeout) / 1000)
    headers = otlp.header_map() or None
    id = ComponentID("otlp_grpc" if otlp.protocol == "grpc" else "otlp_http", key.replace(".", "_"))
    settings = Settings(id=id, kind=Kind.EXPORTER, log=component_logger(f"service.telemetry.metrics.{key}", Kind.EXPORTER), telemetry=Telemetry())
    if otlp.protocol == "grpc":
        return OTLPExporter(settings, OTLPExporterConfig(endpoint=otlp.endpoint, tls=tls, headers=headers, compression=otlp.compression, timeout=timeout))
    url = otlp.endpoint
    if "://" not in url:
        url = ("http://" if otlp.insecure else "https://") + url
    encoding: Literal["proto", "json"] = "json" if otlp.protocol == "http/json" else "proto"
    return OTLPHTTPExporter(settings, OTLPHTTPExporterConfig(metrics_endpoint=url, encoding=encoding, tls=tls, headers=headers, compression=otlp.compression, timeout=timeout))


class SelfMetrics:
    """Starts and stops what service.telemetry.metrics configures for one service's registry."""

    def __init__(self, config: TelemetryConfig, telemetry: Telemetry):
        self.config = config
        self.telemetry = telemetry
        self.log = component_logger("service", "service")
        self.resource = resource_attributes(config.resource)
        self.started_ns = time.time_ns()
        self._servers: list[Any] = []
        self._pushers: list[tuple[Any, asyncio.Task[None]]] = []
        if config.resource:
            telemetry.registry.add_collector(self._target_info)
        # The version running, for dashboards and alerts (one series, always 1).
        build = telemetry.gauge("llm_collector_build_info", "The llm-collector version and Python version running (always 1).", ("version", "python"))
        build.labels(__version__, platform.python_version()).set(1)

    def _target_info(self) -> list[Family]:
        names = tuple(k.replace(".", "_") for k in self.resource)
        info = Gauge("target_info", "Target metadata: the resource attributes of the self-telemetry.", names)
        info.labels(*(str(v) for v in self.resource.values())).set(1)  # type: ignore[attr-defined]
        return [info]

    def request(self) -> ExportMetricsServiceRequest:
        return to_otlp(self.telemetry.registry.families(), self.resource, self.started_ns, time.time_ns())

    async def start(self, host: Any) -> None:
        from .service import StartupError

        metrics = self.config.metrics
        for key, endpoint in metrics.pull_endpoints():
            try:
                self._servers.append(await self._serve(endpoint))
            except OSError as exc:
                await self.stop()
                raise StartupError(f"service.telemetry.metrics{'.' + key if key else ''}: {exc}") from exc
            self.log.info("serving Prometheus self-metrics", address=str(endpoint), path="/metrics")
        for key, reader in metrics.periodic_readers():
            exporter = None
            if reader.exporter.otlp is not None:
                exporter = _push_exporter(key, reader)
                try:
                    await exporter.start(host)
                except Exception as exc:
                    await self.stop()
                    raise StartupError(f"service.telemetry.metrics.{key}: {exc}") from exc
            task = asyncio.get_running_loop().create_task(self._push_every(exporter, reader.interval / 1000))
            self._pushers.append((exporter, task))
            where = reader.exporter.otlp.endpoint if reader.exporter.otlp is not None else "stdout"
            self.log.info("pushing self-metrics", reader=key, to=where, interval_seconds=reader.interval / 1000)

    async def _serve(self, endpoint: Any) -> Any:
        from aiohttp import web

        from .httpserver import serve

        async def handle(_: web.Request) -> web.Response:
            return web.Response(body=self.telemetry.exposition(), headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})

        app = web.Application()
        app.router.add_get("/metrics", handle)
        return await serve(app, endpoint)

    async def _push_every(self, exporter: Any, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self._push(exporter)

    async def _push(self, exporter: Any) -> None:
        request = self.request()
        if exporter is None:
            from .otlpjson import encode_metrics

            sys.stdout.buffer.write(encode_metrics(request) + b"\n")
            sys.stdout.flush()
            return
        try:
            await exporter.consume(Envelope(Signal.METRICS, request))
        except Exception as exc:
            exporter.log.warning("could not push self-metrics", error=str(exc))

    async def stop(self) -> None:
        """A last push of each periodic reader (as the SDK's shutdown does), then everything closed."""
        pushers, self._pushers = self._pushers, []
        for exporter, task in pushers:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await self._push(exporter)
            if exporter is not None:
                await exporter.shutdown()
        servers, self._servers = self._servers, []
        for server in servers:
            await server.cleanup()
