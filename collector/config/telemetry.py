"""`service.telemetry`: the daemon's own logs and metrics, in otelcol's shape.

Both spellings otelcol has had are accepted: `metrics.address` (older otelcol) and today's
OpenTelemetry configuration schema, `metrics.readers` with a `pull` Prometheus exporter (the self-metrics
endpoint) or a `periodic` OTLP exporter (pushed to a backend), plus `logs.*`, `traces` and `resource`.
What has no effect in this daemon is accepted and named by `ignored_keys()`, which start-up logs once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .typed import Decoder, Endpoint, Invalid, _quote, option

# zap's level names, in lower or upper case as zap reads them; dpanic, panic and fatal are above error.
LOG_LEVELS = ("debug", "info", "warn", "error")
_CRITICAL_LEVELS = ("dpanic", "panic", "fatal")
METRICS_LEVELS = ("none", "basic", "normal", "detailed")
# The OpenTelemetry configuration schema's Prometheus exporter defaults (otelconf).
PROMETHEUS_DEFAULT_HOST = "localhost"
PROMETHEUS_DEFAULT_PORT = 9464
OTLP_PROTOCOLS = ("grpc", "http/protobuf", "http/json")


@dataclass
class LogsSamplingConfig:
    enabled: bool = option(True, "zap's sampling switch.")
    tick: Any = option(None, "zap's sampling interval.")
    initial: int = option(10, "Messages logged per tick before sampling.")
    thereafter: int = option(100, "Every Nth message logged after `initial`.")


@dataclass
class LogsTelemetryConfig:
    level: str = option("info", "Minimum level of the daemon's own logs: `debug`, `info`, `warn` or `error`, in lower or upper case as zap reads them (`dpanic`, `panic` and `fatal` leave only critical lines).")
    encoding: Literal["json", "console"] = option("json", "`json` (structlog JSON lines) or `console` for humans.")
    output_paths: list[str] = option(factory=lambda: ["stderr"], doc="Where the logs go: `stderr`, `stdout` or file paths (`file://` URLs too); several get every line.")
    initial_fields: dict[str, Any] = option(factory=dict, doc="Fields added to every log line, e.g. `{service: gateway}`.")
    development: bool = option(False, "zap's development mode. No effect here (accepted for otelcol configs).")
    disable_caller: bool = option(False, "zap's caller annotation. No effect here: lines carry `component`, never a source location.")
    disable_stacktrace: bool = option(False, "zap's stack traces. No effect here: errors carry their traceback only where it explains something.")
    sampling: LogsSamplingConfig | None = option(None, "zap's log sampling. No effect here: repeated lines are rate-limited instead (5 per 10 s per message, then one line with the count).")
    error_output_paths: list[str] = option(factory=lambda: ["stderr"], doc="Where zap writes its own internal errors. No effect here: there is no such logger.")
    processors: list[Any] = option(factory=list, doc="OTLP log record processors (export of the daemon's own logs). No effect here: the logs go to output_paths only.")
    disable_zap_resource: bool = option(False, "No effect here (there is no zap logger).")

    def validate(self) -> None:
        if self.level.lower() not in (*LOG_LEVELS, *_CRITICAL_LEVELS) or self.level not in (self.level.lower(), self.level.upper()):
            raise Invalid(f"expected one of {', '.join(_quote(v) for v in LOG_LEVELS)}, got {_quote(self.level)}", "level")
        self.level = self.level.lower()
        if not self.output_paths:
            raise Invalid("must name at least one output (stderr, stdout or a file path)", "output_paths")


@dataclass
class PrometheusPullExporterConfig:
    host: str = option(PROMETHEUS_DEFAULT_HOST, "Interface the self-metrics endpoint listens on; `0.0.0.0` or `::` for every interface.")
    port: int = option(PROMETHEUS_DEFAULT_PORT, "Port of the self-metrics endpoint (`/metrics`).")
    without_scope_info: bool | None = option(None, "No effect here: the endpoint serves no otel_scope_info.")
    without_type_suffix: bool | None = option(None, "No effect here: the metric names are otelcol's, without type suffixes.")
    without_units: bool | None = option(None, "No effect here: the metric names carry no unit suffixes.")
    with_resource_constant_labels: Any = option(None, "No effect here: resource attributes are served as `target_info` only.")
    translation_strategy: str | None = option(None, "No effect here: the metric names are fixed.")

    def validate(self) -> None:
        if not 0 <= self.port <= 65535:
            raise Invalid(f"expected a port number, got {self.port}", "port")

    @property
    def endpoint(self) -> Endpoint:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return Endpoint(f"{host}:{self.port}")


@dataclass
class PullExporterConfig:
    prometheus: PrometheusPullExporterConfig | None = option(None, "The Prometheus endpoint.")

    def validate(self) -> None:
        if self.prometheus is None:
            raise Invalid("a pull reader needs exporter.prometheus (the only pull exporter)", "prometheus")


@dataclass
class PullReaderConfig:
    exporter: PullExporterConfig = option(doc="`prometheus: {host, port}`.")
    producers: list[Any] = option(factory=list, doc="No effect here: the daemon has no other metric producers.")
    cardinality_limits: Any = option(None, "No effect here.")


@dataclass
class NameValue:
    name: str = option(doc="Header name.")
    value: str = option(doc="Header value.", secret=True)


@dataclass
class OTLPPushExporterConfig:
    endpoint: str = option(doc="gRPC `host:port` (or `http(s)://host:port`); for http/protobuf the full URL, e.g. `https://backend:4318/v1/metrics`.")
    protocol: Literal["grpc", "http/protobuf", "http/json"] = option("http/protobuf", "`grpc`, `http/protobuf` or `http/json`.")
    headers: list[NameValue] = option(factory=list, doc="Headers sent with every export, as `- {name, value}`.")
    headers_list: str | None = option(None, "Headers as `key1=value1,key2=value2`.", secret=True)
    compression: str | None = option(None, "`gzip` or `none` (http also `zstd`).")
    timeout: int = option(10000, "Time limit of one export, in milliseconds.")
    insecure: bool | None = option(None, "Plaintext for an endpoint without a scheme.")
    certificate: str | None = option(None, "CA bundle (PEM) the backend's certificate must chain to.")
    client_certificate: str | None = option(None, "Client certificate (PEM) for mTLS.")
    client_key: str | None = option(None, "Private key (PEM) of client_certificate.")
    temporality_preference: Literal["cumulative", "delta", "low_memory", "lowmemory"] = option("cumulative", "Only cumulative is sent: delta and low_memory are named in a start-up warning.")
    default_histogram_aggregation: str | None = option(None, "Only explicit bucket histograms are sent.")

    def validate(self) -> None:
        if self.timeout <= 0:
            raise Invalid("must be greater than 0 (milliseconds)", "timeout")

    def header_map(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for part in (self.headers_list or "").split(","):
            key, eq, value = part.partition("=")
            if eq and key.strip():
                headers[key.strip()] = value.strip()
        headers.update({h.name: h.value for h in self.headers})
        return headers


@dataclass
class PeriodicExporterConfig:
    otlp: OTLPPushExporterConfig | None = option(None, "Push the self-metrics over OTLP.")
    console: dict[str, Any] | None = option(None, "Print the self-metrics as OTLP JSON lines on stdout.")

    def validate(self) -> None:
        if (self.otlp is None) == (self.console is None):
            raise Invalid("a periodic reader needs exactly one of exporter.otlp and exporter.console")


@dataclass
class PeriodicReaderConfig:
    exporter: PeriodicExporterConfig = option(doc="`otlp: {...}` or `console: {}`.")
    interval: int = option(60000, "Milliseconds between two exports.")
    timeout: int = option(30000, "Milliseconds one export may take.")
    producers: list[Any] = option(factory=list, doc="No effect here: the daemon has no other metric producers.")
    cardinality_limits: Any = option(None, "No effect here.")

    def validate(self) -> None:
        if self.interval <= 0:
            raise Invalid("must be greater than 0 (milliseconds)", "interval")


@dataclass
class MetricReaderConfig:
    pull: PullReaderConfig | None = option(None, "Serve the self-metrics for scraping.")
    periodic: PeriodicReaderConfig | None = option(None, "Push the self-metrics every interval.")

    def validate(self) -> None:
        if (self.pull is None) == (self.periodic is None):
            raise Invalid("a metric reader is exactly one of pull and periodic")


@dataclass
class MetricsTelemetryConfig:
    address: Endpoint | None = option(Endpoint("127.0.0.1:8888"), "Older otelcol's spelling of one Prometheus endpoint (`/metrics`); null turns the endpoint off. Ignored when `readers` is set (both written is an error).")
    level: Literal["none", "basic", "normal", "detailed"] = option("normal", "`none` turns self-metrics off (no endpoint, no push).")
    readers: list[MetricReaderConfig] | None = option(None, "Today's otelcol: `- pull: {exporter: {prometheus: {host, port}}}` serves the endpoint; `- periodic: {interval, exporter: {otlp: {protocol, endpoint}}}` pushes.")
    views: list[Any] | None = option(None, "Metric views (only with level detailed). No effect here: every metric is kept as is.")

    @classmethod
    def from_config(cls, decoder: Decoder, value: Any, path: tuple[str | int, ...]) -> MetricsTelemetryConfig:
        config: MetricsTelemetryConfig = decoder.decode_fields(cls, value, path)
        if isinstance(value, dict):
            if "address" in value and "readers" in value:
                decoder.error(path + ("address",), "address and readers cannot both be set (address is older otelcol's spelling of one pull reader)")
            if config.readers is not None and not config.readers and config.level != "none":
                decoder.error(path + ("readers",), "collector telemetry metrics reader should exist when metric level is not none")
            if config.views is not None and config.level != "detailed":
                decoder.error(path + ("views",), "service::telemetry::metrics::views can only be set when service::telemetry::metrics::level is detailed")
        return config

    def pull_endpoints(self) -> list[tuple[str, Endpoint]]:
        """(config key under metrics, "" for address, endpoint) of every Prometheus endpoint to serve."""
        if self.level == "none":
            return []
        if self.readers is None:
            return [] if self.address is None else [("", self.address)]
        return [(f"readers[{i}].pull", r.pull.exporter.prometheus.endpoint) for i, r in enumerate(self.readers)
                if r.pull is not None and r.pull.exporter.prometheus is not None]

    def periodic_readers(self) -> list[tuple[str, PeriodicReaderConfig]]:
        if self.level == "none" or self.readers is None:
            return []
        return [(f"readers[{i}].periodic", r.periodic) for i, r in enumerate(self.readers) if r.periodic is not None]


@dataclass
class TracesTelemetryConfig:
    level: Literal["none", "basic", "normal", "detailed"] = option("basic", "otelcol's level of its own spans.")
    propagators: list[str] = option(factory=list, doc="Context propagators for the daemon's own spans.")
    processors: list[Any] = option(factory=list, doc="Span processors exporting the daemon's own spans. No effect here: the daemon does not trace itself.")


@dataclass
class TelemetryConfig:
    logs: LogsTelemetryConfig = option(factory=LogsTelemetryConfig, doc="Self logs.")
    metrics: MetricsTelemetryConfig = option(factory=MetricsTelemetryConfig, doc="Self metrics.")
    traces: TracesTelemetryConfig = option(factory=TracesTelemetryConfig, doc="otelcol's own spans. No effect here: the daemon does not trace itself.")
    resource: dict[str, Any] = option(factory=dict, doc="Resource attributes of the self-metrics (pushed ones, and `target_info` on the endpoint); a null value removes a default one (service.name, service.version, service.instance.id).")

    def ignored_keys(self) -> list[tuple[str, str]]:
        """(key under service.telemetry, why) for each key written that has no effect in this daemon."""
        out: list[tuple[str, str]] = []
        logs = self.logs
        if logs.processors:
            out.append(("logs.processors", "the daemon's own logs are not exported over OTLP; they go to logs.output_paths"))
        if logs.sampling is not None and logs.sampling.enabled:
            out.append(("logs.sampling", "repeated log lines are rate-limited instead (5 per 10 s per message, then one line with the count)"))
        if logs.development:
            out.append(("logs.development", "there is no zap development mode"))
        if logs.error_output_paths != ["stderr"]:
            out.append(("logs.error_output_paths", "there is no zap internal error output"))
        if self.traces.processors or self.traces.propagators:
            out.append(("traces", "the daemon does not trace itself, so there are no own spans to export"))
        if self.metrics.views is not None:
            out.append(("metrics.views", "every self-metric is kept as it is"))
        for key, reader in self.metrics.periodic_readers():
            if reader.exporter.otlp is not None and reader.exporter.otlp.temporality_preference not in ("cumulative",):
                out.append((f"metrics.{key}.exporter.otlp.temporality_preference", "self-metrics are pushed with cumulative temporality"))
            if reader.exporter.otlp is not None and reader.exporter.otlp.default_histogram_aggregation not in (None, "explicit_bucket_histogram"):
                out.append((f"metrics.{key}.exporter.otlp.default_histogram_aggregation", "self-metric histograms are explicit bucket histograms"))
        for i, metric_reader in enumerate(self.metrics.readers or []):
            if metric_reader.pull is not None and metric_reader.pull.exporter.prometheus is not None:
                prometheus = metric_reader.pull.exporter.prometheus
                for key in ("without_scope_info", "without_type_suffix", "without_units", "with_resource_constant_labels", "translation_strategy"):
                    if getattr(prometheus, key) is not None:
                        out.append((f"metrics.readers[{i}].pull.exporter.prometheus.{key}", "the endpoint serves the daemon's fixed otelcol metric names"))
        return out
