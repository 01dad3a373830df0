"""Config reload without a restart (SIGHUP, or POST on the health_check extension's `reload` path).

The same --config files and --set values are read again and checked completely first: any problem (every
one is logged, with file, line and key) leaves the running pipelines untouched. A valid config is swapped in:

1. the new graph is built, taking over every receiver and exporter whose type, config and (for a receiver)
   signals are unchanged (Service's `reuse`), and building new processors and connectors throughout;
2. the new exporters, processors and connectors start (a failure stops them again: the old config stays);
3. receivers that changed or went away stop (finishing the requests they hold through the old pipelines);
4. every kept receiver's Switch is re-pointed at the new pipelines: from then on new requests take them, and
   a kept receiver never closed its port nor refused a request;
5. new receivers start;
6. once no request is left inside the old pipelines, their processors and connectors stop upstream first
   (a batch processor flushes into exporters still running), then the exporters that were replaced, which
   drain their queues. Acknowledged data has reached an exporter, so none is lost.

Not reloadable (the reload is refused with an error and the old config keeps running): a change to the
extensions or to service.telemetry, which components and the self-metrics endpoint hold from start-up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from .component import Component, Kind
from .config import Config, ConfigErrors
from .service import Service, StartupError


class Reloader:
    """Serialises reloads of one running service; `load` re-reads the config (raising ConfigErrors)."""

    def __init__(self, service: Service, load: Callable[[], Config]):
        self.service = service
        self.load = load
        self.log = service.log.bind(action="reload")
        self._lock = asyncio.Lock()

    async def reload(self, trigger: str) -> list[str]:
        """Reload now; the problems that kept the old config running (empty: reloaded)."""
        async with self._lock:
            started = time.monotonic()
            self.log.info("reloading the configuration", trigger=trigger)
            try:
                config = self.load()
            except ConfigErrors as exc:
                problems = [str(e) for e in exc.errors]
                for problem in problems:
                    self.log.error("invalid configuration; the running one is kept", problem=problem)
                return problems
            problems = self._not_reloadable(config)
            if not problems:
                problems = await self._swap(config)
            if problems:
                for problem in problems:
                    self.log.error("reload failed; the running configuration is kept", problem=problem)
                return problems
            self.log.info("configuration reloaded", sources=config.sources, pipelines=list(config.pipelines), seconds=round(time.monotonic() - started, 3))
            return []

    def _not_reloadable(self, config: Config) -> list[str]:
        old = self.service.config
        problems = []
        if config.extensions != old.extensions or config.components[Kind.EXTENSION] != old.components[Kind.EXTENSION]:
            problems.append("extensions changed: that needs a restart")
        if config.service.telemetry != old.service.telemetry:
            problems.append("service.telemetry changed: that needs a restart")
        return problems

    async def _swap(self, config: Config) -> list[str]:
        live = self.service
        try:
            staged = Service(config, live.telemetry, reuse=live)
        except StartupError as exc:
            return [str(exc)]
        kept_receivers = {id for id, r in staged.receivers.items() if live.receivers.get(id) is r}
        kept_exporters = {id for id, e in staged.exporters.items() if live.exporters.get(id) is e}
        new_parts: list[Component] = [*(e for id, e in staged.exporters.items() if id not in kept_exporters), *staged._order]
        started: list[Component] = []
        for component in new_parts:
            try:
                await component.start(live)
            except Exception as exc:
                component.log.error("failed to start", error=str(exc), exc_info=not isinstance(exc, OSError))
                for done in reversed(started):
                    await _stop_quietly(done)
                return [f"{component.kind} {component.id}: {exc}"]
            started.append(component)
        live._started.extend(started)

        old_receivers = [r for id, r in live.receivers.items() if id not in kept_receivers]
        old_order = list(live._order)
        old_exporters = [e for id, e in live.exporters.items() if id not in kept_exporters]
        old_targets = [(switch, switch.target) for id in kept_receivers for switch in live.switches[id].values()]
        for receiver in old_receivers:
            await live._stop(receiver)
        for id in kept_receivers:
            for signal, switch in live.switches[id].items():
                switch.target = staged.switches[id][signal].target
            staged.switches[id] = live.switches[id]

        live.config = config
        live.exporters, live.processors, live.receivers = staged.exporters, staged.processors, staged.receivers
        live.connectors, live._feeds, live._order = staged.connectors, staged._feeds, staged._order
        live.pipeline_entries, live.switches = staged.pipeline_entries, staged.switches
        problems = []
        for id, receiver in live.receivers.items():
            if id in kept_receivers:
                continue
            try:
                await receiver.start(live)
            except Exception as exc:
                receiver.log.error("failed to start after reload; it is not running", error=str(exc), exc_info=not isinstance(exc, OSError))
                problems.append(f"{receiver.kind} {receiver.id}: {exc}")
                continue
            live._started.append(receiver)
        self.log.info("pipelines swapped", kept_receivers=sorted(map(str, kept_receivers)), kept_exporters=sorted(map(str, kept_exporters)),
                      restarted_receivers=[str(r.id) for r in old_receivers])

        await self._drain(old_targets, float(config.service.shutdown_timeout))
        for component in reversed(old_order):
            await live._stop(component)
        await asyncio.gather(*(live._stop(e) for e in old_exporters))
        # A receiver that failed to start is reported, but the new config is in place: the problem is the
        # port or the host, not the config, and the old receiver is already stopped.
        for problem in problems:
            self.log.error("reload completed with a receiver down", problem=problem)
        return []

    async def _drain(self, old: list[tuple[Any, Any]], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while any(switch.in_flight(target) for switch, target in old):
            if time.monotonic() >= deadline:
                self.log.error("requests still inside the old pipelines after shutdown_timeout; stopping them anyway",
                               in_flight=sum(switch.in_flight(target) for switch, target in old))
                return
            await asyncio.sleep(0.01)


async def _stop_quietly(component: Component) -> None:
    try:
        await component.shutdown()
    except Exception as exc:
        component.log.error("error during shutdown", error=str(exc), exc_info=True)
