"""What the `otlp` (gRPC) and `otlphttp` exporters share: client TLS, headers, compression, the
partial_success reading, and the OTEL_EXPORTER_OTLP_* environment defaults.

The environment follows the OTel specification's "OTLP Exporter Configuration": a signal-specific
variable (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) wins over the generic one (OTEL_EXPORTER_OTLP_ENDPOINT),
an empty value counts as unset, and a key written in the config wins over both.
"""

from __future__ import annotations

import dataclasses
import os
import ssl
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf.message import Message

from .. import __version__
from ..component import ComponentID, Rejected, Signal
from ..config import Duration, Invalid, option
from ..pdata import RESPONSE_TYPES
from ..tlsfiles import check_certificates, check_key_pair

USER_AGENT = f"llm-collector/{__version__}"
ENV_PREFIX = "OTEL_EXPORTER_OTLP_"
REJECTED_FIELD = {Signal.TRACES: "rejected_spans", Signal.LOGS: "rejected_log_records", Signal.METRICS: "rejected_data_points"}
_ITEM_WORD = {Signal.TRACES: "span(s)", Signal.LOGS: "log record(s)", Signal.METRICS: "data point(s)"}


class ClientSettingsError(ValueError):
    """Config or environment values that cannot make a working client; each message names its source."""

    def __init__(self, *messages: str):
        super().__init__("; ".join(messages))
        self.messages = list(messages)


class Collector:
    """Resolves several independent settings and reports every bad one, not just the first."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def take(self, resolve: Any, *args: Any, default: Any = None) -> Any:
        try:
            return resolve(*args)
        except ClientSettingsError as exc:
            self.messages.extend(exc.messages)
            return default

    def check(self) -> None:
        if self.messages:
            raise ClientSettingsError(*self.messages)


@dataclass
class ClientTLSConfig:
    insecure: bool | None = option(None, "`otlp` only: plaintext gRPC for an endpoint without a scheme (an `http://` endpoint is always plaintext, `https://` always TLS). Unset: OTEL_EXPORTER_OTLP_INSECURE, else false (TLS). `otlphttp` takes TLS from the URL's scheme.")
    ca_file: str | None = option(None, "CA bundle (PEM) that the server's certificate must chain to. Unset: OTEL_EXPORTER_OTLP_CERTIFICATE, else the system's trust store.")
    cert_file: str | None = option(None, "Client certificate (PEM) for mTLS; needs key_file. Unset: OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE.")
    key_file: str | None = option(None, "Private key (PEM) of cert_file. Unset: OTEL_EXPORTER_OTLP_CLIENT_KEY.")
    insecure_skip_verify: bool = option(False, "`otlphttp` only: accept any server certificate (testing only). Python's gRPC core cannot do this; for `otlp` set ca_file to the server's CA instead.")
    server_name_override: str | None = option(None, "Host name the server's certificate must match, when it differs from the endpoint's host.")

    def validate(self) -> None:
        if self.cert_file and not self.key_file:
            raise Invalid("cert_file needs key_file (a client certificate is useless without its key)", "key_file")
        if self.key_file and not self.cert_file:
            raise Invalid("key_file needs cert_file", "cert_file")
        if self.ca_file is not None:
            check_certificates(self.ca_file, "ca_file")
        if self.cert_file and self.key_file:
            check_key_pair(self.cert_file, self.key_file)


@dataclass(frozen=True)
class TLSSettings:
    """Client TLS after the environment filled in what the config left unset."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    skip_verify: bool = False
    server_name: str | None = None

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca_file)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.cert_file and self.key_file:
            context.load_cert_chain(self.cert_file, self.key_file)
        if self.skip_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def grpc_credentials(self) -> Any:
        import grpc

        def read(path: str | None) -> bytes | None:
            return Path(path).read_bytes() if path else None

        return grpc.ssl_channel_credentials(read(self.ca_file), read(self.key_file), read(self.cert_file))


def env_lookup(name: str, signal: Signal, environ: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """(variable, value) of OTEL_EXPORTER_OTLP_<SIGNAL>_<name>, else OTEL_EXPORTER_OTLP_<name>."""
    environ = os.environ if environ is None else environ
    for variable in (f"{ENV_PREFIX}{signal.upper()}_{name}", f"{ENV_PREFIX}{name}"):
        value = environ.get(variable, "").strip()
        if value:
            return variable, value
    return None


def parse_env_headers(text: str, variable: str) -> dict[str, str]:
    """The spec's `key1=value1,key2=value2` with percent-encoded keys and values (W3C Baggage style)."""
    headers: dict[str, str] = {}
    for index, item in enumerate(text.split(",")):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        key = urllib.parse.unquote(key.strip())
        if not sep or not key:
            raise ClientSettingsError(f"{variable}: item {index + 1} is not key=value (expected e.g. api-key=secret,tenant=a; the value is not shown, it may hold a secret)")
        headers[key] = urllib.parse.unquote(value.strip())
    return headers


def check_headers(headers: Mapping[str, str]) -> None:
    """Header names and values must be visible ASCII (HTTP/2 and gRPC metadata allow nothing else)."""
    for key, value in headers.items():
        if not key or not all(33 <= ord(c) < 127 and c not in '()<>@,;:\\"/[]?={}' for c in key):
            raise Invalid(f"header name {key!r} is not a valid token", ("headers", key))
        if any(not (32 <= ord(c) < 127 or c == "\t") for c in value):
            raise Invalid("header value must be printable ASCII", ("headers", key))


def resolve_headers(configured: dict[str, str] | None, signal: Signal, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The config's `headers` when set (all of them replace the environment's), else OTEL_EXPORTER_OTLP_HEADERS."""
    if configured is not None:
        return dict(configured)
    found = env_lookup("HEADERS", signal, environ)
    if found is None:
        return {}
    headers = parse_env_headers(found[1], found[0])
    try:
        check_headers(headers)
    except Invalid as exc:
        raise ClientSettingsError(f"{found[0]}: {exc.message} ({exc.key[-1]!r})") from None
    return headers


def resolve_compression(configured: str | None, signal: Signal, supported: tuple[str, ...], environ: Mapping[str, str] | None = None) -> str:
    if configured is not None:
        return configured
    found = env_lookup("COMPRESSION", signal, environ)
    if found is None:
        return "gzip"  # otelcol's default for both OTLP exporters
    value = found[1].lower()
    if value not in supported:
        raise ClientSettingsError(f"{found[0]}: expected one of {', '.join(supported)}, got {found[1]!r}")
    return value


def resolve_tls(configured: ClientTLSConfig | None, signal: Signal, environ: Mapping[str, str] | None = None) -> TLSSettings:
    cfg = configured or ClientTLSConfig()
    files: dict[str, str | None] = {}
    for key, env_name in (("ca_file", "CERTIFICATE"), ("cert_file", "CLIENT_CERTIFICATE"), ("key_file", "CLIENT_KEY")):
        value = getattr(cfg, key)
        if value is None:
            found = env_lookup(env_name, signal, environ)
            if found is not None:
                if not Path(found[1]).is_file():
                    raise ClientSettingsError(f"{found[0]}: file not found: {found[1]}")
                value = found[1]
        files[key] = value
    if bool(files["cert_file"]) != bool(files["key_file"]):
        raise ClientSettingsError("a client certificate and its key go together: set both tls.cert_file and tls.key_file (or OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY)")
    return TLSSettings(files["ca_file"], files["cert_file"], files["key_file"], cfg.insecure_skip_verify, cfg.server_name_override)


def resolve_env_insecure(configured: ClientTLSConfig | None, signal: Signal, environ: Mapping[str, str] | None = None) -> bool:
    if configured is not None and configured.insecure is not None:
        return configured.insecure
    found = env_lookup("INSECURE", signal, environ)
    if found is None:
        return False
    value = found[1].lower()
    if value not in ("true", "false"):
        raise ClientSettingsError(f"{found[0]}: expected true or false, got {found[1]!r}")
    return value == "true"


def resolve_timeout(configured: Duration | None, default: float, environ: Mapping[str, str] | None = None) -> Duration:
    """The config's timeout, else OTEL_EXPORTER_OTLP_TIMEOUT (milliseconds, per the spec), else `default`.
    One timeout per exporter, so the signal-specific variables are not read."""
    if configured is not None:
        return configured
    environ = os.environ if environ is None else environ
    variable = f"{ENV_PREFIX}TIMEOUT"
    text = environ.get(variable, "").strip()
    if not text:
        return Duration(default)
    try:
        millis = int(text)
    except ValueError:
        raise ClientSettingsError(f"{variable}: expected whole milliseconds (e.g. 10000), got {text!r}") from None
    if millis <= 0:
        raise ClientSettingsError(f"{variable}: must be greater than 0, got {text!r}")
    return Duration(millis / 1000)


def with_timeout(config: Any, default: float) -> Any:
    """A copy of the config whose `timeout` is concrete, as the delivery machinery needs one."""
    return dataclasses.replace(config, timeout=resolve_timeout(config.timeout, default))


def partial_success(signal: Signal, response: Any, exporter: ComponentID, log: Any) -> Rejected | None:
    """OTLP partial_success: the rejected items are counted as failed and never retried (spec)."""
    if not response.HasField("partial_success"):
        return None
    ps = response.partial_success
    rejected = getattr(ps, REJECTED_FIELD[signal])
    if rejected:
        log.warning("backend rejected part of a request", exporter=str(exporter), signal=str(signal), rejected=rejected, error=ps.error_message)
        return Rejected(rejected, f"exporter {exporter}: backend rejected {rejected} {_ITEM_WORD[signal]}: {ps.error_message}")
    if ps.error_message:
        log.warning("backend accepted the request with a warning", exporter=str(exporter), signal=str(signal), warning=ps.error_message)
    return None


def response_type(signal: Signal) -> type[Message]:
    return RESPONSE_TYPES[signal]


def problems(config: Any, checks: list[Any]) -> list[str]:
    """Runs each zero-argument check and collects ClientSettingsError messages, once each. Nothing is
    checked for a config whose own keys are invalid: the decoder has already said what is wrong."""
    try:
        for part in (config.tls, config):
            if part is not None:
                part.validate()
    except Invalid:
        return []
    found: list[str] = []
    for check in checks:
        try:
            check()
        except ClientSettingsError as exc:
            found.extend(m for m in exc.messages if m not in found)
    return found
