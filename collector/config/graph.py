"""Connectors in the pipeline graph, as otelcol's service/internal/graph (graph.go: createNodes, cycleErr).

A connector id listed under `connectors:` is used as an exporter of some pipelines and a receiver of others.
One instance runs per (id, signal it takes, signal it emits) pair the pipelines use and its type supports;
an exporter pipeline hands its data to every instance taking its signal, and an instance feeds every pipeline
of the signal it emits that lists the id as a receiver. The checks: a connector must be used both ways, in a
pair its type supports; data must not flow in a cycle; and what a connector's config names (routing's
pipelines) must be pipelines it feeds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..component import ComponentID, Kind, Signal

if TYPE_CHECKING:
    from .model import ComponentConfig, Pipeline
    from .source import KeyPath


@dataclass(frozen=True, order=True)
class Instance:
    """One connector instance: `id` taking `takes` (its exporter pipelines' signal), emitting `emits`."""

    id: ComponentID
    takes: Signal
    emits: Signal

    def __str__(self) -> str:
        return f'connector "{self.id}" ({self.takes} to {self.emits})'


def instances(pipelines: dict[str, Pipeline], connectors: dict[ComponentID, ComponentConfig]) -> dict[Instance, list[str]]:
    """Every connector instance the pipelines use, with the pipelines it feeds (in config order)."""
    out: dict[Instance, list[str]] = {}
    for id, spec in connectors.items():
        takes = dict.fromkeys(p.signal for p in pipelines.values() if id in p.exporters)
        feeds = [p for p in pipelines.values() if id in p.receivers]
        for signal in takes:
            for emits in dict.fromkeys(p.signal for p in feeds):
                if (signal, emits) in spec.cls.pairs:  # type: ignore[attr-defined]
                    out[Instance(id, signal, emits)] = [p.name for p in feeds if p.signal is emits]
    return out


def check_connectors(decoder: Any, pipelines: dict[str, Pipeline], components: dict[Kind, dict[ComponentID, ComponentConfig]],
                     uses: list[tuple[ComponentID, Kind, str, KeyPath]]) -> None:
    """Reports otelcol's connector errors: each at the pipeline entry naming the connector, or under the
    connector's own config for what its config names."""
    connectors = components[Kind.CONNECTOR]
    where = {(id, kind, name): path for id, kind, name, path in uses}
    for id, spec in connectors.items():
        exporting = [name for (i, kind, name) in where if i == id and kind is Kind.EXPORTER and name in pipelines]
        receiving = [name for (i, kind, name) in where if i == id and kind is Kind.RECEIVER and name in pipelines]
        pairs = spec.cls.pairs  # type: ignore[attr-defined]
        for role, names, others, pick in ((Kind.EXPORTER, exporting, receiving, 0), (Kind.RECEIVER, receiving, exporting, 1)):
            for signal in dict.fromkeys(pipelines[n].signal for n in names):
                if any(((signal, pipelines[o].signal) if pick == 0 else (pipelines[o].signal, signal)) in pairs for o in others):
                    continue
                listed = [n for n in names if pipelines[n].signal is signal]
                other = "receiver" if role is Kind.EXPORTER else "exporter"
                decoder.error(where[(id, role, listed[0])], f'connector "{id}" used as {role} in [{" ".join(listed)}] pipeline '
                                                            f"but not used in any supported {other} pipeline")
        feeds: dict[Signal, list[str]] = {}
        for name in receiving:
            feeds.setdefault(pipelines[name].signal, []).append(name)
        for subpath, problem in spec.cls.validate_pipelines(id, spec.config, feeds):  # type: ignore[attr-defined]
            decoder.error(("connectors", str(id), *subpath), problem)
    cycle = find_cycle(pipelines, instances(pipelines, connectors))
    if cycle:
        first_pipeline, first = cycle[0]
        steps = []
        for i, (_, instance) in enumerate(cycle):
            steps.append(str(instance))
            target = cycle[(i + 1) % len(cycle)][0]
            steps += [f'processor "{p}" in pipeline "{target}"' for p in pipelines[target].processors]
        steps.append(str(first))
        decoder.error(where[(first.id, Kind.EXPORTER, first_pipeline)], f"cycle detected: {' -> '.join(steps)}")


def find_cycle(pipelines: dict[str, Pipeline], feeds: dict[Instance, list[str]]) -> list[tuple[str, Instance]]:
    """The first cycle found walking the pipelines in config order, as the hops (pipeline, connector instance
    it exports to) that close it; empty when the graph has none."""
    edges: dict[str, list[tuple[Instance, str]]] = {name: [] for name in pipelines}
    for instance, targets in feeds.items():
        for name, p in pipelines.items():
            if p.signal is instance.takes and instance.id in p.exporters:
                edges[name] += [(instance, t) for t in targets]
    state: dict[str, int] = {}  # 1 on the walk's stack, 2 done
    stack: list[tuple[str, Instance]] = []

    def walk(name: str) -> list[tuple[str, Instance]]:
        state[name] = 1
        for instance, target in edges[name]:
            stack.append((name, instance))
            if state.get(target) == 1:
                start = next(i for i, (n, _) in enumerate(stack) if n == target)
                return stack[start:]
            if target not in state:
                found = walk(target)
                if found:
                    return found
            stack.pop()
        state[name] = 2
        return []

    for name in pipelines:
        if name not in state:
            found = walk(name)
            if found:
                return found
    return []
