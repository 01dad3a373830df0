"""What otelcol's `auth: {authenticator: <id>}` means here (core's configauth): a receiver's server asks an
authenticator extension whether a request's headers may pass, an exporter asks one for the headers to
send. The `bearertokenauth` and `basicauth` extensions are `AuthenticatorExtension`s; receivers and
exporters see only that interface.

Secrets never reach a log line or an error: refusals say what was wrong (missing, malformed, not
matching), never the value that was sent or expected.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..component import ComponentID, Extension, Host
from ..config import Invalid, option

SERVER = "server"
CLIENT = "client"


class AuthenticatorExtension(Extension):
    """An extension receivers' and exporters' `auth.authenticator` may name. Which sides it serves depends
    on its config (`auth_roles`); the methods of a side it does not serve are never called."""

    # otelcol's PerRPCCredentials of both contrib authenticators say RequireTransportSecurity: gRPC refuses
    # to send them over a plaintext channel.
    grpc_requires_tls = True

    @classmethod
    def auth_roles(cls, config: Any) -> frozenset[str]:
        """What this config makes the extension: SERVER (checks requests), CLIENT (adds credentials)."""
        raise NotImplementedError

    async def authenticate(self, headers: Headers) -> bool:
        """SERVER: whether a request with these headers (HTTP headers or gRPC metadata) may pass."""
        raise NotImplementedError

    def headers(self) -> dict[str, str]:
        """CLIENT: the credentials to send with one request, as they are now (a token file may have changed)."""
        raise NotImplementedError


class Headers:
    """A request's headers by lower-case name, as both HTTP and gRPC metadata give them."""

    __slots__ = ("_values",)

    def __init__(self, pairs: Iterable[tuple[str, Any]]):
        values: dict[str, list[str]] = {}
        for key, value in pairs:
            if isinstance(value, str):
                values.setdefault(key.lower(), []).append(value)
        self._values = values

    def first(self, name: str) -> str | None:
        found = self._values.get(name.lower())
        return found[0] if found else None


@dataclass
class ClientAuthConfig:
    authenticator: str = option(doc="Id of a `bearertokenauth` or `basicauth` extension (listed in service.extensions) whose credentials go with every request.")

    def validate(self) -> None:
        _parse(self.authenticator)


def _parse(text: str) -> ComponentID:
    try:
        return ComponentID.parse(text)
    except ValueError as exc:
        raise Invalid(str(exc), "authenticator") from None


def check_reference(text: str | None, role: str, key: tuple[str, ...], extensions: dict[ComponentID, Any], enabled: list[ComponentID]) -> list[tuple[tuple[str, ...], str]]:
    """otelcol's rules for `auth.authenticator`: the extension is configured, listed in service.extensions,
    and is an authenticator of the needed side. `key`: the path of the `authenticator` key."""
    if text is None:
        return []
    try:
        id = ComponentID.parse(text)
    except ValueError:
        return []  # ClientAuthConfig/AuthConfig.validate said so
    found = extensions.get(id)
    if found is None:
        return [(key, f'references extension "{id}" which is not configured (add it under extensions: and service.extensions)')]
    if id not in enabled:
        return [(key, f'extension "{id}" must also be listed in service.extensions')]
    cls = found.cls
    if not issubclass(cls, AuthenticatorExtension):
        return [(key, f'extension "{id}" is not an authenticator (bearertokenauth or basicauth)')]
    if role not in cls.auth_roles(found.config):
        what = "checks incoming requests (a receiver's auth)" if role == SERVER else "adds credentials to outgoing requests (an exporter's auth)"
        return [(key, f'extension "{id}" is not a {role} authenticator: it must be one that {what}')]
    return []


def resolve(host: Host, text: str, role: str) -> AuthenticatorExtension:
    """The running authenticator `text` names; raises StartupError when it is not one of `role`."""
    from ..service import StartupError  # the service imports components' modules, not the reverse

    id = ComponentID.parse(text)
    try:
        extension = host.extension(id)
    except KeyError:
        raise StartupError(f"auth.authenticator: extension {id} is not running (list it in service.extensions)") from None
    if not isinstance(extension, AuthenticatorExtension) or role not in type(extension).auth_roles(extension.config):
        raise StartupError(f"auth.authenticator: extension {id} is not a {role} authenticator")
    return extension


def client_authenticator(host: Host, config: ClientAuthConfig | None) -> AuthenticatorExtension | None:
    """An exporter's authenticator at start-up, or None when its config has no `auth`."""
    return None if config is None else resolve(host, config.authenticator, CLIENT)
