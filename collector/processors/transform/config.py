"""transform's configuration (otelcol-contrib processor/transformprocessor, 0.120+ shape and the older one):
`error_mode` and, per signal, a list whose items are plain statements (each its own group, context inferred)
or groups `{context, error_mode, conditions, statements}`. Every statement is parsed and compiled here, so a
bad one is a config error naming its file, line, the statement and the column of the problem."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ...config import option
from ...ottl.groups import ERROR_MODES, Group, GroupError, compile_group

ErrorMode = Literal["ignore", "silent", "propagate"]


@dataclass
class GroupEntry:
    """One group of the advanced shape (for the config reference; decoded by StatementGroups)."""

    context: str = option("", "The OTTL context the statements run in (resource, scope, span, spanevent, log, metric, datapoint); inferred from the paths' prefixes when unset.")
    error_mode: str = option("", "Overrides the processor's error_mode for this group.")
    conditions: list[str] = option(factory=list, doc="OTTL conditions, ORed: the statements run on an item only when one holds.")
    statements: list[str] = option(factory=list, doc="OTTL statements, run in order on each item of the context.")


class StatementGroups(list):
    """A signal's statements: compiled `Group`s, in config order."""

    doc_type = "list of statement or group"
    doc_entries = (("[].", GroupEntry),)
    signal = ""

    @classmethod
    def from_config(cls, decoder: Any, value: Any, path: tuple) -> StatementGroups:
        out = cls()
        if value is None:
            return out
        if not isinstance(value, list):
            decoder.error(path, "expected a list of OTTL statements or of groups {context, conditions, statements}")
            return out
        signal = {"trace_statements": "traces", "log_statements": "logs", "metric_statements": "metrics"}[str(path[-1])]
        for i, item in enumerate(value):
            here = path + (i,)
            if isinstance(item, str):
                _compile(decoder, out, signal, [item], [], None, None, here, flat=True)
                continue
            if not isinstance(item, dict):
                decoder.error(here, "expected an OTTL statement (a string) or a group {context, error_mode, conditions, statements}")
                continue
            unknown = sorted(set(map(str, item)) - {"context", "error_mode", "conditions", "statements", "shared_cache"})
            for key in unknown:
                decoder.error(here + (key,), "unknown key (valid keys: context, error_mode, conditions, statements, shared_cache)")
            context = item.get("context")
            mode = item.get("error_mode")
            statements: Any = item.get("statements")
            conditions: Any = item.get("conditions") or []
            ok = not unknown
            if context is not None and not isinstance(context, str):
                decoder.error(here + ("context",), "expected a context name")
                ok = False
            if mode is not None and mode not in ERROR_MODES:
                decoder.error(here + ("error_mode",), f"expected one of {', '.join(ERROR_MODES)}")
                ok = False
            if not isinstance(statements, list) or not statements or not all(isinstance(s, str) for s in statements):
                decoder.error(here + ("statements",), "expected a non-empty list of OTTL statements")
                ok = False
            if not isinstance(conditions, list) or not all(isinstance(s, str) for s in conditions):
                decoder.error(here + ("conditions",), "expected a list of OTTL conditions")
                ok = False
            if ok:
                _compile(decoder, out, signal, statements, conditions, context, mode, here, flat=False)
        return out


def _compile(decoder: Any, out: StatementGroups, signal: str, statements: list[str], conditions: list[str],
             context: str | None, mode: str | None, path: tuple, *, flat: bool) -> None:
    try:
        group = compile_group(signal, statements, conditions, context, mode or "")
    except GroupError as exc:
        where = path if flat or exc.index is None else path + ("conditions" if exc.in_conditions else "statements", exc.index)
        if exc.index is None and context is not None and not flat:
            where = path + ("context",)
        decoder.error(where, exc.reason)
        return
    out.append(group)


@dataclass
class TransformConfig:
    error_mode: ErrorMode = option("ignore", "What a failing statement does: ignore (log it, go on with the next statement), silent (go on, no log), propagate (the request fails).")
    trace_statements: StatementGroups = option(factory=StatementGroups, doc="Statements for traces: paths of resource, scope, span and spanevent.")
    metric_statements: StatementGroups = option(factory=StatementGroups, doc="Statements for metrics: paths of resource, scope, metric and datapoint.")
    log_statements: StatementGroups = option(factory=StatementGroups, doc="Statements for logs: paths of resource, scope and log.")

    def groups(self, signal: str) -> list[Group]:
        groups = {"traces": self.trace_statements, "metrics": self.metric_statements, "logs": self.log_statements}[signal]
        for g in groups:
            if not g.error_mode:
                g.error_mode = self.error_mode
        return list(groups)
