"""The prometheus receiver's config: otelcol's own keys and, under `config:`, a Prometheus server config
(`global`, `scrape_configs`) with Prometheus's key names, defaults and checks (prometheus/config/config.go).

Targets come from `static_configs` only: service discovery (`kubernetes_sd_configs`, `file_sd_configs`, ...)
is refused with its name, as are the features otelcol's receiver refuses itself (`remote_write`,
`remote_read`, `rule_files`, `alerting.alertmanagers`, `alerting.alert_relabel_configs`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ...config import ByteSize, Invalid, option
from ...config.typed import Duration
from .relabel import RelabelConfig


class PromDuration(float):
    """Seconds, written the Prometheus way (model.ParseDuration): `30s`, `1m30s`, `1d`, `2w`, `1y`."""

    doc_type = "duration"
    _PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
    _UNITS = {"ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0, "y": 31536000.0}

    @classmethod
    def parse(cls, value: Any) -> PromDuration:
        if isinstance(value, str):
            text = value.strip()
            if text == "0":
                return cls(0.0)
            total, pos = 0.0, 0
            while pos < len(text):
                m = cls._PART.match(text, pos)
                if m is None:
                    raise ValueError
                total += int(m.group(1)) * cls._UNITS[m.group(2)]
                pos = m.end()
            if text:
                return cls(total)
        raise ValueError

    @classmethod
    def from_config(cls, decoder: Any, value: Any, path: tuple) -> PromDuration:
        try:
            return cls.parse(value)
        except ValueError:
            decoder.error(path, f'expected a Prometheus duration like "30s", "1m" or "1d", got {decoder._got(value)}')
            return cls(0.0)

    def __str__(self) -> str:
        return str(Duration(self))


@dataclass
class StaticConfig:
    targets: list[str] = option(factory=list, doc="`host:port` addresses to scrape (no scheme, no path: those are `scheme` and `metrics_path`).")
    labels: dict[str, str] = option(factory=dict, doc="Labels given to every target of the group (and so to their samples, as data point attributes).")

    def validate(self) -> None:
        for i, target in enumerate(self.targets):
            if not target or "/" in target or " " in target:
                raise Invalid(f'"{target}" is not a valid target: expected host:port, without scheme or path', ("targets", i))
        for name in self.labels:
            if not _LABEL_NAME.match(name):
                raise Invalid(f'"{name}" is not a valid label name', ("labels", name))


_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


@dataclass
class BasicAuth:
    username: str = option("", "User name.")
    username_file: str = option("", "File holding the user name (read at each scrape).")
    password: str = option("", "Password; use `${env:VAR}` rather than writing it in the file.", secret=True)
    password_file: str = option("", "File holding the password (read at each scrape).")

    def validate(self) -> None:
        if self.username and self.username_file:
            raise Invalid("at most one of username and username_file may be set")
        if self.password and self.password_file:
            raise Invalid("at most one of password and password_file may be set")


@dataclass
class Authorization:
    type: str = option("Bearer", "The scheme of the `Authorization` header.")
    credentials: str = option("", "The credentials after the scheme; use `${env:VAR}`.", secret=True)
    credentials_file: str = option("", "File holding the credentials (read at each scrape).")

    def validate(self) -> None:
        if self.credentials and self.credentials_file:
            raise Invalid("at most one of credentials and credentials_file may be set")
        if self.type.lower() == "basic":
            raise Invalid('authorization type cannot be set to "basic", use "basic_auth" instead', "type")


@dataclass
class TLSClientConfig:
    ca_file: str = option("", "CA bundle (PEM) the target's certificate must chain to; unset: the system's CAs.")
    cert_file: str = option("", "Client certificate (PEM) for mTLS.")
    key_file: str = option("", "Private key of the client certificate (PEM).")
    ca: str = option("", "The CA bundle itself (PEM text) instead of ca_file.")
    cert: str = option("", "The client certificate itself (PEM text) instead of cert_file.")
    key: str = option("", "The client key itself (PEM text) instead of key_file.", secret=True)
    server_name: str = option("", "Name the target's certificate must carry (SNI); unset: the target's host.")
    insecure_skip_verify: bool = option(False, "Accept any certificate (no verification).")
    min_version: str = option("", "Lowest TLS version: TLS10, TLS11, TLS12 or TLS13; unset: TLS12.")

    def validate(self) -> None:
        for inline, file in (("ca", "ca_file"), ("cert", "cert_file"), ("key", "key_file")):
            if getattr(self, inline) and getattr(self, file):
                raise Invalid(f"at most one of {inline} and {file} may be set")
        if bool(self.cert or self.cert_file) != bool(self.key or self.key_file):
            raise Invalid("a client certificate needs its key and a key its certificate")
        if self.min_version and self.min_version not in ("TLS10", "TLS11", "TLS12", "TLS13"):
            raise Invalid(f'unknown TLS version "{self.min_version}" (valid: TLS10, TLS11, TLS12, TLS13)', "min_version")


# Prometheus's scrape protocols (config.ScrapeProtocol) and the Accept header part each one asks for.
SCRAPE_PROTOCOLS = {
    "OpenMetricsText1.0.0": "application/openmetrics-text;version=1.0.0",
    "OpenMetricsText0.0.1": "application/openmetrics-text;version=0.0.1",
    "PrometheusText1.0.0": "text/plain;version=1.0.0",
    "PrometheusText0.0.4": "text/plain;version=0.0.4",
    "PrometheusProto": "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited",
}
DEFAULT_SCRAPE_PROTOCOLS = ["OpenMetricsText1.0.0", "OpenMetricsText0.0.1", "PrometheusText1.0.0", "PrometheusText0.0.4"]
_PARSED_PROTOCOLS = [p for p in SCRAPE_PROTOCOLS if p != "PrometheusProto"]


def _check_protocols(protocols: list[str] | None, key: str) -> None:
    for i, protocol in enumerate(protocols or []):
        if protocol == "PrometheusProto":
            raise Invalid("PrometheusProto is not read here: the receiver parses the text and OpenMetrics formats "
                          f"({', '.join(_PARSED_PROTOCOLS)})", (key, i))
        if protocol not in SCRAPE_PROTOCOLS:
            raise Invalid(f'unknown scrape protocol "{protocol}" (valid: {", ".join(SCRAPE_PROTOCOLS)})', (key, i))


_NO_EFFECT_SCRAPE = {
    "enable_http2": "aiohttp speaks HTTP/1.1 to targets",
    "track_timestamps_staleness": "series with explicit timestamps go stale like the others here",
    "keep_dropped_targets": "there is no target status page here",
    "native_histogram_bucket_limit": "native histograms need the protobuf format, which is not scraped here",
    "native_histogram_min_bucket_factor": "native histograms need the protobuf format, which is not scraped here",
    "scrape_native_histograms": "native histograms need the protobuf format, which is not scraped here",
    "metric_name_validation_scheme": "metric names are read as the text and OpenMetrics parsers accept them",
    "metric_name_escaping_scheme": "the Accept header asks for the formats' standard names",
    "scrape_failure_log_file": "scrape failures go to the daemon's log, once per change of a target's state",
    "target_limit": "targets are listed in static_configs, so their number is the config's",
}


@dataclass
class ScrapeConfig:
    job_name: str = option(doc="The `job` label of the targets (and `service.name` of their resource). Must be unique.")
    scrape_interval: PromDuration | None = option(None, "How often to scrape each target; unset: global.scrape_interval.")
    scrape_timeout: PromDuration | None = option(None, "How long a scrape may take; unset: global.scrape_timeout, capped at scrape_interval (as Prometheus does).")
    metrics_path: str = option("/metrics", "The path to request.")
    scheme: str = option("http", "`http` or `https`.")
    params: dict[str, list[str]] = option(factory=dict, doc="URL query parameters.")
    honor_labels: bool = option(False, "On a clash between a scraped label and a target label (job, instance, static labels), keep the scraped one; false: the scraped one is renamed `exported_<name>`.")
    honor_timestamps: bool = option(True, "Keep the timestamps the target exposes; false: every sample gets the scrape's time.")
    static_configs: list[StaticConfig] = option(factory=list, doc="The targets, in groups sharing labels.")
    relabel_configs: list[RelabelConfig] = option(factory=list, doc="Rewrite or drop targets before scraping (on `__address__`, `__scheme__`, `__metrics_path__`, `__param_<name>`, the static labels).")
    metric_relabel_configs: list[RelabelConfig] = option(factory=list, doc="Rewrite or drop scraped samples (on `__name__` and their labels).")
    sample_limit: int = option(0, "A scrape with more samples than this after metric relabeling fails (up=0); 0 = global.sample_limit (0 there: no limit).")
    label_limit: int = option(0, "A scrape with a sample of more labels than this fails; 0 = global.label_limit (0 there: no limit).")
    label_name_length_limit: int = option(0, "A scrape with a longer label name fails; 0 = global.label_name_length_limit (0 there: no limit).")
    label_value_length_limit: int = option(0, "A scrape with a longer label value fails; 0 = global.label_value_length_limit (0 there: no limit).")
    body_size_limit: ByteSize = option(ByteSize(0), "A body larger than this (uncompressed) fails the scrape; 0 = global.body_size_limit, else the receiver's own 64MiB bound.")
    basic_auth: BasicAuth | None = option(None, "Send HTTP basic credentials.")
    authorization: Authorization | None = option(None, "Send an `Authorization: <type> <credentials>` header.")
    tls_config: TLSClientConfig | None = option(None, "TLS settings for https targets.")
    follow_redirects: bool = option(True, "Follow HTTP redirects.")
    proxy_url: str = option("", "HTTP proxy to scrape through.")
    enable_compression: bool = option(True, "Ask for gzip (`Accept-Encoding: gzip`); false: identity.")
    scrape_protocols: list[str] | None = option(None, "The formats to ask for, in order of preference (Accept header); unset: global.scrape_protocols.")
    fallback_scrape_protocol: str = option("", "The format to read an answer whose Content-Type is missing or unknown; unset: Prometheus text 0.0.4.")
    always_scrape_classic_histograms: bool = option(False, "Accepted: classic histograms are always what is scraped here.")
    scrape_classic_histograms: bool = option(False, "Older name of always_scrape_classic_histograms.")
    convert_classic_histograms_to_nhcb: bool = option(False, "Must stay false: histograms are kept as OTLP explicit-bucket histograms.")
    enable_http2: bool = option(True, "No effect here (a start-up warning says so when set).")
    track_timestamps_staleness: bool = option(False, "No effect here (a start-up warning says so when set).")
    keep_dropped_targets: int = option(0, "No effect here (a start-up warning says so when set).")
    native_histogram_bucket_limit: int = option(0, "No effect here (a start-up warning says so when set).")
    native_histogram_min_bucket_factor: float = option(0.0, "No effect here (a start-up warning says so when set).")
    scrape_native_histograms: bool = option(False, "No effect here (a start-up warning says so when set).")
    metric_name_validation_scheme: str = option("", "No effect here (a start-up warning says so when set).")
    metric_name_escaping_scheme: str = option("", "No effect here (a start-up warning says so when set).")
    scrape_failure_log_file: str = option("", "No effect here (a start-up warning says so when set).")
    target_limit: int = option(0, "No effect here (a start-up warning says so when set).")

    @classmethod
    def from_config(cls, decoder: Any, value: Any, path: tuple) -> ScrapeConfig:
        if isinstance(value, dict):
            value = dict(value)
            for key in [k for k in value if isinstance(k, str) and k.endswith("_sd_configs")]:
                decoder.error(path + (key,), f"service discovery ({key}) is not implemented here: list the targets under static_configs, "
                                             "or let a Prometheus server discover and scrape them")
                del value[key]
        return decoder.decode_fields(cls, value, path)

    def validate(self) -> None:
        if not self.job_name:
            raise Invalid("must not be empty", "job_name")
        if self.scheme not in ("http", "https"):
            raise Invalid(f'unknown scheme "{self.scheme}" (valid: http, https)', "scheme")
        if not self.metrics_path.startswith("/"):
            raise Invalid('expected a path starting with "/"', "metrics_path")
        if self.basic_auth is not None and self.authorization is not None:
            raise Invalid("at most one of basic_auth and authorization may be set")
        if self.convert_classic_histograms_to_nhcb:
            raise Invalid("native histograms with custom buckets are not made here: histograms stay OTLP explicit-bucket histograms",
                          "convert_classic_histograms_to_nhcb")
        _check_protocols(self.scrape_protocols, "scrape_protocols")
        if self.fallback_scrape_protocol:
            _check_protocols([self.fallback_scrape_protocol], "fallback_scrape_protocol")
        for key in ("sample_limit", "label_limit", "label_name_length_limit", "label_value_length_limit"):
            if getattr(self, key) < 0:
                raise Invalid("must not be negative", key)
        for i, rc in enumerate(self.metric_relabel_configs):
            if rc.target_label == "__name__":
                # contrib's config.go (validatePromConfig): errRenamingDisallowed.
                raise Invalid("metric renaming using metric_relabel_configs is disallowed", ("metric_relabel_configs", i, "target_label"))

    def ineffective(self) -> list[tuple[str, str]]:
        out = []
        for key, why in _NO_EFFECT_SCRAPE.items():
            default = ScrapeConfig.__dataclass_fields__[key].default
            if getattr(self, key) != default:
                out.append((key, why))
        return out


@dataclass
class GlobalConfig:
    scrape_interval: PromDuration = option(PromDuration(60.0), "How often to scrape targets by default.")
    scrape_timeout: PromDuration = option(PromDuration(10.0), "How long a scrape may take by default.")
    external_labels: dict[str, str] = option(factory=dict, doc="Labels added to every scraped sample (over its own of the same name).")
    scrape_protocols: list[str] = option(factory=lambda: list(DEFAULT_SCRAPE_PROTOCOLS), doc="The formats to ask for by default, in order of preference.")
    body_size_limit: ByteSize = option(ByteSize(0), "Default body_size_limit of the scrape configs; 0 = the receiver's 64MiB bound.")
    sample_limit: int = option(0, "Default sample_limit of the scrape configs.")
    label_limit: int = option(0, "Default label_limit of the scrape configs.")
    label_name_length_limit: int = option(0, "Default label_name_length_limit of the scrape configs.")
    label_value_length_limit: int = option(0, "Default label_value_length_limit of the scrape configs.")
    evaluation_interval: PromDuration | None = option(None, "No effect here: there are no rules to evaluate.")
    rule_query_offset: PromDuration | None = option(None, "No effect here: there are no rules to evaluate.")
    query_log_file: str = option("", "No effect here: nothing is queried.")
    scrape_failure_log_file: str = option("", "No effect here: scrape failures go to the daemon's log.")
    metric_name_validation_scheme: str = option("", "No effect here (a start-up warning says so when set).")
    metric_name_escaping_scheme: str = option("", "No effect here (a start-up warning says so when set).")
    always_scrape_classic_histograms: bool = option(False, "Accepted: classic histograms are always what is scraped here.")
    convert_classic_histograms_to_nhcb: bool = option(False, "Must stay false: histograms are kept as OTLP explicit-bucket histograms.")

    def validate(self) -> None:
        if self.scrape_timeout > self.scrape_interval:
            raise Invalid("global scrape timeout greater than scrape interval", "scrape_timeout")
        if self.convert_classic_histograms_to_nhcb:
            raise Invalid("native histograms with custom buckets are not made here", "convert_classic_histograms_to_nhcb")
        _check_protocols(self.scrape_protocols, "scrape_protocols")
        for key in ("sample_limit", "label_limit", "label_name_length_limit", "label_value_length_limit"):
            if getattr(self, key) < 0:
                raise Invalid("must not be negative", key)


# Top-level Prometheus keys the receiver refuses, as contrib's config.go (validatePromConfig) does.
_UNSUPPORTED = {"remote_write", "remote_read", "rule_files"}
_NO_EFFECT_TOP = {"storage": "nothing is stored here", "tracing": "the daemon traces nothing of its own",
                  "runtime": "Go runtime settings", "otlp": "there is no OTLP write endpoint in a scrape config"}


@dataclass
class PromConfig:
    global_: GlobalConfig = option(factory=GlobalConfig, doc="Defaults of every scrape config.", key="global")
    scrape_configs: list[ScrapeConfig] = option(factory=list, doc="The jobs to scrape.")
    alerting: dict[str, Any] | None = option(None, "Refused when it has alertmanagers or alert_relabel_configs, as in otelcol.")
    storage: dict[str, Any] | None = option(None, "No effect here (a start-up warning says so).")
    tracing: dict[str, Any] | None = option(None, "No effect here (a start-up warning says so).")
    runtime: dict[str, Any] | None = option(None, "No effect here (a start-up warning says so).")
    otlp: dict[str, Any] | None = option(None, "No effect here (a start-up warning says so).")

    @classmethod
    def from_config(cls, decoder: Any, value: Any, path: tuple) -> PromConfig:
        if isinstance(value, dict):
            value = dict(value)
            for key in sorted(k for k in value if k in _UNSUPPORTED or k == "scrape_config_files"):
                why = ("list the scrape configs under scrape_configs" if key == "scrape_config_files"
                       else "unsupported by otelcol's prometheus receiver too")
                if value[key]:
                    decoder.error(path + (key,), f"{key} is not supported: {why}")
                del value[key]
        return decoder.decode_fields(cls, value, path)

    def validate(self) -> None:
        for key in ("alertmanagers", "alert_relabel_configs"):
            if self.alerting and self.alerting.get(key):
                raise Invalid(f"alerting.{key} is not supported (unsupported by otelcol's prometheus receiver too)", ("alerting", key))
        seen: set[str] = set()
        for i, sc in enumerate(self.scrape_configs):
            if sc.job_name in seen:
                raise Invalid(f'found multiple scrape configs with job name "{sc.job_name}"', ("scrape_configs", i, "job_name"))
            seen.add(sc.job_name)
            interval = self.interval(sc)
            if self.timeout(sc) > interval:
                raise Invalid(f'scrape timeout greater than scrape interval for scrape config with job name "{sc.job_name}"',
                              ("scrape_configs", i, "scrape_timeout"))

    def interval(self, sc: ScrapeConfig) -> float:
        return float(sc.scrape_interval if sc.scrape_interval is not None else self.global_.scrape_interval)

    def timeout(self, sc: ScrapeConfig) -> float:
        """Prometheus's rule: an unset timeout is the global one, or the interval when that is shorter."""
        if sc.scrape_timeout is not None:
            return float(sc.scrape_timeout)
        return min(float(self.global_.scrape_timeout), self.interval(sc))

    def ineffective(self) -> list[tuple[str, str]]:
        out = [(f"config.{key}", why) for key, why in _NO_EFFECT_TOP.items() if getattr(self, key) is not None]
        g = self.global_
        for key, why in (("evaluation_interval", "there are no rules to evaluate"), ("rule_query_offset", "there are no rules to evaluate"),
                         ("query_log_file", "nothing is queried"), ("scrape_failure_log_file", "scrape failures go to the daemon's log"),
                         ("metric_name_validation_scheme", "metric names are read as the parsers accept them"),
                         ("metric_name_escaping_scheme", "the Accept header asks for the formats' standard names")):
            if getattr(g, key):
                out.append((f"config.global.{key}", why))
        for i, sc in enumerate(self.scrape_configs):
            out += [(f"config.scrape_configs[{i}].{key}", why) for key, why in sc.ineffective()]
        return out


@dataclass
class PrometheusReceiverConfig:
    config: PromConfig | None = option(None, "A Prometheus config: `global` and `scrape_configs` (see below). Write `$` as `$$` (a single `$` starts an ${env:VAR}).")
    trim_metric_suffixes: bool = option(False, "Trim type and unit suffixes from metric names (`_total`, `_seconds`, ...), as otelcol's translator does.")
    use_start_time_metric: bool = option(False, "Take the start time of every cumulative point from the target's process_start_time_seconds (or start_time_metric_regex) gauge.")
    start_time_metric_regex: str = option("", "With use_start_time_metric: the gauge whose value is the start time; unset: `^(.+_)*process_start_time_seconds$`.")
    report_extra_scrape_metrics: bool = option(False, "Also report scrape_timeout_seconds, scrape_sample_limit and scrape_body_size_bytes.")
    target_allocator: dict[str, Any] | None = option(None, "The OpenTelemetry Operator's target allocator. No effect here (a start-up warning says so): list targets in static_configs.")
    api_server: dict[str, Any] | None = option(None, "otelcol's Prometheus API server. No effect here (a start-up warning says so).")

    def validate(self) -> None:
        if (self.config is None or not self.config.scrape_configs) and self.target_allocator is None:
            raise Invalid("no Prometheus scrape_configs or target_allocator set", "config")
        if self.start_time_metric_regex:
            try:
                re.compile(self.start_time_metric_regex)
            except re.error as exc:
                raise Invalid(f"invalid regular expression: {exc}", "start_time_metric_regex") from None
