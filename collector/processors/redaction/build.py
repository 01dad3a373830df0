"""From a redaction config to what runs it: without `detectors:`, otelcol's engine (otelcol.py); with them,
the `Redactor` (walk.py) with its rules, key policy and hasher; and the PII `Scanner` (collector/pii) with
the detectors and blocked_values the config enables (the processor's loop budget counts its prefilter hits).

The processor builds one in the daemon (processor.py), each worker process builds its own from the same
config (worker.py), and tests and benchmarks build them directly.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from .config import RedactionConfig, compile_regex
from .infrastructure import IP_DETECTORS, InfrastructureAttributes
from .otelcol import OtelcolRedactor
from .scan_batch import A_DIGEST, A_HASH, A_MASK, KeyPolicy, Rule
from .walk import Redactor


def make_hasher(function: str | None, key: str | None) -> Any:
    """text -> hex digest. Keyed functions are HMACs; md5/sha1/sha3 are otelcol's unkeyed digests."""
    if function is None or function == "hmac-sha256" or function == "hmac-sha512":
        digest = hashlib.sha512 if function == "hmac-sha512" else hashlib.sha256
        secret = (key or "").encode()
        return lambda text: hmac.new(secret, text.encode(), digest).hexdigest()
    unkeyed = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha3": hashlib.sha3_256}[function]
    return lambda text: unkeyed(text.encode()).hexdigest()


def _label(placeholder: str, name: str) -> str:
    if len(placeholder) > 2 and placeholder[0] == "<" and placeholder[-1] == ">":
        return placeholder[1:-1]
    return name.upper()


def build_scanner(config: RedactionConfig) -> Any:
    """The PII `Scanner` with the detectors and blocked_values the config enables."""
    from ...pii.scanner import CustomPattern, Scanner

    custom = [CustomPattern(_blocked_name(i, b.name), b.pattern, b.validator) for i, b in enumerate(config.blocked_values)]
    return Scanner(list(config.enabled_detectors()), custom, engine=config.engine)


def _blocked_name(index: int, name: str | None) -> str:
    return name or f"blocked_value_{index}"


def build_redactor(config: RedactionConfig, on_error: Any = None, scanner: Any = None, wire_hits: Any = None) -> tuple[Any, Any]:
    """The engine and the scanner for a config (also used by the unit tests). `scanner`: one already built
    with `build_scanner`; `wire_hits`: the request-level prefilter to gate with in place of the scanner's
    own (the processor's, which hands back the hits it counted to decide where to redact). Either engine
    has `traces`, `logs` and `metrics(request, payload)` returning `Stats`."""
    from ...pii.detectors import BUILTIN, DETECTORS

    if scanner is None:
        scanner = build_scanner(config)
    if config.detectors is None:
        return OtelcolRedactor(config), scanner

    enabled = config.enabled_detectors()
    rules: dict[str, Rule] = {}
    for name, detector in enabled.items():
        placeholder = detector.placeholder if detector.placeholder is not None else DETECTORS[name].placeholder
        rules[name] = Rule(detector.action, placeholder, _label(placeholder, name))
    for i, blocked in enumerate(config.blocked_values):
        name = _blocked_name(i, blocked.name)
        action = blocked.action or (A_DIGEST if config.hash_function is not None else A_MASK)
        rules[name] = Rule(action, blocked.placeholder, _label(blocked.placeholder, name))
    min_length = 1 if config.blocked_values else min((BUILTIN[n].min_len for n in enabled), default=1 << 30)
    keys = KeyPolicy(
        restrict=config.restricts_keys,
        allowed=frozenset(config.allowed_keys or ()),
        ignored=frozenset(config.ignored_keys),
        ignored_patterns=[compile_regex(p) for p in config.ignored_key_patterns],
        blocked_patterns=[compile_regex(p) for p in config.blocked_key_patterns],
    )
    uses_hash = config.hash_function is not None or any(r.action in (A_HASH, A_DIGEST) for r in rules.values())
    redactor = Redactor(
        scanner.scan_many,
        scanner.scan,
        rules,
        keys=keys,
        allowed_values=[compile_regex(p) for p in config.allowed_values],
        hasher=make_hasher(config.hash_function, config.key) if uses_hash else None,
        hash_whole_values=config.hash_function is not None,
        redact_all_types=config.redact_all_types,
        span_names=config.redact_span_names,
        json_values=config.json_values,
        summary=config.summary_level,
        min_length=min_length,
        on_error=on_error,
        wire_hits=(wire_hits or scanner.wire_hits) if scanner.scans_wire else None,
    )
    if config.infrastructure_attributes and IP_DETECTORS & set(enabled):
        redactor.infrastructure = InfrastructureAttributes(config.infrastructure_attributes)
    return redactor, scanner


