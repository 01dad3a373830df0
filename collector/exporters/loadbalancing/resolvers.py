"""Where the load_balancing exporter's backends come from (contrib exporter/loadbalancingexporter
resolver_static.go, resolver_dns.go, resolver_k8s.go): each resolver calls `on_change(endpoints)` with the
sorted list whenever it changes, and counts otelcol's `otelcol_loadbalancer_num_resolutions` /
`otelcol_loadbalancer_num_backends`.

- static: the configured hostnames, sorted, once.
- dns: the A/AAAA records of `hostname` every `interval` (each lookup within `timeout`), `addr:port` each, IPv6
  in brackets; a failed lookup keeps the last list. Lookups go through the system resolver (getaddrinfo), or,
  when LLM_COLLECTOR_DNS_SERVER names a `host:port`, straight to that server over UDP (RFC 1035), which is how
  the tests drive a local DNS server.
- k8s: the Service's EndpointSlices (discovery.k8s.io/v1, list + watch), every endpoint whose
  `conditions.ready` is not false, one backend per (address or hostname, port).
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import random
import socket
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...kubeapi import SERVICE_ACCOUNT_DIR, APIConfig, Informer, KubeClient
from .config import DNSResolverConfig, K8sResolverConfig, StaticResolverConfig

DNS_SERVER_ENV = "LLM_COLLECTOR_DNS_SERVER"
OnChange = Callable[[list[str]], None]
Record = Callable[[str, bool], None]  # (resolver, success): one resolution


class Resolver:
    name = ""

    def __init__(self, on_change: OnChange, record: Record, backends: Callable[[str, int], None], log: Any):
        self._on_change = on_change
        self._record = record
        self._backends = backends
        self.log = log
        self.endpoints: list[str] = []

    def _update(self, endpoints: list[str]) -> None:
        endpoints = sorted(set(endpoints))
        if endpoints == self.endpoints:
            return
        self.endpoints = endpoints
        self._backends(self.name, len(endpoints))
        self._on_change(endpoints)

    async def start(self) -> None:
        raise NotImplementedError

    async def shutdown(self) -> None:
        pass


class StaticResolver(Resolver):
    name = "static"

    def __init__(self, config: StaticResolverConfig, *args: Any):
        super().__init__(*args)
        self._hostnames = list(config.hostnames)

    async def start(self) -> None:
        self._record(self.name, True)
        self._update(self._hostnames)


class DNSResolver(Resolver):
    name = "dns"

    def __init__(self, config: DNSResolverConfig, *args: Any):
        super().__init__(*args)
        self.config = config
        self._task: asyncio.Task[None] | None = None
        server = os.environ.get(DNS_SERVER_ENV, "")
        self._server: tuple[str, int] | None = None
        if server:
            host, _, port = server.rpartition(":")
            self._server = (host.strip("[]"), int(port))

    async def start(self) -> None:
        await self.resolve()
        self._task = asyncio.get_running_loop().create_task(self._periodically())

    async def shutdown(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _periodically(self) -> None:
        while True:
            await asyncio.sleep(float(self.config.interval))
            await self.resolve()

    async def resolve(self) -> None:
        try:
            addresses = await asyncio.wait_for(self._lookup(self.config.hostname), float(self.config.timeout))
        except (OSError, TimeoutError, ValueError) as exc:
            self._record(self.name, False)
            self.log.warning("failed to resolve", resolver=self.name, hostname=self.config.hostname, error=str(exc) or type(exc).__name__)
            return
        self._record(self.name, True)
        out = []
        for address in addresses:
            backend = f"[{address}]" if ":" in address else address
            out.append(f"{backend}:{self.config.port}" if self.config.port else backend)
        self._update(out)

    async def _lookup(self, hostname: str) -> list[str]:
        if self._server is not None:
            return await query_addresses(self._server, hostname)
        infos = await asyncio.get_running_loop().getaddrinfo(hostname, None, type=socket.SOCK_STREAM)
        return [str(info[4][0]) for info in infos]


# --- a minimal DNS stub client (RFC 1035 section 4) -------------------------------------------------

_A, _AAAA, _IN = 1, 28, 1


def _question(qid: int, hostname: str, qtype: int) -> bytes:
    labels = b"".join(bytes((len(part),)) + part for part in (p.encode("idna") for p in hostname.rstrip(".").split(".")) if part)
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + labels + b"\0" + struct.pack(">HH", qtype, _IN)


def _skip_name(data: bytes, i: int) -> int:
    while True:
        n = data[i]
        if n & 0xC0 == 0xC0:  # a compression pointer ends the name
            return i + 2
        if n == 0:
            return i + 1
        i += 1 + n


def parse_answer(data: bytes, qid: int) -> list[str]:
    """The A and AAAA addresses of a response; ValueError for a malformed one or an error rcode."""
    try:
        rid, flags, qd, an, _, _ = struct.unpack_from(">HHHHHH", data, 0)
        if rid != qid or not flags & 0x8000:
            raise ValueError("unexpected DNS response")
        rcode = flags & 0xF
        if rcode == 3:
            return []  # NXDOMAIN: no addresses
        if rcode:
            raise ValueError(f"DNS error rcode {rcode}")
        i = 12
        for _ in range(qd):
            i = _skip_name(data, i) + 4
        out = []
        for _ in range(an):
            i = _skip_name(data, i)
            rtype, rclass, _, length = struct.unpack_from(">HHIH", data, i)
            i += 10
            if i + length > len(data):
                raise IndexError
            rdata = data[i:i + length]
            i += length
            if rclass == _IN and rtype == _A and length == 4:
                out.append(str(ipaddress.IPv4Address(rdata)))
            elif rclass == _IN and rtype == _AAAA and length == 16:
                out.append(str(ipaddress.IPv6Address(rdata)))
        return out
    except (struct.error, IndexError):
        raise ValueError("malformed DNS response") from None


class _Exchange(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.replies: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.replies.put_nowait(data)


async def query_addresses(server: tuple[str, int], hostname: str) -> list[str]:
    """A and AAAA records of `hostname` asked of one DNS server over UDP."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(_Exchange, remote_addr=server)
    try:
        out: list[str] = []
        for qtype in (_A, _AAAA):
            qid = random.getrandbits(16)
            transport.sendto(_question(qid, hostname, qtype))
            while True:
                reply = await protocol.replies.get()
                if reply[:2] == struct.pack(">H", qid):
                    break
            out += parse_answer(reply, qid)
        return out
    finally:
        transport.close()


# --- k8s ----------------------------------------------------------------------------------------------

def _own_namespace() -> str:
    """The pod's namespace, from its service account directory (where collector/kubeapi.py reads the token)."""
    directory = Path(os.environ.get("LLM_COLLECTOR_SERVICE_ACCOUNT_DIR", SERVICE_ACCOUNT_DIR))
    try:
        return (directory / "namespace").read_text().strip() or "default"
    except OSError:
        return "default"


class K8sResolver(Resolver):
    name = "k8s"

    def __init__(self, config: K8sResolverConfig, *args: Any):
        super().__init__(*args)
        self.config = config
        self.service, self.namespace = config.name_and_namespace(_own_namespace())
        self._client: KubeClient | None = None
        self._informer: Informer | None = None
        self._slices: dict[str, list[str]] = {}  # EndpointSlice uid -> its ready backends

    async def start(self) -> None:
        self._client = KubeClient(APIConfig())
        path = f"/apis/discovery.k8s.io/v1/namespaces/{self.namespace}/endpointslices"
        params = {"labelSelector": f"kubernetes.io/service-name={self.service}"}
        self._informer = Informer(self._client, path, params, self._on_event, self.log)
        self._informer.start()
        try:
            await asyncio.wait_for(self._informer.synced.wait(), float(self.config.timeout))
        except TimeoutError:
            self._record(self.name, False)
            self.log.warning("EndpointSlices not listed within the timeout; backends follow once they are", resolver=self.name, service=self.service, namespace=self.namespace)

    async def shutdown(self) -> None:
        if self._informer is not None:
            await self._informer.stop()
        if self._client is not None:
            await self._client.close()

    def backends_of(self, endpoint_slice: dict[str, Any]) -> list[str]:
        out = []
        for endpoint in endpoint_slice.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready") is False:
                continue  # the API documents an unset `ready` as ready
            if self.config.return_hostnames:
                hostname = endpoint.get("hostname")
                names = [f"{hostname}.{self.service}.{self.namespace}"] if hostname else []
            else:
                names = [f"[{a}]" if ":" in a else a for a in endpoint.get("addresses") or []]
            out += [f"{name}:{port}" for name in names for port in self.config.ports]
        return out

    def _on_event(self, kind: str, endpoint_slice: dict[str, Any]) -> None:
        uid = (endpoint_slice.get("metadata") or {}).get("uid", "")
        if kind == "DELETED":
            self._slices.pop(uid, None)
        else:
            self._slices[uid] = self.backends_of(endpoint_slice)
        self._record(self.name, True)
        self._update([backend for backends in self._slices.values() for backend in backends])
