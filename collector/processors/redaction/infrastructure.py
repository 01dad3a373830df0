"""Attributes that name infrastructure rather than the end user: the IP detectors leave their host alone.

An LLM application's client spans carry the address of the API host they call (`server.address`, the
host of `url.full`, `network.peer.address`); masking it to `<IPV4>` breaks service maps and protects no
one. `client.address` is the end user's, and stays redacted. So for the attributes the config lists
(`infrastructure_attributes`, default `DEFAULT_INFRASTRUCTURE_ATTRIBUTES`), an `ipv4`/`ipv6` finding inside
the host the value names is not a finding; every other detector still applies to the whole value (an
e-mail or a key in a URL's query string is masked), and so do the IP detectors outside that host (an
address in the path or the query).

The list holds OpenTelemetry semantic-convention keys (https://opentelemetry.io/docs/specs/semconv/
attribute registry: server, network, url; and their deprecated forms). Left out on purpose:
`client.*`, `source.*` and the deprecated `net.peer.*`, which on a server span name the client
("use server.address on client spans and client.address on server spans").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

IP_DETECTORS = frozenset({"ipv4", "ipv6"})

DEFAULT_INFRASTRUCTURE_ATTRIBUTES = (
    "server.*",  # server.address, server.port
    "network.peer.*", "network.local.*",  # the socket's two ends (address, port)
    "url.full", "url.original", "url.domain",
    # Deprecated forms of the above: http.url (url.full), http.host and net.host.* (server.*),
    # net.sock.host.* (network.local.*), net.sock.peer.* (network.peer.*).
    "http.url", "http.host", "net.host.*", "net.sock.host.*", "net.sock.peer.*",
)  # fmt: skip

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://|//")
_AFTER_AUTHORITY = re.compile(r"[/?#]")
_CACHE_MAX = 50_000


def authority(text: str) -> tuple[int, int]:
    """[start, end) of the host (with its port) that a URL or an address value names: after a scheme's
    "//" and any userinfo, up to the path, query or fragment. A value without a scheme starts with its host
    (`10.0.0.5`, `10.0.0.5:8443`, `[2001:db8::1]:443`); one that starts with a path names none."""
    scheme = _SCHEME.match(text)
    start = scheme.end() if scheme else 0
    rest = _AFTER_AUTHORITY.search(text, start)
    end = rest.start() if rest else len(text)
    at = text.rfind("@", start, end)
    return (at + 1 if at != -1 else start), end


def key_pattern(patterns: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern for the whole list: an entry is an attribute key, `*` standing for any characters."""
    parts = [re.escape(p).replace(r"\*", ".*") for p in patterns]
    return re.compile("|".join(parts), re.DOTALL) if parts else None


class InfrastructureAttributes:
    """The configured keys, and the filter `Edits._apply` runs over a listed attribute's findings."""

    __slots__ = ("_pattern", "_listed")

    def __init__(self, patterns: Iterable[str]):
        self._pattern = key_pattern(patterns)
        self._listed: dict[str, bool] = {}

    def __bool__(self) -> bool:
        return self._pattern is not None

    def listed(self, key: str) -> bool:
        found = self._listed.get(key)
        if found is None:
            found = self._pattern is not None and self._pattern.fullmatch(key) is not None
            if len(self._listed) >= _CACHE_MAX:  # keys can be unbounded (indexed names); keep the memo bounded
                self._listed.clear()
            self._listed[key] = found
        return found

    def keep(self, key: str, text: str, found: list[Any]) -> list[Any]:
        """`found` without the IP findings inside the host `text` names, when `key` is listed (else as is)."""
        if not self.listed(key):
            return found
        host: tuple[int, int] | None = None
        kept = []
        for f in found:
            if f.detector in IP_DETECTORS:
                if host is None:
                    host = authority(text)
                if host[0] <= f.start and f.end <= host[1]:
                    continue
            kept.append(f)
        return kept if len(kept) != len(found) else found
