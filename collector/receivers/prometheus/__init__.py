"""prometheus receiver: scrapes Prometheus targets (`config.scrape_configs` with static_configs) on their
intervals and sends what they expose into the metrics pipelines as OTLP, translated as otelcol-contrib's
prometheus receiver does (translate.py). A failed scrape (unreachable, timeout, HTTP error, unparsable body,
a limit exceeded) gives `up` 0 and stale points for the target's series; the log says so once per change of a
target's state, never with a traceback."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ... import pdata
from ...component import ConsumeError, Consumer, Host, Receiver, Settings, Signal
from ...envelope import Envelope
from ...lazyimport import lazy
from ...registry import register
from .adjust import DEFAULT_START_TIME_METRIC, TargetState
from .config import PrometheusReceiverConfig
from .scrape import ScrapeError, Target, assemble, build_targets, fetch, now_ms, spread, ssl_context
from .translate import to_request

if TYPE_CHECKING:
    import aiohttp
else:  # imported by start(), not by `validate` (collector/lazyimport.py)
    aiohttp = lazy("aiohttp")

_NO_EFFECT = {
    "target_allocator": "the OpenTelemetry Operator's target allocator is not queried here: list the targets under config.scrape_configs[].static_configs",
    "api_server": "otelcol's Prometheus API server is not served here",
}


@dataclass
class _Loop:
    target: Target
    state: TargetState
    healthy: bool | None = None


@register
class PrometheusReceiver(Receiver):
    type_name = "prometheus"
    description = ("Scrapes Prometheus targets (static_configs, relabel_configs, metric_relabel_configs) in the text and OpenMetrics "
                   "formats into OTLP metrics, as otelcol-contrib's prometheus receiver translates them.")
    config_class = PrometheusReceiverConfig
    signals = frozenset({Signal.METRICS})

    @classmethod
    def ineffective_keys(cls, config: PrometheusReceiverConfig) -> list[tuple[str, str]]:
        out = [(key, why) for key, why in _NO_EFFECT.items() if getattr(config, key) is not None]
        if config.config is not None:
            out += config.config.ineffective()
        return out

    @classmethod
    def reference_sections(cls) -> list[tuple[str, str, type | None]]:
        return [
            ("What is refused", "Service discovery (`kubernetes_sd_configs`, `file_sd_configs`, any `*_sd_configs`) is refused with its "
             "name: list the targets under `static_configs`. `remote_write`, `remote_read`, `rule_files`, `scrape_config_files`, "
             "`alerting.alertmanagers` and `alerting.alert_relabel_configs` are refused too (otelcol refuses the same but "
             "scrape_config_files and service discovery), and so is a `metric_relabel_configs` rule that sets `__name__` (as "
             "contrib's config.go validatePromConfig). The scraped formats are Prometheus text and OpenMetrics: `PrometheusProto` (and with it "
             "native histograms) is not read.", None),
            ("Translation", "As otelcol-contrib: counter -> cumulative monotonic Sum (named as its sample, e.g. `foo_total`), gauge and "
             "untyped -> Gauge, histogram -> cumulative Histogram, summary -> Summary; one resource per job and instance "
             "(`service.name`, `service.instance.id`, `server.address`, `server.port`, `url.scheme`; `target_info` labels); "
             "labels -> data point attributes; `up`, `scrape_duration_seconds`, `scrape_samples_scraped`, "
             "`scrape_samples_post_metric_relabeling`, `scrape_series_added` per scrape. Start times: `_created` samples, else the "
             "series' first scrape, restarted on a reset. A series missing from a scrape (all of them when it fails) gets one point "
             "flagged no-recorded-value (Prometheus's staleness marker). Without use_start_time_metric finding its gauge, start "
             "times come from the first points (a warning says so).", None),
        ]

    def __init__(self, settings: Settings, config: PrometheusReceiverConfig, consumers: dict[Signal, Consumer]):
        super().__init__(settings, config, consumers)
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self._loops: list[_Loop] = []
        self._start_time_metric: re.Pattern[str] | None = None
        if config.use_start_time_metric:
            self._start_time_metric = re.compile(config.start_time_metric_regex) if config.start_time_metric_regex else DEFAULT_START_TIME_METRIC
        self._counters = self.telemetry.receiver_counters(self.id, "http", Signal.METRICS)

    async def start(self, host: Host) -> None:
        prom = self.config.config
        if prom is None:
            return
        targets, problems = build_targets(prom)
        for problem in problems:
            self.log.warning("target dropped", reason=problem)
        contexts: dict[int, Any] = {}
        for target in targets:
            key = id(target.config)
            if key not in contexts:
                try:
                    contexts[key] = ssl_context(target.config)
                except (OSError, ValueError) as exc:
                    reason = getattr(exc, "strerror", None) or str(exc)
                    raise OSError(f"job {target.config.job_name}: tls_config: {reason}") from None
            target.ssl = contexts[key]
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), auto_decompress=True)
        external = dict(prom.global_.external_labels)
        for target in targets:
            loop = _Loop(target, TargetState())
            self._loops.append(loop)
            self._tasks.append(asyncio.get_running_loop().create_task(self._run(loop, external)))
        self.log.info("scraping Prometheus targets", targets=[t.url for t in targets], jobs=sorted({t.job for t in targets}))

    async def shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._tasks = []
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _run(self, loop: _Loop, external: dict[str, str]) -> None:
        target = loop.target
        clock = asyncio.get_running_loop()
        next_at = clock.time() + spread(target)
        while True:
            await asyncio.sleep(max(0.0, next_at - clock.time()))
            next_at += target.interval
            try:
                await self.scrape_once(loop, external)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug must not end the target's loop nor print a traceback
                self.log.error("scrape processing failed", target=target.url, error=f"{type(exc).__name__}: {exc}")
            behind = clock.time() - next_at
            if behind > 0:  # a scrape that overran its interval skips the ticks it missed, as a ticker does
                next_at += (behind // target.interval + 1) * target.interval

    async def scrape_once(self, loop: _Loop, external: dict[str, str]) -> None:
        target = loop.target
        assert self._session is not None
        scrape_ms = now_ms()
        started = time.monotonic()
        fetched: tuple[bytes, str] | ScrapeError
        try:
            fetched = await fetch(self._session, target)
        except ScrapeError as exc:
            fetched = exc
        scrape, error, problem = assemble(target, loop.state, fetched, scrape_ms, time.monotonic() - started, external,
                                          self._start_time_metric, self.config.report_extra_scrape_metrics)
        if problem is not None and loop.healthy is None:
            self.log.warning(problem, target=target.url)
        self._log_state(loop, error)
        await self._send(to_request(scrape, self.config.trim_metric_suffixes))

    def _log_state(self, loop: _Loop, error: str | None) -> None:
        healthy = error is None
        if healthy == loop.healthy:
            return
        target = loop.target
        if not healthy:
            self.log.warning("Failed to scrape Prometheus endpoint", job=target.job, target=target.url, error=error)
        elif loop.healthy is False:
            self.log.info("scraping Prometheus endpoint again", job=target.job, target=target.url)
        loop.healthy = healthy

    async def _send(self, request: Any) -> None:
        points = pdata.count_items(Signal.METRICS, request)
        if not points:
            return
        consumer = self.consumers.get(Signal.METRICS)
        if consumer is None:
            return
        try:
            result = await consumer.consume(Envelope(Signal.METRICS, request))
        except ConsumeError as exc:
            self._counters.refused.inc(points)
            self.log.debug("the pipeline refused a scrape", error=str(exc))
            return
        except Exception as exc:
            self._counters.failed.inc(points)
            self.log.warning("the pipeline failed on a scrape", error=f"{type(exc).__name__}: {exc}")
            return
        refused = result.count if result is not None else 0
        self._counters.accepted.inc(points - refused)
        if refused:
            self._counters.refused.inc(refused)

