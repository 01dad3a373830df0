"""The one import switch for the C walks: each function of the extensions built from _walks.c,
_otlp_json.c and _pii.c, or None where it was not built (setup.py marks both optional, so an install without a C
compiler still works). Callers read these names at call time (`native.locate`), never copy them at import,
so this module is also the one place a test switches the C walks off.

What runs instead of each, where it is None:
    locate            collector.wire.locate.locate (with span_marks for spans)
    json_tokens       collector.wire.json_lexer.json_tokens
    attribute_values  the parsed span (collector.wire.spans.attribute_values)
    number_sum        the lookups above, summed (collector.wire.spans.number_sum)
    fnv1a64           collector.wire.spans.fnv1a64
    genai_attributes  GenAIView.of on each parsed span (collector.wire.slots.request_slots answers None)
    otlp_json_traces  otlpjson.encode_traces (collector.exporters.json_writer.encode)
    unknown_fields    none: the redaction gate cannot tell, so it discards unknown fields from every request
    count_walk        collector.wire.count.walk
    pii_compile,      the built-in detectors' exact patterns, acceptors and validators in Python's re
    pii_scan          (collector.pii.scanner, collector.pii.rules; collector.pii.compiled hands them to C)
    pii_rewrite       the redaction processor's rewrite of a value (processors.redaction.edits, Edits._rewrite)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any


def _extension(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"{__package__}.{name}")
    except ImportError:  # built without a C compiler
        return None


_walks = _extension("_walks")
_otlp_json = _extension("_otlp_json")
_pii = _extension("_pii")

locate: Callable[..., Any] | None = _walks.locate if _walks is not None else None
json_tokens: Callable[..., Any] | None = _walks.json_tokens if _walks is not None else None
attribute_values: Callable[..., Any] | None = _walks.attribute_values if _walks is not None else None
number_sum: Callable[..., Any] | None = _walks.number_sum if _walks is not None else None
fnv1a64: Callable[..., Any] | None = _walks.fnv1a64 if _walks is not None else None
genai_attributes: Callable[..., Any] | None = _walks.genai_attributes if _walks is not None else None
otlp_json_traces: Callable[..., Any] | None = _otlp_json.traces if _otlp_json is not None else None
unknown_fields: Callable[..., Any] | None = _walks.unknown_fields if _walks is not None else None
count_walk: Callable[..., Any] | None = _walks.count_walk if _walks is not None else None
pii_compile: Callable[..., Any] | None = _pii.compile if _pii is not None else None
pii_scan: Callable[..., Any] | None = _pii.scan if _pii is not None else None
pii_rewrite: Callable[..., Any] | None = _pii.rewrite if _pii is not None else None

_NAMES = ("locate", "json_tokens", "attribute_values", "number_sum", "fnv1a64", "genai_attributes", "otlp_json_traces",
          "unknown_fields", "count_walk", "pii_compile", "pii_scan", "pii_rewrite")


def built() -> dict[str, bool]:
    """Which of the C functions this install has (as switched now)."""
    names = globals()
    return {name: names[name] is not None for name in _NAMES}
