"""`basicauth` extension (otelcol-contrib's extension/basicauthextension): HTTP Basic credentials, checked
against htpasswd content on a receiver (`htpasswd.file` and/or `htpasswd.inline`, inline lines winning
for a user in both) or sent by an exporter (`client_auth.username`/`password`). One extension is one of
the two, as in contrib's config.go. Hash schemes: collector/extensions/htpasswd.py.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Invalid, option
from ..registry import register
from . import htpasswd
from .auth import CLIENT, SERVER, AuthenticatorExtension, Headers


@dataclass
class HtpasswdConfig:
    file: str = option("", "Path of an htpasswd file (bcrypt, SHA-crypt, MD5-crypt/apr1, {SHA}, {SSHA} or plain passwords), read at start-up.")
    inline: str = option("", "htpasswd lines written in the config (use `${env:VAR}` for the passwords); a user here wins over the same user in `file`.", secret=True)


@dataclass
class ClientAuthSettings:
    username: str = option("", "User name sent by exporters.")
    password: str = option("", "Password sent by exporters.", secret=True)

    def validate(self) -> None:
        if ":" in self.username:
            raise Invalid("must not contain a colon (HTTP Basic separates the user name from the password with one)", "username")


@dataclass
class BasicAuthConfig:
    htpasswd: HtpasswdConfig | None = option(None, "Server side: the accepted users.")
    client_auth: ClientAuthSettings | None = option(None, "Client side: the credentials exporters send.")

    def validate(self) -> None:
        if self.htpasswd is not None and self.client_auth is not None:
            raise Invalid("only one of `htpasswd` or `client_auth` can be specified")
        if self.htpasswd is None and self.client_auth is None:
            raise Invalid("no credential source provided (set htpasswd or client_auth)")
        if self.htpasswd is not None and not self.htpasswd.file and not self.htpasswd.inline:
            raise Invalid("no credential source provided (set file or inline)", "htpasswd")


@register
class BasicAuthExtension(AuthenticatorExtension):
    type_name = "basicauth"
    description = "HTTP Basic auth: checks receivers' requests against htpasswd content, or sends exporters' client_auth credentials."
    config_class = BasicAuthConfig
    config: BasicAuthConfig

    def __init__(self, settings: Any, config: BasicAuthConfig):
        super().__init__(settings, config)
        self._users: dict[str, tuple[str, htpasswd.Matcher]] = {}
        self._good: dict[str, bytes] = {}  # user -> SHA-256 of the password that last matched a slow hash
        self._header = ""
        if config.client_auth is not None:
            pair = f"{config.client_auth.username}:{config.client_auth.password}".encode()
            self._header = "Basic " + base64.b64encode(pair).decode()

    @classmethod
    def auth_roles(cls, config: Any) -> frozenset[str]:
        return frozenset({SERVER}) if config.htpasswd is not None else frozenset({CLIENT})

    async def start(self, host: Any) -> None:
        settings = self.config.htpasswd
        if settings is None:
            return
        from ..service import StartupError

        parts = []
        if settings.file:
            try:
                parts.append(Path(settings.file).read_text())
            except (OSError, UnicodeDecodeError) as exc:
                raise StartupError(f"open htpasswd file {settings.file}: {getattr(exc, 'strerror', None) or exc}") from None
        parts.append(settings.inline)  # last, so that its users win
        self._users, problems = htpasswd.parse("\n".join(parts))
        for problem in problems:
            self.log.warning("htpasswd line skipped", problem=problem)
        slow = sorted({scheme for scheme, _ in self._users.values() if htpasswd.is_slow(scheme)})
        if slow and not htpasswd.libcrypt_available():
            self.log.warning("no libcrypt on this system: users with these hashes cannot authenticate", schemes=slow)
        self.log.info("htpasswd users loaded", users=len(self._users))

    async def authenticate(self, headers: Headers) -> bool:
        value = headers.first("authorization")
        if not value or len(value) < 6 or value[:6].lower() != "basic ":
            return False
        try:
            decoded = base64.b64decode(value[6:], validate=True)
        except (binascii.Error, ValueError):
            return False
        user_bytes, sep, password = decoded.partition(b":")
        if not sep:
            return False
        user = user_bytes.decode("utf-8", "replace")
        entry = self._users.get(user)
        if entry is None:
            return False
        scheme, matches = entry
        if not htpasswd.is_slow(scheme):
            return matches(password)
        fingerprint = hashlib.sha256(password).digest()
        known = self._good.get(user)
        if known is not None and hmac.compare_digest(known, fingerprint):
            return True
        if not await asyncio.to_thread(matches, password):
            return False
        self._good[user] = fingerprint
        return True

    def headers(self) -> dict[str, str]:
        return {"Authorization": self._header}
