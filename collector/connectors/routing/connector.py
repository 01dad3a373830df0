"""The routing connector (contrib connector/routingconnector logs.go, traces.go, metrics.go: ConsumeX): each
route in table order takes the items of the request its condition matches — whole resources, spans, log
records, metrics or data points by its context, or the whole request by its metadata — out of what is left;
what no route took goes to default_pipelines (dropped when there are none). Each route's part is handed to
its pipelines, parts bound for the same pipelines as one request, and the caller is answered once every part
was taken: a refusal of any part reaches the client.

A condition that fails to evaluate counts as not matched (the item goes on to the next route); under
error_mode propagate the request fails (permanently: resending it fails again), under ignore it is logged.

A retry after a partial failure: otelcol's connector hands every part on and joins their errors
(multierr), so when one part's pipelines refuse retryably the client resends the whole request and the
parts other pipelines had taken are written twice. Here, as this daemon's fan-out does (service.FanOut),
the parts taken are remembered by their digest (for FanOut.RETRY_TTL seconds, up to FanOut.RETRY_MEMORY)
while the failure is outstanding, and the retry hands on only the others (counted in
llm_collector_fanout_retry_skipped_items). The retry is split by the same routes, so its parts are the
same requests; a client that re-batches its retry cannot be recognised and may still duplicate. Nothing is
digested while no partial failure is outstanding."""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Any

from ...client import client_metadata
from ...component import Capabilities, ComponentID, Connector, PermanentError, Rejected, RetryableError, Signal
from ...envelope import Envelope
from ...registry import register
from ...service import FanOut, combine_errors, fan_out
from . import split
from .config import Route, RoutingConfig

_SIGNAL_CONTEXTS = {
    Signal.TRACES: ("resource", "span", "request"),
    Signal.LOGS: ("resource", "log", "request"),
    Signal.METRICS: ("resource", "metric", "datapoint", "request"),
}


class _Failed(Exception):
    pass


@register
class RoutingConnector(Connector):
    type_name = "routing"
    description = "Routes spans, logs and metrics to pipelines by OTTL conditions on their resource, items or request metadata (otelcol's routing connector)."
    config_class = RoutingConfig
    pairs = frozenset((s, s) for s in Signal)
    capabilities = Capabilities(mutates_data=True)  # it moves items out of the request it is given

    def __init__(self, settings: Any, config: RoutingConfig, pipelines: Any, next_consumer: Any):
        super().__init__(settings, config, pipelines, next_consumer)
        consumers: dict[tuple[str, ...], Any] = {}

        def consumer(names: list[str]) -> tuple[tuple[str, ...], Any] | None:
            key = tuple(sorted(set(names)))
            if not key:
                return None
            if key not in consumers:
                consumers[key] = fan_out([pipelines[n] for n in key], self.telemetry, f"connector/{self.id}/{'+'.join(key)}")
            return key, consumers[key]

        self.routes = [(route, consumer(route.pipelines)) for route in config.table]
        self.default = consumer(config.default_pipelines)
        # (pipelines, digest of the part) -> when: parts taken of a request another part failed retryably.
        self._took: collections.OrderedDict[tuple[tuple[str, ...], bytes], float] = collections.OrderedDict()
        self._skipped = self.telemetry.counter(
            "llm_collector_fanout_retry_skipped_items",
            "Items of a retried request not handed again to a branch that had already taken them (see FanOut).",
            ("fanout",),
        ).labels(f"connector/{self.id}")

    @classmethod
    def validate_pipelines(cls, id: ComponentID, config: RoutingConfig, feeds: dict[Signal, list[str]]) -> list[tuple[tuple[str | int, ...], str]]:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        fed = {name for names in feeds.values() for name in names}
        named: list[tuple[tuple[str | int, ...], str]] = [(("table", i, "pipelines", k), n) for i, r in enumerate(config.table) for k, n in enumerate(r.pipelines)]
        named += [(("default_pipelines", k), n) for k, n in enumerate(config.default_pipelines)]
        for path, name in named:
            if name not in fed:
                problems.append((path, f'pipeline not found: "{name}" does not list routing connector "{id}" among its receivers'))
        for i, route in enumerate(config.table):
            for signal in feeds:
                if route.context not in _SIGNAL_CONTEXTS[signal]:
                    problems.append((("table", i, "context"), f'the {route.context} context is not available to {signal} '
                                                                   f"(valid: {', '.join(_SIGNAL_CONTEXTS[signal])})"))
        return problems

    async def consume(self, envelope: Envelope) -> Rejected | None:
        signal = self.signal
        left = envelope.request
        groups: dict[tuple[str, ...], tuple[Any, Any]] = {}
        errors: list[str] = []
        for route, target in self.routes:
            if split.is_empty(signal, left):
                break
            matched = split.new_request(signal)
            self._move(route, left, matched, errors)
            if errors and self.config.error_mode == "propagate":
                raise PermanentError(f"failed to evaluate a routing condition: {errors[0]}")
            if target is not None and not split.is_empty(signal, matched):
                self._group(groups, target, matched)
        if errors and self.config.error_mode == "ignore":
            self.log.warning("failed to evaluate routing conditions", errors=len(errors), error=errors[0])
        if self.default is not None and not split.is_empty(signal, left):
            self._group(groups, self.default, left)
        parts = [(key, consumer, Envelope(signal, request)) for key, (consumer, request) in groups.items()]
        took: list[tuple[tuple[str, ...], bytes]] = []
        if self._took:
            parts, took = self._unseen(parts)
        results = await asyncio.gather(*(consumer.consume(part) for _, consumer, part in parts), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            error = combine_errors(failures)
            if isinstance(error, RetryableError):
                took += [(key, part.digest()) for (key, _, part), r in zip(parts, results, strict=True) if not isinstance(r, BaseException)]
                now = time.monotonic()
                for entry in took:
                    self._took[entry] = now
                while len(self._took) > FanOut.RETRY_MEMORY:
                    self._took.popitem(last=False)
            raise error
        return Rejected.combine([r for r in results if not isinstance(r, BaseException)])

    def _unseen(self, parts: list[tuple[tuple[str, ...], Any, Envelope]]) -> tuple[list[tuple[tuple[str, ...], Any, Envelope]], list[tuple[tuple[str, ...], bytes]]]:
        """The parts not taken by an earlier attempt of this request, and the entries of those that were."""
        now = time.monotonic()
        while self._took and now - next(iter(self._took.values())) >= FanOut.RETRY_TTL:
            self._took.popitem(last=False)
        fresh, took = [], []
        for key, consumer, part in parts:
            entry = (key, part.digest())
            if self._took.pop(entry, None) is not None:
                took.append(entry)
                self._skipped.inc(part.items)
            else:
                fresh.append((key, consumer, part))
        return fresh, took

    def _group(self, groups: dict[tuple[str, ...], tuple[Any, Any]], target: tuple[tuple[str, ...], Any], request: Any) -> None:
        key, consumer = target
        if key in groups:
            split.move_all(self.signal, request, groups[key][1])
        else:
            groups[key] = (consumer, request)

    def _move(self, route: Route, left: Any, matched: Any, errors: list[str]) -> None:
        if route.request is not None:
            key, op, value = route.request
            values = client_metadata.get().get(key, ())
            if (value in values) == (op == "=="):
                split.move_all(self.signal, left, matched)
            return
        test = route.test
        assert test is not None

        def guarded(ctx: Any) -> bool:
            try:
                return bool(test(ctx))
            except Exception as exc:  # noqa: BLE001 (client data: a failing condition is not a match, per error_mode)
                errors.append(str(exc))
                return False

        if route.context in ("", "resource"):
            split.move_resources(self.signal, left, matched, guarded)
        else:
            split.move_items(self.signal, route.context, left, matched, guarded)
