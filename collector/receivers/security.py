"""Who may send: TLS / mTLS and auth (its own bearer tokens or an authenticator extension) for the OTLP
receiver's servers.

Tokens are compared in constant time and never logged; the config object hides them from repr.
"""

from __future__ import annotations

import hmac
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..component import ComponentID, Host
from ..config import Invalid, option
from ..extensions.auth import SERVER, Headers, resolve
from ..tlsfiles import check_certificates, check_key_pair


@dataclass
class TLSConfig:
    cert_file: str = option(doc="Server certificate (PEM); its chain may follow it in the file.")
    key_file: str = option(doc="Private key of the server certificate (PEM).")
    client_ca_file: str | None = option(None, "CA bundle (PEM) that client certificates must chain to; setting it requires a client certificate (mTLS).")

    def validate(self) -> None:
        check_key_pair(self.cert_file, self.key_file)
        if self.client_ca_file is not None:
            check_certificates(self.client_ca_file, "client_ca_file")

    def read(self) -> tuple[bytes, bytes, bytes | None]:
        ca = Path(self.client_ca_file).read_bytes() if self.client_ca_file else None
        return Path(self.cert_file).read_bytes(), Path(self.key_file).read_bytes(), ca

    def ssl_context(self) -> ssl.SSLContext:
        """For the HTTP server. Raises ssl.SSLError/OSError with the reason on a bad file."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_file, self.key_file)
        if self.client_ca_file:
            context.load_verify_locations(self.client_ca_file)
            context.verify_mode = ssl.CERT_REQUIRED
        return context

    def grpc_credentials(self) -> Any:
        import grpc

        cert, key, ca = self.read()
        return grpc.ssl_server_credentials([(key, cert)], root_certificates=ca, require_client_auth=ca is not None)


@dataclass
class AuthConfig:
    authenticator: str | None = option(None, "otelcol's configauth: the id of a `bearertokenauth` or `basicauth` extension (listed in service.extensions) that checks each request.")
    # repr=False: a config dump or error message must never carry a secret.
    bearer_tokens: list[str] = field(default_factory=list, repr=False, metadata={"doc": "Not in otelcol: accepted `Authorization: Bearer <token>` values, without an extension; use `${env:VAR}` rather than writing tokens in the file."})

    def validate(self) -> None:
        if self.authenticator is not None:
            if self.bearer_tokens:
                raise Invalid("set either authenticator or bearer_tokens, not both")
            try:
                ComponentID.parse(self.authenticator)
            except ValueError as exc:
                raise Invalid(str(exc), "authenticator") from None
            return
        if not self.bearer_tokens or any(not t for t in self.bearer_tokens):
            raise Invalid("needs at least one non-empty token (an unset ${env:VAR} expands to empty), or `authenticator` instead", "bearer_tokens")


class BearerTokens:
    def __init__(self, config: AuthConfig):
        self._tokens = [t.encode() for t in config.bearer_tokens]

    def allows(self, authorization: str | None) -> bool:
        if not authorization:
            return False
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        candidate = token.strip().encode()
        # Check every token so the time taken says nothing about which one nearly matched.
        matched = False
        for known in self._tokens:
            matched |= hmac.compare_digest(candidate, known)
        return matched


class RequestAuth:
    """A server's check of each request's headers, before any of its body is read: the receiver's own
    `bearer_tokens`, or the extension `authenticator` names (otelcol's configauth.Config)."""

    def __init__(self, config: AuthConfig, host: Host):
        self._tokens = BearerTokens(config) if config.authenticator is None else None
        self._extension = resolve(host, config.authenticator, SERVER) if config.authenticator is not None else None
        self.bearer = self._tokens is not None
        # The refusal's wording: this receiver's bearer_tokens keep theirs, an authenticator's says nothing of the scheme.
        self.reason = "missing or invalid bearer token" if self._tokens is not None else "missing or invalid credentials"

    async def allows(self, pairs: Iterable[tuple[str, Any]]) -> bool:
        if self._tokens is not None:
            return any(key.lower() == "authorization" and isinstance(value, str) and self._tokens.allows(value) for key, value in pairs)
        assert self._extension is not None
        return await self._extension.authenticate(Headers(pairs))
