"""One Prometheus scrape: the targets of a scrape config (static_configs + relabel_configs, as Prometheus's
scrape/target.go PopulateLabels), the HTTP request (Accept header, timeout, body bound), the parse with
prometheus_client's text or OpenMetrics parser, and the samples' labels (honor_labels, external labels,
metric_relabel_configs, limits) into translate.Scrape, with Prometheus's report metrics (`up`, `scrape_*`)."""

from __future__ import annotations

import base64
import hashlib
import re
import ssl
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ... import __version__
from ...lazyimport import lazy
from .adjust import TargetState
from .config import SCRAPE_PROTOCOLS, PromConfig, PromDuration, ScrapeConfig
from .relabel import relabel
from .translate import GAUGE, Point, ResourceKey, Scrape, add_sample, resource_attributes, split_labels

if TYPE_CHECKING:
    import aiohttp
    from prometheus_client import parser as text_parser
    from prometheus_client.openmetrics import parser as openmetrics_parser
else:  # imported by start(), not by `validate` (collector/lazyimport.py)
    aiohttp = lazy("aiohttp")
    openmetrics_parser, text_parser = lazy("prometheus_client.openmetrics.parser"), lazy("prometheus_client.parser")

DEFAULT_BODY_LIMIT = 64 * 2**20
_PROTOCOL_HEADERS_COUNT = len(SCRAPE_PROTOCOLS)


class ScrapeError(Exception):
    """A scrape that gave no samples (up=0); the message is for the log and never holds the body."""


@dataclass(frozen=True)
class Limits:
    """The limits a target is scraped with: the scrape config's, each left at 0 taking the global one (as
    Prometheus's ScrapeConfig.Validate does); 0 after that is no limit."""

    sample_limit: int = 0
    label_limit: int = 0
    label_name_length_limit: int = 0
    label_value_length_limit: int = 0


@dataclass
class Target:
    job: str
    url: str
    instance: str
    labels: dict[str, str]  # the target's labels (job, instance, static labels): what its samples carry
    scheme: str  # the scheme before relabeling (contrib's url.scheme comes from the discovered labels)
    interval: float
    timeout: float
    config: ScrapeConfig
    accept: str
    body_limit: int
    limits: Limits
    ssl: ssl.SSLContext | bool = True
    previous_series: set[tuple[str, tuple[tuple[str, str], ...]]] = field(default_factory=set)


def accept_header(protocols: list[str]) -> str:
    """Prometheus's acceptHeader (scrape/scrape.go): q-weights from 0.<n+1> down, then */*."""
    weight = _PROTOCOL_HEADERS_COUNT + 1
    values = []
    for protocol in protocols:
        value = SCRAPE_PROTOCOLS[protocol]
        if protocol in ("PrometheusText1.0.0", "OpenMetricsText1.0.0"):
            value += ";escaping=underscores"
        values.append(f"{value};q=0.{weight}")
        weight -= 1
    values.append(f"*/*;q=0.{weight}")
    return ",".join(values)


def build_targets(prom: PromConfig) -> tuple[list[Target], list[str]]:
    """The targets of every scrape config, and why any was dropped (for the start-up log)."""
    targets: list[Target] = []
    problems: list[str] = []
    g = prom.global_
    for sc in prom.scrape_configs:
        interval, timeout = prom.interval(sc), prom.timeout(sc)
        protocols = sc.scrape_protocols or g.scrape_protocols
        body_limit = int(sc.body_size_limit or g.body_size_limit or DEFAULT_BODY_LIMIT)
        limits = Limits(*(getattr(sc, key) or getattr(g, key) for key in ("sample_limit", "label_limit", "label_name_length_limit", "label_value_length_limit")))
        for group in sc.static_configs:
            for address in group.targets:
                labels = {**group.labels, "__address__": address}
                defaults = {"job": sc.job_name, "__scrape_interval__": str(PromDuration(interval)),
                            "__scrape_timeout__": str(PromDuration(timeout)), "__metrics_path__": sc.metrics_path, "__scheme__": sc.scheme}
                defaults.update({f"__param_{k}": v[0] for k, v in sc.params.items() if v})
                for key, value in defaults.items():
                    if not labels.get(key):
                        labels[key] = value
                kept = relabel(labels, sc.relabel_configs)
                if kept is None:
                    continue
                addr = kept.get("__address__", "")
                if not addr:
                    problems.append(f"job {sc.job_name}: a target lost its __address__ in relabel_configs (dropped)")
                    continue
                try:
                    t_interval = PromDuration.parse(kept.get("__scrape_interval__", ""))
                    t_timeout = PromDuration.parse(kept.get("__scrape_timeout__", ""))
                except ValueError:
                    problems.append(f"job {sc.job_name}: target {addr} has an invalid __scrape_interval__ or __scrape_timeout__ (dropped)")
                    continue
                kept.setdefault("instance", addr)
                scheme = kept.get("__scheme__", sc.scheme)
                params = {k: list(v) for k, v in sc.params.items()}
                params.update({k[len("__param_"):]: [v] for k, v in kept.items() if k.startswith("__param_")})
                query = urllib.parse.urlencode(params, doseq=True)
                url = f"{scheme}://{addr}{kept.get('__metrics_path__', sc.metrics_path)}" + (f"?{query}" if query else "")
                public = {k: v for k, v in kept.items() if not k.startswith("__") and v}
                targets.append(Target(public.get("job", ""), url, public["instance"], public, sc.scheme, float(t_interval),
                                      min(float(t_timeout), float(t_interval)), sc, accept_header(protocols), body_limit, limits))
    return targets, problems


def ssl_context(sc: ScrapeConfig) -> ssl.SSLContext | bool:
    """The client TLS of a scrape config (reads its files: at start, never in `validate`)."""
    tls = sc.tls_config
    if tls is None:
        return True
    context = ssl.create_default_context(cafile=tls.ca_file or None, cadata=tls.ca or None)
    if tls.min_version:
        context.minimum_version = getattr(ssl.TLSVersion, f"TLSv1_{tls.min_version[-1]}" if tls.min_version != "TLS10" else "TLSv1")
    if tls.insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if tls.cert_file:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    elif tls.cert:
        with tempfile.NamedTemporaryFile("w", suffix=".pem") as f:
            f.write(tls.cert + "\n" + tls.key + "\n")
            f.flush()
            context.load_cert_chain(f.name)
    return context


def _auth_header(sc: ScrapeConfig) -> str | None:
    if sc.basic_auth is not None:
        ba = sc.basic_auth
        user = Path(ba.username_file).read_text().strip() if ba.username_file else ba.username
        password = Path(ba.password_file).read_text().strip() if ba.password_file else ba.password
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    if sc.authorization is not None:
        az = sc.authorization
        credentials = Path(az.credentials_file).read_text().strip() if az.credentials_file else az.credentials
        return f"{az.type} {credentials}"
    return None


async def fetch(session: aiohttp.ClientSession, target: Target) -> tuple[bytes, str]:
    """The body and Content-Type of one scrape; ScrapeError on any failure."""
    sc = target.config
    headers = {"Accept": target.accept, "Accept-Encoding": "gzip" if sc.enable_compression else "identity",
               "User-Agent": f"llm-collector/{__version__}", "X-Prometheus-Scrape-Timeout-Seconds": f"{target.timeout:g}"}
    try:
        auth = _auth_header(sc)
    except OSError as exc:
        raise ScrapeError(f"cannot read the credentials file: {exc.strerror or exc}") from None
    if auth is not None:
        headers["Authorization"] = auth
    try:
        async with session.get(target.url, headers=headers, timeout=aiohttp.ClientTimeout(total=target.timeout), ssl=target.ssl,
                               allow_redirects=sc.follow_redirects, proxy=sc.proxy_url or None) as response:
            if response.status != 200:
                raise ScrapeError(f"server returned HTTP status {response.status} {response.reason or ''}".rstrip())
            chunks, size = [], 0
            async for chunk in response.content.iter_chunked(65536):
                size += len(chunk)
                if size > target.body_limit:
                    raise ScrapeError(f"body size limit exceeded ({target.body_limit} bytes)")
                chunks.append(chunk)
            return b"".join(chunks), response.headers.get("Content-Type", "")
    except TimeoutError:
        raise ScrapeError(f"context deadline exceeded (scrape_timeout {target.timeout:g}s)") from None
    except aiohttp.ClientError as exc:
        raise ScrapeError(f"{type(exc).__name__}: {exc}") from None
    except ssl.SSLError as exc:
        raise ScrapeError(f"TLS: {exc.reason or exc}") from None


def parse(body: bytes, content_type: str, fallback: str) -> list[Any]:
    """prometheus_client's families of a body, by its Content-Type (Prometheus 3: an unknown or missing
    one needs fallback_scrape_protocol)."""
    media = content_type.split(";", 1)[0].strip().lower()
    parse_openmetrics, parse_text = openmetrics_parser.text_string_to_metric_families, text_parser.text_string_to_metric_families
    if media == "application/openmetrics-text":
        parser = parse_openmetrics
    elif media == "text/plain":
        parser = parse_text
    elif fallback:
        parser = parse_openmetrics if fallback.startswith("OpenMetrics") else parse_text
    else:
        shown = media[:60] or "none"
        raise ScrapeError(f'unsupported Content-Type "{shown}" and no fallback_scrape_protocol set')
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ScrapeError("the body is not UTF-8 text") from None
    try:
        families = list(parser(text))
    except Exception as exc:  # the parsers raise ValueError, and others on some malformed input
        reason = str(exc).split(":", 1)[0][:120] if str(exc) else type(exc).__name__
        raise ScrapeError(f"cannot parse the {'OpenMetrics' if parser is parse_openmetrics else 'text'} exposition: {reason}") from None
    if parser is parse_text:
        _unmunge_counters(text, families)
    return families


_COUNTER_TYPE = re.compile(r"^#[ \t]*TYPE[ \t]+(\S+)[ \t]+counter[ \t]*$", re.MULTILINE)


def _unmunge_counters(text: str, families: list[Any]) -> None:
    """prometheus_client's text parser appends `_total` to the samples of a counter whose TYPE line names it
    without (`# TYPE x counter` / `x 3` gives a sample `x_total`); Prometheus keeps the name as exposed, and so
    does otelcol (metadataForMetric), so the suffix is taken off again."""
    bare = {name for name in _COUNTER_TYPE.findall(text) if not name.endswith("_total")}
    if not bare:
        return
    for family in families:
        if family.type == "counter" and family.name in bare:
            family.samples = [s._replace(name=s.name[:-len("_total")]) if s.name == family.name + "_total" else s for s in family.samples]


@dataclass
class Outcome:
    scrape: Scrape
    scraped: int = 0
    kept: int = 0
    added: int = 0


def samples(target: Target, families: list[Any], scrape_ms: int, external: dict[str, str]) -> Outcome:
    """The families' samples as Prometheus appends them (scrape/scrape.go mutateSampleLabels), into a Scrape.
    Raises ScrapeError for a limit exceeded (the whole scrape then fails, as in Prometheus)."""
    sc = target.config
    out = Outcome(Scrape())
    series: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    pending: list[tuple[Any, str, dict[str, str], float, int, Any]] = []
    for family in families:
        for s in family.samples:
            out.scraped += 1
            labels = {k: v for k, v in s.labels.items() if v}
            if sc.honor_labels:
                for key, value in target.labels.items():
                    labels.setdefault(key, value)
            else:
                for key, value in target.labels.items():
                    if key in labels:
                        exported = "exported_" + key
                        while exported in labels:
                            exported = "exported_" + exported
                        labels[exported] = labels[key]
                    labels[key] = value
            labels.update(external)
            labels["__name__"] = s.name
            if sc.metric_relabel_configs:
                relabeled = relabel(labels, sc.metric_relabel_configs)
                if relabeled is None:
                    continue
                labels = relabeled
            name = labels.pop("__name__", "")
            if not name:
                continue
            _check_limits(target.limits, name, labels)
            ts_ms = int(float(s.timestamp) * 1000) if sc.honor_timestamps and s.timestamp is not None else scrape_ms
            pending.append((family, name, labels, float(s.value), ts_ms, s.exemplar))
            series.add((name, tuple(sorted(labels.items()))))
    out.kept = len(pending)
    limit = target.limits.sample_limit
    if limit and out.kept > limit:
        raise ScrapeError(f"sample limit exceeded ({out.kept} samples, sample_limit {limit})")
    for family, name, labels, sample_value, ts_ms, exemplar in pending:
        rkey = (labels.pop("job", target.job), labels.pop("instance", target.instance))
        _resource(out.scrape, rkey, target)
        add_sample(out.scrape, family, name, labels, sample_value, ts_ms, rkey, exemplar)
    out.added = len(series - target.previous_series)
    target.previous_series = series
    return out


def _check_limits(sc: Limits, name: str, labels: dict[str, str]) -> None:
    if sc.label_limit and len(labels) + 1 > sc.label_limit:
        raise ScrapeError(f"label_limit exceeded (metric: {name}, number of labels: {len(labels) + 1}, limit: {sc.label_limit})")
    if sc.label_name_length_limit:
        for key in labels:
            if len(key) > sc.label_name_length_limit:
                raise ScrapeError(f"label_name_length_limit exceeded (metric: {name}, length: {len(key)}, limit: {sc.label_name_length_limit})")
    if sc.label_value_length_limit:
        for value in labels.values():
            if len(value) > sc.label_value_length_limit:
                raise ScrapeError(f"label_value_length_limit exceeded (metric: {name}, length: {len(value)}, limit: {sc.label_value_length_limit})")


def _resource(scrape: Scrape, rkey: ResourceKey, target: Target) -> None:
    if rkey not in scrape.resource_attrs:
        scrape.resource_attrs[rkey] = resource_attributes(rkey[0], rkey[1], target.scheme)


# contrib's internalMetricMetadata (metadata.go): (help, unit) of Prometheus's report metrics.
_REPORT_METADATA = {
    "up": ("The scraping was successful", ""),
    "scrape_duration_seconds": ("Duration of the scrape", "seconds"),
    "scrape_samples_scraped": ("The number of samples the target exposed", ""),
    "scrape_samples_post_metric_relabeling": ("The number of samples remaining after metric relabeling was applied", ""),
    "scrape_series_added": ("The approximate number of new series in this scrape", ""),
}


def report(scrape: Scrape, target: Target, scrape_ms: int, values: dict[str, float]) -> None:
    """Prometheus's report samples, with the target's labels (never metric-relabeled)."""
    rkey = (target.job, target.instance)
    _resource(scrape, rkey, target)
    skey, attrs, _ = split_labels(target.labels)
    for name, value in values.items():
        help, unit = _REPORT_METADATA.get(name, ("", ""))
        fam = scrape.family(rkey, skey, name, GAUGE, False, help, unit, "gauge" if name in _REPORT_METADATA else "unknown")
        fam.points[attrs] = Point(attrs, scrape_ms, value=value, has_value=True)


def assemble(target: Target, state: TargetState, fetched: tuple[bytes, str] | ScrapeError, scrape_ms: int, duration: float,
             external: dict[str, str], start_time_metric: re.Pattern[str] | None, extra_metrics: bool) -> tuple[Scrape, str | None, str | None]:
    """One scrape's Scrape from what `fetch` gave (a body and its Content-Type, or the error): samples, stale
    points, start times, report metrics. Also returns the scrape's error (None when up=1) and a problem of
    the start time adjustment to log (or None)."""
    error = None
    outcome = None
    body = b""
    try:
        if isinstance(fetched, ScrapeError):
            raise fetched
        body, content_type = fetched
        outcome = samples(target, parse(body, content_type, target.config.fallback_scrape_protocol), scrape_ms, external)
    except ScrapeError as exc:
        error = str(exc)
    scrape = outcome.scrape if outcome is not None else Scrape()
    values = {"up": 0.0 if error else 1.0, "scrape_duration_seconds": duration,
              "scrape_samples_scraped": float(outcome.scraped if outcome else 0),
              "scrape_samples_post_metric_relabeling": float(outcome.kept if outcome else 0),
              "scrape_series_added": float(outcome.added if outcome else 0)}
    if extra_metrics:
        values.update(scrape_timeout_seconds=target.timeout, scrape_sample_limit=float(target.limits.sample_limit),
                      scrape_body_size_bytes=float(len(body) if not error else 0))
    state.mark_stale(scrape, scrape_ms)
    problem = state.adjust(scrape, start_time_metric)
    report(scrape, target, scrape_ms, values)
    return scrape, error, problem


def spread(target: Target) -> float:
    """Seconds after start of a target's first scrape: a stable share of its interval (as Prometheus offsets
    targets by a hash, so that they do not all scrape at once)."""
    digest = hashlib.sha256(target.url.encode()).digest()
    return (int.from_bytes(digest[:8], "big") % 1000) / 1000 * target.interval


def now_ms() -> int:
    return int(time.time() * 1000)

