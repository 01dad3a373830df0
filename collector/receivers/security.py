"""Who may send: TLS / mTLS and bearer-token auth for the OTLP receiver's servers.

Tokens are compared in constant time and never logged; the config object hides them from repr.
"""

from __future__ import annotations

import hmac
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Invalid, option
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
    # repr=False: a config dump or error message must never carry a secret.
    bearer_tokens: list[str] = field(default_factory=list, repr=False, metadata={"doc": "Accepted `Authorization: Bearer <token>` values; use `${env:VAR}` rather than writing tokens in the file."})

    def validate(self) -> None:
        if not self.bearer_tokens or any(not t for t in self.bearer_tokens):
            raise Invalid("needs at least one non-empty token (an unset ${env:VAR} expands to empty)", "bearer_tokens")


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
