"""transform's `set_semconv_span_name(semconvVersion, Optional[originalSpanNameAttribute])` (contrib's
processor/transformprocessor/internal/traces/func_set_semconv_span_name.go): the span's name rebuilt from
the semantic conventions for HTTP, RPC, database and messaging spans, by span kind, reading the older
attribute names too; other spans keep their name. A span-context editor, registered in OTTL's functions."""

from __future__ import annotations

import re
from typing import Any

from ...ottl.contexts import Ctx
from ...ottl.functions import Param, register, to_string
from ...ottl.values import AttrMap

SUPPORTED = ((1, 37, 0), (1, 43, 0))  # the versions the function knows (contrib's README: 1.37.0 to 1.43.0)
_SEMVER = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")


def _get(attrs: AttrMap, name: str, alias: str = "") -> str | None:
    for key in (name, alias):
        if key and key in attrs:
            return to_string(attrs.get(key))
    return None


def _http(attrs: AttrMap, subject: str) -> str:
    method = _get(attrs, "http.request.method", "http.method")
    if method is None:
        return ""
    target = _get(attrs, subject)
    return f"{method} {target}" if target is not None else method


def _rpc(attrs: AttrMap) -> str:
    system = _get(attrs, "rpc.system.name", "rpc.system")
    if system is None:
        return ""
    method, service = _get(attrs, "rpc.method", "rpc.grpc.method"), _get(attrs, "rpc.service", "rpc.grpc.service")
    if method is not None and service is not None:
        return f"{service}/{method}"
    if method is not None:
        return method
    if service is not None:
        return f"{service}/*"
    return system


def _address(attrs: AttrMap) -> str:
    address = _get(attrs, "server.address")
    if address is None:
        return ""
    port = _get(attrs, "server.port")
    return f"{address}:{port}" if port is not None else address


def _db_target(attrs: AttrMap) -> str:
    namespace = _get(attrs, "db.namespace", "db.name") or ""
    for key in ("db.collection.name", "db.stored_procedure.name"):
        value = _get(attrs, key)
        if value is not None:
            return f"{namespace}.{value}" if namespace else value
    return namespace or _address(attrs)


def _db(attrs: AttrMap) -> str:
    system = _get(attrs, "db.system.name", "db.system")
    if system is None:
        return ""
    summary = _get(attrs, "db.query.summary")
    if summary is not None:
        return summary
    operation, target = _get(attrs, "db.operation.name", "db.operation") or "", _db_target(attrs)
    if operation and target:
        return f"{operation} {target}"
    return operation or target or system


def _destination(attrs: AttrMap) -> str:
    if attrs.get("messaging.destination.temporary") is True:
        return "(temporary)"
    if attrs.get("messaging.destination.anonymous") is True:
        return "(anonymous)"
    template = _get(attrs, "messaging.destination.template")
    if template is not None:
        return template
    name = _get(attrs, "messaging.destination.name", "messaging.destination")
    return name if name is not None else _address(attrs)


def _messaging(attrs: AttrMap) -> str:
    system = _get(attrs, "messaging.system")
    if system is None:
        return ""
    operation, destination = _get(attrs, "messaging.operation.name", "messaging.operation"), _destination(attrs)
    if operation is not None and destination:
        return f"{operation} {destination}"
    return destination or operation or system


# By span kind (SERVER 2, CLIENT 3, PRODUCER 4, CONSUMER 5), the conventions tried in order.
_BY_KIND = {
    2: (lambda a: _http(a, "http.route"), _rpc, _messaging),
    5: (_messaging,),
    3: (lambda a: _http(a, "url.template"), _rpc, _db, _messaging),
    4: (_messaging,),
}


def semconv_span_name(span: Any) -> str:
    attrs = AttrMap(span.attributes)
    for derive in _BY_KIND.get(span.kind, ()):
        name = derive(attrs)
        if name:
            return name
    return span.name


@register("set_semconv_span_name", Param("semconvVersion", "str"), Param("originalSpanNameAttribute", "str", True), editor=True,
          contexts=frozenset({"span"}))
def _set_semconv_span_name(semconvVersion: str, originalSpanNameAttribute: str | None) -> Any:  # noqa: N803 (otelcol's names)
    from ...ottl.compiler import CompileError

    m = _SEMVER.match(semconvVersion)
    if m is None:
        raise CompileError(f'failed to parse semconv version "{semconvVersion}"')
    version = tuple(int(g) for g in m.groups())
    if not SUPPORTED[0] <= version <= SUPPORTED[1]:
        low, high = (".".join(map(str, v)) for v in SUPPORTED)
        raise CompileError(f'unsupported semconv version "{semconvVersion}": must be between {low} and {high}')
    if originalSpanNameAttribute == "":
        raise CompileError("originalSpanNameAttribute cannot be an empty string")

    def run(ctx: Ctx) -> None:
        span = ctx.span
        original = span.name
        name = semconv_span_name(span)
        span.name = name
        if name != original and originalSpanNameAttribute:
            AttrMap(span.attributes).set(originalSpanNameAttribute, original)
    return run
