"""The redaction processor's config: what to redact and how, decoded and checked at load time.

Two engines, chosen by one key otelcol does not have:

- without `detectors:`, otelcol's own keys (`allowed_keys`, `allow_all_keys`, `ignored_keys`,
  `ignored_key_patterns`, `blocked_key_patterns`, `blocked_values`, `allowed_values`, `redact_all_types`,
  `hash_function`, `hmac_key`, `summary`) behave exactly as otelcol-contrib's redaction processor
  (otelcol.py), defaults included: `redaction: {}` removes every attribute, as otelcol's does;
- with `detectors:` (a mapping, a list, or present and empty), the built-in detectors (email, phone, card
  with Luhn, CPF/CNPJ/IBAN with their check digits, IPs, US SSN, API keys, JWTs, Authorization credentials,
  private keys; collector/pii) run as well, over every field that can hold text (walk.py). The key
  policy keeps otelcol's defaults there too: keys outside `allowed_keys` are removed unless
  `allow_all_keys: true`. docs/redaction.md says what else that engine does beyond otelcol.

What a config turns into (the engine, its rules, key policy and scanner) is build.py's.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from ...config import Invalid, option
from .infrastructure import DEFAULT_INFRASTRUCTURE_ATTRIBUTES
from .scan_batch import MASK

Action = Literal["mask", "hash", "drop_attribute", "partial"]
HashFunction = Literal["md5", "sha1", "sha3", "hmac-sha256", "hmac-sha512"]
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_KEYED = ("hmac-sha256", "hmac-sha512")


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform has one)."""
    affinity = getattr(os, "sched_getaffinity", None)
    if affinity is not None:
        return len(affinity(0)) or 1
    return os.cpu_count() or 1


def _re2_options() -> Any:
    import re2

    options = re2.Options()
    options.log_errors = False  # a bad pattern is reported once, as a config error, not also on stderr
    return options


def compile_regex(pattern: str) -> Any:
    """A pattern of the config compiled with RE2, the syntax of otelcol's Go regexp (re2.error if invalid)."""
    import re2

    return re2.compile(pattern, _re2_options())


def _regex_problem(pattern: str) -> str | None:
    import re2

    try:
        compile_regex(pattern)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        return f"invalid regular expression {pattern!r} (RE2 syntax, as otelcol's Go regexp): {reason}"
    return None


def _builtin_detectors() -> dict[str, Any]:
    from ...pii.detectors import DETECTORS

    return DETECTORS


@dataclass
class DetectorConfig:
    enabled: bool = option(True, "Run this detector.")
    action: Action = option("mask", "`mask`: the match becomes the placeholder. `hash`: `<EMAIL:1a2b3c4d5e6f7a8b>`, a keyed hash of the match (needs `hash_key`), the same for the same value across spans and restarts. `drop_attribute`: the attribute holding it is removed. `partial` (card only): every digit but the last four becomes `*`.")
    placeholder: str | None = option(None, "Replacement text for `mask` (default: the detector's, e.g. `<EMAIL>`); its `<...>` name also tags `hash` tokens.")


class Detectors(dict):
    """`detectors:` either maps names to DetectorConfig (unlisted built-ins keep their defaults) or lists
    the only built-ins to run (`detectors: [email, card]`; `[]` runs none, e.g. for a pure otelcol block)."""

    short_form: bool = False

    @classmethod
    def from_config(cls, decoder: Any, value: Any, path: tuple) -> Detectors:
        known = _builtin_detectors()
        out = cls()
        if value is None:
            return out
        if isinstance(value, list):
            out.short_form = True
            for i, name in enumerate(value):
                if not isinstance(name, str):
                    decoder.error(path + (i,), f"expected a detector name, got {name!r}")
                elif name not in known:
                    decoder.error(path + (i,), _unknown_detector(name, known))
                else:
                    out[name] = DetectorConfig()
            return out
        if not isinstance(value, dict):
            decoder.error(path, "expected a mapping of detector name to settings, or a list of detector names")
            return out
        for name, settings in value.items():
            if name not in known:
                decoder.error(path + (name,), _unknown_detector(str(name), known))
                continue
            if isinstance(settings, bool):  # `email: false` reads naturally; accept it as `enabled`
                out[name] = DetectorConfig(enabled=settings)
                continue
            detector = decoder.decode(DetectorConfig, settings, path + (name,))
            if detector.action == "partial" and name != "card":
                decoder.error(path + (name, "action"), '"partial" keeps the last four digits of a card; it is only for the card detector')
            out[name] = detector
        return out


def _unknown_detector(name: str, known: dict[str, Any]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f'; did you mean "{close[0]}"?' if close else ""
    return f"unknown detector {name!r} (built-in detectors: {', '.join(known)}){hint}"


@dataclass
class BlockedValue:
    pattern: str = option(doc="RE2 regex (otelcol syntax); only the match is replaced.")
    name: str | None = option(None, "Name in metrics and debug summaries (default `blocked_value_<index>`); lower-case letters, digits, `_`.")
    validator: str | None = option(None, "Checksum the match must pass: luhn, cpf, cnpj, iban, us_ssn.")
    action: Action | None = option(None, "As for detectors (other than `mask`, needs `detectors:`); default `mask`, or otelcol's hex digest when `hash_function` is set.")
    placeholder: str = option(MASK, "Replacement text for `mask`.")

    @classmethod
    def from_config(cls, decoder: Any, value: Any, path: tuple) -> BlockedValue:
        if isinstance(value, str):  # otelcol's form: a bare regex
            value = {"pattern": value}
        return decoder.decode_fields(cls, value, path)

    def validate(self) -> None:
        problem = _regex_problem(self.pattern)
        if problem:
            raise Invalid(problem, "pattern")
        if self.name is not None and not _NAME.match(self.name):
            raise Invalid(f"expected lower-case letters, digits and _, starting with a letter, got {self.name!r}", "name")
        if self.validator is not None:
            from ...pii.validators import VALIDATORS

            if self.validator not in VALIDATORS:
                raise Invalid(f"unknown validator {self.validator!r} (expected one of: {', '.join(VALIDATORS)})", "validator")
        if self.action == "partial":
            raise Invalid('"partial" is only for the card detector', "action")


@dataclass
class RedactionConfig:
    # Annotated as what a present key decodes to (`detectors:` with nothing after it is `{}`: all on); the
    # default None means the key is absent, and otelcol's engine runs.
    detectors: Detectors = option(None, "Switches the built-in detectors on (otelcol has no such key; without it the processor is otelcol's exactly, see docs/redaction.md): a map of name to `{enabled, action, placeholder}` (unlisted ones stay on with `mask`; `name: false` turns one off), or a list naming the only ones to run (`[email, card]`; `[]` for none). Present but empty (`detectors:` or `{}`): all on, `mask`. Actions: `mask` (the match becomes the placeholder, e.g. `<EMAIL>`), `hash` (`<EMAIL:1a2b3c4d5e6f7a8b>`, keyed with `hash_key`), `drop_attribute` (the attribute holding it is removed), `partial` (card only: `**** **** **** 1111`). Names: email, phone, card, cpf, cnpj, iban, ipv4, ipv6, us_ssn, openai_key, anthropic_key, aws_access_key, github_token, google_api_key, slack_token, stripe_key, huggingface_token, jwt, bearer_token, basic_auth, private_key.")
    blocked_values: list[BlockedValue] = option(factory=list, doc="otelcol: regexes whose matches are masked (`****`). Each entry is a regex string or `{pattern, name, validator, action, placeholder}`.")
    blocked_key_patterns: list[str] = option(factory=list, doc="otelcol: regexes on attribute keys; a matching key's whole value is masked (`****`, or hashed with `hash_function`).")
    allowed_values: list[str] = option(factory=list, doc="otelcol: regexes for values that are never masked: a match anywhere in a value keeps all of it. With `detectors:`, a finding survives only if it lies inside a match (so `.+@mycompany\\.com` keeps colleagues' addresses while other PII in the same value is still masked).")
    allow_all_keys: bool = option(False, "otelcol: true keeps every key; false (otelcol's default) keeps only `allowed_keys`, so with neither key every attribute is removed (the daemon warns at start-up).")
    allowed_keys: list[str] | None = option(None, "otelcol: the only attribute keys kept (fail closed: `[]` removes them all); others are removed and listed in `redaction.redacted.*`.")
    ignored_keys: list[str] = option(factory=list, doc="otelcol: keys passed through untouched (never scanned, removed or masked).")
    ignored_key_patterns: list[str] = option(factory=list, doc="otelcol: regexes on keys, as `ignored_keys`.")
    infrastructure_attributes: list[str] = option(factory=lambda: list(DEFAULT_INFRASTRUCTURE_ATTRIBUTES), doc="Attribute keys (`*`: any characters) whose value names infrastructure, not the end user: `ipv4`/`ipv6` leave the host it names alone (the whole value of `server.address`, only the host of `url.full`; an address in a URL's path or query is still masked, and every other detector still applies). The default lists the semantic-convention server, network peer/local and url keys and their deprecated forms; `client.address` is not one. `[]`: the IP detectors apply everywhere.")
    redact_all_types: bool = option(False, "otelcol: also read non-string values as their text (a card number sent as an int). A masked one becomes a string.")
    redact_span_names: bool = option(False, "Also scan span names (`drop_attribute` masks the whole name: a span cannot lose it).")
    json_values: bool = option(True, "With `detectors:`: redact inside string values that hold JSON (`gen_ai.input.messages`, `input.value`, ...): decoded leaves and object keys are scanned (so `\\u0040`-escaped PII is found) and the value stays valid JSON.")
    hash_function: HashFunction | None = option(None, "otelcol: hash instead of `****` for blocked_values and blocked_key_patterns (the full hex digest, as otelcol). Also the function behind `action: hash` (default hmac-sha256).")
    hash_key: str | None = field(default=None, repr=False, metadata={"doc": "Key for hmac-sha256/hmac-sha512 and `action: hash`; required by them. Write `${env:REDACTION_HASH_KEY}`, never the key itself. Same key, same tokens across restarts; at least 16 characters advised."})
    hmac_key: str | None = field(default=None, repr=False, metadata={"doc": "otelcol's name for `hash_key`."})
    summary: Literal["debug", "info", "silent"] | None = option(None, "otelcol: attributes added where something changed. `info`: `redaction.masked.count`, `redaction.redacted.count`, `redaction.allowed.count`, `redaction.ignored.count` (log bodies: `redaction.body.*`). `debug`: also the `.keys` lists (with `detectors:`, also `redaction.masked.<detector>.count`). `silent`: none. Unset: none without `detectors:` (otelcol's default), `info` with them.")
    url_sanitizer: dict[str, Any] | None = option(None, "otelcol's URL sanitizer: not supported; accepted only while not `enabled`.")
    db_sanitizer: dict[str, Any] | None = option(None, "otelcol's database query sanitizer: not supported; accepted only while none of its sections is `enabled`.")
    engine: Literal["re2", "hyperscan"] = option("re2", "Prefilter engine: one RE2 alternation over the request's strings, or a Hyperscan database.")
    workers: int | Literal["auto"] = option("auto", "Redact in this many worker processes instead of on the daemon's event loop, so redaction runs on other cores (each worker is ~40 MB). `auto`: with `detectors:`, one fewer than the cores the daemon may run on (0 on one core); without them 0; the number chosen is logged at start-up. 0: in the daemon. A worker that dies fails its requests with a retryable error and is restarted; nothing passes unredacted.")
    inline_max_bytes: int = option(262144, "The largest request (protobuf bytes) redacted on the daemon's event loop; with `inline_max_hits`, what keeps one request from holding up the others (and the health endpoint) for more than ~20 ms. A larger request is redacted in a thread of its own (workers 0); with workers, no request waits in a worker behind a larger one (where every worker has one, a request within both limits is redacted on the loop). 0: every request off the loop.")
    inline_max_hits: int = option(200, "The most prefilter hits (likely PII, each ~25-50 µs of exact patterns and validators) a request redacted on the event loop may have; one with more is redacted as one larger than `inline_max_bytes`. Counted on the loop, up to this many, by the pass the redaction starts with anyway.")

    def validate(self) -> None:
        self._validate_otelcol()
        if self.workers != "auto" and not 0 <= self.workers <= 64:
            raise Invalid(f"expected 0 (redact in the daemon) to 64 worker processes, got {self.workers}; or auto (one fewer than the cores)", "workers")
        if self.inline_max_bytes < 0:
            raise Invalid(f"expected a size in bytes, 0 or more, got {self.inline_max_bytes}", "inline_max_bytes")
        if self.inline_max_hits < 0:
            raise Invalid(f"expected a number of hits, 0 or more, got {self.inline_max_hits}", "inline_max_hits")
        for i, attribute in enumerate(self.infrastructure_attributes):
            if not attribute:
                raise Invalid("expected an attribute key (`*` for any characters), got an empty string", ("infrastructure_attributes", i))
        for name in ("blocked_key_patterns", "allowed_values", "ignored_key_patterns"):
            for i, pattern in enumerate(getattr(self, name)):
                problem = _regex_problem(pattern)
                if problem:
                    raise Invalid(problem, (name, i))
        builtins = _builtin_detectors()
        seen: set[str] = set()
        for i, blocked in enumerate(self.blocked_values):
            name = blocked.name or f"blocked_value_{i}"
            if name in builtins:
                raise Invalid(f"{name!r} is a built-in detector's name; choose another", ("blocked_values", i, "name"))
            if name in seen:
                raise Invalid(f"name {name!r} is used twice", ("blocked_values", i, "name"))
            seen.add(name)
        if self.hash_key is not None and self.hmac_key is not None and self.hash_key != self.hmac_key:
            raise Invalid("hash_key and hmac_key (its otelcol name) are both set, to different keys", "hmac_key")
        key = self.key
        if self.hash_function in _KEYED and not key:
            raise Invalid(f"hash_function {self.hash_function} needs hash_key (e.g. hash_key: ${{env:REDACTION_HASH_KEY}})", "hash_key")
        uses_hash = any(d.action == "hash" and d.enabled for d in (self.detectors or {}).values()) or any(b.action == "hash" for b in self.blocked_values)
        if uses_hash and self.hash_function in (None, *_KEYED) and not key:
            raise Invalid("action: hash needs hash_key, so tokens cannot be reversed by hashing guesses (e.g. hash_key: ${env:REDACTION_HASH_KEY})", "hash_key")
        if self.engine == "hyperscan":
            from ...pii.scanner import available_engines

            if "hyperscan" not in available_engines():
                raise Invalid("hyperscan needs the hyperscan package, which is not installed: pip install llm-collector[hyperscan] (or use engine: re2)", "engine")

    def _validate_otelcol(self) -> None:
        """otelcol keys this daemon does not implement, and our extensions that need the detectors' engine."""
        if (self.url_sanitizer or {}).get("enabled"):
            raise Invalid("url_sanitizer (otelcol's URL clustering) is not supported by this daemon; remove it, or mask URL parts with blocked_values", ("url_sanitizer", "enabled"))
        for section, settings in (self.db_sanitizer or {}).items():
            if isinstance(settings, dict) and settings.get("enabled"):
                raise Invalid("db_sanitizer (otelcol's database query obfuscation) is not supported by this daemon; remove it, or mask literals with blocked_values", ("db_sanitizer", section, "enabled"))
        if self.detectors is not None:
            return
        if self.redact_span_names:
            raise Invalid("redact_span_names needs `detectors:` (without it the processor is otelcol's, which leaves span names alone)", "redact_span_names")
        for i, blocked in enumerate(self.blocked_values):
            if blocked.action not in (None, "mask"):
                raise Invalid(f"action {blocked.action} needs `detectors:` (without it the processor is otelcol's: matches are masked, or hashed with hash_function)", ("blocked_values", i, "action"))

    @property
    def summary_level(self) -> str:
        """The summary in force: otelcol writes none unless asked; with detectors the default is `info`."""
        if self.summary is not None:
            return self.summary
        return "silent" if self.detectors is None else "info"

    def worker_count(self) -> int:
        """`workers` as a number: `auto` is one fewer than the cores this process may run on (0 on one core)
        with the detectors on, and 0 without them (otelcol's rules alone cost too little to be worth a
        process)."""
        if self.workers != "auto":
            return self.workers
        if self.detectors is None:
            return 0
        return min(max(available_cores() - 1, 0), 64)

    @property
    def key(self) -> str | None:
        return self.hash_key or self.hmac_key

    @property
    def restricts_keys(self) -> bool:
        """otelcol's fail-closed key list is in force: keys outside `allowed_keys` are removed."""
        return not self.allow_all_keys

    def enabled_detectors(self) -> dict[str, DetectorConfig]:
        configured = self.detectors
        if configured is None:
            return {}
        if configured.short_form:
            return dict(configured)
        out = {name: DetectorConfig() for name in _builtin_detectors()}
        for name, detector in configured.items():
            out[name] = detector
        return {name: d for name, d in out.items() if d.enabled}

