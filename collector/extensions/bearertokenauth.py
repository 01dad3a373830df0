"""`bearertokenauth` extension (otelcol-contrib's extension/bearertokenauthextension): a static token that
exporters send in a header (`Authorization: Bearer <token>` by default) and that receivers require.

As contrib's bearertokenauth.go: the expected header value is `<scheme> <token>` (the token alone when
`scheme` is empty), compared in constant time against every configured token; a client sends the first
one. `filename` wins over `token`/`tokens` (a warning says so) and is re-read when it changes (contrib
watches it with fsnotify, including the symlink swap of a Kubernetes Secret; here it is polled), so a
rotated token is accepted and sent without a restart. One deliberate difference: blank lines of the file
are not tokens (contrib would accept the bare scheme for one).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Invalid, option
from ..registry import register
from .auth import CLIENT, SERVER, AuthenticatorExtension, Headers

# How often `filename` is checked for a change (its inode, size and modification time).
POLL_SECONDS = 0.5


@dataclass
class BearerTokenAuthConfig:
    header: str = option("Authorization", "Header (gRPC metadata key) that carries the token.")
    scheme: str = option("Bearer", "Written before the token, with a space; empty: the header is the token alone.")
    token: str = option("", "The token (use `${env:VAR}` or `${file:...}` rather than writing it in the file).", secret=True)
    tokens: list[str] = option(factory=list, doc="Several tokens: a receiver accepts any of them, an exporter sends the first.", secret=True)
    filename: str = option("", "File with the token(s), one a line; re-read when it changes. Wins over token and tokens.")

    def validate(self) -> None:
        if not self.token and not self.tokens and not self.filename:
            raise Invalid("no bearer token provided (set token, tokens or filename)")
        if self.token and self.tokens:
            raise Invalid("either tokens or token should be provided, not both")
        if not self.header.strip():
            raise Invalid("must not be empty", "header")


@register
class BearerTokenAuthExtension(AuthenticatorExtension):
    type_name = "bearertokenauth"
    description = "Sends (exporters) or requires (receivers' auth.authenticator) a bearer token; a token file is re-read when it changes."
    config_class = BearerTokenAuthConfig
    config: BearerTokenAuthConfig

    def __init__(self, settings: Any, config: BearerTokenAuthConfig):
        super().__init__(settings, config)
        self._values: list[bytes] = []
        self._watch: asyncio.Task[None] | None = None
        self._seen: tuple[int, int, int, int] | None = None
        if not config.filename:
            self._set(config.tokens or [config.token])

    @classmethod
    def auth_roles(cls, config: Any) -> frozenset[str]:
        return frozenset({SERVER, CLIENT})

    def _set(self, tokens: list[str]) -> None:
        scheme = self.config.scheme
        self._values = [(f"{scheme} {token}" if scheme else token).encode() for token in tokens]

    async def start(self, host: Any) -> None:
        if not self.config.filename:
            return
        if self.config.token or self.config.tokens:
            self.log.warning("a filename is specified: the configured token(s) are ignored", filename=self.config.filename)
        from ..service import StartupError

        try:
            self._read()
        except OSError as exc:
            raise StartupError(f"cannot read the token file {self.config.filename}: {exc.strerror or exc}") from None
        self._watch = asyncio.get_running_loop().create_task(self._poll())

    async def shutdown(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None

    def _stat(self) -> tuple[int, int, int, int]:
        st = os.stat(self.config.filename)  # follows symlinks: a swapped Secret volume is a new inode
        return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns

    def _read(self) -> None:
        seen = self._stat()
        text = Path(self.config.filename).read_text()
        tokens = [line.strip() for line in text.split("\n") if line.strip()]
        self._seen = seen
        self._set(tokens)
        if tokens:
            self.log.info("token file read", filename=self.config.filename, tokens=len(tokens))
        else:
            self.log.warning("token file has no token: every request is refused and none is sent", filename=self.config.filename)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            try:
                if self._stat() != self._seen:
                    self._read()
            except OSError as exc:
                # As contrib: the error is logged and the tokens read last stay in force.
                self.log.error("cannot re-read the token file; keeping the previous token(s)", filename=self.config.filename, error=exc.strerror or str(exc))

    async def authenticate(self, headers: Headers) -> bool:
        value = headers.first(self.config.header)
        if not value:
            return False
        candidate = value.encode()
        # Every value is compared, so the time taken says nothing about which one nearly matched.
        matched = False
        for known in self._values:
            matched |= hmac.compare_digest(candidate, known)
        return matched

    def headers(self) -> dict[str, str]:
        return {self.config.header: self._values[0].decode()} if self._values else {}
